//! The `cjson` library Redis 7.0 bundles (lua-cjson 2.1.0), rebuilt to behave like it byte for
//! byte: `encode`, `decode`, `null`, `new`, `_NAME`/`_VERSION` and the configuration functions
//! (`encode_sparse_array`, `encode_max_depth`, `decode_max_depth`, `encode_number_precision`,
//! `encode_keep_buffer`, `encode_invalid_numbers`, `decode_invalid_numbers`), each module table with
//! its own settings, kept for the life of the Lua state as in Redis.
//!
//! What a script can see and that a general-purpose JSON library does differently:
//! - strings are bytes: `encode` passes bytes >= 0x80 through untouched (no UTF-8 check), escapes
//!   `/` as `\/` and DEL as `\u007f`; `decode` keeps raw bytes, and a NUL byte ends the text (the C
//!   parser reads a NUL-terminated string);
//! - object members come out in Lua's own table order (`lua_next`), numbers with C's `%.14g`
//!   (`1e+15`, `0.33333333333333`, `-0`);
//! - `decode` reads numbers with C's `strtod`: hexadecimal, `Infinity`, `NaN` and a leading `+`
//!   are accepted (lua-cjson's `decode_invalid_numbers` default);
//! - errors carry lua-cjson's texts and 1-based positions (`Expected comma or array end but found
//!   T_END at character 5`), and nesting fails where lua-cjson's does: the depth limits (1000) or
//!   Lua's C stack (`LUAI_MAXCSTACK`, 8000 slots) when a script raised them.
//!
//! Both directions walk with an explicit stack (no Rust recursion per nesting level), so a deep
//! value cannot exhaust the thread's stack.

use std::sync::{Arc, Mutex};

use std::ffi::c_int;

use mlua::{LightUserData, Lua, MultiValue, Table, Value, ffi};

use super::printf_g;
use super::tape::{self, Step, Tape};

use super::libargs::{MAX_C_STACK, arg_error, bytes_at, check_string, type_error};

/// One cjson module table's settings (lua-cjson's `json_config_t`, defaults of 2.1.0 as built by
/// Redis).
#[derive(Debug)]
struct Settings {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: refuse NaN and Inf, 1: write them (`nan`, `inf`), 2: write `null`.
    encode_invalid_numbers: u8,
    encode_number_precision: i32,
    encode_keep_buffer: bool,
    decode_invalid_numbers: bool,
    /// The buffer kept between `encode` calls while `encode_keep_buffer` is on.
    buffer: Vec<u8>,
    /// The Lua thread `encode` walks values on (see [`encode`]).
    walker: Option<mlua::Thread>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: true,
            decode_invalid_numbers: true,
            buffer: Vec::new(),
            walker: None,
        }
    }
}

type Shared = Arc<Mutex<Settings>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Settings> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// A Lua number as C's `%.<precision>g` writes it.
fn number_text(n: f64, precision: i32) -> String {
    printf_g(n, usize::try_from(precision).unwrap_or(14))
}

// ===== Configuration functions =====

/// lua-cjson's `json_arg_init`: at most `n` arguments, the missing ones nil.
fn args_upto(lua: &Lua, args: MultiValue, n: usize) -> mlua::Result<Vec<Value>> {
    let mut v: Vec<Value> = args.into_iter().collect();
    if v.len() > n {
        return Err(arg_error(lua, n as i32 + 1, "found too many arguments"));
    }
    v.resize(n, Value::Nil);
    Ok(v)
}

/// `json_integer_option`: sets `setting` from argument `idx` (1-based) when given, within
/// `min..=max` (lua-cjson reports a range error as argument #1 whatever `idx` is); answers it.
fn integer_option(
    lua: &Lua,
    args: &[Value],
    idx: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<Value> {
    let v = &args[idx - 1];
    if !v.is_nil() {
        let n = match lua.coerce_number(v.clone())? {
            Some(n) => n,
            None => return Err(type_error(lua, idx as i32, "number", v)),
        };
        // luaL_checkinteger truncates to lua_Integer, lua-cjson stores it in a C int.
        let value = (n as i64) as i32;
        if !(min <= value && value <= max) {
            return Err(arg_error(
                lua,
                1,
                &format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(Value::Integer(i64::from(*setting)))
}

/// `json_enum_option` with `bool_true` 1: a boolean (false = option 0, true = option 1) or one
/// of `options` by name; answers a boolean for options 0 and 1, the name otherwise.
fn enum_option(
    lua: &Lua,
    args: &[Value],
    idx: usize,
    setting: &mut u8,
    options: &[&str],
) -> mlua::Result<Value> {
    let v = &args[idx - 1];
    match v {
        Value::Nil => {}
        Value::Boolean(b) => *setting = u8::from(*b),
        other => {
            let name = check_string(lua, idx as i32, Some(other))?;
            match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(i) => *setting = i as u8,
                None => {
                    return Err(arg_error(
                        lua,
                        idx as i32,
                        &format!("invalid option '{}'", String::from_utf8_lossy(&name)),
                    ));
                }
            }
        }
    }
    Ok(if *setting <= 1 {
        Value::Boolean(*setting == 1)
    } else {
        Value::String(lua.create_string(options[usize::from(*setting)])?)
    })
}

const ON_OFF: &[&str] = &["off", "on"];

fn bool_option(lua: &Lua, args: &[Value], idx: usize, setting: &mut bool) -> mlua::Result<Value> {
    let mut s = u8::from(*setting);
    let r = enum_option(lua, args, idx, &mut s, ON_OFF)?;
    *setting = s == 1;
    Ok(r)
}

// ===== Encoding =====

/// Appends `s` as a JSON string with lua-cjson's escapes.
fn append_string(buf: &mut Vec<u8>, s: &[u8]) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    for &c in s {
        match c {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'/' => buf.extend_from_slice(b"\\/"),
            0x08 => buf.extend_from_slice(b"\\b"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            0x0c => buf.extend_from_slice(b"\\f"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                buf.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
            }
            _ => buf.push(c),
        }
    }
    buf.push(b'"');
}

/// The settings one `encode` reads (copied: no lock is held while the value is walked).
#[derive(Clone, Copy)]
struct EncodeCfg {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    max_depth: i32,
    invalid_numbers: u8,
    precision: i32,
}

/// Appends a number (`json_append_number`).
fn append_number(buf: &mut Vec<u8>, n: f64, cfg: &EncodeCfg) -> Result<(), String> {
    match cfg.invalid_numbers {
        0 if !n.is_finite() => {
            return Err("Cannot serialise number: must not be NaN or Inf".into());
        }
        1 if n.is_nan() => {
            buf.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            buf.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    buf.extend_from_slice(number_text(n, cfg.precision).as_bytes());
    Ok(())
}

/// `lua_typename` of the value at `idx`.
///
/// # Safety
/// `state` is a live Lua state and `idx` a valid index.
unsafe fn typename_at(state: *mut ffi::lua_State, idx: c_int) -> &'static str {
    // SAFETY: per the caller.
    match unsafe { ffi::lua_type(state, idx) } {
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TTHREAD => "thread",
        _ => "userdata",
    }
}

/// A table being written; the Lua stack holds it (and, for an object, the key `lua_next`
/// continues from).
enum Open {
    /// An array of `len` items, the next one `next`.
    Array { len: i64, next: i64 },
    /// An object; `first` until a member was written.
    Object { first: bool },
}

/// The walk of one `encode` over the Lua stack, as lua-cjson does it: `lua_next` for objects
/// (Lua's own member order), `lua_rawgeti` for arrays. Nothing here runs Lua code or allocates
/// Lua memory (the values are only read), so no Lua error can unwind through it; the stack slots
/// it takes are checked with `lua_checkstack`.
struct Encoder<'c> {
    state: *mut ffi::lua_State,
    cfg: &'c EncodeCfg,
    open: Vec<Open>,
    /// The slots each open table's parent pushed to reach it.
    slots: Vec<i64>,
    /// The C stack slots lua-cjson would hold here (its argument, then per level the value, and
    /// the key of an object).
    used: i64,
}

impl Encoder<'_> {
    /// Writes the value on top of the stack: a scalar is popped, a table stays there, open
    /// (`pushed`: the slots its parent pushed to reach it).
    ///
    /// # Safety
    /// `self.state` is live with a value on top.
    unsafe fn value(&mut self, buf: &mut Vec<u8>, pushed: i64) -> Result<(), String> {
        let state = self.state;
        // SAFETY (whole body): reads of the top value, pops of what this walk pushed, and
        // traversal with lua_next / lua_rawgeti of a table no Lua code can change meanwhile.
        unsafe {
            match ffi::lua_type(state, -1) {
                ffi::LUA_TSTRING => append_string(buf, bytes_at(state, -1)),
                ffi::LUA_TNUMBER => append_number(buf, ffi::lua_tonumber(state, -1), self.cfg)?,
                ffi::LUA_TBOOLEAN => buf.extend_from_slice(if ffi::lua_toboolean(state, -1) != 0 {
                    b"true"
                } else {
                    b"false"
                }),
                ffi::LUA_TNIL => buf.extend_from_slice(b"null"),
                ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(state, -1).is_null() => {
                    buf.extend_from_slice(b"null")
                }
                ffi::LUA_TTABLE => {
                    let depth = self.open.len() as i64 + 1;
                    let used = self.used + pushed;
                    if depth > i64::from(self.cfg.max_depth)
                        || used + 3 > MAX_C_STACK
                        || ffi::lua_checkstack(state, 3) == 0
                    {
                        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
                    }
                    match self.array_length()? {
                        Some(len) if len > 0 => {
                            buf.push(b'[');
                            self.open.push(Open::Array { len, next: 1 });
                        }
                        _ => {
                            buf.push(b'{');
                            ffi::lua_pushnil(state);
                            self.open.push(Open::Object { first: true });
                        }
                    }
                    self.slots.push(pushed);
                    self.used = used;
                    return Ok(());
                }
                _ => {
                    return Err(format!(
                        "Cannot serialise {}: type not supported",
                        typename_at(state, -1)
                    ));
                }
            }
            ffi::lua_settop(state, -2);
        }
        Ok(())
    }

    /// `lua_array_length` of the table on top: its length when every key is an integer >= 1
    /// (as C ints, so a key past `INT_MAX` wraps the way lua-cjson's does), `None` for an object.
    ///
    /// # Safety
    /// A table is on top of the stack, with room for two more values.
    unsafe fn array_length(&self) -> Result<Option<i64>, String> {
        let state = self.state;
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        // SAFETY: per the caller; the loop leaves the stack as it found it.
        unsafe {
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, -2) != 0 {
                let k = if ffi::lua_type(state, -2) == ffi::LUA_TNUMBER {
                    ffi::lua_tonumber(state, -2)
                } else {
                    0.0
                };
                if k != 0.0 && k.floor() == k && k >= 1.0 {
                    if k > f64::from(max) {
                        max = if k <= f64::from(i32::MAX) {
                            k as i32
                        } else {
                            i32::MIN
                        };
                    }
                    items = items.wrapping_add(1);
                    ffi::lua_settop(state, -2);
                    continue;
                }
                ffi::lua_settop(state, -3);
                return Ok(None);
            }
        }
        let cfg = self.cfg;
        if cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if !cfg.sparse_convert {
                return Err("Cannot serialise table: excessively sparse array".into());
            }
            return Ok(None);
        }
        Ok(Some(i64::from(max)))
    }

    /// Writes the value on top of the stack whole, and pops it.
    ///
    /// # Safety
    /// `self.state` is live with a value on top and room for four more.
    unsafe fn run(&mut self, buf: &mut Vec<u8>) -> Result<(), String> {
        let state = self.state;
        // SAFETY (whole body): the stack holds, per open table, the table and (objects) the
        // key lua_next continues from; every push here was checked by `value`.
        unsafe {
            self.value(buf, 0)?;
            while let Some(top) = self.open.last_mut() {
                match top {
                    Open::Array { len, next } => {
                        if *next > *len {
                            buf.push(b']');
                            self.close();
                            continue;
                        }
                        if *next > 1 {
                            buf.push(b',');
                        }
                        ffi::lua_rawgeti(state, -1, *next as ffi::lua_Integer);
                        *next += 1;
                        self.value(buf, 1)?;
                    }
                    Open::Object { first } => {
                        if ffi::lua_next(state, -2) == 0 {
                            buf.push(b'}');
                            self.close();
                            continue;
                        }
                        if !*first {
                            buf.push(b',');
                        }
                        *first = false;
                        match ffi::lua_type(state, -2) {
                            ffi::LUA_TNUMBER => {
                                buf.push(b'"');
                                append_number(buf, ffi::lua_tonumber(state, -2), self.cfg)?;
                                buf.extend_from_slice(b"\":");
                            }
                            ffi::LUA_TSTRING => {
                                append_string(buf, bytes_at(state, -2));
                                buf.push(b':');
                            }
                            _ => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    typename_at(state, -2)
                                ));
                            }
                        }
                        self.value(buf, 2)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Closes the innermost table: pops it off the stack.
    fn close(&mut self) {
        self.open.pop();
        // SAFETY: the table is on top (an object's key was popped by its last lua_next).
        unsafe { ffi::lua_settop(self.state, -2) };
        self.used -= self.slots.pop().unwrap_or(0);
    }
}

/// The module's walking thread (made on first use, kept with the settings).
fn walker(lua: &Lua, shared: &Shared) -> mlua::Result<mlua::Thread> {
    if let Some(t) = &lock(shared).walker {
        return Ok(t.clone());
    }
    let t = lua.create_thread(lua.create_function(|_, ()| Ok(()))?)?;
    lock(shared).walker = Some(t.clone());
    Ok(t)
}

fn encode(lua: &Lua, shared: &Shared, args: MultiValue) -> mlua::Result<mlua::String> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let v = args.into_iter().next().unwrap_or(Value::Nil);
    let (cfg, mut buf) = {
        let mut s = lock(shared);
        let cfg = EncodeCfg {
            sparse_convert: s.sparse_convert,
            sparse_ratio: s.sparse_ratio,
            sparse_safe: s.sparse_safe,
            max_depth: s.encode_max_depth,
            invalid_numbers: s.encode_invalid_numbers,
            precision: s.encode_number_precision,
        };
        let mut buf = std::mem::take(&mut s.buffer);
        buf.clear();
        (cfg, buf)
    };
    // The walk runs on a thread of its own, whose stack starts empty like the stack of
    // lua-cjson's C function: the same `LUAI_MAXCSTACK` limit ends the same nesting. It only
    // reads Lua values, but growing that stack allocates: the script's heap cap is lifted
    // meanwhile (at most `LUAI_MAXCSTACK` slots), so that cannot fail either.
    let walker = walker(lua, shared)?;
    let cap = lua.set_memory_limit(0)?;
    let walked = lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: room is checked before the push; the stack is restored to `top` whatever
        // happened, and the walk neither runs Lua code nor raises Lua errors.
        unsafe {
            let top = ffi::lua_gettop(state);
            if ffi::lua_checkstack(state, 2) == 0 {
                return Err(mlua::Error::StackError);
            }
            raw.push(&walker)?;
            let walk = ffi::lua_tothread(state, -1);
            raw.push(&v)?;
            // (A new thread holds its body function: cleared, the stack is empty.)
            if !walk.is_null() {
                ffi::lua_settop(walk, 0);
            }
            if walk.is_null() || ffi::lua_checkstack(walk, 1) == 0 {
                ffi::lua_settop(state, top);
                return Err(mlua::Error::StackError);
            }
            ffi::lua_xmove(state, walk, 1);
            let mut enc = Encoder {
                state: walk,
                cfg: &cfg,
                open: Vec::new(),
                slots: Vec::new(),
                used: 1,
            };
            let r = enc.run(&mut buf);
            ffi::lua_settop(walk, 0);
            ffi::lua_settop(state, top);
            Ok(r)
        }
    });
    let _ = lua.set_memory_limit(cap);
    let result = match walked {
        Ok(Ok(())) => lua.create_string(&buf),
        Ok(Err(msg)) => Err(err(msg)),
        Err(e) => Err(e),
    };
    let mut s = lock(shared);
    if s.encode_keep_buffer {
        s.buffer = buf;
    }
    result
}

// ===== Decoding =====

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    /// A lexical error, with lua-cjson's description.
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num => "T_NUMBER",
            Tok::Bool => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

/// The JSON text and the read position; bytes past the end read as NUL, as in C.
struct Lexer<'a> {
    data: &'a [u8],
    ptr: usize,
    invalid_numbers: bool,
    /// Where the last token started (or the error was found).
    index: usize,
    /// The last string token's bytes.
    string: Vec<u8>,
    number: f64,
    boolean: bool,
}

fn hex_digit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&mut self, what: &'static str) -> Tok {
        self.index = self.ptr;
        Tok::Error(what)
    }

    fn next(&mut self) -> Tok {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        self.index = self.ptr;
        let ch = self.at(self.ptr);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.ptr += 1;
            return t;
        }
        let rest = &self.data[self.ptr.min(self.data.len())..];
        match ch {
            0 => Tok::End,
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    return self.error("invalid number");
                }
                self.number_token()
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if rest.starts_with(b"true") {
                    self.ptr += 4;
                    self.boolean = true;
                    Tok::Bool
                } else if rest.starts_with(b"false") {
                    self.ptr += 5;
                    self.boolean = false;
                    Tok::Bool
                } else if rest.starts_with(b"null") {
                    self.ptr += 4;
                    Tok::Null
                } else if self.invalid_numbers && self.is_invalid_number() {
                    self.number_token()
                } else {
                    self.error("invalid token")
                }
            }
            _ => self.error("invalid token"),
        }
    }

    /// `json_is_invalid_number`: forms C's strtod takes that strict JSON does not (a leading
    /// `+`, hexadecimal, leading zeros, inf, nan).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..w.len()).all(|i| self.at(p + i).eq_ignore_ascii_case(&w[i]));
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self) -> Tok {
        match strtod(self.data, self.ptr) {
            Some((n, end)) => {
                self.number = n;
                self.ptr = end;
                Tok::Num
            }
            None => self.error("invalid number"),
        }
    }

    fn string_token(&mut self) -> Tok {
        self.ptr += 1;
        self.string.clear();
        loop {
            let ch = self.at(self.ptr);
            match ch {
                b'"' => break,
                0 => return self.error("unexpected end of string"),
                b'\\' => {
                    let decoded = match self.at(self.ptr + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape() {
                                continue;
                            }
                            return self.error("invalid unicode escape code");
                        }
                        _ => return self.error("invalid escape code"),
                    };
                    self.string.push(decoded);
                    self.ptr += 2;
                }
                _ => {
                    self.string.push(ch);
                    self.ptr += 1;
                }
            }
        }
        self.ptr += 1;
        Tok::Str
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| Some(acc << 4 | hex_digit(self.at(at + i))?))
    }

    /// `\uXXXX` (a surrogate pair: two of them) at `ptr`, appended as UTF-8.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.ptr + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.ptr + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        // codepoint_to_utf8 (a lone low surrogate is written as its 3 bytes, as in C).
        let b = &mut self.string;
        if cp <= 0x7F {
            b.push(cp as u8);
        } else if cp <= 0x7FF {
            b.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
        } else if cp <= 0xFFFF {
            b.extend_from_slice(&[
                (cp >> 12) as u8 | 0xE0,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        } else {
            b.extend_from_slice(&[
                (cp >> 18) as u8 | 0xF0,
                ((cp >> 12) & 0x3F) as u8 | 0x80,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        }
        self.ptr += len;
        true
    }
}

/// C's `strtod` on `data[start..]` (glibc's forms: decimal, hexadecimal with a `p` exponent,
/// `inf`/`infinity`, `nan`/`nan(...)`, an optional sign): the value and where it stopped, `None`
/// when nothing converts.
fn strtod(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut p = start;
    let negative = at(p) == b'-';
    if matches!(at(p), b'+' | b'-') {
        p += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let word = |p: usize, w: &[u8]| (0..w.len()).all(|i| at(p + i).eq_ignore_ascii_case(&w[i]));
    if word(p, b"inf") {
        let end = if word(p + 3, b"inity") { p + 8 } else { p + 3 };
        return Some((sign * f64::INFINITY, end));
    }
    if word(p, b"nan") {
        let mut end = p + 3;
        if at(end) == b'(' {
            let mut q = end + 1;
            while at(q).is_ascii_alphanumeric() || at(q) == b'_' {
                q += 1;
            }
            if at(q) == b')' {
                end = q + 1;
            }
        }
        return Some((sign * f64::NAN, end));
    }
    if at(p) == b'0'
        && (at(p + 1) | 0x20) == b'x'
        && (hex_digit(at(p + 2)).is_some() || (at(p + 2) == b'.' && hex_digit(at(p + 3)).is_some()))
    {
        let (v, end) = hex_float(data, p + 2);
        return Some((sign * v, end));
    }
    // Decimal: digits, an optional fraction, an optional exponent with digits.
    let int_start = p;
    while at(p).is_ascii_digit() {
        p += 1;
    }
    let int_digits = &data[int_start..p];
    let mut frac: &[u8] = &[];
    if at(p) == b'.' {
        let f = p + 1;
        let mut q = f;
        while at(q).is_ascii_digit() {
            q += 1;
        }
        if int_digits.is_empty() && q == f {
            return None;
        }
        frac = &data[f..q];
        p = q;
    } else if int_digits.is_empty() {
        return None;
    }
    let mut exp: &[u8] = &[];
    if (at(p) | 0x20) == b'e' {
        let mut q = p + 1;
        if matches!(at(q), b'+' | b'-') {
            q += 1;
        }
        let ds = q;
        while at(q).is_ascii_digit() {
            q += 1;
        }
        if q > ds {
            exp = &data[p + 1..q];
            p = q;
        }
    }
    let mut text = String::with_capacity(p - start + 4);
    if negative {
        text.push('-');
    }
    text.push_str(std::str::from_utf8(int_digits).unwrap_or("0"));
    if int_digits.is_empty() {
        text.push('0');
    }
    if !frac.is_empty() {
        text.push('.');
        text.push_str(std::str::from_utf8(frac).unwrap_or("0"));
    }
    if !exp.is_empty() {
        // An exponent too long for Rust's parser saturates the way strtod's result does.
        let e = std::str::from_utf8(exp).unwrap_or("0");
        let (es, digits) = match e.as_bytes().first() {
            Some(b'-') => ("-", &e[1..]),
            Some(b'+') => ("", &e[1..]),
            _ => ("", e),
        };
        let digits = digits.trim_start_matches('0');
        let digits = if digits.len() > 6 { "999999" } else { digits };
        text.push('e');
        text.push_str(es);
        text.push_str(if digits.is_empty() { "0" } else { digits });
    }
    let v: f64 = text.parse().ok()?;
    Some((v, p))
}

/// The hexadecimal mantissa from `p` (after `0x`) and its optional binary exponent.
fn hex_float(data: &[u8], mut p: usize) -> (f64, usize) {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut mantissa: u64 = 0;
    let mut scale: i64 = 0;
    let mut sticky = false;
    let mut seen_point = false;
    loop {
        let c = at(p);
        if c == b'.' && !seen_point {
            seen_point = true;
            p += 1;
            continue;
        }
        let Some(d) = hex_digit(c) else { break };
        if mantissa >> 56 == 0 {
            mantissa = mantissa << 4 | u64::from(d);
            if seen_point {
                scale -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_point {
                scale += 4;
            }
        }
        p += 1;
    }
    if (at(p) | 0x20) == b'p' {
        let mut q = p + 1;
        let neg = at(q) == b'-';
        if matches!(at(q), b'+' | b'-') {
            q += 1;
        }
        let ds = q;
        let mut e: i64 = 0;
        while at(q).is_ascii_digit() {
            e = (e * 10 + i64::from(at(q) - b'0')).min(100_000);
            q += 1;
        }
        if q > ds {
            scale += if neg { -e } else { e };
            p = q;
        }
    }
    if sticky {
        mantissa |= 1;
    }
    let mut v = mantissa as f64;
    // Scale by powers of two in steps that stay exact.
    while scale > 0 && v.is_finite() && v != 0.0 {
        let s = scale.min(1000);
        v *= 2f64.powi(s as i32);
        scale -= s;
    }
    while scale < 0 && v != 0.0 {
        let s = scale.max(-1000);
        v *= 2f64.powi(s as i32);
        scale -= s;
    }
    (v, p)
}

fn decode(lua: &Lua, shared: &Shared, args: MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let arg = args.into_iter().next().unwrap_or(Value::Nil);
    let (max_depth, invalid_numbers) = {
        let cfg = lock(shared);
        (cfg.decode_max_depth, cfg.decode_invalid_numbers)
    };
    let data = check_string(lua, 1, Some(&arg))?;
    drop(arg);
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(err("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut lx = Lexer {
        data: &data,
        ptr: 0,
        invalid_numbers,
        index: 0,
        string: Vec::new(),
        number: 0.0,
        boolean: false,
    };
    let tape = read_text(&mut lx, max_depth, tape::room(lua))?;
    drop(data);
    tape.run(lua)
}

/// The decode proper (`lua_json_decode`), as a [`Tape`] of at most `room` bytes.
fn read_text(lx: &mut Lexer, max_depth: i32, room: usize) -> mlua::Result<Tape> {
    /// An open container: an array's next index, or an object.
    enum Open {
        Array(i64),
        Object,
    }
    let expected = |lx: &Lexer, what: &str, tok: Tok| {
        err(format!(
            "Expected {what} but found {} at character {}",
            tok.name(),
            lx.index + 1
        ))
    };
    let mut tape = Tape::default();
    let mut open: Vec<Open> = Vec::new();
    // C stack slots lua-cjson would hold: the argument, each open table, each pending key.
    let mut used: i64 = 1;
    let mut tok = lx.next();
    loop {
        if tape.full(room) {
            return Err(mlua::Error::MemoryError("not enough memory".into()));
        }
        match tok {
            Tok::Str => tape.string(&lx.string),
            Tok::Num => tape.push(Step::Num(lx.number)),
            Tok::Bool => tape.push(Step::Bool(lx.boolean)),
            Tok::Null => tape.push(Step::Null),
            Tok::ObjBegin | Tok::ArrBegin => {
                let object = tok == Tok::ObjBegin;
                let depth = open.len() as i64 + 1;
                let slots = if object { 3 } else { 2 };
                if depth > i64::from(max_depth) || used + slots > MAX_C_STACK {
                    return Err(err(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        lx.ptr
                    )));
                }
                tape.push(Step::Table);
                tok = lx.next();
                if object && tok == Tok::ObjEnd || !object && tok == Tok::ArrEnd {
                    // An empty table: complete.
                } else if !object {
                    used += 1;
                    open.push(Open::Array(1));
                    continue;
                } else {
                    if tok != Tok::Str {
                        return Err(expected(lx, "object key string", tok));
                    }
                    tape.string(&lx.string);
                    tok = lx.next();
                    if tok != Tok::Colon {
                        return Err(expected(lx, "colon", tok));
                    }
                    tok = lx.next();
                    used += 2;
                    open.push(Open::Object);
                    continue;
                }
            }
            other => return Err(expected(lx, "value", other)),
        }
        // A value is complete: it goes into the innermost open container, which may close too.
        loop {
            match open.last_mut() {
                None => {
                    let tok = lx.next();
                    if tok != Tok::End {
                        return Err(expected(lx, "the end", tok));
                    }
                    return Ok(tape);
                }
                Some(Open::Array(next)) => {
                    tape.push(Step::SetIndex(*next));
                    *next += 1;
                    tok = lx.next();
                    if tok == Tok::ArrEnd {
                        used -= 1;
                        open.pop();
                        continue;
                    }
                    if tok != Tok::Comma {
                        return Err(expected(lx, "comma or array end", tok));
                    }
                    tok = lx.next();
                    break;
                }
                Some(Open::Object) => {
                    tape.push(Step::SetField);
                    tok = lx.next();
                    if tok == Tok::ObjEnd {
                        used -= 2;
                        open.pop();
                        continue;
                    }
                    if tok != Tok::Comma {
                        return Err(expected(lx, "comma or object end", tok));
                    }
                    tok = lx.next();
                    if tok != Tok::Str {
                        return Err(expected(lx, "object key string", tok));
                    }
                    tape.string(&lx.string);
                    tok = lx.next();
                    if tok != Tok::Colon {
                        return Err(expected(lx, "colon", tok));
                    }
                    tok = lx.next();
                    break;
                }
            }
        }
    }
}

// ===== The module table =====

/// A new `cjson` table with settings of its own (what `cjson.new()` answers too).
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let shared: Shared = Arc::new(Mutex::new(Settings::default()));
    let t = lua.create_table()?;
    let s = shared.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| encode(lua, &s, args))?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| decode(lua, &s, args))?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            let a = args_upto(lua, args, 3)?;
            let mut cfg = lock(&s);
            let convert = bool_option(lua, &a, 1, &mut cfg.sparse_convert)?;
            let ratio = integer_option(lua, &a, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(lua, &a, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
            Ok((convert, ratio, safe))
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "encode_max_depth",
        lua.create_function(move |lua, args: MultiValue| {
            let a = args_upto(lua, args, 1)?;
            integer_option(lua, &a, 1, &mut lock(&s).encode_max_depth, 1, i32::MAX)
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "decode_max_depth",
        lua.create_function(move |lua, args: MultiValue| {
            let a = args_upto(lua, args, 1)?;
            integer_option(lua, &a, 1, &mut lock(&s).decode_max_depth, 1, i32::MAX)
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "encode_number_precision",
        lua.create_function(move |lua, args: MultiValue| {
            let a = args_upto(lua, args, 1)?;
            integer_option(lua, &a, 1, &mut lock(&s).encode_number_precision, 1, 14)
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(move |lua, args: MultiValue| {
            let a = args_upto(lua, args, 1)?;
            let mut cfg = lock(&s);
            let r = bool_option(lua, &a, 1, &mut cfg.encode_keep_buffer)?;
            if !cfg.encode_keep_buffer {
                cfg.buffer = Vec::new();
            }
            Ok(r)
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            let a = args_upto(lua, args, 1)?;
            enum_option(
                lua,
                &a,
                1,
                &mut lock(&s).encode_invalid_numbers,
                &["off", "on", "null"],
            )
        })?,
    )?;
    let s = shared;
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            let a = args_upto(lua, args, 1)?;
            bool_option(lua, &a, 1, &mut lock(&s).decode_invalid_numbers)
        })?,
    )?;
    t.raw_set("new", lua.create_function(|lua, ()| create(lua))?)?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn strtod_takes_what_c_takes() {
        let cases: &[(&str, Option<(f64, usize)>)] = &[
            ("1", Some((1.0, 1))),
            ("-1.5e3,", Some((-1500.0, 6))),
            ("1e", Some((1.0, 1))),
            ("1e+", Some((1.0, 1))),
            ("1.", Some((1.0, 2))),
            (".5", Some((0.5, 2))),
            ("+7", Some((7.0, 2))),
            ("0x10", Some((16.0, 4))),
            ("0x", Some((0.0, 1))),
            ("0x1p4", Some((16.0, 5))),
            ("0x.8", Some((0.5, 4))),
            ("1e400", Some((f64::INFINITY, 5))),
            ("Infinity", Some((f64::INFINITY, 8))),
            ("-inf", Some((f64::NEG_INFINITY, 4))),
            ("-", None),
            (".", None),
            ("x", None),
        ];
        for (text, want) in cases {
            let got = strtod(text.as_bytes(), 0);
            assert_eq!(got, *want, "strtod({text:?})");
        }
        let (n, end) = strtod(b"nan(abc)x", 0).unwrap_or((0.0, 0));
        assert!(n.is_nan() && end == 8);
    }
}
