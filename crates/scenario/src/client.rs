//! The checker's client side, step by step with typed outcomes: ask a network's simulated resolver
//! (hickory, pointed at that resolver only: never the system's), connect from a given source address
//! with a short timeout, do TLS verifying the host name against the world's CA, then send commands
//! and read replies (a reset only shows at the first read). Every step leaves a line of evidence.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

use crate::resp::{self, Reply};

/// Timeouts of the checker's clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// How long a TCP connect may take before it counts as dropped.
    pub connect: Duration,
    /// How long to wait for a reply (and for a TLS handshake).
    pub reply: Duration,
    /// How long to wait for a DNS answer.
    pub dns: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_millis(300),
            reply: Duration::from_millis(1000),
            dns: Duration::from_millis(2000),
        }
    }
}

/// What a DNS lookup through a simulated resolver gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The chain's A address (first), with the records as text.
    Address(Ipv4Addr, Vec<String>),
    /// NXDOMAIN (records of the chain before it, as text).
    NxDomain(Vec<String>),
    /// REFUSED.
    Refused,
    /// No A record (NODATA).
    NoData(Vec<String>),
    /// No answer (timeout, network error).
    Failed(String),
}

impl Lookup {
    /// One line: "A 127.10.1.4 (x CNAME y; y A 127.10.1.4)".
    pub fn describe(&self) -> String {
        let chain = |r: &[String]| {
            if r.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.join("; "))
            }
        };
        match self {
            Lookup::Address(a, r) => format!("{a}{}", chain(r)),
            Lookup::NxDomain(r) => format!("NXDOMAIN{}", chain(r)),
            Lookup::Refused => "REFUSED".to_owned(),
            Lookup::NoData(r) => format!("no A record (NODATA){}", chain(r)),
            Lookup::Failed(e) => format!("no answer: {e}"),
        }
    }
}

fn resolver(server: SocketAddr, timeout: Duration) -> Option<Resolver<TokioRuntimeProvider>> {
    let mut conn = ConnectionConfig::udp();
    conn.port = server.port();
    let ns = NameServerConfig::new(server.ip(), true, vec![conn]);
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    let opts = builder.options_mut();
    opts.cache_size = 0;
    opts.attempts = 2;
    opts.timeout = timeout;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.ndots = 0;
    builder.build().ok()
}

/// Asks the resolver at `server` for the A records of `name` (following a CNAME whose target has no
/// answer in the same reply, to tell NXDOMAIN from NODATA).
pub async fn lookup(server: SocketAddr, name: &str, timeout: Duration) -> Lookup {
    let Some(r) = resolver(server, timeout) else {
        return Lookup::Failed("cannot build a resolver".to_owned());
    };
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let mut records = Vec::new();
    let mut qname = fqdn;
    for _ in 0..8 {
        match r.lookup(qname.as_str(), RecordType::A).await {
            Ok(l) => {
                let mut last_cname = None;
                let mut address = None;
                for rec in l.answers() {
                    match &rec.data {
                        RData::A(a) => {
                            records.push(format!("{} A {}", rec.name, a.0));
                            address.get_or_insert(a.0);
                        }
                        RData::CNAME(c) => {
                            records.push(format!("{} CNAME {}", rec.name, c.0));
                            last_cname = Some(c.0.to_string());
                        }
                        other => records.push(format!("{} {}", rec.name, other.record_type())),
                    }
                }
                match (address, last_cname) {
                    (Some(a), _) => return Lookup::Address(a, records),
                    (None, Some(target)) if target != qname => qname = target,
                    _ => return Lookup::NoData(records),
                }
            }
            Err(e) if e.is_nx_domain() => return Lookup::NxDomain(records),
            Err(e) if e.is_no_records_found() => return Lookup::NoData(records),
            Err(e) => {
                let text = e.to_string();
                if text.contains(&ResponseCode::Refused.to_string()) {
                    return Lookup::Refused;
                }
                return Lookup::Failed(text);
            }
        }
    }
    Lookup::Failed("the CNAME chain is too long".to_owned())
}

/// How a connection attempt went wrong (or right).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// ECONNREFUSED.
    Refused,
    /// The connect did not complete within the timeout.
    Timeout,
    /// ECONNRESET.
    Reset,
    /// The TLS handshake failed, or the other side speaks TLS to a plain client.
    Tls(String),
    /// The other side closed without answering.
    Closed,
    /// Connected, but no reply in time.
    NoReply,
    /// Anything else (EADDRNOTAVAIL, bytes that are not RESP…).
    Other(String),
}

impl Failure {
    fn of_io(e: &io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Failure::Refused,
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Failure::Reset,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => Failure::Closed,
            io::ErrorKind::TimedOut => Failure::Timeout,
            _ => Failure::Other(e.to_string()),
        }
    }

    /// The expectation vocabulary's word for it.
    pub fn word(&self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::Timeout => "timeout",
            Failure::Reset => "reset",
            Failure::Tls(_) => "tls-error",
            Failure::Closed => "closed",
            Failure::NoReply => "no-reply",
            Failure::Other(_) => "error",
        }
    }
}

/// A plain or TLS stream.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
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

/// A TLS client configuration trusting only `ca_pem`.
pub fn tls_connector(ca_pem: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| e.to_string())?;
        roots.add(cert).map_err(|e| e.to_string())?;
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

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Dial {
    /// The address to bind (the network's client address).
    pub source: Ipv4Addr,
    /// The destination.
    pub address: SocketAddrV4,
    /// The host name to verify, when speaking TLS.
    pub tls_name: Option<String>,
}

/// Connects as `dial` says, leaving evidence lines; the stream, or how it failed.
pub async fn connect(
    dial: &Dial,
    tls: &tokio_rustls::TlsConnector,
    timeouts: &Timeouts,
    evidence: &mut Vec<String>,
) -> Result<Stream, Failure> {
    let started = Instant::now();
    let socket = TcpSocket::new_v4().map_err(|e| Failure::Other(e.to_string()))?;
    if let Err(e) = socket.bind(SocketAddr::V4(SocketAddrV4::new(dial.source, 0))) {
        evidence.push(format!("tcp: cannot bind source {}: {e}", dial.source));
        return Err(Failure::Other(format!("cannot bind {}: {e}", dial.source)));
    }
    let tcp =
        match tokio::time::timeout(timeouts.connect, socket.connect(dial.address.into())).await {
            Err(_) => {
                evidence.push(format!(
                    "tcp: {} → {}: no answer to the SYN within {:?} (timeout)",
                    dial.source, dial.address, timeouts.connect
                ));
                return Err(Failure::Timeout);
            }
            Ok(Err(e)) => {
                let f = Failure::of_io(&e);
                evidence.push(format!(
                    "tcp: {} → {}: {e} after {:.1} ms ({})",
                    dial.source,
                    dial.address,
                    ms(started),
                    f.word()
                ));
                return Err(f);
            }
            Ok(Ok(s)) => s,
        };
    let _ = tcp.set_nodelay(true);
    evidence.push(format!(
        "tcp: {} → {}: connected in {:.1} ms",
        dial.source,
        dial.address,
        ms(started)
    ));
    let Some(name) = &dial.tls_name else {
        return Ok(Stream::Plain(tcp));
    };
    let server_name = ServerName::try_from(name.clone())
        .map_err(|e| Failure::Other(format!("{name:?} is not a TLS server name: {e}")))?;
    let started = Instant::now();
    match tokio::time::timeout(timeouts.reply, tls.connect(server_name, tcp)).await {
        Err(_) => {
            evidence.push(format!(
                "tls: no handshake answer within {:?} (no-reply)",
                timeouts.reply
            ));
            Err(Failure::NoReply)
        }
        Ok(Err(e)) => {
            let f = match e.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof => Failure::of_io(&e),
                _ => Failure::Tls(e.to_string()),
            };
            evidence.push(format!(
                "tls: handshake verifying {name} failed: {e} ({})",
                f.word()
            ));
            Err(f)
        }
        Ok(Ok(s)) => {
            let version = s
                .get_ref()
                .1
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            evidence.push(format!(
                "tls: handshake verifying {name} ok ({version}, {:.1} ms)",
                ms(started)
            ));
            Ok(Stream::Tls(Box::new(s)))
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Sends `args` and reads one reply, leaving an evidence line.
pub async fn request(
    stream: &mut Stream,
    args: &[String],
    timeouts: &Timeouts,
    evidence: &mut Vec<String>,
) -> Result<Reply, Failure> {
    let shown = if args.first().is_some_and(|a| a.eq_ignore_ascii_case("AUTH")) {
        "AUTH ***".to_owned()
    } else {
        args.join(" ")
    };
    if let Err(e) = stream.write_all(&resp::encode(args)).await {
        let f = Failure::of_io(&e);
        evidence.push(format!("resp: {shown}: write failed: {e} ({})", f.word()));
        return Err(f);
    }
    let result = tokio::time::timeout(timeouts.reply, read_reply(stream)).await;
    match result {
        Err(_) => {
            evidence.push(format!(
                "resp: {shown}: no reply within {:?} (no-reply)",
                timeouts.reply
            ));
            Err(Failure::NoReply)
        }
        Ok(Err(f)) => {
            let detail = match &f {
                Failure::Closed => "the server closed the connection without a reply".to_owned(),
                Failure::Reset => "connection reset by peer".to_owned(),
                Failure::Tls(e) | Failure::Other(e) => e.clone(),
                other => other.word().to_owned(),
            };
            evidence.push(format!("resp: {shown}: {detail} ({})", f.word()));
            Err(f)
        }
        Ok(Ok(reply)) => {
            let text = reply.to_string();
            let text = if reply.error().is_some() {
                format!("-{text}")
            } else {
                text
            };
            evidence.push(format!("resp: {shown} → {text}"));
            Ok(reply)
        }
    }
}

async fn read_reply(stream: &mut Stream) -> Result<Reply, Failure> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 4096];
    loop {
        match resp::decode(&buf) {
            Ok(Some((reply, _))) => return Ok(reply),
            Ok(None) => {}
            Err(resp::NotResp) => {
                // A TLS record (0x15 alert, 0x16 handshake) answering a plain-text client.
                if matches!(buf.first(), Some(0x15 | 0x16)) && buf.get(1) == Some(&0x03) {
                    return Err(Failure::Tls(
                        "the server answered with a TLS record: this port speaks TLS".to_owned(),
                    ));
                }
                return Err(Failure::Other(format!(
                    "the reply is not RESP: {:?}",
                    String::from_utf8_lossy(&buf[..buf.len().min(40)])
                )));
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) => {
                if buf.is_empty() {
                    return Err(Failure::Closed);
                }
                return Err(Failure::Other("the reply was cut short".to_owned()));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return Err(match e.kind() {
                    io::ErrorKind::InvalidData => Failure::Tls(e.to_string()),
                    _ => Failure::of_io(&e),
                });
            }
        }
    }
}
