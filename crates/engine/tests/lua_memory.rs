//! Lua memory vs the keyspace (issue 15, item 3): the Lua heap is counted apart from `used_memory`
//! (INFO `used_memory_lua`, `used_memory_vm_*`), so it never makes `maxmemory` evict keys or refuse
//! writes; a script that allocates without bound fails with Redis's `not enough memory` error at the
//! heap cap (which follows `maxmemory`, at least 64 MiB) instead of aborting the process; SCRIPT
//! KILL stops a script that keeps allocating; the heap is given back after the script.
//!
//! `used_memory` is counted by the allocator, so this binary installs the counting allocator. The
//! count is process-wide: the tests hold [`MEMORY`] to run one at a time. Every allocation here stays
//! in the tens of MB.

mod common;

use std::time::{Duration, Instant};

use common::reply::{e, q};
use redis::Value as V;
use redis::aio::MultiplexedConnection;

#[global_allocator]
static ALLOC: redlink_engine::alloc::CountingAlloc = redlink_engine::alloc::CountingAlloc;

/// Serializes the tests whose assertions depend on the process-wide used memory.
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One INFO memory field as an integer.
async fn info(c: &mut MultiplexedConnection, name: &str) -> u64 {
    let V::BulkString(text) = q(c, &["INFO", "memory"]).await else {
        panic!("INFO");
    };
    let text = String::from_utf8(text).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing from INFO memory"))
        .trim()
        .parse()
        .expect("number")
}

/// A client that waits for slow replies (a script allocating tens of MB on a loaded machine takes
/// longer than redis-rs's default 500 ms).
async fn client(addr: std::net::SocketAddr) -> MultiplexedConnection {
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(60)));
    redis::Client::open(format!("redis://{addr}/"))
        .expect("url")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect")
}

async fn dbsize(c: &mut MultiplexedConnection) -> i64 {
    match q(c, &["DBSIZE"]).await {
        V::Int(n) => n,
        other => panic!("DBSIZE: {other:?}"),
    }
}

/// 2,000 keys of 1 KiB (about 2.5 MB with overhead).
async fn fill(c: &mut MultiplexedConnection) {
    let value = "v".repeat(1024);
    for chunk in 0..20 {
        let mut p = redis::pipe();
        for i in 0..100 {
            p.cmd("SET")
                .arg(format!("key:{}", chunk * 100 + i))
                .arg(&value)
                .ignore();
        }
        let _: () = p.query_async(c).await.expect("fill");
    }
}

/// A library that keeps 24 MB in the functions' Lua state (an upvalue outlives every call).
const HOLDER: &str = "#!lua name=holder\n\
    local hold = {}\n\
    redis.register_function('grow', function(keys, args)\n\
      for i = 1, 24 do hold[#hold + 1] = string.rep(string.char(64 + i), 1000000) end\n\
      return #hold\n\
    end)\n\
    redis.register_function('drop', function(keys, args) hold = {} return 0 end)";

/// With a Lua heap well past `maxmemory`, writes still work and no key is evicted (both policies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_heap_does_not_evict_or_refuse_writes() {
    let _m = MEMORY.lock().await;
    for policy in ["allkeys-lru", "noeviction"] {
        let (_server, addr) = common::start("127.0.15.10", &[("maxmemory-policy", policy)]);
        let mut c = client(addr).await;
        fill(&mut c).await;
        // The limit sits 12 MB above what the process uses now: the 24 MB Lua heap would pass it.
        let used = info(&mut c, "used_memory").await;
        let max = (used + (12 << 20)).to_string();
        q(&mut c, &["CONFIG", "SET", "maxmemory", &max]).await;
        q(&mut c, &["FUNCTION", "LOAD", HOLDER]).await;
        assert_eq!(q(&mut c, &["FCALL", "grow", "0"]).await, V::Int(24));
        let lua = info(&mut c, "used_memory_vm_functions").await;
        assert!(lua >= 24_000_000, "functions' heap {lua}");
        assert!(info(&mut c, "used_memory_vm_total").await >= lua);
        // Before the fix the Lua heap counted as data: the SET evicted every key, or got -OOM.
        assert_eq!(q(&mut c, &["SET", "after", "1"]).await, V::Okay, "{policy}");
        assert_eq!(dbsize(&mut c).await, 2001, "{policy}");
        assert!(
            info(&mut c, "used_memory").await < used + (12 << 20),
            "{policy}: used_memory counts the Lua heap"
        );
        // An EVAL that leaves 20 MB of garbage: collected after the script, no eviction either.
        let body = "local t = {} for i = 1, 20 do t[i] = string.rep(string.char(64 + i), 1000000) end return #t";
        assert_eq!(q(&mut c, &["EVAL", body, "0"]).await, V::Int(20));
        assert!(
            info(&mut c, "used_memory_lua").await < 8 << 20,
            "the EVAL heap is collected after the script"
        );
        assert_eq!(q(&mut c, &["SET", "after2", "1"]).await, V::Okay);
        assert_eq!(dbsize(&mut c).await, 2002, "{policy}");
        q(&mut c, &["FCALL", "drop", "0"]).await;
    }
}

/// A script that doubles a string 40 times fails at the heap cap with Redis's error; the server
/// keeps its data and serves on; the heap is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_allocation_fails_the_script_not_the_server() {
    let _m = MEMORY.lock().await;
    // maxmemory 16 MB above what the process (shared by every engine of this binary) uses now:
    // the heap cap is its floor, 64 MiB.
    let (_server, addr) = common::start("127.0.15.11", &[("maxmemory-policy", "allkeys-lru")]);
    let mut c = client(addr).await;
    let used = info(&mut c, "used_memory").await;
    let max = (used + (16 << 20)).to_string();
    q(&mut c, &["CONFIG", "SET", "maxmemory", &max]).await;
    q(&mut c, &["SET", "k", "v"]).await;
    let body = "local s = 'x' for i = 1, 40 do s = s .. s end return #s";
    let sha = match q(&mut c, &["SCRIPT", "LOAD", body]).await {
        V::BulkString(s) => String::from_utf8(s).expect("sha"),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e(&mut c, &["EVAL", body, "0"]).await,
        format!("ERR Error running script {sha}, not enough memory")
    );
    // pcall sees the same error (like Redis), the script goes on.
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "local ok, e = pcall(function() local s = 'x' for i = 1, 40 do s = s .. s end end) \
                 return {tostring(ok), e}",
                "0"
            ]
        )
        .await,
        V::Array(vec![
            V::BulkString(b"false".to_vec()),
            V::BulkString(b"not enough memory".to_vec())
        ])
    );
    // The one-liner (300 MB) fails fast too.
    let err = e(
        &mut c,
        &["EVAL", "local s = string.rep('x', 3e8) return #s", "0"],
    )
    .await;
    assert!(err.ends_with(", not enough memory"), "{err}");
    // Still serving, nothing lost, memory given back, scripts and writes work.
    assert_eq!(q(&mut c, &["GET", "k"]).await, V::BulkString(b"v".to_vec()));
    assert!(info(&mut c, "used_memory_lua").await < 8 << 20);
    assert_eq!(q(&mut c, &["EVAL", "return 1", "0"]).await, V::Int(1));
    assert_eq!(q(&mut c, &["SET", "k2", "v"]).await, V::Okay);
    assert_eq!(dbsize(&mut c).await, 2);
}

/// `cjson.decode` and `cmsgpack.unpack` of inputs that fit under the heap cap but whose values do
/// not fail with `not enough memory` (the values are read into a tape first, which counts against
/// the cap's room), and the server serves on; ones that fit decode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoding_more_than_the_heap_cap_fails_the_script() {
    let _m = MEMORY.lock().await;
    let (_server, addr) = common::start("127.0.15.14", &[("maxmemory-policy", "allkeys-lru")]);
    let mut c = client(addr).await;
    // A cap at its floor, 64 MiB.
    let used = info(&mut c, "used_memory").await;
    let max = (used + (16 << 20)).to_string();
    q(&mut c, &["CONFIG", "SET", "maxmemory", &max]).await;
    // 4 million numbers: an 8 MB text, a table of 64 MB in Lua (and a 128 MB tape). The text
    // alone is built fine, so the failure is the decode's.
    let text = "local s = '[' .. string.rep('1,', 4e6) .. '1]'";
    assert_eq!(
        q(&mut c, &["EVAL", &format!("{text} return #s"), "0"]).await,
        V::Int(8_000_003)
    );
    let err = e(
        &mut c,
        &["EVAL", &format!("{text} return #cjson.decode(s)"), "0"],
    )
    .await;
    assert!(err.ends_with(", not enough memory"), "{err}");
    // pcall sees Lua's own text, as for any allocation past the cap.
    let caught = format!("{text} local ok, e = pcall(cjson.decode, s) return {{tostring(ok), e}}");
    assert_eq!(
        q(&mut c, &["EVAL", &caught, "0"]).await,
        V::Array(vec![
            V::BulkString(b"false".to_vec()),
            V::BulkString(b"not enough memory".to_vec())
        ])
    );
    // 5 million values in 50 MessagePack arrays: a 5 MB input, 80 MB of tables in Lua.
    let packed = "local t = {} for i = 1, 100000 do t[i] = 1 end \
                  local s = string.rep(cmsgpack.pack(t), 50)";
    assert_eq!(
        q(&mut c, &["EVAL", &format!("{packed} return #s"), "0"]).await,
        V::Int(5_000_250)
    );
    let unpack = format!("{packed} return select('#', cmsgpack.unpack_limit(s, 50))");
    let err = e(&mut c, &["EVAL", &unpack, "0"]).await;
    assert!(err.ends_with(", not enough memory"), "{err}");
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "return #cjson.decode('[' .. string.rep('1,', 1e5) .. '1]')",
                "0"
            ]
        )
        .await,
        V::Int(100_001)
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "EVAL",
                "local t = {} for i = 1, 100000 do t[i] = i end \
                 return #cmsgpack.unpack(cmsgpack.pack(t))",
                "0"
            ]
        )
        .await,
        V::Int(100_000)
    );
    // What the failed decodes left is garbage (their inputs), none of it held: a full
    // collection gives it back.
    assert_eq!(
        q(&mut c, &["EVAL", "collectgarbage('collect') return 1", "0"]).await,
        V::Int(1)
    );
    let lua = info(&mut c, "used_memory_lua").await;
    assert!(lua < 8 << 20, "{lua}");
}

/// SCRIPT KILL stops a script that keeps allocating (the instruction hook runs between
/// allocations), and the heap it used is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_kill_stops_an_allocating_script() {
    let _m = MEMORY.lock().await;
    let (_server, addr) = common::start(
        "127.0.15.12",
        &[("maxmemory", "16mb"), ("busy-reply-threshold", "100")],
    );
    let mut runner = client(addr).await;
    let mut killer = client(addr).await;
    let body = "local t = {} local i = 0 \
                while true do i = i + 1 t[i % 8 + 1] = string.rep('x', 1000000 + i % 7) end";
    let script = tokio::spawn(async move { e(&mut runner, &["EVAL", body, "0"]).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match common::reply::run(&mut killer, &["SCRIPT", "KILL"]).await {
            Ok(V::Okay) => break,
            Err(e) if e.starts_with("NOTBUSY") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("SCRIPT KILL: {other:?}"),
        }
    }
    let err = tokio::time::timeout(Duration::from_secs(20), script)
        .await
        .expect("the script ends after SCRIPT KILL")
        .expect("join");
    assert!(
        err.starts_with("ERR Script killed by user with SCRIPT KILL"),
        "{err}"
    );
    assert!(info(&mut killer, "used_memory_lua").await < 8 << 20);
    assert_eq!(
        q(&mut killer, &["PING"]).await,
        V::SimpleString("PONG".into())
    );
}
