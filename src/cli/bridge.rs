//! The bridge that lets `redlink exec` join a world running on the host (`redlink up`, another
//! terminal): the command runs in a network namespace of its own, as in every exec (its resolver on
//! port 53, nothing leaves), and this module makes the host world appear there, live:
//!
//! - every network's resolver answers at its address on port 53 (and on its own port): each query
//!   is relayed, unchanged, to the world's resolver on the host, so DNS changes made with `ctl`
//!   show at the next query;
//! - the control API answers at the state file's `control` address, so `redlink ctl` and `probe`
//!   work inside as outside;
//! - every endpoint address:port mirrors the world's verdict: nothing listens where the world
//!   refuses every source (ECONNREFUSED), a full backlog-0 queue drops SYNs where it drops every
//!   source ([`redlink_edge::DropListener`]), and elsewhere a connection is accepted and relayed to
//!   the real endpoint **from the client's own source address**, so the host edge applies the same
//!   per-source verdict (route, reset, blackhole, toxics) it applies to any client; its reset or
//!   refusal comes back as a reset. The mirror follows the state file (re-read when it changes,
//!   polled every [`POLL`]), which the world rewrites after every change.
//!
//! Host-namespace sockets come from [`redlink_exec::host::HostSockets`] (forked before the
//! namespace was entered). What the bridge cannot mirror exactly: a port whose verdict differs
//! between sources and refuses or drops this client accepts first and then resets it.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redlink_exec::host::{HostSocketKind, HostSockets};
use redlink_runtime::StateFile;
use redlink_world::Verdict;
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// How often the state file is checked for changes.
pub const POLL: Duration = Duration::from_millis(20);
/// How long a relayed connect or DNS answer may take.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);
/// The resolver port a child's resolv.conf implies.
const DNS_PORT: u16 = 53;

/// What one endpoint port does inside the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mirror {
    /// Nothing listens: ECONNREFUSED.
    Refuse,
    /// SYNs go unanswered.
    Drop,
    /// Accept and relay from the client's source address.
    Relay,
}

/// What holds a mirrored port open.
enum Held {
    Drop(#[allow(dead_code)] redlink_edge::DropListener),
    Relay(JoinHandle<()>),
}

impl Held {
    /// Closes the port's listener (and waits until it is closed, so the next one can bind).
    async fn close(self) {
        if let Held::Relay(task) = self {
            task.abort();
            let _ = task.await;
        }
    }
}

/// A running bridge.
pub struct Bridge {
    shared: Arc<Shared>,
    fixed: Vec<JoinHandle<()>>,
}

/// What the bridge's tasks share.
struct Shared {
    host: Arc<HostSockets>,
    state_path: PathBuf,
    mirrors: tokio::sync::Mutex<Mirrors>,
}

/// The endpoint mirrors and the state file version they follow.
#[derive(Default)]
struct Mirrors {
    ports: BTreeMap<SocketAddr, (Mirror, Held)>,
    seen: Option<(SystemTime, u64)>,
    gone: bool,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        for t in &self.fixed {
            t.abort();
        }
        if let Ok(m) = self.shared.mirrors.try_lock() {
            for (_, held) in m.ports.values() {
                if let Held::Relay(task) = held {
                    task.abort();
                }
            }
        }
    }
}

/// The host-side socket of `kind` as a tokio TCP socket.
fn host_tcp(host: &HostSockets) -> io::Result<TcpSocket> {
    let std = std::net::TcpStream::from(host.socket(HostSocketKind::Tcp)?);
    std.set_nonblocking(true)?;
    Ok(TcpSocket::from_std_stream(std))
}

fn host_udp(host: &HostSockets) -> io::Result<UdpSocket> {
    let std = std::net::UdpSocket::from(host.socket(HostSocketKind::Udp)?);
    std.set_nonblocking(true)?;
    UdpSocket::from_std(std)
}

/// Resets `stream` (SO_LINGER 0, close).
fn reset(stream: TcpStream) {
    redlink_edge::reset(stream);
}

/// Relays one accepted connection to `target` on the host, from `source` when given.
async fn relay(
    host: Arc<HostSockets>,
    inner: TcpStream,
    target: SocketAddr,
    source: Option<IpAddr>,
) {
    let outer = async {
        let socket = host_tcp(&host)?;
        if let Some(ip) = source {
            // A client's loopback source exists on the host too (all of 127/8 is local).
            let _ = socket.bind(SocketAddr::new(ip, 0));
        }
        tokio::time::timeout(RELAY_TIMEOUT, socket.connect(target))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
    };
    let mut outer = match outer.await {
        Ok(s) => s,
        Err(_) => return reset(inner),
    };
    let mut inner = inner;
    match tokio::io::copy_bidirectional(&mut inner, &mut outer).await {
        Ok(_) => {}
        Err(_) => {
            // The host side was reset (or failed): so is the client.
            redlink_edge::arm_reset(&inner);
            redlink_edge::arm_reset(&outer);
        }
    }
}

/// Accepts on `listener` and relays each connection to `target`; `keep_source` binds the host
/// side to the client's own address.
async fn relay_port(
    host: Arc<HostSockets>,
    listener: TcpListener,
    target: SocketAddr,
    keep_source: bool,
) {
    loop {
        let Ok((inner, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let source = keep_source.then_some(peer.ip());
        tokio::spawn(relay(host.clone(), inner, target, source));
    }
}

/// Relays control connections to `target`, bringing the mirrors up to date before each reply
/// reaches the client: the world rewrites its state file before it answers a change, so a
/// `redlink ctl` inside sees its change in force when it returns.
async fn relay_control(shared: Arc<Shared>, listener: TcpListener, target: SocketAddr) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    loop {
        let Ok((inner, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(socket) = host_tcp(&shared.host) else {
                return reset(inner);
            };
            let Ok(Ok(outer)) = tokio::time::timeout(RELAY_TIMEOUT, socket.connect(target)).await
            else {
                return reset(inner);
            };
            let (mut inner_read, mut inner_write) = inner.into_split();
            let (mut outer_read, mut outer_write) = outer.into_split();
            let up = async {
                let _ = tokio::io::copy(&mut inner_read, &mut outer_write).await;
                let _ = outer_write.shutdown().await;
            };
            let down = async {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match outer_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    shared.sync().await;
                    if inner_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = inner_write.shutdown().await;
            };
            tokio::join!(up, down);
        });
    }
}

/// Relays DNS datagrams arriving at `socket` to `target`, one host socket per query.
async fn relay_udp(host: Arc<HostSockets>, socket: UdpSocket, target: SocketAddr) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let (host, socket) = (host.clone(), socket.clone());
        tokio::spawn(async move {
            let Ok(out) = host_udp(&host) else { return };
            if out.connect(target).await.is_err() || out.send(&query).await.is_err() {
                return;
            }
            let mut answer = vec![0u8; 65535];
            if let Ok(Ok(m)) = tokio::time::timeout(RELAY_TIMEOUT, out.recv(&mut answer)).await {
                let _ = socket.send_to(&answer[..m], from).await;
            }
        });
    }
}

fn mirror_of(verdicts: &BTreeMap<String, redlink_runtime::PortVerdict>, port: u16) -> Mirror {
    let Some(v) = verdicts.get(&port.to_string()) else {
        return Mirror::Relay;
    };
    let all: Vec<Verdict> = std::iter::once(v.verdict)
        .chain(v.networks.values().map(|n| n.verdict))
        .collect();
    if all.iter().all(|v| *v == Verdict::Refuse) {
        Mirror::Refuse
    } else if all.iter().all(|v| *v == Verdict::Drop) {
        Mirror::Drop
    } else {
        Mirror::Relay
    }
}

impl Bridge {
    /// Opens the resolvers, the control address and the endpoint mirrors of the world in `state`
    /// (read from `state_path`) inside the current network namespace.
    pub async fn open(
        host: Arc<HostSockets>,
        state_path: &Path,
        state: &StateFile,
    ) -> Result<Bridge, String> {
        let mut fixed = Vec::new();
        for (name, net) in &state.networks {
            let mut ports = vec![DNS_PORT];
            if net.resolver.port() != DNS_PORT {
                ports.push(net.resolver.port());
            }
            for port in ports {
                let at = SocketAddr::new(net.resolver.ip(), port);
                let udp = UdpSocket::bind(at)
                    .await
                    .map_err(|e| format!("cannot open {name}'s resolver at {at}/udp: {e}"))?;
                fixed.push(tokio::spawn(relay_udp(host.clone(), udp, net.resolver)));
                let tcp = TcpListener::bind(at)
                    .await
                    .map_err(|e| format!("cannot open {name}'s resolver at {at}/tcp: {e}"))?;
                fixed.push(tokio::spawn(relay_port(
                    host.clone(),
                    tcp,
                    net.resolver,
                    false,
                )));
            }
        }
        let shared = Arc::new(Shared {
            host,
            state_path: state_path.to_path_buf(),
            mirrors: tokio::sync::Mutex::new(Mirrors::default()),
        });
        if let Some(control) = state.control.as_deref().and_then(|c| c.parse().ok()) {
            let control: SocketAddr = control;
            let tcp = TcpListener::bind(control)
                .await
                .map_err(|e| format!("cannot open the control address {control}: {e}"))?;
            fixed.push(tokio::spawn(relay_control(shared.clone(), tcp, control)));
        }
        {
            let mut m = shared.mirrors.lock().await;
            m.seen = shared.stamp();
            shared.reconcile(&mut m, state).await?;
        }
        Ok(Bridge { shared, fixed })
    }

    /// Follows the state file: re-mirrors after each change; says once on stderr when the world
    /// stopped (its state file is gone). Never returns.
    pub async fn follow(self) {
        loop {
            tokio::time::sleep(POLL).await;
            self.shared.sync().await;
        }
    }
}

impl Shared {
    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(&self.state_path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Re-reads the state file if it changed and re-mirrors.
    async fn sync(&self) {
        let mut m = self.mirrors.lock().await;
        let stamp = self.stamp();
        if stamp.is_none() {
            if !m.gone {
                m.gone = true;
                for (_, (_, held)) in std::mem::take(&mut m.ports) {
                    held.close().await;
                }
                eprintln!(
                    "redlink exec: the world stopped ({} is gone); its addresses now refuse",
                    self.state_path.display()
                );
            }
            return;
        }
        if stamp == m.seen {
            return;
        }
        // Caught between writes: try again at the next poll.
        let Ok(state) = StateFile::read(&self.state_path) else {
            return;
        };
        m.seen = stamp;
        m.gone = false;
        if let Err(e) = self.reconcile(&mut m, &state).await {
            eprintln!("redlink exec: {e}");
        }
    }

    /// Brings the endpoint mirrors in line with `state`.
    async fn reconcile(&self, m: &mut Mirrors, state: &StateFile) -> Result<(), String> {
        let mut wanted: BTreeMap<SocketAddr, Mirror> = BTreeMap::new();
        for cache in state.caches.values() {
            for e in &cache.endpoints {
                for &port in &e.ports {
                    wanted.insert(
                        SocketAddr::new(IpAddr::V4(e.address), port),
                        mirror_of(&e.verdicts, port),
                    );
                }
            }
        }
        let stale: Vec<SocketAddr> = m
            .ports
            .iter()
            .filter(|(addr, (m, _))| wanted.get(*addr) != Some(m))
            .map(|(addr, _)| *addr)
            .collect();
        for addr in stale {
            if let Some((_, held)) = m.ports.remove(&addr) {
                held.close().await;
            }
        }
        for (addr, mirror) in wanted {
            if m.ports.contains_key(&addr) {
                continue;
            }
            let held = match mirror {
                Mirror::Refuse => None,
                Mirror::Drop => Some(Held::Drop(
                    redlink_edge::DropListener::open(addr)
                        .map_err(|e| format!("cannot mirror a drop at {addr}: {e}"))?,
                )),
                Mirror::Relay => {
                    let listener =
                        redlink_edge::listening_socket(addr, redlink_edge::LISTEN_BACKLOG)
                            .and_then(|s| TcpListener::from_std(s.into()))
                            .map_err(|e| format!("cannot mirror endpoint {addr}: {e}"))?;
                    Some(Held::Relay(tokio::spawn(relay_port(
                        self.host.clone(),
                        listener,
                        addr,
                        true,
                    ))))
                }
            };
            if let Some(held) = held {
                m.ports.insert(addr, (mirror, held));
            }
        }
        Ok(())
    }
}
