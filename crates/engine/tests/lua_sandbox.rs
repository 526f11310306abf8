//! The Lua sandbox (issue 15, item 2): a script cannot change what another script runs. The
//! globals, the library tables and the string metatable are read-only, globals do not leak from
//! one script to the next, bytecode is refused, and the same holds for FUNCTION libraries. Texts are
//! redis-server 7.0.15's (as shipped by Debian, whose build also protects the string metatable).

mod common;

use common::reply::{b, e, q, run};
use redis::Value as V;
use redis::aio::MultiplexedConnection;

/// Redis's error suffix for a script: `script: <sha>, on @user_script:<line>.`
async fn sha(con: &mut MultiplexedConnection, body: &str) -> String {
    match q(con, &["SCRIPT", "LOAD", body]).await {
        V::BulkString(s) => String::from_utf8(s).expect("sha"),
        other => panic!("SCRIPT LOAD: {other:?}"),
    }
}

/// The error of `EVAL body 0`, and the suffix Redis puts after it.
async fn eval_err(con: &mut MultiplexedConnection, body: &str) -> (String, String) {
    let sha = sha(con, body).await;
    let err = e(con, &["EVAL", body, "0"]).await;
    (err, format!("script: {sha}, on @user_script:1."))
}

async fn user(addr: std::net::SocketAddr, name: &str, pass: &str) -> MultiplexedConnection {
    redis::Client::open(format!("redis://{name}:{pass}@{addr}/"))
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

/// The attack from the issue: a user allowed only `low:*` replaces `string.upper` through the
/// string metatable so that the next caller's script writes `admin:k` with the caller's rights.
#[tokio::test]
async fn string_metatable_attack_is_refused() {
    let (_server, addr) = common::start("127.0.15.2", &[]);
    let mut admin = common::client(addr).await;
    q(
        &mut admin,
        &["ACL", "SETUSER", "low", "on", ">lowpw", "~low:*", "+@all"],
    )
    .await;
    let mut low = user(addr, "low", "lowpw").await;
    let evil = "function(s) pcall(redis.call, 'SET', 'admin:k', 'pwned') return 'PWNED' end";
    let attacks = [
        format!("local m = getmetatable('') m.__index.upper = {evil} return 1"),
        format!("getmetatable('').__index = {{upper = {evil}}} return 1"),
        format!("string.upper = {evil} return 1"),
    ];
    for body in &attacks {
        let (err, suffix) = eval_err(&mut low, body).await;
        assert_eq!(
            err,
            format!("ERR user_script:1: Attempt to modify a readonly table {suffix}"),
            "{body}"
        );
    }
    // The raw writers are refused too (raised like C functions: no position, like Redis).
    for body in [
        format!("rawset(getmetatable('').__index, 'upper', {evil}) return 1"),
        format!("rawset(getmetatable(''), '__index', {{upper = {evil}}}) return 1"),
        format!("rawset(string, 'upper', {evil}) return 1"),
        "setmetatable(string, {__index = function() return nil end}) return 1".to_string(),
        format!("table.insert(string, {evil}) return 1"),
    ] {
        let (err, suffix) = eval_err(&mut low, &body).await;
        assert_eq!(
            err,
            format!("ERR Attempt to modify a readonly table {suffix}"),
            "{body}"
        );
    }
    // The admin's scripts still run the real string library, and nothing was written.
    assert_eq!(
        q(
            &mut admin,
            &[
                "EVAL",
                "return string.upper('a') .. ('b'):upper() .. string.format('%s', 'c')",
                "0"
            ]
        )
        .await,
        b("ABc")
    );
    assert_eq!(q(&mut admin, &["EXISTS", "admin:k"]).await, V::Int(0));
    // Reads through the read-only tables look like Redis's.
    assert_eq!(
        q(
            &mut low,
            &[
                "EVAL",
                "local m = getmetatable('') return {tostring(rawget(m, '__index') == string), \
                 tostring(rawget(string, 'upper') == string.upper), tostring(getmetatable(string))}",
                "0"
            ]
        )
        .await,
        V::Array(vec![b("true"), b("true"), b("nil")])
    );
    let V::Array(names) = q(
        &mut low,
        &[
            "EVAL",
            "local t = {} for k in pairs(string) do t[#t + 1] = k end table.sort(t) return t",
            "0",
        ],
    )
    .await
    else {
        panic!("pairs(string)");
    };
    assert!(
        names.contains(&b("upper")) && names.contains(&b("rep")),
        "{names:?}"
    );
}

#[tokio::test]
async fn globals_do_not_leak_between_scripts() {
    let (_server, addr) = common::start("127.0.15.3", &[]);
    let mut c = common::client(addr).await;
    let (err, suffix) = eval_err(&mut c, "rawset(_G, 'leak', 1) return 1").await;
    assert_eq!(
        err,
        format!("ERR Attempt to modify a readonly table {suffix}")
    );
    let (err, suffix) = eval_err(&mut c, "_G.leak = 1").await;
    assert_eq!(
        err,
        format!("ERR user_script:1: Attempt to modify a readonly table {suffix}")
    );
    let (err, suffix) = eval_err(&mut c, "setmetatable(_G, nil)").await;
    assert_eq!(
        err,
        format!("ERR Attempt to modify a readonly table {suffix}")
    );
    // loadstring'd code runs in the script's (read-only) environment, not in the real globals.
    let body = "return loadstring('leak = 1')()";
    let sha = sha(&mut c, body).await;
    assert_eq!(
        e(&mut c, &["EVAL", body, "0"]).await,
        format!(
            "ERR [string \"leak = 1\"]:1: Attempt to modify a readonly table script: {sha}, on leak = 1:1."
        )
    );
    let (err, _) = eval_err(&mut c, "loadstring('redis = nil')() return 1").await;
    assert!(err.contains("Attempt to modify a readonly table"), "{err}");
    let (err, _) = eval_err(
        &mut c,
        "local i = 0 local f = load(function() i = i + 1 if i == 1 then return 'leak = 1' end end) \
         f() return 1",
    )
    .await;
    assert!(err.contains("Attempt to modify a readonly table"), "{err}");
    // Nothing leaked: the next script sees no `leak` and the real `redis`.
    let (err, suffix) = eval_err(&mut c, "return leak").await;
    assert_eq!(
        err,
        format!(
            "ERR user_script:1: Script attempted to access nonexistent global variable 'leak' {suffix}"
        )
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "return {type(redis.call), tostring(loadstring('return _G')() == _G), \
                 tostring(rawget(_G, '_G') == _G)}",
                "0"
            ]
        )
        .await,
        V::Array(vec![b("function"), b("true"), b("true")])
    );
    // KEYS and ARGV stay the script's own (writable, like Redis) and fresh for every run.
    assert_eq!(
        q(
            &mut c,
            &["EVAL", "table.insert(KEYS, 'x') return #KEYS", "1", "k"]
        )
        .await,
        V::Int(2)
    );
    assert_eq!(
        q(&mut c, &["EVAL", "return #KEYS", "1", "k"]).await,
        V::Int(1)
    );
}

#[tokio::test]
async fn library_tables_are_read_only() {
    let (_server, addr) = common::start("127.0.15.4", &[]);
    let mut c = common::client(addr).await;
    for lib in [
        "string",
        "table",
        "math",
        "cjson",
        "cmsgpack",
        "struct",
        "bit",
        "redis",
        "coroutine",
    ] {
        for (body, positioned) in [
            (format!("{lib}.injected = 1"), true),
            (format!("rawset({lib}, 'injected', 1)"), false),
            (format!("table.insert({lib}, 1)"), false),
            (format!("setmetatable({lib}, {{}})"), false),
        ] {
            let (err, suffix) = eval_err(&mut c, &body).await;
            let at = if positioned { "user_script:1: " } else { "" };
            assert_eq!(
                err,
                format!("ERR {at}Attempt to modify a readonly table {suffix}"),
                "{body}"
            );
        }
        let check = format!("return rawget({lib}, 'injected') == nil and {lib}.injected == nil");
        let r = run(&mut c, &["EVAL", &check, "0"]).await;
        // Reading a missing field is fine (nil), except redis.injected which is nil as well.
        assert_eq!(r, Ok(V::Int(1)), "{lib}");
    }
    // pcall sees Redis's message.
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "local ok, e = pcall(rawset, _G, 'a', 1) local ok2, e2 = pcall(function() string.x = 1 end) return {e, e2}",
                "0"
            ]
        )
        .await,
        V::Array(vec![
            b("Attempt to modify a readonly table"),
            b("user_script:1: Attempt to modify a readonly table")
        ])
    );
}

#[tokio::test]
async fn bytecode_is_refused() {
    let (_server, addr) = common::start("127.0.15.5", &[]);
    let mut c = common::client(addr).await;
    // loadstring/load parse binary chunks as text, like Redis: a syntax error, no function.
    let reply = q(
        &mut c,
        &[
            "EVAL",
            "local f, e = loadstring(string.dump(function() return 1 end)) return {tostring(f), e}",
            "0",
        ],
    )
    .await;
    assert_eq!(
        reply,
        V::Array(vec![
            b("nil"),
            V::BulkString(b"[string \"\x1bLuaQ\"]:1: unexpected symbol near 'char(27)'".to_vec())
        ])
    );
    let reply = q(
        &mut c,
        &[
            "EVAL",
            "local d = string.dump(function() return 1 end) local i = 0 \
             local f, e = load(function() i = i + 1 if i == 1 then return d end end) \
             return {tostring(f), e}",
            "0",
        ],
    )
    .await;
    assert_eq!(
        reply,
        V::Array(vec![
            b("nil"),
            b("(load):1: unexpected symbol near 'char(27)'")
        ])
    );
    // A script body that is bytecode.
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(&b"\x1bLuaQ\x00\x01\x04\x08\x04\x08\x00"[..]).arg(0);
    let err = match c.send_packed_command(&cmd).await {
        Ok(V::ServerError(e)) => format!("{} {}", e.code(), e.details().unwrap_or("")),
        other => panic!("bytecode EVAL: {other:?}"),
    };
    assert_eq!(
        err,
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'"
    );
}

/// FUNCTION libraries: the same protections at load time and at call time.
#[tokio::test]
async fn function_libraries_are_isolated() {
    let (_server, addr) = common::start("127.0.15.6", &[]);
    let mut c = common::client(addr).await;
    let lib = "#!lua name=evil\n\
               redis.register_function('hijack', function(keys, args)\n\
                 getmetatable('').__index.upper = function() return 'PWNED' end\n\
               end)\n\
               redis.register_function('leak', function(keys, args)\n\
                 rawset(_G, 'leaked', 1)\n\
               end)\n\
               redis.register_function('up', function(keys, args)\n\
                 return string.upper(args[1])\n\
               end)";
    assert_eq!(q(&mut c, &["FUNCTION", "LOAD", lib]).await, b("evil"));
    assert_eq!(
        e(&mut c, &["FCALL", "hijack", "0"]).await,
        "ERR user_function:3: Attempt to modify a readonly table script: hijack, on @user_function:3."
    );
    assert_eq!(
        e(&mut c, &["FCALL", "leak", "0"]).await,
        "ERR Attempt to modify a readonly table script: leak, on @user_function:6."
    );
    assert_eq!(q(&mut c, &["FCALL", "up", "0", "x"]).await, b("X"));
    // At load time the library's code sees only the load-time API, and cannot write it either.
    let err = e(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=evil2\nredis.register_function = nil",
        ],
    )
    .await;
    assert_eq!(
        err,
        "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"
    );
    let err = e(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=evil3\nlocal m = ('').upper\nredis.register_function('f', function() return m('a') end)\nstring = 1",
        ],
    )
    .await;
    assert_eq!(
        err,
        "ERR Error registering functions: ERR user_function:4: Attempt to modify a readonly table"
    );
    // EVAL scripts still see the real library.
    assert_eq!(
        q(&mut c, &["EVAL", "return ('a'):upper()", "0"]).await,
        b("A")
    );
}
