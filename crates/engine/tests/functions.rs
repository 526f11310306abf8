//! Integration tests for Redis 7 Functions (FUNCTION LOAD / LIST / DELETE / FLUSH / DUMP /
//! RESTORE / KILL / STATS, FCALL / FCALL_RO) through the `redis` crate, with the replies and error
//! texts of redis-server 7.0.15. Every test starts its own engine on an ephemeral loopback port.

use std::time::Duration;

use redis::Value as V;
use redis::aio::ConnectionLike;

mod common;
use common::reply::{b, e, q, run};

fn lib(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

const SET_FN: &str = "redis.register_function('set', function(keys, args) return redis.call('SET', keys[1], args[1]) end)";
const GET_FN: &str = "redis.register_function{function_name='get', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads'}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_list_delete_flush() {
    let (_server, addr) = common::start_default();
    let mut con = common::client(addr).await;
    let code = lib("mylib", &format!("{SET_FN}\n{GET_FN}"));
    assert_eq!(q(&mut con, &["FUNCTION", "LOAD", &code]).await, b("mylib"));
    assert_eq!(
        e(&mut con, &["FUNCTION", "LOAD", &code]).await,
        "ERR Library 'mylib' already exists"
    );
    assert_eq!(
        q(&mut con, &["FUNCTION", "LOAD", "REPLACE", &code]).await,
        b("mylib")
    );
    // Another library may not register a function name that is taken.
    assert_eq!(
        e(
            &mut con,
            &[
                "FUNCTION",
                "LOAD",
                &lib("other", "redis.register_function('get', function() end)")
            ]
        )
        .await,
        "ERR Function get already exists"
    );
    let other = lib(
        "other",
        "redis.register_function('hello', function() return 'hi' end)",
    );
    q(&mut con, &["FUNCTION", "LOAD", &other]).await;

    let mylib_entry = |with_code: bool| {
        let mut v = vec![
            b("library_name"),
            b("mylib"),
            b("engine"),
            b("LUA"),
            b("functions"),
            V::Array(vec![
                V::Array(vec![
                    b("name"),
                    b("get"),
                    b("description"),
                    b("reads"),
                    b("flags"),
                    V::Array(vec![b("no-writes")]),
                ]),
                V::Array(vec![
                    b("name"),
                    b("set"),
                    b("description"),
                    V::Nil,
                    b("flags"),
                    V::Array(vec![]),
                ]),
            ]),
        ];
        if with_code {
            v.extend([b("library_code"), b(&code)]);
        }
        V::Array(v)
    };
    assert_eq!(
        q(&mut con, &["FUNCTION", "LIST", "LIBRARYNAME", "my*"]).await,
        V::Array(vec![mylib_entry(false)])
    );
    assert_eq!(
        q(
            &mut con,
            &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "MYLIB"]
        )
        .await,
        V::Array(vec![mylib_entry(true)])
    );
    let V::Array(all) = q(&mut con, &["FUNCTION", "LIST"]).await else {
        panic!("FUNCTION LIST is an array");
    };
    assert_eq!(all.len(), 2);
    assert_eq!(
        e(&mut con, &["FUNCTION", "LIST", "LIBRARYNAME"]).await,
        "ERR library name argument was not given"
    );
    assert_eq!(
        e(&mut con, &["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]).await,
        "ERR Unknown argument WITHCODE"
    );
    assert_eq!(
        q(&mut con, &["FUNCTION", "STATS"]).await,
        V::Array(vec![
            b("running_script"),
            V::Nil,
            b("engines"),
            V::Array(vec![
                b("LUA"),
                V::Array(vec![
                    b("libraries_count"),
                    V::Int(2),
                    b("functions_count"),
                    V::Int(3),
                ]),
            ]),
        ])
    );

    let V::BulkString(info) = q(&mut con, &["INFO", "memory"]).await else {
        panic!("INFO is a bulk string");
    };
    assert!(
        String::from_utf8_lossy(&info).contains("\r\nnumber_of_functions:3\r\n"),
        "{}",
        String::from_utf8_lossy(&info)
    );

    // SCRIPT FLUSH leaves the libraries alone.
    q(&mut con, &["SCRIPT", "FLUSH"]).await;
    assert_eq!(q(&mut con, &["FCALL", "hello", "0"]).await, b("hi"));

    assert_eq!(q(&mut con, &["FUNCTION", "DELETE", "other"]).await, V::Okay);
    assert_eq!(
        e(&mut con, &["FUNCTION", "DELETE", "other"]).await,
        "ERR Library not found"
    );
    assert_eq!(
        e(&mut con, &["FCALL", "hello", "0"]).await,
        "ERR Function not found"
    );
    assert_eq!(
        e(&mut con, &["FUNCTION", "FLUSH", "ABC"]).await,
        "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
    );
    assert_eq!(q(&mut con, &["FUNCTION", "FLUSH", "SYNC"]).await, V::Okay);
    assert_eq!(q(&mut con, &["FUNCTION", "LIST"]).await, V::Array(vec![]));
    assert_eq!(
        e(&mut con, &["FCALL", "set", "1", "k", "v"]).await,
        "ERR Function not found"
    );
    // The name is free again after the flush.
    assert_eq!(q(&mut con, &["FUNCTION", "LOAD", &code]).await, b("mylib"));
    assert_eq!(
        e(&mut con, &["FUNCTION", "NOSUCH"]).await,
        "ERR unknown subcommand 'NOSUCH'. Try FUNCTION HELP."
    );
    assert_eq!(
        e(&mut con, &["FUNCTION", "DELETE"]).await,
        "ERR wrong number of arguments for 'function|delete' command"
    );
    let V::Array(help) = q(&mut con, &["FUNCTION", "HELP"]).await else {
        panic!("FUNCTION HELP is an array");
    };
    assert_eq!(help.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcall_keys_args_and_read_only() {
    let (_server, addr) = common::start_default();
    let mut con = common::client(addr).await;
    let body = format!(
        "{SET_FN}\n{GET_FN}\n\
         redis.register_function('echo', function(keys, args) return {{#keys, keys[1], args[1], args[2]}} end)\n\
         redis.register_function{{function_name='sneaky', callback=function(keys) return redis.call('SET', keys[1], 'x') end, flags={{'no-writes'}}}}\n\
         redis.register_function('boom', function() error('boom') end)\n\
         redis.register_function('globals', function() return KEYS end)"
    );
    q(&mut con, &["FUNCTION", "LOAD", &lib("mylib", &body)]).await;
    assert_eq!(
        q(&mut con, &["FCALL", "set", "1", "foo", "bar"]).await,
        V::Okay
    );
    assert_eq!(q(&mut con, &["FCALL", "get", "1", "foo"]).await, b("bar"));
    assert_eq!(
        q(&mut con, &["FCALL_RO", "get", "1", "foo"]).await,
        b("bar")
    );
    assert_eq!(
        q(&mut con, &["FCALL", "echo", "1", "k", "a1", "a2"]).await,
        V::Array(vec![V::Int(1), b("k"), b("a1"), b("a2")])
    );
    assert_eq!(
        e(&mut con, &["FCALL_RO", "set", "1", "foo", "baz"]).await,
        "ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(
        e(&mut con, &["FCALL", "sneaky", "1", "foo"]).await,
        "ERR Write commands are not allowed from read-only scripts. script: sneaky, on @user_function:5."
    );
    assert_eq!(q(&mut con, &["GET", "foo"]).await, b("bar"));
    assert_eq!(
        e(&mut con, &["FCALL", "boom", "0"]).await,
        "ERR user_function:6: boom script: boom, on @user_function:6."
    );
    assert_eq!(
        e(&mut con, &["FCALL", "globals", "0"]).await,
        "ERR user_function:7: Script attempted to access nonexistent global variable 'KEYS' script: globals, on @user_function:7."
    );
    assert_eq!(
        e(&mut con, &["FCALL", "set", "x"]).await,
        "ERR Bad number of keys provided"
    );
    assert_eq!(
        e(&mut con, &["FCALL", "set", "3", "a"]).await,
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        e(&mut con, &["FCALL", "set", "-1"]).await,
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        e(&mut con, &["FCALL", "nosuch", "0"]).await,
        "ERR Function not found"
    );
    // FCALL is refused inside scripts.
    assert_eq!(
        e(
            &mut con,
            &["EVAL", "return redis.call('FCALL', 'get', 1, 'foo')", "0"]
        )
        .await,
        format!(
            "ERR This Redis command is not allowed from script script: {}, on @user_script:1.",
            redis::Script::new("return redis.call('FCALL', 'get', 1, 'foo')").get_hash()
        )
    );
    // The FUNCTION subcommands carry Redis's ACL categories.
    q(
        &mut con,
        &["ACL", "SETUSER", "ro", "on", "nopass", "+@all", "-@write"],
    )
    .await;
    let mut ro = common::client(addr).await;
    q(&mut ro, &["AUTH", "ro", "x"]).await;
    assert_eq!(
        e(&mut ro, &["FUNCTION", "LOAD", &lib("x", SET_FN)]).await,
        "NOPERM this user has no permissions to run the 'function|load' command"
    );
    let V::Array(libs) = q(&mut ro, &["FUNCTION", "LIST"]).await else {
        panic!("FUNCTION LIST is an array");
    };
    assert_eq!(libs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_errors_like_redis_7() {
    let (_server, addr) = common::start_default();
    let mut con = common::client(addr).await;
    let cases: &[(&str, &str)] = &[
        (
            "redis.register_function('g', function() end)",
            "ERR Missing library metadata",
        ),
        (
            "#!lua\nredis.register_function('g', function() end)",
            "ERR Library name was not given",
        ),
        (
            "#!lua name=a foo=bar\n",
            "ERR Invalid metadata value given: foo=bar",
        ),
        ("#!luax name=a\n", "ERR Engine 'luax' not found"),
        (
            "#!lua name=a name=b\n",
            "ERR Invalid metadata value, name argument was given multiple times",
        ),
        (
            "#!lua name=a-b\n",
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ),
        (
            "#!lua name=a\nx",
            "ERR Error compiling function: user_function:2: '=' expected near '<eof>'",
        ),
        ("#!lua name=a\nlocal x = 1", "ERR No functions registered"),
        (
            "#!lua name=a\nredis.register_function('a', 'x')",
            "ERR Error registering functions: ERR second argument to redis.register_function must be a function",
        ),
        (
            "#!lua name=a\nredis.register_function('a')",
            "ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
        ),
        (
            "#!lua name=a\nredis.register_function()",
            "ERR Error registering functions: ERR wrong number of arguments to redis.register_function",
        ),
        (
            "#!lua name=a\nredis.register_function{function_name='a', callback=function() end, flags={'bad'}}",
            "ERR Error registering functions: ERR unknown flag given",
        ),
        (
            "#!lua name=a\nredis.register_function{function_name='a', callback=function() end, flags='no-writes'}",
            "ERR Error registering functions: ERR flags argument to redis.register_function must be a table representing function flags",
        ),
        (
            "#!lua name=a\nredis.register_function{function_name='a', callback=function() end, foo=1}",
            "ERR Error registering functions: ERR unknown argument given to redis.register_function",
        ),
        (
            "#!lua name=a\nredis.register_function{callback=function() end}",
            "ERR Error registering functions: ERR redis.register_function must get a function name argument",
        ),
        (
            "#!lua name=a\nredis.register_function{function_name='a'}",
            "ERR Error registering functions: ERR redis.register_function must get a callback argument",
        ),
        (
            "#!lua name=a\nredis.register_function('a', function() end) redis.register_function('a', function() end)",
            "ERR Error registering functions: ERR Function already exists in the library",
        ),
        (
            "#!lua name=a\nredis.register_function('a-b', function() end)",
            "ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ),
        // At load time only redis.register_function, redis.log and the constants exist.
        (
            "#!lua name=a\nlocal s = string.len('x')",
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'",
        ),
        (
            "#!lua name=a\nredis.call('ping')",
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'",
        ),
        (
            "#!lua name=a\nx = 1",
            "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table",
        ),
        (
            "#!lua name=a\nwhile true do end",
            "ERR Error registering functions: ERR FUNCTION LOAD timeout",
        ),
    ];
    for (code, want) in cases {
        assert_eq!(
            &e(&mut con, &["FUNCTION", "LOAD", code]).await,
            want,
            "{code}"
        );
    }
    assert_eq!(
        e(&mut con, &["FUNCTION", "LOAD", "foo", "#!lua name=a\n"]).await,
        "ERR Unknown option given: foo"
    );
    // Nothing was kept by the failures; a library using the load-time API loads.
    assert_eq!(q(&mut con, &["FUNCTION", "LIST"]).await, V::Array(vec![]));
    let ok = "#!lua name=ok\nredis.log(redis.LOG_NOTICE, 'loading') redis.register_function{function_name='v', callback=function() return redis.REDIS_VERSION end, description=1, flags={'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}";
    assert_eq!(q(&mut con, &["FUNCTION", "LOAD", ok]).await, b("ok"));
    assert!(matches!(
        q(&mut con, &["FCALL_RO", "v", "0"]).await,
        V::BulkString(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_and_restore() {
    let (_server, addr) = common::start_default();
    let mut con = common::client(addr).await;
    q(&mut con, &["FUNCTION", "LOAD", &lib("alib", SET_FN)]).await;
    q(&mut con, &["FUNCTION", "LOAD", &lib("blib", GET_FN)]).await;
    let V::BulkString(payload) = q(&mut con, &["FUNCTION", "DUMP"]).await else {
        panic!("FUNCTION DUMP is a bulk string");
    };
    let restore = |policy: Option<&str>| {
        let mut c = redis::cmd("FUNCTION");
        c.arg("RESTORE").arg(payload.as_slice());
        if let Some(p) = policy {
            c.arg(p);
        }
        c
    };
    let err = |v: redis::RedisResult<V>| match v {
        Ok(V::ServerError(e)) => format!("{} {}", e.code(), e.details().unwrap_or("")),
        other => format!("{other:?}"),
    };
    assert_eq!(
        err(con.req_packed_command(&restore(None)).await),
        "ERR Library alib already exists"
    );
    assert_eq!(
        err(con.req_packed_command(&restore(Some("bogus"))).await),
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    );
    q(&mut con, &["FUNCTION", "DELETE", "alib"]).await;
    q(
        &mut con,
        &[
            "FUNCTION",
            "LOAD",
            &lib(
                "clib",
                "redis.register_function('set', function() return 1 end)",
            ),
        ],
    )
    .await;
    // REPLACE replaces same-named libraries but not another library's function.
    assert_eq!(
        err(con.req_packed_command(&restore(Some("REPLACE"))).await),
        "ERR Function set already exists"
    );
    assert_eq!(
        con.req_packed_command(&restore(Some("FLUSH"))).await.ok(),
        Some(V::Okay)
    );
    let V::Array(libs) = q(&mut con, &["FUNCTION", "LIST"]).await else {
        panic!("FUNCTION LIST is an array");
    };
    assert_eq!(libs.len(), 2);
    assert_eq!(q(&mut con, &["FCALL", "set", "1", "k", "v"]).await, V::Okay);
    assert_eq!(q(&mut con, &["FCALL", "get", "1", "k"]).await, b("v"));
    assert_eq!(
        con.req_packed_command(&restore(Some("REPLACE"))).await.ok(),
        Some(V::Okay)
    );
    // A damaged payload is refused.
    let mut bad = payload.clone();
    if let Some(last) = bad.last_mut() {
        *last ^= 1;
    }
    let mut c = redis::cmd("FUNCTION");
    c.arg("RESTORE").arg(bad);
    assert_eq!(
        err(con.req_packed_command(&c).await),
        "ERR DUMP payload version or checksum are wrong"
    );
    let V::BulkString(key_dump) = q(&mut con, &["DUMP", "k"]).await else {
        panic!("DUMP is a bulk string");
    };
    let mut c = redis::cmd("FUNCTION");
    c.arg("RESTORE").arg(key_dump);
    assert_eq!(
        err(con.req_packed_command(&c).await),
        "ERR given type is not a function"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_function_kill_and_stats() {
    let (_server, addr) = common::start_default();
    let mut admin = common::client(addr).await;
    q(
        &mut admin,
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    )
    .await;
    let code = lib(
        "busy",
        "redis.register_function('spin', function() local i = 0 while true do i = i + 1 end end)",
    );
    q(&mut admin, &["FUNCTION", "LOAD", &code]).await;
    let mut runner = common::client(addr).await;
    let spin = tokio::spawn(async move { run(&mut runner, &["FCALL", "spin", "0"]).await });
    common::wait_script_running(&mut admin).await;
    let mut other = common::client(addr).await;
    let busy =
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
    assert_eq!(e(&mut other, &["GET", "x"]).await, busy);
    assert_eq!(e(&mut admin, &["SCRIPT", "KILL"]).await, busy);
    let V::Array(stats) = q(&mut admin, &["FUNCTION", "STATS"]).await else {
        panic!("FUNCTION STATS is an array");
    };
    let V::Array(running) = &stats[1] else {
        panic!("a running script: {stats:?}");
    };
    assert_eq!(
        &running[..4],
        &[
            b("name"),
            b("spin"),
            b("command"),
            V::Array(vec![b("FCALL"), b("spin"), b("0")])
        ]
    );
    assert_eq!(q(&mut admin, &["FUNCTION", "KILL"]).await, V::Okay);
    let killed = tokio::time::timeout(Duration::from_secs(10), spin)
        .await
        .expect("function ends")
        .expect("task");
    assert_eq!(
        killed,
        Err(
            "ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
                .to_string()
        )
    );
    assert_eq!(
        e(&mut admin, &["FUNCTION", "KILL"]).await,
        "NOTBUSY No scripts in execution right now."
    );

    // FUNCTION KILL does not stop an EVAL script (and FUNCTION STATS is BUSY meanwhile).
    let mut runner = common::client(addr).await;
    let spin =
        tokio::spawn(async move { run(&mut runner, &["EVAL", "while true do end", "0"]).await });
    common::wait_script_running(&mut admin).await;
    let busy =
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    assert_eq!(e(&mut admin, &["FUNCTION", "KILL"]).await, busy);
    assert_eq!(e(&mut admin, &["FUNCTION", "STATS"]).await, busy);
    assert_eq!(q(&mut admin, &["SCRIPT", "KILL"]).await, V::Okay);
    let killed = tokio::time::timeout(Duration::from_secs(10), spin)
        .await
        .expect("script ends")
        .expect("task");
    assert!(killed.is_err_and(|e| e.starts_with("ERR Script killed")));
    assert_eq!(
        e(&mut other, &["FCALL_RO", "spin", "0"]).await,
        "ERR Can not execute a script with write flag using *_ro command."
    );
}

/// Redis 7.0 details (functions.tcl): function names match without regard to case (FCALL and
/// the "already exists" check; library names do not), the shebang is split like `sdssplitargs`,
/// and over `maxmemory` FCALL of a function without `no-writes`/`allow-oom` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_shebang_and_oom_like_redis_7_0() {
    let (_server, addr) = common::start("127.0.41.4", &[]);
    let mut con = common::client(addr).await;
    let code = lib(
        "test",
        "redis.register_function('test', function() return 'hello1' end)",
    );
    assert_eq!(q(&mut con, &["FUNCTION", "LOAD", &code]).await, b("test"));
    assert_eq!(q(&mut con, &["FCALL", "TEST", "0"]).await, b("hello1"));
    assert_eq!(
        e(&mut con, &["FCALL_RO", "Test", "0"]).await,
        "ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(
        e(
            &mut con,
            &[
                "FUNCTION",
                "LOAD",
                &lib(
                    "other",
                    "redis.register_function('TEST', function() return 2 end)"
                )
            ]
        )
        .await,
        "ERR Function TEST already exists"
    );
    // Library names are case-sensitive.
    assert_eq!(
        q(
            &mut con,
            &[
                "FUNCTION",
                "LOAD",
                &lib(
                    "TEST",
                    "redis.register_function('t2', function() return 2 end)"
                )
            ]
        )
        .await,
        b("TEST")
    );
    assert_eq!(q(&mut con, &["FUNCTION", "DELETE", "test"]).await, V::Okay);
    assert_eq!(
        e(&mut con, &["FCALL", "TEST", "0"]).await,
        "ERR Function not found"
    );
    // The shebang as sdssplitargs reads it.
    let cases: &[(&str, &str)] = &[
        (
            "#! name=test\nredis.register_function('foo', function() return 1 end)",
            "ERR Engine '' not found",
        ),
        ("#!lua name=a", "ERR Invalid library metadata"),
        ("#!lua name=\"a\n", "ERR Invalid library metadata"),
        (
            "#!lua name=\nredis.register_function('foo', function() return 1 end)",
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ),
        (
            "#!nolua name=a-b\n",
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ),
    ];
    for (code, want) in cases {
        assert_eq!(
            &e(&mut con, &["FUNCTION", "LOAD", code]).await,
            want,
            "{code}"
        );
    }
    assert_eq!(
        q(
            &mut con,
            &[
                "FUNCTION",
                "LOAD",
                "REPLACE",
                "#!lua NAME=\"foo\"\nredis.register_function('foo', function() return 1 end)"
            ]
        )
        .await,
        b("foo")
    );
    assert_eq!(
        q(
            &mut con,
            &[
                "FUNCTION",
                "LOAD",
                "#!LUA name='q'\nredis.register_function('q', function() return 1 end)"
            ]
        )
        .await,
        b("q")
    );
    // Over maxmemory.
    let oom_lib = "#!lua name=oom\n\
        redis.register_function('w', function() return redis.call('set', 'x', '1') end)\n\
        redis.register_function{function_name='r', callback=function() return 'hello' end, flags={'no-writes'}}\n\
        redis.register_function{function_name='a', callback=function() return redis.call('set', 'x', '2') end, flags={'allow-oom'}}";
    assert_eq!(q(&mut con, &["FUNCTION", "LOAD", oom_lib]).await, b("oom"));
    q(&mut con, &["CONFIG", "SET", "maxmemory", "1"]).await;
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    assert_eq!(e(&mut con, &["FCALL", "w", "1", "k"]).await, oom);
    assert_eq!(q(&mut con, &["FCALL", "r", "1", "k"]).await, b("hello"));
    assert_eq!(q(&mut con, &["FCALL_RO", "r", "1", "k"]).await, b("hello"));
    assert_eq!(q(&mut con, &["FCALL", "a", "1", "x"]).await, V::Okay);
    q(&mut con, &["CONFIG", "SET", "maxmemory", "0"]).await;
    assert_eq!(q(&mut con, &["FCALL", "w", "1", "x"]).await, V::Okay);
}
