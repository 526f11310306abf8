//! The `bit` library Redis bundles (LuaBitOp): 32-bit operations on Lua numbers, as rate limiters
//! and hashing scripts use them.

use mlua::{Lua, MultiValue, Table, Value};

use super::libargs::check_number;

/// LuaBitOp's number → int32 conversion: round to nearest (ties to even), wrap modulo 2^32.
fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    let r = x.round_ties_even().rem_euclid(4_294_967_296.0);
    (r as u64 as u32) as i32
}

/// LuaBitOp's `barg`: argument `i` (1-based) through `luaL_checknumber` and [`tobit`].
fn barg(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<i32> {
    Ok(tobit(check_number(lua, i as i32, args.get(i - 1))?))
}

/// `band`/`bor`/`bxor`: the first argument, then the others from the last down (LuaBitOp's order,
/// which decides which bad argument is reported).
fn fold(lua: &Lua, args: MultiValue, op: fn(i32, i32) -> i32) -> mlua::Result<f64> {
    let args: Vec<Value> = args.into_iter().collect();
    let mut b = barg(lua, &args, 1)?;
    for i in (2..=args.len()).rev() {
        b = op(b, barg(lua, &args, i)?);
    }
    Ok(f64::from(b))
}

/// A function of one argument.
fn unary(lua: &Lua, f: fn(i32) -> i32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        Ok(f64::from(f(barg(lua, &args, 1)?)))
    })
}

/// A shift or rotation: the value, then the count (its low 5 bits).
fn shift(lua: &Lua, f: fn(u32, u32) -> u32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        let b = barg(lua, &args, 1)? as u32;
        let n = (barg(lua, &args, 2)? & 31) as u32;
        Ok(f64::from(f(b, n) as i32))
    })
}

/// The `bit` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", unary(lua, |x| x)?)?;
    t.raw_set("bnot", unary(lua, |x| !x)?)?;
    t.raw_set("bswap", unary(lua, i32::swap_bytes)?)?;
    t.raw_set(
        "band",
        lua.create_function(|lua, a: MultiValue| fold(lua, a, |x, y| x & y))?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|lua, a: MultiValue| fold(lua, a, |x, y| x | y))?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|lua, a: MultiValue| fold(lua, a, |x, y| x ^ y))?,
    )?;
    t.raw_set("lshift", shift(lua, |b, n| b << n)?)?;
    t.raw_set("rshift", shift(lua, |b, n| b >> n)?)?;
    t.raw_set("arshift", shift(lua, |b, n| ((b as i32) >> n) as u32)?)?;
    t.raw_set("rol", shift(lua, u32::rotate_left)?)?;
    t.raw_set("ror", shift(lua, u32::rotate_right)?)?;
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let mut b = barg(lua, &args, 1)? as u32;
            // `lua_isnone(L, 2) ? 8 : barg(L, 2)`: an explicit nil is a bad argument.
            let mut n = if args.len() < 2 {
                8
            } else {
                barg(lua, &args, 2)?
            };
            if n == i32::MIN {
                n = i32::MIN + 1;
            }
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = usize::try_from(n.min(8)).unwrap_or(0);
            let digits: &[u8; 16] = if upper {
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            let mut out = vec![0u8; n];
            for c in out.iter_mut().rev() {
                *c = digits[(b & 15) as usize];
                b >>= 4;
            }
            lua.create_string(&out)
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps_like_luabitop() {
        assert_eq!(tobit(0xffff_ffffu32 as f64), -1);
        assert_eq!(tobit(4_294_967_296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
    }
}
