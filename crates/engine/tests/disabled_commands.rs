//! Disabled commands (a world cache's Azure list, like redis.conf's `rename-command NAME ""`) are gone
//! everywhere redis-server drops a renamed command: the dispatcher and every COMMAND subcommand.

mod common;

use redis::Value;

#[tokio::test]
async fn disabled_commands_vanish_from_command_introspection() {
    let (server, addr) = common::start("127.0.78.1", &[]);
    let mut c = common::client(addr).await;
    let before: i64 = redis::cmd("COMMAND")
        .arg("COUNT")
        .query_async(&mut c)
        .await
        .expect("reply");
    // The whole table (COMMAND, COMMAND INFO, COMMAND DOCS: written once per disabled set and
    // protocol, then copied) follows the set both ways.
    async fn whole(c: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> usize {
        match redis::cmd("COMMAND")
            .arg(args)
            .query_async::<Value>(c)
            .await
            .expect("reply")
        {
            Value::Array(a) if args == ["DOCS"] => a.len() / 2,
            Value::Array(a) => a.len(),
            Value::Map(m) => m.len(),
            other => panic!("COMMAND {args:?}: {other:?}"),
        }
    }
    let shapes: [&[&str]; 3] = [&[], &["INFO"], &["DOCS"]];
    for args in shapes {
        assert_eq!(whole(&mut c, args).await as i64, before, "COMMAND {args:?}");
    }
    server.engine().disabled.set(&["shutdown", "config"]);
    let after: i64 = redis::cmd("COMMAND")
        .arg("COUNT")
        .query_async(&mut c)
        .await
        .expect("reply");
    assert_eq!(after, before - 2);
    for args in shapes {
        assert_eq!(whole(&mut c, args).await as i64, after, "COMMAND {args:?}");
    }

    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("shutdown")
        .arg("get")
        .query_async(&mut c)
        .await
        .expect("reply");
    assert_eq!(
        info[0],
        Value::Nil,
        "a disabled command has no COMMAND INFO"
    );
    assert_ne!(info[1], Value::Nil);

    let list: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .query_async(&mut c)
        .await
        .expect("reply");
    assert!(
        !list
            .iter()
            .any(|n| n == "config" || n.starts_with("config|"))
    );
    assert!(list.iter().any(|n| n == "get"));

    let docs: redis::Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("config")
        .query_async(&mut c)
        .await
        .expect("reply");
    assert!(
        matches!(&docs, Value::Map(m) if m.is_empty())
            || matches!(&docs, Value::Array(a) if a.is_empty()),
        "{docs:?}"
    );

    let err = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("config")
        .arg("get")
        .arg("x")
        .query_async::<Value>(&mut c)
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("Invalid command specified"),
        "{err}"
    );
    let err = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query_async::<Value>(&mut c)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("unknown command"), "{err}");
}
