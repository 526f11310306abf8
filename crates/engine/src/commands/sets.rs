//! Set commands: SADD, SMEMBERS, set algebra and its STORE forms, SPOP, SRANDMEMBER, SSCAN...

use super::coll::{
    get_set, parse_cursor, random_count, read_done, remove_if_empty, reply_scan, scan_opts,
    scan_table, set_mut, write_done,
};
use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is};
use crate::notify::class;
use crate::store::{Blob, Locked, Table, Value};

/// Set commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("smembers", smembers),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("sinter", sinter),
    ("sunion", sunion),
    ("sdiff", sdiff),
    ("sinterstore", sinterstore),
    ("sunionstore", sunionstore),
    ("sdiffstore", sdiffstore),
    ("sintercard", sintercard),
    ("smove", smove),
    ("sscan", sscan),
];

fn sadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let mut n = 0;
    if let Some(s) = set_mut(&mut l, args[1], true)? {
        for m in &args[2..] {
            if s.insert(m, ()).is_none() {
                n += 1;
            }
        }
        if n > 0 {
            ctx.notify(class::SET, "sadd", args[1]);
        }
    }
    write_done(ctx, &l);
    ctx.out.int(n);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let mut n = 0;
    if let Some(s) = set_mut(&mut l, args[1], false)? {
        for m in &args[2..] {
            if s.remove(m).is_some() {
                n += 1;
            }
        }
        if n > 0 {
            ctx.notify(class::SET, "srem", args[1]);
        }
        remove_if_empty(&mut l, args[1]);
    }
    write_done(ctx, &l);
    ctx.out.int(n);
    Ok(())
}

fn reply_members<'a>(ctx: &mut Ctx, n: usize, members: impl Iterator<Item = &'a Blob>) {
    ctx.out.set(n);
    for m in members {
        ctx.out.bulk(m);
    }
}

/// The members in the order Redis would list them: ascending numbers for a set Redis would keep
/// as an intset (all integers, at most 512 members), table order otherwise.
fn ordered_members(s: &Table<()>) -> Vec<&Blob> {
    let mut members: Vec<&Blob> = s.iter().map(|(k, _)| k).collect();
    if members.len() <= 512 {
        let ints: Option<Vec<i64>> = members
            .iter()
            .map(|m| crate::protocol::parse_i64(m))
            .collect();
        if let Some(ints) = ints {
            let mut pairs: Vec<(i64, &Blob)> = ints.into_iter().zip(members).collect();
            pairs.sort_unstable_by_key(|p| p.0);
            members = pairs.into_iter().map(|p| p.1).collect();
        }
    }
    members
}

fn smembers(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let s = get_set(&mut l, args[1])?;
    let hit = s.is_some();
    match s {
        None => ctx.out.set(0),
        Some(s) => reply_members(ctx, s.len(), ordered_members(s).into_iter()),
    }
    read_done(ctx, hit, &l);
    Ok(())
}

fn sismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let s = get_set(&mut l, args[1])?;
    let hit = s.is_some();
    ctx.out.int(s.is_some_and(|s| s.contains(args[2])) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let s = get_set(&mut l, args[1])?;
    let hit = s.is_some();
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    read_done(ctx, hit, &l);
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let s = get_set(&mut l, args[1])?;
    let hit = s.is_some();
    ctx.out.int(s.map_or(0, |s| s.len()) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

fn spop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let count = super::coll::optional_count(args.get(2).copied())?;
    let mut l = ctx.lock(args[1]);
    let Some(s) = set_mut(&mut l, args[1], false)? else {
        if count.is_some() {
            ctx.out.set(0);
        } else {
            ctx.out.null();
        }
        return Ok(());
    };
    let picks = match count {
        None => s.random_key().into_iter().collect(),
        Some(c) => s.random_distinct(c.min(s.len())),
    };
    for p in &picks {
        s.remove(p);
    }
    let remaining = s.len();
    if !picks.is_empty() {
        ctx.notify(class::SET, "spop", args[1]);
    }
    // Redis's SPOP "case 3" (the count approaches the size): the members that stay are copied into
    // a new set, whose encoding starts compact again.
    if count.is_some() && remaining > 0 && remaining * 5 <= picks.len() {
        l.reset_floor(args[1]);
    }
    remove_if_empty(&mut l, args[1]);
    write_done(ctx, &l);
    match count {
        None => ctx.out.opt_bulk(picks.first().map(|b| b.as_slice())),
        Some(_) => reply_members(ctx, picks.len(), picks.iter()),
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => Some(random_count(a, false)?),
    };
    let mut l = ctx.lock(args[1]);
    let s = get_set(&mut l, args[1])?;
    let Some((count, unique)) = count else {
        let pick = s.and_then(|s| s.random_key());
        ctx.out.opt_bulk(pick.as_deref());
        return Ok(());
    };
    let Some(s) = s else {
        ctx.out.array(0);
        return Ok(());
    };
    let picks: Vec<Blob> = if unique {
        s.random_distinct(count.min(s.len() as u64) as usize)
    } else {
        s.random_repeated(count as usize)
    };
    ctx.out.array(picks.len());
    for p in &picks {
        ctx.out.bulk(p);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// Look up every key as a set (WRONGTYPE for any other type, lazy expiry applied); missing keys are
/// `None`.
pub fn sets_of<'l>(l: &'l mut Locked, keys: &[&[u8]]) -> Result<Vec<Option<&'l Table<()>>>, Error> {
    for k in keys {
        get_set(l, k)?;
    }
    let l: &'l Locked = l;
    Ok(keys
        .iter()
        .map(|k| match l.peek(k) {
            Some(Value::Set(s)) => Some(&**s),
            _ => None,
        })
        .collect())
}

/// Compute a set operation over `keys`.
fn compute(l: &mut Locked, keys: &[&[u8]], op: SetOp) -> Result<Vec<Blob>, Error> {
    let mut sets = sets_of(l, keys)?;
    Ok(match op {
        SetOp::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(Vec::new());
            }
            let mut sets: Vec<&Table<()>> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            let Some((first, rest)) = sets.split_first() else {
                return Ok(Vec::new());
            };
            first
                .iter()
                .filter(|(m, _)| rest.iter().all(|s| s.contains(m)))
                .map(|(m, _)| m.clone())
                .collect()
        }
        SetOp::Union => {
            let mut seen: ahash::HashSet<&[u8]> = ahash::HashSet::default();
            let mut out = Vec::new();
            for s in sets.iter().flatten() {
                for (m, _) in s.iter() {
                    if seen.insert(m.as_slice()) {
                        out.push(m.clone());
                    }
                }
            }
            out
        }
        SetOp::Diff => {
            let Some(first) = sets.first_mut().and_then(|s| s.take()) else {
                return Ok(Vec::new());
            };
            let rest: Vec<&Table<()>> = sets.into_iter().skip(1).flatten().collect();
            first
                .iter()
                .filter(|(m, _)| !rest.iter().any(|s| s.contains(m)))
                .map(|(m, _)| m.clone())
                .collect()
        }
    })
}

fn setop(ctx: &mut Ctx, args: &[&[u8]], op: SetOp) -> CmdResult {
    let keys = &args[1..];
    let mut l = ctx.lock_keys(keys);
    let result = compute(&mut l, keys, op)?;
    read_done(ctx, true, &l);
    reply_members(ctx, result.len(), result.iter());
    Ok(())
}

fn setop_store(ctx: &mut Ctx, args: &[&[u8]], op: SetOp) -> CmdResult {
    let dst = args[1];
    let keys = &args[2..];
    let mut l = ctx.lock_keys(&args[1..]);
    let result = compute(&mut l, keys, op)?;
    let n = result.len();
    if n == 0 {
        if l.remove(dst).is_some() {
            ctx.notify(class::GENERIC, "del", dst);
        }
    } else {
        let mut t = Table::new();
        for m in &result {
            t.insert(m, ());
        }
        l.set(dst, Value::Set(Box::new(t)), 0);
        let event = match op {
            SetOp::Inter => "sinterstore",
            SetOp::Union => "sunionstore",
            SetOp::Diff => "sdiffstore",
        };
        ctx.notify(class::SET, event, dst);
    }
    write_done(ctx, &l);
    ctx.out.int(n as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop(ctx, args, SetOp::Inter)
}

fn sunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop(ctx, args, SetOp::Union)
}

fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop(ctx, args, SetOp::Diff)
}

fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_store(ctx, args, SetOp::Inter)
}

fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_store(ctx, args, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_store(ctx, args, SetOp::Diff)
}

/// Parse `numkeys key [key ...]` starting at `args[at]`: the keys and the index after them.
pub fn numkeys<'a>(args: &[&'a [u8]], at: usize) -> Result<(Vec<&'a [u8]>, usize), Error> {
    let n = int_arg(args[at]).map_err(|_| Error::from("ERR numkeys should be greater than 0"))?;
    if n <= 0 {
        return Err(Error::from("ERR numkeys should be greater than 0"));
    }
    let first = at + 1;
    if n as u64 > args.len().saturating_sub(first) as u64 {
        return Err(Error::from(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let end = first + n as usize;
    Ok((args[first..end].to_vec(), end))
}

fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, mut i) = numkeys(args, 1)?;
    let mut limit = 0u64;
    while i < args.len() {
        if is(args[i], "LIMIT") && i + 1 < args.len() {
            // Redis's getPositiveLongFromObjectOrReply: one message for negative and non-numbers.
            let v = int_arg(args[i + 1]).unwrap_or(-1);
            if v < 0 {
                return Err(Error::from("ERR LIMIT can't be negative"));
            }
            limit = v as u64;
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let mut l = ctx.lock_keys(&keys);
    let sets = sets_of(&mut l, &keys)?;
    let mut n = 0u64;
    if sets.iter().all(|s| s.is_some()) {
        let mut sets: Vec<&Table<()>> = sets.into_iter().flatten().collect();
        sets.sort_by_key(|s| s.len());
        if let Some((first, rest)) = sets.split_first() {
            for (m, _) in first.iter() {
                if rest.iter().all(|s| s.contains(m)) {
                    n += 1;
                    if limit != 0 && n >= limit {
                        break;
                    }
                }
            }
        }
    }
    read_done(ctx, true, &l);
    ctx.out.int(n as i64);
    Ok(())
}

fn smove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst, m) = (args[1], args[2], args[3]);
    let mut l = ctx.lock_keys(&[src, dst]);
    let src_has = match get_set(&mut l, src)? {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(s) => s.contains(m),
    };
    get_set(&mut l, dst)?;
    if src == dst {
        ctx.out.int(src_has as i64);
        return Ok(());
    }
    if !src_has {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(s) = set_mut(&mut l, src, false)? {
        s.remove(m);
    }
    ctx.notify(class::SET, "srem", src);
    remove_if_empty(&mut l, src);
    if let Some(d) = set_mut(&mut l, dst, true)?
        && d.insert(m, ()).is_none()
    {
        ctx.notify(class::SET, "sadd", dst);
    }
    write_done(ctx, &l);
    ctx.out.int(1);
    Ok(())
}

fn sscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(args[2])?;
    let mut l = ctx.lock(args[1]);
    let Some(s) = get_set(&mut l, args[1])? else {
        reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    let opts = scan_opts(&args[3..])?;
    let (next, items) = if s.len() <= 128 {
        let keep = |k: &[u8]| opts.pattern.is_none_or(|p| crate::glob::matches(p, k));
        let items: Vec<Blob> = ordered_members(s)
            .into_iter()
            .filter(|k| keep(k))
            .cloned()
            .collect();
        (0, items)
    } else {
        scan_table(s, cursor, &opts, |k, _, out| out.push(k.clone()))
    };
    drop(l);
    reply_scan(ctx, next, &items);
    Ok(())
}
