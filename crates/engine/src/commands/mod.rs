//! The command table and dispatcher, shaped like Redis's own: one declarative [`Command`] entry per
//! command (name, arity, flags, key positions, documentation, handler) and one module per family.
//! [`execute`] applies the checks redis-server applies before calling a handler (unknown command,
//! arity, authentication, MULTI queueing) with Redis's exact error texts.

pub mod acl;
pub mod bitmaps;
pub mod blocking;
pub mod coll;
pub mod connection;
pub mod diagnostics;
pub mod dump;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod transactions;
pub mod zsets;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::Engine;
use crate::client::{BlockRequest, Client, TimeoutReply};
use crate::protocol::Out;
use crate::store::{Db, ExclusiveGate, Locked};

/// An error reply; the text starts with the error code (`ERR`, `WRONGTYPE`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, str>);

impl Error {
    /// An error with a computed text.
    pub fn msg(s: impl Into<String>) -> Error {
        Error(Cow::Owned(s.into()))
    }
}

impl From<&'static str> for Error {
    fn from(s: &'static str) -> Error {
        Error(Cow::Borrowed(s))
    }
}

/// What a handler returns: its reply is already in `ctx.out`, or an error to send instead.
pub type CmdResult = Result<(), Error>;

/// Redis's standard error texts.
pub mod err {
    use super::Error;
    use std::borrow::Cow::Borrowed;
    /// WRONGTYPE.
    pub const WRONGTYPE: Error = Error(Borrowed(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    ));
    /// Not an integer.
    pub const NOT_INT: Error = Error(Borrowed("ERR value is not an integer or out of range"));
    /// Not a float.
    pub const NOT_FLOAT: Error = Error(Borrowed("ERR value is not a valid float"));
    /// Syntax error.
    pub const SYNTAX: Error = Error(Borrowed("ERR syntax error"));
    /// INCR overflow.
    pub const OVERFLOW: Error = Error(Borrowed("ERR increment or decrement would overflow"));
    /// Missing key (RENAME).
    pub const NO_SUCH_KEY: Error = Error(Borrowed("ERR no such key"));
    /// Not authenticated.
    pub const NOAUTH: Error = Error(Borrowed(crate::session::NOAUTH));
    /// Wrong password.
    pub const WRONGPASS: Error = Error(Borrowed(crate::session::WRONGPASS));
    /// SELECT out of range.
    pub const DB_RANGE: Error = Error(Borrowed("ERR DB index is out of range"));
    /// A string would grow past proto-max-bulk-len.
    pub const TOO_BIG: Error = Error(Borrowed(
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
    ));
}

/// Command flags (a subset of Redis's).
pub mod flag {
    /// Modifies the keyspace.
    pub const WRITE: u32 = 1;
    /// Only reads.
    pub const READONLY: u32 = 1 << 1;
    /// O(1) or O(log N).
    pub const FAST: u32 = 1 << 2;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 3;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 4;
    /// Runs immediately even inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET).
    pub const NO_QUEUE: u32 = 1 << 5;
    /// Takes the keyspace gate exclusively itself (EXEC, FLUSHALL, SWAPDB...).
    pub const EXCLUSIVE: u32 = 1 << 6;
    /// May use memory (denied under maxmemory pressure).
    pub const DENYOOM: u32 = 1 << 7;
    /// Connection-level command (no keyspace access).
    pub const CONNECTION: u32 = 1 << 8;
    /// May block.
    pub const BLOCKING: u32 = 1 << 9;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 10;
    /// Loading/stale tolerant (reported by COMMAND INFO only).
    pub const LOADING: u32 = 1 << 11;
    /// Allowed while stale.
    pub const STALE: u32 = 1 << 12;
    /// Pub/Sub command (allowed in RESP2 subscribed mode when it is a (un)subscribe).
    pub const PUBSUB: u32 = 1 << 13;

    /// Names COMMAND INFO reports for the flags.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
    ];
}

/// A command handler.
pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

/// One entry of the command table.
#[derive(Debug)]
pub struct Command {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N = exactly N arguments (name included), -N = at least N.
    pub arity: i32,
    /// [`flag`] bits.
    pub flags: u32,
    /// First key argument (0 = none).
    pub first_key: i32,
    /// Last key argument (-1 = last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Documentation group (`string`, `generic`, `connection`, `server`...).
    pub group: &'static str,
    /// One-line summary (COMMAND DOCS).
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// The implementation.
    pub handler: Handler,
}

impl Command {
    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Indexes of the key arguments in `argc` arguments.
    pub fn key_indexes(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key
        };
        (self.first_key..=last.min(argc as i32 - 1))
            .step_by(self.step.max(1) as usize)
            .map(|i| i as usize)
            .collect()
    }
}

/// Shorthand for table entries.
#[allow(clippy::too_many_arguments)]
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
        since,
        handler,
    }
}

/// Every command, by lower-case name.
pub static TABLE: LazyLock<HashMap<&'static str, &'static Command, ahash::RandomState>> =
    LazyLock::new(|| {
        let families: [&'static [Command]; 20] = [
            acl::COMMANDS,
            blocking::COMMANDS,
            pubsub::COMMANDS,
            connection::COMMANDS,
            server::COMMANDS,
            strings::COMMANDS,
            keys::COMMANDS,
            transactions::COMMANDS,
            hashes::COMMANDS,
            lists::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
            bitmaps::COMMANDS,
            hyperloglog::COMMANDS,
            sort::COMMANDS,
            geo::COMMANDS,
            diagnostics::COMMANDS,
            dump::COMMANDS,
            streams::COMMANDS,
            scripting::COMMANDS,
        ];
        families
            .iter()
            .flat_map(|f| f.iter())
            .map(|c| (c.name, c))
            .collect()
    });

/// Find a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
    TABLE.get(lower).copied()
}

/// What a command runs with.
pub struct Ctx<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The calling client's state.
    pub client: &'a mut Client,
    /// Where replies go.
    pub out: &'a mut Out,
    /// The time the command runs at (unix ms).
    pub now: u64,
    /// Running inside EXEC (the gate is already held exclusively).
    pub in_exec: bool,
    /// Running again after a blocking wait was woken (not the client's first attempt).
    pub retry: bool,
}

impl<'a> Ctx<'a> {
    /// The selected database.
    pub fn db(&self) -> &'a Db {
        self.engine_ref().store.db(self.client.db)
    }

    fn engine_ref(&self) -> &'a Engine {
        self.engine
    }

    /// Lock the shard of one key.
    pub fn lock(&self, key: &[u8]) -> Locked<'a> {
        self.db().lock(key, self.now)
    }

    /// Lock the shards of several keys.
    pub fn lock_keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Locked<'a> {
        self.db().lock_keys(keys, self.now)
    }

    /// Hold the keyspace exclusively, unless EXEC already does.
    pub fn exclusive(&self) -> Option<ExclusiveGate<'a>> {
        if self.in_exec {
            None
        } else {
            Some(self.engine_ref().store.gate.exclusive())
        }
    }

    /// Ask the connection to wait until one of `keys` changes (or `timeout` passes), then run the
    /// command again. The handler writes no reply in that case.
    pub fn block_on<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        timeout: Option<std::time::Duration>,
        on_timeout: TimeoutReply,
    ) {
        self.client.block = Some(BlockRequest {
            keys: keys.iter().map(|k| k.as_ref().to_vec()).collect(),
            deadline: timeout.map(|t| tokio::time::Instant::now() + t),
            on_timeout,
            rewrite: None,
            relay: false,
        });
    }

    /// [`block_on`](Self::block_on) for readers: a woken reader that finds nothing passes the wake-up
    /// on to the next client in line, and it runs `rewrite` instead of the original arguments.
    pub fn block_reader<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        timeout: Option<std::time::Duration>,
        rewrite: Vec<Vec<u8>>,
    ) {
        self.block_on(keys, timeout, TimeoutReply::NullArray);
        if let Some(req) = self.client.block.as_mut() {
            req.rewrite = Some(rewrite);
            req.relay = true;
        }
    }

    /// Account for a lookup (INFO keyspace_hits / keyspace_misses) and lazily expired keys.
    pub fn account(&mut self, hit: bool, locked: &Locked) {
        if hit {
            self.client.pending_stats.hits += 1;
        } else {
            self.client.pending_stats.misses += 1;
        }
        self.client.pending_stats.expired += locked.expired() as u64;
    }
}

/// The "wrong number of arguments" error for a command.
pub fn arity_error(name: &str) -> Error {
    Error::msg(crate::session::arity_error(name))
}

/// "wrong number of arguments" for a container's subcommand (`client|kill`).
pub fn sub_arity_error(container: &str, sub: &str) -> Error {
    Error::msg(format!(
        "ERR wrong number of arguments for '{container}|{sub}' command"
    ))
}

/// "unknown subcommand" for a container command (`Try CLIENT HELP.`).
pub fn unknown_subcommand(container: &str, given: &[u8]) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(given),
        container.to_ascii_uppercase()
    ))
}

/// Redis's unknown-command error, byte for byte: the name and the first arguments as raw bytes the
/// way C's `%.128s` / `%.*s` print them (each stops at a NUL byte), the argument list growing only
/// while it is under 128 bytes, each argument cut to the room left.
fn unknown_command(args: &[&[u8]]) -> Vec<u8> {
    fn c_str(a: &[u8]) -> &[u8] {
        a.iter().position(|&b| b == 0).map_or(a, |i| &a[..i])
    }
    let name = c_str(args[0]);
    let mut list = Vec::new();
    for a in args.iter().skip(1) {
        if list.len() >= 128 {
            break;
        }
        let a = c_str(a);
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&list);
    msg
}

/// Check and run (or queue) one command; its reply goes to `ctx.out`.
pub fn execute(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(name) = args.first() else {
        return;
    };
    if !ctx.in_exec && crate::session::is_cross_protocol(name) {
        // Redis's securityWarningCommand: an HTTP request (cross-protocol scripting) closes the
        // connection at once, dropping the replies still pending, and answers nothing.
        tracing::warn!(
            client = ctx.client.handle.id,
            "{}",
            crate::session::CROSS_PROTOCOL_WARNING
        );
        ctx.out.buf.clear();
        ctx.client.close_after_reply = true;
        return;
    }
    let Some(cmd) = lookup(name) else {
        ctx.client.multi_error |= ctx.client.multi.is_some();
        ctx.client.pending_stats.errors += 1;
        ctx.out.error_bytes(&unknown_command(args));
        return;
    };
    if !cmd.arity_ok(args.len()) {
        ctx.client.multi_error |= ctx.client.multi.is_some();
        reply_error(ctx, arity_error(cmd.name));
        return;
    }
    if !ctx.client.authenticated
        && cmd.flags & flag::NO_AUTH == 0
        && ctx
            .engine
            .hot
            .auth_required
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        ctx.client.multi_error |= ctx.client.multi.is_some();
        ctx.engine.emit(
            crate::EngineEventKind::NoAuth {
                command: cmd.name.to_string(),
            },
            &ctx.client.handle.ctx,
        );
        reply_error(ctx, err::NOAUTH);
        return;
    }
    // ACL, then maxmemory (Redis's processCommand order: after authentication, before the Pub/Sub
    // context check and MULTI queueing).
    if let Err(e) = acl::check_permissions(ctx, cmd, args, "toplevel") {
        ctx.client.multi_error |= ctx.client.multi.is_some();
        reply_error(ctx, e);
        return;
    }
    // With no limit this is one relaxed load.
    if ctx
        .engine
        .hot
        .maxmemory
        .load(std::sync::atomic::Ordering::Relaxed)
        != 0
        && !crate::evict::perform_evictions(ctx.engine, ctx.client.gate_slot)
        && denied_on_oom(ctx, cmd)
    {
        ctx.client.multi_error |= ctx.client.multi.is_some();
        reply_error(ctx, Error::msg(crate::evict::OOM));
        return;
    }
    if !ctx.out.resp3
        && ctx.client.subscriptions() > 0
        && !matches!(
            cmd.name,
            "subscribe"
                | "ssubscribe"
                | "psubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "punsubscribe"
                | "ping"
                | "quit"
                | "reset"
        )
    {
        reply_error(
            ctx,
            Error::msg(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                cmd.name
            )),
        );
        return;
    }
    if let Some(queue) = ctx.client.multi.as_mut()
        && cmd.flags & flag::NO_QUEUE == 0
    {
        queue.push(args.iter().map(|a| a.to_vec()).collect());
        ctx.out.simple("QUEUED");
        return;
    }
    run(ctx, cmd, args);
}

/// Whether a command is refused while memory is over `maxmemory` and nothing can be evicted: those
/// flagged `denyoom`, EXEC of a transaction holding one, and anything being queued in MULTI (the
/// queue itself grows), except EXEC, DISCARD, QUIT and RESET, as in Redis.
fn denied_on_oom(ctx: &Ctx, cmd: &Command) -> bool {
    if cmd.flags & flag::DENYOOM != 0 {
        return true;
    }
    let Some(queue) = ctx.client.multi.as_ref() else {
        return false;
    };
    if cmd.name == "exec" {
        return queue.iter().any(|args| {
            args.first()
                .and_then(|name| lookup(name))
                .is_some_and(|c| c.flags & flag::DENYOOM != 0)
        });
    }
    !matches!(cmd.name, "discard" | "quit" | "reset")
}

/// Run a checked command.
pub fn run(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) {
    ctx.client.pending_stats.commands += 1;
    ctx.client.last_cmd = Some(cmd.name);
    if ctx.engine.pubsub.monitoring() && cmd.name != "monitor" {
        let addr = ctx.client.handle.ctx.peer.to_string();
        ctx.engine.pubsub.feed_monitors(ctx.client.db, &addr, args);
    }
    let started = ctx
        .client
        .clock
        .take()
        .unwrap_or_else(crate::diagnostics::stopwatch::start);
    let result = if cmd.flags & (flag::EXCLUSIVE | flag::CONNECTION) != 0 || ctx.in_exec {
        (cmd.handler)(ctx, args)
    } else {
        let _gate = ctx.engine.store.gate.shared(ctx.client.gate_slot);
        (cmd.handler)(ctx, args)
    };
    if ctx.engine.tracking.active() {
        track(ctx, cmd, args);
    }
    let ended = crate::diagnostics::stopwatch::start();
    ctx.client.clock = Some(ended);
    let handle = &ctx.client.handle;
    ctx.engine.diagnostics.command_ran(
        args,
        ended.ticks_since(started),
        cmd.flags & flag::FAST != 0,
        || (handle.ctx.peer.to_string(), handle.info.lock().name.clone()),
    );
    if let Err(e) = result {
        ctx.client.block = None;
        reply_error(ctx, e);
    }
    // Inside EXEC (and scripts) a blocking command cannot wait: it times out at once.
    if ctx.in_exec
        && let Some(req) = ctx.client.block.take()
    {
        write_timeout_reply(ctx.out, req.on_timeout);
    }
}

/// Tell CLIENT TRACKING what the command read or wrote (only while some client tracks).
#[cold]
fn track(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) {
    use crate::tracking::Access;
    // Keys a write command writes, keys a read-only command reads; other commands (PING, CLIENT
    // ...) count as a read of nothing, which still consumes a pending CLIENT CACHING.
    let (access, keys): (Access, Vec<&[u8]>) = match cmd.name {
        "flushdb" | "flushall" | "swapdb" => (Access::Flush, Vec::new()),
        _ if cmd.flags & flag::WRITE != 0 => (
            Access::Write,
            crate::acl::key_args(cmd, args)
                .into_iter()
                .filter_map(|(k, write)| write.then_some(k))
                .collect(),
        ),
        _ if cmd.flags & flag::READONLY != 0 => (
            Access::Read,
            crate::acl::key_args(cmd, args)
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
        ),
        _ => (Access::Read, Vec::new()),
    };
    let is_caching = cmd.name == "client"
        && args
            .get(1)
            .is_some_and(|a| a.eq_ignore_ascii_case(b"caching"));
    let engine = ctx.engine;
    engine.tracking.after_command(
        ctx.client.handle.id,
        access,
        &keys,
        is_caching,
        |target, push| {
            engine
                .pubsub
                .deliver_to(crate::tracking::INVALIDATE_CHANNEL, target, push)
        },
    );
}

/// The reply of a blocking command that timed out.
pub fn write_timeout_reply(out: &mut Out, kind: TimeoutReply) {
    match kind {
        TimeoutReply::NullArray => out.null_array(),
        TimeoutReply::Null => out.null(),
    }
}

/// Parse a blocking timeout in seconds (fractions allowed); `None` = wait forever.
pub fn timeout_arg(a: &[u8]) -> Result<Option<std::time::Duration>, Error> {
    let v = parse_float(a)
        .filter(|v| v.is_finite() && *v < 1e12)
        .ok_or(Error::from("ERR timeout is not a float or out of range"))?;
    if v < 0.0 {
        return Err(Error::from("ERR timeout is negative"));
    }
    Ok((v > 0.0).then(|| std::time::Duration::from_secs_f64(v)))
}

fn reply_error(ctx: &mut Ctx, e: Error) {
    ctx.client.pending_stats.errors += 1;
    ctx.out.error(&e.0);
}

/// Parse an integer argument (Redis's `string2ll` rules).
pub fn int_arg(a: &[u8]) -> Result<i64, Error> {
    crate::protocol::parse_i64(a).ok_or(err::NOT_INT)
}

/// Parse a float argument like Redis (`inf`, `-inf` accepted; NaN rejected).
pub fn float_arg(a: &[u8]) -> Result<f64, Error> {
    parse_float(a).ok_or(err::NOT_FLOAT)
}

/// Parse a float the way Redis's `string2ld`/`strtod` accepts it.
pub fn parse_float(a: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(a).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse::<f64>().ok()?,
    };
    if v.is_nan() { None } else { Some(v) }
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}
