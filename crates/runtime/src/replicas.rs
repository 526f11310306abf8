//! A cache's replica node and the replication link the runtime owns between its nodes.
//!
//! The replica is a second engine that follows the primary with Redis's protocol
//! (`Engine::replicate_from`: PSYNC, the RDB, then the command stream). It connects to a loopback
//! listener of the runtime's ([`LinkProxy`]), which hands each connection to the current primary
//! in-process, through the world's [`ReplicationLink`]: a latency toxic on the primary → replica
//! direction (so writes reach the replica late and a failover inside that window loses them unless
//! the client used WAIT), or a cut (connections refused until the link heals). A new latency applies
//! at once to the open connection (to bytes not yet delivered); cutting the link or changing the
//! primary cuts the open link connection, and the replica reconnects and resynchronises (PSYNC).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redlink_edge::Cut;
use redlink_engine::disabled::REPLICATION_LINK;
use redlink_engine::{ConnContext, Engine};
use redlink_world::ReplicationLink;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Buffer of the in-process pipe between the link's socket and the primary engine.
const LINK_PIPE: usize = 64 * 1024;

struct LinkState {
    primary: Engine,
    link: ReplicationLink,
    open: Vec<Arc<Cut>>,
    /// The primary → replica delay now, read for every chunk delivered.
    latency_ms: Arc<AtomicU64>,
}

/// The runtime's end of a cache's replication link (see the module doc).
pub struct LinkProxy {
    addr: SocketAddr,
    state: Arc<Mutex<LinkState>>,
    task: JoinHandle<()>,
}

impl LinkProxy {
    /// Listens on a free loopback port and hands connections to `primary` through `link`.
    pub async fn open(primary: Engine, link: ReplicationLink) -> std::io::Result<LinkProxy> {
        LinkProxy::bind(primary, link)
    }

    /// [`LinkProxy::open`] for a caller that cannot await (inside a tokio runtime).
    pub fn bind(primary: Engine, link: ReplicationLink) -> std::io::Result<LinkProxy> {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(LinkState {
            primary,
            link,
            open: Vec::new(),
            latency_ms: Arc::new(AtomicU64::new(link.latency_ms)),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                serve(stream, peer, addr, &shared);
            }
        });
        Ok(LinkProxy { addr, state, task })
    }

    /// Where the replica connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The run id of the engine the link hands connections to.
    pub fn primary_run_id(&self) -> String {
        self.state
            .lock()
            .map(|s| s.primary.run_id.clone())
            .unwrap_or_default()
    }

    /// The link now hands connections to `primary` (after a failover); the open one is cut.
    pub fn retarget(&self, primary: Engine) {
        if let Ok(mut s) = self.state.lock() {
            s.primary = primary;
            cut_all(&mut s);
        }
    }

    /// Applies the world's link setting; the open connection is cut so the new one takes it.
    pub fn set(&self, link: ReplicationLink) {
        if let Ok(mut s) = self.state.lock()
            && s.link != link
        {
            s.latency_ms.store(link.latency_ms, Ordering::Relaxed);
            if link.cut && !s.link.cut {
                cut_all(&mut s);
            }
            s.link = link;
        }
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(mut s) = self.state.lock() {
            cut_all(&mut s);
        }
    }
}

fn cut_all(s: &mut LinkState) {
    for c in s.open.drain(..) {
        c.cut();
    }
}

/// One link connection: refused (reset) while the link is cut, else piped to the primary.
fn serve(stream: TcpStream, peer: SocketAddr, local: SocketAddr, state: &Arc<Mutex<LinkState>>) {
    let Ok(mut s) = state.lock() else {
        return;
    };
    if s.link.cut {
        redlink_edge::reset(stream);
        return;
    }
    s.open.retain(|c| !c.is_cut());
    let cut = Arc::new(Cut::default());
    s.open.push(cut.clone());
    let primary = s.primary.clone();
    let latency = s.latency_ms.clone();
    drop(s);
    let (engine_side, ours) = tokio::io::duplex(LINK_PIPE);
    let ctx = ConnContext {
        peer,
        local,
        tls: false,
        endpoint: Some(REPLICATION_LINK.to_owned()),
        announce: None,
    };
    tokio::spawn(async move { primary.accept_stream(engine_side, ctx).await });
    tokio::spawn(async move {
        let (replica_read, replica_write) = stream.into_split();
        let (primary_read, primary_write) = tokio::io::split(ours);
        tokio::select! {
            () = copy(replica_read, primary_write, None) => {}
            () = copy(primary_read, replica_write, Some(latency)) => {}
            () = cut.cut_off() => {}
        }
    });
}

/// Copies `from` to `to` until either ends; with `latency`, each chunk is delivered that many
/// milliseconds (read when it is due) after it was read.
async fn copy(
    mut from: impl AsyncRead + Unpin + Send + 'static,
    mut to: impl AsyncWrite + Unpin,
    latency: Option<Arc<AtomicU64>>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    while let Some((read_at, chunk)) = rx.recv().await {
        if let Some(l) = &latency {
            let due = read_at + Duration::from_millis(l.load(Ordering::Relaxed));
            tokio::time::sleep_until(due).await;
        }
        if to.write_all(&chunk).await.is_err() {
            break;
        }
    }
    reader.abort();
    let _ = to.shutdown().await;
}

/// A cache's replica: its engine and the link it follows the primary through.
pub struct Replica {
    /// The replica's engine.
    pub engine: Engine,
    /// The link (owned by the runtime).
    pub link: LinkProxy,
}

/// Makes `engine` follow the primary through `link` (loopback only, as the engine requires).
pub fn follow(engine: &Engine, link: &LinkProxy) -> Result<(), String> {
    let addr = link.addr();
    engine
        .replicate_from(&addr.ip().to_string(), addr.port())
        .map(|_| ())
        .map_err(|e| e.to_string())
}
