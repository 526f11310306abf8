//! The propagation feed against a table: command → the commands Redis 7.0 propagates, in effects
//! form. The same table is run against redis-server 7.0.15 (its AOF's incremental file, read after
//! each command) and against redlink's feed, so the table is checked on both sides. Absolute times
//! (13+ digit numbers) read as `<ms>`.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redlink_engine::propagate::Consumer;

mod common;

/// (command, what it propagates). Commands run in order on one connection, in database 0 unless a
/// SELECT says otherwise; each line of the expectation is one propagated command.
const TABLE: &[(&[&str], &[&str])] = &[
    (&["SET", "a", "1"], &["SELECT 0", "SET a 1"]),
    (&["SET", "a", "1", "EX", "100"], &["SET a 1 PXAT <ms>"]),
    (&["SET", "a", "2", "PX", "100000", "NX"], &[]),
    (
        &["SET", "a", "2", "PX", "100000", "XX", "GET"],
        &["SET a 2 PXAT <ms>"],
    ),
    (&["SET", "a", "3", "GET"], &["SET a 3"]),
    (&["SET", "a", "3", "KEEPTTL"], &["SET a 3 KEEPTTL"]),
    (&["SETEX", "b", "100", "v"], &["SET b v PXAT <ms>"]),
    (&["PSETEX", "b", "100000", "v"], &["SET b v PXAT <ms>"]),
    (&["GETEX", "b", "EX", "50"], &["PEXPIREAT b <ms>"]),
    (&["GETEX", "b", "PERSIST"], &["PERSIST b"]),
    (&["GETEX", "b"], &[]),
    (&["GETDEL", "b"], &["DEL b"]),
    (&["GETDEL", "b"], &[]),
    (&["EXPIRE", "a", "100"], &["PEXPIREAT a <ms>"]),
    (&["EXPIRE", "a", "100", "NX"], &[]),
    (&["EXPIRE", "a", "100", "XX"], &["PEXPIREAT a <ms> XX"]),
    (&["EXPIRE", "nokey", "100"], &[]),
    (&["EXPIRE", "a", "-1"], &["DEL a"]),
    (&["SET", "a", "1"], &["SET a 1"]),
    (&["PEXPIREAT", "a", "1"], &["DEL a"]),
    (&["INCRBYFLOAT", "f", "1.5"], &["SET f 1.5 KEEPTTL"]),
    (&["HINCRBYFLOAT", "h", "x", "2.5"], &["HSET h x 2.5"]),
    (&["SADD", "s", "a"], &["SADD s a"]),
    (&["SADD", "s", "a"], &[]),
    (&["SPOP", "s"], &["SREM s a"]),
    (&["SPOP", "s"], &[]),
    (&["SADD", "s", "a", "b"], &["SADD s a b"]),
    (&["SPOP", "s", "10"], &["DEL s"]),
    (&["SREM", "s", "nope"], &[]),
    (&["DEL", "nokey"], &[]),
    (&["RPUSH", "l", "1", "2", "3", "4"], &["RPUSH l 1 2 3 4"]),
    (&["BLPOP", "l", "0"], &["LPOP l"]),
    (&["BRPOP", "l", "0"], &["RPOP l"]),
    (
        &["BLMOVE", "l", "l2", "LEFT", "RIGHT", "0"],
        &["LMOVE l l2 LEFT RIGHT"],
    ),
    (
        &["BLMPOP", "0", "1", "l2", "LEFT", "COUNT", "5"],
        &["LPOP l2 1"],
    ),
    (&["LMPOP", "1", "l", "RIGHT", "COUNT", "3"], &["RPOP l 1"]),
    (&["LMPOP", "1", "l", "RIGHT"], &[]),
    (
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD z 1 a 2 b 3 c"],
    ),
    (&["BZPOPMIN", "z", "0"], &["ZPOPMIN z"]),
    (
        &["BZMPOP", "0", "1", "z", "MAX", "COUNT", "1"],
        &["ZPOPMAX z 1"],
    ),
    (&["ZMPOP", "1", "z", "MIN", "COUNT", "3"], &["ZPOPMIN z 1"]),
    (&["RPUSH", "l3", "a", "b"], &["RPUSH l3 a b"]),
    (&["RPOPLPUSH", "l3", "l4"], &["RPOPLPUSH l3 l4"]),
    (&["APPEND", "x", "1"], &["APPEND x 1"]),
    (&["DEL", "x", "l4", "nokey"], &["DEL x l4 nokey"]),
    (&["HSET", "h", "a", "1"], &["HSET h a 1"]),
    (&["HDEL", "h", "zz"], &[]),
    (&["PERSIST", "h"], &[]),
    (&["RENAME", "nope", "x"], &[]),
    (&["SET", "t", "v", "EXAT", "1"], &["SET t v PXAT 1000"]),
    (
        &["SET", "t", "v", "EX", "100"],
        &["MULTI", "DEL t", "SET t v PXAT <ms>", "EXEC"],
    ),
    (&["GET", "t"], &[]),
    (&["SELECT", "2"], &[]),
    (&["SET", "k", "v"], &["SELECT 2", "SET k v"]),
    (&["SELECT", "0"], &[]),
    (&["SET", "k", "v"], &["SELECT 0", "SET k v"]),
    (
        &[
            "EVAL",
            "redis.call('set','x','1') redis.call('incr','x')",
            "0",
        ],
        &["MULTI", "set x 1", "incr x", "EXEC"],
    ),
    (&["EVAL", "redis.call('set','x','1')", "0"], &["set x 1"]),
    (&["EVAL", "return redis.call('get','x')", "0"], &[]),
    (
        &[
            "EVAL",
            "redis.call('select','3') redis.call('set','y','1')",
            "0",
        ],
        &["SELECT 3", "set y 1"],
    ),
    (&["SET", "x", "1"], &["SELECT 0", "SET x 1"]),
    (&["MULTI"], &[]),
    (&["SET", "x", "1"], &[]),
    (&["INCR", "x"], &[]),
    (&["EXEC"], &["MULTI", "SET x 1", "INCR x", "EXEC"]),
    (&["MULTI"], &[]),
    (&["SET", "x", "5"], &[]),
    (&["EXEC"], &["SET x 5"]),
    (&["MULTI"], &[]),
    (&["GET", "x"], &[]),
    (&["EXEC"], &[]),
    (&["XADD", "st", "1-1", "f", "v"], &["XADD st 1-1 f v"]),
    (&["XADD", "st", "2-1", "f", "v"], &["XADD st 2-1 f v"]),
    (
        &["XGROUP", "CREATE", "st", "g", "0"],
        &["XGROUP CREATE st g 0"],
    ),
    (
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "st",
            ">",
        ],
        &["XCLAIM st g c 0 1-1 TIME <ms> RETRYCOUNT 1 FORCE JUSTID LASTID 1-1"],
    ),
    (
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "st",
            ">",
        ],
        &["XGROUP SETID st g 2-1 ENTRIESREAD 2"],
    ),
    (
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "st", "0"],
        &[],
    ),
    (
        &["XCLAIM", "st", "g", "c2", "0", "1-1"],
        &["XCLAIM st g c2 0 1-1 TIME <ms> RETRYCOUNT 3 FORCE JUSTID LASTID 2-1"],
    ),
    (
        &["XAUTOCLAIM", "st", "g", "c3", "0", "0"],
        &["XCLAIM st g c3 0 1-1 TIME <ms> RETRYCOUNT 4 FORCE JUSTID LASTID 2-1"],
    ),
    (&["XACK", "st", "g", "1-1"], &["XACK st g 1-1"]),
    (
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function(k,a) return redis.call('incr', k[1]) end)",
        ],
        &[
            "FUNCTION LOAD #!lua name=lib\nredis.register_function('f', function(k,a) return redis.call('incr', k[1]) end)",
        ],
    ),
    (&["FCALL", "f", "1", "x"], &["incr x"]),
    (&["FUNCTION", "DELETE", "lib"], &["FUNCTION DELETE lib"]),
    (&["FUNCTION", "FLUSH"], &["FUNCTION FLUSH"]),
    // SETBIT and BITFIELD count (and propagate) only what created the string, grew it, or
    // changed a bit.
    (&["SETBIT", "bits", "0", "0"], &["SETBIT bits 0 0"]),
    (&["SETBIT", "bits", "0", "0"], &[]),
    (&["SETBIT", "bits", "0", "1"], &["SETBIT bits 0 1"]),
    (&["SETBIT", "bits", "0", "1"], &[]),
    (&["SETBIT", "bits", "20", "0"], &["SETBIT bits 20 0"]),
    (
        &["BITFIELD", "bf", "SET", "i5", "0", "0"],
        &["BITFIELD bf SET i5 0 0"],
    ),
    (&["BITFIELD", "bf", "SET", "i5", "0", "0"], &[]),
    (
        &["BITFIELD", "bf", "SET", "i5", "0", "1"],
        &["BITFIELD bf SET i5 0 1"],
    ),
    (&["SWAPDB", "0", "1"], &["SWAPDB 0 1"]),
    (&["FLUSHDB"], &["FLUSHDB"]),
    (&["FLUSHALL"], &["FLUSHALL"]),
    (&["FLUSHALL"], &["FLUSHALL"]),
];

/// Parse RESP command arrays into one line per command, absolute times as `<ms>`.
fn lines(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    let line_end = |i: usize| {
        i + bytes[i..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("CRLF")
    };
    while i < bytes.len() {
        assert_eq!(bytes[i], b'*', "a command array at {i}: {:?}", &bytes[i..]);
        let e = line_end(i);
        let n: usize = std::str::from_utf8(&bytes[i + 1..e])
            .unwrap()
            .parse()
            .unwrap();
        i = e + 2;
        let mut words = Vec::new();
        for _ in 0..n {
            let e = line_end(i);
            let len: usize = std::str::from_utf8(&bytes[i + 1..e])
                .unwrap()
                .parse()
                .unwrap();
            let w = String::from_utf8_lossy(&bytes[e + 2..e + 2 + len]).to_string();
            i = e + 2 + len + 2;
            let timeish = w.len() >= 12 && w.bytes().all(|b| b.is_ascii_digit());
            words.push(if timeish { "<ms>".to_string() } else { w });
        }
        out.push(words.join(" "));
    }
    out
}

/// Runs the table on a connection, reading what each command propagated with `take`.
async fn run_table(
    c: &mut redis::aio::MultiplexedConnection,
    mut take: impl FnMut() -> Vec<u8>,
) -> Vec<String> {
    // No active expiry: a key the table sets already expired (EXAT 1) must be deleted by the next
    // row's lazy expiry, as recorded, not by an expiry cycle that happens to run in between.
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query_async(c)
        .await
        .expect("DEBUG SET-ACTIVE-EXPIRE 0");
    take();
    let mut failures = Vec::new();
    for (cmd, expected) in TABLE {
        let mut r = redis::cmd(cmd[0]);
        for a in &cmd[1..] {
            r.arg(*a);
        }
        let _: redis::Value = r.query_async(c).await.unwrap_or(redis::Value::Nil);
        let got = lines(&take());
        let want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        if got != want {
            failures.push(format!("{cmd:?}: expected {want:?}, got {got:?}"));
        }
    }
    failures
}

struct Capture(Mutex<Vec<u8>>);

impl Consumer for Capture {
    fn append(&self, bytes: &[u8], _offset: u64) {
        self.0.lock().extend_from_slice(bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlink_propagates_the_table() {
    let (server, addr) = common::start("127.0.0.1", &[("enable-debug-command", "yes")]);
    let capture = Arc::new(Capture(Mutex::new(Vec::new())));
    let feed = &server.engine().store.feed;
    let id = feed.subscribe(capture.clone());
    let mut c = common::client(addr).await;
    let failures = run_table(&mut c, || std::mem::take(&mut *capture.0.lock())).await;
    feed.unsubscribe(id);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The table is redis-server 7.0.15's behaviour: its AOF shows the same (skips without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_is_what_redis_7_0_writes_to_its_aof() {
    let Some(redis) = common::redis_server::RedisServer::start(&[
        ("appendonly", "yes"),
        ("appendfsync", "always"),
        ("enable-debug-command", "yes"),
    ]) else {
        return;
    };
    let mut c = common::client(redis.addr).await;
    let incr = redis
        .dir
        .join("appendonlydir")
        .join("appendonly.aof.1.incr.aof");
    let mut seen = 0;
    let failures = run_table(&mut c, || {
        // Redis writes the AOF before replying; allow the file system a moment anyway.
        std::thread::sleep(Duration::from_millis(5));
        let all = std::fs::read(&incr).unwrap_or_default();
        let new = all[seen.min(all.len())..].to_vec();
        seen = all.len();
        new
    })
    .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// RESTORE with a relative TTL propagates with the absolute time and ABSTTL (7.0's restoreCommand);
/// run on a server whose propagated bytes `take` returns.
async fn restore_is_absolute(
    c: &mut redis::aio::MultiplexedConnection,
    mut take: impl FnMut() -> Vec<u8>,
) {
    let _: () = redis::cmd("SET")
        .arg("src")
        .arg("v")
        .query_async(c)
        .await
        .unwrap();
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query_async(c).await.unwrap();
    take();
    let _: () = redis::cmd("RESTORE")
        .arg("r1")
        .arg(100000)
        .arg(&payload)
        .query_async(c)
        .await
        .unwrap();
    let lossy = String::from_utf8_lossy(&payload).to_string();
    assert_eq!(
        lines(&take()),
        vec![format!("RESTORE r1 <ms> {lossy} ABSTTL")]
    );
    let _: () = redis::cmd("RESTORE")
        .arg("r2")
        .arg(0)
        .arg(&payload)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(lines(&take()), vec![format!("RESTORE r2 0 {lossy}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_propagates_an_absolute_ttl_on_both_servers() {
    let (server, addr) = common::start("127.0.0.1", &[("enable-debug-command", "yes")]);
    let capture = Arc::new(Capture(Mutex::new(Vec::new())));
    let id = server.engine().store.feed.subscribe(capture.clone());
    let mut c = common::client(addr).await;
    restore_is_absolute(&mut c, || std::mem::take(&mut *capture.0.lock())).await;
    server.engine().store.feed.unsubscribe(id);
    let Some(redis) = common::redis_server::RedisServer::start(&[
        ("appendonly", "yes"),
        ("appendfsync", "always"),
        ("enable-debug-command", "yes"),
    ]) else {
        return;
    };
    let mut c = common::client(redis.addr).await;
    let incr = redis
        .dir
        .join("appendonlydir")
        .join("appendonly.aof.1.incr.aof");
    let mut seen = 0;
    restore_is_absolute(&mut c, || {
        std::thread::sleep(Duration::from_millis(5));
        let all = std::fs::read(&incr).unwrap_or_default();
        let new = all[seen.min(all.len())..].to_vec();
        seen = all.len();
        new
    })
    .await;
}

/// A feed reader that is the replication stream (it gets PUBLISH; the AOF does not).
struct ReplicaCapture(Mutex<Vec<u8>>);

impl Consumer for ReplicaCapture {
    fn append(&self, bytes: &[u8], _offset: u64) {
        self.0.lock().extend_from_slice(bytes);
    }

    fn replication(&self) -> bool {
        true
    }
}

/// PUBLISH reaches replicas after a SELECT of the publisher's database and, inside a transaction,
/// in the transaction's order (Redis 7.0's `PROPAGATE_REPL`; its tests/unit/multi.tcl "MULTI
/// propagation of PUBLISH"); the AOF gets the same stream without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_goes_to_replicas_in_order_and_not_to_the_aof() {
    let (server, addr) = common::start("127.0.0.1", &[]);
    let replica = Arc::new(ReplicaCapture(Mutex::new(Vec::new())));
    let aof = Arc::new(Capture(Mutex::new(Vec::new())));
    let feed = &server.engine().store.feed;
    let (r, a) = (feed.subscribe(replica.clone()), feed.subscribe(aof.clone()));
    let mut c = common::client(addr).await;
    let run = |args: &'static [&'static str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd
    };
    let _: i64 = run(&["PUBLISH", "bla", "bla"])
        .query_async(&mut c)
        .await
        .expect("PUBLISH");
    assert_eq!(
        lines(&std::mem::take(&mut *replica.0.lock())),
        ["SELECT 0", "PUBLISH bla bla"]
    );
    assert_eq!(lines(&std::mem::take(&mut *aof.0.lock())), ["SELECT 0"]);
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg("1")
        .cmd("PUBLISH")
        .arg("ch")
        .arg("m")
        .cmd("SET")
        .arg("b")
        .arg("2")
        .query_async(&mut c)
        .await
        .expect("MULTI/EXEC");
    assert_eq!(
        lines(&std::mem::take(&mut *replica.0.lock())),
        ["MULTI", "SET a 1", "PUBLISH ch m", "SET b 2", "EXEC"]
    );
    assert_eq!(
        lines(&std::mem::take(&mut *aof.0.lock())),
        ["MULTI", "SET a 1", "SET b 2", "EXEC"]
    );
    feed.unsubscribe(r);
    feed.unsubscribe(a);
}
