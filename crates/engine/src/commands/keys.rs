//! Generic key commands: DEL, EXISTS, TYPE, expiry, RENAME, KEYS, SCAN and friends.

use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is};
use crate::glob;
use crate::notify::class;

/// Key commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("touch", touch),
    ("type", type_),
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
    ("rename", rename),
    ("renamenx", renamenx),
    ("copy", copy),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("object", object),
];

fn del(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
    let mut l = ctx.lock_keys(keys);
    let mut n = 0;
    for k in keys {
        if l.remove(k).is_some() {
            n += 1;
            ctx.notify(class::GENERIC, "del", k);
        }
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // EXISTS, TYPE and the TTL family leave the keys' access time alone (Redis's LOOKUP_NOTOUCH).
    count_existing(ctx, &args[1..], false)
}

/// TOUCH: EXISTS that counts as an access (even under CLIENT NO-TOUCH).
fn touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    count_existing(ctx, &args[1..], true)
}

fn count_existing(ctx: &mut Ctx, keys: &[&[u8]], touch: bool) -> CmdResult {
    let mut l = ctx.lock_keys(keys);
    if !touch {
        l = l.touching(false);
    }
    let n = keys.iter().filter(|k| l.exists(k)).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]).touching(false);
    let t = l.get(args[1]).map_or("none", |v| v.type_name());
    ctx.out.simple(t);
    Ok(())
}

/// EXPIRE and its variants. `unit` is 1000 for seconds, `absolute` for the *AT forms.
fn expire_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    unit: i64,
    absolute: bool,
    name: &str,
) -> CmdResult {
    let n = int_arg(args[2])?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if is(a, "NX") {
            nx = true;
        } else if is(a, "XX") {
            xx = true;
        } else if is(a, "GT") {
            gt = true;
        } else if is(a, "LT") {
            lt = true;
        } else {
            return Err(Error::msg(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::from(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Error::from(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let invalid = || Error::msg(format!("ERR invalid expire time in '{name}' command"));
    let ms = n.checked_mul(unit).ok_or_else(invalid)?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(ctx.now as i64).ok_or_else(invalid)?
    };
    let mut l = ctx.lock(args[1]);
    let Some(cur) = l.expire_of(args[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    // A persistent key counts as an infinite TTL for GT/LT.
    let skip = (nx && cur != 0)
        || (xx && cur == 0)
        || (gt && (cur == 0 || at <= cur as i64))
        || (lt && cur != 0 && at >= cur as i64);
    if skip {
        ctx.out.int(0);
        return Ok(());
    }
    if at <= ctx.now as i64 {
        l.remove(args[1]);
        ctx.notify(class::GENERIC, "del", args[1]);
    } else {
        l.set_expire(args[1], at as u64);
        ctx.notify(class::GENERIC, "expire", args[1]);
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1000, false, "expire")
}

fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1, false, "pexpire")
}

fn expireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1000, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

/// -2 missing, -1 persistent, otherwise `f(expire_at_ms)`.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], f: impl Fn(u64, u64) -> i64) -> CmdResult {
    let now = ctx.now;
    let v = match ctx.lock(key).touching(false).expire_of(key) {
        None => -2,
        Some(0) => -1,
        Some(at) => f(at, now),
    };
    ctx.out.int(v);
    Ok(())
}

fn ttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], |at, now| {
        (at.saturating_sub(now) as i64 + 500) / 1000
    })
}

fn pttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], |at, now| at.saturating_sub(now) as i64)
}

fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], |at, _| at as i64 / 1000)
}

fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], |at, _| at as i64)
}

fn persist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let changed = matches!(l.expire_of(args[1]), Some(e) if e != 0) && l.set_expire(args[1], 0);
    if changed {
        ctx.notify(class::GENERIC, "persist", args[1]);
    }
    ctx.out.int(changed as i64);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> Result<bool, Error> {
    let (src, dst) = (args[1], args[2]);
    let mut l = ctx.lock_keys(&[src, dst]);
    let Some((expire, floor)) = l.node(src).map(|n| (n.expire, n.floor)) else {
        return Err(err::NO_SUCH_KEY);
    };
    if src == dst {
        return Ok(!nx);
    }
    if nx && l.exists(dst) {
        return Ok(false);
    }
    let Some(value) = l.remove(src) else {
        return Err(err::NO_SUCH_KEY);
    };
    // Redis deletes the destination, then adds the key anew (a `new` event even over a key).
    l.remove(dst);
    l.set_with_floor(dst, value, expire, floor);
    ctx.notify(class::GENERIC, "rename_from", src);
    ctx.notify(class::GENERIC, "rename_to", dst);
    Ok(true)
}

fn rename(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)?;
    ctx.out.ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let done = rename_generic(ctx, args, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

fn keys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pattern = args[1];
    let all = pattern == b"*";
    let l = ctx.db().lock_all(ctx.now);
    let mut found = Vec::new();
    l.for_each_live(|n| {
        if all || glob::matches(pattern, &n.key) {
            found.push(n.key.clone());
        }
    });
    drop(l);
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn scan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = std::str::from_utf8(args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Error::from("ERR invalid cursor"))?;
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut type_filter: Option<String> = None;
    let mut i = 2;
    while i < args.len() {
        let Some(v) = args.get(i + 1) else {
            return Err(err::SYNTAX);
        };
        if is(args[i], "MATCH") {
            pattern = Some(v);
        } else if is(args[i], "COUNT") {
            let c = int_arg(v)?;
            if c < 1 {
                return Err(err::SYNTAX);
            }
            count = c as usize;
        } else if is(args[i], "TYPE") {
            type_filter = Some(String::from_utf8_lossy(v).to_ascii_lowercase());
        } else {
            return Err(err::SYNTAX);
        }
        i += 2;
    }
    let mut found = Vec::new();
    let next = ctx.db().scan(cursor, count, ctx.now, &mut found);
    found.retain(|(k, t)| {
        pattern.is_none_or(|p| p == b"*" || glob::matches(p, k))
            && type_filter.as_deref().is_none_or(|tf| tf == *t)
    });
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for (k, _) in found {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let k = ctx.db().random_key(ctx.now);
    ctx.out.opt_bulk(k.as_deref());
    Ok(())
}

fn object(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    if sub == "help" {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Print this help.",
        ];
        ctx.out.help(&lines);
        return Ok(());
    }
    // The dispatcher resolved the subcommand and checked its arity.
    let lfu = ctx
        .engine
        .store
        .lfu
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut l = ctx.lock(args[2]);
    let now = l.now();
    // Like Redis's LOOKUP_NOTOUCH: OBJECT does not count as an access.
    let Some(n) = l.node_untouched(args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    match sub.as_str() {
        "encoding" => {
            let e = n.value.encoding_from(n.floor, &ctx.engine.store.tuning);
            ctx.out.bulk(e.as_bytes());
        }
        "refcount" => {
            // Redis shares the integers 0..9999 between string values (refcount INT_MAX), unless
            // maxmemory evicts by LRU/LFU, which needs a clock per value.
            use crate::evict::Policy;
            use std::sync::atomic::Ordering::Relaxed;
            let hot = &ctx.engine.hot;
            let per_value_clock = hot.maxmemory.load(Relaxed) != 0
                && matches!(
                    Policy::from_u8(hot.maxmemory_policy.load(Relaxed)),
                    Policy::AllKeysLru
                        | Policy::AllKeysLfu
                        | Policy::VolatileLru
                        | Policy::VolatileLfu
                );
            let shared = match &n.value {
                crate::store::Value::Str(s) if n.floor == crate::store::floor::NONE => {
                    crate::protocol::parse_i64(s).is_some_and(|v| (0..10_000).contains(&v))
                        && s.len() <= 20
                }
                _ => false,
            };
            ctx.out.int(if shared && !per_value_clock {
                i64::from(i32::MAX)
            } else {
                1
            });
        }
        "freq" => {
            if !lfu {
                return Err(Error::from(
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
                ));
            }
            ctx.out
                .int(crate::store::lfu_decayed(n.lfu, n.lru, now, &ctx.engine.store.tuning) as i64);
        }
        _ => {
            if lfu {
                return Err(Error::from(
                    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
                ));
            }
            ctx.out
                .int(((now as u32).wrapping_sub(n.lru) / 1000) as i64);
        }
    }
    Ok(())
}

fn copy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(args[i], "REPLACE") {
            replace = true;
        } else if is(args[i], "DB") && i + 1 < args.len() {
            let d = int_arg(args[i + 1])?;
            if d < 0 || d as u64 >= ctx.engine.store.databases() as u64 {
                return Err(err::DB_RANGE);
            }
            dst_db = d as usize;
            if ctx.engine.cluster.get().is_some() && dst_db != src_db {
                return Err(Error::from(
                    "ERR Copying to another database is not allowed in cluster mode",
                ));
            }
            i += 1;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if src_db == dst_db && src == dst {
        return Err(Error::from(
            "ERR source and destination objects are the same",
        ));
    }
    let store = &ctx.engine.store;
    let now = ctx.now;
    let done = if src_db == dst_db {
        let mut l = ctx.lock_keys(&[src, dst]);
        match l.node(src).map(|n| (n.value.clone(), n.expire, n.floor)) {
            None => false,
            Some(_) if !replace && l.exists(dst) => false,
            Some((v, exp, floor)) => {
                // Redis deletes a replaced destination, then adds the copy (a `new` event), which
                // keeps the source's encoding.
                l.remove(dst);
                l.set_with_floor(dst, v, exp, floor);
                true
            }
        }
    } else {
        // Lock the two databases in index order so opposite COPYs cannot deadlock.
        let (first, second) = if src_db < dst_db {
            (
                store.db(src_db).lock(src, now),
                store.db(dst_db).lock(dst, now),
            )
        } else {
            let d = store.db(dst_db).lock(dst, now);
            (store.db(src_db).lock(src, now), d)
        };
        let (mut ls, mut ld) = (first, second);
        match ls.node(src).map(|n| (n.value.clone(), n.expire, n.floor)) {
            None => false,
            Some(_) if !replace && ld.exists(dst) => false,
            Some((v, exp, floor)) => {
                ld.remove(dst);
                ld.set_with_floor(dst, v, exp, floor);
                true
            }
        }
    };
    if done {
        store.notify.emit(class::GENERIC, "copy_to", dst, dst_db);
    }
    ctx.out.int(done as i64);
    Ok(())
}
