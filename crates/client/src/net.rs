//! A connection as a client in a simulated network makes it: a TCP socket bound to the network's
//! client address (so the edge sees the right source and applies that network's verdict), a connect
//! with a timeout (a dropped SYN shows as `timeout`), TLS verifying the host name against the
//! world's CA only, then RESP requests and replies (a reset only shows at the first read). Every
//! failure is a [`ClientError`] named by [`Failure::of_io`] or by the timer that fired.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

use crate::outcome::{ClientError, Failure};
use crate::resp::{self, ReplyReader, Value};

/// A plain or TLS stream.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// The TLS version negotiated (`TLSv1_3`…), for TLS streams.
    pub fn tls_version(&self) -> Option<String> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(s) => s.get_ref().1.protocol_version().map(|v| format!("{v:?}")),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A TCP socket bound to `source` (the network's client address), any port.
pub fn bind(source: Ipv4Addr) -> Result<TcpSocket, ClientError> {
    let socket = TcpSocket::new_v4().map_err(|e| ClientError::io(&e))?;
    socket
        .bind(SocketAddr::from((source, 0)))
        .map_err(|e| ClientError::io(&e))?;
    Ok(socket)
}

/// Connects `socket` to `to` within `timeout` (no answer to the SYN in time: [`Failure::Timeout`]).
pub async fn connect(
    socket: TcpSocket,
    to: SocketAddr,
    timeout: Duration,
) -> Result<TcpStream, ClientError> {
    match tokio::time::timeout(timeout, socket.connect(to)).await {
        Err(_) => Err(ClientError::new(
            Failure::Timeout,
            format!(
                "no answer to the SYN (connect) within {} ms",
                timeout.as_millis()
            ),
        )),
        Ok(Err(e)) => Err(ClientError::io(&e)),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

/// A TLS client configuration trusting only the certificates in `ca_pem` (the world's CA).
pub fn tls_connector(ca_pem: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| e.to_string())?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("no certificate in the CA file".to_owned());
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The name to verify the server's certificate against: a host name, or an IP address.
pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    match name.parse::<IpAddr>() {
        Ok(ip) => Ok(ServerName::IpAddress(ip.into())),
        Err(_) => ServerName::try_from(name.to_owned()).map_err(|e| e.to_string()),
    }
}

/// The TLS handshake over `tcp`, verifying `name`, within `timeout` (no answer in time:
/// [`Failure::NoReply`]). A connection that is reset or closed during the handshake keeps that
/// name; any other failure is [`Failure::Tls`].
pub async fn tls_handshake(
    tls: &tokio_rustls::TlsConnector,
    tcp: TcpStream,
    name: ServerName<'static>,
    timeout: Duration,
) -> Result<Stream, ClientError> {
    match tokio::time::timeout(timeout, tls.connect(name, tcp)).await {
        Err(_) => Err(ClientError::new(
            Failure::NoReply,
            format!("no TLS handshake within {} ms", timeout.as_millis()),
        )),
        Ok(Err(e)) => {
            let mut err = ClientError::io(&e);
            if err.failure == Failure::Error {
                err.failure = Failure::Tls;
            }
            Err(err)
        }
        Ok(Ok(s)) => Ok(Stream::Tls(Box::new(s))),
    }
}

/// Sends one command.
pub async fn send<S: AsRef<[u8]>>(
    stream: &mut (impl AsyncWrite + Unpin),
    args: &[S],
) -> Result<(), ClientError> {
    let bytes = resp::encode(args);
    stream
        .write_all(&bytes)
        .await
        .map_err(|e| ClientError::io(&e))?;
    stream.flush().await.map_err(|e| ClientError::io(&e))
}

/// Reads one reply within `timeout` (none in time: [`Failure::NoReply`]; the server closed the
/// connection before any byte: [`Failure::Closed`]; a TLS record to a plain-text client:
/// [`Failure::Tls`]).
pub async fn read_reply(
    stream: &mut (impl AsyncRead + Unpin),
    timeout: Duration,
) -> Result<Value, ClientError> {
    match tokio::time::timeout(timeout, read_one(stream)).await {
        Err(_) => Err(ClientError::new(
            Failure::NoReply,
            format!("no reply within {} ms", timeout.as_millis()),
        )),
        Ok(r) => r,
    }
}

/// [`send`], then [`read_reply`].
pub async fn request<S: AsRef<[u8]>>(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    args: &[S],
    timeout: Duration,
) -> Result<Value, ClientError> {
    send(stream, args).await?;
    read_reply(stream, timeout).await
}

async fn read_one(stream: &mut (impl AsyncRead + Unpin)) -> Result<Value, ClientError> {
    let mut reader = ReplyReader::new();
    let mut chunk = [0u8; 4096];
    loop {
        match reader.next_reply() {
            Ok(Some(reply)) => return Ok(reply),
            Ok(None) => {}
            Err(e) => {
                let buf = reader.pending();
                // A TLS record (0x15 alert, 0x16 handshake) answering a plain-text client.
                if matches!(buf.first(), Some(0x15 | 0x16)) && buf.get(1) == Some(&0x03) {
                    return Err(ClientError::new(
                        Failure::Tls,
                        "the server answered with a TLS record: this port speaks TLS",
                    ));
                }
                return Err(ClientError::new(
                    Failure::Error,
                    format!(
                        "the reply is not RESP ({e}): {:?}",
                        String::from_utf8_lossy(&buf[..buf.len().min(40)])
                    ),
                ));
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) if reader.pending().is_empty() => {
                return Err(ClientError::new(
                    Failure::Closed,
                    "the server closed the connection",
                ));
            }
            Ok(0) => {
                return Err(ClientError::new(Failure::Error, "the reply was cut short"));
            }
            Ok(n) => reader.feed(&chunk[..n]),
            // rustls reports a bad record or an alert as invalid data.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let mut err = ClientError::io(&e);
                err.failure = Failure::Tls;
                return Err(err);
            }
            Err(e) => return Err(ClientError::io(&e)),
        }
    }
}
