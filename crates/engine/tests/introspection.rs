//! MONITOR, CLIENT UNBLOCK, MEMORY USAGE and the gated DEBUG command.

mod common;

use std::time::Duration;

use common::{raw, read_some, resp, start};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn monitor_sees_commands_with_auth_redacted() {
    let (_s, addr) = start("127.0.5.1", &[]);
    let mut mon = TcpStream::connect(addr).await.unwrap();
    mon.write_all(&resp(&["MONITOR"])).await.unwrap();
    assert_eq!(
        read_some(&mut mon, Duration::from_millis(200)).await,
        b"+OK\r\n"
    );
    let _ = raw(
        addr,
        &[resp(&["SET", "k", "a b\n"]), resp(&["AUTH", "secret"])].concat(),
    )
    .await;
    let text =
        String::from_utf8_lossy(&read_some(&mut mon, Duration::from_millis(300)).await).to_string();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with('+') && lines[0].ends_with(r#"] "SET" "k" "a b\n""#),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("[0 127.0.0.1:") || lines[0].contains("[0 127.0.5.1"),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with(r#""AUTH" "(redacted)""#), "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_unblock_as_timeout_or_error() {
    let (_s, addr) = start("127.0.5.2", &[]);
    for (mode, expected) in [
        ("TIMEOUT", "*-1\r\n"),
        (
            "ERROR",
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
        ),
    ] {
        let mut b = TcpStream::connect(addr).await.unwrap();
        b.write_all(&resp(&["CLIENT", "ID"])).await.unwrap();
        let id = String::from_utf8_lossy(&read_some(&mut b, Duration::from_millis(200)).await)
            .trim_start_matches(':')
            .trim()
            .to_string();
        b.write_all(&resp(&["BLPOP", "nothing", "0"]))
            .await
            .unwrap();
        common::wait_blocked_clients(addr, 1).await;
        let out = raw(addr, &resp(&["CLIENT", "UNBLOCK", &id, mode])).await;
        assert_eq!(out, b":1\r\n");
        let got = String::from_utf8_lossy(&read_some(&mut b, Duration::from_millis(300)).await)
            .to_string();
        assert_eq!(got, expected);
    }
    let out = raw(addr, &resp(&["CLIENT", "UNBLOCK", "999999"])).await;
    assert_eq!(out, b":0\r\n", "a client that is not blocked");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_usage_and_debug_gate() {
    let (_s, addr) = start("127.0.5.3", &[]);
    let out = raw(
        addr,
        &[
            resp(&["SET", "foo", "bar"]),
            resp(&["MEMORY", "USAGE", "foo"]),
            resp(&["MEMORY", "USAGE", "none"]),
        ]
        .concat(),
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(
        text.starts_with("+OK\r\n:") && text.ends_with("$-1\r\n"),
        "{text}"
    );
    let out = raw(addr, &resp(&["DEBUG", "SLEEP", "0"])).await;
    assert!(String::from_utf8_lossy(&out).starts_with("-ERR DEBUG command not allowed."));
    let (_s2, addr2) = start("127.0.5.4", &[("enable-debug-command", "yes")]);
    let out = raw(
        addr2,
        &[
            resp(&["DEBUG", "ERROR", "LOADING fake"]),
            resp(&["DEBUG", "SLEEP", "0"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(out, b"-LOADING fake\r\n+OK\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn tracking_off_and_lolwut() {
    let (_s, addr) = start("127.0.5.5", &[]);
    let out = raw(
        addr,
        &[resp(&["CLIENT", "GETREDIR"]), resp(&["LOLWUT"])].concat(),
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(text.starts_with(":-1\r\n$"), "{text}");
    assert!(text.contains("Redis ver. 7.2."), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_pause_holds_writes_until_it_ends() {
    let (_s, addr) = start("127.0.5.6", &[]);
    let out = raw(addr, &resp(&["CLIENT", "PAUSE", "400", "WRITE"])).await;
    assert_eq!(out, b"+OK\r\n");
    // Reads go on; a write waits for the pause.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&resp(&["GET", "k"])).await.unwrap();
    assert_eq!(
        read_some(&mut s, Duration::from_millis(100)).await,
        b"$-1\r\n"
    );
    let t = std::time::Instant::now();
    s.write_all(&resp(&["SET", "k", "v"])).await.unwrap();
    let out = read_some(&mut s, Duration::from_millis(600)).await;
    assert_eq!(out, b"+OK\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "the write waited: {:?}",
        t.elapsed()
    );
    // CLIENT UNPAUSE (not a write) ends a long WRITE pause at once.
    let _ = raw(addr, &resp(&["CLIENT", "PAUSE", "100000", "WRITE"])).await;
    let mut w = TcpStream::connect(addr).await.unwrap();
    w.write_all(&resp(&["SET", "k", "w"])).await.unwrap();
    assert!(
        common::read_window(&mut w, Duration::from_millis(200))
            .await
            .is_empty(),
        "the write waits"
    );
    let out = raw(addr, &resp(&["CLIENT", "UNPAUSE"])).await;
    assert_eq!(out, b"+OK\r\n");
    assert_eq!(
        read_some(&mut w, Duration::from_millis(300)).await,
        b"+OK\r\n"
    );
    let out = raw(addr, &resp(&["CLIENT", "PAUSE", "abc"])).await;
    assert_eq!(out, b"-ERR timeout is not an integer or out of range\r\n");
}

/// id, time, microseconds, arguments, client address, client name.
type SlowEntry = (i64, i64, i64, Vec<Vec<u8>>, String, String);

#[tokio::test(flavor = "multi_thread")]
async fn slowlog_records_commands_newest_first_with_redaction() {
    let (_s, addr) = start(
        "127.0.5.20",
        &[("slowlog-log-slower-than", "0"), ("slowlog-max-len", "4")],
    );
    let mut c = common::client(addr).await;
    let _: () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: Option<String> = redis::cmd("GET")
        .arg("k\u{0d80}")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: redis::RedisResult<()> = redis::cmd("AUTH").arg("secret").query_async(&mut c).await;
    let log: Vec<SlowEntry> = redis::cmd("SLOWLOG")
        .arg("GET")
        .query_async(&mut c)
        .await
        .unwrap();
    let commands: Vec<Vec<Vec<u8>>> = log.iter().map(|e| e.3.clone()).collect();
    assert_eq!(
        commands,
        vec![
            vec![b"AUTH".to_vec(), b"(redacted)".to_vec()],
            vec![b"GET".to_vec(), "k\u{0d80}".as_bytes().to_vec()],
            vec![b"SLOWLOG".to_vec(), b"RESET".to_vec()],
        ]
    );
    assert!(log[0].0 > log[1].0, "ids increase");
    assert!(log[0].4.starts_with("127.0.0.1:") || log[0].4.starts_with("127.0.5.20"));
    let len: i64 = redis::cmd("SLOWLOG")
        .arg("LEN")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 4, "the SLOWLOG GET itself was logged");
    let one: Vec<redis::Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let err = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-2)
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("count should be greater than or equal to -1"),
        "{err}"
    );
    // Off: nothing more is logged.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg("-1")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: Option<String> = redis::cmd("GET")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    let len: i64 = redis::cmd("SLOWLOG")
        .arg("LEN")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_monitor_sees_a_slow_command() {
    let (_s, addr) = start("127.0.5.21", &[("enable-debug-command", "yes")]);
    let mut c = common::client(addr).await;
    let latest: Vec<redis::Value> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(latest.is_empty());
    let doctor: String = redis::cmd("LATENCY")
        .arg("DOCTOR")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        doctor.contains("Latency monitoring is disabled"),
        "{doctor}"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-monitor-threshold")
        .arg("50")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.08")
        .query_async(&mut c)
        .await
        .unwrap();
    let latest: Vec<(String, i64, i64, i64)> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    assert_eq!(latest[0].0, "command");
    assert!(latest[0].2 >= 80 && latest[0].3 >= 80, "{latest:?}");
    let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    let graph: String = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(graph.starts_with("command - high "), "{graph}");
    let err = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("nope")
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("No samples available for event 'nope'"),
        "{err}"
    );
    let n: i64 = redis::cmd("LATENCY")
        .arg("RESET")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let ok: String = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ok, "OK");
    let err = redis::cmd("REPLICAOF")
        .arg("localhost")
        .arg("x")
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Invalid master port"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn command_list_and_getkeys_follow_key_specs() {
    let (_s, addr) = start("127.0.5.22", &[]);
    let mut c = common::client(addr).await;
    let all: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        all.contains(&"config|get".to_string()),
        "subcommands listed"
    );
    assert!(all.contains(&"get".to_string()));
    let list_cat: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .arg("FILTERBY")
        .arg("ACLCAT")
        .arg("list")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(list_cat.len() > 15 && list_cat.contains(&"lpop".to_string()));
    let module: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .arg("FILTERBY")
        .arg("MODULE")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(module.is_empty());
    let l: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .arg("FILTERBY")
        .arg("PATTERN")
        .arg("l*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(l.iter().all(|n| n.starts_with('l')) && l.contains(&"lpop".to_string()));
    for (cmd, keys) in [
        (vec!["MSET", "a", "1", "b", "2"], vec!["a", "b"]),
        (
            vec!["ZUNIONSTORE", "d", "2", "x", "y", "WEIGHTS", "1", "2"],
            vec!["d", "x", "y"],
        ),
        (
            vec!["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
            vec!["s1", "s2"],
        ),
        (vec!["SORT", "k", "STORE", "dst"], vec!["k", "dst"]),
    ] {
        let got: Vec<String> = redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg(&cmd)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(got, keys, "{cmd:?}");
    }
    for (cmd, text) in [
        (
            vec!["GET"],
            "wrong number of arguments for 'command|getkeys' command",
        ),
        (vec!["NOPE", "a"], "Invalid command specified"),
        (
            vec!["GET", "a", "b"],
            "Invalid number of arguments specified for command",
        ),
        (vec!["PING", "x"], "The command has no key arguments"),
    ] {
        let err = redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg(&cmd)
            .query_async::<()>(&mut c)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(text), "{cmd:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_answers_like_a_standalone_server() {
    let (_s, addr) = start("127.0.5.23", &[]);
    let mut c = common::client(addr).await;
    let err = redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("This instance has cluster support disabled"),
        "{err}"
    );
    let err = redis::cmd("CLUSTER")
        .arg("FOO")
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown subcommand 'FOO'. Try CLUSTER HELP."),
        "{err}"
    );
    // The command exists, so ACL rules may name it (redis-py's own tests do).
    let ok: String = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("k")
        .arg("on")
        .arg("nopass")
        .arg("+cluster")
        .arg("+get")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ok, "OK");
}

/// DEBUG PAUSE-CRON 1 stops the engine's cron (the active expiry cycle with it) until
/// PAUSE-CRON 0, as Redis's `pause_cron`; INFO memory reports `mem_not_counted_for_evict` (0:
/// eviction counts all of `used_memory`), which the Tcl suite reads.
#[tokio::test(flavor = "multi_thread")]
async fn debug_pause_cron_holds_active_expiry() {
    let (_s, addr) = start("127.0.5.61", &[("enable-debug-command", "yes")]);
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut call = async |args: &[&str]| {
        c.write_all(&resp(args)).await.unwrap();
        String::from_utf8_lossy(&common::read_frames(&mut c, 1).await).into_owned()
    };
    assert_eq!(call(&["DEBUG", "PAUSE-CRON", "1"]).await, "+OK\r\n");
    assert_eq!(call(&["SET", "k", "v", "PX", "1"]).await, "+OK\r\n");
    // Several cron ticks (10 per second): nothing removes the key while paused.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(call(&["DBSIZE"]).await, ":1\r\n");
    assert_eq!(call(&["DEBUG", "PAUSE-CRON", "0"]).await, "+OK\r\n");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while call(&["DBSIZE"]).await != ":0\r\n" {
        assert!(tokio::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let info = call(&["INFO", "memory"]).await;
    assert!(
        info.contains("\r\nmem_not_counted_for_evict:0\r\n"),
        "{info}"
    );
}

/// MONITOR as redis-server 7.0.15 shows commands (its tests/unit/introspection.tcl): once they ran,
/// so a transaction's commands come between MULTI and EXEC; a script before the commands it runs,
/// which come from `lua`; administrative commands (CONFIG) never; secrets as `"(redacted)"`.
#[tokio::test(flavor = "multi_thread")]
async fn monitor_orders_and_hides_like_redis() {
    let (_s, addr) = start("127.0.5.7", &[]);
    let mut mon = TcpStream::connect(addr).await.unwrap();
    mon.write_all(&resp(&["MONITOR"])).await.unwrap();
    assert_eq!(
        read_some(&mut mon, Duration::from_millis(200)).await,
        b"+OK\r\n"
    );
    let _ = raw(
        addr,
        &[
            resp(&["MULTI"]),
            resp(&["SET", "foo", "bar"]),
            resp(&["EXEC"]),
            resp(&["CONFIG", "SET", "maxmemory", "0"]),
            resp(&[
                "EVAL",
                "redis.call('set',KEYS[1],ARGV[1])",
                "1",
                "foo",
                "baz",
            ]),
            resp(&["HELLO", "2", "AUTH", "default", "secret"]),
            resp(&["MULTI"]),
            resp(&["NOSUCHCOMMAND"]),
            resp(&["EXEC"]),
        ]
        .concat(),
    )
    .await;
    let mut text = String::new();
    for _ in 0..20 {
        text.push_str(&String::from_utf8_lossy(
            &read_some(&mut mon, Duration::from_millis(100)).await,
        ));
        if text.matches("\r\n").count() >= 8 {
            break;
        }
    }
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let tails: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once("] ").map_or(*l, |(_, t)| t))
        .collect();
    assert_eq!(
        tails,
        [
            r#""MULTI""#,
            r#""SET" "foo" "bar""#,
            r#""EXEC""#,
            r#""EVAL" "redis.call('set',KEYS[1],ARGV[1])" "1" "foo" "baz""#,
            r#""set" "foo" "baz""#,
            r#""HELLO" "2" "AUTH" "(redacted)" "(redacted)""#,
            r#""MULTI""#,
            r#""EXEC""#,
        ],
        "{text}"
    );
    assert!(lines[4].contains(" lua] "), "{}", lines[4]);
    assert!(!lines[3].contains(" lua] "), "{}", lines[3]);
}

/// CLIENT LIST's subscription counts, queued-command count and `P`, `x`, `b` flags, in Redis
/// 7.0's order (`networking.c`'s catClientInfoString).
#[tokio::test(flavor = "multi_thread")]
async fn client_list_shows_subscriptions_transactions_and_blocking() {
    let (_s, addr) = start("127.0.5.8", &[]);
    let field = |line: &str, name: &str| -> String {
        line.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    let list = || async move {
        let reply = raw(addr, &resp(&["CLIENT", "LIST"])).await;
        String::from_utf8_lossy(&reply).to_string()
    };
    let mut sub = TcpStream::connect(addr).await.unwrap();
    sub.write_all(&[resp(&["SUBSCRIBE", "a", "b"]), resp(&["PSUBSCRIBE", "c*"])].concat())
        .await
        .unwrap();
    read_some(&mut sub, Duration::from_millis(200)).await;
    let mut tx = TcpStream::connect(addr).await.unwrap();
    tx.write_all(
        &[
            resp(&["MULTI"]),
            resp(&["SET", "k", "v"]),
            resp(&["GET", "k"]),
        ]
        .concat(),
    )
    .await
    .unwrap();
    read_some(&mut tx, Duration::from_millis(200)).await;
    let mut blocked = TcpStream::connect(addr).await.unwrap();
    blocked
        .write_all(&resp(&["BLPOP", "nothing", "0"]))
        .await
        .unwrap();
    let mut text = String::new();
    for _ in 0..50 {
        text = list().await;
        // The client shows `cmd=blpop` as it runs the command, `b` once it waits.
        if text
            .lines()
            .any(|l| l.contains("cmd=blpop ") && l.contains(" flags=b "))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let line = |cmd: &str| -> String {
        text.lines()
            .find(|l| l.contains(&format!("cmd={cmd} ")))
            .unwrap_or_default()
            .to_string()
    };
    let s = line("psubscribe");
    assert_eq!(
        (
            field(&s, "flags"),
            field(&s, "sub"),
            field(&s, "psub"),
            field(&s, "ssub")
        ),
        ("P".into(), "2".into(), "1".into(), "0".into()),
        "{text}"
    );
    let t = text
        .lines()
        .find(|l| field(l, "flags") == "x")
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        (field(&t, "flags"), field(&t, "multi")),
        ("x".into(), "2".into()),
        "{text}"
    );
    let b = line("blpop");
    assert_eq!(
        (field(&b, "flags"), field(&b, "multi")),
        ("b".into(), "-1".into()),
        "{text}"
    );
}
