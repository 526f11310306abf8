//! Integration tests of the engine as `redlink serve` runs it, with real clients (the `redis` crate)
//! and raw RESP where exact bytes matter. Each test uses its own loopback address and ephemeral port.

mod common;

use std::time::Duration;

use common::{client, closed, raw, read_some, resp, start};
use redis::AsyncCommands;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn strings_and_expiry() {
    let (_s, addr) = start("127.0.1.1", &[]);
    let mut c = client(addr).await;
    let _: () = c.set("k", "v").await.unwrap();
    let v: String = c.get("k").await.unwrap();
    assert_eq!(v, "v");
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("x")
        .arg("PX")
        .arg(150)
        .query_async(&mut c)
        .await
        .unwrap();
    let pttl: i64 = c.pttl("t").await.unwrap();
    assert!(pttl > 0 && pttl <= 150, "pttl {pttl}");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let gone: Option<String> = c.get("t").await.unwrap();
    assert_eq!(gone, None, "lazy expiry");
    let ttl: i64 = c.ttl("t").await.unwrap();
    assert_eq!(ttl, -2);
    let n: i64 = c.incr("n", 5).await.unwrap();
    assert_eq!(n, 5);
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("0.1")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(f, "0.1");
    let prev: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("w")
        .arg("GET")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(prev.as_deref(), Some("v"));
    let nx: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("z")
        .arg("NX")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(nx, None);
    let r: String = redis::cmd("GETRANGE")
        .arg("k")
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(r, "w");
    let len: i64 = redis::cmd("SETRANGE")
        .arg("k")
        .arg(3)
        .arg("xy")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 5);
    let v: Vec<u8> = c.get("k").await.unwrap();
    assert_eq!(v, b"w\0\0xy");
}

#[tokio::test(flavor = "multi_thread")]
async fn active_expiry_removes_untouched_keys() {
    let (_s, addr) = start("127.0.1.2", &[("hz", "50")]);
    let mut c = client(addr).await;
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("e{i}"))
            .arg("v")
            .arg("PX")
            .arg(50)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let _: () = c.set("keep", "v").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
        if n == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dbsize stuck at {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expire_options_follow_redis() {
    let (_s, addr) = start("127.0.1.3", &[]);
    let mut c = client(addr).await;
    let _: () = c.set("k", "v").await.unwrap();
    let q = |args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd
    };
    let r: i64 = q(&["EXPIRE", "k", "100", "XX"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(r, 0, "XX on a persistent key");
    let r: i64 = q(&["EXPIRE", "k", "100", "NX"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(r, 1);
    let r: i64 = q(&["EXPIRE", "k", "50", "GT"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(r, 0);
    let r: i64 = q(&["EXPIRE", "k", "50", "LT"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(r, 1);
    let ttl: i64 = c.ttl("k").await.unwrap();
    assert_eq!(ttl, 50);
    let r: i64 = q(&["PERSIST", "k"]).query_async(&mut c).await.unwrap();
    assert_eq!(r, 1);
    let ttl: i64 = c.ttl("k").await.unwrap();
    assert_eq!(ttl, -1);
    let r: i64 = q(&["EXPIRE", "k", "-1"]).query_async(&mut c).await.unwrap();
    assert_eq!(r, 1, "a past expiry deletes");
    let e: bool = c.exists("k").await.unwrap();
    assert!(!e);
    let out = raw(addr, &resp(&["EXPIRE", "x", "1", "NX", "XX"])).await;
    assert_eq!(
        out,
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelining_keeps_order() {
    let (_s, addr) = start("127.0.1.4", &[]);
    let mut c = client(addr).await;
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    for i in 0..2000 {
        p.cmd("GET").arg(format!("p{i}"));
    }
    let got: Vec<i64> = p.query_async(&mut c).await.unwrap();
    assert_eq!(got, (0..2000).collect::<Vec<i64>>());
    // Raw pipelining with inline commands mixed in, split at odd places.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut input = Vec::new();
    for _ in 0..100 {
        input.extend_from_slice(b"PING\r\n");
        input.extend_from_slice(&resp(&["ECHO", "hi"]));
    }
    for chunk in input.chunks(7) {
        s.write_all(chunk).await.unwrap();
    }
    let out = read_some(&mut s, Duration::from_millis(300)).await;
    assert_eq!(out, b"+PONG\r\n$2\r\nhi\r\n".repeat(100));
}

#[tokio::test(flavor = "multi_thread")]
async fn resp3_types() {
    let (_s, addr) = start("127.0.1.5", &[]);
    let mut c = common::client3(addr).await;
    let v: redis::Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        matches!(v, redis::Value::Map(ref m) if m.len() == 1),
        "{v:?}"
    );
    let v: redis::Value = redis::cmd("GET")
        .arg("missing")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, redis::Value::Nil);
    let out = raw(
        addr,
        &[resp(&["HELLO", "3"]), resp(&["GET", "nope"])].concat(),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{text}"
    );
    assert!(text.ends_with("_\r\n"), "{text}");
    let out = raw(addr, &resp(&["HELLO", "4"])).await;
    assert_eq!(out, b"-NOPROTO unsupported protocol version\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn requirepass_and_auth() {
    let (_s, addr) = start("127.0.1.6", &[("requirepass", "s3cret")]);
    let out = raw(addr, &resp(&["GET", "k"])).await;
    assert_eq!(out, b"-NOAUTH Authentication required.\r\n");
    let out = raw(addr, &resp(&["AUTH", "wrong"])).await;
    assert_eq!(
        out,
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let out = raw(
        addr,
        &[resp(&["AUTH", "default", "s3cret"]), resp(&["PING"])].concat(),
    )
    .await;
    assert_eq!(out, b"+OK\r\n+PONG\r\n");
    let out = raw(
        addr,
        &[resp(&["AUTH", "s3cret"]), resp(&["SET", "a", "1"])].concat(),
    )
    .await;
    assert_eq!(out, b"+OK\r\n+OK\r\n");
    // HELLO with AUTH authenticates and switches protocol at once.
    let out = raw(addr, &resp(&["HELLO", "3", "AUTH", "default", "s3cret"])).await;
    assert!(
        out.starts_with(b"%7\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let out = raw(addr, &resp(&["HELLO", "3"])).await;
    assert!(
        out.starts_with(b"-NOAUTH HELLO must be called"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // Unauthenticated limits, before AUTH.
    let mut big = b"*11\r\n".to_vec();
    for _ in 0..11 {
        big.extend_from_slice(b"$1\r\na\r\n");
    }
    let out = raw(addr, &big).await;
    assert_eq!(
        out,
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    let out = raw(addr, b"*1\r\n$20000\r\n").await;
    assert_eq!(out, b"-ERR Protocol error: unauthenticated bulk length\r\n");
    // A real client with the password in the URL.
    let mut c = common::connect_url(&format!("redis://:s3cret@{addr}/"))
        .await
        .unwrap();
    let v: String = c.get("a").await.unwrap();
    assert_eq!(v, "1");
    // A wrong password in the URL fails to connect (redis-rs maps WRONGPASS to AuthenticationFailed).
    let e = common::connect_url(&format!("redis://:nope@{addr}/"))
        .await
        .map(|_| ())
        .expect_err("wrong password must fail");
    assert_eq!(e.kind(), redis::ErrorKind::AuthenticationFailed, "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn maxclients_rejects_the_next_client() {
    let (_s, addr) = start("127.0.1.7", &[("maxclients", "2")]);
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    a.write_all(b"PING\r\n").await.unwrap();
    b.write_all(b"PING\r\n").await.unwrap();
    assert_eq!(
        read_some(&mut a, Duration::from_millis(200)).await,
        b"+PONG\r\n"
    );
    assert_eq!(
        read_some(&mut b, Duration::from_millis(200)).await,
        b"+PONG\r\n"
    );
    let mut third = TcpStream::connect(addr).await.unwrap();
    let out = read_some(&mut third, Duration::from_millis(500)).await;
    assert_eq!(out, b"-ERR max number of clients reached\r\n");
    assert!(closed(&mut third, Duration::from_secs(1)).await);
    // Once one leaves, a new client gets in.
    drop(a);
    common::wait_until("a place frees up", || async {
        raw(addr, b"PING\r\n").await == b"+PONG\r\n"
    })
    .await;
    // CONFIG SET maxclients takes effect at once (sent by the client still connected).
    b.write_all(&resp(&["CONFIG", "SET", "maxclients", "1"]))
        .await
        .unwrap();
    assert_eq!(
        read_some(&mut b, Duration::from_millis(300)).await,
        b"+OK\r\n"
    );
    let mut again = TcpStream::connect(addr).await.unwrap();
    let out = read_some(&mut again, Duration::from_millis(300)).await;
    assert_eq!(out, b"-ERR max number of clients reached\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn bind_listens_only_on_given_addresses() {
    let port = common::free_port("127.0.1.8");
    let mut cfg = common::config("127.0.1.8 127.0.1.9", &[]);
    cfg.set_startup("port", &port.to_string()).unwrap();
    let server = redlink_engine::Server::start(redlink_engine::Engine::new(cfg)).unwrap();
    let addrs: Vec<String> = server
        .listeners()
        .iter()
        .map(|l| l.addr.to_string())
        .collect();
    assert_eq!(
        addrs,
        vec![format!("127.0.1.8:{port}"), format!("127.0.1.9:{port}")]
    );
    for ip in ["127.0.1.8", "127.0.1.9"] {
        let out = raw(format!("{ip}:{port}").parse().unwrap(), b"PING\r\n").await;
        assert_eq!(out, b"+PONG\r\n");
    }
    let start = std::time::Instant::now();
    let e = TcpStream::connect(("127.0.1.10", port)).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(start.elapsed() < Duration::from_secs(1));
    // A second server cannot take the same address: the error names it.
    let mut cfg = common::config("127.0.1.8", &[]);
    cfg.set_startup("port", &port.to_string()).unwrap();
    let e = redlink_engine::Server::start(redlink_engine::Engine::new(cfg))
        .map(|_| ())
        .expect_err("port in use");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.1.8:{port}")) && msg.contains("in use"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_errors_close_the_connection() {
    let (_s, addr) = start("127.0.1.11", &[]);
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n:1\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*1\r\n$-3\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$600000000\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET a \"b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, expected) in cases {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(input).await.unwrap();
        let out = read_some(&mut s, Duration::from_millis(300)).await;
        assert_eq!(&out, expected, "input {:?}", String::from_utf8_lossy(input));
        assert!(closed(&mut s, Duration::from_secs(1)).await);
    }
    // A too-big inline request.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(&vec![b'a'; 70 * 1024]).await;
    let out = read_some(&mut s, Duration::from_millis(300)).await;
    assert_eq!(out, b"-ERR Protocol error: too big inline request\r\n");
    // The server still serves others.
    assert_eq!(raw(addr, b"PING\r\n").await, b"+PONG\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_error_texts() {
    let (_s, addr) = start("127.0.1.12", &[]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["NOSUCH", "a", "b"],
            "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n",
        ),
        (
            &["GET"],
            "-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (
            &["INCRBY", "n", "x"],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (&["SET", "a", "b", "FOO"], "-ERR syntax error\r\n"),
        (
            &["SET", "a", "b", "EX", "0"],
            "-ERR invalid expire time in 'set' command\r\n",
        ),
        (&["SELECT", "16"], "-ERR DB index is out of range\r\n"),
        (&["RENAME", "missing", "x"], "-ERR no such key\r\n"),
        (
            &["CONFIG", "SET", "databases", "4"],
            "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n",
        ),
        (
            &["CONFIG", "SET", "nosuch", "1"],
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
        ),
        (
            &["CLIENT", "FOO"],
            "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
        ),
        (
            &["AUTH", "x"],
            "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
        ),
        (&["EXEC"], "-ERR EXEC without MULTI\r\n"),
        (
            &["INCRBYFLOAT", "f", "abc"],
            "-ERR value is not a valid float\r\n",
        ),
    ];
    for (args, expected) in cases {
        let out = raw(addr, &resp(args)).await;
        assert_eq!(String::from_utf8_lossy(&out), *expected, "{args:?}");
    }
    let out = raw(
        addr,
        &[
            resp(&["SET", "big", "9223372036854775807"]),
            resp(&["INCR", "big"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        out,
        b"+OK\r\n-ERR increment or decrement would overflow\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn databases_keys_and_scan() {
    let (_s, addr) = start("127.0.1.13", &[]);
    let mut c = client(addr).await;
    for i in 0..500 {
        let _: () = c.set(format!("key:{i}"), i).await.unwrap();
    }
    let _: () = c.set("other", 1).await.unwrap();
    let mut keys: Vec<String> = c.keys("key:*").await.unwrap();
    keys.sort();
    assert_eq!(keys.len(), 500);
    let mut seen = std::collections::HashSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("key:*")
            .arg("COUNT")
            .arg(50)
            .query_async(&mut c)
            .await
            .unwrap();
        seen.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 500);
    // SELECT isolates databases; FLUSHDB clears only the selected one.
    let out = raw(
        addr,
        &[
            resp(&["SELECT", "3"]),
            resp(&["DBSIZE"]),
            resp(&["SET", "x", "1"]),
            resp(&["DBSIZE"]),
            resp(&["FLUSHDB"]),
            resp(&["DBSIZE"]),
            resp(&["SELECT", "0"]),
            resp(&["DBSIZE"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        out,
        b"+OK\r\n:0\r\n+OK\r\n:1\r\n+OK\r\n:0\r\n+OK\r\n:501\r\n"
    );
    let n: i64 = c.del(&["key:1", "key:2", "nope"]).await.unwrap();
    assert_eq!(n, 2);
    let _: () = c.rename("key:3", "renamed").await.unwrap();
    let t: String = redis::cmd("TYPE")
        .arg("renamed")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(t, "string");
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_and_client_commands() {
    let (_s, addr) = start("127.0.1.14", &[]);
    let out = raw(
        addr,
        &[
            resp(&["CLIENT", "SETNAME", "worker-1"]),
            resp(&["CLIENT", "GETNAME"]),
            resp(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
            resp(&["ECHO", "hello"]),
            resp(&["PING", "x"]),
            resp(&["QUIT"]),
            resp(&["PING"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "+OK\r\n$8\r\nworker-1\r\n+OK\r\n$5\r\nhello\r\n$1\r\nx\r\n+OK\r\n",
        "QUIT replies OK and closes before the next PING"
    );
    let mut c = client(addr).await;
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("lister")
        .query_async(&mut c)
        .await
        .unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(list.contains("name=lister"), "{list}");
    assert!(
        list.contains("lib-name=redis-rs"),
        "redis-rs sends CLIENT SETINFO: {list}"
    );
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut c)
        .await
        .unwrap();
    // CLIENT KILL ID closes that connection.
    let mut victim = TcpStream::connect(addr).await.unwrap();
    victim.write_all(&resp(&["CLIENT", "ID"])).await.unwrap();
    let reply = read_some(&mut victim, Duration::from_millis(200)).await;
    let victim_id = String::from_utf8_lossy(&reply[1..reply.len() - 2]).to_string();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&victim_id)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    assert!(closed(&mut victim, Duration::from_secs(1)).await);
    assert!(id > 0);
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(info.contains("redis_version:7.2."), "{info}");
    let count: i64 = redis::cmd("COMMAND")
        .arg("COUNT")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(count > 50);
    let t: Vec<String> = redis::cmd("TIME").query_async(&mut c).await.unwrap();
    assert_eq!(t.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_exec() {
    let (_s, addr) = start("127.0.1.15", &[]);
    let out = raw(
        addr,
        &[
            resp(&["MULTI"]),
            resp(&["SET", "a", "1"]),
            resp(&["INCR", "a"]),
            resp(&["GET", "a"]),
            resp(&["EXEC"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        out,
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"
    );
    let out = raw(
        addr,
        &[
            resp(&["MULTI"]),
            resp(&["SET", "b", "1"]),
            resp(&["NOSUCH"]),
            resp(&["EXEC"]),
            resp(&["GET", "b"]),
        ]
        .concat(),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.ends_with("-EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n"),
        "{text}"
    );
    // A runtime error inside EXEC does not stop the rest.
    let out = raw(
        addr,
        &[
            resp(&["SET", "s", "x"]),
            resp(&["MULTI"]),
            resp(&["INCR", "s"]),
            resp(&["SET", "c", "ok"]),
            resp(&["EXEC"]),
        ]
        .concat(),
    )
    .await;
    assert!(
        out.ends_with(b"*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // redis-rs atomic pipelines use MULTI/EXEC.
    let mut c = client(addr).await;
    let (x, y): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("cnt")
        .cmd("INCR")
        .arg("cnt")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!((x, y), (1, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_plain_side_by_side() {
    let t = common::start_tls("127.0.1.16", "serve-tls", true, &[]);
    assert_eq!(t.server.listeners().len(), 2);
    let (plain, tls) = (t.plain.expect("plain listener"), t.tls);
    let client = common::tls_client(tls, &t.ca);
    let mut c = common::connect_with(&client).await.unwrap();
    let _: () = c.set("secure", "yes").await.unwrap();
    let mut p = common::client(plain).await;
    let v: String = p.get("secure").await.unwrap();
    assert_eq!(v, "yes", "plain and TLS share the keyspace");
    // Plaintext on the TLS port: no Redis reply, the connection closes.
    let mut s = TcpStream::connect(tls).await.unwrap();
    s.write_all(b"PING\r\n").await.unwrap();
    let out = read_some(&mut s, Duration::from_millis(500)).await;
    assert!(!out.starts_with(b"+PONG"), "{out:?}");
    // TLS on the plain port never completes the handshake: like redis-server, the engine reads the
    // ClientHello as an inline request whose newline a NUL byte hides, and answers nothing.
    let bad = common::tls_client(plain, &t.ca);
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        bad.get_multiplexed_async_connection(),
    )
    .await;
    assert!(
        !matches!(r, Ok(Ok(_))),
        "TLS client on plain port must fail"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_the_server() {
    let (server, addr) = start("127.0.1.17", &[]);
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let waiter = tokio::spawn(server.wait());
    let _ = raw(addr, &resp(&["SHUTDOWN", "NOSAVE"])).await;
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("server stops")
        .unwrap();
    assert!(
        closed(&mut idle, Duration::from_secs(2)).await,
        "open clients are closed"
    );
    let e = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_timeout_closes_clients() {
    let (_s, addr) = start("127.0.1.18", &[("timeout", "1")]);
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert!(closed(&mut s, Duration::from_secs(4)).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn config_set_port_rebinds() {
    let (server, addr) = start("127.0.1.19", &[]);
    let new_port = common::free_port("127.0.1.19");
    let out = raw(
        addr,
        &resp(&["CONFIG", "SET", "port", &new_port.to_string()]),
    )
    .await;
    assert_eq!(out, b"+OK\r\n");
    let new_addr: std::net::SocketAddr = format!("127.0.1.19:{new_port}").parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        if raw(new_addr, b"PING\r\n").await == b"+PONG\r\n" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new port never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The old port is closed: a real refusal.
    let e = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(server.listeners().iter().all(|l| l.addr.port() == new_port));
}

#[tokio::test(flavor = "multi_thread")]
async fn maxclients_over_tls_closes_without_writing() {
    let t = common::start_tls("127.0.1.20", "serve-tls-max", false, &[("maxclients", "1")]);
    let client = common::tls_client(t.tls, &t.ca);
    let mut first = common::connect_with(&client).await.unwrap();
    let _: () = redis::cmd("PING").query_async(&mut first).await.unwrap();
    // The second TLS client: the server closes before the handshake, writing nothing.
    let mut raw_tls = TcpStream::connect(t.tls).await.unwrap();
    let out = common::read_window(&mut raw_tls, Duration::from_millis(500)).await;
    assert!(out.is_empty(), "nothing is written over TLS: {out:?}");
    assert!(closed(&mut raw_tls, Duration::from_secs(1)).await);
}
