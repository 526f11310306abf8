//! DUMP and RESTORE with the redis crate: payloads captured from redis-server 7.0.15 (every type and
//! encoding it writes: embstr/int/raw/LZF strings, quicklist, intset, hashtable, listpack, skiplist)
//! restore to the same values; redlink's own payloads round-trip with TTLs and options; errors carry
//! Redis's texts.

mod common;

use redis::AsyncCommands;
use serde_json::Value as Json;

fn fixtures() -> Vec<Json> {
    let text = include_str!("fixtures/redis7-dumps.json");
    serde_json::from_str::<Vec<Json>>(text).expect("fixture JSON")
}

fn expected(e: &Json) -> Json {
    match e["value_repeat"].as_array() {
        Some(r) => Json::String(
            r[0].as_str()
                .expect("str")
                .repeat(r[1].as_u64().expect("n") as usize),
        ),
        None => e["value"].clone(),
    }
}

async fn read_back(c: &mut redis::aio::MultiplexedConnection, key: &str, kind: &str) -> Json {
    match kind {
        "string" => Json::String(c.get(key).await.expect("get")),
        "list" => serde_json::json!(
            c.lrange::<_, Vec<String>>(key, 0, -1)
                .await
                .expect("lrange")
        ),
        "set" => {
            let mut m: Vec<String> = c.smembers(key).await.expect("smembers");
            m.sort();
            serde_json::json!(m)
        }
        "zset" => {
            let m: Vec<(String, f64)> = c.zrange_withscores(key, 0, -1).await.expect("zrange");
            serde_json::json!(
                m.into_iter()
                    .map(|(m, s)| serde_json::json!([m, s]))
                    .collect::<Vec<_>>()
            )
        }
        "hash" => {
            let m: std::collections::HashMap<String, String> =
                c.hgetall(key).await.expect("hgetall");
            serde_json::json!(m)
        }
        other => panic!("unexpected type {other}"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_server_payloads_restore_to_the_same_values_and_round_trip() {
    let (_s, addr) = common::start("127.0.5.30", &[]);
    let mut c = common::client(addr).await;
    for e in fixtures() {
        let key = e["key"].as_str().expect("key");
        let kind = e["type"].as_str().expect("type");
        let payload = hex(e["dump"].as_str().expect("dump"));
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(&payload)
            .query_async(&mut c)
            .await
            .unwrap_or_else(|err| panic!("{key} ({}): {err}", e["encoding"]));
        assert_eq!(read_back(&mut c, key, kind).await, expected(&e), "{key}");
        let t: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut c)
            .await
            .expect("type");
        assert_eq!(t, kind);
        // Our own payload of the same value restores to it again.
        let ours: Vec<u8> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut c)
            .await
            .expect("dump");
        let copy = format!("{key}-copy");
        let _: () = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&ours)
            .query_async(&mut c)
            .await
            .expect("restore ours");
        assert_eq!(read_back(&mut c, &copy, kind).await, expected(&e), "{copy}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_options_ttl_and_errors_follow_redis() {
    let (_s, addr) = common::start("127.0.5.31", &[]);
    let mut c = common::client(addr).await;
    let missing: Option<Vec<u8>> = redis::cmd("DUMP")
        .arg("nope")
        .query_async(&mut c)
        .await
        .expect("dump");
    assert_eq!(missing, None);
    let _: () = c.set("a", "value").await.expect("set");
    let payload: Vec<u8> = redis::cmd("DUMP")
        .arg("a")
        .query_async(&mut c)
        .await
        .expect("dump");
    let run = |args: Vec<Vec<u8>>| {
        let mut cmd = redis::cmd("RESTORE");
        for a in args {
            cmd.arg(a);
        }
        cmd
    };
    let b = |s: &str| s.as_bytes().to_vec();
    let p = payload.clone();
    let cases: Vec<(Vec<Vec<u8>>, &str)> = vec![
        (
            vec![b("a"), b("0"), p.clone()],
            "Target key name already exists.",
        ),
        (
            vec![b("x"), b("-1"), p.clone()],
            "Invalid TTL value, must be >= 0",
        ),
        (
            vec![b("x"), b("nan"), p.clone()],
            "value is not an integer or out of range",
        ),
        (
            vec![b("x"), b("0"), b("garbage-payload")],
            "DUMP payload version or checksum are wrong",
        ),
        (
            vec![b("x"), b("0"), p.clone(), b("IDLETIME"), b("-1")],
            "Invalid IDLETIME value, must be >= 0",
        ),
        (
            vec![b("x"), b("0"), p.clone(), b("FREQ"), b("256")],
            "Invalid FREQ value, must be >= 0 and <= 255",
        ),
        (
            vec![
                b("x"),
                b("0"),
                p.clone(),
                b("IDLETIME"),
                b("1"),
                b("FREQ"),
                b("1"),
            ],
            "syntax error",
        ),
        (vec![b("x"), b("0"), p.clone(), b("BOGUS")], "syntax error"),
    ];
    for (args, text) in cases {
        let err = run(args).query_async::<()>(&mut c).await.expect_err(text);
        assert!(err.to_string().contains(text), "{err} vs {text}");
    }
    // A corrupted payload with a valid footer is a format error, never a crash.
    let mut corrupt = payload.clone();
    corrupt[1] = 0x3f;
    let err = run(vec![b("x"), b("0"), corrupt])
        .query_async::<()>(&mut c)
        .await
        .expect_err("corrupt");
    assert!(err.to_string().contains("checksum"), "{err}");

    let _: () = run(vec![b("a"), b("0"), p.clone(), b("REPLACE")])
        .query_async(&mut c)
        .await
        .expect("replace");
    let _: () = run(vec![b("t"), b("100000"), p.clone()])
        .query_async(&mut c)
        .await
        .expect("ttl");
    let pttl: i64 = c.pttl("t").await.expect("pttl");
    assert!(pttl > 90_000 && pttl <= 100_000, "{pttl}");
    let _: () = run(vec![b("abs"), b("1"), p.clone(), b("ABSTTL")])
        .query_async(&mut c)
        .await
        .expect("expired absttl");
    let exists: bool = c.exists("abs").await.expect("exists");
    assert!(!exists, "an absolute TTL in the past creates nothing");
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        + 60_000)
        .to_string();
    let _: () = run(vec![
        b("abs"),
        b(&far),
        p.clone(),
        b("ABSTTL"),
        b("IDLETIME"),
        b("5"),
    ])
    .query_async(&mut c)
    .await
    .expect("absttl");
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("abs")
        .query_async(&mut c)
        .await
        .expect("idletime");
    assert!((5..=6).contains(&idle), "IDLETIME 5 restored: {idle}");
    let v: String = c.get("abs").await.expect("get");
    assert_eq!(v, "value");
    let pttl: i64 = c.pttl("abs").await.expect("pttl");
    assert!(pttl > 50_000 && pttl <= 60_000, "{pttl}");
}
