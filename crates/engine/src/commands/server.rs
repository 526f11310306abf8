//! Server commands: CONFIG, INFO, DBSIZE, FLUSHDB/FLUSHALL, SWAPDB, TIME, SHUTDOWN and the RDB
//! persistence commands (SAVE, BGSAVE, LASTSAVE; the work is in [`crate::persist::rdb_save`]).

use std::sync::atomic::Ordering;

use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is};
use crate::persist::rdb_save;
use crate::store::Value;

/// Server commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("config", config),
    ("info", info),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("swapdb", swapdb),
    ("time", time),
    ("lastsave", lastsave),
    ("save", save),
    ("bgsave", bgsave),
    ("bgrewriteaof", bgrewriteaof),
    ("role", crate::replication::report::role),
    ("replicaof", replicaof),
    ("slaveof", replicaof),
    ("wait", crate::replication::primary::wait),
    ("psync", crate::replication::primary::psync),
    ("sync", crate::replication::primary::psync),
    ("replconf", crate::replication::primary::replconf),
    ("shutdown", shutdown),
    ("monitor", monitor),
    ("memory", memory),
    ("debug", debug),
    ("lolwut", lolwut),
];

fn config(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" => {
            let pairs = ctx.engine.config.read().matching(&args[2..]);
            ctx.out.map(pairs.len());
            for (k, v) in pairs {
                ctx.out.bulk(k.as_bytes());
                ctx.out.bulk(v.as_bytes());
            }
        }
        // Redis's own check (the pairs): a syntax error.
        "set" if !args.len().is_multiple_of(2) => return Err(err::SYNTAX),
        "set" => {
            // All-or-nothing, like Redis 7's multi-parameter CONFIG SET.
            let mut next = ctx.engine.config.read().clone();
            let mut listeners = false;
            let mut requirepass = false;
            let mut oom_score = false;
            // Options whose new values must be applied (sockets bound, fds found) before the
            // commit, in argument order: the error blames the first that fails, as Redis does.
            let mut to_apply: Vec<&'static str> = Vec::new();
            check_config_set_names(&args[2..])?;
            for pair in args[2..].chunks(2) {
                let name = String::from_utf8_lossy(pair[0]);
                let value = String::from_utf8_lossy(pair[1]);
                next.set(&name, &value)
                    .map_err(|e| Error::msg(format!("ERR {e}")))?;
                let Some(canonical) = crate::config::canonical_name(&name) else {
                    continue;
                };
                requirepass |= canonical == "requirepass";
                oom_score |= canonical.starts_with("oom-score-adj");
                let listener = matches!(
                    canonical,
                    "bind"
                        | "port"
                        | "tls-port"
                        | "tls-cert-file"
                        | "tls-key-file"
                        | "tls-ca-cert-file"
                        | "tls-auth-clients"
                );
                listeners |= listener;
                if (listener || canonical == "maxclients") && !to_apply.contains(&canonical) {
                    to_apply.push(canonical);
                }
            }
            if !to_apply.is_empty()
                && let Some(apply) = ctx.engine.listener_hook.read().as_ref()
            {
                apply(&next, &to_apply).map_err(|e| {
                    Error::msg(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                        e.param, e.message
                    ))
                })?;
            }
            if oom_score {
                crate::host::apply_oom_score_adj(&next).map_err(|e| {
                    Error::msg(format!(
                        "ERR CONFIG SET failed (possibly related to argument 'oom-score-adj') - {e}"
                    ))
                })?;
            }
            let aof = args[2..].chunks(2).any(|p| {
                crate::config::canonical_name(&String::from_utf8_lossy(p[0]))
                    .is_some_and(|n| n == "appendonly")
            });
            *ctx.engine.config.write() = next;
            if aof {
                crate::aof::apply_config(ctx.engine).map_err(|e| {
                    let _ = ctx.engine.config.write().set("appendonly", "no");
                    Error::msg(format!(
                        "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {e}"
                    ))
                })?;
            }
            if requirepass {
                ctx.engine.acl.forget_requirepass();
            }
            ctx.engine.refresh_hot_config();
            if listeners {
                ctx.engine.listeners_changed.send_modify(|v| *v += 1);
            }
            ctx.out.ok();
        }
        "resetstat" => {
            let s = &ctx.engine.stats;
            for c in [
                &s.commands_processed,
                &s.expired_keys,
                &s.evicted_keys,
                &s.keyspace_hits,
                &s.keyspace_misses,
                &s.net_input_bytes,
                &s.net_output_bytes,
                &s.error_replies,
                &s.rejected_connections,
                &s.connections_received,
            ] {
                c.store(0, Ordering::Relaxed);
            }
            ctx.engine.cmdstats.reset();
            s.error_kinds.lock().clear();
            ctx.out.ok();
        }
        "rewrite" => {
            let config = ctx.engine.config.read().clone();
            let Some(path) = config.file.clone() else {
                return Err(Error::from(
                    "ERR The server is running without a config file",
                ));
            };
            let users: Vec<String> = ctx
                .engine
                .acl
                .users()
                .iter()
                .map(|u| format!("user {} {}", u.name, u.describe()))
                .collect();
            crate::conffile::rewrite(&config, &path, &users)
                .map_err(|e| Error::msg(format!("ERR Rewriting config file: {e}")))?;
            ctx.out.ok();
        }
        "help" => {
            let lines = [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Print this help.",
            ];
            ctx.out.help(&lines);
        }
        // The dispatcher resolved the subcommand and checked its arity.
        _ => return Err(super::unknown_subcommand("config", args[1])),
    }
    Ok(())
}

/// CONFIG SET's first pass over the names, as Redis 7.0 runs it before looking at any value: an
/// unknown name anywhere wins (unless an earlier name already failed), then the first immutable or
/// repeated name (an alias and its canonical name count as two names, as in 7.0).
fn check_config_set_names(pairs: &[&[u8]]) -> Result<(), Error> {
    let mut seen: Vec<String> = Vec::new();
    let mut failed: Option<Error> = None;
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(pair[0]);
        let Some(mutable) = crate::config::mutable(&name) else {
            if failed.is_none() {
                return Err(Error::msg(format!(
                    "ERR {}",
                    crate::config::ConfigError::Unknown(name.to_string())
                )));
            }
            continue;
        };
        if failed.is_some() {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if !mutable {
            failed = Some(Error::msg(format!(
                "ERR {}",
                crate::config::ConfigError::Immutable(name.to_string())
            )));
        } else if seen.contains(&lower) {
            failed = Some(Error::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            )));
        }
        seen.push(lower);
    }
    failed.map_or(Ok(()), Err)
}

fn info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sections: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    // Flush this connection's counters so INFO sees its own commands.
    ctx.client.flush_stats(ctx.engine);
    let text = crate::info::render(ctx.engine, &sections);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.db().len() as i64);
    Ok(())
}

fn flush_mode(args: &[&[u8]]) -> CmdResult {
    match args.len() {
        1 => Ok(()),
        2 if is(args[1], "ASYNC") || is(args[1], "SYNC") => Ok(()),
        _ => Err(err::SYNTAX),
    }
}

fn flushdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    flush_mode(args)?;
    ctx.db().flush();
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    flush_mode(args)?;
    let _gate = ctx.exclusive();
    ctx.engine.store.flush_all();
    // Like redis-server, FLUSHALL writes the (now empty) dataset when save points are configured,
    // so a restart does not bring the flushed keys back.
    if rdb_save::has_save_points(ctx.engine)
        && let Err(e) = rdb_save::save(ctx.engine)
    {
        tracing::warn!("FLUSHALL could not save the empty dataset: {e}");
    }
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Cluster mode has database 0 only (its slot index lives there), as in Redis.
    if ctx.engine.cluster.get().is_some() {
        return Err(Error::from("ERR SWAPDB is not allowed in cluster mode"));
    }
    let a = int_arg(args[1]).map_err(|_| Error::from("ERR invalid first DB index"))?;
    let b = int_arg(args[2]).map_err(|_| Error::from("ERR invalid second DB index"))?;
    let n = ctx.engine.store.databases() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(err::DB_RANGE);
    }
    let _gate = ctx.exclusive();
    ctx.engine.store.swap(a as usize, b as usize);
    ctx.out.ok();
    Ok(())
}

fn time(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let now = ctx.engine.clock().now_us();
    ctx.out.array(2);
    ctx.out.bulk((now / 1_000_000).to_string().as_bytes());
    ctx.out.bulk((now % 1_000_000).to_string().as_bytes());
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(rdb_save::lastsave(ctx.engine) as i64);
    Ok(())
}

/// SAVE: write the dataset now; every other client waits, as with redis-server's SAVE.
fn save(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let _gate = ctx.exclusive();
    rdb_save::save(ctx.engine).map_err(|e| Error::msg(format!("ERR {e}")))?;
    ctx.out.ok();
    Ok(())
}

/// `BGSAVE [SCHEDULE]` with redis-server 7.0's replies.
fn bgsave(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !is(args[1], "SCHEDULE")) {
        return Err(err::SYNTAX);
    }
    let schedule = args.len() == 2;
    if rdb_save::bgsave_in_progress(ctx.engine) {
        return Err(Error::from("ERR Background save already in progress"));
    }
    if ctx.in_exec {
        // A snapshot cannot start inside a transaction: it starts right after it.
        rdb_save::schedule(ctx.engine);
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    let started = {
        let _gate = ctx.exclusive();
        rdb_save::bgsave(ctx.engine)
    };
    match started {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(rdb_save::BgsaveRefused::InProgress) => {
            return Err(Error::from("ERR Background save already in progress"));
        }
        Err(rdb_save::BgsaveRefused::OtherChild) if schedule => {
            rdb_save::schedule(ctx.engine);
            ctx.out.simple("Background saving scheduled");
        }
        Err(rdb_save::BgsaveRefused::OtherChild) => {
            return Err(Error::from(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
    }
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    crate::aof::bgrewrite(ctx.engine).map_err(|_| {
        Error::from("ERR Background append only file rewriting already in progress")
    })?;
    ctx.out
        .simple("Background append only file rewriting started");
    Ok(())
}

/// `REPLICAOF host port` / `REPLICAOF NO ONE` (and SLAVEOF), as Redis 7.0's replicaofCommand;
/// the primary must be on a loopback address ([`crate::replication::loopback_addr`]).
fn replicaof(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let gate_held = ctx.in_exec || crate::propagate::holds_gate();
    if is(args[1], "no") && is(args[2], "one") {
        ctx.engine.promote_holding(gate_held);
        ctx.out.ok();
        return Ok(());
    }
    if ctx.client.handle.kind.load(Ordering::Relaxed) == crate::client::kind::REPLICA {
        return Err(Error::from(
            "ERR Command is not valid when client is a replica.",
        ));
    }
    let port = match crate::protocol::parse_i64(args[2]) {
        Some(port) if (0..=65535).contains(&port) => port as u16,
        _ => return Err(Error::from("ERR Invalid master port")),
    };
    let host = String::from_utf8_lossy(args[1]).into_owned();
    match ctx.engine.replicate_from_holding(&host, port, gate_held) {
        Ok(true) => ctx.out.ok(),
        Ok(false) => ctx.out.simple("OK Already connected to specified master"),
        Err(e) => return Err(Error::msg(e.to_string())),
    }
    Ok(())
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`, as Redis 7.0: save first when SAVE is given or
/// save points are configured (NOSAVE: never); a failed save keeps the server up with Redis's
/// error unless FORCE. NOW skips waiting for lagging replicas, which redlink never does (it has no
/// `shutdown-timeout`); ABORT cancels a shutdown waiting for them, so there is never one to cancel.
fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut abort, mut nosave, mut save, mut force) = (false, false, false, false);
    for a in &args[1..] {
        if is(a, "ABORT") {
            abort = true;
        } else if is(a, "NOSAVE") {
            nosave = true;
        } else if is(a, "SAVE") {
            save = true;
        } else if is(a, "FORCE") {
            force = true;
        } else if !is(a, "NOW") {
            return Err(err::SYNTAX);
        }
    }
    if (abort && args.len() > 2) || (nosave && save) {
        return Err(err::SYNTAX);
    }
    if abort {
        return Err(Error::from("ERR No shutdown in progress."));
    }
    if let Err(e) = rdb_save::shutdown_save(ctx.engine, save, nosave) {
        if !force {
            tracing::warn!("Error trying to save the DB, can't exit: {e}");
            return Err(Error::from("ERR Errors trying to SHUTDOWN. Check logs."));
        }
        tracing::warn!("Error trying to save the DB, exiting anyway (FORCE): {e}");
    }
    tracing::info!("SHUTDOWN requested by client {}", ctx.client.handle.id);
    ctx.engine.shutdown();
    // Like Redis, the client that asked gets no reply: the connection closes.
    ctx.client.close_after_reply = true;
    Ok(())
}

fn monitor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let mailbox = ctx.client.mailbox.clone();
    ctx.engine
        .pubsub
        .add_monitor(ctx.client.handle.id, &mailbox);
    ctx.client.monitor = true;
    ctx.out.ok();
    Ok(())
}

/// Approximate memory a key uses: its name, its value and per-element overheads similar to Redis's.
fn usage(key: &[u8], v: &Value) -> usize {
    const ENTRY: usize = 48;
    ENTRY
        + key.len()
        + match v {
            Value::Str(s) => s.len(),
            Value::List(l) => l.iter().map(|e| e.len() + 11).sum::<usize>() + 32,
            Value::Hash(h) => h.iter().map(|(k, v)| k.len() + v.len() + 24).sum::<usize>() + 64,
            Value::Set(s) => s.iter().map(|(k, _)| k.len() + 16).sum::<usize>() + 64,
            Value::ZSet(z) => z.iter().map(|(m, _)| m.len() + 40).sum::<usize>() + 96,
            Value::Stream(s) => s.memory(),
        }
}

fn memory(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "usage" => {
            // Redis's option loop: `SAMPLES <count>` pairs, anything else a syntax error.
            let mut j = 3;
            while j < args.len() {
                if is(args[j], "SAMPLES") && j + 1 < args.len() {
                    if int_arg(args[j + 1])? < 0 {
                        return Err(err::SYNTAX);
                    }
                    j += 2;
                } else {
                    return Err(err::SYNTAX);
                }
            }
            let mut l = ctx.lock(args[2]);
            let n = l.get(args[2]).map(|v| usage(args[2], v));
            drop(l);
            match n {
                Some(n) => ctx.out.int(n as i64),
                None => ctx.out.null(),
            }
        }
        "doctor" => {
            ctx.out
                .verbatim(b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.");
        }
        "purge" => ctx.out.ok(),
        "malloc-stats" => ctx
            .out
            .verbatim(b"Stats not supported for the current allocator"),
        "stats" => {
            let rss = crate::info::rss_bytes() as i64;
            let keys: usize = (0..ctx.engine.store.databases())
                .map(|i| ctx.engine.store.db(i).len())
                .sum();
            ctx.out.map(6);
            ctx.out.bulk(b"peak.allocated");
            ctx.out.int(rss);
            ctx.out.bulk(b"total.allocated");
            ctx.out.int(rss);
            ctx.out.bulk(b"startup.allocated");
            ctx.out.int(0);
            ctx.out.bulk(b"clients.normal");
            ctx.out.int(0);
            ctx.out.bulk(b"keys.count");
            ctx.out.int(keys as i64);
            ctx.out.bulk(b"dataset.bytes");
            ctx.out.int(rss);
        }
        "help" => {
            let lines = [
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
                "HELP",
                "    Print this help.",
            ];
            ctx.out.help(&lines);
        }
        // The dispatcher resolved the subcommand and checked its arity.
        _ => return Err(super::unknown_subcommand("memory", args[1])),
    }
    Ok(())
}

/// DEBUG, gated by `enable-debug-command` like Redis 7 (`no` by default; `local` allows loopback
/// clients). The subcommands test suites use: SLEEP (the whole keyspace waits, as Redis's single
/// thread would), ERROR, OBJECT, PAUSE-CRON, SET-ACTIVE-EXPIRE, `RELOAD [MERGE] [NOFLUSH]
/// [NOSAVE]` (save, empty, load `dir/dbfilename`, as Redis does), JMAP.
fn debug(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let allowed = match ctx.engine.config.read().get("enable-debug-command") {
        Some("yes") => true,
        Some("local") => ctx.client.handle.ctx.peer.ip().is_loopback(),
        _ => false,
    };
    if !allowed {
        return Err(Error::from(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "sleep" if args.len() == 3 => {
            let secs = super::float_arg(args[2])?;
            let _gate = ctx.exclusive();
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
            ctx.out.ok();
        }
        "error" if args.len() == 3 => {
            return Err(Error::msg(String::from_utf8_lossy(args[2]).into_owned()));
        }
        // Redis reads the flag with atoi: no error for a non-number.
        "pause-cron" if args.len() == 3 => {
            let on = crate::protocol::parse_i64(args[2]).unwrap_or(0) != 0;
            ctx.engine.store.cron_paused.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        "set-active-expire" if args.len() == 3 => {
            let on = int_arg(args[2])? != 0;
            ctx.engine.store.active_expire.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        "object" if args.len() == 3 => {
            // Redis looks the key up in the dictionary itself: an expired key not yet deleted
            // is still there (and stays).
            let l = ctx.lock(args[2]);
            let Some(n) = l.node_raw(args[2]) else {
                return Err(Error::from("ERR no such key"));
            };
            let line = format!(
                "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:0",
                n.value.encoding_from(n.floor, &ctx.engine.store.tuning),
                usage(args[2], &n.value)
            );
            drop(l);
            ctx.out.simple(&line);
        }
        "reload" => {
            let (mut save, mut flush, mut merge) = (true, true, false);
            for a in &args[2..] {
                if is(a, "NOSAVE") {
                    save = false;
                } else if is(a, "NOFLUSH") {
                    flush = false;
                } else if is(a, "MERGE") {
                    (flush, merge) = (false, true);
                } else {
                    return Err(err::SYNTAX);
                }
            }
            let _gate = ctx.exclusive();
            rdb_save::reload(ctx.engine, save, flush, merge).map_err(Error::msg)?;
            ctx.out.ok();
        }
        "set-disable-deny-scripts" if args.len() == 3 => {
            // Redis reads it with atoi: anything but a non-zero number is 0.
            let on = crate::protocol::parse_i64(args[2]).unwrap_or(0) != 0;
            ctx.engine
                .scripting
                .deny_disabled
                .store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        "protocol" if args.len() == 3 => debug_protocol(ctx, args[2])?,
        "clock" if args.len() >= 3 => super::clock::debug_clock(ctx, &args[2..])?,
        "jmap" | "quicklist-packed-threshold" | "change-repl-id" => ctx.out.ok(),
        _ => {
            return Err(Error::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(args[1])
            )));
        }
    }
    Ok(())
}

/// `DEBUG PROTOCOL <type>`: one reply of each RESP type, Redis's samples (RESP2 gets each
/// type's RESP2 form; an attribute only goes to RESP3 clients, a push reply is refused in RESP2).
fn debug_protocol(ctx: &mut Ctx, kind: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    let kind = String::from_utf8_lossy(kind).to_ascii_lowercase();
    match kind.as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => {
            let n = b"1234567999999999999999999999999999999";
            if out.resp3 {
                out.raw(b"(");
                out.raw(n);
                out.raw(b"\r\n");
            } else {
                out.bulk(n);
            }
        }
        "null" => out.null(),
        "array" | "set" => {
            if kind == "set" {
                out.set(3);
            } else {
                out.array(3);
            }
            for j in 0..3 {
                out.int(j);
            }
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            if out.resp3 {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !out.resp3 {
                return Err(Error::from("ERR RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        _ => {
            return Err(Error::from(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ));
        }
    }
    Ok(())
}

/// LOLWUT: redis-server draws version-specific art; every version ends with the version line, which
/// is what clients check.
fn lolwut(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() >= 3 && is(args[1], "VERSION") {
        int_arg(args[2])?;
    }
    let text = format!(
        "Redis ver. {}\n",
        crate::commands::connection::REDIS_VERSION
    );
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}
