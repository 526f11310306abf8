//! The client side of a world: [`probe`] does what an application in a network would do — resolve
//! the host name through that network's resolver (never the system resolver), connect from the
//! network's client address with a short timeout, TLS (verifying the host name against the world's
//! CA), AUTH, PING — and records the evidence of every step, with the world's explanations: the DNS
//! chain recomputed with [`redlink_world::resolve()`] on the world model the state file carries, and
//! the endpoint's verdict for that network as the edge put it in force (from the state file).
//!
//! `redlink probe` prints an [`Evidence`]; the scenario checker can call [`probe`] directly.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use redlink_world::{QueryType, resolve};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::state::StateFile;

/// What to probe: a host name (or an address) and port, as a client in `network`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The network the client is in (its resolver and client address are used).
    pub network: String,
    /// A host name (resolved through the network's resolver) or an IPv4 address.
    pub host: String,
    /// The port; `None` = the cache's TLS or plain port (6380/6379, 10000 for managed-redis).
    pub port: Option<u16>,
}

/// How to probe.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Speak TLS (verifying the host name against the world's CA).
    pub tls: bool,
    /// AUTH with this password first.
    pub password: Option<String>,
    /// How long the TCP connect may take (a dropped SYN shows as a timeout after this).
    pub connect_timeout: Duration,
    /// How long each later step (DNS, TLS, a reply) may take.
    pub reply_timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            tls: false,
            password: None,
            connect_timeout: Duration::from_millis(1000),
            reply_timeout: Duration::from_millis(2000),
        }
    }
}

/// How a probe ended: the first step that failed, or `Ok` when PING got PONG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeOutcome {
    /// PING answered PONG.
    Ok,
    /// The name does not exist (NXDOMAIN).
    Nxdomain,
    /// The resolver refused, failed or gave no address.
    DnsError,
    /// Connection refused (ECONNREFUSED).
    Refused,
    /// The connect or a reply timed out (a dropped SYN, a blackhole).
    Timeout,
    /// The connection was reset (ECONNRESET).
    Reset,
    /// The server closed the connection.
    Closed,
    /// The TLS handshake failed (a name not in the certificate, a plain port…).
    TlsError,
    /// `-NOAUTH`: a password is required.
    Noauth,
    /// `-WRONGPASS`: the password is wrong.
    Wrongpass,
    /// Another error reply or failure.
    Error,
    /// The probe cannot be made (an unknown network, an unreadable CA…).
    BadInput,
}

impl ProbeOutcome {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeOutcome::Ok => "ok",
            ProbeOutcome::Nxdomain => "nxdomain",
            ProbeOutcome::DnsError => "dns-error",
            ProbeOutcome::Refused => "refused",
            ProbeOutcome::Timeout => "timeout",
            ProbeOutcome::Reset => "reset",
            ProbeOutcome::Closed => "closed",
            ProbeOutcome::TlsError => "tls-error",
            ProbeOutcome::Noauth => "noauth",
            ProbeOutcome::Wrongpass => "wrongpass",
            ProbeOutcome::Error => "error",
            ProbeOutcome::BadInput => "bad-input",
        }
    }
}

impl std::fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepEvidence {
    /// `dns`, `tcp`, `tls`, `auth` or `ping`.
    pub step: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened, in one line.
    pub summary: String,
    /// The OS error number, if an OS error ended the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// Its symbolic name (`ECONNREFUSED`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_name: Option<String>,
    /// How long the step took.
    pub elapsed_ms: f64,
    /// Details: the DNS answers and the world's explanation of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// The world's verdict for the probed address:port and network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictEvidence {
    /// The endpoint (`public` or a private endpoint's name) and its cache.
    pub endpoint: String,
    /// The cache.
    pub cache: String,
    /// The primitive in force (`route`, `refuse`, `drop`, `reset`, `blackhole`).
    pub verdict: String,
    /// Why.
    pub reason: String,
}

/// Everything a probe saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The network probed from.
    pub network: String,
    /// The host asked for.
    pub host: String,
    /// The port used.
    pub port: u16,
    /// Whether TLS was spoken.
    pub tls: bool,
    /// The network's resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<SocketAddr>,
    /// The source address the client bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<Ipv4Addr>,
    /// The address connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
    /// The steps, in order, up to the first that failed.
    pub steps: Vec<StepEvidence>,
    /// The world's verdict for this network at the address:port, if an endpoint is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictEvidence>,
    /// How it ended.
    pub outcome: ProbeOutcome,
    /// The server's reply to PING, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

impl Evidence {
    /// Whether PING succeeded.
    pub fn ok(&self) -> bool {
        self.outcome == ProbeOutcome::Ok
    }

    /// The evidence as text, one step per line, explanations indented.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "probe {}:{}{} from network {}{}",
            self.host,
            self.port,
            if self.tls { " (TLS)" } else { "" },
            self.network,
            self.source_address
                .map(|a| format!(" (source {a})"))
                .unwrap_or_default()
        );
        for s in &self.steps {
            let mark = if s.ok { "ok  " } else { "FAIL" };
            let errno = s
                .errno_name
                .as_ref()
                .map(|n| format!(" [{n}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {mark} {:<4} {}{errno} ({:.1} ms)",
                s.step, s.summary, s.elapsed_ms
            );
            for d in &s.details {
                let _ = writeln!(out, "         {d}");
            }
        }
        if let Some(v) = &self.verdict {
            let _ = writeln!(
                out,
                "  world: {} of cache {} says {}: {}",
                v.endpoint, v.cache, v.verdict, v.reason
            );
        }
        let _ = write!(out, "outcome: {}", self.outcome);
        out
    }
}

struct Recorder {
    evidence: Evidence,
}

impl Recorder {
    fn step(
        &mut self,
        step: &str,
        ok: bool,
        summary: String,
        started: Instant,
    ) -> &mut StepEvidence {
        self.evidence.steps.push(StepEvidence {
            step: step.to_owned(),
            ok,
            summary,
            errno: None,
            errno_name: None,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            details: Vec::new(),
        });
        let last = self.evidence.steps.len() - 1;
        &mut self.evidence.steps[last]
    }

    fn fail_io(&mut self, step: &str, e: &io::Error, started: Instant) -> ProbeOutcome {
        let outcome = classify(e);
        let s = self.step(step, false, describe_io(e), started);
        s.errno = e.raw_os_error();
        s.errno_name = e.raw_os_error().and_then(errno_name).map(str::to_owned);
        outcome
    }

    fn finish(mut self, outcome: ProbeOutcome) -> Evidence {
        self.evidence.outcome = outcome;
        self.evidence
    }
}

fn classify(e: &io::Error) -> ProbeOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ProbeOutcome::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => ProbeOutcome::Reset,
        io::ErrorKind::TimedOut => ProbeOutcome::Timeout,
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionAborted => ProbeOutcome::Closed,
        _ => ProbeOutcome::Error,
    }
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".to_owned(),
        io::ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
        io::ErrorKind::TimedOut => e.to_string(),
        _ => e.to_string(),
    }
}

/// The symbolic name of common errno values.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc_errno::ECONNREFUSED => "ECONNREFUSED",
        libc_errno::ECONNRESET => "ECONNRESET",
        libc_errno::ETIMEDOUT => "ETIMEDOUT",
        libc_errno::EPIPE => "EPIPE",
        libc_errno::EHOSTUNREACH => "EHOSTUNREACH",
        libc_errno::ENETUNREACH => "ENETUNREACH",
        libc_errno::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc_errno::EADDRINUSE => "EADDRINUSE",
        libc_errno::ECONNABORTED => "ECONNABORTED",
        _ => return None,
    })
}

/// Linux errno values (the probe only names them).
mod libc_errno {
    pub const EPIPE: i32 = 32;
    pub const EADDRINUSE: i32 = 98;
    pub const EADDRNOTAVAIL: i32 = 99;
    pub const ENETUNREACH: i32 = 101;
    pub const ECONNABORTED: i32 = 103;
    pub const ECONNRESET: i32 = 104;
    pub const ETIMEDOUT: i32 = 110;
    pub const ECONNREFUSED: i32 = 111;
    pub const EHOSTUNREACH: i32 = 113;
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

fn timed_out(what: &str, after: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no {what} within {} ms", after.as_millis()),
    )
}

/// Probes `target` in the world `state` describes.
pub async fn probe(state: &StateFile, target: &ProbeTarget, options: &ProbeOptions) -> Evidence {
    let mut rec = Recorder {
        evidence: Evidence {
            network: target.network.clone(),
            host: target.host.clone(),
            port: target.port.unwrap_or(0),
            tls: options.tls,
            resolver: None,
            source_address: None,
            address: None,
            steps: Vec::new(),
            verdict: None,
            outcome: ProbeOutcome::BadInput,
            reply: None,
        },
    };
    let started = Instant::now();
    let Some(network) = state.networks.get(&target.network) else {
        let known: Vec<&str> = state.networks.keys().map(String::as_str).collect();
        rec.step(
            "dns",
            false,
            format!(
                "the world has no network named {} (it has {})",
                target.network,
                known.join(", ")
            ),
            started,
        );
        return rec.finish(ProbeOutcome::BadInput);
    };
    rec.evidence.resolver = Some(network.resolver);
    rec.evidence.source_address = Some(network.client_address);
    let host = target.host.trim_end_matches('.').to_ascii_lowercase();
    let port = target
        .port
        .unwrap_or_else(|| default_port(state, &host, options.tls));
    rec.evidence.port = port;

    // 1. DNS, through the network's own resolver.
    let address = match host.parse::<Ipv4Addr>() {
        Ok(a) => {
            rec.step(
                "dns",
                true,
                format!("{a} is an address: nothing to resolve"),
                started,
            );
            a
        }
        Err(_) => match lookup(
            &mut rec,
            state,
            &target.network,
            network.resolver,
            &host,
            options,
        )
        .await
        {
            Ok(a) => a,
            Err(outcome) => return rec.finish(outcome),
        },
    };
    rec.evidence.address = Some(address);
    rec.evidence.verdict = verdict_evidence(state, &target.network, address, port);

    // 2. TCP, from the network's client address.
    let started = Instant::now();
    let stream = match connect(
        network.client_address,
        SocketAddr::from((address, port)),
        options.connect_timeout,
    )
    .await
    {
        Ok(s) => {
            rec.step(
                "tcp",
                true,
                format!(
                    "connected to {address}:{port} from {}",
                    network.client_address
                ),
                started,
            );
            s
        }
        Err(e) => {
            let outcome = rec.fail_io("tcp", &e, started);
            return rec.finish(outcome);
        }
    };

    // 3. TLS, verifying the host name with the world's CA.
    let mut stream: Box<dyn Stream> = if options.tls {
        let started = Instant::now();
        match tls_handshake(stream, &state.ca, &host, options.reply_timeout).await {
            Ok(s) => {
                rec.step(
                    "tls",
                    true,
                    format!("handshake done; the certificate covers {host}"),
                    started,
                );
                s
            }
            Err(TlsFailure::Io(e)) => {
                let outcome = match classify(&e) {
                    ProbeOutcome::Error => ProbeOutcome::TlsError,
                    other => other,
                };
                rec.fail_io("tls", &e, started);
                return rec.finish(outcome);
            }
            Err(TlsFailure::Setup(m)) => {
                rec.step("tls", false, m, started);
                return rec.finish(ProbeOutcome::BadInput);
            }
        }
    } else {
        Box::new(stream)
    };

    // 4. AUTH.
    if let Some(password) = &options.password {
        let started = Instant::now();
        match request(&mut stream, &["AUTH", password], options.reply_timeout).await {
            Ok(reply) if reply == "+OK" => {
                rec.step("auth", true, "+OK".to_owned(), started);
            }
            Ok(reply) => {
                let outcome = error_outcome(&reply);
                rec.step("auth", false, reply, started);
                return rec.finish(outcome);
            }
            Err(e) => {
                let outcome = rec.fail_io("auth", &e, started);
                return rec.finish(outcome);
            }
        }
    }

    // 5. PING.
    let started = Instant::now();
    match request(&mut stream, &["PING"], options.reply_timeout).await {
        Ok(reply) if reply == "+PONG" => {
            rec.step("ping", true, "+PONG".to_owned(), started);
            rec.evidence.reply = Some(reply);
            rec.finish(ProbeOutcome::Ok)
        }
        Ok(reply) => {
            let outcome = error_outcome(&reply);
            rec.step("ping", false, reply.clone(), started);
            rec.evidence.reply = Some(reply);
            rec.finish(outcome)
        }
        Err(e) => {
            let outcome = rec.fail_io("ping", &e, started);
            rec.finish(outcome)
        }
    }
}

/// Reads the state file at `path` and probes `target`.
pub async fn probe_state_file(
    path: &Path,
    target: &ProbeTarget,
    options: &ProbeOptions,
) -> io::Result<Evidence> {
    let state = StateFile::read(path)?;
    Ok(probe(&state, target, options).await)
}

fn error_outcome(reply: &str) -> ProbeOutcome {
    if reply.starts_with("-NOAUTH") {
        ProbeOutcome::Noauth
    } else if reply.starts_with("-WRONGPASS") {
        ProbeOutcome::Wrongpass
    } else {
        ProbeOutcome::Error
    }
}

/// The default port for `host`: its cache's TLS or plain port, else 6380/6379.
fn default_port(state: &StateFile, host: &str, tls: bool) -> u16 {
    let cache = state
        .world
        .as_ref()
        .and_then(|w| w.cache_by_host_name(host).cloned());
    match cache {
        Some(c) if tls => c.ports.tls.unwrap_or(c.flavour.default_tls_port()),
        Some(c) => c.ports.plain.unwrap_or(c.flavour.default_port()),
        None if tls => 6380,
        None => 6379,
    }
}

async fn lookup(
    rec: &mut Recorder,
    state: &StateFile,
    network: &str,
    resolver: SocketAddr,
    host: &str,
    options: &ProbeOptions,
) -> Result<Ipv4Addr, ProbeOutcome> {
    let started = Instant::now();
    let explanation: Vec<String> = state
        .world
        .as_ref()
        .map(|w| {
            resolve(w, network, host, QueryType::A)
                .explanation_lines()
                .into_iter()
                .map(|l| format!("why: {l}"))
                .collect()
        })
        .unwrap_or_default();
    let mut conn = ConnectionConfig::udp();
    conn.port = resolver.port();
    let ns = NameServerConfig::new(resolver.ip(), true, vec![conn]);
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    let opts = builder.options_mut();
    opts.cache_size = 0;
    opts.attempts = 2;
    opts.timeout = options.reply_timeout;
    opts.use_hosts_file = ResolveHosts::Never;
    let resolver_client = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            rec.step(
                "dns",
                false,
                format!("cannot make a resolver: {e}"),
                started,
            );
            return Err(ProbeOutcome::BadInput);
        }
    };
    let fqdn = format!("{host}.");
    match resolver_client.lookup(fqdn.as_str(), RecordType::A).await {
        Ok(l) => {
            let mut lines = Vec::new();
            let mut last = None;
            for r in l.answers() {
                match &r.data {
                    RData::A(a) => {
                        lines.push(format!("{} A {}", r.name, a.0));
                        last = Some(a.0);
                    }
                    RData::CNAME(c) => lines.push(format!("{} CNAME {}", r.name, c.0)),
                    other => lines.push(format!("{} {other}", r.name)),
                }
            }
            let Some(address) = last else {
                let s = rec.step(
                    "dns",
                    false,
                    format!("resolver {resolver} gave no address for {host}"),
                    started,
                );
                s.details = lines.into_iter().chain(explanation).collect();
                return Err(ProbeOutcome::DnsError);
            };
            let s = rec.step(
                "dns",
                true,
                format!("resolver {resolver} (network {network}) answered {address}"),
                started,
            );
            s.details = lines.into_iter().chain(explanation).collect();
            Ok(address)
        }
        Err(e) if e.is_nx_domain() => {
            let s = rec.step(
                "dns",
                false,
                format!("resolver {resolver} (network {network}) answered NXDOMAIN for {host}"),
                started,
            );
            s.details = explanation;
            Err(ProbeOutcome::Nxdomain)
        }
        Err(e) => {
            let s = rec.step(
                "dns",
                false,
                format!("resolver {resolver} (network {network}): {e}"),
                started,
            );
            s.details = explanation;
            Err(ProbeOutcome::DnsError)
        }
    }
}

fn verdict_evidence(
    state: &StateFile,
    network: &str,
    address: Ipv4Addr,
    port: u16,
) -> Option<VerdictEvidence> {
    state.caches.iter().find_map(|(cache, cs)| {
        let e = cs.endpoints.iter().find(|e| e.address == address)?;
        let evidence = |verdict: String, reason: String| VerdictEvidence {
            endpoint: e.name.clone(),
            cache: cache.clone(),
            verdict,
            reason,
        };
        let Some(pv) = e.verdicts.get(&port.to_string()) else {
            return Some(evidence(
                "refuse".to_owned(),
                format!(
                    "{} of cache {cache} does not stand for port {port} (ports {:?}), so the connection was refused",
                    e.name, e.ports
                ),
            ));
        };
        Some(match pv.networks.get(network) {
            Some(n) => evidence(n.verdict.to_string(), n.reason.clone()),
            None => evidence(pv.verdict.to_string(), pv.reason.clone()),
        })
    })
}

async fn connect(source: Ipv4Addr, to: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    match tokio::time::timeout(timeout, socket.connect(to)).await {
        Ok(r) => {
            let s = r?;
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Err(_) => Err(timed_out("answer to the SYN (connect)", timeout)),
    }
}

enum TlsFailure {
    Io(io::Error),
    Setup(String),
}

async fn tls_handshake(
    stream: TcpStream,
    ca: &Path,
    host: &str,
    timeout: Duration,
) -> Result<Box<dyn Stream>, TlsFailure> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca).map_err(|e| {
        TlsFailure::Setup(format!("cannot read the world's CA {}: {e}", ca.display()))
    })?;
    for cert in certs {
        let cert = cert.map_err(|e| TlsFailure::Setup(format!("bad CA {}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| TlsFailure::Setup(format!("bad CA {}: {e}", ca.display())))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsFailure::Setup(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = match host.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(host.to_owned())
            .map_err(|e| TlsFailure::Setup(format!("{host} is not a valid TLS name: {e}")))?,
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Ok(Ok(s)) => Ok(Box::new(s)),
        Ok(Err(e)) => Err(TlsFailure::Io(e)),
        Err(_) => Err(TlsFailure::Io(timed_out("TLS handshake", timeout))),
    }
}

/// Sends a command and reads a one-line reply (`+…`, `-…`, `:…`; a bulk reply's header).
async fn request(
    stream: &mut Box<dyn Stream>,
    args: &[&str],
    timeout: Duration,
) -> io::Result<String> {
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        let _ = write!(cmd, "${}\r\n{a}\r\n", a.len());
    }
    let exchange = async {
        stream.write_all(cmd.as_bytes()).await?;
        stream.flush().await?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let n = Pin::new(&mut *stream).read(&mut byte).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
            if line.len() > 64 * 1024 {
                break;
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(timed_out("reply", timeout)),
    }
}
