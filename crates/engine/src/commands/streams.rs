//! Stream commands with Redis 7.0's semantics and error texts: XADD, XRANGE, XREVRANGE, XLEN, XDEL,
//! XTRIM, XREAD, XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO and XSETID.
//!
//! The data structure lives in `store::stream`. Blocking reads (XREAD/XREADGROUP BLOCK) wait as
//! readers ([`Ctx::block_reader`]): woken in arrival order, one that finds nothing passes the turn to
//! the next, so one XADD serves every reader it can (XREADGROUP consumers of one group first come,
//! first served). XREAD runs again with `$` replaced by the ID it meant when the client blocked, so
//! entries added while it waited are seen. Like Redis 7.0, only XADD, XDEL and XTRIM (when they change something) count as
//! modifications for WATCH; group bookkeeping (XREADGROUP, XACK, XCLAIM, XGROUP) does not.

use super::{CmdResult, Ctx, Error, Handler, arity_error, err, int_arg, is};
use crate::protocol::Out;
use crate::store::stream::{Group, INVALID_ENTRIES_READ, Trim};
use crate::store::{Blob, Locked, Stream, StreamId, Value};

/// Stream commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("xadd", xadd),
    ("xrange", xrange),
    ("xrevrange", xrevrange),
    ("xlen", xlen),
    ("xdel", xdel),
    ("xtrim", xtrim),
    ("xread", xread),
    ("xreadgroup", xreadgroup),
    ("xgroup", xgroup),
    ("xack", xack),
    ("xpending", xpending),
    ("xclaim", xclaim),
    ("xautoclaim", xautoclaim),
    ("xinfo", xinfo),
    ("xsetid", xsetid),
];

const INVALID_ID: Error = Error(std::borrow::Cow::Borrowed(
    "ERR Invalid stream ID specified as stream command argument",
));

/// Redis's `string2ull`: a non-negative 64-bit integer (strtoull's leading blanks and `+` allowed).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::protocol::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let text = std::str::from_utf8(s).ok()?;
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u64>().ok()
}

/// Parse an ID like Redis's `streamGenericParseIDOrReply`. `strict` rejects `-` and `+`; with
/// `allow_auto_seq`, `<ms>-*` is accepted and reported by the second value being false.
fn parse_id_full(
    a: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<(StreamId, bool), Error> {
    if a.len() > 127 {
        return Err(INVALID_ID);
    }
    if a == b"-" {
        return if strict {
            Err(INVALID_ID)
        } else {
            Ok((StreamId::MIN, true))
        };
    }
    if a == b"+" {
        return if strict {
            Err(INVALID_ID)
        } else {
            Ok((StreamId::MAX, true))
        };
    }
    // Redis works on a C string: an embedded NUL ends it.
    let a = a.split(|&b| b == 0).next().unwrap_or(a);
    let (ms_part, seq_part) = match a.iter().position(|&b| b == b'-') {
        Some(p) => (&a[..p], Some(&a[p + 1..])),
        None => (a, None),
    };
    let ms = string2ull(ms_part).ok_or(INVALID_ID)?;
    match seq_part {
        Some(b"*") if allow_auto_seq => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, string2ull(s).ok_or(INVALID_ID)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

/// A plain ID argument (`-` and `+` allowed).
fn parse_id(a: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    parse_id_full(a, missing_seq, false, false).map(|(id, _)| id)
}

/// A strict ID argument (no `-` or `+`).
fn parse_strict_id(a: &[u8]) -> Result<StreamId, Error> {
    parse_id_full(a, 0, true, false).map(|(id, _)| id)
}

/// A range bound: an ID, `-`/`+`, or `(`ID for an exclusive bound.
fn parse_interval(a: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    if a.len() > 1 && a[0] == b'(' {
        Ok((parse_id_full(&a[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse_id(a, missing_seq)?, false))
    }
}

/// Start and end of a range with exclusive bounds resolved.
fn parse_range(start: &[u8], end: &[u8]) -> Result<(StreamId, StreamId), Error> {
    let (mut s, sx) = parse_interval(start, 0)?;
    if sx {
        s = s
            .next()
            .ok_or(Error::from("ERR invalid start ID for the interval"))?;
    }
    let (mut e, ex) = parse_interval(end, u64::MAX)?;
    if ex {
        e = e
            .prev()
            .ok_or(Error::from("ERR invalid end ID for the interval"))?;
    }
    Ok((s, e))
}

fn reply_id(out: &mut Out, id: StreamId) {
    out.bulk(&id.to_bytes());
}

fn reply_entry(out: &mut Out, id: StreamId, fields: &[Blob]) {
    out.array(2);
    reply_id(out, id);
    out.array(fields.len());
    for f in fields {
        out.bulk(f);
    }
}

fn get_stream<'l>(l: &'l mut Locked, key: &[u8]) -> Result<Option<&'l Stream>, Error> {
    match l.get(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The stream for a change WATCH does not hear about (see [`Locked::get_mut_quiet`]).
fn stream_quiet<'l>(l: &'l mut Locked, key: &[u8]) -> Result<Option<&'l mut Stream>, Error> {
    match l.get_mut_quiet(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn nogroup(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

// ---------------------------------------------------------------------------------------------
// XADD / XTRIM

/// The options XADD and XTRIM share.
struct AddTrim {
    /// Index of the ID argument (XADD).
    id_pos: usize,
    /// Explicit ID and whether its sequence was given (`ms-*` = false).
    id: Option<(StreamId, bool)>,
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
}

fn parse_add_trim(args: &[&[u8]], xadd: bool, node_entries: u64) -> Result<AddTrim, Error> {
    let mut p = AddTrim {
        id_pos: args.len(),
        id: None,
        trim: None,
        approx: false,
        limit: 0,
        nomkstream: false,
    };
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut i = 2;
    const BOTH: &str =
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && opt == b"*" {
            p.id_pos = i;
            break;
        } else if is(opt, "MAXLEN") && more > 0 {
            if p.trim.is_some() {
                return Err(Error::from(BOTH));
            }
            p.approx = false;
            let next = args[i + 1];
            if more >= 2 && next == b"~" {
                p.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let n = int_arg(args[i + 1])?;
            if n < 0 {
                return Err(Error::from("ERR The MAXLEN argument must be >= 0."));
            }
            i += 1;
            p.trim = Some(Trim::MaxLen(n as u64));
        } else if is(opt, "MINID") && more > 0 {
            if p.trim.is_some() {
                return Err(Error::from(BOTH));
            }
            p.approx = false;
            let next = args[i + 1];
            if more >= 2 && next == b"~" {
                p.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let id = parse_strict_id(args[i + 1])?;
            i += 1;
            p.trim = Some(Trim::MinId(id));
        } else if is(opt, "LIMIT") && more > 0 {
            limit = int_arg(args[i + 1])?;
            if limit < 0 {
                return Err(Error::from("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "NOMKSTREAM") {
            p.nomkstream = true;
        } else if xadd {
            p.id = Some(parse_id_full(opt, 0, true, true)?);
            p.id_pos = i;
            break;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if limit != 0 && p.trim.is_none() {
        return Err(Error::from(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && p.trim.is_none() {
        return Err(Error::from(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !p.approx {
            return Err(Error::from(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        p.limit = limit as u64;
    } else if p.approx {
        // Redis's default: 100 nodes' worth (`stream-node-max-entries`).
        p.limit = 100 * node_entries;
    }
    Ok(p)
}

fn xadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let node_limits = ctx.engine.store.tuning.stream_node_limits();
    let p = parse_add_trim(args, true, node_limits.1)?;
    let field_pos = p.id_pos + 1;
    let nfields = args.len() as i64 - field_pos as i64;
    if nfields < 2 || nfields % 2 == 1 {
        return Err(arity_error("xadd"));
    }
    if let Some((id, true)) = p.id
        && id.is_zero()
    {
        return Err(Error::from(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = args[1];
    let now = ctx.now;
    let mut l = ctx.lock(key);
    let last = match get_stream(&mut l, key)? {
        Some(s) => Some(s.last_id),
        None if p.nomkstream => {
            drop(l);
            ctx.out.null();
            return Ok(());
        }
        None => None,
    };
    let last_id = last.unwrap_or_default();
    if last_id == StreamId::MAX {
        return Err(Error::from(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    const SMALLER: &str =
        "ERR The ID specified in XADD is equal or smaller than the target stream top item";
    let id = match p.id {
        None => {
            if now > last_id.ms {
                StreamId::new(now, 0)
            } else {
                last_id.next().ok_or(Error::from(SMALLER))?
            }
        }
        Some((id, true)) => id,
        Some((id, false)) => {
            if id.ms == last_id.ms {
                last_id
                    .next()
                    .filter(|n| n.ms == id.ms)
                    .ok_or(Error::from(SMALLER))?
            } else {
                id
            }
        }
    };
    if id <= last_id {
        return Err(Error::from(SMALLER));
    }
    if last.is_none() {
        l.set(key, Value::Stream(Box::default()), 0);
    }
    let Some(Value::Stream(s)) = l.get_mut(key) else {
        return Err(err::WRONGTYPE);
    };
    s.append(id, &args[field_pos..], node_limits);
    if let Some(t) = p.trim {
        s.trim(t, p.approx, p.limit);
    }
    drop(l);
    reply_id(ctx.out, id);
    Ok(())
}

fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let p = parse_add_trim(args, false, ctx.engine.store.tuning.stream_node_limits().1)?;
    let key = args[1];
    let mut l = ctx.lock(key);
    let Some(s) = stream_quiet(&mut l, key)? else {
        drop(l);
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = match p.trim {
        Some(t) => s.trim(t, p.approx, p.limit),
        None => 0,
    };
    if deleted > 0 {
        l.touch(key);
    }
    drop(l);
    ctx.out.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XRANGE / XREVRANGE / XLEN / XDEL

fn range_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let (start, end) = parse_range(start_arg, end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(args[j], "COUNT") && j + 1 < args.len() {
            count = int_arg(args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let key = args[1];
    let mut l = ctx.lock(key);
    let s = get_stream(&mut l, key)?;
    let Some(s) = s else {
        ctx.account(false, &l);
        drop(l);
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        drop(l);
        ctx.out.null_array();
        return Ok(());
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let items: Vec<(StreamId, &[Blob])> = s.range(start, end, rev).take(limit).collect();
    ctx.out.array(items.len());
    for (id, f) in items {
        reply_entry(ctx.out, id, f);
    }
    ctx.account(true, &l);
    Ok(())
}

fn xrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, true)
}

fn xlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let n = get_stream(&mut l, args[1])?.map(|s| s.len());
    ctx.account(n.is_some(), &l);
    drop(l);
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn xdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut l = ctx.lock(key);
    if get_stream(&mut l, key)?.is_none() {
        drop(l);
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(s) = stream_quiet(&mut l, key)? else {
        return Err(err::WRONGTYPE);
    };
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        l.touch(key);
    }
    drop(l);
    ctx.out.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XREAD / XREADGROUP

/// What to read from one stream.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// Entries after this ID (XREAD, or XREADGROUP history after it).
    After(StreamId),
    /// XREADGROUP `>`: entries never delivered to the group.
    New,
}

fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_generic(ctx, args, false)
}

fn xreadgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_generic(ctx, args, true)
}

fn read_generic(ctx: &mut Ctx, args: &[&[u8]], xreadgroup: bool) -> CmdResult {
    let mut timeout: Option<i64> = None;
    let mut count: i64 = 0;
    let mut streams_arg = 0;
    let mut nstreams = 0;
    let mut noack = false;
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if is(o, "BLOCK") && more > 0 {
            i += 1;
            let t = crate::protocol::parse_i64(args[i])
                .ok_or(Error::from("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(Error::from("ERR timeout is negative"));
            }
            timeout = Some(t);
        } else if is(o, "COUNT") && more > 0 {
            i += 1;
            count = int_arg(args[i])?.max(0);
        } else if is(o, "STREAMS") && more > 0 {
            streams_arg = i + 1;
            let n = args.len() - streams_arg;
            if !n.is_multiple_of(2) {
                // Redis 7.0 says XREAD and '$' for XREADGROUP too.
                return Err(Error::from(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            nstreams = n / 2;
            break;
        } else if is(o, "GROUP") && more >= 2 {
            if !xreadgroup {
                return Err(Error::from(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if is(o, "NOACK") {
            if !xreadgroup {
                return Err(Error::from(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(err::SYNTAX);
    }
    if xreadgroup && group.is_none() {
        return Err(Error::from("ERR Missing GROUP option for XREADGROUP"));
    }
    let keys = &args[streams_arg..streams_arg + nstreams];
    let id_args = &args[streams_arg + nstreams..];
    let retry = ctx.retry;
    let now = ctx.now;
    let mut l = ctx.lock_keys(keys);

    // Resolve the IDs (and check keys and groups) before serving anything.
    let mut from = Vec::with_capacity(nstreams);
    for (key, ida) in keys.iter().zip(id_args) {
        let s = match l.get(key) {
            None => None,
            Some(Value::Stream(s)) => Some(&**s),
            Some(_) if retry && !xreadgroup => None,
            Some(_) if retry => {
                return Err(Error::from("UNBLOCKED the stream key no longer exists"));
            }
            Some(_) => return Err(err::WRONGTYPE),
        };
        if let Some((g, _)) = group {
            match s {
                Some(s) if s.groups.contains_key(g) => {}
                None if retry => {
                    return Err(Error::from("UNBLOCKED the stream key no longer exists"));
                }
                Some(_) if retry => {
                    return Err(Error::from(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
                _ => {
                    return Err(Error::msg(format!(
                        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                        String::from_utf8_lossy(key),
                        String::from_utf8_lossy(g)
                    )));
                }
            }
        }
        if *ida == b"$" {
            if xreadgroup {
                return Err(Error::from(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            from.push(ReadFrom::After(s.map(|s| s.last_id).unwrap_or_default()));
        } else if *ida == b">" {
            if !xreadgroup {
                return Err(Error::from(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            from.push(ReadFrom::New);
        } else {
            let id = parse_strict_id(ida)?;
            // Redis marks `>` with the largest ID, so that ID given explicitly means `>` too.
            if xreadgroup && id == StreamId::MAX {
                from.push(ReadFrom::New);
            } else {
                from.push(ReadFrom::After(id));
            }
        }
    }
    // Woken after blocking without COUNT: serve at most 1000 entries, like Redis.
    let count = if retry && count == 0 { 1000 } else { count };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };

    // Which streams can be served now.
    let mut serve = vec![false; nstreams];
    for (k, key) in keys.iter().enumerate() {
        let Some(Value::Stream(s)) = l.peek(key) else {
            continue;
        };
        serve[k] = match (from[k], group) {
            (ReadFrom::After(_), Some(_)) => true,
            (ReadFrom::New, Some((g, _))) => s
                .groups
                .get(g)
                .is_some_and(|g| !s.is_empty() && s.last_valid_id() > g.last_id),
            (ReadFrom::After(id), None) => !s.is_empty() && s.last_valid_id() > id,
            (ReadFrom::New, None) => false,
        };
    }
    let served = serve.iter().filter(|s| **s).count();

    if served > 0 {
        let out = &mut *ctx.out;
        if out.resp3 {
            out.map(served);
        } else {
            out.array(served);
        }
        for (k, key) in keys.iter().enumerate() {
            if !serve[k] {
                continue;
            }
            if !out.resp3 {
                out.array(2);
            }
            out.bulk(key);
            let Ok(Some(s)) = stream_quiet(&mut l, key) else {
                out.array(0);
                continue;
            };
            // Like Redis, the consumer is created (and its seen time refreshed) only when served.
            if let Some((g, c)) = group
                && let Some(grp) = s.groups.get_mut(g)
            {
                grp.consumer(c, now);
            }
            match (group, from[k]) {
                (None, ReadFrom::After(id)) => {
                    let items: Vec<_> = match id.next() {
                        Some(start) => s.range(start, StreamId::MAX, false).take(limit).collect(),
                        None => Vec::new(),
                    };
                    out.array(items.len());
                    for (id, f) in items {
                        reply_entry(out, id, f);
                    }
                }
                (Some((g, c)), ReadFrom::After(id)) => {
                    serve_history(out, s, g, c, id.next(), limit, now);
                }
                (Some((g, c)), ReadFrom::New) => {
                    serve_new(out, s, g, c, limit, noack, now);
                }
                (None, ReadFrom::New) => out.array(0),
            }
        }
        drop(l);
        return Ok(());
    }
    drop(l);
    match timeout {
        Some(t) => {
            let wait = (t > 0).then(|| std::time::Duration::from_millis(t as u64));
            // Run again with `$` resolved to what it meant now.
            let mut again: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            for (k, f) in from.iter().enumerate() {
                if let ReadFrom::After(id) = f
                    && id_args[k] == b"$"
                {
                    again[streams_arg + nstreams + k] = id.to_bytes();
                }
            }
            ctx.block_reader(keys, wait, again);
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// XREADGROUP with `>`: entries after the group's last ID, added to the PEL unless NOACK.
fn serve_new(
    out: &mut Out,
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    limit: usize,
    noack: bool,
    now: u64,
) {
    let Some(last) = s.groups.get(group).map(|g| g.last_id) else {
        out.array(0);
        return;
    };
    let ids: Vec<StreamId> = match last.next() {
        Some(start) => {
            let items: Vec<_> = s.range(start, StreamId::MAX, false).take(limit).collect();
            out.array(items.len());
            for (id, f) in items.iter() {
                reply_entry(out, *id, f);
            }
            items.into_iter().map(|(id, _)| id).collect()
        }
        None => {
            out.array(0);
            Vec::new()
        }
    };
    for id in ids {
        s.advance_group(group, id);
        if !noack && let Some(g) = s.groups.get_mut(group) {
            g.consumer(consumer, now);
            let nack = g.assign(id, consumer, now);
            nack.delivery_time = now;
            nack.delivery_count = 1;
        }
    }
}

/// XREADGROUP with an ID: the consumer's own pending entries after it.
fn serve_history(
    out: &mut Out,
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    start: Option<StreamId>,
    limit: usize,
    now: u64,
) {
    let ids: Vec<StreamId> = match (
        start,
        s.groups.get(group).and_then(|g| g.consumers.get(consumer)),
    ) {
        (Some(start), Some(c)) => c.pel.range(start..).take(limit).copied().collect(),
        _ => Vec::new(),
    };
    out.array(ids.len());
    for id in ids {
        match s.get(id) {
            Some(f) => {
                reply_entry(out, id, f);
                if let Some(n) = s.groups.get_mut(group).and_then(|g| g.pel.get_mut(&id)) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// XGROUP

fn xgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    // The dispatcher resolved the subcommand and checked its arity.
    if sub == "help" {
        ctx.out.help(&[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Prints this help.",
        ]);
        return Ok(());
    }
    let (key, gname) = (args[2], args[3]);
    let mut mkstream = false;
    let mut entries_read: i64 = INVALID_ENTRIES_READ;
    const ENTRIESREAD_RANGE: &str = "ERR value for ENTRIESREAD must be positive or -1";
    if sub == "create" && args.len() >= 6 {
        let mut i = 5;
        while i < args.len() {
            if is(args[i], "MKSTREAM") {
                mkstream = true;
                i += 1;
            } else if is(args[i], "ENTRIESREAD") && i + 1 < args.len() {
                entries_read = int_arg(args[i + 1])?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(Error::from(ENTRIESREAD_RANGE));
                }
                i += 2;
            } else {
                return Err(super::subcommand_syntax_error("xgroup", args[1]));
            }
        }
    }
    let now = ctx.now;
    let mut l = ctx.lock(key);
    let exists = get_stream(&mut l, key)?.is_some();
    if !mkstream && !exists {
        return Err(Error::from(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    if exists
        && matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer")
        && !get_stream(&mut l, key)?.is_some_and(|s| s.groups.contains_key(gname))
    {
        return Err(nogroup_for_key(key, gname));
    }
    match sub.as_str() {
        "create" => {
            if args.len() > 8 {
                return Err(super::subcommand_syntax_error("xgroup", args[1]));
            }
            let last = get_stream(&mut l, key)?
                .map(|s| s.last_id)
                .unwrap_or_default();
            let id = if args[4] == b"$" {
                last
            } else {
                parse_strict_id(args[4])?
            };
            if !exists {
                l.set(key, Value::Stream(Box::default()), 0);
            }
            let Some(s) = stream_quiet(&mut l, key)? else {
                return Err(err::WRONGTYPE);
            };
            if s.groups.contains_key(gname) {
                return Err(Error::from("BUSYGROUP Consumer Group name already exists"));
            }
            s.groups
                .insert(Blob::from_slice(gname), Group::new(id, entries_read));
            drop(l);
            ctx.out.ok();
        }
        "setid" => {
            if args.len() != 5 && args.len() != 7 {
                return Err(super::subcommand_syntax_error("xgroup", args[1]));
            }
            let Some(s) = stream_quiet(&mut l, key)? else {
                return Err(err::WRONGTYPE);
            };
            let id = if args[4] == b"$" {
                s.last_id
            } else {
                parse_id(args[4], 0)?
            };
            if args.len() == 7 {
                if !is(args[5], "ENTRIESREAD") {
                    return Err(super::subcommand_syntax_error("xgroup", args[1]));
                }
                entries_read = int_arg(args[6])?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(Error::from(ENTRIESREAD_RANGE));
                }
            }
            if let Some(g) = s.groups.get_mut(gname) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            drop(l);
            ctx.out.ok();
        }
        "destroy" => {
            let Some(s) = stream_quiet(&mut l, key)? else {
                return Err(err::WRONGTYPE);
            };
            let removed = s.groups.remove(gname).is_some();
            if removed {
                // Blocked XREADGROUP clients of the group get their error.
                l.signal_ready(key);
            }
            drop(l);
            ctx.out.int(removed as i64);
        }
        "createconsumer" => {
            let Some(s) = stream_quiet(&mut l, key)? else {
                return Err(err::WRONGTYPE);
            };
            let created = s
                .groups
                .get_mut(gname)
                .is_some_and(|g| !g.consumers.contains_key(args[4]) && g.consumer(args[4], now).1);
            drop(l);
            ctx.out.int(created as i64);
        }
        _ => {
            let Some(s) = stream_quiet(&mut l, key)? else {
                return Err(err::WRONGTYPE);
            };
            let mut pending = 0;
            if let Some(g) = s.groups.get_mut(gname)
                && let Some(c) = g.consumers.remove(args[4])
            {
                pending = c.pel.len();
                for id in c.pel {
                    g.pel.remove(&id);
                }
            }
            drop(l);
            ctx.out.int(pending as i64);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM

fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname) = (args[1], args[2]);
    let mut l = ctx.lock(key);
    let has_group = get_stream(&mut l, key)?.is_some_and(|s| s.groups.contains_key(gname));
    if !has_group {
        drop(l);
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut acked = 0;
    if let Some(g) = stream_quiet(&mut l, key)?.and_then(|s| s.groups.get_mut(gname)) {
        acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    }
    drop(l);
    ctx.out.int(acked as i64);
    Ok(())
}

fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname) = (args[1], args[2]);
    let summary = args.len() == 3;
    if args.len() != 3 && (args.len() < 6 || args.len() > 9) {
        return Err(err::SYNTAX);
    }
    let mut min_idle: i64 = 0;
    let mut range = (StreamId::MIN, StreamId::MAX);
    let mut count: i64 = 0;
    let mut consumer: Option<&[u8]> = None;
    if args.len() >= 6 {
        let mut start = 3;
        if is(args[3], "IDLE") {
            min_idle = int_arg(args[4])?;
            if args.len() < 8 {
                return Err(err::SYNTAX);
            }
            start += 2;
        }
        count = int_arg(args[start + 2])?.max(0);
        range = parse_range(args[start], args[start + 1])?;
        if start + 3 < args.len() {
            consumer = Some(args[start + 3]);
        }
    }
    let now = ctx.now;
    let mut l = ctx.lock(key);
    let s = get_stream(&mut l, key)?;
    let Some(g) = s.and_then(|s| s.groups.get(gname)) else {
        return Err(nogroup(key, gname));
    };
    let out = &mut *ctx.out;
    if summary {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                reply_id(out, *first);
                reply_id(out, *last);
                let owners: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(owners.len());
                for (name, c) in owners {
                    out.array(2);
                    out.bulk(name);
                    out.bulk(c.pel.len().to_string().as_bytes());
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    }
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) if range.0 <= range.1 => c.pel.range(range.0..=range.1).copied().collect(),
            Some(_) => Vec::new(),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None if range.0 <= range.1 => g.pel.range(range.0..=range.1).map(|(k, _)| *k).collect(),
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() as i64 >= count {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        let idle = now as i64 - n.delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        rows.push((id, n));
    }
    out.array(rows.len());
    for (id, n) in rows {
        out.array(4);
        reply_id(out, id);
        out.bulk(&n.consumer);
        out.int((now as i64 - n.delivery_time as i64).max(0));
        out.int(n.delivery_count as i64);
    }
    Ok(())
}

fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, cname) = (args[1], args[2], args[3]);
    let now = ctx.now;
    let mut l = ctx.lock(key);
    let s = get_stream(&mut l, key)?;
    if !s.is_some_and(|s| s.groups.contains_key(gname)) {
        return Err(nogroup(key, gname));
    }
    let min_idle = crate::protocol::parse_i64(args[4])
        .ok_or(Error::from("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < args.len() {
        match parse_strict_id(args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut force = false;
    let mut justid = false;
    let mut retrycount: i64 = -1;
    let mut delivery: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        let num = |a: &[u8], what: &str| {
            crate::protocol::parse_i64(a)
                .ok_or_else(|| Error::msg(format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if is(opt, "FORCE") {
            force = true;
        } else if is(opt, "JUSTID") {
            justid = true;
        } else if is(opt, "IDLE") && more > 0 {
            j += 1;
            delivery = (now as i64).saturating_sub(num(args[j], "IDLE")?);
        } else if is(opt, "TIME") && more > 0 {
            j += 1;
            delivery = num(args[j], "TIME")?;
        } else if is(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            retrycount = num(args[j], "RETRYCOUNT")?;
        } else if is(opt, "LASTID") && more > 0 {
            j += 1;
            last_id = parse_strict_id(args[j])?;
        } else {
            return Err(Error::msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    let delivery = if delivery < 0 || delivery > now as i64 {
        now
    } else {
        delivery as u64
    };
    let Some(s) = stream_quiet(&mut l, key)? else {
        return Err(err::WRONGTYPE);
    };
    let out = &mut *ctx.out;
    let Some(g) = s.groups.get_mut(gname) else {
        return Err(nogroup(key, gname));
    };
    if last_id > g.last_id {
        g.last_id = last_id;
    }
    let mut claimed: Vec<StreamId> = Vec::new();
    for id in ids {
        let exists = s.get(id).is_some();
        let Some(g) = s.groups.get_mut(gname) else {
            break;
        };
        if !exists {
            // The entry is gone: drop it from the PEL.
            g.ack(id);
            continue;
        }
        let pending = g.pel.get(&id);
        if pending.is_none() && !force {
            continue;
        }
        if let Some(n) = pending
            && min_idle != 0
            && (now as i64 - n.delivery_time as i64) < min_idle
        {
            continue;
        }
        g.consumer(cname, now);
        let nack = g.assign(id, cname, now);
        nack.delivery_time = delivery;
        if retrycount >= 0 {
            nack.delivery_count = retrycount as u64;
        } else if !justid {
            nack.delivery_count += 1;
        }
        claimed.push(id);
    }
    out.array(claimed.len());
    for id in claimed {
        if justid {
            reply_id(out, id);
        } else if let Some(f) = s.get(id) {
            reply_entry(out, id, f);
        } else {
            out.null();
        }
    }
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, cname) = (args[1], args[2], args[3]);
    let min_idle = crate::protocol::parse_i64(args[4])
        .ok_or(Error::from(
            "ERR Invalid min-idle-time argument for XAUTOCLAIM",
        ))?
        .max(0);
    let (mut start, sx) = parse_interval(args[5], 0)?;
    if sx {
        start = start
            .next()
            .ok_or(Error::from("ERR invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "COUNT") && more > 0 {
            let max = i64::MAX / 16;
            count = crate::protocol::parse_i64(args[j + 1])
                .filter(|c| (1..=max).contains(c))
                .ok_or(Error::from("ERR COUNT must be > 0"))?;
            j += 1;
        } else if is(args[j], "JUSTID") {
            justid = true;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let now = ctx.now;
    let mut l = ctx.lock(key);
    let s = get_stream(&mut l, key)?;
    if !s.is_some_and(|s| s.groups.contains_key(gname)) {
        return Err(nogroup(key, gname));
    }
    let Some(s) = stream_quiet(&mut l, key)? else {
        return Err(err::WRONGTYPE);
    };
    let mut attempts = count.saturating_mul(10);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut cursor = Some(start);
    let mut next = StreamId::MIN;
    while let Some(from) = cursor {
        let Some(g) = s.groups.get(gname) else { break };
        let Some((&id, n)) = g.pel.range(from..).next() else {
            break;
        };
        if attempts == 0 || count == 0 {
            next = id;
            break;
        }
        attempts -= 1;
        cursor = id.next();
        let idle = now as i64 - n.delivery_time as i64;
        let exists = s.get(id).is_some();
        let Some(g) = s.groups.get_mut(gname) else {
            break;
        };
        if !exists {
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        g.consumer(cname, now);
        let nack = g.assign(id, cname, now);
        nack.delivery_time = now;
        if !justid {
            nack.delivery_count += 1;
        }
        claimed.push(id);
        count -= 1;
    }
    let out = &mut *ctx.out;
    out.array(3);
    reply_id(out, next);
    out.array(claimed.len());
    for id in claimed {
        if justid {
            reply_id(out, id);
        } else if let Some(f) = s.get(id) {
            reply_entry(out, id, f);
        }
    }
    out.array(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XINFO / XSETID

fn xinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    // The dispatcher resolved the subcommand and checked its arity.
    if sub == "help" {
        ctx.out.help(&[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Prints this help.",
        ]);
        return Ok(());
    }
    let key = args[2];
    let now = ctx.now;
    let mut l = ctx.lock(key);
    let Some(s) = get_stream(&mut l, key)? else {
        return Err(err::NO_SUCH_KEY);
    };
    let out = &mut *ctx.out;
    match sub.as_str() {
        "consumers" => {
            let Some(g) = s.groups.get(args[3]) else {
                return Err(nogroup_for_key(key, args[3]));
            };
            out.array(g.consumers.len());
            for (name, c) in g.consumers.iter() {
                // Redis 7.2's shape (the version redlink reports): `inactive` is the time since the
                // consumer was last given entries, -1 if never.
                out.map(4);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"pending");
                out.int(c.pel.len() as i64);
                out.bulk(b"idle");
                out.int((now as i64 - c.seen_time as i64).max(0));
                out.bulk(b"inactive");
                out.int(c.active_time.map_or(-1, |t| (now as i64 - t as i64).max(0)));
            }
        }
        "groups" => {
            out.array(s.groups.len());
            for (name, g) in s.groups.iter() {
                out.map(6);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"consumers");
                out.int(g.consumers.len() as i64);
                out.bulk(b"pending");
                out.int(g.pel.len() as i64);
                out.bulk(b"last-delivered-id");
                reply_id(out, g.last_id);
                out.bulk(b"entries-read");
                reply_entries_read(out, g);
                out.bulk(b"lag");
                match s.lag(g) {
                    Some(v) => out.int(v),
                    None => out.null(),
                }
            }
        }
        _ => xinfo_stream(out, s, args[1], &args[3..])?,
    }
    Ok(())
}

fn reply_entries_read(out: &mut Out, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

fn xinfo_stream(out: &mut Out, s: &Stream, sub: &[u8], opts: &[&[u8]]) -> CmdResult {
    let mut count: i64 = 10;
    let full = !opts.is_empty();
    if full {
        if !is(opts[0], "FULL") {
            return Err(super::subcommand_syntax_error("xinfo", sub));
        }
        if opts.len() > 1 {
            if opts.len() != 3 || !is(opts[1], "COUNT") {
                return Err(super::subcommand_syntax_error("xinfo", sub));
            }
            count = int_arg(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match s.first() {
            Some((id, f)) => reply_entry(out, id, f),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.last() {
            Some((id, f)) => reply_entry(out, id, f),
            None => out.null(),
        }
        return Ok(());
    }
    out.bulk(b"entries");
    let items: Vec<_> = s
        .range(StreamId::MIN, StreamId::MAX, false)
        .take(limit)
        .collect();
    out.array(items.len());
    for (id, f) in items {
        reply_entry(out, id, f);
    }
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in s.groups.iter() {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        match s.lag(g) {
            Some(v) => out.int(v),
            None => out.null(),
        }
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        out.array(pel.len());
        for (id, n) in pel {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&n.consumer);
            out.int(n.delivery_time as i64);
            out.int(n.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in g.consumers.iter() {
            out.map(5);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"active-time");
            out.int(c.active_time.map_or(-1, |t| t as i64));
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let pel: Vec<_> = c.pel.iter().take(limit).collect();
            out.array(pel.len());
            for id in pel {
                let (time, deliveries) = g
                    .pel
                    .get(id)
                    .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                out.array(3);
                reply_id(out, *id);
                out.int(time as i64);
                out.int(deliveries as i64);
            }
        }
    }
    Ok(())
}

fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let id = parse_strict_id(args[2])?;
    let mut entries_added: i64 = -1;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "ENTRIESADDED") && more > 0 {
            entries_added = int_arg(args[i + 1])?;
            if entries_added < 0 {
                return Err(Error::from("ERR entries_added must be positive"));
            }
            i += 2;
        } else if is(args[i], "MAXDELETEDID") && more > 0 {
            max_deleted = parse_strict_id(args[i + 1])?;
            if id < max_deleted {
                return Err(Error::from(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let mut l = ctx.lock(key);
    let Some(s) = stream_quiet(&mut l, key)? else {
        return Err(err::NO_SUCH_KEY);
    };
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(Error::from(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.len() as i64 > entries_added {
            return Err(Error::from(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_deleted.is_zero() {
        s.max_deleted = max_deleted;
    }
    drop(l);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parsing_follows_redis() {
        assert_eq!(parse_id(b"5", 7).ok(), Some(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"5-3", 7).ok(), Some(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"-", 0).ok(), Some(StreamId::MIN));
        assert_eq!(parse_id(b"+", 0).ok(), Some(StreamId::MAX));
        assert!(parse_strict_id(b"+").is_err());
        assert!(parse_id(b"5-x", 0).is_err());
        assert!(parse_id(b"-5", 0).is_err());
        assert!(parse_id(b"1--5", 0).is_err());
        assert_eq!(
            parse_id(b"18446744073709551615-0", 0).ok(),
            Some(StreamId::new(u64::MAX, 0))
        );
        assert!(parse_id(b"18446744073709551616", 0).is_err());
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true).ok(),
            Some((StreamId::new(7, 0), false))
        );
        assert!(parse_strict_id(b"7-*").is_err());
    }

    #[test]
    fn exclusive_ranges() {
        assert_eq!(
            parse_range(b"(1-1", b"(2-0").ok(),
            Some((StreamId::new(1, 2), StreamId::new(1, u64::MAX)))
        );
        assert!(parse_range(b"(18446744073709551615-18446744073709551615", b"+").is_err());
        assert!(parse_range(b"-", b"(0-0").is_err());
    }
}
