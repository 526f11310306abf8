//! The command table and dispatcher, shaped like Redis's own: each [`crate::spec`] entry (name,
//! arity, flags, ACL categories, key specs, docs, subcommands) bound by name to its handler, one
//! module per family (each exposes `HANDLERS`: `(name, handler)` pairs). [`execute`] applies the
//! checks redis-server applies before calling a handler (unknown command or subcommand, arity,
//! authentication, ACL, maxmemory, subscribed mode, MULTI queueing) with Redis's exact error texts,
//! reading every property from the entry.

pub mod acl;
pub mod bitmaps;
pub mod blocking;
pub mod clock;
pub mod cluster;
pub mod coll;
pub mod command;
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

use crate::spec::Spec;
pub use crate::spec::flag;

/// A command handler.
pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

/// One entry of the command table: a [`Spec`] (everything Redis knows about the command) bound
/// to the handler that implements it. A container's subcommands are entries of their own, bound
/// to the container's handler. Derefs to the spec (`cmd.name`, `cmd.flags`, `cmd.arity`...).
#[derive(Debug)]
pub struct Command {
    /// The spec.
    pub spec: &'static Spec,
    /// The implementation.
    pub handler: Handler,
    /// The subcommands (a container's).
    pub subcommands: &'static [Command],
}

impl std::ops::Deref for Command {
    type Target = Spec;
    #[inline]
    fn deref(&self) -> &Spec {
        self.spec
    }
}

impl Command {
    /// The subcommand named `arg`, case-insensitively.
    pub fn sub(&self, arg: &[u8]) -> Option<&Command> {
        self.subcommands
            .iter()
            .find(|c| c.spec.sub_name.as_bytes().eq_ignore_ascii_case(arg))
    }
}

/// The handlers of every family, by command name.
const FAMILIES: [&[(&str, Handler)]; 22] = [
    command::HANDLERS,
    acl::HANDLERS,
    blocking::HANDLERS,
    pubsub::HANDLERS,
    connection::HANDLERS,
    server::HANDLERS,
    strings::HANDLERS,
    keys::HANDLERS,
    transactions::HANDLERS,
    hashes::HANDLERS,
    lists::HANDLERS,
    sets::HANDLERS,
    zsets::HANDLERS,
    bitmaps::HANDLERS,
    hyperloglog::HANDLERS,
    sort::HANDLERS,
    geo::HANDLERS,
    diagnostics::HANDLERS,
    dump::HANDLERS,
    streams::HANDLERS,
    scripting::HANDLERS,
    cluster::HANDLERS,
];

fn bind(spec: &'static Spec, handler: Handler) -> Command {
    let subs: Vec<Command> = spec.subcommands.iter().map(|s| bind(s, handler)).collect();
    Command {
        spec,
        handler,
        subcommands: Box::leak(subs.into_boxed_slice()),
    }
}

/// Every command, by lower-case name: each spec of [`crate::spec::SPECS`] bound to its handler
/// (a spec without a handler is left out: redlink never advertises what it does not serve).
pub static TABLE: LazyLock<HashMap<&'static [u8], &'static Command, ahash::RandomState>> =
    LazyLock::new(|| {
        FAMILIES
            .iter()
            .flat_map(|f| f.iter())
            .filter_map(|(name, handler)| {
                let spec = *crate::spec::SPECS.get(name)?;
                let cmd: &'static Command = Box::leak(Box::new(bind(spec, *handler)));
                Some((spec.name.as_bytes(), cmd))
            })
            .collect()
    });

/// Find a command by name, case-insensitively (a container itself, not its subcommand).
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    TABLE.get(&buf[..name.len()]).copied()
}

/// Redis's `lookupCommand`: the command of a call, the subcommand for a container called with
/// arguments (`None` when either is unknown).
pub fn lookup_call(args: &[&[u8]]) -> Option<&'static Command> {
    let cmd = lookup(args.first()?)?;
    match args.get(1) {
        Some(sub) if cmd.is_container() => cmd.sub(sub),
        _ => Some(cmd),
    }
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
        self.db().lock(key, self.now).touching(self.touches())
    }

    /// Lock the shards of several keys.
    pub fn lock_keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Locked<'a> {
        self.db().lock_keys(keys, self.now).touching(self.touches())
    }

    /// Whether this command's reads update the keys' LRU/LFU: not under CLIENT NO-TOUCH, except
    /// for TOUCH itself (Redis 7.2).
    #[inline]
    fn touches(&self) -> bool {
        !self.client.no_touch || self.client.last_cmd == Some("touch")
    }

    /// Hold the keyspace exclusively, unless EXEC already does.
    pub fn exclusive(&self) -> Option<ExclusiveGate<'a>> {
        if self.in_exec || crate::propagate::holds_gate() {
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
            deadline: timeout.map(|t| {
                let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
                self.engine.clock().now_ms().saturating_add(ms)
            }),
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

    /// Publish the keyspace notification `event` of `class` about `key` of the selected database
    /// (Redis's `notifyKeyspaceEvent`; one relaxed load when the class is off).
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.engine
            .store
            .notify
            .emit(class, event, key, self.client.db);
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

/// Redis's `addReplySubcommandSyntaxError`: what a container's handler answers when a subcommand's
/// arguments fit its arity but not its form (`CLIENT PAUSE 1 WRITE x`).
pub fn subcommand_syntax_error(container: &str, given: &[u8]) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&given[..given.len().min(128)]),
        container.to_ascii_uppercase()
    ))
}

/// "unknown subcommand" for a container command (`Try CLIENT HELP.`), the argument cut at 128
/// bytes like Redis's `%.128s`.
pub fn unknown_subcommand(container: &str, given: &[u8]) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&given[..given.len().min(128)]),
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
    execute_command(ctx, args);
    if ctx.engine.tracking.active() {
        tracking_after(ctx, args);
    }
}

/// CLIENT TRACKING at the end of a top-level command (Redis's `afterCommand`, `resetClient` and
/// `beforeSleep`): the keys it changed are invalidated, the BCAST prefixes broadcast, CLIENT
/// CACHING ends (unless it was a CLIENT command or the client is in MULTI), and the messages for
/// the client itself follow its reply.
#[cold]
fn tracking_after(ctx: &mut Ctx, args: &[&[u8]]) {
    let id = ctx.client.handle.id;
    let tracking = &ctx.engine.tracking;
    let changed = ctx.engine.store.events.take_tracked();
    if !changed.is_empty() {
        tracking.invalidate(Some(id), &changed);
    }
    tracking.broadcast(Some(id));
    let keep = ctx.client.multi.is_some() || args.first().is_some_and(|a| is(a, "client"));
    tracking.command_done(id, keep);
    write_tracking_pending(ctx);
}

/// Write the tracking messages waiting for this client (as pushes: CLIENT REPLY OFF keeps them).
fn write_tracking_pending(ctx: &mut Ctx) {
    for push in ctx.engine.tracking.take_pending(ctx.client.handle.id) {
        let start = ctx.out.push_begin();
        push.encode(ctx.out);
        ctx.out.push_end(start);
    }
}

fn execute_command(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(name) = args.first() else {
        return;
    };
    // Cluster mode's ASKING lasts for one command (the whole transaction inside MULTI).
    let asking = ctx.client.asking;
    if asking && ctx.client.multi.is_none() {
        ctx.client.asking = false;
    }
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
    // A disabled command (`rename-command NAME ""`) is unknown, as in redis-server.
    let Some(mut cmd) = lookup(name).filter(|c| {
        !ctx.engine.disabled.contains(c.name) || crate::disabled::exempt(&ctx.client.handle)
    }) else {
        ctx.client.multi_error |= ctx.client.multi.is_some();
        ctx.client.pending_stats.errors += 1;
        ctx.engine.stats.count_error_kind(b"ERR");
        ctx.out.error_bytes(&unknown_command(args));
        return;
    };
    // A container called with arguments runs its subcommand's entry (own arity, flags, ACL).
    if cmd.is_container()
        && let Some(sub) = args.get(1)
    {
        match cmd.sub(sub) {
            Some(s) => cmd = s,
            None if crate::maint::is_command(ctx.engine, cmd.name, sub) => {
                if let Err(e) = crate::maint::client_maint_notifications(ctx, args) {
                    reply_error(ctx, e);
                }
                return;
            }
            None => {
                ctx.client.multi_error |= ctx.client.multi.is_some();
                reply_error(ctx, unknown_subcommand(cmd.name, sub));
                return;
            }
        }
    }
    if !cmd.arity_ok(args.len()) {
        reject(ctx, cmd, args, arity_error(cmd.name));
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
        ctx.engine.emit(
            crate::EngineEventKind::NoAuth {
                command: cmd.name.to_string(),
            },
            &ctx.client.handle.ctx,
        );
        reject(ctx, cmd, args, err::NOAUTH);
        return;
    }
    // Redis's `no-multi` commands (SAVE, SHUTDOWN): refused inside MULTI, which then fails at EXEC.
    if ctx.client.multi.is_some() && cmd.flags & flag::NO_MULTI != 0 {
        ctx.client.multi_error = true;
        ctx.engine.cmdstats.rejected(cmd.spec);
        reply_error(
            ctx,
            Error::from("ERR Command not allowed inside a transaction"),
        );
        return;
    }
    // ACL, then maxmemory (Redis's processCommand order: after authentication, before the Pub/Sub
    // context check and MULTI queueing).
    if let Err(e) = acl::check_permissions(ctx, cmd, args, "toplevel") {
        reject(ctx, cmd, args, e);
        return;
    }
    // Cluster mode: keys must be in a slot this node serves (Redis's processCommand: after ACL,
    // before maxmemory). A redirected EXEC discards its transaction; a redirected command being
    // queued fails it.
    // The master client (a replica applying its primary's stream) is obeyed, as Redis's
    // `mustObeyClient`. A blocked client's retry keeps an import it was let into by ASKING.
    // The node's fence is held from the check until the command has run (see `Membership::fence`;
    // recursive: a nested call never waits behind a migration that waits for this command).
    let membership = ctx.engine.cluster.get();
    let _fence = membership.map(|m| m.fence.read_recursive());
    if let Some(m) = membership
        && crate::cluster::redirect::applies(cmd)
        && ctx
            .client
            .handle
            .kind
            .load(std::sync::atomic::Ordering::Relaxed)
            != crate::client::kind::MASTER
        && let Err(e) = crate::cluster::redirect::route(ctx, m, cmd, args, asking || ctx.retry)
    {
        if cmd.flags & flag::RUNS_QUEUE != 0 {
            transactions::discard_transaction(ctx.engine, ctx.client);
        } else {
            ctx.client.multi_error |= ctx.client.multi.is_some();
        }
        ctx.engine.cmdstats.rejected(cmd.spec);
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
        && !evict_tracked(ctx)
        && denied_on_oom(ctx, cmd)
        // A replica applies its primary's writes whatever its memory (replica-ignore-maxmemory).
        && ctx.client.handle.kind.load(std::sync::atomic::Ordering::Relaxed)
            != crate::client::kind::MASTER
    {
        reject(ctx, cmd, args, Error::msg(crate::evict::OOM));
        return;
    }
    // Redis's processCommand bounds the tracking table here, before every command (queued ones
    // too); invalidations for this client come before its reply.
    if ctx.engine.tracking.active() {
        ctx.engine
            .tracking
            .limit_used_slots(Some(ctx.client.handle.id));
        write_tracking_pending(ctx);
    }
    // After a failed background save (one relaxed load otherwise), as Redis's processCommand.
    if let Some(e) = denied_on_disk_error(ctx, cmd) {
        reject(ctx, cmd, args, e);
        return;
    }
    // `min-replicas-to-write`: writes need that many replicas online and not lagging, as in Redis.
    if ctx
        .engine
        .hot
        .min_replicas_to_write
        .load(std::sync::atomic::Ordering::Relaxed)
        != 0
        && writes(ctx, cmd)
        && !crate::replication::primary::enough_good_replicas(ctx.engine)
    {
        reject(ctx, cmd, args, Error::msg(NOREPLICAS));
        return;
    }
    // A replica: writes of ordinary clients refused (`replica-read-only`), everything but `stale`
    // commands while the link is down with `replica-serve-stale-data no` (one relaxed load each
    // on a primary).
    if let Some(e) = denied_on_replica(ctx, cmd) {
        reject(ctx, cmd, args, e);
        return;
    }
    if !ctx.out.resp3 && ctx.client.subscriptions() > 0 && cmd.flags & flag::SUBSCRIBED_OK == 0 {
        reject(
            ctx,
            cmd,
            args,
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
        ctx.client
            .handle
            .queued
            .store(queue.len(), std::sync::atomic::Ordering::Relaxed);
        ctx.out.simple("QUEUED");
        return;
    }
    run(ctx, cmd, args);
}

/// Evictions before a command; with CLIENT TRACKING on, the evicted keys' invalidations for this
/// client come before its reply (Redis flushes `tracking_pending_keys` right after
/// `performEvictions`). False when not enough memory could be freed.
fn evict_tracked(ctx: &mut Ctx) -> bool {
    let freed = crate::evict::perform_evictions(ctx.engine, ctx.client.gate_slot);
    if ctx.engine.tracking.active() {
        let changed = ctx.engine.store.events.take_tracked();
        if !changed.is_empty() {
            ctx.engine
                .tracking
                .invalidate(Some(ctx.client.handle.id), &changed);
            write_tracking_pending(ctx);
        }
    }
    freed
}

/// The MISCONF refusal of a command, if any: writes (EXEC of a transaction holding one) and PING,
/// while the last background save failed with save points and `stop-writes-on-bgsave-error yes`,
/// or the last write to the AOF failed (Redis's `writeCommandsDeniedByDiskError`).
fn denied_on_disk_error(ctx: &Ctx, cmd: &Command) -> Option<Error> {
    if cmd.name != "ping" && !writes(ctx, cmd) {
        return None;
    }
    if crate::persist::rdb_save::writes_refused(ctx.engine) {
        return Some(Error::from(crate::persist::rdb_save::MISCONF));
    }
    ctx.engine
        .aof
        .write_error()
        .map(|e| Error::msg(format!("MISCONF Errors writing to the AOF file: {e}")))
}

/// The READONLY / MASTERDOWN refusal of a command on a replica, if any (never for the master
/// client applying the stream).
fn denied_on_replica(ctx: &Ctx, cmd: &Command) -> Option<Error> {
    use std::sync::atomic::Ordering::Relaxed;
    let repl = &ctx.engine.replication;
    let read_only = repl.read_only.load(Relaxed);
    let stale = repl.stale_refused.load(Relaxed);
    if !read_only && !stale {
        return None;
    }
    if ctx.client.handle.kind.load(Relaxed) == crate::client::kind::MASTER {
        return None;
    }
    // EXEC too when a queued command is not `stale` (the link may have gone down since).
    if stale
        && (cmd.flags & flag::STALE == 0 || queued_any(ctx, cmd, |c| c.flags & flag::STALE == 0))
    {
        return Some(Error::from(crate::replication::MASTERDOWN));
    }
    (read_only && writes(ctx, cmd)).then_some(Error::from(crate::replication::READONLY))
}

/// Redis's refusal of writes while fewer than `min-replicas-to-write` good replicas are attached.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// Whether a command writes (Redis's `is_write_command`: flagged `write`, or EXEC of a transaction
/// holding one).
fn writes(ctx: &Ctx, cmd: &Command) -> bool {
    cmd.flags & flag::WRITE != 0 || queued_any(ctx, cmd, |c| c.flags & flag::WRITE != 0)
}

/// Whether `cmd` is EXEC and a command of its queue passes `test` (Redis's `mstate.cmd_flags` and
/// `cmd_inv_flags`: EXEC is judged by what it will run).
fn queued_any(ctx: &Ctx, cmd: &Command, test: impl Fn(&Command) -> bool) -> bool {
    match ctx.client.multi.as_ref() {
        Some(queue) if cmd.flags & flag::RUNS_QUEUE != 0 => queue.iter().any(|args| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            lookup_call(&args).is_some_and(&test)
        }),
        _ => false,
    }
}

/// Whether a command is refused while memory is over `maxmemory` and nothing can be evicted: those
/// flagged `denyoom`, EXEC of a transaction holding one, and anything being queued in MULTI (the
/// queue itself grows), except EXEC, DISCARD, QUIT and RESET, as in Redis.
fn denied_on_oom(ctx: &Ctx, cmd: &Command) -> bool {
    if cmd.flags & flag::DENYOOM != 0 {
        return true;
    }
    if ctx.client.multi.is_none() {
        return false;
    }
    if cmd.flags & flag::RUNS_QUEUE != 0 {
        return queued_any(ctx, cmd, |c| c.flags & flag::DENYOOM != 0);
    }
    cmd.flags & flag::MULTI_OOM_OK == 0
}

/// Show a command to the MONITOR clients: from the client's address, or `lua` inside a script.
fn feed_monitors(ctx: &Ctx, args: &[&[u8]]) {
    let addr = if ctx.client.in_script {
        "lua".to_string()
    } else {
        ctx.client.handle.ctx.peer.to_string()
    };
    ctx.engine.pubsub.feed_monitors(ctx.client.db, &addr, args);
}

/// Run a checked command.
pub fn run(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) {
    let (errors_before, nested_before) =
        (ctx.client.pending_stats.errors, ctx.client.nested_errors);
    ctx.client.pending_stats.commands += 1;
    ctx.client.last_cmd = Some(cmd.name);
    // MONITOR (Redis 7.0's call()): a command shows once it ran (a transaction's commands before
    // its EXEC), but for scripts (`skip_monitor`), which show before the commands they run, and
    // administrative commands, which never show; a blocked command's retry does not show again.
    let monitored = ctx.engine.pubsub.monitoring() && cmd.name != "monitor" && !ctx.retry;
    if monitored && cmd.flags & flag::SKIP_MONITOR != 0 {
        feed_monitors(ctx, args);
    }
    let started = ctx
        .client
        .clock
        .take()
        .unwrap_or_else(crate::diagnostics::stopwatch::start);
    // A script makes its caller track the keys it declared once it calls a read-only command.
    let script_keys = (ctx.engine.tracking.active() && is_script(cmd)).then(|| {
        let keys = cmd
            .keys(args)
            .iter()
            .map(|k| args[k.pos].to_vec())
            .collect();
        ctx.client.tracking_script.replace(keys)
    });
    // While the propagation feed is read (AOF, replicas) a command that may write runs alone and
    // publishes its effects before letting go (crate::propagate); otherwise one relaxed load.
    let result = if ctx.engine.store.feed.active() && crate::propagate::may_propagate(cmd) {
        propagating(ctx, cmd, args)
    } else if cmd.flags & (flag::EXCLUSIVE | flag::CONNECTION) != 0 || ctx.in_exec {
        call_handler(ctx, cmd, args)
    } else {
        let _gate = ctx.engine.store.gate.shared(ctx.client.gate_slot);
        call_handler(ctx, cmd, args)
    };
    if let Some(outer) = script_keys {
        ctx.client.tracking_script = outer;
    }
    // A flush empties the tracking table even while nobody tracks (Redis's
    // `trackingInvalidateKeysOnFlush`): keys read before stay in it otherwise.
    if ctx.engine.tracking.active() || cmd.flags & flag::FLUSHES != 0 {
        track(ctx, cmd, args);
    }
    let ended = crate::diagnostics::stopwatch::start();
    ctx.client.clock = Some(ended);
    let ticks = ended.ticks_since(started);
    let handle = &ctx.client.handle;
    ctx.engine
        .diagnostics
        .command_ran(args, ticks, cmd.flags, || {
            (handle.ctx.peer.to_string(), handle.info.lock().name.clone())
        });
    if let Err(e) = result {
        ctx.client.block = None;
        reply_error(ctx, e);
    }
    if monitored && cmd.flags & (flag::SKIP_MONITOR | flag::ADMIN) == 0 {
        feed_monitors(ctx, args);
    }
    // A command that blocks counts when it is served, as in Redis.
    if ctx.client.block.is_none() || ctx.in_exec {
        // Errors this command answered itself, not those of the commands it ran (EXEC, scripts).
        let errors = ctx
            .client
            .pending_stats
            .errors
            .saturating_sub(errors_before);
        let nested = ctx.client.nested_errors.saturating_sub(nested_before);
        ctx.engine.cmdstats.ran(
            cmd.spec,
            crate::diagnostics::stopwatch::ticks_to_micros(ticks),
            errors > nested || std::mem::take(&mut ctx.client.failed_uncounted),
        );
        ctx.client.nested_errors = nested_before + errors;
    }
    // Inside EXEC (and scripts) a blocking command cannot wait: it times out at once.
    if ctx.in_exec
        && let Some(req) = ctx.client.block.take()
    {
        write_timeout_reply(ctx.out, req.on_timeout);
    }
}

/// The handler, with what Redis does around it: `keymiss` notifications before (only while that
/// class is on), encodings kept after a write to collections.
#[inline]
fn call_handler(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) -> CmdResult {
    if ctx
        .engine
        .store
        .notify
        .wants(crate::notify::class::KEY_MISS)
    {
        key_misses(ctx, cmd, args);
    }
    let r = (cmd.handler)(ctx, args);
    if cmd.flags & flag::WRITE != 0 && cmd.categories & COLLECTIONS != 0 {
        keep_encodings(ctx, cmd, args);
    }
    r
}

/// ACL categories of the commands that write collections (`@list @hash @set @sortedset @geo`).
const COLLECTIONS: u32 = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 10);

/// After a write to collections: the keys written keep the big encoding they reached (Redis never
/// converts back; see [`crate::store::Value::encoding_from`]).
fn keep_encodings(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) {
    use crate::spec::key_flag;
    // Only keys that may grow (insert or update) can reach a bigger encoding.
    for k in cmd.keys(args) {
        if k.flags & (key_flag::INSERT | key_flag::UPDATE) != 0 || k.flags == 0 {
            let key = args[k.pos];
            ctx.lock(key).raise_floor(key, crate::store::floor::NONE);
        }
    }
}

/// The `keymiss` notifications of a command (only while the `m` class is on), sent before the
/// command runs as Redis's `lookupKeyRead` sends them on its way: for every missing key a read-only
/// command reads (OBJECT excepted: it looks up without notifying; XREAD looks its keys up twice), and
/// for the write commands that read a key with `lookupKeyRead`: the sources of the *STORE commands,
/// SORT, COPY and BITOP, every key of PFMERGE, GETSET/GETEX/GETDEL, and SET with GET.
#[cold]
fn key_misses(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) {
    use crate::spec::key_flag;
    let keys = cmd.keys(args);
    let read_only = |k: &&crate::spec::KeyRef| k.flags & key_flag::RO != 0;
    let (misses, times): (Vec<&[u8]>, usize) = if cmd.flags & flag::READONLY != 0 {
        if cmd.name.starts_with("object|") {
            return;
        }
        let times = if cmd.name == "xread" { 2 } else { 1 };
        (keys.iter().map(|k| args[k.pos]).collect(), times)
    } else {
        let picked: Vec<&[u8]> = match cmd.name {
            "sort" | "copy" | "bitop" | "sinterstore" | "sunionstore" | "sdiffstore"
            | "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" | "geosearchstore"
            | "georadius" | "georadiusbymember" => {
                keys.iter().filter(read_only).map(|k| args[k.pos]).collect()
            }
            "pfmerge" | "getset" | "getex" | "getdel" => keys.iter().map(|k| args[k.pos]).collect(),
            "set" if args.iter().skip(3).any(|a| is(a, "GET")) => vec![args[1]],
            _ => return,
        };
        (picked, 1)
    };
    let db = ctx.db();
    for key in misses {
        if !db.lock(key, ctx.now).exists(key) {
            for _ in 0..times {
                ctx.notify(crate::notify::class::KEY_MISS, "keymiss", key);
            }
        }
    }
}

/// Run a command whose effects go to the propagation feed: at the top level under the exclusive
/// gate, publishing before it is released; nested (EXEC's queue, `redis.call`) into the running
/// command's collection.
#[cold]
fn propagating(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) -> CmdResult {
    use crate::propagate;
    if ctx.in_exec || propagate::holds_gate() {
        let mark = propagate::mark(ctx);
        let result = call_handler(ctx, cmd, args);
        propagate::collect(ctx, cmd, args, &mark, result.is_ok());
        return result;
    }
    let _gate = ctx.engine.store.gate.exclusive();
    let scope = propagate::Scope::enter(ctx);
    let result = call_handler(ctx, cmd, args);
    scope.finish(ctx, cmd, args, result.is_ok());
    result
}

/// EVAL, EVALSHA, FCALL and their read-only variants.
fn is_script(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Tell CLIENT TRACKING what the command changed (what the store reported, Redis's
/// `signalModifiedKey`) and read (Redis's `call`: the keys of a read-only command other than the
/// read-only script commands, or the declared keys of the script calling it), only while some
/// client tracks.
#[cold]
fn track(ctx: &mut Ctx, cmd: &'static Command, args: &[&[u8]]) {
    let id = ctx.client.handle.id;
    let tracking = &ctx.engine.tracking;
    let changed = ctx.engine.store.events.take_tracked();
    if !changed.is_empty() {
        tracking.invalidate(Some(id), &changed);
    }
    if cmd.flags & flag::FLUSHES != 0 {
        tracking.flush(Some(id));
    }
    if cmd.flags & flag::READONLY != 0 && !is_script(cmd) && cmd.flags & flag::PUBSUB == 0 {
        match &ctx.client.tracking_script {
            Some(declared) => {
                let keys: Vec<&[u8]> = declared.iter().map(|k| k.as_slice()).collect();
                tracking.remember(id, &keys);
            }
            None => {
                let keys: Vec<&[u8]> = cmd.keys(args).iter().map(|k| args[k.pos]).collect();
                tracking.remember(id, &keys);
            }
        }
    }
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

/// Redis's `rejectCommand`: a command refused before it runs fails the transaction being queued;
/// EXEC itself refused (OOM, ACL, arity, NOAUTH; in MULTI or not) discards the transaction and the
/// WATCHes and says why.
fn reject(ctx: &mut Ctx, cmd: &Command, args: &[&[u8]], e: Error) {
    ctx.engine.cmdstats.rejected(cmd.spec);
    if cmd.flags & flag::RUNS_QUEUE != 0 {
        // Redis's execCommandAbort shows the EXEC that closes the MULTI MONITOR saw.
        if ctx.engine.pubsub.monitoring() {
            feed_monitors(ctx, args);
        }
        transactions::discard_transaction(ctx.engine, ctx.client);
        reply_error(ctx, transactions::exec_abort(&e.0));
        return;
    }
    ctx.client.multi_error |= ctx.client.multi.is_some();
    reply_error(ctx, e);
}

fn reply_error(ctx: &mut Ctx, e: Error) {
    ctx.client.pending_stats.errors += 1;
    ctx.engine.stats.count_error_kind(e.0.as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_spec_has_one_handler_and_every_handler_a_spec() {
        let handlers: Vec<&str> = FAMILIES
            .iter()
            .flat_map(|f| f.iter().map(|(n, _)| *n))
            .collect();
        let unique: BTreeSet<&str> = handlers.iter().copied().collect();
        assert_eq!(unique.len(), handlers.len(), "a command bound twice");
        let specs: BTreeSet<&str> = crate::spec::SPECS.keys().copied().collect();
        assert_eq!(unique, specs);
        assert_eq!(TABLE.len(), specs.len());
    }

    #[test]
    fn a_container_call_resolves_its_subcommand() {
        let c = lookup_call(&[b"CONFIG", b"Get", b"x"]).unwrap();
        assert_eq!(c.name, "config|get");
        assert!(lookup_call(&[b"config", b"nosuch"]).is_none());
        assert_eq!(lookup_call(&[b"config"]).unwrap().name, "config");
        assert_eq!(lookup_call(&[b"get", b"k"]).unwrap().name, "get");
    }
}
