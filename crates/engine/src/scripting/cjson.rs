//! The `cjson` library Redis bundles: `cjson.encode`, `cjson.decode` and `cjson.null`, on top of
//! serde_json, with lua-cjson's conventions (arrays are tables with keys 1..n, an empty table encodes
//! as `{}`, JSON null decodes to the `cjson.null` light userdata, integral numbers print without a
//! fraction).

use mlua::{LightUserData, Lua, Table, Value};
use serde_json::Value as J;

const MAX_DEPTH: usize = 1000;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn number(n: f64) -> mlua::Result<J> {
    if !n.is_finite() {
        return Err(mlua::Error::RuntimeError(
            "Cannot serialise number: must not be NaN or Inf".into(),
        ));
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        Ok(J::from(n as i64))
    } else {
        Ok(serde_json::Number::from_f64(n)
            .map(J::Number)
            .unwrap_or(J::Null))
    }
}

fn to_json(v: &Value, depth: usize) -> mlua::Result<J> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::RuntimeError(
            "Cannot serialise, excessive nesting (1001)".into(),
        ));
    }
    Ok(match v {
        Value::Nil => J::Null,
        Value::LightUserData(p) if p.0.is_null() => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => J::from(*i),
        Value::Number(n) => number(*n)?,
        Value::String(s) => J::String(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        Value::Table(t) => table_to_json(t, depth)?,
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )));
        }
    })
}

fn table_to_json(t: &Table, depth: usize) -> mlua::Result<J> {
    let mut pairs = Vec::new();
    let mut max = 0i64;
    let mut array = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        match &k {
            Value::Integer(i) if *i >= 1 => max = max.max(*i),
            Value::Number(n) if *n >= 1.0 && n.fract() == 0.0 => max = max.max(*n as i64),
            _ => array = false,
        }
        pairs.push((k, v));
    }
    if array && !pairs.is_empty() {
        // lua-cjson's encode_sparse_array defaults: ratio 2, safe 10.
        if max > 10 && max as usize > 2 * pairs.len() {
            return Err(mlua::Error::RuntimeError(
                "Cannot serialise table: excessively sparse array".into(),
            ));
        }
        let mut items = vec![J::Null; max as usize];
        for (k, v) in &pairs {
            let idx = match k {
                Value::Integer(i) => *i as usize,
                Value::Number(n) => *n as usize,
                _ => continue,
            };
            items[idx - 1] = to_json(v, depth + 1)?;
        }
        return Ok(J::Array(items));
    }
    let mut map = serde_json::Map::new();
    for (k, v) in &pairs {
        let key = match k {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => match number(*n)? {
                J::Number(n) => n.to_string(),
                _ => continue,
            },
            _ => {
                return Err(mlua::Error::RuntimeError(
                    "Cannot serialise table: table key must be a number or string".into(),
                ));
            }
        };
        map.insert(key, to_json(v, depth + 1)?);
    }
    Ok(J::Object(map))
}

fn from_json(lua: &Lua, j: &J) -> mlua::Result<Value> {
    Ok(match j {
        J::Null => null(),
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, from_json(lua, item)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table()?;
            for (k, v) in map {
                t.raw_set(k.as_str(), from_json(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}

/// The `cjson` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|_, v: Value| {
            let j = to_json(&v, 0)?;
            // lua-cjson escapes '/' too.
            Ok(j.to_string().replace('/', "\\/"))
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::String| {
            let j: J = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::RuntimeError(format!(
                    "Expected value but found invalid token at character {}",
                    e.column()
                ))
            })?;
            from_json(lua, &j)
        })?,
    )?;
    t.raw_set("null", null())?;
    Ok(t)
}
