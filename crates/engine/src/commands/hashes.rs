//! Hash commands: HSET, HGET, HGETALL, HINCRBY, HSCAN, HRANDFIELD and friends.

use super::coll::{
    get_hash, hash_mut, parse_cursor, random_count, read_done, remove_if_empty, reply_scan,
    scan_opts, scan_table, write_done,
};
use super::{CmdResult, Ctx, Error, Handler, err, float_arg, int_arg, is};
use crate::notify::class;
use crate::store::Blob;

/// Hash commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hmset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hdel", hdel),
    ("hexists", hexists),
    ("hgetall", hgetall),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hscan", hscan),
    ("hrandfield", hrandfield),
];

fn hset_common(ctx: &mut Ctx, args: &[&[u8]], name: &str) -> Result<i64, Error> {
    if args.len() % 2 == 1 {
        return Err(super::arity_error(name));
    }
    let key = args[1];
    let mut l = ctx.lock(key);
    let mut added = 0;
    if let Some(h) = hash_mut(&mut l, key, true)? {
        for pair in args[2..].chunks(2) {
            if h.insert(pair[0], Blob::from_slice(pair[1])).is_none() {
                added += 1;
            }
        }
        ctx.notify(class::HASH, "hset", key);
    }
    write_done(ctx, &l);
    Ok(added)
}

fn hset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = hset_common(ctx, args, "hset")?;
    ctx.out.int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hset_common(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut l = ctx.lock(key);
    let exists = get_hash(&mut l, key)?.is_some_and(|h| h.contains(args[2]));
    if !exists && let Some(h) = hash_mut(&mut l, key, true)? {
        h.insert(args[2], Blob::from_slice(args[3]));
        ctx.notify(class::HASH, "hset", key);
    }
    ctx.out.int(!exists as i64);
    Ok(())
}

fn hget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let h = get_hash(&mut l, args[1])?;
    let hit = h.is_some();
    ctx.out
        .opt_bulk(h.and_then(|h| h.get(args[2])).map(|v| v.as_slice()));
    read_done(ctx, hit, &l);
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let h = get_hash(&mut l, args[1])?;
    let hit = h.is_some();
    ctx.out.array(args.len() - 2);
    for f in &args[2..] {
        ctx.out
            .opt_bulk(h.and_then(|h| h.get(f)).map(|v| v.as_slice()));
    }
    read_done(ctx, hit, &l);
    Ok(())
}

fn hdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut l = ctx.lock(key);
    let mut n = 0;
    if let Some(h) = hash_mut(&mut l, key, false)? {
        for f in &args[2..] {
            if h.remove(f).is_some() {
                n += 1;
            }
        }
        if n > 0 {
            ctx.notify(class::HASH, "hdel", key);
        }
        remove_if_empty(&mut l, key);
    }
    write_done(ctx, &l);
    ctx.out.int(n);
    Ok(())
}

fn hexists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let h = get_hash(&mut l, args[1])?;
    let hit = h.is_some();
    ctx.out.int(h.is_some_and(|h| h.contains(args[2])) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

/// HGETALL / HKEYS / HVALS.
fn hgetall_common(ctx: &mut Ctx, key: &[u8], keys: bool, vals: bool) -> CmdResult {
    let mut l = ctx.lock(key);
    let Some(h) = get_hash(&mut l, key)? else {
        if keys && vals {
            ctx.out.map(0);
        } else {
            ctx.out.array(0);
        }
        read_done(ctx, false, &l);
        return Ok(());
    };
    if keys && vals {
        ctx.out.map(h.len());
    } else {
        ctx.out.array(h.len());
    }
    for (k, v) in h.iter() {
        if keys {
            ctx.out.bulk(k);
        }
        if vals {
            ctx.out.bulk(v);
        }
    }
    read_done(ctx, true, &l);
    Ok(())
}

fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hgetall_common(ctx, args[1], true, true)
}

fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hgetall_common(ctx, args[1], true, false)
}

fn hvals(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hgetall_common(ctx, args[1], false, true)
}

fn hlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let h = get_hash(&mut l, args[1])?;
    let hit = h.is_some();
    ctx.out.int(h.map_or(0, |h| h.len()) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let h = get_hash(&mut l, args[1])?;
    let hit = h.is_some();
    ctx.out
        .int(h.and_then(|h| h.get(args[2])).map_or(0, |v| v.len()) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = int_arg(args[3])?;
    let key = args[1];
    let mut l = ctx.lock(key);
    let cur = match get_hash(&mut l, key)?.and_then(|h| h.get(args[2])) {
        None => 0,
        Some(v) => {
            crate::protocol::parse_i64(v).ok_or(Error::from("ERR hash value is not an integer"))?
        }
    };
    let new = cur.checked_add(by).ok_or(err::OVERFLOW)?;
    let mut digits = itoa::Buffer::new();
    if let Some(h) = hash_mut(&mut l, key, true)? {
        h.insert(args[2], Blob::from_slice(digits.format(new).as_bytes()));
        ctx.notify(class::HASH, "hincrby", key);
    }
    write_done(ctx, &l);
    ctx.out.int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = float_arg(args[3])?;
    if !by.is_finite() {
        return Err(Error::from("ERR value is NaN or Infinity"));
    }
    let key = args[1];
    let mut l = ctx.lock(key);
    let cur = match get_hash(&mut l, key)?.and_then(|h| h.get(args[2])) {
        None => 0.0,
        Some(v) => super::parse_float(v).ok_or(Error::from("ERR hash value is not a float"))?,
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(Error::from("ERR increment would produce NaN or Infinity"));
    }
    let text = super::strings::format_incr_float(new);
    if let Some(h) = hash_mut(&mut l, key, true)? {
        h.insert(args[2], Blob::from_slice(text.as_bytes()));
        ctx.notify(class::HASH, "hincrbyfloat", key);
    }
    write_done(ctx, &l);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn hscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(args[2])?;
    let mut l = ctx.lock(args[1]);
    let Some(h) = get_hash(&mut l, args[1])? else {
        reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    let opts = scan_opts(&args[3..])?;
    let (next, items) = scan_table(h, cursor, &opts, |k, v, out| {
        out.push(k.clone());
        out.push(v.clone());
    });
    drop(l);
    reply_scan(ctx, next, &items);
    Ok(())
}

fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut with_values = false;
    let mut count = None;
    if args.len() >= 3 {
        if args.len() > 4 || (args.len() == 4 && !is(args[3], "WITHVALUES")) {
            // Redis parses the count first.
            int_arg(args[2])?;
            return Err(err::SYNTAX);
        }
        with_values = args.len() == 4;
        count = Some(random_count(args[2], with_values)?);
    }
    let mut l = ctx.lock(args[1]);
    let h = get_hash(&mut l, args[1])?;
    let Some((count, unique)) = count else {
        let pick = h.and_then(|h| h.random_key());
        ctx.out.opt_bulk(pick.as_deref());
        return Ok(());
    };
    let Some(h) = h else {
        ctx.out.array(0);
        return Ok(());
    };
    let picks: Vec<Blob> = if unique {
        h.random_distinct(count.min(h.len() as u64) as usize)
    } else {
        h.random_repeated(count as usize)
    };
    let pairs_nested = with_values && ctx.out.resp3;
    ctx.out.array(if with_values && !ctx.out.resp3 {
        picks.len() * 2
    } else {
        picks.len()
    });
    for k in &picks {
        if pairs_nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(k);
        if with_values {
            ctx.out.opt_bulk(h.get(k).map(|v| v.as_slice()));
        }
    }
    Ok(())
}
