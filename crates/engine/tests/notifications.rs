//! Keyspace notifications against redis-server 7.0.15: every case of
//! `tests/data/notifications-7.0.15.json` (recorded by `tests/data/record_notifications.py`) is
//! replayed on redlink the way the recorder ran it on redis-server, and each step must publish exactly
//! the notifications redis-server published, in the same order. Plus the option's CONFIG GET form and
//! errors, and RESP3 pushes.

mod common;

use std::time::Duration;

use common::conn::{Conn, V, text};
use tokio::io::AsyncReadExt;

const RECORDED: &str = include_str!("data/notifications-7.0.15.json");
const MARKER: &str = "__redlink_marker__";

fn arg_bytes(a: &serde_json::Value) -> Vec<u8> {
    let s = a.as_str().expect("string argument");
    match s.strip_prefix("hex:") {
        Some(hex) => (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect(),
        None => s.as_bytes().to_vec(),
    }
}

/// Read notifications until the marker message: `(channel, payload)` pairs.
async fn until_marker(sub: &mut Conn) -> Vec<(String, String)> {
    let mut got = Vec::new();
    loop {
        let V::Arr(items) = sub.read().await else {
            panic!("a Pub/Sub message");
        };
        match text(&items[0]).as_str() {
            "message" if text(&items[1]) == MARKER => return got,
            "pmessage" => got.push((text(&items[2]), text(&items[3]))),
            other => panic!("unexpected {other}: {items:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_case_matches_redis_7_0_15() {
    let (_server, addr) = common::start("127.0.83.1", &[("enable-debug-command", "yes")]);
    let recorded: serde_json::Value = serde_json::from_str(RECORDED).expect("recorded JSON");
    let mut cmd = Conn::open(addr).await;
    let mut marker = Conn::open(addr).await;
    let mut sub = Conn::open(addr).await;
    sub.call(&["PSUBSCRIBE", "__key*__:*"]).await;
    sub.call(&["SUBSCRIBE", MARKER]).await;
    cmd.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await;
    let mut failures = Vec::new();
    let cases = recorded["cases"].as_array().expect("cases");
    assert!(cases.len() >= 30, "a broad command set");
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let flags = case["flags"].as_str().expect("flags");
        let whole = case["whole"].as_bool().unwrap_or(false);
        cmd.call(&["SELECT", "0"]).await;
        cmd.call(&["CONFIG", "SET", "notify-keyspace-events", ""])
            .await;
        cmd.call(&["FLUSHALL"]).await;
        if name == "restore" {
            // The recorder made the payload from this key before enabling notifications.
            cmd.call(&["SET", "a", "hello"]).await;
        }
        cmd.call(&["CONFIG", "SET", "notify-keyspace-events", flags])
            .await;
        let (mut want_all, mut got_all) = (Vec::new(), Vec::new());
        for step in case["steps"].as_array().expect("steps") {
            if let Some(ms) = step["sleep_ms"].as_u64() {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                continue;
            }
            let args: Vec<Vec<u8>> = step["command"]
                .as_array()
                .expect("command")
                .iter()
                .map(arg_bytes)
                .collect();
            cmd.send(&args).await;
            cmd.read().await;
            marker.call(&["PUBLISH", MARKER, "x"]).await;
            let got = until_marker(&mut sub).await;
            let want: Vec<(String, String)> = step["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| {
                    (
                        e[0].as_str().expect("channel").to_string(),
                        e[1].as_str().expect("payload").to_string(),
                    )
                })
                .collect();
            let shown: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(24)]).into_owned())
                .collect();
            if whole {
                want_all.extend(want);
                got_all.extend(got);
            } else if got != want {
                failures.push(format!(
                    "{name}: {}\n    redis:   {want:?}\n    redlink: {got:?}",
                    shown.join(" ")
                ));
            }
        }
        if whole && got_all != want_all {
            failures.push(format!(
                "{name} (whole case)\n    redis:   {want_all:?}\n    redlink: {got_all:?}"
            ));
        }
    }
    cmd.call(&["CONFIG", "SET", "maxmemory", "0"]).await;
    assert!(
        failures.is_empty(),
        "{} step(s) differ from redis-server 7.0.15:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_option_reads_back_like_redis_and_rejects_bad_letters() {
    let (_server, addr) = common::start("127.0.83.2", &[]);
    let mut c = Conn::open(addr).await;
    for (given, shown) in [
        ("KEA", "AKE"),
        ("AnKEm", "AKEm"),
        ("g$lshzxetdnKE", "AKE"),
        ("gg", "g"),
        ("Elgn", "glnE"),
        ("", ""),
    ] {
        assert_eq!(
            c.call(&["CONFIG", "SET", "notify-keyspace-events", given])
                .await,
            V::Str(b"OK".to_vec())
        );
        let got = c.call(&["CONFIG", "GET", "notify-keyspace-events"]).await;
        assert_eq!(
            got,
            V::Arr(vec![
                V::Str(b"notify-keyspace-events".to_vec()),
                V::Str(shown.as_bytes().to_vec())
            ]),
            "{given}"
        );
    }
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "Kq"])
            .await,
        V::Err(
            "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                .into()
        )
    );
    // `A` hides `n` in CONFIG GET (as in Redis 7.0), but `new` events still flow.
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "AnK"])
        .await;
    let mut sub = Conn::open(addr).await;
    sub.call(&["SUBSCRIBE", "__keyspace@0__:fresh"]).await;
    c.call(&["SET", "fresh", "1"]).await;
    let mut events = Vec::new();
    for _ in 0..2 {
        let V::Arr(items) = sub.read().await else {
            panic!("a message");
        };
        events.push(text(&items[2]));
    }
    assert_eq!(events, ["new", "set"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_subscribers_get_pushes_and_active_expiry_notifies() {
    let (_server, addr) = common::start("127.0.83.3", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "Ex"])
        .await;
    let mut sub = Conn::open(addr).await;
    sub.call(&["HELLO", "3"]).await;
    sub.call(&["SUBSCRIBE", "__keyevent@0__:expired"]).await;
    c.call(&["SET", "short", "v", "PX", "20"]).await;
    // Nobody reads the key: the active expiry cycle (10 times a second) removes it.
    let push = sub.read().await;
    assert_eq!(
        push,
        V::Arr(vec![
            V::Str(b"message".to_vec()),
            V::Str(b"__keyevent@0__:expired".to_vec()),
            V::Str(b"short".to_vec()),
        ])
    );
    let mut raw = sub.buf.clone();
    raw.clear();
    // The push arrives as a RESP3 push frame (`>`), checked on the wire.
    c.call(&["SET", "short2", "v", "PX", "20"]).await;
    let mut chunk = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), sub.s.read(&mut chunk))
        .await
        .expect("a push within 10 s")
        .expect("read");
    raw.extend_from_slice(&chunk[..n]);
    assert!(
        raw.starts_with(b">3\r\n"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
}
