//! What the C libraries Redis bundles with its Lua (`cjson`, `cmsgpack`, `struct`, `bit`,
//! `math.random`) do with their arguments, in one place: Lua's auxiliary library checks
//! (`luaL_checknumber`, `luaL_checklstring`, `luaL_argerror` with the function's name as the caller
//! spelled it), the C stack limit those libraries run into, and the result-count rule the Rust
//! versions need to behave like them.

use std::ffi::c_int;

use mlua::{Lua, Value, ffi};

use super::printf_g;

/// Lua 5.1's `LUAI_MAXCSTACK`: the most values a C function may hold on its stack; the libraries'
/// `lua_checkstack` calls fail beyond it.
pub(super) const MAX_C_STACK: i64 = 8000;

fn err(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

/// `lua_typename` of a value's type.
pub(super) fn typename(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `luaL_argerror`: the called function's name as its caller spelled it (`?` when unknown), a
/// method call counting `self` out.
pub(super) fn arg_error(lua: &Lua, mut narg: i32, msg: &str) -> mlua::Error {
    let (name, what) = lua
        .inspect_stack(0, |d| {
            let n = d.names();
            (n.name.map(|s| s.into_owned()), n.name_what)
        })
        .unwrap_or((None, None));
    let name = name.unwrap_or_else(|| "?".to_string());
    if what == Some("method") {
        narg -= 1;
        if narg == 0 {
            return err(format!("calling '{name}' on bad self ({msg})"));
        }
    }
    err(format!("bad argument #{narg} to '{name}' ({msg})"))
}

/// `luaL_typerror`.
pub(super) fn type_error(lua: &Lua, narg: i32, expected: &str, got: &Value) -> mlua::Error {
    arg_error(
        lua,
        narg,
        &format!("{expected} expected, got {}", typename(got)),
    )
}

/// `luaL_checknumber` of argument `narg` (`None`: absent, "no value"): a number, or a string Lua
/// converts to one.
pub(super) fn check_number(lua: &Lua, narg: i32, v: Option<&Value>) -> mlua::Result<f64> {
    match v {
        None => Err(arg_error(lua, narg, "number expected, got no value")),
        Some(v) => match lua.coerce_number(v.clone())? {
            Some(n) => Ok(n),
            None => Err(type_error(lua, narg, "number", v)),
        },
    }
}

/// `luaL_checklstring` of argument `narg` (`None`: absent): a string, or a number converted as
/// Lua converts it (`%.14g`).
pub(super) fn check_string(lua: &Lua, narg: i32, v: Option<&Value>) -> mlua::Result<Vec<u8>> {
    match v {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => Ok(printf_g(*i as f64, 14).into_bytes()),
        Some(Value::Number(n)) => Ok(printf_g(*n, 14).into_bytes()),
        Some(other) => Err(type_error(lua, narg, "string", other)),
        None => Err(arg_error(lua, narg, "string expected, got no value")),
    }
}

/// Whether `n` results fit on the running callback's frame. mlua returns them through it, and it
/// holds a value or two more than the C library's frame did: the caller answers the C library's
/// stack-overflow text where they do not fit (one result earlier than redis-server, at ~8,000).
pub(super) fn results_fit(lua: &Lua, n: usize) -> bool {
    let frame = lua.exec_raw_lua(|raw| {
        // SAFETY: only reads the size of the running function's stack frame.
        unsafe { i64::from(mlua::ffi::lua_gettop(raw.state())) }
    });
    frame + (n as i64) < MAX_C_STACK
}

/// The bytes of the string at `idx`.
///
/// # Safety
/// `state` is a live Lua state and the value at `idx` a string (so nothing is converted or
/// allocated); the slice lives as long as the value stays on the stack.
pub(super) unsafe fn bytes_at<'s>(state: *mut ffi::lua_State, idx: c_int) -> &'s [u8] {
    let mut len = 0usize;
    // SAFETY: per the caller; Lua strings are immutable and pinned while referenced.
    unsafe {
        let p = ffi::lua_tolstring(state, idx, &mut len);
        if p.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    }
}
