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
    /// Proxies `client` to the backend (doing the endpoint's TLS first when `tls_port`) until either
    /// side closes. A backend that does not answer ends the client's connection.
    pub async fn proxy<S>(&self, client: S, tls_port: bool)
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
                Ok(tls) => self.pipe(tls).await,
                Err(e) => debug!("TLS handshake at the endpoint failed: {e}"),
            }
        } else {
            self.pipe(client).await;
        }
    }

    async fn pipe<S>(&self, mut client: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut upstream = match connect(self.address).await {
            Ok(s) => s,
            Err(e) => {
                debug!(backend = %self.address, "backend unreachable: {e}");
                return;
            }
        };
        let _ =
            copy_bidirectional_with_sizes(&mut client, &mut upstream, PROXY_BUFFER, PROXY_BUFFER)
                .await;
    }
}

/// Connects to `address` with a bounded wait, `TCP_NODELAY` on.
pub async fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = s.set_nodelay(true);
    Ok(s)
}
