//! Commands as string slices and their replies as `redis::Value`, for the per-family tests that
//! check exact replies and error texts through the redis crate.

use redis::Value as V;
use redis::aio::{ConnectionLike, MultiplexedConnection};

/// A command from its words.
pub fn command(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// Run a command and return its raw reply (errors as `Err("CODE detail")`).
pub async fn run(con: &mut MultiplexedConnection, args: &[&str]) -> Result<V, String> {
    match con.req_packed_command(&command(args)).await {
        Ok(V::ServerError(e)) => Err(format!("{} {}", e.code(), e.details().unwrap_or(""))),
        Ok(v) => Ok(v),
        Err(e) => Err(format!(
            "{} {}",
            e.code().unwrap_or("?"),
            e.detail().unwrap_or("")
        )),
    }
}

/// The reply of a command that must succeed.
pub async fn q(con: &mut MultiplexedConnection, args: &[&str]) -> V {
    match run(con, args).await {
        Ok(v) => v,
        Err(e) => panic!("{args:?} failed: {e}"),
    }
}

/// The error text of a command that must fail.
pub async fn e(con: &mut MultiplexedConnection, args: &[&str]) -> String {
    match run(con, args).await {
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
        Err(e) => e,
    }
}

/// A bulk string reply.
pub fn b(s: &str) -> V {
    V::BulkString(s.as_bytes().to_vec())
}

/// An integer reply.
pub fn i(n: i64) -> V {
    V::Int(n)
}
