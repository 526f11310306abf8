//! The set of running resolvers: start one hickory `Server` per network on its own address (UDP and
//! TCP on the same port), report where they listen, stop them.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use redlink_clock::Clock;
use redlink_world::{QueryType, Resolution, World};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{broadcast, watch};

use crate::error::DnsError;
use crate::event::QueryEvent;
use crate::handler::{SharedView, ViewHandler};
use crate::udp::UdpServer;

/// How many query events a slow subscriber may lag behind before it loses some.
pub const EVENT_CAPACITY: usize = 1024;

/// TCP connections idle longer than this are closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Responses buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts at finding a port free on both UDP and TCP when port 0 is asked for.
const EPHEMERAL_ATTEMPTS: usize = 16;

struct View {
    network: String,
    addr: SocketAddr,
    handler: Arc<ViewHandler>,
    server: Server<SharedView>,
    udp: UdpServer,
}

/// The running resolvers of a world, one per network.
pub struct DnsViews {
    views: Vec<View>,
    events: broadcast::Sender<QueryEvent>,
}

fn bind_error(
    network: &str,
    address: SocketAddr,
    protocol: &'static str,
    source: io::Error,
) -> DnsError {
    DnsError::Bind {
        network: network.to_owned(),
        address,
        protocol,
        source,
    }
}

/// Binds UDP and TCP on `addr`; with port 0, on one ephemeral port free for both.
async fn bind_pair(
    network: &str,
    addr: SocketAddr,
) -> Result<(UdpSocket, TcpListener, SocketAddr), DnsError> {
    let attempts = if addr.port() == 0 {
        EPHEMERAL_ATTEMPTS
    } else {
        1
    };
    let mut last = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|e| bind_error(network, addr, "UDP", e))?;
        let bound = udp
            .local_addr()
            .map_err(|e| bind_error(network, addr, "UDP", e))?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp, bound)),
            Err(e) => last = Some(bind_error(network, bound, "TCP", e)),
        }
    }
    Err(last
        .unwrap_or_else(|| bind_error(network, addr, "TCP", io::Error::other("no attempt made"))))
}

impl DnsViews {
    /// Starts one resolver per `(network, address)` binding, answering from the world `world` holds
    /// at each query. Port 0 picks a port free on both UDP and TCP. Fails, with nothing left running,
    /// if a network is unknown or an address cannot be bound (the error names both).
    pub async fn start(
        world: watch::Receiver<Arc<World>>,
        bindings: Vec<(String, SocketAddr)>,
    ) -> Result<DnsViews, DnsError> {
        Self::start_with_clock(world, bindings, Clock::real()).await
    }

    /// [`DnsViews::start`] with the DNS caches of networks with `dns_cache` on `clock` (a manual
    /// clock makes TTLs expire only when it is advanced).
    pub async fn start_with_clock(
        world: watch::Receiver<Arc<World>>,
        bindings: Vec<(String, SocketAddr)>,
        clock: Clock,
    ) -> Result<DnsViews, DnsError> {
        {
            let current = world.borrow();
            let mut seen = HashSet::new();
            for (network, _) in &bindings {
                if current.network(network).is_none() {
                    return Err(DnsError::UnknownNetwork(network.clone()));
                }
                if !seen.insert(network.as_str()) {
                    return Err(DnsError::DuplicateNetwork(network.clone()));
                }
            }
        }
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let mut sockets = Vec::with_capacity(bindings.len());
        for (network, addr) in bindings {
            // On error, the sockets bound so far are dropped (closed) here: nothing was started yet.
            let (udp, tcp, bound) = bind_pair(&network, addr).await?;
            sockets.push((network, udp, tcp, bound));
        }
        let mut views = Vec::with_capacity(sockets.len());
        for (network, udp, tcp, addr) in sockets {
            let handler = Arc::new(ViewHandler::with_clock(
                Arc::from(network.as_str()),
                world.clone(),
                events.clone(),
                clock.clone(),
            ));
            // TCP through hickory's server; UDP through our own loop with its fast path.
            let mut server = Server::new(SharedView(handler.clone()));
            server.register_listener(tcp, TCP_IDLE, TCP_RESPONSE_BUFFER);
            let udp =
                UdpServer::start(&network, udp, handler.clone()).map_err(|e| DnsError::Server {
                    network: network.clone(),
                    message: format!("cannot start the UDP resolver thread: {e}"),
                })?;
            views.push(View {
                network,
                addr,
                handler,
                server,
                udp,
            });
        }
        Ok(DnsViews { views, events })
    }

    /// Where each network's resolver listens (UDP and TCP share the address).
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.views
            .iter()
            .map(|v| (v.network.clone(), v.addr))
            .collect()
    }

    /// Where `network`'s resolver listens.
    pub fn local_addr(&self, network: &str) -> Option<SocketAddr> {
        self.views
            .iter()
            .find(|v| v.network == network)
            .map(|v| v.addr)
    }

    /// What `network`'s resolver would answer for `qname` now, its DNS cache included, without
    /// asking it (and without changing the cache); `None` for a network without a resolver.
    pub fn peek(&self, network: &str, qname: &str, qtype: QueryType) -> Option<Resolution> {
        self.views
            .iter()
            .find(|v| v.network == network)
            .map(|v| v.handler.peek(qname, qtype))
    }

    /// A stream of every answered query (with its explanation). Events are only built while someone
    /// subscribes; a subscriber more than [`EVENT_CAPACITY`] events behind loses the oldest.
    pub fn subscribe(&self) -> broadcast::Receiver<QueryEvent> {
        self.events.subscribe()
    }

    /// Stops every resolver and waits for them to finish.
    pub async fn shutdown(self) -> Result<(), DnsError> {
        let mut first_error = None;
        for mut view in self.views {
            if let Err(e) = view.udp.stop().await
                && first_error.is_none()
            {
                first_error = Some(DnsError::Server {
                    network: view.network.clone(),
                    message: format!("UDP: {e}"),
                });
            }
            if let Err(e) = view.server.shutdown_gracefully().await
                && first_error.is_none()
            {
                first_error = Some(DnsError::Server {
                    network: view.network.clone(),
                    message: e.to_string(),
                });
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
