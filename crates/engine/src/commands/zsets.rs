//! Sorted-set commands (the non-blocking ones). [`pop`] is public so BZPOPMIN/BZPOPMAX/BZMPOP can
//! reuse it once a key is ready.

use super::coll::{
    clamp_range, get_zset, parse_cursor, random_count, read_done, remove_if_empty, reply_scan,
    scan_opts, scan_table, write_done, zset_mut,
};
use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is, parse_float};
use crate::notify::class;
use crate::store::{Blob, LexBound, Locked, ScoreBound, Value, ZSet};

/// Sorted-set commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zcard", zcard),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zrange", zrange),
    ("zrangestore", zrangestore),
    ("zrevrange", zrevrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("zmpop", zmpop),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zintercard", zintercard),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebylex", zremrangebylex),
    ("zscan", zscan),
    ("zrandmember", zrandmember),
];

const MINMAX_NOT_FLOAT: &str = "ERR min or max is not a float";
const MINMAX_NOT_LEX: &str = "ERR min or max not valid string range item";

/// Parse one end of a score range (`1.5`, `(1.5`, `-inf`, `+inf`).
pub fn parse_score_bound(a: &[u8]) -> Option<ScoreBound> {
    let (exclusive, rest) = match a.first() {
        Some(b'(') => (true, &a[1..]),
        _ => (false, a),
    };
    // Redis parses with strtod, which reads an empty string as 0.
    let value = if rest.is_empty() {
        0.0
    } else {
        parse_float(rest)?
    };
    Some(ScoreBound { value, exclusive })
}

fn score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), Error> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::from(MINMAX_NOT_FLOAT)),
    }
}

/// Parse one end of a lexicographic range.
pub fn parse_lex_bound(a: &[u8]) -> Option<LexBound> {
    match a.first()? {
        b'-' if a.len() == 1 => Some(LexBound::Min),
        b'+' if a.len() == 1 => Some(LexBound::Max),
        b'[' => Some(LexBound::Incl(a[1..].to_vec())),
        b'(' => Some(LexBound::Excl(a[1..].to_vec())),
        _ => None,
    }
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<(LexBound, LexBound), Error> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::from(MINMAX_NOT_LEX)),
    }
}

/// Reply with members and, when `withscores`, their scores (pairs in RESP3, flat in RESP2).
fn reply_scored(ctx: &mut Ctx, items: &[(Blob, f64)], withscores: bool) {
    if !withscores {
        ctx.out.array(items.len());
        for (m, _) in items {
            ctx.out.bulk(m);
        }
    } else if ctx.out.resp3 {
        ctx.out.array(items.len());
        for (m, s) in items {
            ctx.out.array(2);
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    } else {
        ctx.out.array(items.len() * 2);
        for (m, s) in items {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY / ZREM / lookups

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What one ZADD element did.
enum AddOutcome {
    Added(f64),
    Updated(f64),
    Unchanged(f64),
    Skipped,
}

fn zadd_one(z: &mut ZSet, f: AddFlags, member: &[u8], score: f64) -> Result<AddOutcome, Error> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok(AddOutcome::Skipped);
            }
            let new = if f.incr { cur + score } else { score };
            if new.is_nan() {
                return Err(Error::from("ERR resulting score is not a number (NaN)"));
            }
            if (f.gt && new <= cur) || (f.lt && new >= cur) {
                return Ok(AddOutcome::Skipped);
            }
            if new != cur {
                z.insert(member, new);
                Ok(AddOutcome::Updated(new))
            } else {
                Ok(AddOutcome::Unchanged(new))
            }
        }
        None => {
            if f.xx {
                return Ok(AddOutcome::Skipped);
            }
            z.insert(member, score);
            Ok(AddOutcome::Added(score))
        }
    }
}

fn zadd_generic(ctx: &mut Ctx, key: &[u8], f: AddFlags, pairs: &[(f64, &[u8])]) -> CmdResult {
    let mut l = ctx.lock(key);
    let (mut added, mut updated) = (0i64, 0i64);
    let mut incr_result = None;
    if let Some(z) = zset_mut(&mut l, key, !f.xx)? {
        for &(score, member) in pairs {
            match zadd_one(z, f, member, score) {
                Ok(AddOutcome::Added(s)) => {
                    added += 1;
                    incr_result = Some(s);
                }
                Ok(AddOutcome::Updated(s)) => {
                    updated += 1;
                    incr_result = Some(s);
                }
                Ok(AddOutcome::Unchanged(s)) => incr_result = Some(s),
                Ok(AddOutcome::Skipped) => {}
                Err(e) => {
                    remove_if_empty(&mut l, key);
                    return Err(e);
                }
            }
        }
    }
    if added + updated > 0 {
        ctx.notify(class::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    remove_if_empty(&mut l, key);
    write_done(ctx, &l);
    if f.incr {
        match incr_result {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

fn zadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zadd_parse(ctx, args, false)
}

/// ZADD's parser; ZINCRBY is ZADD with INCR forced, flags included, as in Redis.
fn zadd_parse(ctx: &mut Ctx, args: &[&[u8]], incr: bool) -> CmdResult {
    let mut f = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if is(a, "NX") {
            f.nx = true;
        } else if is(a, "XX") {
            f.xx = true;
        } else if is(a, "GT") {
            f.gt = true;
        } else if is(a, "LT") {
            f.lt = true;
        } else if is(a, "CH") {
            f.ch = true;
        } else if is(a, "INCR") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Err(err::SYNTAX);
    }
    if f.nx && f.xx {
        return Err(Error::from(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(Error::from(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && rest.len() > 2 {
        return Err(Error::from(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        pairs.push((super::float_arg(p[0])?, p[1]));
    }
    zadd_generic(ctx, args[1], f, &pairs)
}

fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zadd_parse(ctx, args, true)
}

fn zrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let mut n = 0;
    if let Some(z) = zset_mut(&mut l, args[1], false)? {
        for m in &args[2..] {
            if z.remove(m).is_some() {
                n += 1;
            }
        }
        if n > 0 {
            ctx.notify(class::ZSET, "zrem", args[1]);
        }
        remove_if_empty(&mut l, args[1]);
    }
    write_done(ctx, &l);
    ctx.out.int(n);
    Ok(())
}

fn zscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let hit = z.is_some();
    match z.and_then(|z| z.score(args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    read_done(ctx, hit, &l);
    Ok(())
}

fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let hit = z.is_some();
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    read_done(ctx, hit, &l);
    Ok(())
}

fn zcard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let hit = z.is_some();
    ctx.out.int(z.map_or(0, |z| z.len()) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

fn zcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (min, max) = score_range(args[2], args[3])?;
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let hit = z.is_some();
    ctx.out
        .int(z.map_or(0, |z| z.range_by_score(min, max).count()) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (min, max) = lex_range(args[2], args[3])?;
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let hit = z.is_some();
    ctx.out
        .int(z.map_or(0, |z| z.range_by_lex(&min, &max).count()) as i64);
    read_done(ctx, hit, &l);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and friends

#[derive(Clone, Copy, PartialEq)]
enum RangeKind {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range request.
enum Range {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

struct RangeReq {
    range: Range,
    rev: bool,
    offset: i64,
    limit: i64,
    withscores: bool,
}

/// Parse the arguments of ZRANGE-like commands like Redis's `zrangeGenericCommand`: `args[at]` and
/// `args[at+1]` are the range ends, options follow.
fn parse_range(
    args: &[&[u8]],
    at: usize,
    mut kind: RangeKind,
    mut dir: Direction,
    store: bool,
) -> Result<RangeReq, Error> {
    let (mut withscores, mut offset, mut limit, mut rev) = (false, 0i64, -1i64, false);
    let mut j = at + 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if !store && is(a, "WITHSCORES") {
            withscores = true;
        } else if is(a, "LIMIT") && left >= 2 {
            offset = int_arg(args[j + 1])?;
            limit = int_arg(args[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && is(a, "REV") {
            rev = true;
        } else if kind == RangeKind::Auto && is(a, "BYLEX") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && is(a, "BYSCORE") {
            kind = RangeKind::Score;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    if dir == Direction::Auto {
        dir = if rev {
            Direction::Reverse
        } else {
            Direction::Forward
        };
    }
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if limit != -1 && kind == RangeKind::Rank {
        return Err(Error::from(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == RangeKind::Lex {
        return Err(Error::from(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let rev = dir == Direction::Reverse;
    let (mut lo, mut hi) = (args[at], args[at + 1]);
    if rev && kind != RangeKind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match kind {
        RangeKind::Score => {
            let (a, b) = score_range(lo, hi)?;
            Range::Score(a, b)
        }
        RangeKind::Lex => {
            let (a, b) = lex_range(lo, hi)?;
            Range::Lex(a, b)
        }
        _ => Range::Rank(int_arg(lo)?, int_arg(hi)?),
    };
    Ok(RangeReq {
        range,
        rev,
        offset,
        limit,
        withscores,
    })
}

/// Apply LIMIT offset/count to an iterator (negative offset: nothing; negative count: all).
fn limited<'a>(
    it: impl Iterator<Item = (&'a Blob, f64)>,
    offset: i64,
    limit: i64,
) -> Vec<(Blob, f64)> {
    if offset < 0 {
        return Vec::new();
    }
    let take = if limit < 0 {
        usize::MAX
    } else {
        limit as usize
    };
    it.skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(take)
        .map(|(m, s)| (m.clone(), s))
        .collect()
}

fn select(z: &ZSet, req: &RangeReq) -> Vec<(Blob, f64)> {
    match &req.range {
        Range::Rank(start, end) => match clamp_range(*start, *end, z.len()) {
            None => Vec::new(),
            Some((s, e)) => z.range_by_rank(s, e, req.rev),
        },
        Range::Score(min, max) => {
            let it = z.range_by_score(*min, *max);
            if req.rev {
                limited(it.rev(), req.offset, req.limit)
            } else {
                limited(it, req.offset, req.limit)
            }
        }
        Range::Lex(min, max) => {
            let it = z.range_by_lex(min, max);
            if req.rev {
                limited(it.rev(), req.offset, req.limit)
            } else {
                limited(it, req.offset, req.limit)
            }
        }
    }
}

fn zrange_generic(ctx: &mut Ctx, args: &[&[u8]], kind: RangeKind, dir: Direction) -> CmdResult {
    let req = parse_range(args, 2, kind, dir, false)?;
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let hit = z.is_some();
    let items = z.map(|z| select(z, &req)).unwrap_or_default();
    read_done(ctx, hit, &l);
    drop(l);
    reply_scored(ctx, &items, req.withscores);
    Ok(())
}

fn zrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, RangeKind::Auto, Direction::Auto)
}

fn zrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, RangeKind::Rank, Direction::Reverse)
}

fn zrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, RangeKind::Score, Direction::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, RangeKind::Score, Direction::Reverse)
}

fn zrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, RangeKind::Lex, Direction::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, RangeKind::Lex, Direction::Reverse)
}

/// Store `items` as a sorted set at `dst` (deleting `dst` when empty), announced as `event` (or
/// `del`); returns the size.
fn store_zset(
    l: &mut Locked,
    dst: &[u8],
    items: impl Iterator<Item = (Blob, f64)>,
    event: &str,
) -> usize {
    let mut z = ZSet::new();
    for (m, s) in items {
        z.insert(&m, s);
    }
    let n = z.len();
    if n == 0 {
        if l.remove(dst).is_some() {
            l.notify(class::GENERIC, "del", dst);
        }
    } else {
        l.set(dst, Value::ZSet(Box::new(z)), 0);
        l.notify(class::ZSET, event, dst);
    }
    n
}

fn zrangestore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let req = parse_range(args, 3, RangeKind::Auto, Direction::Auto, true)?;
    let (dst, src) = (args[1], args[2]);
    let mut l = ctx.lock_keys(&[dst, src]);
    let items = get_zset(&mut l, src)?
        .map(|z| select(z, &req))
        .unwrap_or_default();
    let n = store_zset(&mut l, dst, items.into_iter(), "zrangestore");
    write_done(ctx, &l);
    ctx.out.int(n as i64);
    Ok(())
}

fn zrank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    if args.len() > 4 {
        return Err(super::arity_error(if rev { "zrevrank" } else { "zrank" }));
    }
    let withscore = match args.get(3) {
        None => false,
        Some(a) if is(a, "WITHSCORE") => true,
        Some(_) => return Err(err::SYNTAX),
    };
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let hit = z.is_some();
    let found = z.and_then(|z| Some((z.rank(args[2], rev)?, z.score(args[2])?)));
    read_done(ctx, hit, &l);
    drop(l);
    match (found, withscore) {
        (None, false) => ctx.out.null(),
        (None, true) => ctx.out.null_array(),
        (Some((r, _)), false) => ctx.out.int(r as i64),
        (Some((r, s)), true) => {
            ctx.out.array(2);
            ctx.out.int(r as i64);
            ctx.out.double(s);
        }
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrank_generic(ctx, args, true)
}

// ---------------------------------------------------------------------------------------------
// Pops

/// Pop up to `count` members with the lowest (or, with `max`, highest) scores from the sorted set at
/// `key`, deleting the key when it empties. `None` when the key does not exist.
pub fn pop(
    l: &mut Locked,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Option<Vec<(Blob, f64)>>, Error> {
    let Some(z) = zset_mut(l, key, false)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(count.min(z.len()));
    while out.len() < count {
        match z.pop(max) {
            Some(e) => out.push(e),
            None => break,
        }
    }
    if !out.is_empty() {
        l.notify(class::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    remove_if_empty(l, key);
    Ok(Some(out))
}

/// Write `[key, [[member, score], ...]]` (the reply of ZMPOP / BZMPOP).
pub fn reply_key_scored(ctx: &mut Ctx, key: &[u8], items: &[(Blob, f64)]) {
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(items.len());
    for (m, s) in items {
        ctx.out.array(2);
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
}

fn zpop_cmd(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let count = super::coll::optional_count(args.get(2).copied())?;
    let mut l = ctx.lock(args[1]);
    let items = pop(&mut l, args[1], max, count.unwrap_or(1))?.unwrap_or_default();
    write_done(ctx, &l);
    drop(l);
    if count.is_some() && ctx.out.resp3 {
        reply_scored(ctx, &items, true);
    } else {
        ctx.out.array(items.len() * 2);
        for (m, s) in &items {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zpop_cmd(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zpop_cmd(ctx, args, true)
}

/// The arguments of ZMPOP/BZMPOP from `numkeys` at `args[at]`: `(keys, max, count)`.
pub fn parse_zmpop<'a>(
    args: &[&'a [u8]],
    at: usize,
) -> Result<(Vec<&'a [u8]>, bool, usize), Error> {
    let n = int_arg(args[at]).map_err(|_| Error::from("ERR numkeys should be greater than 0"))?;
    if n <= 0 {
        return Err(Error::from("ERR numkeys should be greater than 0"));
    }
    if n as u64 >= (args.len() - at - 1) as u64 {
        return Err(err::SYNTAX);
    }
    let keys: Vec<&[u8]> = args[at + 1..at + 1 + n as usize].to_vec();
    let mut i = at + 1 + n as usize;
    let Some(side) = args.get(i) else {
        return Err(err::SYNTAX);
    };
    let max = if is(side, "MIN") {
        false
    } else if is(side, "MAX") {
        true
    } else {
        return Err(err::SYNTAX);
    };
    i += 1;
    let count = super::coll::mpop_count(&args[i..])?;
    Ok((keys, max, count))
}

fn zmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, max, count) = parse_zmpop(args, 1)?;
    let mut l = ctx.lock_keys(&keys);
    for k in &keys {
        if let Some(items) = pop(&mut l, k, max, count)? {
            write_done(ctx, &l);
            drop(l);
            reply_key_scored(ctx, k, &items);
            return Ok(());
        }
    }
    write_done(ctx, &l);
    ctx.out.null_array();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF

#[derive(Clone, Copy, PartialEq)]
enum ZOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggregate, acc: f64, v: f64) -> f64 {
    match a {
        Aggregate::Sum => {
            let s = acc + v;
            if s.is_nan() { 0.0 } else { s }
        }
        Aggregate::Min => acc.min(v),
        Aggregate::Max => acc.max(v),
    }
}

/// One source of ZUNION & co: a sorted set or a plain set (every member scores 1).
enum Source<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a crate::store::Table<()>),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Z(z) => z.len(),
            Source::S(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Z(z) => z.score(m),
            Source::S(s) => s.contains(m).then_some(1.0),
        }
    }

    fn members(&self) -> Vec<(&Blob, f64)> {
        match self {
            Source::Missing => Vec::new(),
            Source::Z(z) => z.iter().collect(),
            Source::S(s) => s.iter().map(|(m, _)| (m, 1.0)).collect(),
        }
    }
}

fn weighted(score: f64, w: f64) -> f64 {
    let v = score * w;
    if v.is_nan() { 0.0 } else { v }
}

/// The sources for `keys`, with lazy expiry and type checks (zset or set, WRONGTYPE otherwise).
fn sources<'l>(l: &'l mut Locked, keys: &[&[u8]]) -> Result<Vec<Source<'l>>, Error> {
    for k in keys {
        match l.get(k) {
            None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
            Some(_) => return Err(err::WRONGTYPE),
        }
    }
    let l: &'l Locked = l;
    Ok(keys
        .iter()
        .map(|k| match l.peek(k) {
            Some(Value::ZSet(z)) => Source::Z(z),
            Some(Value::Set(s)) => Source::S(s),
            _ => Source::Missing,
        })
        .collect())
}

fn combine(srcs: &[Source], weights: &[f64], op: ZOp, agg: Aggregate) -> Vec<(Blob, f64)> {
    match op {
        ZOp::Union => {
            let mut acc: ahash::HashMap<&Blob, f64> = ahash::HashMap::default();
            for (i, s) in srcs.iter().enumerate() {
                for (m, sc) in s.members() {
                    let v = weighted(sc, weights[i]);
                    acc.entry(m)
                        .and_modify(|a| *a = aggregate(agg, *a, v))
                        .or_insert(v);
                }
            }
            acc.into_iter().map(|(m, s)| (m.clone(), s)).collect()
        }
        ZOp::Inter => {
            if srcs.iter().any(|s| s.len() == 0) {
                return Vec::new();
            }
            let mut order: Vec<usize> = (0..srcs.len()).collect();
            order.sort_by_key(|&i| srcs[i].len());
            let Some((&first, rest)) = order.split_first() else {
                return Vec::new();
            };
            let mut out = Vec::new();
            'members: for (m, sc) in srcs[first].members() {
                let mut v = weighted(sc, weights[first]);
                for &j in rest {
                    match srcs[j].score(m) {
                        Some(o) => v = aggregate(agg, v, weighted(o, weights[j])),
                        None => continue 'members,
                    }
                }
                out.push((m.clone(), v));
            }
            out
        }
        ZOp::Diff => {
            let Some((first, rest)) = srcs.split_first() else {
                return Vec::new();
            };
            first
                .members()
                .into_iter()
                .filter(|(m, _)| rest.iter().all(|s| s.score(m).is_none()))
                .map(|(m, s)| (m.clone(), s))
                .collect()
        }
    }
}

fn zsetop(ctx: &mut Ctx, args: &[&[u8]], op: ZOp, store: bool) -> CmdResult {
    let name = match (op, store) {
        (ZOp::Union, true) => "zunionstore",
        (ZOp::Inter, true) => "zinterstore",
        (ZOp::Diff, true) => "zdiffstore",
        (ZOp::Union, false) => "zunion",
        (ZOp::Inter, false) => "zinter",
        (ZOp::Diff, false) => "zdiff",
    };
    let at = if store { 2 } else { 1 };
    let n = int_arg(args[at])?;
    if n < 1 {
        return Err(Error::msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(err::SYNTAX);
    }
    let n = n as usize;
    let keys: Vec<&[u8]> = args[at + 1..at + 1 + n].to_vec();
    let mut all_keys = keys.clone();
    if store {
        all_keys.push(args[1]);
    }
    // Redis checks the sources' types before it parses the options.
    let mut l = ctx.lock_keys(&all_keys);
    sources(&mut l, &keys)?;
    let mut weights = vec![1.0; n];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut j = at + 1 + n;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let a = args[j];
        if op != ZOp::Diff && remaining >= n && is(a, "WEIGHTS") {
            for (k, w) in weights.iter_mut().enumerate() {
                *w = parse_float(args[j + 1 + k])
                    .ok_or(Error::from("ERR weight value is not a float"))?;
            }
            j += n;
        } else if op != ZOp::Diff && remaining >= 1 && is(a, "AGGREGATE") {
            let v = args[j + 1];
            agg = if is(v, "SUM") {
                Aggregate::Sum
            } else if is(v, "MIN") {
                Aggregate::Min
            } else if is(v, "MAX") {
                Aggregate::Max
            } else {
                return Err(err::SYNTAX);
            };
            j += 1;
        } else if !store && is(a, "WITHSCORES") {
            withscores = true;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let srcs = sources(&mut l, &keys)?;
    let result = combine(&srcs, &weights, op, agg);
    drop(srcs);
    if store {
        let event = match op {
            ZOp::Union => "zunionstore",
            ZOp::Inter => "zinterstore",
            ZOp::Diff => "zdiffstore",
        };
        let n = store_zset(&mut l, args[1], result.into_iter(), event);
        write_done(ctx, &l);
        ctx.out.int(n as i64);
    } else {
        read_done(ctx, true, &l);
        drop(l);
        let mut z = ZSet::new();
        for (m, s) in &result {
            z.insert(m, *s);
        }
        let items: Vec<(Blob, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
        reply_scored(ctx, &items, withscores);
    }
    Ok(())
}

fn zunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zsetop(ctx, args, ZOp::Union, true)
}

fn zinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zsetop(ctx, args, ZOp::Inter, true)
}

fn zdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zsetop(ctx, args, ZOp::Diff, true)
}

fn zunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zsetop(ctx, args, ZOp::Union, false)
}

fn zinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zsetop(ctx, args, ZOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zsetop(ctx, args, ZOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = int_arg(args[1])?;
    if n < 1 {
        return Err(Error::from(
            "ERR at least 1 input key is needed for 'zintercard' command",
        ));
    }
    if n as u64 > (args.len() - 2) as u64 {
        return Err(err::SYNTAX);
    }
    let keys: Vec<&[u8]> = args[2..2 + n as usize].to_vec();
    let mut i = 2 + n as usize;
    // Redis checks the sources' types before it parses LIMIT.
    let mut l = ctx.lock_keys(&keys);
    sources(&mut l, &keys)?;
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
    let srcs = sources(&mut l, &keys)?;
    let weights = vec![1.0; keys.len()];
    let mut n = combine(&srcs, &weights, ZOp::Inter, Aggregate::Sum).len() as u64;
    if limit != 0 {
        n = n.min(limit);
    }
    drop(srcs);
    read_done(ctx, true, &l);
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrange(ctx: &mut Ctx, key: &[u8], range: Range) -> CmdResult {
    let req = RangeReq {
        range,
        rev: false,
        offset: 0,
        limit: -1,
        withscores: false,
    };
    let mut l = ctx.lock(key);
    let mut n = 0;
    if let Some(z) = zset_mut(&mut l, key, false)? {
        let victims = select(z, &req);
        for (m, _) in &victims {
            z.remove(m);
        }
        n = victims.len();
        if n > 0 {
            let event = match req.range {
                Range::Rank(..) => "zremrangebyrank",
                Range::Score(..) => "zremrangebyscore",
                Range::Lex(..) => "zremrangebylex",
            };
            ctx.notify(class::ZSET, event, key);
        }
        remove_if_empty(&mut l, key);
    }
    write_done(ctx, &l);
    ctx.out.int(n as i64);
    Ok(())
}

fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (min, max) = score_range(args[2], args[3])?;
    zremrange(ctx, args[1], Range::Score(min, max))
}

fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    zremrange(ctx, args[1], Range::Rank(start, end))
}

fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (min, max) = lex_range(args[2], args[3])?;
    zremrange(ctx, args[1], Range::Lex(min, max))
}

// ---------------------------------------------------------------------------------------------
// ZSCAN / ZRANDMEMBER

fn zscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(args[2])?;
    let mut l = ctx.lock(args[1]);
    let Some(z) = get_zset(&mut l, args[1])? else {
        reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    let opts = scan_opts(&args[3..])?;
    let fmt = |s: f64| Blob::from_slice(crate::protocol::format_double(s).as_bytes());
    let (next, items) = if z.len() <= 128 {
        // A compact sorted set is scanned in one call, in score order like Redis's listpack.
        let mut items = Vec::new();
        for (m, s) in z.iter() {
            if opts.pattern.is_none_or(|p| crate::glob::matches(p, m)) {
                items.push(m.clone());
                items.push(fmt(s));
            }
        }
        (0, items)
    } else {
        scan_table(z.table(), cursor, &opts, |m, s, out| {
            out.push(m.clone());
            out.push(fmt(*s));
        })
    };
    drop(l);
    reply_scan(ctx, next, &items);
    Ok(())
}

fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut withscores = false;
    let mut count = None;
    if args.len() >= 3 {
        if args.len() > 4 || (args.len() == 4 && !is(args[3], "WITHSCORES")) {
            int_arg(args[2])?;
            return Err(err::SYNTAX);
        }
        withscores = args.len() == 4;
        count = Some(random_count(args[2], withscores)?);
    }
    let mut l = ctx.lock(args[1]);
    let z = get_zset(&mut l, args[1])?;
    let Some((count, unique)) = count else {
        let pick = z.and_then(|z| z.table().random_key());
        ctx.out.opt_bulk(pick.as_deref());
        return Ok(());
    };
    let Some(z) = z else {
        ctx.out.array(0);
        return Ok(());
    };
    let t = z.table();
    let picks: Vec<Blob> = if unique {
        t.random_distinct(count.min(t.len() as u64) as usize)
    } else {
        t.random_repeated(count as usize)
    };
    let items: Vec<(Blob, f64)> = picks
        .into_iter()
        .map(|m| {
            let s = z.score(&m).unwrap_or(0.0);
            (m, s)
        })
        .collect();
    drop(l);
    reply_scored(ctx, &items, withscores);
    Ok(())
}
