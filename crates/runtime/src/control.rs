//! The control API of a running world: a RESP server on loopback (any Redis client in any language
//! can drive a world from its tests), started by `redlink up`, whose address goes into the state
//! file's `control` field.
//!
//! Every command is one entry of [`COMMANDS`] (name, arity, usage, summary, handler). Changing
//! commands map 1:1 onto the timeline's [`Change`] vocabulary (or take one as JSON with
//! `WORLD.CHANGE`) and are applied through [`RunningWorld::apply_change`], so DNS answers, verdicts,
//! resets of open connections and the state file follow at once. `SUBSCRIBE redlink:events` streams
//! the world's [`crate::Event`]s as JSON strings in the pub/sub push format. With a password,
//! every command but AUTH, HELLO and QUIT answers `-NOAUTH Authentication required.` until AUTH
//! succeeds, as Redis does.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use redlink_engine::protocol::{ArgVec, Frame, Limits, Out, RequestParser};
use redlink_world::change::{
    ConfigChange, LinkChange, NewEndpoint, PolicyChange, PublicAccessChange, RecordChange,
    RecordRef, StateChange, ZoneNetwork,
};
use redlink_world::{
    BlockedAction, Change, ConnectionState, PublicNetworkAccess, ResolutionPolicy, World,
};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tracing::debug;

use crate::error::RuntimeError;
use crate::events::EventStream;
use crate::running::RunningWorld;

/// The pub/sub channel carrying the world's events.
pub const EVENTS_CHANNEL: &str = "redlink:events";

/// The largest bulk argument accepted (a JSON change is small).
const MAX_BULK: i64 = 1 << 20;

/// Where and how the control API listens.
#[derive(Clone, Debug, Default)]
pub struct ControlOptions {
    /// The address (loopback only); `None` = `127.0.0.1` on an ephemeral port.
    pub addr: Option<SocketAddr>,
    /// The password clients must give with AUTH, if any.
    pub password: Option<String>,
}

/// A running control API.
#[derive(Debug)]
pub struct ControlServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The control API's listening socket, bound before the world starts so that the first state file
/// already names it ([`crate::UpOptions::control`]).
#[derive(Debug)]
pub struct ControlListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl ControlListener {
    /// Binds `addr` (loopback only; `None` = `127.0.0.1` on an ephemeral port).
    pub async fn bind(addr: Option<SocketAddr>) -> Result<ControlListener, RuntimeError> {
        let wanted = addr.unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        if !wanted.ip().is_loopback() {
            return Err(RuntimeError::ControlAddress(wanted));
        }
        let bind_error = |source| RuntimeError::Control {
            address: wanted,
            source,
        };
        let listener = TcpListener::bind(wanted).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(ControlListener { listener, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `world` (with AUTH when `password` is given). The caller records the address in the
    /// state file ([`crate::UpOptions::control`] or [`RunningWorld::set_control`]).
    pub fn serve(self, world: Arc<RunningWorld>, password: Option<String>) -> ControlServer {
        let (stop, stopped) = oneshot::channel();
        let password: Option<Arc<str>> = password.map(Arc::from);
        let task = tokio::spawn(accept_loop(self.listener, world, password, stopped));
        ControlServer {
            addr: self.addr,
            stop,
            task,
        }
    }
}

impl ControlServer {
    /// Listens on `options.addr` (loopback only), serves `world`, and records the address in the
    /// world's state file.
    pub async fn start(
        world: Arc<RunningWorld>,
        options: ControlOptions,
    ) -> Result<ControlServer, RuntimeError> {
        let listener = ControlListener::bind(options.addr).await?;
        world.set_control(Some(listener.addr())).await?;
        Ok(listener.serve(world, options.password))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and ends every control connection (their references to the world are
    /// dropped when this returns).
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    world: Arc<RunningWorld>,
    password: Option<Arc<str>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let world = world.clone();
                    let password = password.clone();
                    conns.spawn(async move {
                        if let Err(e) = serve(stream, &world, password.as_deref()).await {
                            debug!(%peer, "control connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    debug!("control accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    conns.shutdown().await;
}

/// One connection's state.
struct Session {
    authenticated: bool,
    password: Option<String>,
    resp3: bool,
    channels: BTreeSet<String>,
    quit: bool,
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

    fn err(message: impl Into<String>) -> Reply {
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

/// What a command does.
enum Action {
    /// Answer at once.
    Reply(Reply),
    /// Apply a change to the world; answer with what was done.
    Change(Box<Change>),
    /// Answer with the state file's JSON.
    State,
    /// Answer with the connection counts by endpoint and verdict.
    Counts,
}

type SessionHandler = fn(&mut Session, &[String]) -> Reply;
type WorldHandler = fn(&World, &[String]) -> Result<Action, String>;

/// What a command's handler needs.
#[derive(Clone, Copy)]
enum Handler {
    /// The connection's own state (AUTH, HELLO, SUBSCRIBE…).
    Session(SessionHandler),
    /// The world as it is now.
    World(WorldHandler),
}

/// One entry of the command table.
pub struct Command {
    /// Its name (upper case).
    pub name: &'static str,
    /// Redis's convention: `n` exactly n arguments (the name included), `-n` at least n.
    pub arity: i32,
    /// Its arguments.
    pub usage: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Allowed before AUTH.
    pub no_auth: bool,
    handler: Handler,
}

const fn session(
    name: &'static str,
    arity: i32,
    usage: &'static str,
    summary: &'static str,
    no_auth: bool,
    h: SessionHandler,
) -> Command {
    Command {
        name,
        arity,
        usage,
        summary,
        no_auth,
        handler: Handler::Session(h),
    }
}

const fn world(
    name: &'static str,
    arity: i32,
    usage: &'static str,
    summary: &'static str,
    h: WorldHandler,
) -> Command {
    Command {
        name,
        arity,
        usage,
        summary,
        no_auth: false,
        handler: Handler::World(h),
    }
}

/// The command table.
pub const COMMANDS: &[Command] = &[
    session("PING", -1, "[message]", "PONG, or the message", false, ping),
    session(
        "AUTH",
        -2,
        "[username] password",
        "authenticate (--control-password)",
        true,
        auth,
    ),
    session(
        "HELLO",
        -1,
        "[2|3 [AUTH username password]]",
        "protocol version and authentication",
        true,
        hello,
    ),
    session("QUIT", 1, "", "close the connection", true, quit),
    session(
        "CLIENT",
        -2,
        "SETNAME|SETINFO|… args",
        "accepted and ignored (client libraries send it)",
        false,
        client,
    ),
    session("SELECT", 2, "0", "accepted (one database)", false, select),
    session(
        "COMMAND",
        -1,
        "[DOCS|COUNT]",
        "empty (redis-cli asks for it)",
        false,
        command,
    ),
    session("HELP", 1, "", "this list", true, help),
    session(
        "SUBSCRIBE",
        -2,
        "redlink:events",
        "stream the world's events as JSON strings",
        false,
        subscribe,
    ),
    session(
        "UNSUBSCRIBE",
        -1,
        "[channel...]",
        "stop streaming",
        false,
        unsubscribe,
    ),
    world("WORLD.JSON", 1, "", "the world model as JSON", world_json),
    world(
        "WORLD.STATE",
        1,
        "",
        "the state file as JSON (with every port's verdicts)",
        |_, _| Ok(Action::State),
    ),
    world(
        "WORLD.COUNTS",
        1,
        "",
        "connections seen since the world started, by endpoint and verdict (route, reset, blackhole, \
         and the engine's maxclients rejections; refusals and drops happen in the kernel, uncounted)",
        |_, _| Ok(Action::Counts),
    ),
    world(
        "WORLD.CHANGE",
        2,
        "json",
        "apply one timeline change given as JSON, e.g. {\"approve\":\"pe-hub\"}",
        world_change,
    ),
    world(
        "PE.APPROVE",
        2,
        "endpoint",
        "approve a private endpoint connection",
        |_, a| change(Change::Approve(a[1].clone())),
    ),
    world(
        "PE.REJECT",
        2,
        "endpoint",
        "reject a private endpoint connection",
        |_, a| change(Change::Reject(a[1].clone())),
    ),
    world(
        "PE.DISCONNECT",
        2,
        "endpoint",
        "disconnect a private endpoint connection",
        |_, a| change(Change::Disconnect(a[1].clone())),
    ),
    world(
        "PE.SETSTATE",
        3,
        "endpoint Pending|Approved|Rejected|Disconnected",
        "set a private endpoint connection's state",
        pe_setstate,
    ),
    world(
        "PE.CREATE",
        -4,
        "name network cache [state] [register-in-zone]",
        "create a private endpoint",
        pe_create,
    ),
    world(
        "PE.DELETE",
        2,
        "endpoint",
        "delete a private endpoint (and the records it registered)",
        |_, a| change(Change::DeleteEndpoint(a[1].clone())),
    ),
    world(
        "ZONE.CREATE",
        2,
        "zone",
        "create an empty private DNS zone",
        |_, a| change(Change::AddZone(a[1].clone())),
    ),
    world(
        "ZONE.DELETE",
        2,
        "zone",
        "delete a private DNS zone",
        |_, a| change(Change::RemoveZone(a[1].clone())),
    ),
    world(
        "ZONE.LINK",
        -3,
        "zone network [Default|NxDomainRedirect] [link-name]",
        "link a zone to a network",
        zone_link,
    ),
    world(
        "ZONE.UNLINK",
        3,
        "zone network",
        "remove a zone's link to a network",
        zone_unlink,
    ),
    world(
        "ZONE.POLICY",
        4,
        "zone network Default|NxDomainRedirect",
        "set a link's resolution policy",
        zone_policy,
    ),
    world(
        "RECORD.ADD",
        -4,
        "zone name address|endpoint [ttl]",
        "add an A record",
        record_add,
    ),
    world(
        "RECORD.REMOVE",
        3,
        "zone name",
        "remove the A records of a name",
        record_remove,
    ),
    world(
        "CACHE.SET",
        -4,
        "cache publicNetworkAccess Enabled|Disabled [refuse|drop|reset|blackhole] | cache requirepass P | cache maxclients N",
        "change a cache setting",
        cache_set,
    ),
    world("CACHE.STOP", 2, "cache", "stop a cache's engine", |_, a| {
        change(Change::Stop(a[1].clone()))
    }),
    world(
        "CACHE.START",
        2,
        "cache",
        "start a cache's engine",
        |_, a| change(Change::Start(a[1].clone())),
    ),
    world(
        "RULE.REMOVE",
        2,
        "name",
        "remove a network rule (add one with WORLD.CHANGE {\"add_rule\":{…}})",
        |_, a| change(Change::RemoveRule(a[1].clone())),
    ),
    world("TOXIC.REMOVE", 2, "name", "remove a toxic", |_, a| {
        change(Change::RemoveToxic(a[1].clone()))
    }),
];

fn change(c: Change) -> Result<Action, String> {
    Ok(Action::Change(Box::new(c)))
}

/// Parses a value of a serde enum by its spelling (`Approved`, `NxDomainRedirect`, `drop`…),
/// ignoring case.
fn parse_word<T: DeserializeOwned>(what: &str, text: &str, choices: &[&str]) -> Result<T, String> {
    let spelled = choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("{what} {text:?} is not one of {}", choices.join(", ")))?;
    serde_json::from_value(serde_json::Value::String((*spelled).to_owned()))
        .map_err(|e| format!("{what} {text:?}: {e}"))
}

fn connection_state(text: &str) -> Result<ConnectionState, String> {
    parse_word(
        "state",
        text,
        &["Pending", "Approved", "Rejected", "Disconnected"],
    )
}

fn policy(text: &str) -> Result<ResolutionPolicy, String> {
    parse_word("resolution policy", text, &["Default", "NxDomainRedirect"])
}

fn ping(s: &mut Session, a: &[String]) -> Reply {
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

const NO_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn check_password(s: &mut Session, user: Option<&str>, password: &str) -> Result<(), Reply> {
    let Some(expected) = &s.password else {
        return Err(Reply::Error(NO_PASSWORD.to_owned()));
    };
    if user.is_none_or(|u| u == "default") && password == expected {
        s.authenticated = true;
        Ok(())
    } else {
        Err(Reply::Error(WRONGPASS.to_owned()))
    }
}

fn auth(s: &mut Session, a: &[String]) -> Reply {
    let result = match a {
        [_, password] => check_password(s, None, password),
        [_, user, password] => check_password(s, Some(user), password),
        _ => return Reply::err("syntax error"),
    };
    result.map_or_else(|e| e, |()| Reply::Ok)
}

fn hello(s: &mut Session, a: &[String]) -> Reply {
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
            rest.next();
        } else {
            return Reply::err(format!("syntax error in HELLO option '{opt}'"));
        }
    }
    if s.password.is_some() && !s.authenticated {
        return Reply::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".to_owned(),
        );
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

fn quit(s: &mut Session, _: &[String]) -> Reply {
    s.quit = true;
    Reply::Ok
}

fn client(_: &mut Session, _: &[String]) -> Reply {
    Reply::Ok
}

fn select(_: &mut Session, a: &[String]) -> Reply {
    if a[1] == "0" {
        Reply::Ok
    } else {
        Reply::err("DB index is out of range")
    }
}

fn command(_: &mut Session, _: &[String]) -> Reply {
    Reply::Array(Vec::new())
}

fn help(_: &mut Session, _: &[String]) -> Reply {
    Reply::Array(
        COMMANDS
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

fn subscribe(s: &mut Session, a: &[String]) -> Reply {
    let mut replies = Vec::new();
    for channel in &a[1..] {
        s.channels.insert(channel.clone());
        replies.push(subscription_reply("subscribe", channel, s.channels.len()));
    }
    Reply::Many(replies)
}

fn unsubscribe(s: &mut Session, a: &[String]) -> Reply {
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

fn world_json(w: &World, _: &[String]) -> Result<Action, String> {
    serde_json::to_string(w)
        .map(|j| Action::Reply(Reply::Bulk(j)))
        .map_err(|e| format!("cannot serialize the world: {e}"))
}

fn world_change(_: &World, a: &[String]) -> Result<Action, String> {
    serde_json::from_str::<Change>(&a[1])
        .map(|c| Action::Change(Box::new(c)))
        .map_err(|e| format!("not a change: {e} (e.g. {{\"approve\":\"pe-hub\"}} or {{\"link\":{{\"zone\":\"…\",\"network\":\"spoke\"}}}})"))
}

fn pe_setstate(_: &World, a: &[String]) -> Result<Action, String> {
    change(Change::EndpointState(StateChange {
        endpoint: a[1].clone(),
        state: connection_state(&a[2])?,
    }))
}

fn pe_create(_: &World, a: &[String]) -> Result<Action, String> {
    if a.len() > 6 {
        return Err("syntax error".to_owned());
    }
    change(Change::CreateEndpoint(NewEndpoint {
        name: a[1].clone(),
        network: a[2].clone(),
        cache: a[3].clone(),
        state: a
            .get(4)
            .map_or(Ok(ConnectionState::Pending), |s| connection_state(s))?,
        register_in: a.get(5).cloned(),
    }))
}

fn zone_link(_: &World, a: &[String]) -> Result<Action, String> {
    if a.len() > 5 {
        return Err("syntax error".to_owned());
    }
    change(Change::Link(LinkChange {
        zone: a[1].clone(),
        network: a[2].clone(),
        name: a.get(4).cloned(),
        resolution_policy: a
            .get(3)
            .map_or(Ok(ResolutionPolicy::Default), |p| policy(p))?,
    }))
}

fn zone_unlink(_: &World, a: &[String]) -> Result<Action, String> {
    change(Change::Unlink(ZoneNetwork {
        zone: a[1].clone(),
        network: a[2].clone(),
    }))
}

fn zone_policy(_: &World, a: &[String]) -> Result<Action, String> {
    change(Change::ResolutionPolicy(PolicyChange {
        zone: a[1].clone(),
        network: a[2].clone(),
        policy: policy(&a[3])?,
    }))
}

fn record_add(_: &World, a: &[String]) -> Result<Action, String> {
    if a.len() > 5 {
        return Err("syntax error".to_owned());
    }
    let (address, endpoint) = match a[3].parse::<Ipv4Addr>() {
        Ok(ip) => (Some(ip), None),
        Err(_) => (None, Some(a[3].clone())),
    };
    let ttl = a
        .get(4)
        .map(|t| {
            t.parse::<u32>()
                .map_err(|_| format!("ttl {t:?} is not a number"))
        })
        .transpose()?;
    change(Change::AddRecord(RecordChange {
        zone: a[1].clone(),
        name: a[2].clone(),
        address,
        endpoint,
        ttl,
    }))
}

fn record_remove(_: &World, a: &[String]) -> Result<Action, String> {
    if a.len() > 4 {
        return Err("syntax error".to_owned());
    }
    let address = a
        .get(3)
        .map(|t| {
            t.parse::<Ipv4Addr>()
                .map_err(|_| format!("{t:?} is not an IPv4 address"))
        })
        .transpose()?;
    change(Change::RemoveRecord(RecordRef {
        zone: a[1].clone(),
        name: a[2].clone(),
        address,
    }))
}

fn cache_set(_: &World, a: &[String]) -> Result<Action, String> {
    let (cache, field, value) = (&a[1], a[2].to_ascii_lowercase(), &a[3]);
    let extra = a.get(4);
    if a.len() > 5 || (extra.is_some() && field != "publicnetworkaccess") {
        return Err("syntax error".to_owned());
    }
    match field.as_str() {
        "publicnetworkaccess" | "public_network_access" => {
            change(Change::PublicAccess(PublicAccessChange {
                cache: cache.clone(),
                access: parse_word::<PublicNetworkAccess>(
                    "publicNetworkAccess",
                    value,
                    &["Enabled", "Disabled"],
                )?,
                blocked_action: extra
                    .map(|b| {
                        parse_word::<BlockedAction>(
                            "blocked action",
                            b,
                            &["refuse", "drop", "reset", "blackhole"],
                        )
                    })
                    .transpose()?,
            }))
        }
        "requirepass" => change(Change::Config(ConfigChange {
            cache: cache.clone(),
            requirepass: Some(value.clone()),
            maxclients: None,
        })),
        "maxclients" => change(Change::Config(ConfigChange {
            cache: cache.clone(),
            requirepass: None,
            maxclients: Some(
                value
                    .parse()
                    .map_err(|_| format!("maxclients {value:?} is not a number"))?,
            ),
        })),
        other => Err(format!(
            "unknown cache setting {other:?} (publicNetworkAccess, requirepass, maxclients)"
        )),
    }
}

/// Runs one command.
async fn execute(world: &RunningWorld, s: &mut Session, args: &[String]) -> Reply {
    let Some(name) = args.first() else {
        return Reply::err("empty command");
    };
    let Some(cmd) = COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name)) else {
        let begins: String = args[1..].iter().map(|a| format!("'{a}' ")).collect();
        return Reply::err(format!(
            "unknown command '{name}', with args beginning with: {begins}"
        ));
    };
    let n = i32::try_from(args.len()).unwrap_or(i32::MAX);
    if (cmd.arity > 0 && n != cmd.arity) || (cmd.arity < 0 && n < -cmd.arity) {
        return Reply::err(format!(
            "wrong number of arguments for '{}' command",
            name.to_ascii_lowercase()
        ));
    }
    if s.password.is_some() && !s.authenticated && !cmd.no_auth {
        return Reply::Error("NOAUTH Authentication required.".to_owned());
    }
    if !s.channels.is_empty()
        && !s.resp3
        && !matches!(cmd.name, "PING" | "QUIT" | "SUBSCRIBE" | "UNSUBSCRIBE")
    {
        return Reply::err(format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            name.to_ascii_lowercase()
        ));
    }
    let action = match cmd.handler {
        Handler::Session(h) => return h(s, args),
        Handler::World(h) => h(&world.world(), args),
    };
    match action {
        Err(e) => Reply::err(e),
        Ok(Action::Reply(r)) => r,
        Ok(Action::State) => match serde_json::to_string(&world.state().await) {
            Ok(j) => Reply::Bulk(j),
            Err(e) => Reply::err(format!("cannot serialize the state: {e}")),
        },
        Ok(Action::Counts) => match serde_json::to_string(&world.connection_counts()) {
            Ok(j) => Reply::Bulk(j),
            Err(e) => Reply::err(format!("cannot serialize the counts: {e}")),
        },
        Ok(Action::Change(c)) => match world.apply_change(&c).await {
            Ok(done) => Reply::Bulk(done),
            Err(e) => Reply::err(e.to_string()),
        },
    }
}

/// The next event when subscribed; never otherwise.
async fn next_event(events: &mut Option<EventStream>) -> Option<crate::Event> {
    match events {
        Some(e) => e.next().await,
        None => std::future::pending().await,
    }
}

/// Serves one control connection.
async fn serve(
    mut stream: TcpStream,
    world: &RunningWorld,
    password: Option<&str>,
) -> std::io::Result<()> {
    let mut session = Session {
        authenticated: password.is_none(),
        password: password.map(str::to_owned),
        resp3: false,
        channels: BTreeSet::new(),
        quit: false,
    };
    let mut parser = RequestParser::default();
    let mut rbuf: Vec<u8> = Vec::with_capacity(4096);
    let mut events: Option<EventStream> = None;
    loop {
        tokio::select! {
            read = stream.read_buf(&mut rbuf) => {
                if read? == 0 {
                    return Ok(());
                }
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
                continue;
            }
        }
        let mut out = Out::new(session.resp3);
        let mut off = 0;
        loop {
            let limits = Limits {
                unauthenticated: !session.authenticated,
                max_bulk: MAX_BULK,
            };
            match parser.parse(&rbuf[off..], limits) {
                Ok(Frame::Command { consumed }) => {
                    let frame = &rbuf[off..off + consumed];
                    let mut borrowed = ArgVec::new();
                    parser.args(frame, &mut borrowed);
                    let args: Vec<String> = borrowed
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect();
                    off += consumed;
                    let reply = execute(world, &mut session, &args).await;
                    // HELLO may have switched the protocol: encode with the new one.
                    out.resp3 = session.resp3;
                    reply.write(&mut out);
                    if session.quit {
                        stream.write_all(&out.buf).await?;
                        return Ok(());
                    }
                }
                Ok(Frame::Skip { consumed }) => off += consumed,
                Ok(Frame::Incomplete { .. }) => break,
                Err(e) => {
                    out.error(&e.0);
                    stream.write_all(&out.buf).await?;
                    return Ok(());
                }
            }
        }
        rbuf.drain(..off);
        if !out.buf.is_empty() {
            stream.write_all(&out.buf).await?;
        }
        let wants_events = session.channels.contains(EVENTS_CHANNEL);
        if wants_events && events.is_none() {
            events = Some(world.events());
        } else if !wants_events {
            events = None;
        }
    }
}
