//! List commands (the non-blocking ones). The push/pop/move helpers are public so the blocking
//! variants (BLPOP, BRPOP, BLMOVE, BLMPOP) can reuse them once a key is ready.

use super::coll::{clamp_range, get_list, list_mut, read_done, remove_if_empty, write_done};
use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is};
use crate::notify::class;
use crate::store::{Blob, Locked};

/// List commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("lrange", lrange),
    ("llen", llen),
    ("lindex", lindex),
    ("lset", lset),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("linsert", linsert),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
];

/// Push `elems` (one at a time, so LPUSH a b c gives c b a) to the head (`left`) or tail of the list
/// at `key`, creating it unless `only_existing`. Returns the new length (0 when nothing was done).
pub fn push(
    l: &mut Locked,
    key: &[u8],
    elems: &[&[u8]],
    left: bool,
    only_existing: bool,
) -> Result<usize, Error> {
    let Some(list) = list_mut(l, key, !only_existing)? else {
        return Ok(0);
    };
    for e in elems {
        if left {
            list.push_front(Blob::from_slice(e));
        } else {
            list.push_back(Blob::from_slice(e));
        }
    }
    let n = list.len();
    if !elems.is_empty() {
        l.notify(class::LIST, if left { "lpush" } else { "rpush" }, key);
    }
    remove_if_empty(l, key);
    Ok(n)
}

/// Pop up to `count` elements from the head (`left`) or tail of the list at `key`, deleting the key
/// when it empties. `None` when the key does not exist.
pub fn pop(
    l: &mut Locked,
    key: &[u8],
    left: bool,
    count: usize,
) -> Result<Option<Vec<Blob>>, Error> {
    let Some(list) = list_mut(l, key, false)? else {
        return Ok(None);
    };
    let n = count.min(list.len());
    let out: Vec<Blob> = if left {
        list.drain(..n).collect()
    } else {
        let at = list.len() - n;
        list.drain(at..).rev().collect()
    };
    l.notify(class::LIST, if left { "lpop" } else { "rpop" }, key);
    remove_if_empty(l, key);
    Ok(Some(out))
}

/// LMOVE's core: pop from `src` (head if `from_left`), push to `dst` (head if `to_left`). Both keys'
/// types are checked before anything moves. `None` when `src` does not exist. The caller locked
/// both keys.
pub fn move_element(
    l: &mut Locked,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Blob>, Error> {
    if get_list(l, src)?.is_none() {
        return Ok(None);
    }
    get_list(l, dst)?;
    // Redis's order: the push to `dst` is announced before the pop from `src` (and its `del`).
    let Some(list) = list_mut(l, src, false)? else {
        return Ok(None);
    };
    let Some(e) = (if from_left {
        list.pop_front()
    } else {
        list.pop_back()
    }) else {
        return Ok(None);
    };
    push(l, dst, &[&e], to_left, false)?;
    l.notify(class::LIST, if from_left { "lpop" } else { "rpop" }, src);
    remove_if_empty(l, src);
    Ok(Some(e))
}

/// Parse `LEFT` / `RIGHT`.
pub fn parse_side(a: &[u8]) -> Result<bool, Error> {
    if is(a, "LEFT") {
        Ok(true)
    } else if is(a, "RIGHT") {
        Ok(false)
    } else {
        Err(err::SYNTAX)
    }
}

/// Write `[key, [elements...]]` (the reply of LMPOP / BLMPOP).
pub fn reply_key_elems(ctx: &mut Ctx, key: &[u8], elems: &[Blob]) {
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(elems.len());
    for e in elems {
        ctx.out.bulk(e);
    }
}

/// The arguments of LMPOP/BLMPOP after `numkeys`: `(keys, left, count)`.
pub fn parse_mpop<'a>(
    args: &[&'a [u8]],
    numkeys_at: usize,
) -> Result<(Vec<&'a [u8]>, bool, usize), Error> {
    let numkeys = int_arg(args[numkeys_at])
        .map_err(|_| Error::from("ERR numkeys should be greater than 0"))?;
    if numkeys <= 0 {
        return Err(Error::from("ERR numkeys should be greater than 0"));
    }
    let first = numkeys_at + 1;
    if numkeys as u64 >= (args.len() - first) as u64 {
        return Err(err::SYNTAX);
    }
    let numkeys = numkeys as usize;
    let keys: Vec<&[u8]> = args[first..first + numkeys].to_vec();
    let mut i = first + numkeys;
    let Some(side) = args.get(i) else {
        return Err(err::SYNTAX);
    };
    let left = parse_side(side)?;
    i += 1;
    let count = super::coll::mpop_count(&args[i..])?;
    Ok((keys, left, count))
}

fn push_cmd(ctx: &mut Ctx, args: &[&[u8]], left: bool, only_existing: bool) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let n = push(&mut l, args[1], &args[2..], left, only_existing)?;
    write_done(ctx, &l);
    ctx.out.int(n as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, true, false)
}

fn rpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, false, false)
}

fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, true, true)
}

fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, false, true)
}

fn pop_cmd(ctx: &mut Ctx, args: &[&[u8]], left: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(super::arity_error(if left { "lpop" } else { "rpop" }));
    }
    let count = super::coll::optional_count(args.get(2).copied())?;
    let mut l = ctx.lock(args[1]);
    let popped = pop(&mut l, args[1], left, count.unwrap_or(1))?;
    write_done(ctx, &l);
    match (popped, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) => ctx.out.null_array(),
        (Some(v), None) => ctx.out.opt_bulk(v.first().map(|b| b.as_slice())),
        (Some(v), Some(_)) => {
            ctx.out.array(v.len());
            for e in &v {
                ctx.out.bulk(e);
            }
        }
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_cmd(ctx, args, true)
}

fn rpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_cmd(ctx, args, false)
}

fn lrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    let mut l = ctx.lock(args[1]);
    let list = get_list(&mut l, args[1])?;
    let hit = list.is_some();
    match list.and_then(|list| clamp_range(start, end, list.len()).map(|r| (list, r))) {
        None => ctx.out.array(0),
        Some((list, (s, e))) => {
            ctx.out.array(e - s + 1);
            for x in list.range(s..=e) {
                ctx.out.bulk(x);
            }
        }
    }
    read_done(ctx, hit, &l);
    Ok(())
}

fn llen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let list = get_list(&mut l, args[1])?;
    let hit = list.is_some();
    ctx.out.int(list.map_or(0, |l| l.len()) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

/// Resolve a possibly negative list index.
fn resolve_index(idx: i64, len: usize) -> Option<usize> {
    let i = if idx < 0 {
        (len as i64).checked_add(idx)?
    } else {
        idx
    };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let list = get_list(&mut l, args[1])?;
    let hit = list.is_some();
    // Like Redis, the key is looked up before the index is parsed.
    let e = match list {
        None => None,
        Some(list) => {
            let idx = int_arg(args[2])?;
            resolve_index(idx, list.len()).and_then(|i| list.get(i))
        }
    };
    ctx.out.opt_bulk(e.map(|b| b.as_slice()));
    read_done(ctx, hit, &l);
    Ok(())
}

fn lset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let Some(list) = list_mut(&mut l, args[1], false)? else {
        return Err(err::NO_SUCH_KEY);
    };
    let idx = int_arg(args[2])?;
    let i = resolve_index(idx, list.len()).ok_or(Error::from("ERR index out of range"))?;
    list[i] = Blob::from_slice(args[3]);
    ctx.notify(class::LIST, "lset", args[1]);
    write_done(ctx, &l);
    ctx.out.ok();
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = int_arg(args[2])?;
    let elem = args[3];
    let mut l = ctx.lock(args[1]);
    let mut removed = 0usize;
    if let Some(list) = list_mut(&mut l, args[1], false)? {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let n = list.len();
        let mut drop_at = vec![false; n];
        let indexes: Box<dyn Iterator<Item = usize>> = if count < 0 {
            Box::new((0..n).rev())
        } else {
            Box::new(0..n)
        };
        for i in indexes {
            if removed >= limit {
                break;
            }
            if list[i].as_slice() == elem {
                drop_at[i] = true;
                removed += 1;
            }
        }
        if removed > 0 {
            let mut i = 0;
            list.retain(|_| {
                let keep = !drop_at[i];
                i += 1;
                keep
            });
            ctx.notify(class::LIST, "lrem", args[1]);
        }
        remove_if_empty(&mut l, args[1]);
    }
    write_done(ctx, &l);
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    let mut l = ctx.lock(args[1]);
    if let Some(list) = list_mut(&mut l, args[1], false)? {
        match clamp_range(start, end, list.len()) {
            None => list.clear(),
            Some((s, e)) => {
                list.truncate(e + 1);
                list.drain(..s);
            }
        }
        ctx.notify(class::LIST, "ltrim", args[1]);
        remove_if_empty(&mut l, args[1]);
    }
    write_done(ctx, &l);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let after = if is(args[2], "AFTER") {
        true
    } else if is(args[2], "BEFORE") {
        false
    } else {
        return Err(err::SYNTAX);
    };
    let mut l = ctx.lock(args[1]);
    let Some(list) = list_mut(&mut l, args[1], false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let reply = match list.iter().position(|e| e.as_slice() == args[3]) {
        None => -1,
        Some(p) => {
            list.insert(p + after as usize, Blob::from_slice(args[4]));
            let n = list.len() as i64;
            ctx.notify(class::LIST, "linsert", args[1]);
            n
        }
    };
    write_done(ctx, &l);
    ctx.out.int(reply);
    Ok(())
}

fn lpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut i = 3;
    while i < args.len() {
        let Some(v) = args.get(i + 1) else {
            return Err(err::SYNTAX);
        };
        if is(args[i], "RANK") {
            rank = int_arg(v)?;
            if rank == 0 {
                return Err(Error::from(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
            if rank == i64::MIN {
                return Err(Error::msg(format!(
                    "ERR value is out of range, value must between {} and {}",
                    -i64::MAX,
                    i64::MAX
                )));
            }
        } else if is(args[i], "COUNT") {
            let c = int_arg(v).map_err(|_| Error::from("ERR COUNT can't be negative"))?;
            if c < 0 {
                return Err(Error::from("ERR COUNT can't be negative"));
            }
            count = Some(c as u64);
        } else if is(args[i], "MAXLEN") {
            let m = int_arg(v).map_err(|_| Error::from("ERR MAXLEN can't be negative"))?;
            if m < 0 {
                return Err(Error::from("ERR MAXLEN can't be negative"));
            }
            maxlen = m as u64;
        } else {
            return Err(err::SYNTAX);
        }
        i += 2;
    }
    let mut l = ctx.lock(args[1]);
    let list = get_list(&mut l, args[1])?;
    let hit = list.is_some();
    let mut found = Vec::new();
    if let Some(list) = list {
        let want = match count {
            Some(0) => u64::MAX,
            Some(c) => c,
            None => 1,
        };
        let mut skip = rank.unsigned_abs() - 1;
        let n = list.len();
        let limit = if maxlen == 0 {
            n
        } else {
            (maxlen as usize).min(n)
        };
        for step in 0..limit {
            let idx = if rank > 0 { step } else { n - 1 - step };
            if list[idx].as_slice() == args[2] {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                found.push(idx as i64);
                if found.len() as u64 >= want {
                    break;
                }
            }
        }
    }
    if count.is_some() {
        ctx.out.array(found.len());
        for f in found {
            ctx.out.int(f);
        }
    } else {
        match found.first() {
            Some(&f) => ctx.out.int(f),
            None => ctx.out.null(),
        }
    }
    read_done(ctx, hit, &l);
    Ok(())
}

fn lmove_cmd(ctx: &mut Ctx, src: &[u8], dst: &[u8], from_left: bool, to_left: bool) -> CmdResult {
    let mut l = ctx.lock_keys(&[src, dst]);
    let moved = move_element(&mut l, src, dst, from_left, to_left)?;
    write_done(ctx, &l);
    ctx.out.opt_bulk(moved.as_deref());
    Ok(())
}

fn lmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from_left = parse_side(args[3])?;
    let to_left = parse_side(args[4])?;
    lmove_cmd(ctx, args[1], args[2], from_left, to_left)
}

fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    lmove_cmd(ctx, args[1], args[2], false, true)
}

fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, left, count) = parse_mpop(args, 1)?;
    let mut l = ctx.lock_keys(&keys);
    for k in &keys {
        if let Some(elems) = pop(&mut l, k, left, count)? {
            write_done(ctx, &l);
            reply_key_elems(ctx, k, &elems);
            return Ok(());
        }
    }
    write_done(ctx, &l);
    ctx.out.null_array();
    Ok(())
}
