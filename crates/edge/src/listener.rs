//! The accepting listener of an endpoint port: a listening `SO_REUSEPORT` socket on the reserved
//! address:port that decides per accepted connection, by the peer's address, what the source's
//! verdict says: route (hand the stream in-process to the cache's engine, through the toxics on
//! the path), reset (SO_LINGER 0 and close) or blackhole (read and discard). Sources to be dropped
//! never get here: a socket filter on this listener discards their SYNs (see [`crate::filter`]).
//! Closing the listener brings the address back to refusing, since the reservation stays.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redlink_engine::{ConnContext, Engine};
use redlink_world::{Toxic, Verdict};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::backend::{BackendLink, proxy_runtime};
use crate::blackhole::blackhole;
use crate::conn::{CutStream, OpenConns, Registered};
use crate::event::{ConnectionEvent, ConnectionEvents, emit};
use crate::filter::SourceFilter;
use crate::plan::PortPlan;
use crate::reset::reset;
use crate::socket::listening_socket;
use crate::toxics::{Chains, DUPLEX_BUFFER, pump};

/// The accept queue length of an accepting listener.
pub const LISTEN_BACKLOG: i32 = 1024;

/// Pause after an accept error (e.g. out of file descriptors) before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// What the accept loop needs to know about its port.
#[derive(Debug, Clone)]
pub struct PortIdentity {
    /// The endpoint's name (`public` or the private endpoint's), for connection contexts.
    pub endpoint: String,
    /// Whether the port speaks TLS (the engine terminates it).
    pub tls: bool,
    /// Where to report each accepted connection's verdict, if anywhere.
    pub events: Option<ConnectionEvents>,
}

/// An open accepting listener and its accept loop.
#[derive(Debug)]
pub struct PolicyListener {
    addr: SocketAddr,
    listener: Arc<TcpListener>,
    plan: Arc<RwLock<Arc<PortPlan>>>,
    filter: Option<SourceFilter>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl PolicyListener {
    /// Listens on `addr` (already reserved by this process) and applies `plan` to every accepted
    /// connection, registering the ones that stay open in `conns`. Must be called inside a tokio
    /// runtime.
    pub fn open(
        addr: SocketAddr,
        identity: PortIdentity,
        plan: PortPlan,
        conns: Arc<OpenConns>,
    ) -> io::Result<PolicyListener> {
        let listener = Arc::new(TcpListener::from_std(
            listening_socket(addr, LISTEN_BACKLOG)?.into(),
        )?);
        let plan = Arc::new(RwLock::new(Arc::new(plan)));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener.clone(),
            stopped,
            plan.clone(),
            identity,
            conns,
        ));
        Ok(PolicyListener {
            addr,
            listener,
            plan,
            filter: None,
            stop,
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Puts `plan` in force for connections accepted from now on.
    pub fn set_plan(&self, plan: PortPlan) {
        if let Ok(mut p) = self.plan.write() {
            *p = Arc::new(plan);
        }
    }

    /// Attaches `filter` (or removes the current one with `None`) unless it is already in place.
    pub fn set_filter(&mut self, filter: Option<SourceFilter>) -> io::Result<()> {
        if self.filter == filter {
            return Ok(());
        }
        match &filter {
            Some(f) => f.attach(&*self.listener)?,
            None => SourceFilter::detach(&*self.listener)?,
        }
        self.filter = filter;
        Ok(())
    }

    /// Stops accepting and closes the listening socket; returns once it is closed, so a connection
    /// attempted afterwards is refused. Connections already accepted are left to the caller.
    pub async fn close(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await
            && e.is_panic()
        {
            warn!(addr = %self.addr, "the accept loop panicked: {e}");
        }
    }
}

async fn accept_loop(
    listener: Arc<TcpListener>,
    mut stopped: oneshot::Receiver<()>,
    plan: Arc<RwLock<Arc<PortPlan>>>,
    identity: PortIdentity,
    conns: Arc<OpenConns>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let current = match plan.read() {
                    Ok(p) => p.clone(),
                    Err(_) => break,
                };
                dispatch(stream, peer, &current, &identity, &conns);
            }
            Err(e) => {
                warn!(endpoint = %identity.endpoint, "accept failed: {e}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    // Dropping the last reference to the listener closes the socket; the reservation keeps the
    // address. The caller holds the other reference and drops it right after.
}

fn dispatch(
    stream: TcpStream,
    peer: SocketAddr,
    plan: &PortPlan,
    identity: &PortIdentity,
    conns: &Arc<OpenConns>,
) {
    let Some(decision) = plan.decide(peer.ip()) else {
        reset(stream);
        return;
    };
    emit(identity.events.as_ref(), || ConnectionEvent {
        endpoint: identity.endpoint.clone(),
        address: stream.local_addr().unwrap_or(peer),
        peer,
        source: decision.source.clone(),
        verdict: match (decision.action, &plan.engine) {
            (Verdict::Route, None) if plan.backend.is_none() => Verdict::Reset,
            (action, _) => action,
        },
        reason: decision.reason.clone(),
    });
    match (decision.action, &plan.engine) {
        (Verdict::Route, _) if plan.backend.is_some() => {
            let Some(backend) = plan.backend.clone() else {
                return;
            };
            let registered = conns.register(
                decision.source.clone(),
                Verdict::Route,
                decision.toxics.len(),
                peer,
                None,
            );
            tokio::spawn(route_to_backend(
                stream,
                backend,
                identity.tls,
                decision.toxics.clone(),
                registered,
            ));
        }
        (Verdict::Route, Some(engine)) => {
            let local = match stream.local_addr() {
                Ok(a) => a,
                Err(e) => {
                    debug!(%peer, "accepted connection vanished: {e}");
                    return;
                }
            };
            let ctx = ConnContext {
                peer,
                local,
                tls: identity.tls,
                endpoint: Some(identity.endpoint.clone()),
                announce: plan.announce.clone(),
            };
            let registered = conns.register(
                decision.source.clone(),
                Verdict::Route,
                decision.toxics.len(),
                peer,
                Some(engine.clone()),
            );
            tokio::spawn(route(
                stream,
                engine.clone(),
                ctx,
                decision.toxics.clone(),
                registered,
            ));
        }
        (Verdict::Blackhole, _) => {
            let registered =
                conns.register(decision.source.clone(), Verdict::Blackhole, 0, peer, None);
            tokio::spawn(async move {
                blackhole(stream, &registered.cut).await;
                drop(registered);
            });
        }
        // Reset; a route without an engine; a drop or refusal the kernel could not carry out for
        // this source alone (the plan's reason says so).
        _ => reset(stream),
    }
}

/// The route primitive: hands `stream` to `engine` in-process, directly or through a toxic pump.
async fn route(
    stream: TcpStream,
    engine: Engine,
    ctx: ConnContext,
    toxics: Vec<Toxic>,
    registered: Registered,
) {
    let _ = stream.set_nodelay(true);
    // Toxiproxy's toxicity: each toxic applies to its fraction of connections, rolled now.
    let mut rng = crate::toxics::Rng::new();
    let toxics: Vec<Toxic> = toxics
        .into_iter()
        .filter(|t| {
            t.toxicity
                .applies(u32::try_from(rng.below_or_eq(999_999)).unwrap_or(u32::MAX))
        })
        .collect();
    if toxics.is_empty() {
        engine
            .accept_stream(CutStream::new(stream, registered.cut.clone()), ctx)
            .await;
    } else {
        let (engine_side, edge_side) = tokio::io::duplex(DUPLEX_BUFFER);
        let chains = Chains::build(&toxics);
        tokio::join!(
            engine.accept_stream(engine_side, ctx),
            pump(stream, edge_side, chains, &registered.cut),
        );
    }
    drop(registered);
}

/// The route primitive for a cache with a backend: proxies `stream` to it, directly or through a
/// toxic pump (a cut resets the client either way).
async fn route_to_backend(
    stream: TcpStream,
    backend: BackendLink,
    tls: bool,
    toxics: Vec<Toxic>,
    registered: Registered,
) {
    let _ = stream.set_nodelay(true);
    // The common case (a plain port, no toxics) moves to the proxy's own thread.
    if toxics.is_empty()
        && !tls
        && let Some(runtime) = proxy_runtime()
    {
        match stream.into_std() {
            Ok(std_stream) => {
                runtime.spawn(async move {
                    match TcpStream::from_std(std_stream) {
                        Ok(stream) => {
                            proxy_to_backend(stream, backend, tls, toxics, registered).await;
                        }
                        Err(e) => debug!("could not move a proxied connection: {e}"),
                    }
                });
            }
            Err(e) => debug!("could not move a proxied connection: {e}"),
        }
        return;
    }
    proxy_to_backend(stream, backend, tls, toxics, registered).await;
}

/// Connects to the backend and pumps bytes both ways until either side closes.
async fn proxy_to_backend(
    stream: TcpStream,
    backend: BackendLink,
    tls: bool,
    toxics: Vec<Toxic>,
    registered: Registered,
) {
    // A backend that is down makes the endpoint behave like a stopped cache: the client is reset.
    let upstream = match backend.connect().await {
        Ok(s) => s,
        Err(e) => {
            warn!(backend = %backend.address, "backend {} unreachable: {e}", backend.address);
            reset(stream);
            return;
        }
    };
    if toxics.is_empty() {
        backend
            .proxy(
                CutStream::new(stream, registered.cut.clone()),
                upstream,
                tls,
            )
            .await;
    } else {
        let (proxy_side, edge_side) = tokio::io::duplex(DUPLEX_BUFFER);
        let chains = Chains::build(&toxics);
        tokio::join!(
            backend.proxy(proxy_side, upstream, tls),
            pump(stream, edge_side, chains, &registered.cut),
        );
    }
    drop(registered);
}
