//! Expectations: what a client in a network must see. `[[expect]]` tables at the top level of a
//! scenario are checked against the initial world; `[[step.expect]]` tables after their step's
//! changes. [`ExpectationSpec`] is the table as written (serde, spans); [`Expectation`] the typed,
//! validated form the checker runs ([`compile::expectation`] makes it, called by
//! [`crate::timeline::compile`] at the expectation's point of the timeline).
//!
//! ```toml
//! [[expect]]
//! name = "…"                              # optional label
//! from = "hub"                            # the network: its resolver, its client address
//! source = "host"                         # optional: bind another source (host = 127.0.0.1, a network, a 127/8 address)
//!
//! resolve = "contoso.redis.cache.windows.net"
//! answer = "private"                      # private | public | nxdomain | refused | ENDPOINT NAME
//!                                         # | "127.10.1.9" (that address) | "unowned" (an address no endpoint owns)
//!
//! connect = "ok"                          # ok | refused | timeout | reset | tls-error | closed | no-reply
//! auth = "ok"                             # ok | noauth | wrongpass (with `password`)
//! command = ["GET", "k"]                  # or "GET k"; with reply = "…"
//! set = { key = "k", value = "v" }        # SET k v → OK
//! get = { key = "k", value = "v" }        # GET k → v (no value: nil)
//!
//! host = "contoso.redis.cache.windows.net"   # target, resolved through `from`'s resolver (default: the only cache)
//! endpoint = "pe-hub"                     # or an endpoint by name ("public" + `cache` for a public endpoint)
//! port = 6380                             # default: the cache's TLS port, else its plain port
//! tls = true                              # default: whether `port` is the cache's TLS port
//! password = "…"                          # AUTH before the command (auth: the password to try)
//! timeout = "300ms"                       # connect timeout (default: the checker's)
//! hold = 2                                # keep this many other connections open during the check
//! cluster = true                          # a cluster-following client: a command's -MOVED/-ASK is
//!                                         # followed to the address announced (up to 5 hops); a hop
//!                                         # whose connect fails ends it with the failure's name as
//!                                         # the reply ("timeout", "refused", "reset")
//! within = "50ms"                         # connect…reply must take at most this long
//! slower_than = "100ms"                   # … or at least this long (a latency toxic)
//!
//! open_connection = "reset"               # in a step only: a connection opened before the step's
//!                                         # changes is reset by them ("kept": it still answers)
//! ```

pub mod compile;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

use crate::endpoint::EndpointId;
use crate::location::Position;
use crate::model::{AddressOwner, World};
use crate::resolve::{Outcome, QueryType, resolve};

/// The answer a resolution expectation wants.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedAnswer {
    /// Some private endpoint's address.
    Private,
    /// The cache's public address.
    Public,
    /// NXDOMAIN.
    NxDomain,
    /// REFUSED (a name outside the simulated zones).
    Refused,
    /// The address of the named private endpoint.
    Endpoint(String),
    /// This literal address (whoever owns it).
    Address(Ipv4Addr),
    /// An address that no endpoint of the world owns (a stale record).
    Unowned,
}

impl<'de> Deserialize<'de> for ExpectedAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "private" => ExpectedAnswer::Private,
            "public" => ExpectedAnswer::Public,
            "nxdomain" => ExpectedAnswer::NxDomain,
            "refused" => ExpectedAnswer::Refused,
            "unowned" => ExpectedAnswer::Unowned,
            _ => match s.parse::<Ipv4Addr>() {
                Ok(a) => ExpectedAnswer::Address(a),
                Err(_) => ExpectedAnswer::Endpoint(s),
            },
        })
    }
}

impl fmt::Display for ExpectedAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedAnswer::Private => f.write_str("private"),
            ExpectedAnswer::Public => f.write_str("public"),
            ExpectedAnswer::NxDomain => f.write_str("nxdomain"),
            ExpectedAnswer::Refused => f.write_str("refused"),
            ExpectedAnswer::Endpoint(e) => write!(f, "private endpoint {e}"),
            ExpectedAnswer::Address(a) => write!(f, "address {a}"),
            ExpectedAnswer::Unowned => f.write_str("an address no endpoint owns"),
        }
    }
}

/// What a connection attempt ends in, as a client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectResult {
    /// Connected (and the TLS handshake passed), and the server answered PING (any reply).
    Ok,
    /// ECONNREFUSED.
    Refused,
    /// The connect did not complete in time (SYN unanswered).
    Timeout,
    /// ECONNRESET at the first read or write.
    Reset,
    /// The TLS handshake failed (certificate name, not TLS on the other side…).
    TlsError,
    /// The server closed the connection without answering.
    Closed,
    /// Connected, but no reply in time (a blackhole).
    NoReply,
}

impl ConnectResult {
    /// The scenario file's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectResult::Ok => "ok",
            ConnectResult::Refused => "refused",
            ConnectResult::Timeout => "timeout",
            ConnectResult::Reset => "reset",
            ConnectResult::TlsError => "tls-error",
            ConnectResult::Closed => "closed",
            ConnectResult::NoReply => "no-reply",
        }
    }
}

impl fmt::Display for ConnectResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an authentication attempt ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthResult {
    /// AUTH accepted (or no AUTH needed) and PING answered PONG.
    Ok,
    /// `-NOAUTH Authentication required.`
    Noauth,
    /// `-WRONGPASS invalid username-password pair or user is disabled.`
    Wrongpass,
}

impl AuthResult {
    /// The scenario file's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthResult::Ok => "ok",
            AuthResult::Noauth => "noauth",
            AuthResult::Wrongpass => "wrongpass",
        }
    }
}

impl fmt::Display for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A duration written as `500ms`, `5s`, `2m`, `1h` (a bare number is seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Offset(pub Duration);

impl Offset {
    /// Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds.
    pub fn parse(text: &str) -> Result<Offset, String> {
        // One reading of durations for the whole program: the clock's.
        redlink_clock::parse_duration(text).map(Offset)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redlink_clock::format_duration(self.0))
    }
}

impl Serialize for Offset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(n) => Ok(Offset(Duration::from_secs(n))),
            Raw::Text(t) => Offset::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A command as written: one string split at white space, or an array of arguments.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CommandSpec {
    /// `"SET k v"`.
    Line(String),
    /// `["SET", "k", "v"]`.
    Args(Vec<String>),
}

impl CommandSpec {
    /// The arguments.
    pub fn args(&self) -> Vec<String> {
        match self {
            CommandSpec::Line(l) => l.split_whitespace().map(str::to_owned).collect(),
            CommandSpec::Args(a) => a.clone(),
        }
    }
}

/// `{ key = "k", value = "v" }` of a `set` or `get` expectation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value (a `get` without one expects nil).
    #[serde(default)]
    pub value: Option<String>,
}

/// One `[[expect]]` (or `[[step.expect]]`) table as written; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectationSpec {
    /// A label for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The network the client is in.
    pub from: Spanned<String>,
    /// Another source address to bind: `host`, a network, or a 127/8 address.
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// A host name to resolve.
    #[serde(default)]
    pub resolve: Option<Spanned<String>>,
    /// The answer wanted (with `resolve`).
    #[serde(default)]
    pub answer: Option<Spanned<ExpectedAnswer>>,
    /// The connection outcome wanted.
    #[serde(default)]
    pub connect: Option<Spanned<ConnectResult>>,
    /// The authentication outcome wanted.
    #[serde(default)]
    pub auth: Option<Spanned<AuthResult>>,
    /// A command to send (with `reply`).
    #[serde(default)]
    pub command: Option<Spanned<CommandSpec>>,
    /// The reply wanted (with `command`): simple strings and bulk strings as text, errors as their
    /// text (`ERR max number of clients reached`), integers as digits, nil as `(nil)`.
    #[serde(default)]
    pub reply: Option<String>,
    /// `SET key value` must reply OK.
    #[serde(default)]
    pub set: Option<Spanned<KeyValue>>,
    /// `GET key` must reply the value (nil without one).
    #[serde(default)]
    pub get: Option<Spanned<KeyValue>>,
    /// Target: a host name resolved through the network's resolver.
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    /// Target: an endpoint by name (with `resolve`: the private endpoint the answer must be).
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// The cache of `endpoint = "public"` (needed when the world has several caches).
    #[serde(default)]
    pub cache: Option<Spanned<String>>,
    /// The port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Whether to speak TLS.
    #[serde(default)]
    pub tls: Option<bool>,
    /// The password (AUTH before a command; the password to try for `auth`).
    #[serde(default)]
    pub password: Option<String>,
    /// The user name for AUTH.
    #[serde(default)]
    pub user: Option<String>,
    /// The connect timeout.
    #[serde(default)]
    pub timeout: Option<Offset>,
    /// Other connections to open (and keep open) before the check, through the same path.
    #[serde(default)]
    pub hold: Option<u32>,
    /// Follow `-MOVED`/`-ASK` as a cluster client does.
    #[serde(default)]
    pub cluster: bool,
    /// The check (connect to reply) must take at most this long.
    #[serde(default)]
    pub within: Option<Spanned<Offset>>,
    /// The check (connect to reply) must take at least this long.
    #[serde(default)]
    pub slower_than: Option<Spanned<Offset>>,
    /// In a step: what the step's changes do to a connection opened before them.
    #[serde(default)]
    pub open_connection: Option<Spanned<OpenConnection>>,
}

/// What a step's changes do to a connection opened before them (`open_connection`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpenConnection {
    /// The connection is reset (or closed) by the changes.
    Reset,
    /// The connection survives: it still answers PING.
    Kept,
}

impl OpenConnection {
    /// The scenario file's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            OpenConnection::Reset => "reset",
            OpenConnection::Kept => "kept",
        }
    }
}

impl fmt::Display for OpenConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds on how long a check takes, from the start of the connect to the reply (`within`,
/// `slower_than`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timing {
    /// At most this long.
    pub within: Option<Duration>,
    /// At least this long.
    pub slower_than: Option<Duration>,
}

impl Timing {
    /// Whether `took` is within the bounds; `Err` says which bound it misses.
    pub fn check(&self, took: Duration) -> Result<(), String> {
        if let Some(w) = self.within
            && took > w
        {
            return Err(format!("took {took:.1?}, more than {w:?}"));
        }
        if let Some(s) = self.slower_than
            && took < s
        {
            return Err(format!("took {took:.1?}, less than {s:?}"));
        }
        Ok(())
    }

    /// Whether any bound is set.
    pub fn is_set(&self) -> bool {
        self.within.is_some() || self.slower_than.is_some()
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.within, self.slower_than) {
            (Some(w), Some(s)) => write!(f, "in {s:?}…{w:?}"),
            (Some(w), None) => write!(f, "within {w:?}"),
            (None, Some(s)) => write!(f, "slower than {s:?}"),
            (None, None) => Ok(()),
        }
    }
}

/// Which address the checker's client binds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientSource {
    /// The client address of this network (the default: the expectation's `from`).
    Network(String),
    /// 127.0.0.1: the host (where the world's `host` says it stands).
    Host,
    /// A given 127/8 address.
    Address(Ipv4Addr),
}

impl fmt::Display for ClientSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientSource::Network(n) => write!(f, "the client address of {n}"),
            ClientSource::Host => f.write_str("the host (127.0.0.1)"),
            ClientSource::Address(a) => write!(f, "{a}"),
        }
    }
}

/// Where a connection goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A host name, resolved through the network's resolver.
    Host(String),
    /// An endpoint, by name.
    Endpoint(EndpointId),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Host(h) => f.write_str(h),
            Destination::Endpoint(EndpointId::Private { endpoint }) => f.write_str(endpoint),
            Destination::Endpoint(EndpointId::Public { cache }) => write!(f, "public({cache})"),
        }
    }
}

/// A connection as an expectation describes it; port and TLS default from the cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Where to.
    pub destination: Destination,
    /// The port (default: the cache's TLS port, else its plain port).
    pub port: Option<u16>,
    /// TLS (default: whether the port is the cache's TLS port).
    pub tls: Option<bool>,
    /// The connect timeout (default: the checker's).
    pub timeout: Option<Duration>,
    /// Other connections to keep open during the check.
    pub hold: u32,
    /// How long the check may (or must) take.
    pub timing: Timing,
    /// Follow `-MOVED`/`-ASK` redirections as a cluster client does (commands only).
    pub cluster: bool,
}

/// What an expectation checks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExpectationKind {
    /// Resolve `host` through the network's resolver.
    Resolve {
        /// The host name.
        host: String,
        /// The answer wanted.
        answer: ExpectedAnswer,
    },
    /// Connect (TCP, TLS, PING).
    Connect {
        /// Where.
        target: Target,
        /// The outcome wanted.
        result: ConnectResult,
    },
    /// Authenticate (AUTH with `password` if given, then PING).
    Auth {
        /// Where.
        target: Target,
        /// The user name.
        user: Option<String>,
        /// The password to try.
        password: Option<String>,
        /// The outcome wanted.
        result: AuthResult,
    },
    /// Open a connection before the step's changes, and see what they did to it.
    OpenConnection {
        /// Where.
        target: Target,
        /// What the changes must do to it.
        result: OpenConnection,
    },
    /// Send a command and compare the reply.
    Command {
        /// Where.
        target: Target,
        /// AUTH first with this user and password.
        user: Option<String>,
        /// AUTH first with this password.
        password: Option<String>,
        /// The command.
        args: Vec<String>,
        /// The reply wanted.
        reply: String,
    },
}

/// A validated expectation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expectation {
    /// The label reports show.
    pub label: String,
    /// Where the table starts in the file.
    pub position: Position,
    /// The network.
    pub from: String,
    /// The address the client binds.
    pub source: ClientSource,
    /// What is checked.
    pub kind: ExpectationKind,
}

impl Expectation {
    /// What is wanted, in a few words ("private endpoint pe-hub", "refused", "OK"…).
    pub fn wanted(&self) -> String {
        match &self.kind {
            ExpectationKind::Resolve { answer, .. } => answer.to_string(),
            ExpectationKind::Connect { result, .. } => result.to_string(),
            ExpectationKind::Auth { result, .. } => result.to_string(),
            ExpectationKind::Command { reply, .. } => reply.clone(),
            ExpectationKind::OpenConnection { result, .. } => result.to_string(),
        }
    }

    /// The target of a connection expectation (every kind but `resolve`).
    pub fn target(&self) -> Option<&Target> {
        match &self.kind {
            ExpectationKind::Resolve { .. } => None,
            ExpectationKind::Connect { target, .. }
            | ExpectationKind::Auth { target, .. }
            | ExpectationKind::Command { target, .. }
            | ExpectationKind::OpenConnection { target, .. } => Some(target),
        }
    }

    /// The generated label: "hub: resolve H → private", "spoke: connect H:6380 tls → refused",
    /// "hub (source: the host (127.0.0.1)): connect …"…
    pub fn describe(from: &str, source: &ClientSource, kind: &ExpectationKind) -> String {
        let from = match source {
            ClientSource::Network(n) if n == from => from.to_owned(),
            other => format!("{from} (source: {other})"),
        };
        let from = from.as_str();
        let target = |t: &Target| {
            let mut s = t.destination.to_string();
            if let Some(p) = t.port {
                s.push_str(&format!(":{p}"));
            }
            match t.tls {
                Some(true) => s.push_str(" tls"),
                Some(false) => s.push_str(" plain"),
                None => {}
            }
            if t.hold > 0 {
                s.push_str(&format!(" (holding {})", t.hold));
            }
            if t.cluster {
                s.push_str(" (following the cluster)");
            }
            if t.timing.is_set() {
                s.push_str(&format!(" {}", t.timing));
            }
            s
        };
        match kind {
            ExpectationKind::Resolve { host, answer } => {
                format!("{from}: resolve {host} → {answer}")
            }
            ExpectationKind::Connect { target: t, result } => {
                format!("{from}: connect {} → {result}", target(t))
            }
            ExpectationKind::Auth {
                target: t, result, ..
            } => format!("{from}: auth {} → {result}", target(t)),
            ExpectationKind::Command {
                target: t,
                args,
                reply,
                ..
            } => format!("{from}: {} via {} → {reply}", args.join(" "), target(t)),
            ExpectationKind::OpenConnection { target: t, result } => {
                format!("{from}: a connection open to {} → {result}", target(t))
            }
        }
    }

    /// Checks a resolution expectation against `world` with the pure [`resolve`]: `Ok(summary)`
    /// when met, `Err(why not)` otherwise, and `Err` for expectations of other kinds (which need a
    /// running world: see the `redlink-scenario` checker).
    pub fn check_resolution(&self, world: &World) -> Result<String, String> {
        let ExpectationKind::Resolve { host, answer } = &self.kind else {
            return Err("not a resolution expectation".to_owned());
        };
        let resolution = resolve(world, &self.from, host, QueryType::A);
        let summary = resolution.summary();
        if answer_matches(answer, &resolution.outcome(world)) {
            Ok(summary)
        } else {
            Err(format!("expected {answer}: {summary}"))
        }
    }
}

/// Whether a resolution outcome is the answer wanted.
pub fn answer_matches(answer: &ExpectedAnswer, outcome: &Outcome) -> bool {
    match (answer, outcome) {
        (
            ExpectedAnswer::Private,
            Outcome::Address {
                owner: Some(AddressOwner::PrivateEndpoint { .. }),
                ..
            },
        ) => true,
        (
            ExpectedAnswer::Endpoint(want),
            Outcome::Address {
                owner: Some(AddressOwner::PrivateEndpoint { endpoint, .. }),
                ..
            },
        ) => want == endpoint,
        (
            ExpectedAnswer::Public,
            Outcome::Address {
                owner: Some(AddressOwner::Public { .. }),
                ..
            },
        ) => true,
        (ExpectedAnswer::Address(want), Outcome::Address { address, .. }) => want == address,
        (
            ExpectedAnswer::Unowned,
            Outcome::Address {
                owner:
                    None | Some(AddressOwner::Resolver { .. }) | Some(AddressOwner::Client { .. }),
                ..
            },
        ) => true,
        (ExpectedAnswer::NxDomain, Outcome::NxDomain) => true,
        (ExpectedAnswer::Refused, Outcome::Refused) => true,
        _ => false,
    }
}
