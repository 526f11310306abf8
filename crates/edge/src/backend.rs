//! Where a routed connection goes when its cache has a real Redis behind it (issue 22): instead of
//! the in-process hand-off to the embedded engine, the edge proxies the stream to the backend's
//! loopback address. Verdicts, per-source rules, toxics and resets-on-change apply before, exactly
//! as for the engine; TLS ports terminate TLS here with the world's certificate for the cache.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, copy_bidirectional_with_sizes};
use tokio::net::TcpStream;
use tracing::debug;

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
}

impl BackendLink {
    /// Proxies `client` to `upstream` (a connection to the backend, see [`connect`]), doing the
    /// endpoint's TLS first when `tls_port`, until either side closes.
    pub async fn proxy<S>(&self, client: S, upstream: TcpStream, tls_port: bool)
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
                Ok(tls) => pipe(tls, upstream).await,
                Err(e) => debug!("TLS handshake at the endpoint failed: {e}"),
            }
        } else {
            pipe(client, upstream).await;
        }
    }
}

async fn pipe<S>(mut client: S, mut upstream: TcpStream)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let _ =
        copy_bidirectional_with_sizes(&mut client, &mut upstream, PROXY_BUFFER, PROXY_BUFFER).await;
}

/// Connects to `address` with a bounded wait, `TCP_NODELAY` on.
pub async fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = s.set_nodelay(true);
    Ok(s)
}
