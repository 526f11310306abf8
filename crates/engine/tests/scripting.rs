//! Integration tests for Lua scripting (EVAL, EVALSHA, EVAL_RO, SCRIPT ...) through the `redis`
//! crate: conversions both ways, KEYS/ARGV, call vs pcall errors with Redis 7.0's texts, the script
//! cache, read-only scripts, atomicity against concurrent clients, and busy scripts (BUSY replies,
//! SCRIPT KILL, UNKILLABLE). Every test starts its own engine on an ephemeral loopback port.

use std::time::Duration;

use redis::Value as V;

mod common;
use common::reply::{b, e, q, run};

fn suffix(sha_of: &str) -> String {
    let sha = redis::Script::new(sha_of).get_hash().to_string();
    format!("script: {sha}, on @user_script:1.")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversions_both_ways() {
    let (_server, addr) = common::start_default();
    let mut c = common::client(addr).await;
    let ev = |s: &'static str| ["EVAL", s, "0"];
    // Lua -> RESP.
    assert_eq!(q(&mut c, &ev("return 3.99")).await, V::Int(3));
    assert_eq!(q(&mut c, &ev("return -3.99")).await, V::Int(-3));
    assert_eq!(q(&mut c, &ev("return 'x'")).await, b("x"));
    assert_eq!(q(&mut c, &ev("return true")).await, V::Int(1));
    assert_eq!(q(&mut c, &ev("return false")).await, V::Nil);
    assert_eq!(q(&mut c, &ev("return nil")).await, V::Nil);
    assert_eq!(
        q(&mut c, &ev("return {1,2,3.7,'x',nil,4}")).await,
        V::Array(vec![V::Int(1), V::Int(2), V::Int(3), b("x")])
    );
    assert_eq!(
        q(&mut c, &ev("return {1,{2,{3,'a'}},true,false}")).await,
        V::Array(vec![
            V::Int(1),
            V::Array(vec![V::Int(2), V::Array(vec![V::Int(3), b("a")])]),
            V::Int(1),
            V::Nil
        ])
    );
    assert_eq!(
        q(&mut c, &ev("return {ok='fine'}")).await,
        V::SimpleString("fine".into())
    );
    assert_eq!(
        q(&mut c, &ev("return redis.status_reply('fine')")).await,
        V::SimpleString("fine".into())
    );
    assert_eq!(e(&mut c, &ev("return {err='x y'}")).await, "x y");
    assert_eq!(
        e(&mut c, &ev("return redis.error_reply('My error')")).await,
        "My error"
    );
    assert_eq!(
        e(&mut c, &ev("return redis.error_reply('MY')")).await,
        "ERR MY"
    );
    assert_eq!(q(&mut c, &ev("return {double=3.5}")).await, b("3.5"));
    // A self-referencing table does not crash the server.
    let _ = run(&mut c, &ev("local t = {} t[1] = t return t")).await;
    let mut c = common::client(addr).await;
    // RESP -> Lua.
    q(&mut c, &["SET", "s", "x"]).await;
    q(&mut c, &["RPUSH", "l", "a", "b"]).await;
    assert_eq!(
        q(&mut c, &ev("return type(redis.call('get','nokey'))")).await,
        b("boolean")
    );
    assert_eq!(q(&mut c, &ev("return redis.call('get','s')")).await, b("x"));
    assert_eq!(
        q(&mut c, &ev("return redis.call('incr','n') + 1")).await,
        V::Int(2)
    );
    assert_eq!(
        q(&mut c, &ev("return redis.call('lrange','l',0,-1)")).await,
        V::Array(vec![b("a"), b("b")])
    );
    assert_eq!(
        q(&mut c, &ev("return redis.call('ping').ok")).await,
        b("PONG")
    );
    assert_eq!(
        q(&mut c, &ev("return redis.pcall('lpush','s','a').err")).await,
        b("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(
        q(
            &mut c,
            &ev("redis.setresp(3); return redis.call('hgetall','nokey').map ~= nil")
        )
        .await,
        V::Int(1)
    );
    assert_eq!(
        q(&mut c, &ev("return redis.sha1hex('')")).await,
        b("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(
        q(&mut c, &ev("return bit.band(0xff, 0x0f) + bit.bor(1, 2)")).await,
        V::Int(18)
    );
    assert_eq!(q(&mut c, &ev("return bit.tohex(-1)")).await, b("ffffffff"));
    assert_eq!(
        q(
            &mut c,
            &ev("return cjson.encode({1,2,'a/b'}) .. cjson.encode({a=1}) .. cjson.encode({})")
        )
        .await,
        b(r#"[1,2,"a\/b"]{"a":1}{}"#)
    );
    assert_eq!(
        q(&mut c, &ev(r#"local t = cjson.decode('{"a":[1,2.5,null]}') return {t.a[1], tostring(t.a[2]), type(t.a[3])}"#)).await,
        V::Array(vec![V::Int(1), b("2.5"), b("userdata")])
    );
    assert_eq!(
        q(
            &mut c,
            &ev("return {cmsgpack.unpack(cmsgpack.pack({1,2,'a'}, 300, -5))}")
        )
        .await,
        V::Array(vec![
            V::Array(vec![V::Int(1), V::Int(2), b("a")]),
            V::Int(300),
            V::Int(-5)
        ])
    );
    // KEYS and ARGV; numbers passed to commands.
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "return {KEYS[1],KEYS[2],ARGV[1],#KEYS,#ARGV}",
                "2",
                "k1",
                "k2",
                "a1"
            ]
        )
        .await,
        V::Array(vec![b("k1"), b("k2"), b("a1"), V::Int(2), V::Int(1)])
    );
    q(&mut c, &ev("return redis.call('set','f',3.5)")).await;
    assert_eq!(q(&mut c, &["GET", "f"]).await, b("3.5"));
    // SELECT inside a script only affects the script.
    q(
        &mut c,
        &ev("redis.call('select', 5); return redis.call('set','in5','y')"),
    )
    .await;
    assert_eq!(q(&mut c, &["EXISTS", "in5"]).await, V::Int(0));
    q(&mut c, &["SELECT", "5"]).await;
    assert_eq!(q(&mut c, &["EXISTS", "in5"]).await, V::Int(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_like_redis_7() {
    let (_server, addr) = common::start_default();
    let mut c = common::client(addr).await;
    q(&mut c, &["SET", "s", "x"]).await;
    let cases: &[(&str, String)] = &[
        ("return 1 +", "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'".into()),
        ("error('boom')", format!("ERR user_script:1: boom {}", suffix("error('boom')"))),
        ("return redis.call('lpush','s','a')", format!("WRONGTYPE Operation against a key holding the wrong kind of value {}", suffix("return redis.call('lpush','s','a')"))),
        ("return redis.call('nosuch')", format!("ERR Unknown Redis command called from script {}", suffix("return redis.call('nosuch')"))),
        ("return redis.call('get')", format!("ERR Wrong number of args calling Redis command from script {}", suffix("return redis.call('get')"))),
        ("return redis.call('multi')", format!("ERR This Redis command is not allowed from script {}", suffix("return redis.call('multi')"))),
        ("return nosuch", format!("ERR user_script:1: Script attempted to access nonexistent global variable 'nosuch' {}", suffix("return nosuch"))),
        ("x = 1", format!("ERR user_script:1: Attempt to modify a readonly table {}", suffix("x = 1"))),
        ("return redis.call({})", format!("ERR Lua redis lib command arguments must be strings or integers {}", suffix("return redis.call({})"))),
    ];
    for (script, want) in cases {
        assert_eq!(&e(&mut c, &["EVAL", script, "0"]).await, want, "{script}");
    }
    assert_eq!(
        q(&mut c, &["EVAL", "return redis.pcall('nosuch').err", "0"]).await,
        b("ERR Unknown Redis command called from script")
    );
    assert_eq!(
        e(&mut c, &["EVAL", "return 1", "-1"]).await,
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        e(&mut c, &["EVAL", "return 1", "2", "a"]).await,
        "ERR Number of keys can't be greater than number of args"
    );
    let ro = "return redis.call('set','a','b')";
    assert_eq!(
        e(&mut c, &["EVAL_RO", ro, "0"]).await,
        format!(
            "ERR Write commands are not allowed from read-only scripts. {}",
            suffix(ro)
        )
    );
    assert_eq!(
        q(&mut c, &["EVAL_RO", "return redis.call('get','s')", "0"]).await,
        b("x")
    );
    // The server keeps serving after all that.
    assert_eq!(q(&mut c, &["PING"]).await, V::SimpleString("PONG".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_cache_and_redis_script() {
    let (_server, addr) = common::start_default();
    let mut c = common::client(addr).await;
    let body = "return redis.call('incrby', KEYS[1], ARGV[1])";
    let sha = redis::Script::new(body).get_hash().to_string();
    assert_eq!(
        e(&mut c, &["EVALSHA", &sha, "1", "k", "2"]).await,
        "NOSCRIPT No matching script. Please use EVAL."
    );
    assert_eq!(
        e(&mut c, &["EVALSHA", "abc", "0"]).await,
        "NOSCRIPT No matching script. Please use EVAL."
    );
    // redis::Script does EVALSHA, then EVAL on NOSCRIPT.
    let script = redis::Script::new(body);
    let v: i64 = script
        .key("k")
        .arg(5)
        .invoke_async(&mut c)
        .await
        .expect("script");
    assert_eq!(v, 5);
    assert_eq!(
        q(&mut c, &["SCRIPT", "EXISTS", &sha, "ffff"]).await,
        V::Array(vec![V::Int(1), V::Int(0)])
    );
    assert_eq!(
        q(&mut c, &["EVALSHA", &sha.to_uppercase(), "1", "k", "1"]).await,
        V::Int(6)
    );
    assert_eq!(
        e(&mut c, &["EVALSHA_RO", &sha, "1", "k", "1"]).await,
        format!(
            "ERR Write commands are not allowed from read-only scripts. script: {sha}, on @user_script:1."
        )
    );
    assert_eq!(q(&mut c, &["SCRIPT", "FLUSH"]).await, V::Okay);
    assert_eq!(
        q(&mut c, &["SCRIPT", "EXISTS", &sha]).await,
        V::Array(vec![V::Int(0)])
    );
    assert_eq!(q(&mut c, &["SCRIPT", "LOAD", body]).await, b(&sha));
    assert_eq!(
        q(&mut c, &["EVALSHA", &sha, "1", "k", "1"]).await,
        V::Int(7)
    );
    assert_eq!(
        e(&mut c, &["SCRIPT", "FLUSH", "foo"]).await,
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    );
    assert_eq!(
        e(&mut c, &["SCRIPT", "KILL"]).await,
        "NOTBUSY No scripts in execution right now."
    );
}

/// Redis 7 freezes time during a script (redis-server 7.0.15 answers 1 here, then 0 once the
/// script is over): a key that expires while the script runs is still there for its later calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_is_frozen_while_a_script_runs() {
    let (_server, addr) = common::start_default();
    let mut c = common::client(addr).await;
    let script = "redis.call('set', KEYS[1], 'v', 'px', 1) \
        local s = redis.call('time') \
        local d = 0 \
        repeat \
          local n = redis.call('time') \
          d = (n[1] - s[1]) * 1000000 + (n[2] - s[2]) \
        until d > 5000 \
        return redis.call('exists', KEYS[1])";
    assert_eq!(q(&mut c, &["EVAL", script, "1", "k"]).await, V::Int(1));
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(q(&mut c, &["EXISTS", "k"]).await, V::Int(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_atomic() {
    let (_server, addr) = common::start_default();
    let mut c = common::client(addr).await;
    // The script checks that nobody else touched the counter between its own INCRs.
    let script = "local first = redis.call('incr', KEYS[1]) \
        for i = 2, 2000 do \
          local v = redis.call('incr', KEYS[1]) \
          if v ~= first + i - 1 then return redis.error_reply('interleaved') end \
        end \
        return 'ok'";
    let mut others = Vec::new();
    for _ in 0..4 {
        let mut o = common::client(addr).await;
        others.push(tokio::spawn(async move {
            for _ in 0..500 {
                q(&mut o, &["INCR", "counter"]).await;
            }
        }));
    }
    for _ in 0..5 {
        assert_eq!(q(&mut c, &["EVAL", script, "1", "counter"]).await, b("ok"));
    }
    for t in others {
        t.await.expect("incr task");
    }
    assert_eq!(
        q(&mut c, &["GET", "counter"]).await,
        b(&(5 * 2000 + 4 * 500).to_string())
    );
}

/// Run the endless `script` on a client of its own, SCRIPT KILL it from `admin` once it runs
/// (asserting `+OK`), and return what its client got.
async fn killed_eval(
    addr: std::net::SocketAddr,
    admin: &mut redis::aio::MultiplexedConnection,
    script: &'static str,
) -> Result<V, String> {
    let mut runner = common::client(addr).await;
    let spin = tokio::spawn(async move { run(&mut runner, &["EVAL", script, "0"]).await });
    common::wait_script_running(admin).await;
    assert_eq!(q(admin, &["SCRIPT", "KILL"]).await, V::Okay);
    tokio::time::timeout(Duration::from_secs(10), spin)
        .await
        .expect("script ends")
        .expect("task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_scripts_kill_and_unkillable() {
    let (_server, addr) = common::start_default();
    let mut admin = common::client(addr).await;
    q(&mut admin, &["CONFIG", "SET", "lua-time-limit", "100"]).await;
    assert_eq!(
        q(&mut admin, &["CONFIG", "GET", "busy-reply-threshold"]).await,
        V::Array(vec![b("busy-reply-threshold"), b("100")])
    );
    // A read-only endless script: others get BUSY, SCRIPT KILL ends it.
    let mut runner = common::client(addr).await;
    let spin =
        tokio::spawn(async move { run(&mut runner, &["EVAL", "while true do end", "0"]).await });
    common::wait_script_running(&mut admin).await;
    let mut other = common::client(addr).await;
    assert_eq!(
        e(&mut other, &["GET", "x"]).await,
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    assert_eq!(q(&mut admin, &["SCRIPT", "KILL"]).await, V::Okay);
    let killed = tokio::time::timeout(Duration::from_secs(10), spin)
        .await
        .expect("script ends")
        .expect("task");
    let want = format!(
        "ERR Script killed by user with SCRIPT KILL... {}",
        suffix("while true do end")
    );
    assert_eq!(killed, Err(want));
    assert_eq!(q(&mut other, &["SET", "x", "1"]).await, V::Okay);

    // A script cannot catch SCRIPT KILL with pcall.
    let catcher = "while true do pcall(function() while true do end end) end";
    let killed = killed_eval(addr, &mut admin, catcher).await;
    assert!(
        killed
            .as_ref()
            .is_err_and(|e| e.starts_with("ERR Script killed by user with SCRIPT KILL...")),
        "{killed:?}"
    );

    // Killed inside the prelude's pcall (which tail-calls): the error names the script's line,
    // as redis-server 7.0.15 does, not the tail call's placeholder frame.
    let caller = "while true do pcall(redis.call, 'nosuch') end";
    let killed = killed_eval(addr, &mut admin, caller).await;
    assert_eq!(
        killed,
        Err(format!(
            "ERR Script killed by user with SCRIPT KILL... {}",
            suffix(caller)
        ))
    );

    // A client arriving while a short script runs just waits for it.
    let mut runner = common::client(addr).await;
    q(
        &mut admin,
        &["CONFIG", "SET", "busy-reply-threshold", "5000"],
    )
    .await;
    // The script's last act is to set x to 2: a GET that waited for the script reads 2.
    let short = tokio::spawn(async move {
        run(&mut runner, &["EVAL", "local t0 = redis.call('time') repeat local t = redis.call('time') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 redis.call('set', 'x', '2') return 1", "0"]).await
    });
    common::wait_script_running(&mut admin).await;
    // It is answered after the script, not with BUSY.
    assert_eq!(q(&mut other, &["GET", "x"]).await, b("2"));
    assert_eq!(short.await.expect("task"), Ok(V::Int(1)));

    // A script that wrote cannot be killed; SHUTDOWN is not used here, so it is left to end by
    // itself after a bounded loop.
    q(&mut admin, &["CONFIG", "SET", "lua-time-limit", "100"]).await;
    let mut runner = common::client(addr).await;
    let writer = tokio::spawn(async move {
        run(
            &mut runner,
            &["EVAL", "redis.call('set','w','1') local t0 = redis.call('time') repeat local t = redis.call('time') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 1500000 return 1", "0"],
        )
        .await
    });
    common::wait_script_running(&mut admin).await;
    // The write is the script's first act, microseconds after it starts: a margin for a stalled
    // thread (the engine offers no way to observe "has written" from outside).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let unkillable = e(&mut admin, &["SCRIPT", "KILL"]).await;
    let done = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("writer ends")
        .expect("task");
    assert!(
        unkillable.starts_with("UNKILLABLE Sorry the script already executed write commands"),
        "{unkillable} / {done:?}"
    );
    assert_eq!(
        q(&mut admin, &["PING"]).await,
        V::SimpleString("PONG".into())
    );
}

/// Scripts run on the worker thread that read them (no hand-off per call); one that keeps running
/// hands that worker's other clients to another thread. With a single worker nothing else could
/// serve SCRIPT KILL, BUSY replies or SHUTDOWN NOSAVE otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn long_script_on_the_only_worker_stays_killable() {
    let (_server, addr) = common::start_default();
    let mut admin = common::client(addr).await;
    q(
        &mut admin,
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    )
    .await;
    // Short scripts, many of them, pipelined: each runs inline.
    let mut pipe = redis::pipe();
    for _ in 0..200 {
        pipe.cmd("EVAL")
            .arg("return redis.call('incr', KEYS[1])")
            .arg(1)
            .arg("n");
    }
    let counts: Vec<i64> = pipe.query_async(&mut admin).await.expect("pipeline");
    assert_eq!(counts, (1..=200).collect::<Vec<i64>>());
    for round in 0..3 {
        let mut runner = common::client(addr).await;
        let spin =
            tokio::spawn(
                async move { run(&mut runner, &["EVAL", "while true do end", "0"]).await },
            );
        common::wait_script_running(&mut admin).await;
        let mut other = common::client(addr).await;
        assert_eq!(
            e(&mut other, &["INCR", "n"]).await,
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "round {round}"
        );
        assert_eq!(q(&mut admin, &["SCRIPT", "KILL"]).await, V::Okay);
        let killed = tokio::time::timeout(Duration::from_secs(20), spin)
            .await
            .expect("script ends")
            .expect("task");
        assert!(
            killed
                .as_ref()
                .is_err_and(|e| e.starts_with("ERR Script killed by user with SCRIPT KILL...")),
            "{killed:?}"
        );
        assert_eq!(q(&mut other, &["INCR", "n"]).await, V::Int(201 + round));
    }
}

/// Redis 7.0's rules for commands called from scripts (scripting.tcl): blocking commands not
/// flagged `noscript` run without blocking, XREAD/XREADGROUP refuse BLOCK with their own text,
/// `unpack` of 7999 arguments fits, `redis.acl_check_cmd`, and SORT BY a constant sorts a set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_7_0_commands_from_scripts() {
    let (_server, addr) = common::start("127.0.41.1", &[]);
    let mut c = common::client(addr).await;
    let ev = |s: &'static str| ["EVAL", s, "0"];
    q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).await;
    assert_eq!(
        q(&mut c, &ev("return redis.pcall('xread','STREAMS','s','$')")).await,
        V::Nil
    );
    assert_eq!(
        q(
            &mut c,
            &ev("return redis.pcall('xread','BLOCK',0,'STREAMS','s','$').err")
        )
        .await,
        b("ERR xread command is not allowed with BLOCK option from scripts")
    );
    assert_eq!(
        q(
            &mut c,
            &ev("return redis.pcall('XREADGROUP','GROUP','g','c','BLOCK',0,'STREAMS','s','>').err")
        )
        .await,
        b("ERR XREADGROUP command is not allowed with BLOCK option from scripts")
    );
    assert_eq!(
        q(
            &mut c,
            &ev("return redis.pcall('xreadgroup','group','g','c','STREAMS','s','>')")
        )
        .await,
        V::Nil
    );
    // An option XREAD refuses comes first.
    assert_eq!(
        q(
            &mut c,
            &ev("return redis.pcall('xread','NOACK','BLOCK',0,'STREAMS','s','$').err")
        )
        .await,
        b("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
    );
    // BLMPOP and BZMPOP are not `noscript`: on empty keys they answer at once.
    assert_eq!(
        q(&mut c, &ev("return redis.pcall('blmpop',0,1,'nol','LEFT')")).await,
        V::Nil
    );
    assert_eq!(
        q(&mut c, &ev("return redis.pcall('bzmpop',0,1,'noz','MIN')")).await,
        V::Nil
    );
    q(&mut c, &["RPUSH", "l", "a", "b"]).await;
    assert_eq!(
        q(&mut c, &ev("return redis.call('blmpop',0,1,'l','RIGHT')")).await,
        V::Array(vec![b("l"), V::Array(vec![b("b")])])
    );
    assert_eq!(
        q(&mut c, &ev("return redis.pcall('blpop','l',0).err")).await,
        b("ERR This Redis command is not allowed from script")
    );
    // As many arguments as the C stack holds.
    assert_eq!(
        q(
            &mut c,
            &ev("local a = {} for i=1,7999 do a[i] = 1 end return redis.call('lpush','big',unpack(a))")
        )
        .await,
        V::Int(7999)
    );
    // redis.acl_check_cmd: true/false for the caller's user; an unknown command is an error.
    assert_eq!(
        q(&mut c, &ev("return redis.acl_check_cmd('set','xx',1)")).await,
        V::Int(1)
    );
    let err = e(
        &mut c,
        &ev("return redis.acl_check_cmd('invalid-cmd','arg')"),
    )
    .await;
    assert!(
        err.starts_with("ERR Invalid command passed to redis.acl_check_cmd()"),
        "{err}"
    );
    q(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            ">123",
            "+@scripting",
            "+set",
            "~x*",
        ],
    )
    .await;
    let mut bob = common::client_as(addr, "bob", "123").await;
    let check = |s: &'static str, k: &'static str| ["EVAL", s, "1", k];
    assert_eq!(
        q(
            &mut bob,
            &check("return redis.acl_check_cmd('set','xx',1)", "xx")
        )
        .await,
        V::Int(1)
    );
    assert_eq!(
        q(
            &mut bob,
            &check("return redis.acl_check_cmd('hset','xx','f',1)", "xx")
        )
        .await,
        V::Nil
    );
    assert_eq!(
        q(&mut bob, &ev("return redis.acl_check_cmd('set','yy',1)")).await,
        V::Nil
    );
    // Too few arguments for the command's key specs: no key to check, no crash.
    assert_eq!(
        q(&mut c, &ev("return redis.acl_check_cmd('sort')")).await,
        V::Int(1)
    );
    // SORT BY a constant pattern sorts a set for a script (deterministic), not for a client.
    q(&mut c, &["SADD", "myset", "c", "a", "b", "aa"]).await;
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "return redis.call('sort',KEYS[1],'by','_','get','#','get','_:*')",
                "1",
                "myset"
            ]
        )
        .await,
        V::Array(vec![
            b("a"),
            V::Nil,
            b("aa"),
            V::Nil,
            b("b"),
            V::Nil,
            b("c"),
            V::Nil
        ])
    );
}

/// Over `maxmemory`, as Redis 7.0: a script without a shebang fails at its first `denyoom`
/// call (reads still run), a script with flags is refused unless `no-writes` or `allow-oom`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_over_maxmemory() {
    let (_server, addr) = common::start("127.0.41.2", &[]);
    let mut c = common::client(addr).await;
    q(&mut c, &["SET", "x", "123"]).await;
    q(&mut c, &["CONFIG", "SET", "maxmemory", "1"]).await;
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    let write = "redis.call('set','x',1) return 1";
    let err = e(&mut c, &["EVAL", write, "1", "x"]).await;
    assert_eq!(err, format!("{oom} {}", suffix(write)));
    assert_eq!(
        q(
            &mut c,
            &["EVAL", "return redis.pcall('set','x','y').err", "1", "x"]
        )
        .await,
        b(oom)
    );
    assert_eq!(
        q(&mut c, &["EVAL", "return redis.call('get','x')", "1", "x"]).await,
        b("123")
    );
    assert_eq!(
        q(
            &mut c,
            &["EVAL_RO", "return redis.call('get','x')", "1", "x"]
        )
        .await,
        b("123")
    );
    assert_eq!(
        e(&mut c, &["EVAL", "#!lua flags=\nreturn 1", "0"]).await,
        oom
    );
    assert_eq!(e(&mut c, &["EVAL", "#!lua\nreturn 1", "0"]).await, oom);
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "#!lua flags=allow-oom\nredis.call('set','x',1) return 1",
                "1",
                "x"
            ]
        )
        .await,
        V::Int(1)
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "#!lua flags=no-writes\nredis.call('get','x') return 1",
                "0"
            ]
        )
        .await,
        V::Int(1)
    );
    q(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).await;
    assert_eq!(q(&mut c, &["EVAL", write, "1", "x"]).await, V::Int(1));
    assert_eq!(
        q(&mut c, &["EVAL", "#!lua\nreturn 1", "0"]).await,
        V::Int(1)
    );
}

/// `DEBUG SET-DISABLE-DENY-SCRIPTS` lets scripts call `noscript` commands (Redis's test hook),
/// and `DEBUG PROTOCOL` answers each RESP type, seen by a script in its own protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_protocol_through_scripts() {
    let (_server, addr) = common::start("127.0.41.3", &[("enable-debug-command", "yes")]);
    let mut c = common::client(addr).await;
    let big = "redis.setresp(3) return redis.call('debug','protocol','bignum')";
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "return redis.pcall('debug','protocol','bignum').err",
                "0"
            ]
        )
        .await,
        b("ERR This Redis command is not allowed from script")
    );
    assert_eq!(
        q(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]).await,
        V::Okay
    );
    assert_eq!(
        q(&mut c, &["EVAL", big, "0"]).await,
        b("1234567999999999999999999999999999999")
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "redis.setresp(3) return redis.call('debug','protocol','attrib')",
                "0"
            ]
        )
        .await,
        b("Some real reply following the attribute")
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "redis.setresp(3) return redis.call('debug','protocol','verbatim')",
                "0"
            ]
        )
        .await,
        b("This is a verbatim\nstring")
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "return {verbatim_string={format='md', string='x'}}",
                "0"
            ]
        )
        .await,
        b("x")
    );
    assert_eq!(
        q(&mut c, &["DEBUG", "PROTOCOL", "map"]).await,
        V::Array(vec![
            V::Int(0),
            V::Int(0),
            V::Int(1),
            V::Int(1),
            V::Int(2),
            V::Int(0)
        ])
    );
    assert_eq!(
        e(&mut c, &["DEBUG", "PROTOCOL", "push"]).await,
        "ERR RESP2 is not supported by this command"
    );
    assert_eq!(
        e(&mut c, &["DEBUG", "PROTOCOL", "nosuch"]).await,
        "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"
    );
    // A RESP3 client gets RESP3 types through a RESP3 script.
    let hello = b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
    let eval = |s: &str| format!("*3\r\n$4\r\nEVAL\r\n${}\r\n{s}\r\n$1\r\n0\r\n", s.len());
    for (script, want) in [
        (big, &b"(1234567999999999999999999999999999999\r\n"[..]),
        (
            "redis.setresp(3) return redis.call('debug','protocol','verbatim')",
            b"=29\r\ntxt:This is a verbatim\nstring\r\n",
        ),
        (
            "redis.setresp(3) return redis.call('debug','protocol','double')",
            b",3.141\r\n",
        ),
        (
            "redis.setresp(2) return redis.call('debug','protocol','double')",
            b"$5\r\n3.141\r\n",
        ),
    ] {
        let mut input = hello.to_vec();
        input.extend_from_slice(eval(script).as_bytes());
        let got = common::raw(addr, &input).await;
        assert!(
            got.ends_with(want),
            "{script}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // A RESP3 client: the format's first three bytes, padded with spaces.
    let mut input = hello.to_vec();
    input.extend_from_slice(eval("return {verbatim_string={format='md', string='x'}}").as_bytes());
    let got = common::raw(addr, &input).await;
    assert!(
        got.ends_with(b"=5\r\nmd :x\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // DEBUG OBJECT finds a key that expired but is not deleted yet (Redis looks in the
    // dictionary itself); a script, whose time is its start, does not see it.
    q(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await;
    q(&mut c, &["SET", "key", "value", "PX", "1"]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(matches!(
        q(&mut c, &["DEBUG", "OBJECT", "key"]).await,
        V::SimpleString(s) if s.starts_with("Value at:")
    ));
    assert_eq!(
        q(&mut c, &["EVAL", "return redis.call('EXISTS', 'key')", "0"]).await,
        V::Int(0)
    );
    assert_eq!(q(&mut c, &["EXISTS", "key"]).await, V::Int(0));
    assert_eq!(
        e(&mut c, &["DEBUG", "OBJECT", "key"]).await,
        "ERR no such key"
    );
    q(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).await;
    assert_eq!(
        q(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0"]).await,
        V::Okay
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "return redis.pcall('debug','protocol','bignum').err",
                "0"
            ]
        )
        .await,
        b("ERR This Redis command is not allowed from script")
    );
}

/// INFO errorstats counts error replies by prefix (Redis's `afterErrorReply`): a script's
/// `redis.error_reply` included; CONFIG RESETSTAT clears them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errorstats_count_script_errors() {
    let (_server, addr) = common::start("127.0.41.5", &[]);
    let mut c = common::client(addr).await;
    let errorstats = |v: V| match v {
        V::BulkString(s) => String::from_utf8_lossy(&s).into_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e(
            &mut c,
            &[
                "EVAL",
                "return redis.error_reply('MY_ERR_CODE custom msg')",
                "0"
            ]
        )
        .await,
        "MY_ERR_CODE custom msg"
    );
    q(&mut c, &["SET", "s", "x"]).await;
    e(&mut c, &["LPUSH", "s", "a"]).await;
    e(&mut c, &["NOSUCHCOMMAND"]).await;
    e(
        &mut c,
        &[
            "EVAL",
            "return redis.error_reply('NOSPACEBUTLONGERTHANTHIRTYONEBYTES')",
            "0",
        ],
    )
    .await;
    // A failed call counts once, whether the script returns or raises its error.
    e(
        &mut c,
        &["EVAL", "return redis.pcall('lpush','s','a')", "0"],
    )
    .await;
    e(&mut c, &["EVAL", "redis.call('lpush','s','a')", "0"]).await;
    e(&mut c, &["EVAL", "redis.call('nosuch')", "0"]).await;
    assert_eq!(
        errorstats(q(&mut c, &["INFO", "errorstats"]).await),
        "# Errorstats\r\nerrorstat_ERR:count=3\r\nerrorstat_MY_ERR_CODE:count=1\r\nerrorstat_WRONGTYPE:count=3\r\n"
    );
    q(&mut c, &["CONFIG", "RESETSTAT"]).await;
    assert_eq!(
        errorstats(q(&mut c, &["INFO", "errorstats"]).await),
        "# Errorstats\r\n"
    );
}

/// The EVAL state's heap stays near its live size (Redis's "EVAL does not leak in the Lua
/// stack": used_memory_lua < 100 KB after SCRIPT FLUSH and many runs): the prelude's garbage is
/// collected when a state is made, and a GC step follows every 50 runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_heap_stays_small() {
    let (_server, addr) = common::start("127.0.41.6", &[]);
    let mut c = common::client(addr).await;
    q(&mut c, &["SCRIPT", "FLUSH"]).await;
    q(&mut c, &["SET", "x", "0"]).await;
    let mut pipe = redis::pipe();
    for _ in 0..3000 {
        pipe.cmd("EVAL")
            .arg("return redis.call('incr',KEYS[1])")
            .arg(1)
            .arg("x")
            .ignore();
    }
    let () = pipe.query_async(&mut c).await.expect("pipeline");
    assert_eq!(q(&mut c, &["GET", "x"]).await, b("3000"));
    let info = match q(&mut c, &["INFO", "memory"]).await {
        V::BulkString(s) => String::from_utf8_lossy(&s).into_owned(),
        other => panic!("{other:?}"),
    };
    let lua: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_lua:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory_lua");
    assert!(lua > 0 && lua < 100 * 1024, "used_memory_lua:{lua}");
}
