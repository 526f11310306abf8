//! The propagation feed: after each write, the commands Redis 7.0 would propagate to its AOF and
//! replicas, in effects form, as one ordered stream of RESP frames with a replication offset.
//!
//! Why a feed of its own: the AOF (`crate::aof`) and a replica stream both need the same thing, the
//! writes in the order they took effect, rewritten so that replaying them gives the same data
//! (relative expiries made absolute, random pops turned into the members popped, scripts into the
//! effects of their `redis.call`s). Each consumer ([`Consumer`]) subscribes to the one [`Feed`];
//! with none subscribed, the cost on the command path is one relaxed load.
//!
//! Ordering. While the feed is active, a command that may propagate (`write`, `may_replicate`, EXEC)
//! runs holding the keyspace gate exclusively and publishes before letting go, so the feed's order
//! is the order of execution. Keys deleted by others (lazy expiry in a read command, active expiry,
//! eviction) are published as `DEL` by whoever deletes them while holding the gate shared, so they
//! cannot interleave with a writer either. Inside a propagating command, its lazy deletions and
//! the effects of the commands it runs (EXEC's queue, `redis.call`) are collected on the thread and
//! published together, wrapped in MULTI/EXEC when there is more than one, as Redis 7.0's
//! `propagatePendingCommands` does.
//!
//! What counts as a change: the store counts modifications on the running thread ([`dirty`]); a
//! command that changed nothing propagates nothing. The rewrites follow Redis 7.0.15 (t_string.c,
//! expire.c, t_set.c, t_list.c, t_zset.c, t_stream.c), checked against its AOF files
//! (`crates/engine/tests/propagate.rs`).

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// One command's arguments.
pub type Argv = Vec<Vec<u8>>;

/// One propagated command and the database it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The database (a `SELECT` precedes the command when it differs from the previous one's).
    pub db: usize,
    /// The command.
    pub argv: Argv,
    /// For replicas only, not the AOF (PUBLISH: Redis's `PROPAGATE_REPL`).
    pub replicas_only: bool,
}

impl Op {
    fn new(db: usize, argv: &[&[u8]]) -> Op {
        Op {
            db,
            argv: argv.iter().map(|a| a.to_vec()).collect(),
            replicas_only: false,
        }
    }
}

/// A reader of the feed (the AOF, a replica stream). Called in feed order with the RESP bytes of
/// one or more commands and the feed offset after them, under the feed's lock: keep it short
/// (append to a buffer, wake a task).
pub trait Consumer: Send + Sync {
    /// Take `bytes`, which end at feed offset `offset`.
    fn append(&self, bytes: &[u8], offset: u64);

    /// Whether this consumer is the replication stream, which also carries what Redis propagates
    /// to replicas only (PUBLISH, the primary's PING and `REPLCONF GETACK`); the AOF is not.
    fn replication(&self) -> bool {
        false
    }
}

/// The feed of one engine.
#[derive(Default)]
pub struct Feed {
    active: AtomicBool,
    /// This engine is a replica: the stream is its primary's, relayed as received
    /// ([`relay`](Self::relay)); what its own commands would publish is dropped, as a Redis
    /// replica propagates only its master's stream.
    relaying: AtomicBool,
    log: Mutex<Log>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("active", &self.active())
            .field("offset", &self.offset())
            .finish()
    }
}

#[derive(Default)]
struct Log {
    /// The database of the last command sent (`None`: the next one starts with SELECT).
    db: Option<usize>,
    /// Bytes sent so far (the replication offset).
    offset: u64,
    consumers: Vec<(u64, Arc<dyn Consumer>)>,
    next_id: u64,
    scratch: Vec<u8>,
}

impl Feed {
    /// Whether anybody reads the feed (one relaxed load).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Start sending to `consumer`; the first command it receives is preceded by SELECT. Returns an
    /// id for [`unsubscribe`](Self::unsubscribe).
    pub fn subscribe(&self, consumer: Arc<dyn Consumer>) -> u64 {
        let mut log = self.log.lock();
        log.next_id += 1;
        let id = log.next_id;
        log.consumers.push((id, consumer));
        log.db = None;
        self.active.store(true, Ordering::Relaxed);
        id
    }

    /// Stop sending to the consumer `id`.
    pub fn unsubscribe(&self, id: u64) {
        let mut log = self.log.lock();
        log.consumers.retain(|(i, _)| *i != id);
        self.active
            .store(!log.consumers.is_empty(), Ordering::Relaxed);
    }

    /// The number of bytes sent so far.
    pub fn offset(&self) -> u64 {
        self.log.lock().offset
    }

    /// Make the next command start with SELECT (a consumer starts a new file).
    pub fn reselect(&self) {
        self.log.lock().db = None;
    }

    /// Relay the primary's stream (a replica): from now on the feed carries only what
    /// [`relay`](Self::relay) passes on; `false` goes back to publishing this engine's commands.
    pub fn set_relaying(&self, on: bool) {
        let mut log = self.log.lock();
        self.relaying.store(on, Ordering::Relaxed);
        log.db = None;
    }

    /// Whether the feed relays a primary's stream.
    pub fn relaying(&self) -> bool {
        self.relaying.load(Ordering::Relaxed)
    }

    /// Pass on bytes of the primary's stream as received (whole commands); `aof: false` for those
    /// Redis sends to replicas only (PING, REPLCONF, PUBLISH). The next command this engine
    /// publishes itself starts with SELECT (the relayed bytes may have changed the database).
    pub fn relay(&self, bytes: &[u8], aof: bool) {
        let mut guard = self.log.lock();
        let log = &mut *guard;
        log.db = None;
        log.offset += bytes.len() as u64;
        for (_, c) in log.consumers.iter() {
            if aof || c.replication() {
                c.append(bytes, log.offset);
            }
        }
    }

    /// Send one command to the replication stream only (the primary's PING, REPLCONF GETACK),
    /// without a SELECT: these do not depend on the database.
    pub fn publish_to_replicas<A: AsRef<[u8]>>(&self, argv: &[A]) {
        if !self.active() || self.relaying() {
            return;
        }
        let mut guard = self.log.lock();
        let log = &mut *guard;
        if !log.consumers.iter().any(|(_, c)| c.replication()) {
            return;
        }
        let mut buf = Vec::new();
        encode(&mut buf, argv);
        log.offset += buf.len() as u64;
        for (_, c) in log.consumers.iter() {
            if c.replication() {
                c.append(&buf, log.offset);
            }
        }
    }

    /// Send `ops`, wrapped in MULTI/EXEC when there are several (Redis 7.0's rule). The AOF gets
    /// the same bytes but for the commands meant for replicas only (their SELECTs included, so
    /// both readers stay in the database the feed last selected).
    pub fn publish(&self, ops: &[Op]) {
        if ops.is_empty() || self.relaying() {
            return;
        }
        let mut guard = self.log.lock();
        let log = &mut *guard;
        if log.consumers.is_empty() {
            return;
        }
        let mut buf = std::mem::take(&mut log.scratch);
        buf.clear();
        let split = ops.iter().any(|op| op.replicas_only);
        let mut aof = Vec::new();
        let wrap = ops.len() > 1;
        if wrap {
            let at = buf.len();
            select(log, &mut buf, ops[0].db);
            encode(&mut buf, &[b"MULTI"]);
            if split {
                aof.extend_from_slice(&buf[at..]);
            }
        }
        for op in ops {
            let at = buf.len();
            select(log, &mut buf, op.db);
            if split {
                aof.extend_from_slice(&buf[at..]);
            }
            let at = buf.len();
            encode(&mut buf, &op.argv);
            if split && !op.replicas_only {
                aof.extend_from_slice(&buf[at..]);
            }
        }
        if wrap {
            encode(&mut buf, &[b"EXEC"]);
            if split {
                encode(&mut aof, &[b"EXEC"]);
            }
        }
        log.offset += buf.len() as u64;
        for (_, c) in log.consumers.iter() {
            let bytes = if split && !c.replication() {
                &aof
            } else {
                &buf
            };
            if !bytes.is_empty() {
                c.append(bytes, log.offset);
            }
        }
        log.scratch = buf;
    }

    /// A command for replicas only (PUBLISH, SPUBLISH), run in database `db`: sent with the
    /// running command's effects (in a transaction's MULTI/EXEC, in order), or at once.
    pub fn replicate(&self, db: usize, argv: &[&[u8]]) {
        if !self.active() {
            return;
        }
        let mut op = Op::new(db, argv);
        op.replicas_only = true;
        if DEPTH.with(|d| d.get()) > 0 {
            PENDING.with(|p| p.borrow_mut().push(op));
        } else if self
            .log
            .lock()
            .consumers
            .iter()
            .any(|(_, c)| c.replication())
        {
            self.publish(&[op]);
        }
    }

    /// `key` of `db` was deleted by expiry or eviction: a `DEL`, sent at once, or collected with
    /// the running command's effects when one runs on this thread.
    pub fn deleted(&self, db: usize, key: &[u8]) {
        if !self.active() {
            return;
        }
        let op = Op::new(db, &[b"DEL", key]);
        if DEPTH.with(|d| d.get()) > 0 {
            PENDING.with(|p| p.borrow_mut().push(op));
        } else {
            self.publish(&[op]);
        }
    }
}

fn select(log: &mut Log, buf: &mut Vec<u8>, db: usize) {
    if log.db != Some(db) {
        let n = db.to_string();
        encode(buf, &[b"SELECT".as_slice(), n.as_bytes()]);
        log.db = Some(db);
    }
}

/// Append one command as a RESP array of bulk strings (the form of AOF files and replica streams).
pub fn encode<A: AsRef<[u8]>>(buf: &mut Vec<u8>, argv: &[A]) {
    buf.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        let a = a.as_ref();
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

thread_local! {
    /// Modifications made on this thread (the store counts them; a command compares).
    static DIRTY: Cell<u64> = const { Cell::new(0) };
    /// Propagating commands running on this thread (it holds the gate exclusively while > 0).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The effects collected for the running top-level command.
    static PENDING: RefCell<Vec<Op>> = const { RefCell::new(Vec::new()) };
    /// This thread applies a primary's stream (a replica's master client).
    static APPLYING_MASTER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the running command comes from this replica's primary (it sees keys that expired but
/// whose DEL has not arrived yet, as Redis's master client does).
#[inline]
pub fn applying_master() -> bool {
    APPLYING_MASTER.with(|a| a.get())
}

/// Marks the thread as applying a primary's stream for as long as it lives.
pub struct ApplyingMaster(());

impl ApplyingMaster {
    /// Start applying the primary's commands on this thread.
    pub fn enter() -> ApplyingMaster {
        APPLYING_MASTER.with(|a| a.set(true));
        ApplyingMaster(())
    }
}

impl Drop for ApplyingMaster {
    fn drop(&mut self) {
        APPLYING_MASTER.with(|a| a.set(false));
    }
}

/// Count a modification of the keyspace by the command running on this thread.
#[inline]
pub fn dirty() {
    DIRTY.with(|d| d.set(d.get().wrapping_add(1)));
}

/// Whether this thread runs a propagating command, holding the keyspace gate exclusively (the
/// command's handlers must not take it again).
#[inline]
pub fn holds_gate() -> bool {
    DEPTH.with(|d| d.get()) > 0
}

/// Whether a command may have effects to propagate: Redis's `write` and `may_replicate` flags,
/// and EXEC (its queue's writes).
pub fn may_propagate(cmd: &crate::commands::Command) -> bool {
    use crate::spec::flag;
    cmd.flags & (flag::WRITE | flag::MAY_REPLICATE | flag::RUNS_QUEUE) != 0 || runs_others(cmd.name)
}

/// What a command looked like before it ran.
pub struct Mark {
    dirty: u64,
    reply_at: usize,
    db: usize,
    top: bool,
}

/// Marks a command as propagating for as long as it lives (the thread holds the gate).
pub struct Scope(Mark);

impl Scope {
    /// Enter a top-level propagating command (the caller holds the gate exclusively).
    pub fn enter(ctx: &crate::commands::Ctx) -> Scope {
        DEPTH.with(|d| d.set(d.get() + 1));
        let mut m = mark(ctx);
        m.top = true;
        Scope(m)
    }

    /// Publish the command's effects (still under the gate).
    pub fn finish(
        self,
        ctx: &crate::commands::Ctx,
        cmd: &crate::commands::Command,
        args: &[&[u8]],
        ok: bool,
    ) {
        collect(ctx, cmd, args, &self.0, ok);
        let ops = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        ctx.engine.store.feed.publish(&ops);
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        if self.0.top {
            PENDING.with(|p| p.borrow_mut().clear());
        }
    }
}

/// Note the state before a nested command (in EXEC or a script) runs.
pub fn mark(ctx: &crate::commands::Ctx) -> Mark {
    Mark {
        dirty: DIRTY.with(|d| d.get()),
        reply_at: ctx.out.buf.len(),
        db: ctx.client.db,
        top: false,
    }
}

/// Collect a command's own effects after it ran (nested commands: into the running command's).
pub fn collect(
    ctx: &crate::commands::Ctx,
    cmd: &crate::commands::Command,
    args: &[&[u8]],
    mark: &Mark,
    ok: bool,
) {
    let changed = DIRTY.with(|d| d.get()) != mark.dirty;
    let reply = ctx.out.buf.get(mark.reply_at..).unwrap_or_default();
    let ops = effects(ctx, cmd, args, reply, mark.db, changed, ok);
    if ops.is_empty() {
        return;
    }
    if mark.top || holds_gate() {
        PENDING.with(|p| p.borrow_mut().extend(ops));
    } else {
        // Nested in a command that does not propagate (a read-only script): sent at once.
        ctx.engine.store.feed.publish(&ops);
    }
}

/// Commands whose effects are their callees' (collected as those run), never themselves.
fn runs_others(name: &str) -> bool {
    matches!(name, "exec" | "eval" | "evalsha" | "fcall")
}

/// Commands propagated whenever they succeed, even when the keyspace did not change (Redis's
/// `forceCommandPropagation` and non-keyspace state: functions).
fn always(name: &str) -> bool {
    matches!(
        name,
        "flushall"
            | "flushdb"
            | "swapdb"
            | "function|load"
            | "function|delete"
            | "function|flush"
            | "function|restore"
    )
}

/// Commands that changed nothing when they answer `:0` (the store counts the lookup of an
/// existing collection for update as a change).
fn zero_is_no_change(name: &str) -> bool {
    matches!(
        name,
        "sadd"
            | "srem"
            | "smove"
            | "hdel"
            | "hsetnx"
            | "zrem"
            | "lrem"
            | "xack"
            | "xdel"
            | "pfadd"
            | "setnx"
            | "msetnx"
            | "renamenx"
            | "persist"
            | "linsert"
    )
}

/// The commands Redis 7.0 propagates for one executed command.
fn effects(
    ctx: &crate::commands::Ctx,
    cmd: &crate::commands::Command,
    args: &[&[u8]],
    reply: &[u8],
    db: usize,
    changed: bool,
    ok: bool,
) -> Vec<Op> {
    let name = cmd.name;
    if runs_others(name) {
        return Vec::new();
    }
    let failed = !ok || reply.first() == Some(&b'-');
    if always(name) {
        return if failed {
            Vec::new()
        } else {
            vec![Op::new(db, args)]
        };
    }
    // Stream bookkeeping is not counted as a change (XREADGROUP, XCLAIM, XGROUP, XACK): decided
    // by the reply.
    if let Some(ops) = stream_effects(ctx, name, args, reply, db) {
        return ops;
    }
    if name == "xack" || name.starts_with("xgroup|") {
        return if failed || reply == b":0\r\n" {
            Vec::new()
        } else {
            vec![Op::new(db, args)]
        };
    }
    if !changed || (zero_is_no_change(name) && reply == b":0\r\n") {
        return Vec::new();
    }
    let now = ctx.now;
    let one = |argv: &[&[u8]]| vec![Op::new(db, argv)];
    let r = || Reply::parse(reply);
    match name {
        "expire" | "pexpire" | "expireat" | "pexpireat" if args.len() >= 3 => {
            let Some(n) = crate::protocol::parse_i64(args[2]) else {
                return one(args);
            };
            let at = match name {
                "expire" => (n as i128) * 1000 + now as i128,
                "pexpire" => n as i128 + now as i128,
                "expireat" => (n as i128) * 1000,
                _ => n as i128,
            };
            if at <= now as i128 {
                return one(&[b"DEL", args[1]]);
            }
            let at = at.to_string();
            let mut argv: Vec<&[u8]> = vec![b"PEXPIREAT", args[1], at.as_bytes()];
            argv.extend_from_slice(&args[3..]);
            one(&argv)
        }
        // Any expiry option, PXAT included, propagates as `SET key value PXAT ms` (Redis 7.0's
        // setGenericCommand rewrites them all).
        "set" => match expiry_option(&args[3..], now) {
            Some((at, _)) => {
                let at = at.to_string();
                one(&[b"SET", args[1], args[2], b"PXAT", at.as_bytes()])
            }
            // GET only shapes the reply: propagated without it.
            _ => {
                let argv: Vec<&[u8]> = args
                    .iter()
                    .enumerate()
                    .filter(|(i, a)| *i < 3 || !a.eq_ignore_ascii_case(b"GET"))
                    .map(|(_, a)| *a)
                    .collect();
                one(&argv)
            }
        },
        "setex" | "psetex" if args.len() == 4 => {
            let unit = if name == "setex" { b"EX" } else { b"PX" };
            match expiry_option(&[unit.as_slice(), args[2]], now) {
                Some((at, _)) => {
                    let at = at.to_string();
                    one(&[b"SET", args[1], args[3], b"PXAT", at.as_bytes()])
                }
                None => one(args),
            }
        }
        "getex" => {
            if args[2..].iter().any(|a| a.eq_ignore_ascii_case(b"PERSIST")) {
                return one(&[b"PERSIST", args[1]]);
            }
            match expiry_option(&args[2..], now) {
                Some((at, _)) if at <= now as i128 => one(&[b"DEL", args[1]]),
                Some((at, _)) => {
                    let at = at.to_string();
                    one(&[b"PEXPIREAT", args[1], at.as_bytes()])
                }
                None => Vec::new(),
            }
        }
        "getdel" => one(&[b"DEL", args[1]]),
        // A relative TTL becomes absolute (7.0's restoreCommand): RESTORE key <ms> payload ... ABSTTL.
        "restore"
            if args.len() >= 4
                && !args[4..].iter().any(|a| a.eq_ignore_ascii_case(b"ABSTTL"))
                && crate::protocol::parse_i64(args[2]).is_some_and(|t| t > 0) =>
        {
            let ttl = crate::protocol::parse_i64(args[2]).unwrap_or(0);
            let at = (now as i64).saturating_add(ttl).to_string();
            let mut argv: Vec<&[u8]> = vec![args[0], args[1], at.as_bytes()];
            argv.extend_from_slice(&args[3..]);
            argv.push(b"ABSTTL");
            one(&argv)
        }
        "incrbyfloat" => match r() {
            Some(Reply::Bulk(v)) => one(&[b"SET", args[1], &v, b"KEEPTTL"]),
            _ => Vec::new(),
        },
        "hincrbyfloat" => match r() {
            Some(Reply::Bulk(v)) => one(&[b"HSET", args[1], args[2], &v]),
            _ => Vec::new(),
        },
        "spop" => match r() {
            Some(Reply::Bulk(m)) => one(&[b"SREM", args[1], &m]),
            Some(Reply::Array(members)) if !members.is_empty() => {
                if ctx.db().lock(args[1], now).exists(args[1]) {
                    members
                        .iter()
                        .filter_map(|m| m.bulk())
                        .map(|m| Op::new(db, &[b"SREM", args[1], m]))
                        .collect()
                } else {
                    one(&[b"DEL", args[1]])
                }
            }
            _ => Vec::new(),
        },
        "blpop" | "brpop" => match r() {
            Some(Reply::Array(kv)) if kv.len() == 2 => match kv[0].bulk() {
                Some(key) => {
                    let pop: &[u8] = if name == "blpop" { b"LPOP" } else { b"RPOP" };
                    one(&[pop, key])
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        },
        "bzpopmin" | "bzpopmax" => match r() {
            Some(Reply::Array(kv)) if kv.len() == 3 => match kv[0].bulk() {
                Some(key) => {
                    let pop: &[u8] = if name == "bzpopmin" {
                        b"ZPOPMIN"
                    } else {
                        b"ZPOPMAX"
                    };
                    one(&[pop, key])
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        },
        "blmove" if args.len() == 6 => one(&[b"LMOVE", args[1], args[2], args[3], args[4]]),
        "brpoplpush" if args.len() == 4 => one(&[b"RPOPLPUSH", args[1], args[2]]),
        "lmpop" | "blmpop" | "zmpop" | "bzmpop" => {
            let Some(Reply::Array(kv)) = r() else {
                return Vec::new();
            };
            let (Some(key), Some(Reply::Array(popped))) =
                (kv.first().and_then(|k| k.bulk()), kv.get(1))
            else {
                return Vec::new();
            };
            // The direction follows the key list: [timeout] numkeys key... LEFT|RIGHT|MIN|MAX.
            let first = if name.starts_with('b') { 2 } else { 1 };
            let numkeys = args
                .get(first)
                .and_then(|n| crate::protocol::parse_i64(n))
                .unwrap_or(0)
                .max(0) as usize;
            let Some(dir) = args.get(first + 1 + numkeys) else {
                return Vec::new();
            };
            let pop: &[u8] = match (
                name.ends_with("lmpop"),
                dir.eq_ignore_ascii_case(b"LEFT") || dir.eq_ignore_ascii_case(b"MIN"),
            ) {
                (true, true) => b"LPOP",
                (true, false) => b"RPOP",
                (false, true) => b"ZPOPMIN",
                (false, false) => b"ZPOPMAX",
            };
            let n = popped.len().to_string();
            one(&[pop, key, n.as_bytes()])
        }
        _ => one(args),
    }
}

/// The absolute expiry (unix ms) an `EX`/`PX`/`EXAT`/`PXAT` option among `opts` sets, and whether
/// it was given as `PXAT` (then the command propagates unchanged).
fn expiry_option(opts: &[&[u8]], now: u64) -> Option<(i128, bool)> {
    let mut i = 0;
    while i < opts.len() {
        let o = opts[i];
        let value = opts.get(i + 1).and_then(|v| crate::protocol::parse_i64(v));
        let at = if o.eq_ignore_ascii_case(b"EX") {
            value.map(|v| v as i128 * 1000 + now as i128)
        } else if o.eq_ignore_ascii_case(b"PX") {
            value.map(|v| v as i128 + now as i128)
        } else if o.eq_ignore_ascii_case(b"EXAT") {
            value.map(|v| v as i128 * 1000)
        } else if o.eq_ignore_ascii_case(b"PXAT") {
            return value.map(|v| (v as i128, true));
        } else {
            None
        };
        if at.is_some() {
            return at.map(|a| (a, false));
        }
        i += 1;
    }
    None
}

/// XREADGROUP, XCLAIM and XAUTOCLAIM, as 7.0's `streamPropagateXCLAIM` / `streamPropagateGroupID`:
/// each entry delivered becomes an XCLAIM ... FORCE JUSTID LASTID (its pending-entry state), and a
/// NOACK read moves the group with XGROUP SETID ... ENTRIESREAD. `None` for other commands.
fn stream_effects(
    ctx: &crate::commands::Ctx,
    name: &str,
    args: &[&[u8]],
    reply: &[u8],
    db: usize,
) -> Option<Vec<Op>> {
    if !matches!(name, "xreadgroup" | "xclaim" | "xautoclaim") {
        return None;
    }
    if reply.first() == Some(&b'-') {
        return Some(Vec::new());
    }
    let reply = Reply::parse(reply)?;
    let mut ops = Vec::new();
    match name {
        "xreadgroup" => {
            // XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS k... id...
            let group = args.get(2)?;
            let consumer = args.get(3)?;
            let streams = args
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"STREAMS"))?;
            let noack = args[4..streams]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(b"NOACK"));
            let rest = &args[streams + 1..];
            let half = rest.len() / 2;
            let Reply::Array(per_key) = reply else {
                return Some(ops);
            };
            for entry in per_key {
                // RESP2: [key, entries]; RESP3 maps flatten the same way (see Reply::parse).
                let Reply::Array(kv) = entry else { continue };
                let (Some(key), Some(Reply::Array(entries))) =
                    (kv.first().and_then(|k| k.bulk()), kv.get(1))
                else {
                    continue;
                };
                let Some(i) = rest[..half].iter().position(|k| *k == key) else {
                    continue;
                };
                if rest[half + i] != b">" || entries.is_empty() {
                    continue;
                }
                let Some((last_id, entries_read)) = group_state(ctx, key, group) else {
                    continue;
                };
                let last = last_id.to_bytes();
                if noack {
                    let n = entries_read.to_string();
                    ops.push(Op::new(
                        db,
                        &[
                            b"XGROUP",
                            b"SETID",
                            key,
                            group,
                            &last,
                            b"ENTRIESREAD",
                            n.as_bytes(),
                        ],
                    ));
                    continue;
                }
                for e in entries {
                    let Reply::Array(e) = e else { continue };
                    let Some(id) = e.first().and_then(|i| i.bulk()) else {
                        continue;
                    };
                    if let Some(op) = xclaim_op(ctx, db, key, group, consumer, id, &last) {
                        ops.push(op);
                    }
                }
            }
        }
        _ => {
            // XCLAIM key group consumer min-idle id... [JUSTID] ...; XAUTOCLAIM key group consumer
            // min-idle start ... → [cursor, entries|ids, deleted].
            let (key, group, consumer) = (args.get(1)?, args.get(2)?, args.get(3)?);
            let Reply::Array(items) = reply else {
                return Some(ops);
            };
            let claimed: &[Reply] = if name == "xautoclaim" {
                match items.get(1) {
                    Some(Reply::Array(c)) => c,
                    _ => return Some(ops),
                }
            } else {
                &items
            };
            let (last_id, _) = group_state(ctx, key, group)?;
            let last = last_id.to_bytes();
            for c in claimed {
                let id = match c {
                    Reply::Array(e) => e.first().and_then(|i| i.bulk()),
                    other => other.bulk(),
                };
                if let Some(id) = id
                    && let Some(op) = xclaim_op(ctx, db, key, group, consumer, id, &last)
                {
                    ops.push(op);
                }
            }
        }
    }
    Some(ops)
}

/// A group's last-delivered ID and entries-read counter.
fn group_state(
    ctx: &crate::commands::Ctx,
    key: &[u8],
    group: &[u8],
) -> Option<(crate::store::StreamId, i64)> {
    let mut locked = ctx.db().lock(key, ctx.now);
    let crate::store::Value::Stream(s) = locked.get_mut_quiet(key)? else {
        return None;
    };
    let g = s.groups.get(group)?;
    Some((g.last_id, g.entries_read))
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last` for one pending
/// entry, from its state in the group's PEL.
fn xclaim_op(
    ctx: &crate::commands::Ctx,
    db: usize,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: &[u8],
    last: &[u8],
) -> Option<Op> {
    let (ms, seq) = std::str::from_utf8(id).ok()?.split_once('-')?;
    let sid = crate::store::StreamId::new(ms.parse().ok()?, seq.parse().ok()?);
    let mut locked = ctx.db().lock(key, ctx.now);
    let crate::store::Value::Stream(s) = locked.get_mut_quiet(key)? else {
        return None;
    };
    let pending = s.groups.get(group)?.pel.get(&sid)?;
    let (time, count) = (
        pending.delivery_time.to_string(),
        pending.delivery_count.to_string(),
    );
    Some(Op::new(
        db,
        &[
            b"XCLAIM",
            key,
            group,
            consumer,
            b"0",
            id,
            b"TIME",
            time.as_bytes(),
            b"RETRYCOUNT",
            count.as_bytes(),
            b"FORCE",
            b"JUSTID",
            b"LASTID",
            last,
        ],
    ))
}

/// A reply decoded just enough to read what a rewrite needs.
#[derive(Debug)]
enum Reply {
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
    Other,
}

impl Reply {
    fn bulk(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            _ => None,
        }
    }

    fn parse(buf: &[u8]) -> Option<Reply> {
        let mut pos = 0;
        Self::read(buf, &mut pos, 0)
    }

    fn read(buf: &[u8], pos: &mut usize, depth: usize) -> Option<Reply> {
        if depth > 8 {
            return None;
        }
        let kind = *buf.get(*pos)?;
        let end = *pos + buf.get(*pos..)?.windows(2).position(|w| w == b"\r\n")?;
        let line = &buf[*pos + 1..end];
        *pos = end + 2;
        match kind {
            b'$' | b'=' => {
                let n = crate::protocol::parse_i64(line)?;
                if n < 0 {
                    return Some(Reply::Other);
                }
                let body = buf.get(*pos..*pos + n as usize)?.to_vec();
                *pos += n as usize + 2;
                Some(Reply::Bulk(body))
            }
            b'+' | b',' | b':' => Some(Reply::Bulk(line.to_vec())),
            b'*' | b'~' | b'>' | b'%' => {
                let n = crate::protocol::parse_i64(line)?;
                if n < 0 {
                    return Some(Reply::Other);
                }
                // A map's pairs read as [k, v] arrays, the shape of RESP2's replies.
                if kind == b'%' {
                    let mut items = Vec::new();
                    for _ in 0..n {
                        let k = Self::read(buf, pos, depth + 1)?;
                        let v = Self::read(buf, pos, depth + 1)?;
                        items.push(Reply::Array(vec![k, v]));
                    }
                    return Some(Reply::Array(items));
                }
                let mut items = Vec::with_capacity((n as usize).min(1024));
                for _ in 0..n {
                    items.push(Self::read(buf, pos, depth + 1)?);
                }
                Some(Reply::Array(items))
            }
            _ => Some(Reply::Other),
        }
    }
}
