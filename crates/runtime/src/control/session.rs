//! One control connection: requests come from the engine's own reader
//! ([`redlink_engine::session::Requests`]: its parser and limits, `Protocol error` texts, the query
//! buffer bound, and the cross-protocol guard that closes the connection unanswered on `POST` or
//! `Host:`), replies go out through the engine's [`Out`] in RESP2 or RESP3. The connection's own
//! state (authentication, protocol, subscriptions) and the commands about it (AUTH, HELLO, PING,
//! QUIT, SUBSCRIBE…) live here, with the engine's error texts.
//!
//! Timeouts ([`ControlLimits`]): with a password, a connection must authenticate within
//! `auth_timeout` of connecting; any connection that sends nothing for `idle_timeout` is closed,
//! subscribers excepted.

use std::collections::BTreeSet;

use redlink_engine::protocol::{Limits, Out};
use redlink_engine::session::{
    AUTH_WITHOUT_PASSWORD, CROSS_PROTOCOL_WARNING, Close, NOAUTH_HELLO, Requests, WRONGPASS,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{ControlLimits, EVENTS_CHANNEL, verbs};
use crate::events::EventStream;
use crate::running::RunningWorld;

/// The largest bulk argument accepted: a JSON change is small, an imported RDB file (hex, see
/// `CACHE.IMPORT`) up to [`super::MAX_IMPORT_BYTES`] is not. Before AUTH the engine's
/// unauthenticated limits apply instead.
const MAX_BULK: i64 = 2 * super::MAX_IMPORT_BYTES as i64 + 1024;
/// Unparsed input beyond this closes the connection.
const QUERY_LIMIT: usize = 2 * MAX_BULK as usize;

/// One connection's state.
pub(super) struct Session {
    pub(super) authenticated: bool,
    password: Option<String>,
    pub(super) resp3: bool,
    pub(super) channels: BTreeSet<String>,
    quit: bool,
}

impl Session {
    fn new(password: Option<&str>) -> Session {
        Session {
            authenticated: password.is_none(),
            password: password.map(str::to_owned),
            resp3: false,
            channels: BTreeSet::new(),
            quit: false,
        }
    }

    /// Whether AUTH is still needed.
    pub(super) fn needs_auth(&self) -> bool {
        self.password.is_some() && !self.authenticated
    }
}

/// A reply, encoded with the engine's [`Out`] in the connection's protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A status line.
    Status(String),
    /// A bulk string.
    Bulk(String),
    /// An integer.
    Int(i64),
    /// An error line (`ERR …`, `NOAUTH …`).
    Error(String),
    /// An array.
    Array(Vec<Reply>),
    /// A map (a flat array in RESP2).
    Map(Vec<(String, Reply)>),
    /// An out-of-band push (an array in RESP2).
    Push(Vec<Reply>),
    /// Several replies in a row (one per channel of SUBSCRIBE).
    Many(Vec<Reply>),
}

impl Reply {
    fn write(&self, out: &mut Out) {
        match self {
            Reply::Ok => out.ok(),
            Reply::Status(s) => out.simple(s),
            Reply::Bulk(s) => out.bulk(s.as_bytes()),
            Reply::Int(i) => out.int(*i),
            Reply::Error(e) => out.error(e),
            Reply::Array(items) => {
                out.array(items.len());
                items.iter().for_each(|i| i.write(out));
            }
            Reply::Map(pairs) => {
                out.map(pairs.len());
                for (k, v) in pairs {
                    out.bulk(k.as_bytes());
                    v.write(out);
                }
            }
            Reply::Push(items) => {
                out.push(items.len());
                items.iter().for_each(|i| i.write(out));
            }
            Reply::Many(replies) => replies.iter().for_each(|r| r.write(out)),
        }
    }

    /// An error reply: `message` as is when it starts with an error code (`NOAUTH …`), else
    /// `ERR message`.
    pub(super) fn err(message: impl Into<String>) -> Reply {
        let m = message.into();
        if m.split_once(' ')
            .is_some_and(|(code, _)| code.chars().all(|c| c.is_ascii_uppercase()))
        {
            Reply::Error(m)
        } else {
            Reply::Error(format!("ERR {m}"))
        }
    }
}

fn check_password(s: &mut Session, user: Option<&str>, password: &str) -> Result<(), Reply> {
    let Some(expected) = &s.password else {
        return Err(Reply::Error(AUTH_WITHOUT_PASSWORD.to_owned()));
    };
    if user.is_none_or(|u| u == "default") && constant_time_eq(password, expected) {
        s.authenticated = true;
        Ok(())
    } else {
        Err(Reply::Error(WRONGPASS.to_owned()))
    }
}

/// Compares without stopping at the first difference (the time taken says nothing about how much
/// of a guess was right).
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn ping(s: &mut Session, a: &[String]) -> Reply {
    match (a.get(1), s.channels.is_empty() || s.resp3) {
        (Some(m), true) => Reply::Bulk(m.clone()),
        (None, true) => Reply::Status("PONG".to_owned()),
        // In RESP2 subscribed mode, PING answers as a pub/sub message.
        (m, false) => Reply::Array(vec![
            Reply::Bulk("pong".to_owned()),
            Reply::Bulk(m.cloned().unwrap_or_default()),
        ]),
    }
}

pub(super) fn auth(s: &mut Session, a: &[String]) -> Reply {
    let result = match a {
        [_, password] => check_password(s, None, password),
        [_, user, password] => check_password(s, Some(user), password),
        _ => return Reply::err("syntax error"),
    };
    result.map_or_else(|e| e, |()| Reply::Ok)
}

pub(super) fn hello(s: &mut Session, a: &[String]) -> Reply {
    let mut rest = a.iter().skip(1);
    let mut proto = if s.resp3 { 3 } else { 2 };
    if let Some(v) = rest.next() {
        proto = match v.as_str() {
            "2" => 2,
            "3" => 3,
            _ => return Reply::Error("NOPROTO unsupported protocol version".to_owned()),
        };
    }
    while let Some(opt) = rest.next() {
        if opt.eq_ignore_ascii_case("AUTH") {
            let (Some(user), Some(pass)) = (rest.next(), rest.next()) else {
                return Reply::err("syntax error in HELLO option 'AUTH'");
            };
            if let Err(e) = check_password(s, Some(user), pass) {
                return e;
            }
        } else if opt.eq_ignore_ascii_case("SETNAME") {
            if rest.next().is_none() {
                return Reply::err("syntax error in HELLO option 'SETNAME'");
            }
        } else {
            return Reply::err(format!("syntax error in HELLO option '{opt}'"));
        }
    }
    if s.needs_auth() {
        return Reply::Error(NOAUTH_HELLO.to_owned());
    }
    s.resp3 = proto == 3;
    Reply::Map(vec![
        (
            "server".to_owned(),
            Reply::Bulk("redlink-control".to_owned()),
        ),
        (
            "version".to_owned(),
            Reply::Bulk(env!("CARGO_PKG_VERSION").to_owned()),
        ),
        ("proto".to_owned(), Reply::Int(proto)),
        ("id".to_owned(), Reply::Int(0)),
        ("mode".to_owned(), Reply::Bulk("standalone".to_owned())),
        ("role".to_owned(), Reply::Bulk("master".to_owned())),
        ("modules".to_owned(), Reply::Array(Vec::new())),
    ])
}

pub(super) fn quit(s: &mut Session, _: &[String]) -> Reply {
    s.quit = true;
    Reply::Ok
}

/// CLIENT SETNAME/SETINFO (client libraries send them at connect): accepted, nothing to keep.
pub(super) fn client(_: &mut Session, a: &[String]) -> Reply {
    let sub = a[1].to_ascii_uppercase();
    match sub.as_str() {
        "SETNAME" | "SETINFO" => Reply::Ok,
        _ => Reply::err(format!(
            "unknown subcommand '{}'. Try HELP.",
            a[1].chars().take(128).collect::<String>()
        )),
    }
}

pub(super) fn select(_: &mut Session, a: &[String]) -> Reply {
    if a[1] == "0" {
        Reply::Ok
    } else {
        Reply::err("DB index is out of range")
    }
}

pub(super) fn command(_: &mut Session, _: &[String]) -> Reply {
    Reply::Array(Vec::new())
}

pub(super) fn help(_: &mut Session, _: &[String]) -> Reply {
    Reply::Array(
        verbs::COMMANDS
            .iter()
            .map(|c| Reply::Status(format!("{} {} — {}", c.name, c.usage, c.summary)))
            .collect(),
    )
}

fn subscription_reply(kind: &str, channel: &str, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::Bulk(kind.to_owned()),
        Reply::Bulk(channel.to_owned()),
        Reply::Int(i64::try_from(count).unwrap_or(i64::MAX)),
    ])
}

pub(super) fn subscribe(s: &mut Session, a: &[String]) -> Reply {
    let mut replies = Vec::new();
    for channel in &a[1..] {
        s.channels.insert(channel.clone());
        replies.push(subscription_reply("subscribe", channel, s.channels.len()));
    }
    Reply::Many(replies)
}

pub(super) fn unsubscribe(s: &mut Session, a: &[String]) -> Reply {
    let channels: Vec<String> = if a.len() > 1 {
        a[1..].to_vec()
    } else {
        s.channels.iter().cloned().collect()
    };
    if channels.is_empty() {
        return Reply::Push(vec![
            Reply::Bulk("unsubscribe".to_owned()),
            Reply::Bulk(String::new()),
            Reply::Int(0),
        ]);
    }
    let mut replies = Vec::new();
    for channel in channels {
        s.channels.remove(&channel);
        replies.push(subscription_reply(
            "unsubscribe",
            &channel,
            s.channels.len(),
        ));
    }
    Reply::Many(replies)
}

/// The next event when subscribed; never otherwise.
async fn next_event(events: &mut Option<EventStream>) -> Option<crate::Event> {
    match events {
        Some(e) => e.next().await,
        None => std::future::pending().await,
    }
}

/// When the connection is closed if nothing happens: the end of the time to authenticate, else
/// `idle_timeout` after the last request; never for a subscriber.
fn deadline(
    s: &Session,
    connected: Instant,
    last_input: Instant,
    limits: &ControlLimits,
) -> Option<Instant> {
    if s.needs_auth() {
        Some(connected + limits.auth_timeout)
    } else if s.channels.is_empty() {
        Some(last_input + limits.idle_timeout)
    } else {
        None
    }
}

/// Serves one control connection.
pub(super) async fn serve(
    mut stream: TcpStream,
    world: &RunningWorld,
    password: Option<&str>,
    limits: &ControlLimits,
) -> std::io::Result<()> {
    let mut session = Session::new(password);
    let mut requests = Requests::new(QUERY_LIMIT);
    let mut events: Option<EventStream> = None;
    let connected = Instant::now();
    let mut last_input = connected;
    loop {
        let mut out = Out::new(session.resp3);
        loop {
            let parse_limits = Limits {
                unauthenticated: session.needs_auth(),
                max_bulk: MAX_BULK,
            };
            let args: Vec<String> = match requests.next(parse_limits) {
                Ok(Some(args)) => args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
                Ok(None) => break,
                Err(Close::Protocol(e)) => {
                    out.error(&format!("ERR {}", e.0));
                    stream.write_all(&out.buf).await?;
                    return Ok(());
                }
                Err(Close::CrossProtocol) => {
                    // As redis-server: the replies still pending are dropped, nothing is answered.
                    warn!("control API: {CROSS_PROTOCOL_WARNING}");
                    return Ok(());
                }
                Err(Close::QueryBufferLimit) => {
                    warn!("control API: closing a client that reached max query buffer length");
                    return Ok(());
                }
            };
            let reply = verbs::execute(world, &mut session, &args).await;
            // HELLO may have switched the protocol: encode with the new one.
            out.resp3 = session.resp3;
            reply.write(&mut out);
            if session.quit {
                stream.write_all(&out.buf).await?;
                return Ok(());
            }
        }
        if !out.buf.is_empty() {
            stream.write_all(&out.buf).await?;
        }
        let wants_events = session.channels.contains(EVENTS_CHANNEL);
        if wants_events && events.is_none() {
            events = Some(world.events());
        } else if !wants_events {
            events = None;
        }
        let until = deadline(&session, connected, last_input, limits);
        tokio::select! {
            read = requests.read_from(&mut stream) => {
                if read? == 0 {
                    return Ok(());
                }
                last_input = Instant::now();
            }
            event = next_event(&mut events) => {
                let Some(event) = event else {
                    // The world stopped.
                    return Ok(());
                };
                let mut out = Out::new(session.resp3);
                Reply::Push(vec![
                    Reply::Bulk("message".to_owned()),
                    Reply::Bulk(EVENTS_CHANNEL.to_owned()),
                    Reply::Bulk(event.to_json()),
                ])
                .write(&mut out);
                stream.write_all(&out.buf).await?;
            }
            _ = tokio::time::sleep_until(until.unwrap_or(connected)), if until.is_some() => {
                debug!(
                    authenticated = !session.needs_auth(),
                    "closing an idle control connection"
                );
                return Ok(());
            }
        }
    }
}
