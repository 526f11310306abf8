//! The engine's own listeners, as redis-server has them: one socket per `bind` address for `port`
//! and `tls-port`, protected mode, and rebinding when CONFIG SET changes bind/port/tls-port.
//! Listeners bind synchronously (socket2), so a port in use is reported at once with the address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::Mutex;
use socket2::{Domain, Socket, Type};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::{ConnContext, Engine};

/// Why the server could not start (or rebind).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listening socket could not be created.
    #[error("Could not create server TCP listening socket {addr}: {source}")]
    Bind {
        /// The address that was wanted.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An address in `bind` is not an IP address.
    #[error("Invalid bind address '{0}'")]
    BadAddress(String),
    /// TLS could not be configured.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// Nothing to listen on.
    #[error("Configured to not listen anywhere, exiting.")]
    NoListeners,
}

/// The text protected mode sends to non-loopback clients.
pub const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it speaks TLS.
    pub tls: bool,
}

struct Running {
    info: ListenerInfo,
    stop: watch::Sender<bool>,
}

/// The engine's listeners.
pub struct Server {
    engine: Engine,
    running: Arc<Mutex<Vec<Running>>>,
}

/// Parse one `bind` entry: returns the address and whether it is optional (`-` prefix).
fn parse_bind(entry: &str) -> Result<(IpAddr, bool), ServeError> {
    let (optional, addr) = match entry.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, entry),
    };
    let ip = match addr {
        "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "::*" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        other => other
            .parse()
            .map_err(|_| ServeError::BadAddress(entry.to_string()))?,
    };
    Ok((ip, optional))
}

fn bind_socket(addr: SocketAddr, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// The sockets a configuration asks for, bound now. Optional addresses that cannot be bound
/// (e.g. no IPv6) are skipped, as in Redis.
fn bind_all(config: &Config) -> Result<Vec<(ListenerInfo, std::net::TcpListener)>, ServeError> {
    let backlog = config
        .get("tcp-backlog")
        .and_then(|v| v.parse().ok())
        .unwrap_or(511);
    let mut out = Vec::new();
    for (port, tls) in [(config.port(), false), (config.tls_port(), true)] {
        if port == 0 {
            continue;
        }
        for entry in config.bind() {
            let (ip, optional) = parse_bind(&entry)?;
            let addr = SocketAddr::new(ip, port);
            match bind_socket(addr, backlog) {
                Ok(l) => {
                    let addr = l.local_addr().unwrap_or(addr);
                    out.push((ListenerInfo { addr, tls }, l));
                }
                Err(e)
                    if optional
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EADDRNOTAVAIL)
                                | Some(libc::EAFNOSUPPORT)
                                | Some(libc::EPROTONOSUPPORT)
                        ) => {}
                Err(source) => {
                    return Err(ServeError::Bind {
                        addr: addr.to_string(),
                        source,
                    });
                }
            }
        }
    }
    Ok(out)
}

impl Server {
    /// Bind every listener the engine's configuration asks for and start accepting.
    pub fn start(engine: Engine) -> Result<Server, ServeError> {
        crate::tls::configure(&engine)?;
        let bound = bind_all(&engine.config.read())?;
        if bound.is_empty() {
            return Err(ServeError::NoListeners);
        }
        let server = Server {
            engine: engine.clone(),
            running: Arc::new(Mutex::new(Vec::new())),
        };
        for (info, l) in bound {
            server.spawn_listener(info, l)?;
        }
        engine.spawn_background();
        server.watch_config();
        Ok(server)
    }

    /// Where the server listens.
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        self.running.lock().iter().map(|r| r.info.clone()).collect()
    }

    /// The engine behind the listeners.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn spawn_listener(
        &self,
        info: ListenerInfo,
        l: std::net::TcpListener,
    ) -> Result<(), ServeError> {
        let listener = TcpListener::from_std(l).map_err(|source| ServeError::Bind {
            addr: info.addr.to_string(),
            source,
        })?;
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(accept_loop(
            self.engine.clone(),
            listener,
            info.tls,
            stop_rx,
        ));
        self.running.lock().push(Running { info, stop });
        Ok(())
    }

    /// Rebind when bind/port/tls-port change: keep sockets still wanted, close the others.
    fn watch_config(&self) {
        let engine = self.engine.clone();
        let running = self.running.clone();
        let mut changes = engine.listeners_changed.subscribe();
        let this = Server {
            engine: engine.clone(),
            running,
        };
        tokio::spawn(async move {
            let mut shutdown = engine.shutdown_receiver();
            loop {
                tokio::select! {
                    r = changes.changed() => if r.is_err() { return },
                    _ = shutdown.changed() => return,
                }
                if let Err(e) = this.reconcile() {
                    tracing::warn!("rebinding listeners: {e}");
                }
            }
        });
    }

    fn reconcile(&self) -> Result<(), ServeError> {
        crate::tls::configure(&self.engine)?;
        let config = self.engine.config.read().clone();
        let mut wanted: Vec<ListenerInfo> = Vec::new();
        for (port, tls) in [(config.port(), false), (config.tls_port(), true)] {
            if port == 0 {
                continue;
            }
            for entry in config.bind() {
                let (ip, _) = parse_bind(&entry)?;
                wanted.push(ListenerInfo {
                    addr: SocketAddr::new(ip, port),
                    tls,
                });
            }
        }
        // Close the listeners no longer wanted.
        self.running.lock().retain(|r| {
            let keep = wanted.contains(&r.info);
            if !keep {
                let _ = r.stop.send(true);
            }
            keep
        });
        let have = self.listeners();
        let missing: Vec<&ListenerInfo> = wanted.iter().filter(|w| !have.contains(w)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        // Bind only what is missing.
        for m in missing {
            let l = bind_socket(m.addr, 511).map_err(|source| ServeError::Bind {
                addr: m.addr.to_string(),
                source,
            })?;
            self.spawn_listener(m.clone(), l)?;
        }
        Ok(())
    }

    /// Wait until the engine shuts down, then close the listeners.
    pub async fn wait(self) {
        self.engine.wait_shutdown().await;
        for r in self.running.lock().iter() {
            let _ = r.stop.send(true);
        }
        // Give connections a moment to see the shutdown and close.
        for _ in 0..50 {
            if self.engine.clients.count() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

async fn accept_loop(
    engine: Engine,
    listener: TcpListener,
    tls: bool,
    mut stop: watch::Receiver<bool>,
) {
    let local = listener.local_addr().ok();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().or(local).unwrap_or(peer);
        let engine = engine.clone();
        tokio::spawn(async move {
            let denied = {
                let c = engine.config.read();
                // Like Redis: protected mode applies while the default user has no password.
                c.protected_mode()
                    && engine.acl.user("default").is_some_and(|u| u.nopass)
                    && !c.bind_explicit
                    && !peer.ip().is_loopback()
            };
            if denied {
                if !tls {
                    let _ = stream.write_all(PROTECTED_MODE_ERROR.as_bytes()).await;
                }
                let _ = stream.shutdown().await;
                return;
            }
            let ctx = ConnContext {
                peer,
                local,
                tls,
                endpoint: None,
            };
            engine.accept_stream(stream, ctx).await;
        });
    }
}
