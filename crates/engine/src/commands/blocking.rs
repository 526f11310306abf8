//! Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
//!
//! Each handler tries once, like its non-blocking twin. When every key is empty it calls
//! [`Ctx::block_on`] and writes nothing: the connection then waits in line on those keys (see
//! `store::events`) and runs the command again when one of them changes, or replies with the
//! timeout reply. Inside MULTI/EXEC the command times out at once, as in Redis.
//!
//! Like Redis's `serveClientsBlockedOnKeys`, a woken client is served only from a key of the type it
//! waits for: after LPUSH + DEL + SET in one transaction or script, the key holds a string and the
//! client keeps waiting (with its original deadline) instead of failing with WRONGTYPE. The first
//! attempt still answers WRONGTYPE, as BLPOP on a string does.

use super::{CmdResult, Ctx, Handler, lists, timeout_arg, zsets};
use crate::client::TimeoutReply;
use crate::store::{Locked, Value};

/// After a wake-up, a key of another type counts as empty (see the module's doc). Checked with a
/// read: a write access would wake this very client again.
fn other_type(ctx: &Ctx, l: &mut Locked, key: &[u8], zset: bool) -> bool {
    ctx.retry
        && l.get(key).is_some_and(|v| match v {
            Value::List(_) => zset,
            Value::ZSet(_) => !zset,
            _ => true,
        })
}

/// Blocking commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("bzmpop", bzmpop),
];

fn bpop(ctx: &mut Ctx, args: &[&[u8]], left: bool) -> CmdResult {
    let timeout = timeout_arg(args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    let mut l = ctx.lock_keys(keys);
    for key in keys {
        if other_type(ctx, &mut l, key, false) {
            continue;
        }
        if let Some(mut popped) = lists::pop(&mut l, key, left, 1)?
            && let Some(e) = popped.pop()
        {
            drop(l);
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.bulk(&e);
            return Ok(());
        }
    }
    drop(l);
    ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    Ok(())
}

fn blpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, true)
}

fn brpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, false)
}

fn bmove(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
    timeout: &[u8],
) -> CmdResult {
    let timeout = timeout_arg(timeout)?;
    let mut l = ctx.lock_keys(&[src, dst]);
    // Only the source's type decides whether a woken client is served (a wrong destination type
    // is still an error, as in Redis).
    if !other_type(ctx, &mut l, src, false)
        && let Some(e) = lists::move_element(&mut l, src, dst, from_left, to_left)?
    {
        drop(l);
        ctx.out.bulk(&e);
        return Ok(());
    }
    drop(l);
    ctx.block_on(&[src], timeout, TimeoutReply::Null);
    Ok(())
}

fn blmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from_left = lists::parse_side(args[3])?;
    let to_left = lists::parse_side(args[4])?;
    bmove(ctx, args[1], args[2], from_left, to_left, args[5])
}

fn brpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bmove(ctx, args[1], args[2], false, true, args[3])
}

fn blmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let timeout = timeout_arg(args[1])?;
    let (keys, left, count) = lists::parse_mpop(args, 2)?;
    let mut l = ctx.lock_keys(&keys);
    for key in &keys {
        if other_type(ctx, &mut l, key, false) {
            continue;
        }
        if let Some(elems) = lists::pop(&mut l, key, left, count)?
            && !elems.is_empty()
        {
            drop(l);
            lists::reply_key_elems(ctx, key, &elems);
            return Ok(());
        }
    }
    drop(l);
    ctx.block_on(&keys, timeout, TimeoutReply::NullArray);
    Ok(())
}

fn bzpop(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    let timeout = timeout_arg(args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    let mut l = ctx.lock_keys(keys);
    for key in keys {
        if other_type(ctx, &mut l, key, true) {
            continue;
        }
        if let Some(items) = zsets::pop(&mut l, key, max, 1)?
            && let Some((member, score)) = items.into_iter().next()
        {
            drop(l);
            ctx.out.array(3);
            ctx.out.bulk(key);
            ctx.out.bulk(&member);
            ctx.out.double(score);
            return Ok(());
        }
    }
    drop(l);
    ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, false)
}

fn bzpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, true)
}

fn bzmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let timeout = timeout_arg(args[1])?;
    let (keys, max, count) = zsets::parse_zmpop(args, 2)?;
    let mut l = ctx.lock_keys(&keys);
    for key in &keys {
        if other_type(ctx, &mut l, key, true) {
            continue;
        }
        if let Some(items) = zsets::pop(&mut l, key, max, count)?
            && !items.is_empty()
        {
            drop(l);
            zsets::reply_key_scored(ctx, key, &items);
            return Ok(());
        }
    }
    drop(l);
    ctx.block_on(&keys, timeout, TimeoutReply::NullArray);
    Ok(())
}
