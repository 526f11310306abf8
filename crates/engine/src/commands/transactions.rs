//! MULTI / EXEC / DISCARD: queued commands run atomically, holding the keyspace gate exclusively.
//! Errors while queueing (unknown command, arity, NOAUTH) abort EXEC with EXECABORT; errors raised
//! by a command while EXEC runs do not stop the others, as in Redis. WATCHed keys that change (any
//! write, expiry, FLUSHDB...) before EXEC make it return a null reply.

use std::sync::atomic::Ordering;

use super::{CmdResult, Ctx, Error, Handler, lookup_call, run};
use crate::store::Blob;

/// Transaction commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("watch", watch),
    ("unwatch", unwatch),
    ("discard", discard),
];

fn multi(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::from("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.client.handle.queued.store(0, Ordering::Relaxed);
    ctx.client.handle.info.lock().in_multi = true;
    ctx.out.ok();
    Ok(())
}

fn end_multi(ctx: &mut Ctx) -> Option<Vec<crate::client::Queued>> {
    ctx.client.handle.info.lock().in_multi = false;
    let aborted = std::mem::take(&mut ctx.client.multi_error);
    let queue = ctx.client.multi.take();
    if aborted { None } else { queue }
}

/// Redis's `discardTransaction`: leave MULTI, drop the queue and every WATCH.
pub fn discard_transaction(engine: &crate::Engine, client: &mut crate::client::Client) {
    client.handle.info.lock().in_multi = false;
    client.multi_error = false;
    client.multi = None;
    client.unwatch(engine);
}

/// Redis's `execCommandAbort` reply: EXEC was refused before it ran. Errors Redis formats itself
/// (arity, `ERR ...`) appear without their `ERR ` code, the others (`OOM`, `BUSY`, `NOPERM`,
/// `NOAUTH`) with theirs, as redis-server 7.0 prints them.
pub fn exec_abort(error: &str) -> Error {
    let error = error.strip_prefix("ERR ").unwrap_or(error);
    Error::msg(format!(
        "EXECABORT Transaction discarded because of: {error}"
    ))
}

fn exec(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(Error::from("ERR EXEC without MULTI"));
    }
    let Some(queue) = end_multi(ctx) else {
        ctx.client.unwatch(ctx.engine);
        return Err(Error::from(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    };
    let _gate = ctx.exclusive();
    // A watched key that expired since WATCH counts as changed (Redis's isWatchedKeyExpired):
    // touching it applies lazy expiry, whose deletion fails the WATCHes not flagged expired.
    let watched = ctx.client.watched.clone();
    for (db, key) in &watched {
        ctx.engine.store.db(*db).lock(key, ctx.now).exists(key);
    }
    let dirty = ctx.client.watch_dirty.load(Ordering::Acquire);
    ctx.client.unwatch(ctx.engine);
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queue.len());
    // CLIENT LIST shows the client in MULTI (flag `x`) while EXEC runs its queue, as Redis does.
    ctx.client.handle.info.lock().in_multi = true;
    let was = std::mem::replace(&mut ctx.in_exec, true);
    for queued in &queue {
        let args: Vec<&[u8]> = queued.iter().map(|a| a.as_slice()).collect();
        match lookup_call(&args) {
            Some(command) => {
                // Permissions may have changed since the command was queued.
                match super::acl::check_permissions(ctx, command, &args, "multi") {
                    Ok(()) => run(ctx, command, &args),
                    Err(e) => {
                        ctx.client.pending_stats.errors += 1;
                        ctx.engine.stats.count_error_kind(e.0.as_bytes());
                        ctx.out.error(&e.0);
                    }
                }
            }
            None => ctx.out.error("ERR unknown command"),
        }
    }
    ctx.in_exec = was;
    ctx.client.handle.info.lock().in_multi = false;
    Ok(())
}

fn discard(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(Error::from("ERR DISCARD without MULTI"));
    }
    end_multi(ctx);
    ctx.client.unwatch(ctx.engine);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::from("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    let id = ctx.client.handle.id;
    for key in &args[1..] {
        let entry = (db, Blob::from_slice(key));
        if !ctx.client.watched.contains(&entry) {
            // A key that is there but expired is flagged (Redis's `watchedKey.expired`): its
            // deletion is no change, since it was logically gone already.
            let expired = ctx.engine.store.db(db).presence(key, ctx.now) == Some(true);
            ctx.engine
                .store
                .events
                .watch(db, key, id, ctx.client.watch_dirty.clone(), expired);
            ctx.client.watched.push(entry);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.unwatch(ctx.engine);
    ctx.out.ok();
    Ok(())
}
