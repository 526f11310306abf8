//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is};
use crate::notify::class;
use crate::store::{Blob, Locked, Value};

/// Bitmap commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
    ("bitfield", bitfield),
    ("bitfield_ro", bitfield_ro),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

fn max_bulk(ctx: &Ctx) -> u64 {
    ctx.engine
        .hot
        .max_bulk
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(0) as u64
}

/// Parse a bit offset like Redis's `getBitOffsetFromArgument`: `#n` multiplies by `bits` when
/// `hash_ok`; the byte holding the last bit must stay under proto-max-bulk-len.
fn bit_offset(ctx: &Ctx, a: &[u8], hash_ok: bool, bits: u64) -> Result<u64, Error> {
    let (mul, digits) = match a.first() {
        Some(b'#') if hash_ok => (bits, &a[1..]),
        _ => (1, a),
    };
    let v = crate::protocol::parse_i64(digits).ok_or(Error::from(BAD_OFFSET))?;
    if v < 0 {
        return Err(Error::from(BAD_OFFSET));
    }
    let v = (v as u64).checked_mul(mul).ok_or(Error::from(BAD_OFFSET))?;
    if (v >> 3) >= max_bulk(ctx) {
        return Err(Error::from(BAD_OFFSET));
    }
    Ok(v)
}

/// The string at `key` (WRONGTYPE for other types).
fn get_bytes<'l>(l: &'l mut Locked, key: &[u8]) -> Result<Option<&'l Blob>, Error> {
    match l.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The string at `key` for update, created empty when missing, grown to at least `min_len` bytes,
/// and whether it was created or grown. A creation counts as the key's change; anything else the
/// caller reports with [`Locked::touch`] only if it changed something (Redis's SETBIT and BITFIELD
/// neither count a change nor fail WATCHes when every bit stays as it was).
fn bytes_mut<'l>(
    l: &'l mut Locked,
    key: &[u8],
    min_len: usize,
) -> Result<(&'l mut Blob, Grown), Error> {
    let created = get_bytes(l, key)?.is_none();
    if created {
        l.set(key, Value::Str(Blob::new()), 0);
    }
    match l.get_mut_quiet(key) {
        Some(Value::Str(s)) => {
            let grew = s.len() < min_len;
            if grew {
                s.resize(min_len, 0);
            }
            let grown = match (created, grew) {
                (true, _) => Grown::Created,
                (false, true) => Grown::Grew,
                (false, false) => Grown::No,
            };
            Ok((s, grown))
        }
        _ => Err(err::WRONGTYPE),
    }
}

/// What [`bytes_mut`] did to the string's size.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grown {
    /// It was missing: created (and counted as a change).
    Created,
    /// It was too short: zero bytes appended (not reported yet).
    Grew,
    /// Neither.
    No,
}

fn get_bit(s: &[u8], bit: u64) -> u8 {
    let byte = (bit >> 3) as usize;
    match s.get(byte) {
        Some(b) => (b >> (7 - (bit & 7))) & 1,
        None => 0,
    }
}

fn setbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let off = bit_offset(ctx, args[2], false, 0)?;
    let on = match args[3] {
        b"1" => true,
        b"0" => false,
        _ => return Err(Error::from("ERR bit is not an integer or out of range")),
    };
    let mut l = ctx.lock(args[1]);
    let byte = (off >> 3) as usize;
    let (s, grown) = bytes_mut(&mut l, args[1], byte + 1)?;
    let shift = 7 - (off & 7) as u8;
    let old = (s[byte] >> shift) & 1;
    if on {
        s[byte] |= 1 << shift;
    } else {
        s[byte] &= !(1 << shift);
    }
    // Redis counts and announces a SETBIT that created or grew the string, or flipped the bit.
    let changed = grown != Grown::No || old != on as u8;
    if grown != Grown::Created && changed {
        l.touch(args[1]);
    }
    drop(l);
    if changed {
        ctx.notify(class::STRING, "setbit", args[1]);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let off = bit_offset(ctx, args[2], false, 0)?;
    let mut l = ctx.lock(args[1]);
    let bit = get_bytes(&mut l, args[1])?.map_or(0, |s| get_bit(s, off));
    ctx.out.int(bit as i64);
    Ok(())
}

/// Normalize a `start end` range against `total` units like Redis (inclusive, clamped); `None` when
/// empty.
fn norm_range(mut start: i64, mut end: i64, total: i64) -> Option<(i64, i64)> {
    if start < 0 {
        start = total.saturating_add(start);
    }
    if end < 0 {
        end = total.saturating_add(end);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start <= end && total > 0).then_some((start, end))
}

/// Parse an optional `BYTE|BIT` unit argument: true for BIT.
fn unit_arg(a: Option<&&[u8]>) -> Result<bool, Error> {
    match a {
        None => Ok(false),
        Some(a) if is(a, "BYTE") => Ok(false),
        Some(a) if is(a, "BIT") => Ok(true),
        Some(_) => Err(err::SYNTAX),
    }
}

fn count_bits(s: &[u8], sbit: u64, ebit: u64) -> u64 {
    let (sbyte, ebyte) = ((sbit >> 3) as usize, (ebit >> 3) as usize);
    let mut n: u64 = s[sbyte..=ebyte].iter().map(|b| b.count_ones() as u64).sum();
    // Remove the bits outside the range in the first and last byte.
    let first_mask = !(0xffu8 >> (sbit & 7));
    n -= (s[sbyte] & first_mask).count_ones() as u64;
    let last_mask = 0xffu8.checked_shr((ebit & 7) as u32 + 1).unwrap_or(0);
    n -= (s[ebyte] & last_mask).count_ones() as u64;
    n
}

/// BITCOUNT in Redis 7.0's order: a missing key counts 0 and a wrong type fails before the range
/// is read; a range with both ends negative and start past end counts 0 before the unit is read.
fn bitcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let Some(s) = get_bytes(&mut l, args[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let (start, end) = (int_arg(args[2])?, int_arg(args[3])?);
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            Some((start, end, unit_arg(args.get(4))?))
        }
        _ => return Err(err::SYNTAX),
    };
    let bytes = s.len() as i64;
    let n = match range {
        None => s.iter().map(|b| b.count_ones() as u64).sum(),
        Some((start, end, bit)) => {
            let total = if bit { bytes * 8 } else { bytes };
            match norm_range(start, end, total) {
                None => 0,
                Some((a, b)) if bit => count_bits(s, a as u64, b as u64),
                Some((a, b)) => count_bits(s, a as u64 * 8, b as u64 * 8 + 7),
            }
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let want = match args[2] {
        b"1" => 1u8,
        b"0" => 0u8,
        a if crate::protocol::parse_i64(a).is_none() => return Err(err::NOT_INT),
        _ => return Err(Error::from("ERR The bit argument must be 1 or 0.")),
    };
    let mut l = ctx.lock(args[1]);
    let Some(s) = get_bytes(&mut l, args[1])? else {
        ctx.out.int(if want == 1 { -1 } else { 0 });
        return Ok(());
    };
    let bytes = s.len() as i64;
    let (start, end, end_given, bit) = match args.len() {
        3 => (0, -1, false, false),
        4 => (int_arg(args[3])?, -1, false, false),
        5 | 6 => (
            int_arg(args[3])?,
            int_arg(args[4])?,
            true,
            unit_arg(args.get(5))?,
        ),
        _ => return Err(err::SYNTAX),
    };
    let total = if bit { bytes * 8 } else { bytes };
    let Some((a, b)) = norm_range(start, end, total) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let (sbit, ebit) = if bit {
        (a as u64, b as u64)
    } else {
        (a as u64 * 8, b as u64 * 8 + 7)
    };
    let mut pos = -1i64;
    let mut i = sbit;
    while i <= ebit {
        // Skip whole bytes that cannot match.
        if i & 7 == 0 && i + 7 <= ebit {
            let byte = s[(i >> 3) as usize];
            if (want == 1 && byte == 0) || (want == 0 && byte == 0xff) {
                i += 8;
                continue;
            }
        }
        if get_bit(s, i) == want {
            pos = i as i64;
            break;
        }
        i += 1;
    }
    if pos == -1 && want == 0 && !end_given {
        pos = ebit as i64 + 1;
    }
    ctx.out.int(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    #[derive(PartialEq, Clone, Copy)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = if is(args[1], "AND") {
        Op::And
    } else if is(args[1], "OR") {
        Op::Or
    } else if is(args[1], "XOR") {
        Op::Xor
    } else if is(args[1], "NOT") {
        Op::Not
    } else {
        return Err(err::SYNTAX);
    };
    let srcs = &args[3..];
    if op == Op::Not && srcs.len() != 1 {
        return Err(Error::from(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut l = ctx.lock_keys(&args[2..]);
    let mut inputs: Vec<Blob> = Vec::with_capacity(srcs.len());
    for k in srcs {
        inputs.push(get_bytes(&mut l, k)?.cloned().unwrap_or_default());
    }
    let len = inputs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = Blob::from_elem(0, len);
    for (i, o) in out.iter_mut().enumerate() {
        let byte = |s: &Blob| s.get(i).copied().unwrap_or(0);
        *o = match op {
            Op::Not => !byte(&inputs[0]),
            Op::And => inputs.iter().fold(0xff, |acc, s| acc & byte(s)),
            Op::Or => inputs.iter().fold(0, |acc, s| acc | byte(s)),
            Op::Xor => inputs.iter().fold(0, |acc, s| acc ^ byte(s)),
        };
    }
    if len == 0 {
        if l.remove(args[2]).is_some() {
            ctx.notify(class::GENERIC, "del", args[2]);
        }
    } else {
        l.set(args[2], Value::Str(out), 0);
        ctx.notify(class::STRING, "set", args[2]);
    }
    ctx.out.int(len as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
struct FieldType {
    signed: bool,
    bits: u32,
}

enum FieldOp {
    Get(FieldType, u64),
    Set(FieldType, u64, i64, Overflow),
    Incr(FieldType, u64, i64, Overflow),
}

fn field_type(a: &[u8]) -> Result<FieldType, Error> {
    let bad = || {
        Error::from(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match a.first() {
        Some(b'i' | b'I') => true,
        Some(b'u' | b'U') => false,
        _ => return Err(bad()),
    };
    let bits = crate::protocol::parse_i64(&a[1..]).ok_or_else(bad)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(bad());
    }
    Ok(FieldType {
        signed,
        bits: bits as u32,
    })
}

/// Read `bits` bits at bit offset `off` as an unsigned number (MSB first).
fn read_field(s: &[u8], off: u64, bits: u32) -> u64 {
    let mut v: u64 = 0;
    for i in 0..bits as u64 {
        v = (v << 1) | get_bit(s, off + i) as u64;
    }
    v
}

fn write_field(s: &mut [u8], off: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let bit = (v >> (bits as u64 - 1 - i)) & 1;
        let pos = off + i;
        let byte = (pos >> 3) as usize;
        let shift = 7 - (pos & 7);
        if bit == 1 {
            s[byte] |= 1 << shift;
        } else {
            s[byte] &= !(1 << shift);
        }
    }
}

fn to_signed(raw: u64, bits: u32) -> i64 {
    if bits == 64 {
        raw as i64
    } else {
        let shift = 64 - bits;
        ((raw << shift) as i64) >> shift
    }
}

/// Apply `value` (SET) or `cur + incr` (INCRBY) with the overflow policy; `None` on FAIL overflow.
fn field_result(t: FieldType, cur: i64, incr: i64, set: bool, ov: Overflow) -> Option<i64> {
    let (min, max): (i128, i128) = if t.signed {
        (-(1i128 << (t.bits - 1)), (1i128 << (t.bits - 1)) - 1)
    } else {
        (0, (1i128 << t.bits) - 1)
    };
    let want: i128 = if set {
        incr as i128
    } else {
        cur as i128 + incr as i128
    };
    if want >= min && want <= max {
        return Some(want as i64);
    }
    match ov {
        Overflow::Fail => None,
        Overflow::Sat => Some(if want > max { max } else { min } as i64),
        Overflow::Wrap => {
            let modulus = 1i128 << t.bits;
            let mut w = want.rem_euclid(modulus);
            if t.signed && w > max {
                w -= modulus;
            }
            Some(w as i64)
        }
    }
}

fn bitfield_generic(ctx: &mut Ctx, args: &[&[u8]], readonly: bool) -> CmdResult {
    let mut ops = Vec::new();
    let mut ov = Overflow::Wrap;
    let mut writes = false;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let a = args[j];
        if is(a, "GET") && remaining >= 2 {
            let t = field_type(args[j + 1])?;
            let off = bit_offset(ctx, args[j + 2], true, t.bits as u64)?;
            ops.push(FieldOp::Get(t, off));
            j += 3;
        } else if (is(a, "SET") || is(a, "INCRBY")) && remaining >= 3 {
            let t = field_type(args[j + 1])?;
            let off = bit_offset(ctx, args[j + 2], true, t.bits as u64)?;
            let v = int_arg(args[j + 3])?;
            if readonly {
                return Err(Error::from(
                    "ERR BITFIELD_RO only supports the GET subcommand",
                ));
            }
            writes = true;
            ops.push(if is(a, "SET") {
                FieldOp::Set(t, off, v, ov)
            } else {
                FieldOp::Incr(t, off, v, ov)
            });
            j += 4;
        } else if is(a, "OVERFLOW") && remaining >= 1 {
            let v = args[j + 1];
            ov = if is(v, "WRAP") {
                Overflow::Wrap
            } else if is(v, "SAT") {
                Overflow::Sat
            } else if is(v, "FAIL") {
                Overflow::Fail
            } else {
                return Err(Error::from("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let mut l = ctx.lock(args[1]);
    // Type check first, like Redis (a GET-only BITFIELD on a missing key creates nothing).
    get_bytes(&mut l, args[1])?;
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    let mut changes = 0;
    if writes {
        let need = ops
            .iter()
            .filter_map(|op| match op {
                FieldOp::Set(t, off, ..) | FieldOp::Incr(t, off, ..) => {
                    Some(((off + t.bits as u64 - 1) >> 3) as usize + 1)
                }
                FieldOp::Get(..) => None,
            })
            .max()
            .unwrap_or(0);
        let (s, grown) = bytes_mut(&mut l, args[1], need)?;
        for op in &ops {
            match *op {
                FieldOp::Get(t, off) => {
                    let raw = read_field(s, off, t.bits);
                    replies.push(Some(if t.signed {
                        to_signed(raw, t.bits)
                    } else {
                        raw as i64
                    }));
                }
                FieldOp::Set(t, off, v, ov) | FieldOp::Incr(t, off, v, ov) => {
                    let set = matches!(op, FieldOp::Set(..));
                    let raw = read_field(s, off, t.bits);
                    let cur = if t.signed {
                        to_signed(raw, t.bits)
                    } else {
                        raw as i64
                    };
                    match field_result(t, cur, v, set, ov) {
                        None => replies.push(None),
                        Some(new) => {
                            let mask = if t.bits == 64 {
                                u64::MAX
                            } else {
                                (1u64 << t.bits) - 1
                            };
                            write_field(s, off, t.bits, new as u64 & mask);
                            // Redis counts an operation that created or grew the string, or
                            // changed the field.
                            if grown != Grown::No || new != cur {
                                changes += 1;
                            }
                            replies.push(Some(if set { cur } else { new }));
                        }
                    }
                }
            }
        }
        // One change per changing operation (Redis's `server.dirty += changes`); a creation
        // counted one already.
        let counted = usize::from(grown == Grown::Created);
        for _ in counted..changes {
            l.touch(args[1]);
        }
    } else {
        let s = get_bytes(&mut l, args[1])?.cloned().unwrap_or_default();
        for op in &ops {
            if let FieldOp::Get(t, off) = *op {
                let raw = read_field(&s, off, t.bits);
                replies.push(Some(if t.signed {
                    to_signed(raw, t.bits)
                } else {
                    raw as i64
                }));
            }
        }
    }
    drop(l);
    if changes > 0 {
        ctx.notify(class::STRING, "setbit", args[1]);
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn bitfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}
