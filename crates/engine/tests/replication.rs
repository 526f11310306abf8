//! Replication between engines and with redis-server 7.0.15: full synchronisation of every data
//! type, the command stream (databases, expiries, scripts, transactions), WAIT, read-only replicas,
//! ROLE / INFO replication, partial resynchronisation after a cut link (and a full one when the
//! backlog is too small), promotion with PSYNC2 continuation, and bad input (non-loopback primary,
//! nobody listening, a primary that sends garbage).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::redis_server::RedisServer;
use common::reply::run;
use redis::Value;
use redis::aio::MultiplexedConnection;

/// A reply as text: status and bulk strings as they are, integers in decimal, nil as `(nil)`,
/// errors as `CODE detail`.
fn show(r: Result<Value, String>) -> String {
    match r {
        Ok(v) => text(&v),
        Err(e) => e,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Okay => "OK".into(),
        Value::SimpleString(s) => s.clone(),
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Int(i) => i.to_string(),
        Value::Nil => "(nil)".into(),
        other => format!("{other:?}"),
    }
}

async fn q(c: &mut MultiplexedConnection, args: &[&str]) -> String {
    show(run(c, args).await)
}

/// Every key of every database, type-aware, as comparable text (DUMP payloads differ between
/// encodings only where redlink and redis-server choose different ones, so values are read).
async fn dataset(addr: SocketAddr) -> Vec<String> {
    let mut c = common::client(addr).await;
    let mut out = Vec::new();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT")
            .arg(db)
            .query_async(&mut c)
            .await
            .unwrap();
        let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut c)
            .await
            .unwrap();
        keys.sort();
        for key in keys {
            let t: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            let v: Value = match t.as_str() {
                "string" => {
                    let v: Vec<u8> = redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    if v.starts_with(b"HYLL") {
                        // HyperLogLogs by their count: redlink's PFADD keeps a dense
                        // representation where redis-server's stays sparse (same estimate).
                        redis::cmd("PFCOUNT")
                            .arg(&key)
                            .query_async(&mut c)
                            .await
                            .unwrap()
                    } else {
                        Value::BulkString(v)
                    }
                }
                "list" => redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
                    .unwrap(),
                "set" => {
                    let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    m.sort();
                    Value::Array(m.into_iter().map(Value::BulkString).collect())
                }
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
                    .unwrap(),
                "hash" => {
                    let mut m: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    m.sort();
                    Value::Array(
                        m.into_iter()
                            .flat_map(|(k, v)| [Value::BulkString(k), Value::BulkString(v)])
                            .collect(),
                    )
                }
                "stream" => {
                    let entries: Value = redis::cmd("XRANGE")
                        .arg(&key)
                        .arg("-")
                        .arg("+")
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    // Groups without `entries-read` and `lag`: redis-server 7.0.15 propagates
                    // XREADGROUP as XCLAIM ... LASTID, which leaves a replica's counter unknown
                    // (nil), so a redis-server replica differs from its primary there too.
                    let groups: Vec<Vec<Value>> = redis::cmd("XINFO")
                        .arg("GROUPS")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    let groups = Value::Array(
                        groups
                            .into_iter()
                            .map(|g| Value::Array(g.into_iter().take(8).collect()))
                            .collect(),
                    );
                    Value::Array(vec![entries, groups])
                }
                other => panic!("unexpected type {other}"),
            };
            let ttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            // Expiries compare to the second (the two sides read them at different instants).
            let ttl = if ttl > 0 { (ttl + 500) / 1000 } else { ttl };
            out.push(format!(
                "db{db} {} {t} ttl~{ttl}s {v:?}",
                String::from_utf8_lossy(&key)
            ));
        }
    }
    out
}

/// Wait until both sides hold the same data.
async fn converge(primary: SocketAddr, replica: SocketAddr) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (a, b) = (dataset(primary).await, dataset(replica).await);
        if a == b {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let only_a: Vec<_> = a.iter().filter(|x| !b.contains(x)).take(5).collect();
            let only_b: Vec<_> = b.iter().filter(|x| !a.contains(x)).take(5).collect();
            panic!("replica differs: primary only {only_a:?}, replica only {only_b:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn info(addr: SocketAddr, field: &str) -> String {
    common::info_field(addr, "replication", field).await
}

async fn wait_link_up(replica: SocketAddr) {
    common::wait_until("master_link_status:up", || async {
        info(replica, "master_link_status").await == "up"
    })
    .await;
}

async fn replicaof(replica: SocketAddr, primary: SocketAddr) -> String {
    let mut c = common::client(replica).await;
    q(
        &mut c,
        &[
            "REPLICAOF",
            &primary.ip().to_string(),
            &primary.port().to_string(),
        ],
    )
    .await
}

/// Writes of every data type, several databases, expiries, a script and a transaction.
async fn write_everything(addr: SocketAddr, tag: &str) {
    let mut c = common::client(addr).await;
    let cmds: Vec<Vec<String>> = [
        "SET s:{t} hello",
        "SET n:{t} 10",
        "INCRBY n:{t} 5",
        "SET ex:{t} v EX 1000",
        "RPUSH l:{t} a b c d",
        "LPOP l:{t}",
        "SADD set:{t} x y z 1 2 3",
        "SPOP set:{t}",
        "ZADD z:{t} 1 a 2 b 3.5 c",
        "ZINCRBY z:{t} 10 a",
        "HSET h:{t} f1 v1 f2 v2",
        "HINCRBYFLOAT h:{t} fl 1.5",
        "XADD st:{t} 1-1 a 1",
        "XADD st:{t} 2-1 b 2",
        "XGROUP CREATE st:{t} g 0",
        "PFADD hll:{t} a b c",
        "SETBIT bits:{t} 7 1",
        "EXPIRE s:{t} 5000",
        "SELECT 3",
        "SET db3:{t} three",
        "LPUSH db3l:{t} q",
        "SELECT 0",
    ]
    .iter()
    .map(|l| l.replace("{t}", tag).split(' ').map(String::from).collect())
    .collect();
    for cmd in &cmds {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let r = run(&mut c, &args).await;
        assert!(r.is_ok(), "{args:?}: {r:?}");
    }
    let script =
        format!("redis.call('SET', 'lua:{tag}', 'x'); redis.call('INCR', 'luan:{tag}'); return 1");
    q(&mut c, &["EVAL", &script, "0"]).await;
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("SET")
        .arg(format!("tx1:{tag}"))
        .arg("1")
        .cmd("RPUSH")
        .arg(format!("txl:{tag}"))
        .arg("a");
    let _: Value = pipe.query_async(&mut c).await.unwrap();
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "1",
            "STREAMS",
            &format!("st:{tag}"),
            ">",
        ],
    )
    .await;
    q(&mut c, &["FUNCTION", "LOAD", "REPLACE", "#!lua name=lib\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'no-writes'}}"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_follows_a_redlink_primary() {
    let (_p, primary) = common::start("127.0.0.1", &[]);
    let (_r, replica) = common::start("127.0.0.1", &[]);
    // Data before the link: the full synchronisation carries it.
    write_everything(primary, "before").await;
    assert_eq!(replicaof(replica, primary).await, "OK");
    wait_link_up(replica).await;
    converge(primary, replica).await;
    // The stream: writes after the link.
    write_everything(primary, "after").await;
    let mut p = common::client(primary).await;
    q(&mut p, &["DEL", "s:before"]).await;
    q(&mut p, &["FLUSHDB"]).await;
    write_everything(primary, "again").await;
    converge(primary, replica).await;
    // Functions came along too.
    let mut r = common::client(replica).await;
    assert_eq!(q(&mut r, &["FCALL_RO", "f", "0"]).await, "1");

    // WAIT: one replica acknowledges.
    q(&mut p, &["SET", "waited", "1"]).await;
    assert_eq!(q(&mut p, &["WAIT", "1", "5000"]).await, "1");
    assert_eq!(q(&mut p, &["WAIT", "2", "200"]).await, "1");

    // Read-only replica, and CONFIG SET replica-read-only no lifts it.
    assert_eq!(
        q(&mut r, &["SET", "k", "v"]).await,
        "READONLY You can't write against a read only replica."
    );
    assert_eq!(q(&mut r, &["GET", "waited"]).await, "1");
    // Scripts too: the write inside fails with READONLY.
    let e = q(&mut r, &["EVAL", "return redis.call('SET', 'k', 'v')", "0"]).await;
    assert!(
        e.contains("READONLY You can't write against a read only replica."),
        "{e}"
    );
    assert_eq!(
        q(&mut r, &["EVAL", "return redis.call('GET', 'waited')", "0"]).await,
        "1"
    );
    q(&mut r, &["CONFIG", "SET", "replica-read-only", "no"]).await;
    assert_eq!(q(&mut r, &["SET", "local", "v"]).await, "OK");
    q(&mut r, &["CONFIG", "SET", "replica-read-only", "yes"]).await;

    // ROLE and INFO on both sides.
    let role = run(&mut r, &["ROLE"]).await.unwrap();
    let Value::Array(items) = role else {
        panic!("{role:?}")
    };
    assert_eq!(text(&items[0]), "slave");
    assert_eq!(text(&items[1]), "127.0.0.1");
    assert_eq!(items[2], Value::Int(primary.port() as i64));
    assert_eq!(text(&items[3]), "connected");
    let role = run(&mut p, &["ROLE"]).await.unwrap();
    let Value::Array(items) = role else {
        panic!("{role:?}")
    };
    assert_eq!(text(&items[0]), "master");
    let Value::Array(replicas) = &items[2] else {
        panic!()
    };
    assert_eq!(replicas.len(), 1);
    assert_eq!(info(primary, "connected_slaves").await, "1");
    let slave0 = info(primary, "slave0").await;
    assert!(
        slave0.starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            replica.port()
        )),
        "{slave0}"
    );
    assert_eq!(info(replica, "role").await, "slave");
    assert_eq!(
        info(replica, "master_port").await,
        primary.port().to_string()
    );
    assert_eq!(info(replica, "slave_read_only").await, "1");
    assert_eq!(
        info(replica, "master_replid").await,
        info(primary, "master_replid").await
    );
    common::wait_until("offsets equal", || async {
        info(replica, "slave_repl_offset").await == info(primary, "master_repl_offset").await
    })
    .await;
    let text: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut r)
        .await
        .unwrap();
    let fields: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .collect();
    assert_eq!(
        fields,
        [
            "role",
            "master_host",
            "master_port",
            "master_link_status",
            "master_last_io_seconds_ago",
            "master_sync_in_progress",
            "slave_read_repl_offset",
            "slave_repl_offset",
            "slave_priority",
            "slave_read_only",
            "replica_announced",
            "connected_slaves",
            "master_failover_state",
            "master_replid",
            "master_replid2",
            "master_repl_offset",
            "second_repl_offset",
            "repl_backlog_active",
            "repl_backlog_size",
            "repl_backlog_first_byte_offset",
            "repl_backlog_histlen",
        ]
    );
    // CLIENT LIST shows the link on both sides.
    let list = q(&mut r, &["CLIENT", "LIST", "TYPE", "master"]).await;
    assert!(list.contains("flags=M"), "{list}");
    let list = q(&mut p, &["CLIENT", "LIST", "TYPE", "replica"]).await;
    assert!(list.contains("flags=S"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiries_reach_the_replica_as_the_primarys_del() {
    let (_p, primary) = common::start("127.0.0.1", &[("enable-debug-command", "yes")]);
    let (_r, replica) = common::start("127.0.0.1", &[]);
    replicaof(replica, primary).await;
    wait_link_up(replica).await;
    let mut p = common::client(primary).await;
    let mut r = common::client(replica).await;
    // The primary expires only lazily here, so the replica has to wait for it.
    q(&mut p, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await;
    q(&mut p, &["SET", "short", "v", "PX", "300"]).await;
    q(&mut p, &["SET", "long", "v", "EX", "100"]).await;
    q(&mut p, &["WAIT", "1", "5000"]).await;
    assert_eq!(q(&mut r, &["GET", "short"]).await, "v");
    let pttl: i64 = q(&mut r, &["PTTL", "long"]).await.parse().unwrap();
    assert!(pttl > 90_000, "{pttl}");
    // Expired: the replica's clients no longer see it, but the replica keeps it until the
    // primary's DEL (as Redis 7.0's replicas do).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(q(&mut r, &["GET", "short"]).await, "(nil)");
    assert_eq!(q(&mut r, &["EXISTS", "short"]).await, "0");
    assert_eq!(q(&mut r, &["DBSIZE"]).await, "2");
    // The primary expires the key (lazily here) and sends DEL: the replica follows.
    assert_eq!(q(&mut p, &["GET", "short"]).await, "(nil)");
    common::wait_until("the replica deleted the key", || async {
        let mut r = common::client(replica).await;
        q(&mut r, &["DBSIZE"]).await == "1"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_resumes_with_a_partial_resync() {
    let (_p, primary) = common::start("127.0.0.1", &[]);
    let (_r, replica) = common::start("127.0.0.1", &[]);
    replicaof(replica, primary).await;
    wait_link_up(replica).await;
    let mut p = common::client(primary).await;
    for i in 0..100 {
        q(&mut p, &["SET", &format!("k{i}"), "v"]).await;
    }
    q(&mut p, &["WAIT", "1", "5000"]).await;
    // Cut it from the replica's side, and write meanwhile.
    let mut r = common::client(replica).await;
    assert_eq!(q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]).await, "1");
    for i in 0..100 {
        q(&mut p, &["SET", &format!("during{i}"), "v"]).await;
    }
    wait_link_up(replica).await;
    converge(primary, replica).await;
    // Cut it from the primary's side.
    assert_eq!(q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]).await, "1");
    q(&mut p, &["INCR", "counter"]).await;
    wait_link_up(replica).await;
    converge(primary, replica).await;
    // Both reconnections continued the stream: the replica never loaded a second RDB.
    let logs_ok = info(primary, "master_repl_offset").await;
    assert!(logs_ok.parse::<u64>().unwrap() > 0);
    let syncs = sync_counts(primary).await;
    assert_eq!(syncs, (1, 2), "(full, partial ok) on the primary");
}

/// `(sync_full, sync_partial_ok)` of INFO stats.
async fn sync_counts(addr: SocketAddr) -> (u64, u64) {
    let full = common::info_field(addr, "stats", "sync_full").await;
    let partial = common::info_field(addr, "stats", "sync_partial_ok").await;
    (full.parse().unwrap(), partial.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_too_small_means_a_full_resync() {
    let (_p, primary) = common::start("127.0.0.1", &[("repl-backlog-size", "16384")]);
    let (_r, replica) = common::start("127.0.0.1", &[]);
    replicaof(replica, primary).await;
    wait_link_up(replica).await;
    let mut p = common::client(primary).await;
    let mut r = common::client(replica).await;
    q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]).await;
    let big = "x".repeat(1000);
    for i in 0..100 {
        q(&mut p, &["SET", &format!("big{i}"), &big]).await;
    }
    wait_link_up(replica).await;
    converge(primary, replica).await;
    assert_eq!(sync_counts(primary).await.0, 2, "a second full sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_replica_keeps_its_siblings_with_psync2() {
    let (_p, primary) = common::start("127.0.0.1", &[]);
    let (_a, a) = common::start("127.0.0.1", &[]);
    let (_b, b) = common::start("127.0.0.1", &[]);
    replicaof(a, primary).await;
    replicaof(b, primary).await;
    wait_link_up(a).await;
    wait_link_up(b).await;
    let mut p = common::client(primary).await;
    q(&mut p, &["SET", "before", "1"]).await;
    assert_eq!(q(&mut p, &["WAIT", "2", "5000"]).await, "2");
    let old_id = info(primary, "master_replid").await;
    // Promote a, point b at it: b continues from its offset.
    let mut ac = common::client(a).await;
    assert_eq!(q(&mut ac, &["REPLICAOF", "NO", "ONE"]).await, "OK");
    assert_eq!(info(a, "role").await, "master");
    assert_eq!(info(a, "master_replid2").await, old_id);
    assert_ne!(info(a, "master_replid").await, old_id);
    replicaof(b, a).await;
    wait_link_up(b).await;
    q(&mut ac, &["SET", "after", "2"]).await;
    assert_eq!(q(&mut ac, &["WAIT", "1", "5000"]).await, "1");
    converge(a, b).await;
    assert_eq!(sync_counts(a).await, (0, 1), "b continued with +CONTINUE");
    // Writes are accepted on the promoted one.
    assert_eq!(q(&mut ac, &["SET", "w", "1"]).await, "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_follows_a_redlink_primary() {
    let (_p, primary) = common::start("127.0.0.1", &[]);
    write_everything(primary, "before").await;
    let Some(redis) =
        RedisServer::start(&[("replicaof", &format!("{} {}", primary.ip(), primary.port()))])
    else {
        return;
    };
    let replica = redis.addr;
    wait_link_up(replica).await;
    write_everything(primary, "after").await;
    converge(primary, replica).await;
    let mut p = common::client(primary).await;
    q(&mut p, &["SET", "w", "1"]).await;
    assert_eq!(q(&mut p, &["WAIT", "1", "5000"]).await, "1");
    // redis-server's view of the link.
    assert_eq!(
        info(replica, "master_replid").await,
        info(primary, "master_replid").await
    );
    common::wait_until("redis-server caught up", || async {
        info(replica, "slave_repl_offset").await == info(primary, "master_repl_offset").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redlink_replica_follows_redis_server() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let primary = redis.addr;
    write_everything(primary, "before").await;
    let (_r, replica) = common::start("127.0.0.1", &[]);
    replicaof(replica, primary).await;
    wait_link_up(replica).await;
    write_everything(primary, "after").await;
    converge(primary, replica).await;
    let mut p = common::client(primary).await;
    q(&mut p, &["SET", "w", "1"]).await;
    assert_eq!(q(&mut p, &["WAIT", "1", "5000"]).await, "1");
    common::wait_until("redlink caught up", || async {
        info(replica, "slave_repl_offset").await == info(primary, "master_repl_offset").await
    })
    .await;
    // A cut link resumes with +CONTINUE from redis-server's backlog.
    let mut r = common::client(replica).await;
    q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]).await;
    q(&mut p, &["SET", "during", "1"]).await;
    wait_link_up(replica).await;
    converge(primary, replica).await;
    assert_eq!(
        common::info_field(primary, "stats", "sync_partial_ok").await,
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_primaries_are_refused_or_retried() {
    let (_r, replica) = common::start("127.0.0.1", &[]);
    let mut r = common::client(replica).await;
    // Not loopback: refused before anything is sent.
    let e = q(&mut r, &["REPLICAOF", "10.1.2.3", "6379"]).await;
    assert!(e.contains("only from loopback addresses"), "{e:?}");
    let e = q(&mut r, &["REPLICAOF", "example.com", "6379"]).await;
    assert!(e.contains("'example.com' refused"), "{e:?}");
    assert_eq!(
        q(&mut r, &["REPLICAOF", "127.0.0.1", "70000"]).await,
        "ERR Invalid master port"
    );
    assert_eq!(info(replica, "role").await, "master");
    // Nobody listens: the link stays down and is retried; the replica answers meanwhile.
    let port = common::free_port("127.0.0.1");
    assert_eq!(
        q(&mut r, &["REPLICAOF", "127.0.0.1", &port.to_string()]).await,
        "OK"
    );
    assert_eq!(
        q(&mut r, &["REPLICAOF", "127.0.0.1", &port.to_string()]).await,
        "OK Already connected to specified master"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(info(replica, "master_link_status").await, "down");
    assert_eq!(info(replica, "master_link_down_since_seconds").await, "-1");
    assert_eq!(q(&mut r, &["GET", "x"]).await, "(nil)");
    // replica-serve-stale-data no: MASTERDOWN while the link is down, except `stale` commands.
    q(&mut r, &["CONFIG", "SET", "replica-serve-stale-data", "no"]).await;
    assert_eq!(
        q(&mut r, &["GET", "x"]).await,
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    );
    assert!(
        q(&mut r, &["INFO", "replication"])
            .await
            .contains("role:slave")
    );
    q(
        &mut r,
        &["CONFIG", "SET", "replica-serve-stale-data", "yes"],
    )
    .await;
    // A primary that answers garbage: the link stays down, retried, nothing loaded.
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gaddr = garbage.local_addr().unwrap();
    let served = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut n = 0;
        while let Ok((mut s, _)) = garbage.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$12\r\nnot-an-rdb!!").await;
            let _ = s.read(&mut buf).await;
            n += 1;
            if n == 2 {
                return n;
            }
        }
        n
    });
    assert_eq!(
        q(
            &mut r,
            &["REPLICAOF", "127.0.0.1", &gaddr.port().to_string()]
        )
        .await,
        "OK"
    );
    let tries = tokio::time::timeout(Duration::from_secs(30), served)
        .await
        .expect("retried")
        .unwrap();
    assert_eq!(tries, 2);
    assert_eq!(info(replica, "master_link_status").await, "down");
    // Inside a transaction too (EXEC holds the keyspace gate).
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(port)
        .cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE");
    let _: Value = pipe.query_async(&mut r).await.unwrap();
    assert_eq!(info(replica, "role").await, "master");
    q(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &gaddr.port().to_string()],
    )
    .await;
    // Back to a primary.
    assert_eq!(q(&mut r, &["REPLICAOF", "NO", "ONE"]).await, "OK");
    assert_eq!(info(replica, "role").await, "master");
    assert_eq!(q(&mut r, &["SET", "k", "v"]).await, "OK");
}
