//! The engine's own listeners, as redis-server has them: one socket per `bind` address for `port`
//! and `tls-port`, protected mode, and rebinding when CONFIG SET changes bind/port/tls-port.
//! Listeners bind synchronously (socket2), so a port in use is reported at once with the address.
//!
//! CONFIG SET of bind/port/tls-port/tls-* goes through [`ListenerHook`] before the new values are
//! committed: every new socket is bound first, and if one cannot be (address not on the machine,
//! port in use, bad TLS files) the old listeners stay and the client gets redis-server's error, so
//! `CONFIG GET bind` always describes the real sockets. At start the open-files limit is raised to
//! fit `maxclients` (or `maxclients` is lowered to fit it), as redis-server's
//! `adjustOpenFilesLimit`, so clients past the limit are told `-ERR max number of clients
//! reached` instead of hanging in the accept queue.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::Mutex;
use socket2::{Domain, Socket, Type};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::{ConnContext, Engine};

/// File descriptors redis-server keeps for itself beyond `maxclients` (`CONFIG_MIN_RESERVED_FDS`).
pub const RESERVED_FDS: u64 = 32;

/// Why CONFIG SET could not apply a listener change: the option to blame (canonical name) and
/// redis-server's text for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    /// The option named in `CONFIG SET failed (possibly related to argument '…')`.
    pub param: &'static str,
    /// What follows the ` - `.
    pub message: String,
}

/// Applies CONFIG SET changes to bind/port/tls-port/tls-*/maxclients before they are committed
/// (installed by [`Server::start`]; engines without their own listeners have none). Arguments:
/// the configuration to be, and the changed options (canonical names) in argument order.
pub type ListenerHook =
    Box<dyn Fn(&Config, &[&'static str]) -> Result<(), ApplyError> + Send + Sync>;

const BIND_FAILED: &str = "Failed to bind to specified addresses.";
const LISTEN_FAILED: &str = "Unable to listen on this port. Check server logs.";
const TLS_FAILED: &str = "Unable to update TLS configuration. Check server logs.";

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
    /// The open-files limit leaves no room for a single client.
    #[error(
        "Your current 'ulimit -n' of {current} is not enough for the server to start. Please increase your open file limit to at least {wanted}. Exiting."
    )]
    FdLimit {
        /// The soft RLIMIT_NOFILE found.
        current: u64,
        /// `maxclients` + the reserved descriptors.
        wanted: u64,
    },
}

/// The open-files limit after trying to raise it to `wanted`: (limit before, limit now, the OS
/// error when it could not be raised enough).
fn raise_open_files_limit(wanted: u64) -> (u64, u64, Option<std::io::Error>) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!(
            "Unable to obtain the current NOFILE limit ({e}), assuming 1024 and setting the max clients configuration accordingly."
        );
        return (1024, 1024, Some(e));
    }
    let old = lim.rlim_cur;
    if old >= wanted {
        return (old, old, None);
    }
    let set = |cur: u64, max: u64| {
        let l = libc::rlimit {
            rlim_cur: cur,
            rlim_max: max,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // Like Redis, first ask for the whole amount (raising the hard limit needs privileges); then
    // settle for the hard limit. Unlike Redis, never lower the hard limit.
    let err = match set(wanted, lim.rlim_max.max(wanted)) {
        Ok(()) => return (old, wanted, None),
        Err(e) => e,
    };
    let best = wanted.min(lim.rlim_max);
    if best > old && set(best, lim.rlim_max).is_ok() {
        return (old, best, Some(err));
    }
    (old, old, Some(err))
}

/// How many clients fit the open-files limit once it is raised as far as it goes towards
/// `maxclients` + [`RESERVED_FDS`] (`maxclients` itself when it all fits). CONFIG SET maxclients
/// uses it, as Redis's `updateMaxclients`.
pub fn adjust_open_files_limit(maxclients: u64) -> u64 {
    let wanted = maxclients.saturating_add(RESERVED_FDS);
    let (_, now, _) = raise_open_files_limit(wanted);
    if now >= wanted {
        maxclients
    } else {
        now.saturating_sub(RESERVED_FDS)
    }
}

/// At start, as redis-server's `adjustOpenFilesLimit`: raise the open-files limit to fit
/// `maxclients`, or lower `maxclients` to fit the limit (with Redis's warnings), so every client
/// beyond it is answered `-ERR max number of clients reached` rather than left in the accept
/// queue.
fn fit_maxclients(engine: &Engine) -> Result<(), ServeError> {
    let maxclients = engine.config.read().maxclients() as u64;
    let wanted = maxclients.saturating_add(RESERVED_FDS);
    let (old, now, err) = raise_open_files_limit(wanted);
    if now >= wanted {
        if now > old {
            tracing::info!(
                "Increased maximum number of open files to {wanted} (it was originally set to {old})."
            );
        }
        return Ok(());
    }
    if now <= RESERVED_FDS {
        return Err(ServeError::FdLimit {
            current: old,
            wanted,
        });
    }
    let fit = now - RESERVED_FDS;
    // strerror's text, as Redis logs it (without Rust's " (os error N)").
    let reason = err
        .map(|e| {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        })
        .unwrap_or_default();
    tracing::warn!(
        "You requested maxclients of {maxclients} requiring at least {wanted} max file descriptors."
    );
    tracing::warn!(
        "Server can't set maximum open files to {wanted} because of OS error: {reason}."
    );
    tracing::warn!(
        "Current maximum open files is {now}. maxclients has been reduced to {fit} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
    );
    // `fit` is below the current value, which passed validation, so it is valid too.
    let _ = engine
        .config
        .write()
        .set_startup("maxclients", &fit.to_string());
    engine.refresh_hot_config();
    Ok(())
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

/// Errors a `-`-prefixed (optional) bind address may meet without failing: Redis skips it.
fn optional_bind_error(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT) | Some(libc::EPROTONOSUPPORT)
    )
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
                Err(e) if optional && optional_bind_error(&e) => {}
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
        fit_maxclients(&engine)?;
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
        server.install_hook();
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

    /// Install the hook CONFIG SET calls to rebind (it holds the engine weakly, so dropping
    /// every engine handle still frees it).
    fn install_hook(&self) {
        let weak = Arc::downgrade(&self.engine.0);
        let running = self.running.clone();
        let handle = tokio::runtime::Handle::current();
        let serial = Arc::new(Mutex::new(()));
        let hook: ListenerHook = Box::new(move |next: &Config, changed: &[&'static str]| {
            let Some(shared) = weak.upgrade() else {
                return Ok(());
            };
            let _one_at_a_time = serial.lock();
            let this = Server {
                engine: Engine(shared),
                running: running.clone(),
            };
            let _rt = handle.enter();
            this.apply(next, changed)
        });
        *self.engine.listener_hook.write() = Some(hook);
    }

    /// Make the listeners match `next`, all or nothing: bind every missing socket first and, only
    /// if all of them (and the TLS configuration) are good, close the unwanted ones and start the
    /// new ones. The error names the first option in `changed` whose change failed, as Redis's
    /// per-option apply functions do.
    fn apply(&self, next: &Config, changed: &[&'static str]) -> Result<(), ApplyError> {
        let blame = |failed: &dyn Fn(&str) -> Option<&'static str>| {
            changed
                .iter()
                .find_map(|p| failed(p).map(|m| (*p, m)))
                .map(|(param, message)| ApplyError {
                    param,
                    message: message.to_string(),
                })
        };
        if changed.contains(&"maxclients") {
            let wanted = next.maxclients() as u64;
            let fit = adjust_open_files_limit(wanted);
            if fit < wanted {
                return Err(ApplyError {
                    param: "maxclients",
                    message: format!(
                        "The operating system is not able to handle the specified number of clients, try with {fit}"
                    ),
                });
            }
        }
        let listeners = changed
            .iter()
            .any(|p| matches!(*p, "bind" | "port" | "tls-port") || p.starts_with("tls-"));
        if !listeners {
            return Ok(());
        }
        let tls = match crate::tls::load(next) {
            Ok(tls) => Ok(tls),
            Err(e) => {
                tracing::warn!("{e}");
                Err(())
            }
        };
        let have = self.listeners();
        let mut fresh: Vec<(ListenerInfo, std::net::TcpListener)> = Vec::new();
        let (mut plain_failed, mut tls_failed) = (false, false);
        let backlog = next
            .get("tcp-backlog")
            .and_then(|v| v.parse().ok())
            .unwrap_or(511);
        let mut wanted: Vec<ListenerInfo> = Vec::new();
        for (port, is_tls) in [(next.port(), false), (next.tls_port(), true)] {
            if port == 0 || (is_tls && tls.is_err()) {
                continue;
            }
            for entry in next.bind() {
                let failed = if is_tls {
                    &mut tls_failed
                } else {
                    &mut plain_failed
                };
                let Ok((ip, optional)) = parse_bind(&entry) else {
                    tracing::warn!(
                        "Could not create server TCP listening socket {entry}:{port}: Invalid address"
                    );
                    *failed = true;
                    continue;
                };
                let info = ListenerInfo {
                    addr: SocketAddr::new(ip, port),
                    tls: is_tls,
                };
                if have.contains(&info) {
                    wanted.push(info);
                    continue;
                }
                match bind_socket(info.addr, backlog) {
                    Ok(l) => {
                        wanted.push(info.clone());
                        fresh.push((info, l));
                    }
                    Err(e) if optional && optional_bind_error(&e) => {}
                    Err(e) => {
                        tracing::warn!(
                            "Warning: Could not create server TCP listening socket {}: bind: {e}",
                            info.addr
                        );
                        *failed = true;
                    }
                }
            }
        }
        let tls_config_failed = tls.is_err();
        if let Some(err) = blame(&|p| match p {
            "bind" if plain_failed || tls_failed => Some(BIND_FAILED),
            "port" if plain_failed => Some(LISTEN_FAILED),
            "tls-port" if tls_config_failed => Some(TLS_FAILED),
            "tls-port" if tls_failed => Some(LISTEN_FAILED),
            p if p.starts_with("tls-") && tls_config_failed => Some(TLS_FAILED),
            _ => None,
        }) {
            tracing::warn!(
                "Failed applying new configuration. Possibly related to new {} setting. Restoring previous settings.",
                err.param
            );
            // The sockets bound for the new values close here; the old listeners never stopped.
            drop(fresh);
            return Err(err);
        }
        if let Ok(Some(server)) = tls {
            *self.engine.tls.write() = Some(Arc::new(server));
        }
        self.running.lock().retain(|r| {
            let keep = wanted.contains(&r.info);
            if !keep {
                let _ = r.stop.send(true);
            }
            keep
        });
        for (info, l) in fresh {
            self.spawn_listener(info.clone(), l).map_err(|e| {
                tracing::warn!("{e}");
                ApplyError {
                    param: changed.first().copied().unwrap_or("bind"),
                    message: BIND_FAILED.to_string(),
                }
            })?;
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
    // Accept errors (EMFILE, ENFILE, ENOMEM…) are logged at most once a second.
    let mut last_logged: Option<std::time::Instant> = None;
    let mut suppressed = 0u64;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning (the connection waits in the
                // backlog until a descriptor frees up), and do not flood the log.
                if last_logged.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
                    tracing::warn!(
                        "Accepting client connection: {e} ({suppressed} more since the last report)"
                    );
                    last_logged = Some(std::time::Instant::now());
                    suppressed = 0;
                } else {
                    suppressed += 1;
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        keepalive(&stream, engine.config.read().number("tcp-keepalive"));
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
                announce: None,
            };
            engine.accept_stream(stream, ctx).await;
        });
    }
}

/// `tcp-keepalive SECONDS` on an accepted connection, like Redis's `anetKeepAlive`: probes after
/// SECONDS idle, then every SECONDS/3 (at least 1), 3 unanswered probes close it; 0 = off.
pub fn keepalive(stream: &tokio::net::TcpStream, seconds: i64) {
    if seconds <= 0 {
        return;
    }
    let secs = seconds as u64;
    let params = socket2::TcpKeepalive::new()
        .with_time(std::time::Duration::from_secs(secs))
        .with_interval(std::time::Duration::from_secs((secs / 3).max(1)))
        .with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&params);
}
