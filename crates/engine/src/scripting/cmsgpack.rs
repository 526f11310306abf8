//! The `cmsgpack` library Redis bundles: `cmsgpack.pack(...)` and `cmsgpack.unpack(s)` with
//! lua-cmsgpack's mapping (tables with keys 1..n are arrays, other tables maps; integral numbers are
//! integers, others doubles).

use mlua::{Lua, MultiValue, Table, Value, Variadic};

const MAX_DEPTH: usize = 16;

fn err(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

fn pack_int(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        -32..=-1 => out.push(n as i8 as u8),
        128..=255 => out.extend_from_slice(&[0xcc, n as u8]),
        256..=65535 => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        65536..=4294967295 => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        -128..=-33 => out.extend_from_slice(&[0xd0, n as i8 as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2147483648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        n if n > 0 => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        n => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn pack_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, codes: [u8; 2]) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= 65535 {
        out.push(codes[0]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(codes[1]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack(out: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(out, *i),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => pack_int(out, *n as i64),
        Value::Number(n) => {
            if (*n as f32) as f64 == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() < 32 {
                out.push(0xa0 | b.len() as u8);
            } else if b.len() <= 255 {
                out.extend_from_slice(&[0xd9, b.len() as u8]);
            } else if b.len() <= 65535 {
                out.push(0xda);
                out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_DEPTH => {
            let len = t.raw_len();
            let count = t.pairs::<Value, Value>().count();
            if len > 0 && len == count {
                pack_len(out, len, 0x90, 15, [0xdc, 0xdd]);
                for i in 1..=len {
                    pack(out, &t.raw_get::<Value>(i)?, depth + 1)?;
                }
            } else {
                pack_len(out, count, 0x80, 15, [0xde, 0xdf]);
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    pack(out, &k, depth + 1)?;
                    pack(out, &v, depth + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn take<'b>(b: &'b [u8], pos: &mut usize, n: usize) -> mlua::Result<&'b [u8]> {
    let end = pos
        .checked_add(n)
        .filter(|e| *e <= b.len())
        .ok_or_else(|| err("Missing bytes in input."))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

fn unpack(lua: &Lua, b: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > 1000 {
        return Err(err("Too deep nesting in input."));
    }
    let c = take(b, pos, 1)?[0];
    let string = |lua: &Lua, pos: &mut usize, n: usize| -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(take(b, pos, n)?)?))
    };
    let array = |lua: &Lua, pos: &mut usize, n: usize| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=n {
            t.raw_set(i, unpack(lua, b, pos, depth + 1)?)?;
        }
        Ok(Value::Table(t))
    };
    let map = |lua: &Lua, pos: &mut usize, n: usize| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = unpack(lua, b, pos, depth + 1)?;
            let v = unpack(lua, b, pos, depth + 1)?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    };
    Ok(match c {
        0x00..=0x7f => Value::Number(c as f64),
        0x80..=0x8f => map(lua, pos, (c & 0x0f) as usize)?,
        0x90..=0x9f => array(lua, pos, (c & 0x0f) as usize)?,
        0xa0..=0xbf => string(lua, pos, (c & 0x1f) as usize)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xc4 | 0xd9 => {
            let n = be(take(b, pos, 1)?) as usize;
            string(lua, pos, n)?
        }
        0xc5 | 0xda => {
            let n = be(take(b, pos, 2)?) as usize;
            string(lua, pos, n)?
        }
        0xc6 | 0xdb => {
            let n = be(take(b, pos, 4)?) as usize;
            string(lua, pos, n)?
        }
        0xca => {
            let v = be(take(b, pos, 4)?) as u32;
            Value::Number(f32::from_bits(v) as f64)
        }
        0xcb => Value::Number(f64::from_bits(be(take(b, pos, 8)?))),
        0xcc => Value::Number(be(take(b, pos, 1)?) as f64),
        0xcd => Value::Number(be(take(b, pos, 2)?) as f64),
        0xce => Value::Number(be(take(b, pos, 4)?) as f64),
        0xcf => Value::Number(be(take(b, pos, 8)?) as f64),
        0xd0 => Value::Number(be(take(b, pos, 1)?) as u8 as i8 as f64),
        0xd1 => Value::Number(be(take(b, pos, 2)?) as u16 as i16 as f64),
        0xd2 => Value::Number(be(take(b, pos, 4)?) as u32 as i32 as f64),
        0xd3 => Value::Number(be(take(b, pos, 8)?) as i64 as f64),
        0xdc => {
            let n = be(take(b, pos, 2)?) as usize;
            array(lua, pos, n)?
        }
        0xdd => {
            let n = be(take(b, pos, 4)?) as usize;
            array(lua, pos, n)?
        }
        0xde => {
            let n = be(take(b, pos, 2)?) as usize;
            map(lua, pos, n)?
        }
        0xdf => {
            let n = be(take(b, pos, 4)?) as usize;
            map(lua, pos, n)?
        }
        0xe0..=0xff => Value::Number(c as i8 as f64),
        _ => return Err(err("Bad data format in input.")),
    })
}

/// The `cmsgpack` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(err("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                pack(&mut out, a, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let b = s.as_bytes();
            let mut pos = 0;
            let mut values = MultiValue::new();
            while pos < b.len() {
                values.push_back(unpack(lua, &b, &mut pos, 0)?);
            }
            Ok(values)
        })?,
    )?;
    Ok(t)
}
