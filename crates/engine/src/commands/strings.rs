//! String commands: GET/SET and friends, counters, ranges.

use super::{CmdResult, Ctx, Error, Handler, err, float_arg, int_arg, is};
use crate::notify::class;
use crate::store::{Blob, Locked, Value};

/// String commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
    ("append", append),
    ("strlen", strlen),
    ("getrange", getrange),
    ("substr", getrange),
    ("lcs", lcs),
    ("setrange", setrange),
];

/// Largest value a string may grow to through SETRANGE/APPEND (`proto-max-bulk-len`).
fn max_len(ctx: &Ctx) -> usize {
    ctx.engine
        .hot
        .max_bulk
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(0) as usize
}

/// The string at `key`: `Ok(None)` when missing, WRONGTYPE for other types.
fn get_str<'l>(l: &'l mut Locked, key: &[u8]) -> Result<Option<&'l Blob>, Error> {
    match l.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn str_value(b: &[u8]) -> Value {
    Value::Str(Blob::from_slice(b))
}

fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let v = get_str(&mut l, args[1])?;
    let hit = v.is_some();
    ctx.out.opt_bulk(v.map(|b| b.as_slice()));
    ctx.account(hit, &l);
    Ok(())
}

/// How SET/GETEX set the expiry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Keep,
    Persist,
    At(u64),
    None,
}

/// Parse an expiry option value into an absolute unix-ms time. `unit_ms` is 1000 for EX/EXAT.
fn expire_at(ctx: &Ctx, v: &[u8], unit_ms: i64, absolute: bool, cmd: &str) -> Result<u64, Error> {
    let n = int_arg(v)?;
    let invalid = || Error::msg(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(ctx.now as i64).ok_or_else(invalid)?
    };
    Ok(at as u64)
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < args.len() {
        let a = args[i];
        let next = args.get(i + 1);
        let no_expiry = expiry == Expiry::None;
        if is(a, "NX") && !xx {
            nx = true;
        } else if is(a, "XX") && !nx {
            xx = true;
        } else if is(a, "GET") {
            get = true;
        } else if is(a, "KEEPTTL") && no_expiry {
            expiry = Expiry::Keep;
        } else if (is(a, "EX") || is(a, "PX") || is(a, "EXAT") || is(a, "PXAT"))
            && no_expiry
            && let Some(v) = next
        {
            let unit = if is(a, "EX") || is(a, "EXAT") {
                1000
            } else {
                1
            };
            let absolute = is(a, "EXAT") || is(a, "PXAT");
            expiry = Expiry::At(expire_at(ctx, v, unit, absolute, "set")?);
            i += 1;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    let key = args[1];
    let mut l = ctx.lock(key);
    let old: Option<Blob> = if get {
        get_str(&mut l, key)?.cloned()
    } else {
        None
    };
    let exists = if get { old.is_some() } else { l.exists(key) };
    if (nx && exists) || (xx && !exists) {
        if get {
            ctx.out.opt_bulk(old.as_deref());
        } else {
            ctx.out.null();
        }
        return Ok(());
    }
    let value = str_value(args[2]);
    match expiry {
        Expiry::Keep => {
            l.set_keep_ttl(key, value);
        }
        Expiry::At(at) => {
            l.set(key, value, at);
        }
        Expiry::None | Expiry::Persist => {
            l.set(key, value, 0);
        }
    }
    ctx.notify(class::STRING, "set", key);
    if let Expiry::At(_) = expiry {
        ctx.notify(class::GENERIC, "expire", key);
    }
    if get {
        ctx.out.opt_bulk(old.as_deref());
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    if l.exists(args[1]) {
        ctx.out.int(0);
    } else {
        l.set(args[1], str_value(args[2]), 0);
        ctx.notify(class::STRING, "set", args[1]);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_common(ctx: &mut Ctx, args: &[&[u8]], unit: i64, name: &str) -> CmdResult {
    let at = expire_at(ctx, args[2], unit, false, name)?;
    ctx.lock(args[1]).set(args[1], str_value(args[3]), at);
    ctx.notify(class::STRING, "set", args[1]);
    ctx.notify(class::GENERIC, "expire", args[1]);
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_common(ctx, args, 1000, "setex")
}

fn psetex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_common(ctx, args, 1, "psetex")
}

fn getset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let old = get_str(&mut l, args[1])?.cloned();
    l.set(args[1], str_value(args[2]), 0);
    ctx.notify(class::STRING, "set", args[1]);
    ctx.out.opt_bulk(old.as_deref());
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let old = get_str(&mut l, args[1])?.cloned();
    if old.is_some() {
        l.remove(args[1]);
        ctx.notify(class::GENERIC, "del", args[1]);
    }
    ctx.out.opt_bulk(old.as_deref());
    Ok(())
}

fn getex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut expiry = Expiry::Keep;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        let single = expiry == Expiry::Keep;
        if is(a, "PERSIST") && single {
            expiry = Expiry::Persist;
        } else if (is(a, "EX") || is(a, "PX") || is(a, "EXAT") || is(a, "PXAT"))
            && single
            && let Some(v) = args.get(i + 1)
        {
            let unit = if is(a, "EX") || is(a, "EXAT") {
                1000
            } else {
                1
            };
            let absolute = is(a, "EXAT") || is(a, "PXAT");
            expiry = Expiry::At(expire_at(ctx, v, unit, absolute, "getex")?);
            i += 1;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    let mut l = ctx.lock(args[1]);
    let Some(v) = get_str(&mut l, args[1])?.cloned() else {
        ctx.out.null();
        return Ok(());
    };
    match expiry {
        Expiry::Persist => {
            if l.expire_of(args[1]).is_some_and(|e| e != 0) {
                l.set_expire(args[1], 0);
                ctx.notify(class::GENERIC, "persist", args[1]);
            }
        }
        Expiry::At(at) if at <= ctx.now => {
            l.remove(args[1]);
            ctx.notify(class::GENERIC, "del", args[1]);
        }
        Expiry::At(at) => {
            l.set_expire(args[1], at);
            ctx.notify(class::GENERIC, "expire", args[1]);
        }
        Expiry::Keep | Expiry::None => {}
    }
    ctx.out.bulk(&v);
    Ok(())
}

fn mget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
    let mut l = ctx.lock_keys(keys);
    ctx.out.array(keys.len());
    let mut hits = 0;
    for k in keys {
        match l.get(k) {
            Some(Value::Str(s)) => {
                hits += 1;
                ctx.out.bulk(s);
            }
            _ => ctx.out.null(),
        }
    }
    ctx.client.pending_stats.hits += hits;
    ctx.client.pending_stats.misses += keys.len() as u64 - hits;
    Ok(())
}

fn mset_common(ctx: &mut Ctx, args: &[&[u8]], nx: bool, name: &str) -> Result<bool, Error> {
    if args.len().is_multiple_of(2) {
        return Err(super::arity_error(name));
    }
    let keys: Vec<&[u8]> = args[1..].iter().step_by(2).copied().collect();
    let mut l = ctx.lock_keys(&keys);
    if nx && keys.iter().any(|k| l.exists(k)) {
        return Ok(false);
    }
    for pair in args[1..].chunks(2) {
        l.set(pair[0], str_value(pair[1]), 0);
        ctx.notify(class::STRING, "set", pair[0]);
    }
    Ok(true)
}

fn mset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    mset_common(ctx, args, false, "mset")?;
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let done = mset_common(ctx, args, true, "msetnx")?;
    ctx.out.int(done as i64);
    Ok(())
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let mut l = ctx.lock(key);
    let cur = match get_str(&mut l, key)? {
        None => 0,
        Some(s) => crate::protocol::parse_i64(s).ok_or(err::NOT_INT)?,
    };
    let new = cur.checked_add(by).ok_or(err::OVERFLOW)?;
    let mut digits = itoa::Buffer::new();
    l.set_keep_ttl(key, str_value(digits.format(new).as_bytes()));
    ctx.notify(class::STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], 1)
}

fn decr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], -1)
}

fn incrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], int_arg(args[2])?)
}

fn decrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = int_arg(args[2])?;
    let by = by
        .checked_neg()
        .ok_or(Error::from("ERR decrement would overflow"))?;
    incr_by(ctx, args[1], by)
}

/// Format an INCRBYFLOAT result like Redis (which computes in long double and prints 17 significant
/// digits): round to 15 significant digits when that loses nothing but binary noise.
pub fn format_incr_float(v: f64) -> String {
    let short = crate::protocol::format_double(v);
    let rounded = format!("{v:.15e}");
    if let Ok(r) = rounded.parse::<f64>() {
        let r_short = crate::protocol::format_double(r);
        if r_short.len() < short.len() && ((r - v).abs() <= v.abs() * 1e-15) {
            return plain_decimal(r, r_short);
        }
    }
    plain_decimal(v, short)
}

/// Redis prints INCRBYFLOAT results without exponent.
fn plain_decimal(v: f64, short: String) -> String {
    if short.contains('e') {
        let s = format!("{v:.17}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return s.to_string();
    }
    short
}

fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = float_arg(args[2])?;
    let key = args[1];
    let mut l = ctx.lock(key);
    let cur = match get_str(&mut l, key)? {
        None => 0.0,
        Some(s) => super::parse_float(s).ok_or(err::NOT_FLOAT)?,
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(Error::from("ERR increment would produce NaN or Infinity"));
    }
    let text = format_incr_float(new);
    l.set_keep_ttl(key, str_value(text.as_bytes()));
    ctx.notify(class::STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn append(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_len(ctx);
    let mut l = ctx.lock(args[1]);
    let len = match l.get_mut(args[1]) {
        None => {
            l.set(args[1], str_value(args[2]), 0);
            args[2].len()
        }
        Some(Value::Str(s)) => {
            if s.len() + args[2].len() > max {
                return Err(err::TOO_BIG);
            }
            s.extend_from_slice(args[2]);
            let n = s.len();
            // Changed in place: a raw string from now on, as in Redis.
            l.raise_floor(args[1], crate::store::floor::BIG);
            n
        }
        Some(_) => return Err(err::WRONGTYPE),
    };
    ctx.notify(class::STRING, "append", args[1]);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let n = get_str(&mut l, args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    let mut l = ctx.lock(args[1]);
    let Some(s) = get_str(&mut l, args[1])? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if len == 0 || start > end {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = int_arg(args[2])?;
    if offset < 0 {
        return Err(Error::from("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let value = args[3];
    let max = max_len(ctx);
    let mut l = ctx.lock(args[1]);
    match get_str(&mut l, args[1])? {
        None => {
            if value.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            if offset + value.len() > max {
                return Err(err::TOO_BIG);
            }
            let mut s = Blob::from_elem(0, offset);
            s.extend_from_slice(value);
            let n = s.len();
            l.set(args[1], Value::Str(s), 0);
            l.raise_floor(args[1], crate::store::floor::BIG);
            ctx.notify(class::STRING, "setrange", args[1]);
            ctx.out.int(n as i64);
        }
        Some(cur) => {
            let cur_len = cur.len();
            if value.is_empty() {
                ctx.out.int(cur_len as i64);
                return Ok(());
            }
            if offset + value.len() > max {
                return Err(err::TOO_BIG);
            }
            let Some(Value::Str(s)) = l.get_mut(args[1]) else {
                return Err(err::WRONGTYPE);
            };
            if s.len() < offset + value.len() {
                s.resize(offset + value.len(), 0);
            }
            s[offset..offset + value.len()].copy_from_slice(value);
            let n = s.len();
            l.raise_floor(args[1], crate::store::floor::BIG);
            ctx.notify(class::STRING, "setrange", args[1]);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// The string at `key` for LCS (missing keys are empty).
fn lcs_operand(l: &mut Locked, key: &[u8]) -> Result<Blob, Error> {
    match l.get(key) {
        None => Ok(Blob::new()),
        Some(Value::Str(s)) => Ok(s.clone()),
        Some(_) => Err(Error::from(
            "ERR The specified keys must contain string values",
        )),
    }
}

fn lcs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (a, b) = {
        let mut l = ctx.lock_keys(&args[1..3]);
        let a = lcs_operand(&mut l, args[1])?;
        let b = lcs_operand(&mut l, args[2])?;
        (a, b)
    };
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: u64 = 0;
    let mut j = 3;
    while j < args.len() {
        let o = args[j];
        if is(o, "IDX") {
            getidx = true;
        } else if is(o, "LEN") {
            getlen = true;
        } else if is(o, "WITHMATCHLEN") {
            withmatchlen = true;
        } else if is(o, "MINMATCHLEN") && j + 1 < args.len() {
            minmatchlen = int_arg(args[j + 1])?.max(0) as u64;
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(Error::from(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1).saturating_mul(blen as u64 + 1);
    let too_big =
        Error::from("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    if cells.saturating_mul(4) > max_len(ctx) as u64 {
        return Err(too_big);
    }
    let mut dp: Vec<u32> = Vec::new();
    if dp.try_reserve_exact(cells as usize).is_err() {
        return Err(too_big);
    }
    dp.resize(cells as usize, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    if getlen {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end like Redis's lcsCommand, collecting the string and the ranges.
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut ranges: Vec<[u64; 5]> = Vec::new();
    let (mut i, mut j) = (alen, blen);
    let unset = alen;
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (unset, 0usize, 0usize, 0usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == unset {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != unset {
                emit = true;
            }
        }
        if emit {
            let match_len = (a_end - a_start + 1) as u64;
            if minmatchlen == 0 || match_len >= minmatchlen {
                ranges.push([
                    a_start as u64,
                    a_end as u64,
                    b_start as u64,
                    b_end as u64,
                    match_len,
                ]);
            }
            a_start = unset;
        }
    }
    if !getidx {
        ctx.out.bulk(&result);
        return Ok(());
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for r in &ranges {
        ctx.out.array(2 + withmatchlen as usize);
        ctx.out.array(2);
        ctx.out.int(r[0] as i64);
        ctx.out.int(r[1] as i64);
        ctx.out.array(2);
        ctx.out.int(r[2] as i64);
        ctx.out.int(r[3] as i64);
        if withmatchlen {
            ctx.out.int(r[4] as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::format_incr_float;

    #[test]
    fn incrbyfloat_format() {
        assert_eq!(format_incr_float(0.1 + 0.2), "0.3");
        assert_eq!(format_incr_float(10.5 + 0.1), "10.6");
        assert_eq!(format_incr_float(3.0e3), "3000");
        assert_eq!(format_incr_float(5.0e20), "500000000000000000000");
        assert_eq!(format_incr_float(-1.5), "-1.5");
    }
}
