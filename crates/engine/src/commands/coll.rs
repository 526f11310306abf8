//! Helpers shared by the collection families (hashes, lists, sets, sorted sets): typed access with
//! WRONGTYPE, deletion of emptied keys, the *SCAN loop and random-count parsing.

use std::collections::VecDeque;

use super::{Ctx, Error, err, int_arg, is};
use crate::glob;
use crate::notify::class;
use crate::store::{Blob, Locked, Table, Value, ZSet};

macro_rules! typed {
    ($get:ident, $get_mut:ident, $variant:ident, $ty:ty, $new:expr) => {
        /// The value at `key` if it has this type: `Ok(None)` when missing, WRONGTYPE otherwise.
        pub fn $get<'l>(l: &'l mut Locked, key: &[u8]) -> Result<Option<&'l $ty>, Error> {
            match l.get(key) {
                None => Ok(None),
                Some(Value::$variant(v)) => Ok(Some(&**v)),
                Some(_) => Err(err::WRONGTYPE),
            }
        }

        /// The value at `key` for update, created empty when missing and `create` (callers must
        /// delete it again with [`remove_if_empty`] if they end up adding nothing).
        pub fn $get_mut<'l>(
            l: &'l mut Locked,
            key: &[u8],
            create: bool,
        ) -> Result<Option<&'l mut $ty>, Error> {
            if create && !l.exists(key) {
                l.set(key, $new, 0);
            }
            match l.get_mut(key) {
                None => Ok(None),
                Some(Value::$variant(v)) => Ok(Some(&mut **v)),
                Some(_) => Err(err::WRONGTYPE),
            }
        }
    };
}

typed!(get_list, list_mut, List, VecDeque<Blob>, Value::new_list());
typed!(get_hash, hash_mut, Hash, Table<Blob>, Value::new_hash());
typed!(get_set, set_mut, Set, Table<()>, Value::new_set());
typed!(get_zset, zset_mut, ZSet, ZSet, Value::new_zset());

/// Delete `key` if it holds an empty collection (Redis never keeps empty keys), with Redis's `del`
/// notification (callers send the command's own event first). Returns whether it was deleted.
pub fn remove_if_empty(l: &mut Locked, key: &[u8]) -> bool {
    if l.get(key).is_some_and(|v| v.is_empty_collection()) {
        l.remove(key);
        l.notify(class::GENERIC, "del", key);
        true
    } else {
        false
    }
}

/// Account for a read lookup (hits/misses, lazily expired keys).
pub fn read_done(ctx: &mut Ctx, hit: bool, l: &Locked) {
    ctx.account(hit, l);
}

/// Account for the lazily expired keys of a write.
pub fn write_done(ctx: &mut Ctx, l: &Locked) {
    ctx.client.pending_stats.expired += l.expired() as u64;
}

/// Parse a SCAN cursor like Redis (`strtoul`: optional sign, negatives wrap, empty is 0;
/// `ERR invalid cursor` otherwise).
pub fn parse_cursor(a: &[u8]) -> Result<u64, Error> {
    let invalid = || Error::from("ERR invalid cursor");
    if a.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match a[0] {
        b'-' => (true, &a[1..]),
        b'+' => (false, &a[1..]),
        _ => (false, a),
    };
    let v = std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(invalid)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// The options of HSCAN/SSCAN/ZSCAN.
pub struct ScanOpts<'a> {
    /// MATCH pattern.
    pub pattern: Option<&'a [u8]>,
    /// COUNT.
    pub count: usize,
}

/// Parse `[MATCH pattern] [COUNT count]` from `args`.
pub fn scan_opts<'a>(args: &[&'a [u8]]) -> Result<ScanOpts<'a>, Error> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
    };
    let mut i = 0;
    while i < args.len() {
        let Some(v) = args.get(i + 1) else {
            return Err(err::SYNTAX);
        };
        if is(args[i], "MATCH") {
            o.pattern = Some(*v).filter(|p| *p != b"*");
        } else if is(args[i], "COUNT") {
            let c = int_arg(v)?;
            if c < 1 {
                return Err(err::SYNTAX);
            }
            o.count = c as usize;
        } else {
            return Err(err::SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

/// One *SCAN step over a table: small tables (Redis's compact encodings) are returned whole with
/// cursor 0; larger ones are walked bucket by bucket like `dictScan`. `emit` receives each member
/// and its value and pushes the reply strings.
pub fn scan_table<V>(
    table: &Table<V>,
    cursor: u64,
    opts: &ScanOpts,
    mut emit: impl FnMut(&Blob, &V, &mut Vec<Blob>),
) -> (u64, Vec<Blob>) {
    let mut out: Vec<Blob> = Vec::new();
    let keep = |k: &[u8]| opts.pattern.is_none_or(|p| glob::matches(p, k));
    if table.len() <= 128 {
        for (k, v) in table.iter() {
            if keep(k) {
                emit(k, v, &mut out);
            }
        }
        return (0, out);
    }
    let mut cursor = cursor;
    let mut budget = opts.count.saturating_mul(10);
    let mut found = 0usize;
    loop {
        cursor = table.scan(cursor, |k, v| {
            found += 1;
            if keep(k) {
                emit(k, v, &mut out);
            }
        });
        budget = budget.saturating_sub(1);
        if cursor == 0 || budget == 0 || found >= opts.count {
            break;
        }
    }
    (cursor, out)
}

/// Write a SCAN-shaped reply: `[cursor, [elements...]]`.
pub fn reply_scan(ctx: &mut Ctx, cursor: u64, items: &[Blob]) {
    ctx.out.array(2);
    let mut digits = itoa::Buffer::new();
    ctx.out.bulk(digits.format(cursor).as_bytes());
    ctx.out.array(items.len());
    for i in items {
        ctx.out.bulk(i);
    }
}

/// Largest number of elements a negative (repeating) random count may ask for. Redis streams any
/// count; redlink refuses counts that could not be buffered.
pub const MAX_RANDOM_REPEAT: u64 = 1 << 26;

/// Parse the count of HRANDFIELD/SRANDMEMBER/ZRANDMEMBER: `(count, unique)`. `with_values` halves
/// the accepted range like Redis 7.2.
pub fn random_count(a: &[u8], with_values: bool) -> Result<(u64, bool), Error> {
    let l = int_arg(a)?;
    if l == i64::MIN {
        return Err(Error::msg(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
        return Err(Error::from("ERR value is out of range"));
    }
    if l >= 0 {
        Ok((l as u64, true))
    } else {
        let n = l.unsigned_abs();
        if n > MAX_RANDOM_REPEAT {
            return Err(Error::from("ERR value is out of range"));
        }
        Ok((n, false))
    }
}

/// Resolve a Redis index range (`start`, `end`, negatives from the end) against `len`: the
/// inclusive clamped range, or `None` when empty.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// The optional COUNT of LPOP/RPOP/SPOP/ZPOPMIN...: `None` when absent; Redis's "must be positive"
/// error for negatives and non-integers.
pub fn optional_count(arg: Option<&[u8]>) -> Result<Option<usize>, Error> {
    let Some(a) = arg else {
        return Ok(None);
    };
    match crate::protocol::parse_i64(a) {
        Some(c) if c >= 0 => Ok(Some(c as usize)),
        _ => Err(Error::from("ERR value is out of range, must be positive")),
    }
}

/// The `[COUNT n]` trailer of LMPOP/ZMPOP and their blocking forms (default 1).
pub fn mpop_count(rest: &[&[u8]]) -> Result<usize, Error> {
    match rest {
        [] => Ok(1),
        [kw, n] if super::is(kw, "COUNT") => match crate::protocol::parse_i64(n) {
            Some(c) if c > 0 => Ok(c as usize),
            _ => Err(Error::from("ERR count should be greater than 0")),
        },
        _ => Err(super::err::SYNTAX),
    }
}
