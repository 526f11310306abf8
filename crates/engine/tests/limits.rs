//! Redis's resource limits: `timeout`, `client-query-buffer-limit`, `client-output-buffer-limit`
//! (pubsub class) and `maxmemory` with its eviction policies, against in-process engines.
//!
//! `used_memory` is counted by the allocator, and this test binary installs the same counting
//! allocator as the `redlink` binary. The count is process-wide, so the tests that fill memory (or
//! flood a subscriber) hold [`MEMORY`] to run one at a time.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{client, closed, read_some, resp, start};
use redis::AsyncCommands;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static ALLOC: redlink_engine::alloc::CountingAlloc = redlink_engine::alloc::CountingAlloc;

/// Serializes the tests whose assertions depend on the process-wide used memory.
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn send(s: &mut TcpStream, args: &[&str]) -> String {
    s.write_all(&resp(args)).await.unwrap();
    String::from_utf8_lossy(&read_some(s, Duration::from_millis(200)).await).to_string()
}

/// One INFO field as an integer.
async fn info_field(c: &mut redis::aio::MultiplexedConnection, section: &str, name: &str) -> u64 {
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query_async(c)
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}: {text}"))
}

/// `used_memory` once it holds still: the count is process-wide, and an engine of the test that
/// ran before may still be freeing its data for a moment after that test returned (its tasks end
/// on their own), which would otherwise do part of the eviction a limit set from this reading
/// is meant to cause. Two readings 100 ms apart within 16 KiB, for at most 10 s.
async fn settled_used_memory(c: &mut redis::aio::MultiplexedConnection) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = info_field(c, "memory", "used_memory").await;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = info_field(c, "memory", "used_memory").await;
        if now.abs_diff(last) < 16 * 1024 || Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

async fn config_set(c: &mut redis::aio::MultiplexedConnection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(c)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_closes_idle_clients_but_not_subscribers_or_blocked() {
    let (_s, addr) = start("127.0.41.1", &[]);
    let mut admin = client(addr).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert_eq!(send(&mut idle, &["PING"]).await, "+PONG\r\n");
    let mut sub = TcpStream::connect(addr).await.unwrap();
    assert!(
        send(&mut sub, &["SUBSCRIBE", "ch"])
            .await
            .contains("subscribe")
    );
    let mut blocked = TcpStream::connect(addr).await.unwrap();
    blocked
        .write_all(&resp(&["BLPOP", "q", "0"]))
        .await
        .unwrap();
    // Set at run time: clients already idle are closed once they passed the new timeout.
    config_set(&mut admin, "timeout", "1").await;
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("timeout")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(got, vec!["timeout", "1"]);
    // This client idles from now on too: it is closed like the others, so a new one is used below.
    drop(admin);
    assert!(
        closed(&mut idle, Duration::from_secs(4)).await,
        "idle client closed"
    );
    // A client that keeps talking stays.
    let mut busy = TcpStream::connect(addr).await.unwrap();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(send(&mut busy, &["PING"]).await, "+PONG\r\n");
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // The subscriber and the blocked client outlived the timeout.
    let mut admin = client(addr).await;
    let n: i64 = admin.publish("ch", "hi").await.unwrap();
    assert_eq!(n, 1);
    let msg = read_some(&mut sub, Duration::from_millis(300)).await;
    assert_eq!(msg, b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
    let _: i64 = admin.rpush("q", "v").await.unwrap();
    let popped = read_some(&mut blocked, Duration::from_millis(300)).await;
    assert_eq!(popped, b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    // Unblocked, it is an ordinary idle client again.
    assert!(closed(&mut blocked, Duration::from_secs(4)).await);
    config_set(&mut admin, "timeout", "0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn query_buffer_limit_closes_the_client() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.2", &[]);
    let mut admin = client(addr).await;
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-query-buffer-limit")
        .arg("1000")
        .query_async::<()>(&mut admin)
        .await
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some(
            "CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive"
        )
    );
    config_set(&mut admin, "client-query-buffer-limit", "1mb").await;
    // Under the limit: served.
    let v = "x".repeat(500_000);
    let _: () = admin.set("small", &v).await.unwrap();
    // A 3 MB argument piles up more than 1 MB of unparsed query data: closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        .await
        .unwrap();
    let chunk = vec![b'y'; 64 * 1024];
    let mut sent = 0;
    while sent < 2_000_000 {
        if s.write_all(&chunk).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(closed(&mut s, Duration::from_secs(3)).await, "closed");
    let exists: bool = admin.exists("k").await.unwrap();
    assert!(!exists);
    // A client blocked in BLPOP that keeps sending is bounded the same way.
    let mut b = TcpStream::connect(addr).await.unwrap();
    b.write_all(&resp(&["BLPOP", "q", "0"])).await.unwrap();
    common::wait_blocked_clients(addr, 1).await;
    let mut sent = 0;
    while sent < 2_000_000 {
        if b.write_all(&resp(&["PING", &"z".repeat(60_000)]))
            .await
            .is_err()
        {
            break;
        }
        sent += 60_000;
    }
    assert!(
        closed(&mut b, Duration::from_secs(3)).await,
        "blocked client closed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_buffer_limit_config_round_trips() {
    let (_s, addr) = start("127.0.41.3", &[]);
    let mut c = client(addr).await;
    config_set(&mut c, "client-output-buffer-limit", "pubsub 1mb 2mb 3").await;
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        got[1],
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 3"
    );
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 1mb")
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some(
            "CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn normal_hard_limit_closes_a_client_with_a_huge_reply() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.12", &[]);
    let mut c = client(addr).await;
    let _: () = c.set("big", "x".repeat(1_000_000)).await.unwrap();
    config_set(&mut c, "client-output-buffer-limit", "normal 100kb 0 0").await;
    // Like redis-server 7.0: the client is closed without any of the reply.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&resp(&["GET", "big"])).await.unwrap();
    let got = common::read_window(&mut s, Duration::from_secs(2)).await;
    assert!(got.is_empty(), "got {} bytes", got.len());
    assert!(closed(&mut s, Duration::from_secs(1)).await);
    // Small replies are unaffected.
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(send(&mut s, &["STRLEN", "big"]).await, ":1000000\r\n");
    config_set(&mut c, "client-output-buffer-limit", "normal 0 0 0").await;
    assert_eq!(send(&mut s, &["GET", "big"]).await.len(), 1_000_000 + 12);
}

/// A connection with a small receive buffer, so unread output backs up in the server soon.
async fn small_window(addr: SocketAddr) -> TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Publish `payload` to `channel` as fast as possible on a raw connection (replies drained by a
/// reader task) until `max` bytes were published; returns the bytes published.
async fn flood(addr: SocketAddr, channel: &str, payload_len: usize, max: usize) -> usize {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    let payload = "p".repeat(payload_len);
    let one = resp(&["PUBLISH", channel, &payload]);
    let mut batch = Vec::new();
    for _ in 0..16 {
        batch.extend_from_slice(&one);
    }
    let mut published = 0;
    while published < max {
        w.write_all(&batch).await.unwrap();
        published += 16 * payload_len;
    }
    drop(w);
    reader.abort();
    published
}

#[tokio::test(flavor = "multi_thread")]
async fn non_reading_subscriber_is_disconnected_and_memory_stays_bounded() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.4", &[]);
    let mut admin = client(addr).await;
    config_set(&mut admin, "client-output-buffer-limit", "pubsub 4mb 0 0").await;
    let mut sub = small_window(addr).await;
    assert!(
        send(&mut sub, &["SUBSCRIBE", "firehose"])
            .await
            .contains("subscribe")
    );
    let before = info_field(&mut admin, "memory", "used_memory").await;
    // The subscriber reads nothing while 128 MB are published to it.
    let watcher = {
        let mut c = client(addr).await;
        tokio::spawn(async move {
            let mut max = 0;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                let u = info_field(&mut c, "memory", "used_memory").await;
                max = max.max(u);
                let clients = info_field(&mut c, "clients", "connected_clients").await;
                if std::env::var("LIMITS_TRACE").is_ok() {
                    eprintln!("{:?} used {u} clients {clients}", start.elapsed());
                }
                // admin, this watcher, the publisher: the subscriber is gone.
                if clients <= 3 {
                    return (max, true);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (max, false)
        })
    };
    let published = flood(addr, "firehose", 16 * 1024, 128 << 20).await;
    let (max, gone) = watcher.await.unwrap();
    assert!(gone, "subscriber disconnected");
    eprintln!(
        "pubsub flood: published {published} bytes, used_memory before {before}, max during {max} (+{})",
        max.saturating_sub(before)
    );
    // Queued bytes are bounded by the 4 MB limit (plus one batch of publishes in flight).
    assert!(max < before + 16 * 1024 * 1024, "max {max} before {before}");
    // The subscriber's socket reports the close after whatever the kernel had buffered.
    assert!(closed(&mut sub, Duration::from_secs(10)).await);
    let after = info_field(&mut admin, "memory", "used_memory").await;
    assert!(
        after < before + 4 * 1024 * 1024,
        "after {after} before {before}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pubsub_soft_limit_disconnects_after_its_seconds() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.5", &[]);
    let mut admin = client(addr).await;
    config_set(&mut admin, "client-output-buffer-limit", "pubsub 0 1mb 1").await;
    let mut sub = small_window(addr).await;
    assert!(
        send(&mut sub, &["SUBSCRIBE", "slow"])
            .await
            .contains("subscribe")
    );
    // Over the soft limit (socket buffers filled first), but not for a second yet: still there.
    flood(addr, "slow", 64 * 1024, 24 << 20).await;
    let n: i64 = admin.publish("slow", "x").await.unwrap();
    assert_eq!(
        n, 1,
        "still subscribed right after going over the soft limit"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The next message finds it over the soft limit for more than a second.
    let _: i64 = admin.publish("slow", "x").await.unwrap();
    let n: i64 = admin.publish("slow", "x").await.unwrap();
    assert_eq!(n, 0);
    assert!(closed(&mut sub, Duration::from_secs(10)).await);
}

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

#[tokio::test(flavor = "multi_thread")]
async fn noeviction_refuses_writes_with_redis_text_and_serves_reads() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.6", &[]);
    let mut c = client(addr).await;
    let _: () = c.set("k", "v").await.unwrap();
    config_set(&mut c, "maxmemory", "1").await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        send(&mut s, &["SET", "a", "b"]).await,
        format!("-{OOM}\r\n")
    );
    assert_eq!(send(&mut s, &["GET", "k"]).await, "$1\r\nv\r\n");
    assert_eq!(send(&mut s, &["DEL", "k"]).await, ":1\r\n");
    // In MULTI everything but EXEC/DISCARD is refused, and EXEC aborts.
    assert_eq!(send(&mut s, &["MULTI"]).await, "+OK\r\n");
    assert_eq!(send(&mut s, &["GET", "k"]).await, format!("-{OOM}\r\n"));
    assert_eq!(
        send(&mut s, &["EXEC"]).await,
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    let text: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        text.contains("\r\nmaxmemory:1\r\nmaxmemory_human:1B\r\nmaxmemory_policy:noeviction\r\n")
    );
    config_set(&mut c, "maxmemory", "0").await;
    assert_eq!(send(&mut s, &["SET", "a", "b"]).await, "+OK\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn volatile_policies_without_volatile_keys_refuse_writes() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.7", &[]);
    let mut c = client(addr).await;
    for i in 0..100 {
        let _: () = c.set(format!("k{i}"), "v").await.unwrap();
    }
    config_set(&mut c, "maxmemory-policy", "volatile-lru").await;
    config_set(&mut c, "maxmemory", "1").await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        assert_eq!(
            send(&mut s, &["CONFIG", "SET", "maxmemory-policy", policy]).await,
            "+OK\r\n"
        );
        assert_eq!(
            send(&mut s, &["SET", "a", "b"]).await,
            format!("-{OOM}\r\n"),
            "{policy}"
        );
    }
    assert_eq!(send(&mut s, &["DBSIZE"]).await, ":100\r\n");
    config_set(&mut c, "maxmemory", "0").await;
}

/// Fill an engine with ~10× `limit` bytes of 1 KB strings (keys `k:i`, with a TTL of `ttl(i)` seconds
/// when it returns one) under `policy`; returns (maxmemory, highest used_memory seen, keys left,
/// evicted_keys). used_memory is sampled every 200 writes.
async fn fill(
    ip: &str,
    policy: &str,
    limit: u64,
    ttl: impl Fn(usize) -> Option<u64>,
) -> (
    u64,
    u64,
    u64,
    u64,
    redis::aio::MultiplexedConnection,
    redlink_engine::Server,
) {
    let (server, addr) = start(ip, &[]);
    let mut c = client(addr).await;
    let baseline = info_field(&mut c, "memory", "used_memory").await;
    let maxmemory = baseline + limit;
    config_set(&mut c, "maxmemory-policy", policy).await;
    config_set(&mut c, "maxmemory", &maxmemory.to_string()).await;
    let value = "v".repeat(1000);
    let keys = (10 * limit / 1000) as usize;
    let mut max_used = 0;
    for chunk in (0..keys).collect::<Vec<_>>().chunks(200) {
        let mut p = redis::pipe();
        for &i in chunk {
            match ttl(i) {
                Some(secs) => p.set_ex(format!("k:{i}"), &value, secs).ignore(),
                None => p.set(format!("k:{i}"), &value).ignore(),
            };
        }
        let _: () = p.query_async(&mut c).await.unwrap();
        max_used = max_used.max(info_field(&mut c, "memory", "used_memory").await);
    }
    let left: u64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    let evicted = info_field(&mut c, "stats", "evicted_keys").await;
    eprintln!(
        "{policy}: baseline {baseline}, maxmemory {maxmemory}, wrote {keys} keys ({} bytes of values), \
         max used_memory {max_used} ({:+} vs maxmemory), keys left {left}, evicted_keys {evicted}",
        keys * 1000,
        max_used as i64 - maxmemory as i64
    );
    (maxmemory, max_used, left, evicted, c, server)
}

fn assert_bounded(policy: &str, maxmemory: u64, max_used: u64, left: u64, evicted: u64, keys: u64) {
    // One pipelined batch (200 × 1 KB plus client buffers) may land between two eviction passes.
    assert!(
        max_used <= maxmemory + 1024 * 1024,
        "{policy}: used {max_used} over maxmemory {maxmemory}"
    );
    assert!(
        evicted > 0 && left < keys,
        "{policy}: evicted {evicted}, left {left}"
    );
    assert_eq!(
        left + evicted,
        keys,
        "{policy}: every missing key was evicted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allkeys_random_keeps_memory_under_the_limit() {
    let _m = MEMORY.lock().await;
    let limit = 4 << 20;
    let (max, used, left, evicted, _c, _s) =
        fill("127.0.41.8", "allkeys-random", limit, |_| None).await;
    assert_bounded(
        "allkeys-random",
        max,
        used,
        left,
        evicted,
        10 * limit / 1000,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allkeys_lru_keeps_memory_under_the_limit_and_keeps_hot_keys() {
    hot_keys_survive("127.0.41.9", "allkeys-lru").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allkeys_lfu_keeps_memory_under_the_limit_and_keeps_hot_keys() {
    hot_keys_survive("127.0.41.11", "allkeys-lfu").await;
}

/// Write 10× the limit while reading 100 hot keys between batches: the hot keys must survive far
/// more often than the written ones.
async fn hot_keys_survive(ip: &str, policy: &str) {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start(ip, &[]);
    let mut c = client(addr).await;
    let limit: u64 = 4 << 20;
    let baseline = info_field(&mut c, "memory", "used_memory").await;
    let maxmemory = baseline + limit;
    config_set(&mut c, "maxmemory-policy", policy).await;
    config_set(&mut c, "maxmemory", &maxmemory.to_string()).await;
    let value = "v".repeat(1000);
    // 100 hot keys, read after every batch of writes: LRU should keep nearly all of them.
    for i in 0..100 {
        let _: () = c.set(format!("hot:{i}"), &value).await.unwrap();
    }
    let keys = (10 * limit / 1000) as usize;
    let mut max_used = 0;
    for (n, chunk) in (0..keys).collect::<Vec<_>>().chunks(200).enumerate() {
        let mut p = redis::pipe();
        for &i in chunk {
            p.set(format!("k:{i}"), &value).ignore();
        }
        if n % 2 == 0 {
            for i in 0..100 {
                p.get(format!("hot:{i}")).ignore();
            }
        }
        let _: () = p.query_async(&mut c).await.unwrap();
        max_used = max_used.max(info_field(&mut c, "memory", "used_memory").await);
    }
    let mut hot_left = 0;
    for i in 0..100 {
        let e: bool = c.exists(format!("hot:{i}")).await.unwrap();
        hot_left += e as u64;
    }
    let left: u64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    let evicted = info_field(&mut c, "stats", "evicted_keys").await;
    let cold_left = left - hot_left;
    eprintln!(
        "{policy}: maxmemory {maxmemory}, max used_memory {max_used} ({:+}), hot keys kept {hot_left}/100, \
         cold keys kept {cold_left}/{keys}, evicted_keys {evicted}",
        max_used as i64 - maxmemory as i64
    );
    assert_bounded(
        policy,
        maxmemory,
        max_used,
        left,
        evicted,
        keys as u64 + 100,
    );
    // Cold keys survive at about left/keys; hot ones far more often.
    let cold_rate = cold_left as f64 / keys as f64;
    assert!(
        hot_left as f64 / 100.0 > (cold_rate * 3.0).min(0.9),
        "hot {hot_left}/100 vs cold rate {cold_rate:.3}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn volatile_ttl_evicts_the_shortest_ttls_first() {
    let _m = MEMORY.lock().await;
    let limit = 4 << 20;
    let keys = 10 * limit / 1000;
    // TTLs from 1000 s up; every 50th key has none and must never be evicted.
    let ttl = |i: usize| (!i.is_multiple_of(50)).then(|| 1000 + (i as u64 * 7919) % 100_000);
    let (max, used, left, evicted, mut c, _s) =
        fill("127.0.41.10", "volatile-ttl", limit, ttl).await;
    assert_bounded("volatile-ttl", max, used, left, evicted, keys);
    let (mut persistent, mut kept_ttls, mut all_ttls) = (0, Vec::new(), Vec::new());
    for i in 0..keys as usize {
        let t = ttl(i);
        if let Some(t) = t {
            all_ttls.push(t);
        }
        let e: bool = c.exists(format!("k:{i}")).await.unwrap();
        match (e, t) {
            (true, None) => persistent += 1,
            (true, Some(t)) => kept_ttls.push(t),
            _ => {}
        }
    }
    assert_eq!(
        persistent,
        keys.div_ceil(50),
        "persistent keys are never evicted"
    );
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    eprintln!(
        "volatile-ttl: kept {} volatile keys, mean ttl kept {:.0} s vs written {:.0} s",
        kept_ttls.len(),
        mean(&kept_ttls),
        mean(&all_ttls)
    );
    // Survivors have clearly longer TTLs than the keys written (uniform 1000..101000 s).
    assert!(mean(&kept_ttls) > mean(&all_ttls) * 1.3);
}

#[tokio::test(flavor = "multi_thread")]
async fn eviction_wakes_watch_like_a_delete_and_counts_in_info() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.13", &[]);
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    assert_eq!(send(&mut b, &["SET", "w", "1"]).await, "+OK\r\n");
    assert_eq!(send(&mut b, &["SET", "other", "1"]).await, "+OK\r\n");
    assert_eq!(send(&mut a, &["WATCH", "w"]).await, "+OK\r\n");
    assert_eq!(
        send(
            &mut b,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]
        )
        .await,
        "+OK\r\n"
    );
    // Nothing fits in one byte: the next command evicts every key, then reads still work.
    assert_eq!(
        send(&mut b, &["CONFIG", "SET", "maxmemory", "1"]).await,
        "+OK\r\n"
    );
    assert_eq!(send(&mut b, &["GET", "w"]).await, "$-1\r\n");
    assert_eq!(
        send(&mut b, &["SET", "x", "y"]).await,
        format!("-{OOM}\r\n")
    );
    assert_eq!(
        send(&mut b, &["CONFIG", "SET", "maxmemory", "0"]).await,
        "+OK\r\n"
    );
    assert_eq!(send(&mut b, &["DBSIZE"]).await, ":0\r\n");
    let info = send(&mut b, &["INFO", "stats"]).await;
    assert!(info.contains("\r\nevicted_keys:2\r\n"), "{info}");
    // The WATCHed key was evicted: the transaction aborts.
    assert_eq!(send(&mut a, &["MULTI"]).await, "+OK\r\n");
    assert_eq!(send(&mut a, &["SET", "w", "2"]).await, "+QUEUED\r\n");
    assert_eq!(send(&mut a, &["EXEC"]).await, "*-1\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn object_idletime_and_freq_report_the_eviction_metadata() {
    let (_s, addr) = start("127.0.41.14", &[]);
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(send(&mut s, &["SET", "k", "v"]).await, "+OK\r\n");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // OBJECT itself is not an access. (At least 2 s idle: a stalled machine may make it more.)
    let idle = |reply: String| -> i64 {
        reply
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("IDLETIME reply {reply:?}"))
    };
    let first = idle(send(&mut s, &["OBJECT", "IDLETIME", "k"]).await);
    let second = idle(send(&mut s, &["OBJECT", "IDLETIME", "k"]).await);
    assert!((2..10).contains(&first), "idle {first}");
    assert!(
        second >= first,
        "OBJECT is not an access: {first} then {second}"
    );
    assert_eq!(send(&mut s, &["GET", "k"]).await, "$1\r\nv\r\n");
    assert_eq!(send(&mut s, &["OBJECT", "IDLETIME", "k"]).await, ":0\r\n");
    assert_eq!(
        send(&mut s, &["OBJECT", "FREQ", "k"]).await,
        "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
    assert_eq!(
        send(
            &mut s,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]
        )
        .await,
        "+OK\r\n"
    );
    assert_eq!(send(&mut s, &["SET", "f", "v"]).await, "+OK\r\n");
    // A new key starts at LFU_INIT_VAL (5); many hits raise it logarithmically.
    assert_eq!(send(&mut s, &["OBJECT", "FREQ", "f"]).await, ":5\r\n");
    let mut gets = Vec::new();
    for _ in 0..500 {
        gets.extend_from_slice(&resp(&["GET", "f"]));
    }
    s.write_all(&gets).await.unwrap();
    common::read_frames(&mut s, 500).await;
    let freq = send(&mut s, &["OBJECT", "FREQ", "f"]).await;
    let freq: i64 = freq.trim_start_matches(':').trim().parse().unwrap();
    assert!((6..=20).contains(&freq), "freq {freq}");
    assert_eq!(
        send(&mut s, &["OBJECT", "IDLETIME", "f"]).await,
        "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn volatile_lru_evicts_only_volatile_keys_even_when_they_are_rare() {
    let _m = MEMORY.lock().await;
    let (_s, addr) = start("127.0.41.15", &[]);
    let mut c = client(addr).await;
    let mut p = redis::pipe();
    for i in 0..20_000 {
        p.set(format!("p:{i}"), "x".repeat(100)).ignore();
    }
    for i in 0..300 {
        p.set_ex(format!("v:{i}"), "y".repeat(1000), 1000).ignore();
    }
    let _: () = p.query_async(&mut c).await.unwrap();
    let used = settled_used_memory(&mut c).await;
    config_set(&mut c, "maxmemory-policy", "volatile-lru").await;
    config_set(&mut c, "maxmemory", &(used - 150_000).to_string()).await;
    let started = Instant::now();
    let _: () = c.set("new", "1").await.unwrap();
    let took = started.elapsed();
    // Read both in one transaction: other tests of this binary allocate too (the count is
    // process-wide), so an eviction may run before any command — but not between these two.
    let (stats, size): (String, u64) = redis::pipe()
        .atomic()
        .cmd("INFO")
        .arg("stats")
        .cmd("DBSIZE")
        .query_async(&mut c)
        .await
        .unwrap();
    let evicted: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no evicted_keys in INFO stats: {stats}"));
    eprintln!("volatile-lru, 300 volatile among 20300 keys: evicted {evicted} in {took:?}");
    // How many go depends on the bytes each key frees and on what other tests of this binary
    // free meanwhile (the count is process-wide): some volatile keys, never all, never a
    // persistent one (below). A lower bound of 100 failed once under a full CI run (92).
    assert!((1..300).contains(&evicted), "evicted {evicted}");
    assert_eq!(size, 20_300 + 1 - evicted);
    let persistent: Vec<String> = redis::cmd("KEYS")
        .arg("p:*")
        .query_async(&mut c)
        .await
        .unwrap();
    let persistent = persistent.len();
    assert_eq!(persistent, 20_000, "persistent keys are never evicted");
    // Once no volatile key is left, writes are refused.
    config_set(&mut c, "maxmemory", &(used - 10_000_000).to_string()).await;
    let err = c.set::<_, _, ()>("more", "1").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("command not allowed when used memory"),
        "{err}"
    );
    let evicted = info_field(&mut c, "stats", "evicted_keys").await;
    assert_eq!(evicted, 300);
    config_set(&mut c, "maxmemory", "0").await;
}
