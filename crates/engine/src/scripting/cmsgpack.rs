//! The `cmsgpack` library Redis 7.0 bundles (lua-cmsgpack 0.4.0), byte for byte: `pack(...)`,
//! `unpack(s)`, `unpack_one(s [, offset])`, `unpack_limit(s, limit [, offset])` and the module's
//! `_NAME`/`_VERSION`/`_COPYRIGHT`/`_DESCRIPTION`.
//!
//! lua-cmsgpack's mapping: a table whose keys are exactly 1..n (n may be 0: `{}` packs as an empty
//! array) is an array, any other a map; tables nested 16 deep pack as nil; numbers equal to an
//! int64 are integers, others a float when one holds them exactly, else a double; functions and
//! other values pack as nil. Unpacking knows the formats lua-cmsgpack knows (no bin or ext
//! types: "Bad data format in input."), reads a uint64 into Lua's signed integer as the C code
//! does, and fails where the C code runs out of Lua stack (`LUAI_MAXCSTACK`) with its texts.
//! Unpacking reads the whole input with an explicit stack (no Rust recursion per level), then
//! builds the values with Lua's C API ([`super::tape`]).

use std::ffi::c_int;

use mlua::{Lua, MultiValue, Table, Value, ffi};

use super::libargs::{MAX_C_STACK, arg_error, bytes_at, check_number, check_string, results_fit};
use super::raise;
use super::tape::{self, Step, Tape};

/// Tables nested this deep pack as nil (lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`).
const MAX_NESTING: usize = 16;

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

fn pack_len(out: &mut Vec<u8>, n: usize, fix: u8, codes: [u8; 2]) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 65535 {
        out.push(codes[0]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(codes[1]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// `table_is_an_array` of the table on top: every key a number > 0 equal to a C int, and as many
/// keys as the largest (so exactly 1..n, n = 0 included). Answers the key count too.
///
/// # Safety
/// `state` is live with a table on top and room for two more values.
unsafe fn table_is_an_array(state: *mut ffi::lua_State) -> (bool, usize) {
    let (mut count, mut max, mut array) = (0usize, 0i64, true);
    // SAFETY: per the caller; `lua_next` walks keys left as they were (numbers are only read
    // with lua_tonumber, which does not convert a key in place).
    unsafe {
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            ffi::lua_settop(state, -2);
            count += 1;
            if !array {
                continue;
            }
            if ffi::lua_type(state, -1) != ffi::LUA_TNUMBER {
                array = false;
                continue;
            }
            let n = ffi::lua_tonumber(state, -1);
            if n <= 0.0 || (n as i32) as f64 != n {
                array = false;
                continue;
            }
            max = max.max(n as i64);
        }
    }
    (array && max as usize == count, count)
}

/// `mp_encode_lua_type`: writes the value on top of the stack and pops it. Tables are read in
/// lua-cmsgpack's order (`lua_next` for maps, 1..n for arrays); nesting stops at
/// [`MAX_NESTING`], so this recursion is bounded.
///
/// # Safety
/// `state` is live with a value on top and room for 3 more values per level left to
/// `MAX_NESTING`. Nothing here runs Lua code or allocates Lua memory, so no Lua error can
/// unwind it.
unsafe fn pack_top(state: *mut ffi::lua_State, out: &mut Vec<u8>, level: usize) {
    // SAFETY (whole body): per the caller.
    unsafe {
        match ffi::lua_type(state, -1) {
            ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(state, -1) != 0 {
                0xc3
            } else {
                0xc2
            }),
            ffi::LUA_TNUMBER => pack_number(out, ffi::lua_tonumber(state, -1)),
            ffi::LUA_TSTRING => pack_string(out, bytes_at(state, -1)),
            ffi::LUA_TTABLE if level < MAX_NESTING => {
                let (array, count) = table_is_an_array(state);
                if array {
                    let len = ffi::lua_objlen(state, -1);
                    pack_len(out, len, 0x90, [0xdc, 0xdd]);
                    for i in 1..=len {
                        ffi::lua_rawgeti(state, -1, i as _);
                        pack_top(state, out, level + 1);
                    }
                } else {
                    pack_len(out, count, 0x80, [0xde, 0xdf]);
                    ffi::lua_pushnil(state);
                    while ffi::lua_next(state, -2) != 0 {
                        ffi::lua_pushvalue(state, -2);
                        pack_top(state, out, level + 1);
                        pack_top(state, out, level + 1);
                    }
                }
            }
            _ => out.push(0xc0),
        }
        ffi::lua_settop(state, -2);
    }
}

/// A Lua number as lua-cmsgpack writes it.
fn pack_number(out: &mut Vec<u8>, n: f64) {
    // IS_INT64_EQUIVALENT: not infinite, and equal to its int64 conversion (x86's conversion
    // answers INT64_MIN out of range, equal only to -2^63 itself).
    const RANGE: std::ops::Range<f64> = -9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0;
    let as_int = if RANGE.contains(&n) {
        n as i64
    } else {
        i64::MIN
    };
    if !n.is_infinite() && as_int as f64 == n {
        pack_int(out, as_int);
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_string(out: &mut Vec<u8>, b: &[u8]) {
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
    out.extend_from_slice(b);
}

/// `mp_pack`: each argument in turn. The values are only read (no Lua code, no Lua allocation
/// but the stack room taken first, with the heap cap lifted for it as `cjson.encode` does).
fn pack(lua: &Lua, args: &MultiValue) -> mlua::Result<Vec<u8>> {
    let mut out = Vec::new();
    let cap = lua.set_memory_limit(0)?;
    let packed = lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: room for one argument and every level's three values is made first; each
        // argument is pushed, walked and popped (`pack_top`), so the stack ends as it began.
        unsafe {
            if ffi::lua_checkstack(state, 4 + 3 * MAX_NESTING as c_int) == 0 {
                return Err(mlua::Error::StackError);
            }
            for a in args.iter() {
                raw.push(a)?;
                pack_top(state, &mut out, 0);
            }
        }
        Ok(())
    });
    let _ = lua.set_memory_limit(cap);
    packed.map(|()| out)
}

/// Why a decode stopped (lua-cmsgpack's cursor errors and `luaL_checkstack` failures).
enum Stop {
    Eof,
    BadFormat,
    /// `luaL_checkstack` failed: its message.
    Stack(&'static str),
    Lua(mlua::Error),
}

const TOO_MANY: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

/// A container being filled.
enum Open {
    Array {
        left: usize,
        index: i64,
    },
    /// `key`: the member's key was read (it waits on the stack while its value is read).
    Map {
        left: usize,
        key: bool,
    },
}

/// A decoded value that can be a map key: lua_settable refuses nil and NaN.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Ok,
    Nil,
    NaN,
}

/// One top-level decode: the input, the cursor, and the C stack slots lua-cmsgpack would hold;
/// the values go to a [`Tape`] built once the whole input was read.
struct Unpacker<'a, 'l> {
    lua: &'l Lua,
    b: &'a [u8],
    pos: usize,
    /// Slots on the C function's stack: its arguments, the values decoded so far, and per open
    /// container its table and (array) the index or (map) the pending key.
    used: i64,
    open: Vec<Open>,
    tape: Tape,
    /// The bytes the tape may hold (the room under the script's heap cap).
    room: usize,
}

impl Unpacker<'_, '_> {
    fn need(&self, n: usize) -> Result<(), Stop> {
        if self.b.len() - self.pos < n {
            Err(Stop::Eof)
        } else {
            Ok(())
        }
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], Stop> {
        self.need(n)?;
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, Stop> {
        Ok(self
            .bytes(n)?
            .iter()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn number(&mut self, n: f64) -> Key {
        self.tape.push(Step::Num(n));
        if n.is_nan() { Key::NaN } else { Key::Ok }
    }

    fn string(&mut self, header: usize, len: usize) -> Result<Key, Stop> {
        self.need(header + len)?;
        self.pos += header;
        self.tape.string(&self.b[self.pos..self.pos + len]);
        self.pos += len;
        Ok(Key::Ok)
    }

    /// Opens a container of `n` items (`map`: pairs); `false` when it is empty (the value is
    /// done).
    fn open(&mut self, n: usize, map: bool) -> Result<bool, Stop> {
        self.tape.push(Step::Table);
        if !map && self.used + 2 > MAX_C_STACK {
            return Err(Stop::Stack("in function mp_decode_to_lua_array"));
        }
        if n == 0 {
            return Ok(false);
        }
        if map {
            self.used += 1;
            self.open.push(Open::Map {
                left: n,
                key: false,
            });
        } else {
            self.used += 2;
            self.open.push(Open::Array { left: n, index: 1 });
        }
        Ok(true)
    }

    /// Closes the innermost container.
    fn close(&mut self) {
        match self.open.pop() {
            Some(Open::Array { .. }) => self.used -= 2,
            _ => self.used -= 1,
        }
    }

    /// Decodes one top-level value (`mp_decode_to_lua_type`) onto the tape.
    fn value(&mut self) -> Result<(), Stop> {
        // Whether the key of each open map is nil or NaN (checked when its value is set).
        let mut keys: Vec<Key> = Vec::new();
        'value: loop {
            if self.tape.full(self.room) {
                return Err(Stop::Lua(mlua::Error::MemoryError(
                    "not enough memory".into(),
                )));
            }
            self.need(1)?;
            if self.used + 1 > MAX_C_STACK {
                return Err(Stop::Stack(TOO_MANY));
            }
            let c = self.b[self.pos];
            let done = match c {
                0xcc => {
                    self.pos += 1;
                    let n = self.be(1)? as f64;
                    self.number(n)
                }
                0xd0 => {
                    self.pos += 1;
                    let n = f64::from(self.be(1)? as u8 as i8);
                    self.number(n)
                }
                0xcd => {
                    self.pos += 1;
                    let n = self.be(2)? as f64;
                    self.number(n)
                }
                0xd1 => {
                    self.pos += 1;
                    let n = f64::from(self.be(2)? as u16 as i16);
                    self.number(n)
                }
                0xce => {
                    self.pos += 1;
                    let n = self.be(4)? as f64;
                    self.number(n)
                }
                0xd2 => {
                    self.pos += 1;
                    let n = f64::from(self.be(4)? as u32 as i32);
                    self.number(n)
                }
                // uint64 goes through lua_pushinteger: past 2^63 it turns negative, as in C.
                0xcf | 0xd3 => {
                    self.pos += 1;
                    let n = self.be(8)? as i64 as f64;
                    self.number(n)
                }
                0xc0 => {
                    self.pos += 1;
                    self.tape.push(Step::Nil);
                    Key::Nil
                }
                0xc3 | 0xc2 => {
                    self.pos += 1;
                    self.tape.push(Step::Bool(c == 0xc3));
                    Key::Ok
                }
                0xca => {
                    self.need(5)?;
                    self.pos += 1;
                    let n = f64::from(f32::from_bits(self.be(4)? as u32));
                    self.number(n)
                }
                0xcb => {
                    self.need(9)?;
                    self.pos += 1;
                    let n = f64::from_bits(self.be(8)?);
                    self.number(n)
                }
                0xd9 => {
                    self.need(2)?;
                    let n = usize::from(self.b[self.pos + 1]);
                    self.string(2, n)?
                }
                0xda => {
                    self.need(3)?;
                    let n =
                        usize::from(self.b[self.pos + 1]) << 8 | usize::from(self.b[self.pos + 2]);
                    self.string(3, n)?
                }
                0xdb => {
                    self.need(5)?;
                    self.pos += 1;
                    let n = self.be(4)? as usize;
                    self.string(0, n)?
                }
                0xdc..=0xdf => {
                    let width = if c & 1 == 0 { 2 } else { 4 };
                    self.need(1 + width)?;
                    self.pos += 1;
                    let n = self.be(width)? as usize;
                    if self.open(n, c >= 0xde)? {
                        continue 'value;
                    }
                    Key::Ok
                }
                _ if c & 0x80 == 0 => {
                    self.pos += 1;
                    self.number(f64::from(c))
                }
                _ if c & 0xe0 == 0xe0 => {
                    self.pos += 1;
                    self.number(f64::from(c as i8))
                }
                _ if c & 0xe0 == 0xa0 => self.string(1, usize::from(c & 0x1f))?,
                _ if c & 0xf0 == 0x90 || c & 0xf0 == 0x80 => {
                    self.pos += 1;
                    if self.open(usize::from(c & 0x0f), c & 0xf0 == 0x80)? {
                        continue 'value;
                    }
                    Key::Ok
                }
                _ => return Err(Stop::BadFormat),
            };
            // The value is complete: into the innermost container, which may complete too.
            let mut done = done;
            loop {
                match self.open.last_mut() {
                    None => return Ok(()),
                    Some(Open::Array { left, index }) => {
                        self.tape.push(Step::SetIndex(*index));
                        *index += 1;
                        *left -= 1;
                        if *left != 0 {
                            continue 'value;
                        }
                        self.close();
                        done = Key::Ok;
                    }
                    Some(Open::Map {
                        key: key @ false, ..
                    }) => {
                        *key = true;
                        keys.push(done);
                        self.used += 1;
                        continue 'value;
                    }
                    Some(Open::Map { left, key }) => {
                        *key = false;
                        *left -= 1;
                        let closing = *left == 0;
                        self.used -= 1;
                        // lua_settable with a nil or NaN key: Lua's own error, raised in C.
                        match keys.pop() {
                            Some(Key::Nil) => {
                                return Err(Stop::Lua(raise(self.lua, "table index is nil")));
                            }
                            Some(Key::NaN) => {
                                return Err(Stop::Lua(raise(self.lua, "table index is NaN")));
                            }
                            _ => {}
                        }
                        self.tape.push(Step::SetField);
                        if !closing {
                            continue 'value;
                        }
                        self.close();
                        done = Key::Ok;
                    }
                }
            }
        }
    }
}

/// `luaL_checkinteger` / `luaL_optinteger` of argument `idx` (`None`: absent).
fn integer_arg(lua: &Lua, v: Option<&Value>, idx: i32, optional: bool) -> mlua::Result<i64> {
    match v {
        None | Some(Value::Nil) if optional => Ok(0),
        v => Ok(check_number(lua, idx, v)? as i64),
    }
}

/// `mp_unpack_full`: up to `limit` values from `offset` (both 0: every value, and no offset in
/// the answer), after the next offset (-1 at the end) unless everything was asked for.
fn unpack_full(lua: &Lua, args: &[Value], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let s = check_string(lua, 1, args.first())?;
    let len = s.len();
    if offset < 0 || limit < 0 {
        return Err(err(&format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(err(&format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut u = Unpacker {
        lua,
        b: &s,
        pos: offset as usize,
        used: args.len().max(1) as i64,
        open: Vec::new(),
        tape: Tape::default(),
        room: tape::room(lua),
    };
    let mut count = 0i64;
    let mut failed = None;
    while u.pos < len && count < limit {
        if let Err(stop) = u.value() {
            failed = Some(stop);
            break;
        }
        u.used += 1;
        count += 1;
    }
    match failed {
        None => {}
        Some(Stop::Eof) => return Err(err("Missing bytes in input.")),
        Some(Stop::BadFormat) => return Err(err("Bad data format in input.")),
        Some(Stop::Stack(what)) => return Err(err(&format!("stack overflow ({what})"))),
        Some(Stop::Lua(e)) => return Err(e),
    }
    let mut values: MultiValue = u.tape.run(lua)?;
    if !decode_all {
        if u.used + 1 > MAX_C_STACK {
            return Err(err("stack overflow (in function mp_unpack_full)"));
        }
        let next = if u.pos == len { -1 } else { u.pos as i64 };
        values.push_front(Value::Integer(next));
    }
    if !results_fit(lua, values.len()) {
        return Err(err(&format!("stack overflow ({TOO_MANY})")));
    }
    Ok(values)
}

/// The `cmsgpack` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(arg_error(lua, 0, "MessagePack pack needs input."));
            }
            // lua_checkstack(L, nargs) with the nargs arguments already on the stack.
            if 2 * args.len() as i64 > MAX_C_STACK {
                return Err(arg_error(
                    lua,
                    0,
                    "Too many arguments for MessagePack pack.",
                ));
            }
            lua.create_string(pack(lua, &args)?)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            unpack_full(lua, &args, 0, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let offset = integer_arg(lua, args.get(1), 2, true)?;
            unpack_full(lua, &args[..args.len().min(1)], 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let limit = integer_arg(lua, args.get(1), 2, false)?;
            let offset = integer_arg(lua, args.get(2), 3, true)?;
            unpack_full(lua, &args[..args.len().min(1)], limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}
