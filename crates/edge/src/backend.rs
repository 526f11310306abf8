//! Where a routed connection goes when its cache has a real Redis behind it (issue 22): instead of
//! the in-process hand-off to the embedded engine, the edge proxies the stream to the backend's
//! loopback address. Verdicts, per-source rules, toxics and resets-on-change apply before, exactly
//! as for the engine; TLS ports terminate TLS here with the world's certificate for the cache.
//! The hop is TCP (plain or TLS) to the backend's address, or the private Unix socket of a
//! backend redlink started (no TCP/IP on that hop: cheaper for the proxy and the backend alike).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, copy_bidirectional_with_sizes};
use tokio::net::{TcpStream, UnixStream};
use tracing::debug;

use crate::backend_cluster::ClusterRoute;

/// Buffer size of each direction of the proxy (large, so a pipeline moves in few syscalls).
pub const PROXY_BUFFER: usize = 64 * 1024;

/// How long the edge waits for the backend to accept a proxied connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A cache's backend as the edge sees it: where to connect and the certificate TLS ports present.
#[derive(Clone, Debug)]
pub struct BackendLink {
    /// The backend's loopback address.
    pub address: SocketAddr,
    /// The server configuration of the cache's TLS ports (the world's certificate).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS on the hop to the backend (`tls = true` in the world), if any.
    pub upstream_tls: Option<UpstreamTls>,
    /// A cluster backend: the node this port leads to (instead of `address`) and the names
    /// replies must use; its connections go through the rewriting proxy (`backend_resp`).
    pub cluster: Option<ClusterRoute>,
    /// The private Unix socket of a backend redlink started without TLS: the hop of every
    /// proxied connection (the TCP address stays for health checks and users).
    pub socket: Option<PathBuf>,
}

/// An open hop to a backend: TCP (plain or TLS), or its private Unix socket.
#[derive(Debug)]
pub enum Hop {
    /// TCP to the backend's address (or the cluster node's), plain or TLS.
    Stream(BackendStream),
    /// The backend's private Unix socket ([`BackendLink::socket`]).
    Unix(UnixStream),
}

/// How the edge speaks TLS to a backend: the client configuration (the roots it trusts) and the
/// name it verifies and sends as SNI.
#[derive(Clone, Debug)]
pub struct UpstreamTls {
    /// Roots (a CA file the world names, or the system's) and protocol versions.
    pub config: Arc<rustls::ClientConfig>,
    /// The name the backend's certificate must cover.
    pub server_name: rustls::pki_types::ServerName<'static>,
}

/// A connection to a backend: plain TCP, or TLS over it — the client crate's one plain-or-TLS
/// stream (the hop to a backend is client code).
pub use redlink_client::Stream as BackendStream;

impl BackendLink {
    /// Connects to the backend (its Unix socket when it has one, else TCP, TLS when the world
    /// says so), within a bounded wait.
    pub async fn connect(&self) -> io::Result<Hop> {
        if self.cluster.is_none()
            && self.upstream_tls.is_none()
            && let Some(path) = &self.socket
        {
            return tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
                .map(Hop::Unix)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())));
        }
        connect_to(self.target()?, self.upstream_tls.as_ref())
            .await
            .map(Hop::Stream)
    }

    /// Where this port's connections go: the backend, or the cluster node the port leads to.
    pub fn target(&self) -> io::Result<SocketAddr> {
        match &self.cluster {
            None => Ok(self.address),
            Some(route) => route.backend.address(route.node).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    match route.node {
                        Some(n) => format!("node {n} of the cluster backend is not known"),
                        None => "no node of the cluster backend is known".to_owned(),
                    },
                )
            }),
        }
    }

    /// Proxies `client` to `upstream` (a connection to the backend, see [`BackendLink::connect`]),
    /// doing the endpoint's TLS first when `tls_port`, until either side closes.
    pub async fn proxy<S>(&self, client: S, upstream: Hop, tls_port: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        if tls_port {
            let Some(config) = &self.tls else {
                return;
            };
            match tokio_rustls::TlsAcceptor::from(config.clone())
                .accept(client)
                .await
            {
                Ok(tls) => self.pipe(tls, upstream, true).await,
                Err(e) => debug!("TLS handshake at the endpoint failed: {e}"),
            }
        } else {
            self.pipe(client, upstream, false).await;
        }
    }

    async fn pipe<S>(&self, client: S, upstream: Hop, tls: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        match (&self.cluster, upstream) {
            (Some(route), Hop::Stream(upstream)) => {
                crate::backend_resp::pipe(client, upstream, route.clone(), tls).await;
            }
            // A cluster backend's hop is never a Unix socket (`connect` goes by TCP).
            (Some(_), Hop::Unix(_)) => {}
            (None, Hop::Stream(upstream)) => pipe(client, upstream).await,
            (None, Hop::Unix(upstream)) => pipe(client, upstream).await,
        }
    }
}

async fn pipe<S, U>(mut client: S, mut upstream: U)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    U: AsyncRead + AsyncWrite + Unpin + Send,
{
    let _ =
        copy_bidirectional_with_sizes(&mut client, &mut upstream, PROXY_BUFFER, PROXY_BUFFER).await;
}

/// Connects to a backend at `address`, doing TLS with `tls` when given (the handshake within the
/// same bounded wait). A failed handshake reads "TLS handshake with the backend failed: …".
pub async fn connect_to(
    address: SocketAddr,
    tls: Option<&UpstreamTls>,
) -> io::Result<BackendStream> {
    let tcp = connect(address).await?;
    let Some(tls) = tls else {
        return Ok(BackendStream::Plain(tcp));
    };
    let handshake =
        tokio_rustls::TlsConnector::from(tls.config.clone()).connect(tls.server_name.clone(), tcp);
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "TLS handshake with the backend timed out",
        )),
        Ok(Err(e)) => Err(io::Error::new(
            e.kind(),
            format!("TLS handshake with the backend failed: {e}"),
        )),
        Ok(Ok(s)) => Ok(BackendStream::Tls(Box::new(s))),
    }
}

/// The runtimes that carry plain, toxic-free hops to backends (see [`proxy_runtime`]).
static PROXY_RUNTIMES: OnceLock<Vec<tokio::runtime::Handle>> = OnceLock::new();

/// Which of [`PROXY_RUNTIMES`] takes the next connection (round robin).
static NEXT_PROXY_RUNTIME: AtomicUsize = AtomicUsize::new(0);

/// A single-threaded runtime on a thread of its own (one per two cores, at most 4), for the
/// proxy's byte pumps: one thread waiting in `epoll` for its share of the proxied connections
/// handles each readiness batch without waking other workers or having tasks stolen (the
/// multi-threaded runtime's futex wake-ups and work stealing cost more CPU than the copies
/// themselves at small requests, BENCHMARKS.md). Half the cores: the clients and the backend
/// (redis-server is single-threaded) need the rest, and on 2 cores one pump thread spent 15% less
/// CPU per request than two (larger readiness batches, fewer context switches) at the same
/// throughput. Connections are spread round robin. `None` when no such thread can be started
/// (the caller then pumps on its own runtime).
pub fn proxy_runtime() -> Option<tokio::runtime::Handle> {
    let runtimes = PROXY_RUNTIMES.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 4));
        (0..threads)
            .filter_map(|i| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                let handle = runtime.handle().clone();
                std::thread::Builder::new()
                    .name(format!("redlink-proxy-{i}"))
                    .spawn(move || runtime.block_on(std::future::pending::<()>()))
                    .ok()?;
                Some(handle)
            })
            .collect()
    });
    if runtimes.is_empty() {
        return None;
    }
    let i = NEXT_PROXY_RUNTIME.fetch_add(1, Ordering::Relaxed) % runtimes.len();
    runtimes.get(i).cloned()
}

/// Connects to `address` with a bounded wait, `TCP_NODELAY` on.
pub async fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = s.set_nodelay(true);
    Ok(s)
}
