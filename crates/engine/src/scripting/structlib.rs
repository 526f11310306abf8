//! The `struct` library Redis 7.0 bundles (Roberto Ierusalimschy's struct.c, with Redis's overflow
//! fixes): `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, pos])`, `struct.size(fmt)`, as
//! redis-server 7.0.15 on x86-64 Linux answers them.
//!
//! Formats: `>` big endian, `<` little endian (the default: the machine's), `![n]` alignment (n a
//! power of two, default 8), `x` a zero byte, `b/B` `h/H` `l/L` `T` (1, 2, 8, 8 bytes), `i/I[n]`
//! (n bytes, 1..32, default 4), `c[n]` n bytes (`c0`: the whole string when packing, the previously
//! unpacked number as the length when unpacking), `s` a zero-terminated string, `f` float, `d`
//! double, space ignored; a NUL byte ends the format. Integers pack through C's casts (a negative
//! number through `long`, a positive one through `unsigned long`; past 8 bytes the value is zero)
//! and unpack into Lua numbers; the errors are the C library's texts and argument numbers.

use mlua::{Lua, MultiValue, Table, Value};

use super::libargs::{MAX_C_STACK, arg_error, check_number, check_string, results_fit};

/// `MAXINTSIZE`.
const MAX_INT_SIZE: usize = 32;
/// `MAXALIGN` on x86-64 (a double's alignment).
const MAX_ALIGN: i64 = 8;

fn err(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

#[derive(Clone, Copy)]
struct Header {
    big: bool,
    align: i64,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            big: false,
            align: 1,
        }
    }
}

/// The format string being read (it ends at its first NUL, as a C string does).
struct Fmt<'a> {
    b: &'a [u8],
    at: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.at)?;
        if c == 0 {
            return None;
        }
        self.at += 1;
        Some(c)
    }

    /// `getnum`: the digits at the cursor, or `df`.
    fn num(&mut self, df: i64) -> mlua::Result<i64> {
        let digit = |f: &Self| f.b.get(f.at).copied().filter(u8::is_ascii_digit);
        if digit(self).is_none() {
            return Ok(df);
        }
        let mut a: i64 = 0;
        while let Some(d) = digit(self) {
            let d = i64::from(d - b'0');
            if a > i64::from(i32::MAX) / 10 || a * 10 > i64::from(i32::MAX) - d {
                return Err(err("integral size overflow".into()));
            }
            a = a * 10 + d;
            self.at += 1;
        }
        Ok(a)
    }
}

/// `optsize`.
fn opt_size(opt: u8, fmt: &mut Fmt) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => fmt.num(1)? as usize,
        b'i' | b'I' => {
            let sz = fmt.num(4)?;
            if sz as usize > MAX_INT_SIZE {
                return Err(err(format!(
                    "integral size {sz} is larger than limit of {MAX_INT_SIZE}"
                )));
            }
            sz as usize
        }
        _ => 0,
    })
}

/// `gettoalign`: padding before an item of `size` at `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align as usize);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// `controloptions`.
fn control(lua: &Lua, opt: u8, fmt: &mut Fmt, h: &mut Header) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.big = true,
        b'<' => h.big = false,
        b'!' => {
            let a = fmt.num(MAX_ALIGN)?;
            if !(a > 0 && a & (a - 1) == 0) {
                return Err(err(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
        }
        _ => {
            return Err(arg_error(
                lua,
                1,
                &format!("invalid format option '{}'", char::from(opt)),
            ));
        }
    }
    Ok(())
}

/// Argument `i` (1-based) of `pack`: past the last one comes the nil `b_pack` pushes as a mark,
/// then nothing.
fn pack_arg(args: &[Value], i: usize) -> Option<Value> {
    match args.get(i - 1) {
        Some(v) => Some(v.clone()),
        None if i == args.len() + 1 => Some(Value::Nil),
        None => None,
    }
}

/// C's conversions of a Lua number to the 64-bit value `putinteger` writes: through `long` when
/// negative, `unsigned long` otherwise (x86-64: out of range gives `LONG_MIN`, or 0 past 2^64).
fn integer_bits(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n < 0.0 {
        if n >= -TWO63 {
            n as i64 as u64
        } else {
            i64::MIN as u64
        }
    } else if n < TWO63 {
        n as i64 as u64
    } else {
        // gcc: cvttsd2si(n - 2^63) with the top bit flipped; past 2^64 that is 0.
        let low = n - TWO63;
        let low = if low < TWO63 { low as i64 } else { i64::MIN };
        (low as u64) ^ (1 << 63)
    }
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt_bytes = check_string(lua, 1, args.first())?;
    let mut fmt = Fmt {
        b: &fmt_bytes,
        at: 0,
    };
    let mut h = Header::default();
    let mut arg = 2usize;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = opt_size(opt, &mut fmt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, arg as i32, pack_arg(&args, arg).as_ref())?;
                arg += 1;
                let mut value = integer_bits(n);
                let mut bytes = vec![0u8; size];
                for byte in bytes.iter_mut() {
                    *byte = (value & 0xff) as u8;
                    value >>= 8;
                }
                if h.big {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(lua, arg as i32, pack_arg(&args, arg).as_ref())? as f32;
                arg += 1;
                out.extend_from_slice(&if h.big {
                    n.to_be_bytes()
                } else {
                    n.to_le_bytes()
                });
            }
            b'd' => {
                let n = check_number(lua, arg as i32, pack_arg(&args, arg).as_ref())?;
                arg += 1;
                out.extend_from_slice(&if h.big {
                    n.to_be_bytes()
                } else {
                    n.to_le_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_string(lua, arg as i32, pack_arg(&args, arg).as_ref())?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // luaL_argcheck after the argument counter moved on, as in C.
                    return Err(arg_error(lua, arg as i32, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(lua, opt, &mut fmt, &mut h)?,
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt_bytes = check_string(lua, 1, args.first())?;
    let data = check_string(lua, 2, args.get(1))?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1u64,
        Some(v) => check_number(lua, 3, Some(v))? as i64 as u64,
    };
    if start == 0 {
        return Err(arg_error(lua, 3, "offset must be 1 or greater"));
    }
    let mut pos = (start - 1) as usize;
    let ld = data.len();
    let too_short = || arg_error(lua, 2, "data string too short");
    let mut fmt = Fmt {
        b: &fmt_bytes,
        at: 0,
    };
    let mut h = Header::default();
    let mut results = MultiValue::new();
    while let Some(opt) = fmt.next() {
        let mut size = opt_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short());
        }
        // luaL_checkstack(L, 1, ...) with the two arguments and the results on the stack.
        if 2 + results.len() as i64 + 1 > MAX_C_STACK {
            return Err(err("stack overflow (too many results)".into()));
        }
        let item = &data[pos..];
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut l: u64 = 0;
                let bytes = &item[..size];
                let mut push = |b: u8| l = (l << 8) | u64::from(b);
                if h.big {
                    bytes.iter().for_each(|&b| push(b));
                } else {
                    bytes.iter().rev().for_each(|&b| push(b));
                }
                let n = if opt.is_ascii_lowercase() {
                    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
                    if l & mask != 0 {
                        l |= mask;
                    }
                    l as i64 as f64
                } else {
                    l as f64
                };
                results.push_back(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b = [item[0], item[1], item[2], item[3]];
                let f = if h.big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                results.push_back(Value::Number(f64::from(f)));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&item[..8]);
                let d = if h.big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                results.push_back(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let n = match results.back() {
                        Some(Value::Number(n)) => *n,
                        Some(Value::Integer(i)) => *i as f64,
                        _ => return Err(err("format 'c0' needs a previous size".into())),
                    };
                    results.pop_back();
                    size = n as usize;
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short());
                    }
                }
                results.push_back(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = item.iter().position(|&b| b == 0) else {
                    return Err(err("unfinished string in data".into()));
                };
                size = end + 1;
                results.push_back(Value::String(lua.create_string(&item[..end])?));
            }
            _ => control(lua, opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push_back(Value::Integer(pos as i64 + 1));
    if !results_fit(lua, results.len()) {
        return Err(err("stack overflow (too many results)".into()));
    }
    Ok(results)
}

fn size(lua: &Lua, args: MultiValue) -> mlua::Result<i64> {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt_bytes = check_string(lua, 1, args.first())?;
    let mut fmt = Fmt {
        b: &fmt_bytes,
        at: 0,
    };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = opt_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(lua, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control(lua, opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as i64)
}

/// The `struct` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::integer_bits;

    #[test]
    fn integer_bits_follow_x86_casts() {
        assert_eq!(integer_bits(-1.0), u64::MAX);
        assert_eq!(integer_bits(255.9), 255);
        assert_eq!(integer_bits(-2f64.powi(70)), 1 << 63);
        assert_eq!(integer_bits(2f64.powi(70)), 0);
        assert_eq!(integer_bits(2f64.powi(63)), 1 << 63);
        assert_eq!(
            integer_bits(1.8446744073709552e19 - 4096.0),
            u64::MAX - 4095
        );
    }
}
