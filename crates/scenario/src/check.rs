//! Checking one [`Expectation`] against a running world, the way a client in the network would:
//! resolve through the network's simulated resolver, connect from the network's client address,
//! verify TLS against the world's CA, read the reply. The result carries the evidence trail and,
//! always, the world's own explanation (`resolve()` and `verdict()`), so a failure says why.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use redlink_runtime::RunningWorld;
use redlink_world::{
    AddressOwner, AuthResult, Cache, ClientSource, ConnectResult, Destination, Expectation,
    ExpectationKind, OpenConnection, Outcome, Source, Target, World, expect::answer_matches,
    verdict,
};
use tokio::io::AsyncWriteExt;

use redlink_client::{ClientError, Failure, Lookup, Stream, Value};

use crate::report::ExpectationReport;
use crate::steps::{self, Dial, Timeouts, failure_word};

/// How long to give the engine to notice that held connections closed.
const RELEASE_PAUSE: std::time::Duration = std::time::Duration::from_millis(30);

/// How many times a connection to hold is tried.
const HOLD_ATTEMPTS: usize = 5;

/// Checks expectations against one running world.
pub struct Checker<'a> {
    world: &'a RunningWorld,
    tls: tokio_rustls::TlsConnector,
    timeouts: Timeouts,
    file: String,
}

/// What a check found: the client's view, and whether it is the one wanted.
struct Found {
    got: String,
    passed: bool,
}

impl<'a> Checker<'a> {
    /// A checker for `world` (whose scenario file is `file`, for locations).
    pub fn new(world: &'a RunningWorld, file: &str, timeouts: Timeouts) -> Result<Self, String> {
        Ok(Checker {
            world,
            tls: redlink_client::net::tls_connector(world.ca_pem())?,
            timeouts,
            file: file.to_owned(),
        })
    }

    /// Checks `e` now.
    pub async fn check(&self, e: &Expectation) -> ExpectationReport {
        let started = Instant::now();
        let world = self.world.world();
        let mut evidence = Vec::new();
        let mut explanation = Vec::new();
        let found = match &e.kind {
            ExpectationKind::Resolve { host, answer } => {
                let server = self.world.resolver(&e.from);
                let found = match server {
                    None => Found {
                        got: format!("network {} has no resolver", e.from),
                        passed: false,
                    },
                    Some(server) => {
                        let lookup = redlink_client::lookup(server, host, self.timeouts.dns).await;
                        evidence.push(format!(
                            "dns: asked {}'s resolver {server} for {host} (A): {}",
                            e.from,
                            lookup.describe()
                        ));
                        match outcome_of(&world, &lookup) {
                            Some(outcome) => Found {
                                got: describe_outcome(&outcome),
                                passed: answer_matches(answer, &outcome),
                            },
                            None => Found {
                                got: lookup.describe(),
                                passed: false,
                            },
                        }
                    }
                };
                explain_resolution(self.world, &e.from, host, &mut explanation);
                found
            }
            ExpectationKind::Connect { target, result } => {
                match self
                    .open(&world, e, target, &mut evidence, &mut explanation)
                    .await
                {
                    Err(got) => Found { got, passed: false },
                    Ok(mut o) => {
                        let started = o.started;
                        let found = connect_check(o.session(&mut evidence), *result).await;
                        let found = timed(found, target, started.elapsed(), &mut evidence);
                        o.release().await;
                        found
                    }
                }
            }
            ExpectationKind::Auth {
                target,
                user,
                password,
                result,
            } => match self
                .open(&world, e, target, &mut evidence, &mut explanation)
                .await
            {
                Err(got) => Found { got, passed: false },
                Ok(mut o) => {
                    let started = o.started;
                    let found = auth_check(
                        o.session(&mut evidence),
                        user.as_deref(),
                        password.as_deref(),
                        *result,
                    )
                    .await;
                    let found = timed(found, target, started.elapsed(), &mut evidence);
                    o.release().await;
                    found
                }
            },
            ExpectationKind::Command {
                target,
                user,
                password,
                args,
                reply,
            } => match self
                .open(&world, e, target, &mut evidence, &mut explanation)
                .await
            {
                Err(got) => Found { got, passed: false },
                Ok(mut o) => {
                    let started = o.started;
                    let dial = o.dial.clone();
                    let session = o.session(&mut evidence);
                    let found = if target.cluster {
                        cluster_command_check(
                            session,
                            &dial,
                            &self.tls,
                            user.as_deref(),
                            password.as_deref(),
                            args,
                            reply,
                        )
                        .await
                    } else {
                        command_check(
                            session,
                            user.as_deref(),
                            password.as_deref(),
                            args,
                            reply,
                        )
                        .await
                    };
                    let found = timed(found, target, started.elapsed(), &mut evidence);
                    o.release().await;
                    found
                }
            },
            ExpectationKind::OpenConnection { .. } => Found {
                got: "open_connection is checked across a step (Checker::watch, then Checker::finish)"
                    .to_owned(),
                passed: false,
            },
        };
        ExpectationReport {
            label: e.label.clone(),
            from: e.from.clone(),
            kind: kind_name(e),
            location: format!("{}:{}", self.file, e.position),
            expected: e.wanted(),
            got: found.got,
            passed: found.passed,
            evidence,
            explanation,
            millis: started.elapsed().as_secs_f64() * 1000.0,
        }
    }

    /// Resolves the target, holds extra connections if asked, and connects.
    async fn open(
        &self,
        world: &World,
        e: &Expectation,
        target: &Target,
        evidence: &mut Vec<String>,
        explanation: &mut Vec<String>,
    ) -> Result<Opened, String> {
        let dial = self.dial(world, e, target, evidence, explanation).await?;
        let timeouts = Timeouts {
            connect: target.timeout.unwrap_or(self.timeouts.connect),
            // A check allowed to take longer (`within`, e.g. a WAIT) waits that long for replies.
            reply: target
                .timing
                .within
                .map_or(self.timeouts.reply, |w| w.max(self.timeouts.reply)),
            ..self.timeouts
        };
        let mut held = Vec::new();
        if target.hold > 0 {
            let mut scratch = Vec::new();
            for _ in 0..target.hold {
                // Connections the previous check released may still count for a moment: retry.
                for _ in 0..HOLD_ATTEMPTS {
                    if let Some(s) = self.hold_one(&dial, &timeouts, &mut scratch).await {
                        held.push(s);
                        break;
                    }
                    tokio::time::sleep(RELEASE_PAUSE).await;
                }
            }
            evidence.push(format!(
                "hold: {} of {} other connection(s) open and answered through the same path",
                held.len(),
                target.hold
            ));
        }
        let started = Instant::now();
        let stream = steps::connect(&dial, &self.tls, &timeouts, evidence).await;
        Ok(Opened {
            stream,
            timeouts,
            held,
            started,
            dial,
        })
    }

    /// Opens the connection an `open_connection` expectation watches, before its step's changes
    /// (it must connect and answer PING); [`Checker::finish`] sees what the changes did to it.
    pub async fn watch(&self, e: &Expectation) -> Watch {
        let started = Instant::now();
        let world = self.world.world();
        let mut evidence = Vec::new();
        let mut explanation = Vec::new();
        let opened = match e.target() {
            None => Err("not a connection expectation".to_owned()),
            Some(target) => {
                self.open(&world, e, target, &mut evidence, &mut explanation)
                    .await
            }
        };
        let (stream, dial) = match opened {
            Err(why) => (Err(why), None),
            Ok(o) => {
                let dial = o.dial.clone();
                let stream = match o.stream {
                    Err(f) => Err(format!(
                        "the connection did not open before the step: {}",
                        failure_word(&f)
                    )),
                    Ok(mut stream) => {
                        let ping = ["PING".to_owned()];
                        match steps::request(&mut stream, &ping, &o.timeouts, &mut evidence).await {
                            Ok(_) => Ok(stream),
                            Err(f) => Err(format!(
                                "the connection did not answer before the step: {}",
                                failure_word(&f)
                            )),
                        }
                    }
                };
                (stream, Some(dial))
            }
        };
        explanation = explanation
            .into_iter()
            .map(|l| format!("before the step: {l}"))
            .collect();
        Watch {
            stream,
            dial,
            evidence,
            explanation,
            started,
        }
    }

    /// What the step's changes did to the connection `watch` opened: it answers PING (`kept`), or
    /// it was reset or closed (`reset`).
    pub async fn finish(&self, e: &Expectation, watch: Watch) -> ExpectationReport {
        let Watch {
            stream,
            dial,
            mut evidence,
            mut explanation,
            started,
        } = watch;
        evidence.push("after the step's changes, on the same connection:".to_owned());
        let found = match stream {
            Err(why) => Found {
                got: why,
                passed: false,
            },
            Ok(mut stream) => {
                let ping = ["PING".to_owned()];
                let got =
                    match steps::request(&mut stream, &ping, &self.timeouts, &mut evidence).await {
                        Ok(_) => "kept".to_owned(),
                        Err(f) => failure_word(&f),
                    };
                let passed = match &e.kind {
                    ExpectationKind::OpenConnection {
                        result: OpenConnection::Kept,
                        ..
                    } => got == "kept",
                    ExpectationKind::OpenConnection {
                        result: OpenConnection::Reset,
                        ..
                    } => got == "reset" || got == "closed",
                    _ => false,
                };
                Found { got, passed }
            }
        };
        if let Some(d) = &dial {
            let world = self.world.world();
            let mut now = Vec::new();
            explain_verdict(
                &world,
                d.source,
                *d.address.ip(),
                d.address.port(),
                &mut now,
            );
            explanation.extend(now.into_iter().map(|l| format!("after the step: {l}")));
        }
        ExpectationReport {
            label: e.label.clone(),
            from: e.from.clone(),
            kind: kind_name(e),
            location: format!("{}:{}", self.file, e.position),
            expected: e.wanted(),
            got: found.got,
            passed: found.passed,
            evidence,
            explanation,
            millis: started.elapsed().as_secs_f64() * 1000.0,
        }
    }

    /// What the edge has in force for this source, when it differs from the world's verdict (a
    /// fallback, e.g. reset-after-accept for a per-source drop without the privilege to filter).
    async fn explain_edge(
        &self,
        source: Ipv4Addr,
        address: Ipv4Addr,
        port: u16,
        out: &mut Vec<String>,
    ) {
        let wanted = std::net::SocketAddr::from((address, port));
        let ports = self.world.ports().await;
        let Some(status) = ports.iter().find(|p| p.address == wanted) else {
            return;
        };
        let in_force = status
            .sources
            .iter()
            .find(|s| s.address == source)
            .or_else(|| status.sources.first());
        if let Some(s) = in_force
            && s.action != s.verdict
        {
            out.push(format!(
                "edge: {} in force instead of {}: {}",
                s.action, s.verdict, s.reason
            ));
        }
    }

    /// One connection that the server admitted (it answered PING with anything but the maxclients
    /// error), or `None`.
    async fn hold_one(
        &self,
        dial: &Dial,
        timeouts: &Timeouts,
        scratch: &mut Vec<String>,
    ) -> Option<Stream> {
        let mut s = steps::connect(dial, &self.tls, timeouts, scratch)
            .await
            .ok()?;
        let ping = ["PING".to_owned()];
        match steps::request(&mut s, &ping, timeouts, scratch).await {
            Ok(Value::Error(e)) if e.starts_with("ERR max number of clients") => None,
            Ok(_) => Some(s),
            Err(_) => None,
        }
    }

    /// Where to connect from and to, and the world's verdict for it.
    async fn dial(
        &self,
        world: &World,
        e: &Expectation,
        target: &Target,
        evidence: &mut Vec<String>,
        explanation: &mut Vec<String>,
    ) -> Result<Dial, String> {
        let source = match &e.source {
            ClientSource::Network(n) => world
                .network(n)
                .map(|n| n.client_address)
                .ok_or_else(|| format!("network {n} does not exist"))?,
            ClientSource::Host => Ipv4Addr::LOCALHOST,
            ClientSource::Address(a) => *a,
        };
        let (address, cache, tls_name): (Ipv4Addr, Option<&Cache>, Option<String>) =
            match &target.destination {
                Destination::Host(host) => {
                    let server = self
                        .world
                        .resolver(&e.from)
                        .ok_or_else(|| format!("network {} has no resolver", e.from))?;
                    let lookup = redlink_client::lookup(server, host, self.timeouts.dns).await;
                    evidence.push(format!(
                        "dns: asked {}'s resolver {server} for {host} (A): {}",
                        e.from,
                        lookup.describe()
                    ));
                    explain_resolution(self.world, &e.from, host, explanation);
                    let Lookup::Address(a, _) = lookup else {
                        return Err(format!("no address to connect to: {}", lookup.describe()));
                    };
                    let cache = world
                        .cache_by_host_name(host)
                        .or_else(|| owner_cache(world, a));
                    (a, cache, Some(host.clone()))
                }
                Destination::Endpoint(id) => {
                    let ep = world
                        .endpoint(id)
                        .ok_or_else(|| format!("{id} does not exist now"))?;
                    let cache = world.cache(&ep.cache);
                    (ep.address, cache, cache.map(Cache::host_name))
                }
            };
        let port = target
            .port
            .or_else(|| cache.and_then(|c| c.ports.tls.or(c.ports.plain)))
            .ok_or_else(|| {
                format!("{address} belongs to no cache: give the expectation a `port`")
            })?;
        let tls = target
            .tls
            .unwrap_or_else(|| cache.is_some_and(|c| c.ports.tls == Some(port)));
        explain_verdict(world, source, address, port, explanation);
        self.explain_edge(source, address, port, explanation).await;
        Ok(Dial {
            source,
            address: SocketAddrV4::new(address, port),
            tls_name: if tls {
                Some(tls_name.unwrap_or_else(|| address.to_string()))
            } else {
                None
            },
        })
    }
}

/// A connection made for a check, and the connections held open around it.
struct Opened {
    stream: Result<Stream, ClientError>,
    timeouts: Timeouts,
    held: Vec<Stream>,
    /// When the connect started (what `within` / `slower_than` measure from).
    started: Instant,
    dial: Dial,
}

/// A connection opened before a step's changes, for an `open_connection` expectation.
pub struct Watch {
    stream: Result<Stream, String>,
    dial: Option<Dial>,
    evidence: Vec<String>,
    explanation: Vec<String>,
    started: Instant,
}

/// The report's name for an expectation's kind.
fn kind_name(e: &Expectation) -> &'static str {
    match e.kind {
        ExpectationKind::Resolve { .. } => "resolve",
        ExpectationKind::Connect { .. } => "connect",
        ExpectationKind::Auth { .. } => "auth",
        ExpectationKind::Command { .. } => "command",
        ExpectationKind::OpenConnection { .. } => "open_connection",
    }
}

/// `found`, also held to the target's `within` / `slower_than` (the time from the start of the
/// connect to the reply, `took`), with an evidence line when the target bounds it.
fn timed(found: Found, target: &Target, took: Duration, evidence: &mut Vec<String>) -> Found {
    if !target.timing.is_set() {
        return found;
    }
    let ms = took.as_secs_f64() * 1000.0;
    match target.timing.check(took) {
        Ok(()) => {
            evidence.push(format!(
                "time: connect to reply {ms:.1} ms ({})",
                target.timing
            ));
            found
        }
        Err(why) => {
            evidence.push(format!(
                "time: connect to reply {ms:.1} ms, wanted {}",
                target.timing
            ));
            Found {
                got: format!("{} ({why})", found.got),
                passed: false,
            }
        }
    }
}

impl Opened {
    fn session<'s>(&mut self, evidence: &'s mut Vec<String>) -> Session<'s> {
        Session {
            stream: std::mem::replace(
                &mut self.stream,
                Err(ClientError::new(Failure::Closed, "the stream was taken")),
            ),
            timeouts: self.timeouts,
            evidence,
        }
    }

    /// Closes the held connections and gives the engine a moment to count them out.
    async fn release(self) {
        if self.held.is_empty() {
            return;
        }
        for mut s in self.held {
            let _ = s.shutdown().await;
        }
        tokio::time::sleep(RELEASE_PAUSE).await;
    }
}

/// A connected (or failed) stream with what the check needs.
struct Session<'s> {
    stream: Result<Stream, ClientError>,
    timeouts: Timeouts,
    evidence: &'s mut Vec<String>,
}

async fn connect_check(s: Session<'_>, wanted: ConnectResult) -> Found {
    let got = match s.stream {
        Err(f) => failure_word(&f),
        Ok(mut stream) => {
            let ping = ["PING".to_owned()];
            match steps::request(&mut stream, &ping, &s.timeouts, s.evidence).await {
                Ok(_) => "ok".to_owned(),
                Err(f) => failure_word(&f),
            }
        }
    };
    Found {
        passed: got == wanted.as_str(),
        got,
    }
}

async fn auth_check(
    s: Session<'_>,
    user: Option<&str>,
    password: Option<&str>,
    wanted: AuthResult,
) -> Found {
    let mut stream = match s.stream {
        Ok(stream) => stream,
        Err(f) => {
            return Found {
                got: format!("could not connect: {}", failure_word(&f)),
                passed: false,
            };
        }
    };
    let fail = |f: ClientError| Found {
        got: format!("connection failed: {}", failure_word(&f)),
        passed: false,
    };
    if let Some(pass) = password {
        let mut args = vec!["AUTH".to_owned()];
        args.extend(user.map(str::to_owned));
        args.push(pass.to_owned());
        match steps::request(&mut stream, &args, &s.timeouts, s.evidence).await {
            Err(f) => return fail(f),
            Ok(Value::Status(ok)) if ok == "OK" => {}
            Ok(Value::Error(e)) if e.starts_with("WRONGPASS") => {
                return Found {
                    got: "wrongpass".to_owned(),
                    passed: wanted == AuthResult::Wrongpass,
                };
            }
            Ok(other) => {
                return Found {
                    got: format!("AUTH replied {other}"),
                    passed: false,
                };
            }
        }
    }
    let ping = ["PING".to_owned()];
    let got = match steps::request(&mut stream, &ping, &s.timeouts, s.evidence).await {
        Err(f) => return fail(f),
        Ok(Value::Status(p)) if p == "PONG" => "ok".to_owned(),
        Ok(Value::Error(e)) if e.starts_with("NOAUTH") => "noauth".to_owned(),
        Ok(other) => format!("PING replied {other}"),
    };
    Found {
        passed: got == wanted.as_str(),
        got,
    }
}

async fn command_check(
    s: Session<'_>,
    user: Option<&str>,
    password: Option<&str>,
    args: &[String],
    wanted: &str,
) -> Found {
    let mut stream = match s.stream {
        Ok(stream) => stream,
        Err(f) => {
            return Found {
                got: format!("could not connect: {}", failure_word(&f)),
                passed: false,
            };
        }
    };
    if let Some(pass) = password {
        let mut auth = vec!["AUTH".to_owned()];
        auth.extend(user.map(str::to_owned));
        auth.push(pass.to_owned());
        match steps::request(&mut stream, &auth, &s.timeouts, s.evidence).await {
            Ok(Value::Status(ok)) if ok == "OK" => {}
            Ok(other) => {
                return Found {
                    got: format!("AUTH replied {other}"),
                    passed: false,
                };
            }
            Err(f) => {
                return Found {
                    got: format!("connection failed: {}", failure_word(&f)),
                    passed: false,
                };
            }
        }
    }
    let got = match steps::request(&mut stream, args, &s.timeouts, s.evidence).await {
        Ok(reply) => reply.to_string(),
        Err(f) => format!("connection failed: {}", failure_word(&f)),
    };
    Found {
        passed: got == wanted,
        got,
    }
}

/// How many `-MOVED`/`-ASK` redirections a cluster-following check follows (a healthy cluster needs at
/// most two: a MOVED, then an ASK during a migration).
const MAX_REDIRECTIONS: usize = 5;

/// A `-MOVED slot host:port` or `-ASK slot host:port` reply: whether it is ASK, and where to.
fn redirection(reply: &Value) -> Option<(bool, &str)> {
    let Value::Error(e) = reply else {
        return None;
    };
    let (ask, rest) = if let Some(r) = e.strip_prefix("MOVED ") {
        (false, r)
    } else {
        (true, e.strip_prefix("ASK ")?)
    };
    let (_slot, address) = rest.split_once(' ')?;
    Some((ask, address))
}

/// AUTH on a fresh connection when the expectation gives a password; the failure as a report.
async fn authenticate(
    stream: &mut Stream,
    user: Option<&str>,
    password: Option<&str>,
    timeouts: &Timeouts,
    evidence: &mut Vec<String>,
) -> Result<(), Found> {
    let Some(pass) = password else {
        return Ok(());
    };
    let mut auth = vec!["AUTH".to_owned()];
    auth.extend(user.map(str::to_owned));
    auth.push(pass.to_owned());
    match steps::request(stream, &auth, timeouts, evidence).await {
        Ok(Value::Status(ok)) if ok == "OK" => Ok(()),
        Ok(other) => Err(Found {
            got: format!("AUTH replied {other}"),
            passed: false,
        }),
        Err(f) => Err(Found {
            got: format!("connection failed: {}", failure_word(&f)),
            passed: false,
        }),
    }
}

/// A command sent as a cluster client sends it: a `-MOVED`/`-ASK` reply is followed to the
/// address it names (from the same source, verifying the same TLS name; `ASKING` first after an
/// ASK), up to [`MAX_REDIRECTIONS`] times. A redirection whose connect fails ends the command with
/// the failure's name (`timeout`, `refused`, `reset`) as what it got.
async fn cluster_command_check(
    s: Session<'_>,
    dial: &Dial,
    tls: &tokio_rustls::TlsConnector,
    user: Option<&str>,
    password: Option<&str>,
    args: &[String],
    wanted: &str,
) -> Found {
    let Session {
        stream,
        timeouts,
        evidence,
    } = s;
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(f) => {
            return Found {
                got: format!("could not connect: {}", failure_word(&f)),
                passed: false,
            };
        }
    };
    if let Err(found) = authenticate(&mut stream, user, password, &timeouts, evidence).await {
        return found;
    }
    let mut asking = false;
    let mut hops = 0;
    let got = loop {
        if asking {
            let _ = steps::request(&mut stream, &["ASKING".to_owned()], &timeouts, evidence).await;
        }
        let reply = match steps::request(&mut stream, args, &timeouts, evidence).await {
            Ok(reply) => reply,
            Err(f) => break format!("connection failed: {}", failure_word(&f)),
        };
        let Some((ask, address)) = redirection(&reply) else {
            break reply.to_string();
        };
        let Ok(address) = address.parse::<SocketAddrV4>() else {
            evidence.push(format!(
                "cluster: redirected to {address:?}, which is not an IPv4 address:port; not followed"
            ));
            break reply.to_string();
        };
        if hops == MAX_REDIRECTIONS {
            evidence.push(format!(
                "cluster: still redirected after {MAX_REDIRECTIONS} hops; giving up"
            ));
            break reply.to_string();
        }
        hops += 1;
        evidence.push(format!(
            "cluster: {} → following to {address}",
            if ask { "ASK" } else { "MOVED" }
        ));
        let next = Dial {
            source: dial.source,
            address,
            tls_name: dial.tls_name.clone(),
        };
        stream = match steps::connect(&next, tls, &timeouts, evidence).await {
            Ok(s) => s,
            Err(f) => break failure_word(&f),
        };
        if let Err(found) = authenticate(&mut stream, user, password, &timeouts, evidence).await {
            return found;
        }
        asking = ask;
    };
    Found {
        passed: got == wanted,
        got,
    }
}

/// The cache whose endpoint has address `a`.
fn owner_cache(world: &World, a: Ipv4Addr) -> Option<&Cache> {
    match world.address_owner(a)? {
        AddressOwner::PrivateEndpoint { cache, .. } | AddressOwner::Public { cache } => {
            world.cache(&cache)
        }
        _ => None,
    }
}

fn outcome_of(world: &World, lookup: &Lookup) -> Option<Outcome> {
    Some(match lookup {
        Lookup::Address(a, _) => Outcome::Address {
            address: *a,
            owner: world.address_owner(*a),
        },
        Lookup::NxDomain(_) => Outcome::NxDomain,
        Lookup::Refused => Outcome::Refused,
        Lookup::NoData(_) => Outcome::NoData,
        Lookup::Failed(_) => return None,
    })
}

fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Address {
            address,
            owner: Some(AddressOwner::PrivateEndpoint { endpoint, .. }),
        } => format!("private endpoint {endpoint} ({address})"),
        Outcome::Address {
            address,
            owner: Some(AddressOwner::Public { cache }),
        } => format!("public ({address}, cache {cache})"),
        Outcome::Address {
            address,
            owner: Some(other),
        } => format!("{address} ({other})"),
        Outcome::Address {
            address,
            owner: None,
        } => format!("{address} (no endpoint of the world has it)"),
        Outcome::NoData => "nodata".to_owned(),
        Outcome::NxDomain => "nxdomain".to_owned(),
        Outcome::Refused => "refused".to_owned(),
    }
}

/// The resolver's own explanation of what it answered (its DNS cache included).
fn explain_resolution(world: &RunningWorld, network: &str, host: &str, out: &mut Vec<String>) {
    let r = world.explain_resolution(network, host);
    out.push(format!("resolve: {}", r.summary()));
    out.extend(r.explanation_lines().into_iter().map(|l| format!("  {l}")));
}

fn explain_verdict(
    world: &World,
    source: Ipv4Addr,
    address: Ipv4Addr,
    port: u16,
    out: &mut Vec<String>,
) {
    let from = Source::of_address(world, source);
    match world
        .endpoints()
        .into_iter()
        .find(|ep| ep.address == address)
    {
        Some(ep) => {
            let (v, why) = verdict(world, &ep.id, port, &from);
            out.push(format!(
                "verdict: {v} for {from} → {} port {port}: {why}",
                ep.id
            ));
        }
        None => {
            if let Some((v, why)) = redlink_runtime::probe::unowned_verdict(world, address, port) {
                out.push(format!("verdict: {v} for {from} → {address}:{port}: {why}"));
            }
        }
    }
}
