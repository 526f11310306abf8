//! The client side of a world: [`probe`] does what an application in a network would do — resolve
//! the host name through that network's resolver (never the system resolver), connect from the
//! network's client address with a short timeout, TLS (verifying the host name against the world's
//! CA), AUTH, PING — and records the evidence of every step, with the world's explanations: the DNS
//! chain recomputed with [`redlink_world::resolve()`] on the world model the state file carries, and
//! the endpoint's verdict for that network as the edge put it in force (from the state file).
//!
//! `redlink probe` prints an [`Evidence`]. The client steps themselves (resolver, source-bound
//! connect, TLS, RESP) and the names of their failures are `redlink_client`'s, shared with the
//! scenario checker, so a probe and a check name the same event the same way.

use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use redlink_client::net::{self, Stream};
use redlink_client::{ClientError, Failure, Lookup, Value};
use redlink_world::{QueryType, resolve};
use serde::{Deserialize, Serialize};

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
    /// The connect timed out (a dropped SYN).
    Timeout,
    /// The connection was reset (ECONNRESET, EPIPE, ECONNABORTED: see `redlink_client::outcome`).
    Reset,
    /// The server closed the connection (an orderly close, no reply).
    Closed,
    /// Connected, but no TLS handshake answer or no reply in time (a blackhole).
    NoReply,
    /// No route to the address (EHOSTUNREACH, ENETUNREACH).
    Unreachable,
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
            ProbeOutcome::NoReply => "no-reply",
            ProbeOutcome::Unreachable => "unreachable",
            ProbeOutcome::TlsError => "tls-error",
            ProbeOutcome::Noauth => "noauth",
            ProbeOutcome::Wrongpass => "wrongpass",
            ProbeOutcome::Error => "error",
            ProbeOutcome::BadInput => "bad-input",
        }
    }
}

/// The client's name for a failure is the probe's outcome: one vocabulary with the checker.
impl From<Failure> for ProbeOutcome {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused => ProbeOutcome::Refused,
            Failure::Timeout => ProbeOutcome::Timeout,
            Failure::Reset => ProbeOutcome::Reset,
            Failure::Closed => ProbeOutcome::Closed,
            Failure::Unreachable => ProbeOutcome::Unreachable,
            Failure::NoReply => ProbeOutcome::NoReply,
            Failure::Tls => ProbeOutcome::TlsError,
            Failure::Error => ProbeOutcome::Error,
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
    /// The node's role as ROLE answered (`master`, `slave`), when PING succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
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
        match &self.verdict {
            Some(v) if v.endpoint.is_empty() => {
                let _ = writeln!(out, "  world: {}: {}", v.verdict, v.reason);
            }
            Some(v) => {
                let _ = writeln!(
                    out,
                    "  world: {} of cache {} says {}: {}",
                    v.endpoint, v.cache, v.verdict, v.reason
                );
            }
            None => {}
        }
        let _ = write!(out, "outcome: {}", self.outcome);
        out
    }
}

/// The symbolic name of common errno values (`redlink_client`'s, re-exported).
pub use redlink_client::errno_name;

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

    /// Records a failed client step; its outcome is the client's name for the failure.
    fn fail(&mut self, step: &str, e: &ClientError, started: Instant) -> ProbeOutcome {
        let s = self.step(step, false, describe(e), started);
        s.errno = e.errno;
        s.errno_name = e.errno_name().map(str::to_owned);
        ProbeOutcome::from(e.failure)
    }

    fn finish(mut self, outcome: ProbeOutcome) -> Evidence {
        self.evidence.outcome = outcome;
        self.evidence
    }
}

/// A failed step in words.
fn describe(e: &ClientError) -> String {
    match e.failure {
        Failure::Refused => "connection refused".to_owned(),
        Failure::Reset if e.errno_name() == Some("ECONNRESET") => {
            "connection reset by peer".to_owned()
        }
        Failure::Closed => "the server closed the connection".to_owned(),
        _ => e.message.clone(),
    }
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
            role: None,
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
    let connected = match net::bind(network.client_address) {
        Ok(socket) => {
            net::connect(
                socket,
                SocketAddr::from((address, port)),
                options.connect_timeout,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let tcp = match connected {
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
            let outcome = rec.fail("tcp", &e, started);
            return rec.finish(outcome);
        }
    };

    // 3. TLS, verifying the host name with the world's CA.
    let mut stream = if options.tls {
        let started = Instant::now();
        let setup = std::fs::read_to_string(&state.ca)
            .map_err(|e| format!("cannot read the world's CA {}: {e}", state.ca.display()))
            .and_then(|pem| {
                net::tls_connector(&pem).map_err(|e| format!("bad CA {}: {e}", state.ca.display()))
            })
            .and_then(|connector| {
                net::server_name(&host)
                    .map(|name| (connector, name))
                    .map_err(|e| format!("{host} is not a valid TLS name: {e}"))
            });
        let (connector, name) = match setup {
            Ok(s) => s,
            Err(m) => {
                rec.step("tls", false, m, started);
                return rec.finish(ProbeOutcome::BadInput);
            }
        };
        match net::tls_handshake(&connector, tcp, name, options.reply_timeout).await {
            Ok(s) => {
                rec.step(
                    "tls",
                    true,
                    format!("handshake done; the certificate covers {host}"),
                    started,
                );
                s
            }
            Err(e) => {
                let outcome = rec.fail("tls", &e, started);
                return rec.finish(outcome);
            }
        }
    } else {
        Stream::Plain(tcp)
    };

    // 4. AUTH.
    if let Some(password) = &options.password {
        let started = Instant::now();
        match net::request(&mut stream, &["AUTH", password], options.reply_timeout).await {
            Ok(Value::Status(ok)) if ok == "OK" => {
                rec.step("auth", true, "+OK".to_owned(), started);
            }
            Ok(reply) => {
                let outcome = error_outcome(&reply);
                rec.step("auth", false, reply.wire_text(), started);
                return rec.finish(outcome);
            }
            Err(e) => {
                let outcome = rec.fail("auth", &e, started);
                return rec.finish(outcome);
            }
        }
    }

    // 5. PING.
    let started = Instant::now();
    match net::request(&mut stream, &["PING"], options.reply_timeout).await {
        Ok(Value::Status(pong)) if pong == "PONG" => {
            rec.step("ping", true, "+PONG".to_owned(), started);
            rec.evidence.reply = Some("+PONG".to_owned());
            // 6. ROLE: which node the endpoint reached (informational; never fails the probe).
            let started = Instant::now();
            if let Ok(Value::Array(items)) =
                net::request(&mut stream, &["ROLE"], options.reply_timeout).await
                && let Some(role) = items.first().and_then(Value::as_text)
            {
                let said = match role.as_str() {
                    "master" => "the primary node (ROLE master)".to_owned(),
                    "slave" => "a replica node (ROLE slave)".to_owned(),
                    other => format!("ROLE {other}"),
                };
                rec.step("role", true, said, started);
                rec.evidence.role = Some(role);
            }
            rec.finish(ProbeOutcome::Ok)
        }
        Ok(reply) => {
            let outcome = error_outcome(&reply);
            let text = reply.wire_text();
            rec.step("ping", false, text.clone(), started);
            rec.evidence.reply = Some(text);
            rec.finish(outcome)
        }
        Err(e) => {
            let outcome = rec.fail("ping", &e, started);
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

fn error_outcome(reply: &Value) -> ProbeOutcome {
    match reply.error() {
        Some(e) if e.starts_with("NOAUTH") => ProbeOutcome::Noauth,
        Some(e) if e.starts_with("WRONGPASS") => ProbeOutcome::Wrongpass,
        _ => ProbeOutcome::Error,
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
            let mut lines: Vec<String> = resolve(w, network, host, QueryType::A)
                .explanation_lines()
                .into_iter()
                .map(|l| format!("why: {l}"))
                .collect();
            // The state file carries the world, not the resolver's cache: say so when it caches.
            if w.network(network).is_some_and(|n| n.dns_cache) {
                lines.push(format!(
                    "why: network {network}'s resolver caches answers for their TTL (dns_cache): an answer cached before the last change stays until the TTL in the reply runs out, so it can differ from the above"
                ));
            }
            lines
        })
        .unwrap_or_default();
    let answer = redlink_client::lookup(resolver, host, options.reply_timeout).await;
    let details = |explanation: Vec<String>| -> Vec<String> {
        answer
            .records()
            .iter()
            .cloned()
            .chain(explanation)
            .collect()
    };
    let (ok, summary, result) = match &answer {
        Lookup::Address(address, _) => (
            true,
            format!("resolver {resolver} (network {network}) answered {address}"),
            Ok(*address),
        ),
        Lookup::NxDomain(_) => (
            false,
            format!("resolver {resolver} (network {network}) answered NXDOMAIN for {host}"),
            Err(ProbeOutcome::Nxdomain),
        ),
        Lookup::NoData(_) => (
            false,
            format!("resolver {resolver} gave no address for {host}"),
            Err(ProbeOutcome::DnsError),
        ),
        Lookup::Refused | Lookup::Failed(_) => (
            false,
            format!(
                "resolver {resolver} (network {network}): {}",
                answer.describe()
            ),
            Err(ProbeOutcome::DnsError),
        ),
    };
    let s = rec.step("dns", ok, summary, started);
    s.details = details(explanation);
    result
}

fn verdict_evidence(
    state: &StateFile,
    network: &str,
    address: Ipv4Addr,
    port: u16,
) -> Option<VerdictEvidence> {
    owned_verdict(state, network, address, port).or_else(|| {
        let world = state.world.as_ref()?;
        let (verdict, reason) = unowned_verdict(world, address, port)?;
        Some(VerdictEvidence {
            endpoint: String::new(),
            cache: String::new(),
            verdict: verdict.to_owned(),
            reason,
        })
    })
}

/// What a connection to an address no endpoint owns meets, and why (`None`: someone owns it). The
/// one wording `probe` and `check` share.
pub fn unowned_verdict(
    world: &redlink_world::World,
    address: Ipv4Addr,
    port: u16,
) -> Option<(&'static str, String)> {
    if world.address_owner(address).is_some() {
        return None;
    }
    if world.unowned_addresses().contains(&address) && world.unowned_ports().contains(&port) {
        Some((
            "drop",
            format!(
                "no endpoint of the world has address {address}, which its DNS still answers (a stale record): in a virtual network nothing answers for it, so the connection times out"
            ),
        ))
    } else {
        Some((
            "refuse",
            format!(
                "no endpoint of the world has address {address}, and no DNS answer of the world points there: nothing listens on {address}:{port}, so the connection was refused"
            ),
        ))
    }
}

fn owned_verdict(
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
