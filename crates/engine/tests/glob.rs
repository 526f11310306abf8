//! The glob matcher against redis-server 7.0.15: a line-by-line port of Redis's recursive
//! `stringmatchlen` as the reference (fuzzed against with proptest), vectors recorded from a real
//! redis-server, and the pathological patterns that used to stall the server (issue 15, item 1).

mod common;
mod glob_reference;

use std::time::{Duration, Instant};

use glob_reference::reference;
use proptest::prelude::*;
use redlink_engine::glob;

/// Bytes drawn from a small alphabet rich in the special characters, so random patterns hit
/// classes, ranges, negations, escapes and their unterminated forms often.
fn alphabet() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![
        b'a', b'b', b'A', b'z', b'*', b'?', b'[', b']', b'^', b'-', b'\\', 0x80, 0xff, 0,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_redis_stringmatchlen(
        p in prop::collection::vec(alphabet(), 0..10),
        s in prop::collection::vec(alphabet(), 0..10),
    ) {
        prop_assert_eq!(glob::matches(&p, &s), reference(&p, &s, false), "case-sensitive {:?} {:?}", p, s);
        prop_assert_eq!(glob::matches_nocase(&p, &s), reference(&p, &s, true), "nocase {:?} {:?}", p, s);
    }

    /// Longer strings built to match: the pattern is derived from the string so matches are common.
    #[test]
    fn agrees_on_likely_matches(
        s in prop::collection::vec(alphabet(), 1..16),
        cuts in prop::collection::vec((0usize..16, 0u8..4), 0..6),
    ) {
        let mut p = s.clone();
        for (at, kind) in cuts {
            let i = at.min(p.len().saturating_sub(1));
            match kind {
                0 => p.insert(i, b'*'),
                1 => p[i] = b'?',
                2 => { p.remove(i); p.insert(i, b'*'); }
                _ => { p.insert(i, b'['); p.insert((i + 3).min(p.len()), b']'); }
            }
        }
        prop_assert_eq!(glob::matches(&p, &s), reference(&p, &s, false), "{:?} {:?}", p, s);
    }
}

/// Vectors recorded from redis-server 7.0.15 (see `data/glob_vectors.py`).
#[test]
fn agrees_with_recorded_redis_server() {
    let text = include_str!("data/glob_redis_7.0.15.txt");
    let hex = |h: &str| -> Vec<u8> {
        if h == "-" {
            return Vec::new();
        }
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
            .collect()
    };
    let mut lines = text.lines();
    let strings: Vec<Vec<u8>> = lines.next().expect("strings").split(' ').map(hex).collect();
    let mut checked = 0;
    for line in lines {
        let (p, bits) = line.split_once(' ').expect("pattern line");
        let p = hex(p);
        for (s, bit) in strings.iter().zip(bits.bytes()) {
            assert_eq!(
                glob::matches(&p, s),
                bit == b'1',
                "pattern {p:?} string {s:?}"
            );
            assert_eq!(
                reference(&p, s, false),
                bit == b'1',
                "reference {p:?} {s:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100_000);
}

#[test]
fn pathological_patterns_finish_fast() {
    let key = vec![b'a'; 200];
    let long = vec![b'a'; 100_000];
    let t = Instant::now();
    assert!(!glob::matches(b"*a*a*a*a*a*a*a*a*a*ab", &key));
    assert!(!glob::matches(
        b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab",
        &key
    ));
    assert!(glob::matches(b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", &key));
    assert!(!glob::matches(b"*?*?*?*?*?*?*?*?*?*?*[b]", &long));
    assert!(!glob::matches(
        &b"*a"
            .repeat(900)
            .into_iter()
            .chain(*b"b")
            .collect::<Vec<_>>(),
        &key
    ));
    // Microseconds here; the bound only has to tell linear from exponential (minutes, or never) on a
    // loaded machine, so it is generous.
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
}

/// KEYS with the pattern that took 2.3 s per key before (and never finished with 10 stars against
/// 200 bytes) answers at once, and another client is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_a_pathological_pattern_does_not_stall_the_server() {
    let (_server, addr) = common::start("127.0.15.1", &[]);
    let mut c = common::client(addr).await;
    for i in 0..20 {
        let key = format!("{}{i}", "a".repeat(200));
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .query_async(&mut c)
            .await
            .expect("set");
    }
    let slow = tokio::spawn(async move {
        let mut c = common::client(addr).await;
        let t = Instant::now();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
            .arg("*a*a*a*a*a*a*a*a*a*a*ab")
            .query_async(&mut c)
            .await
            .expect("keys");
        (keys, t.elapsed())
    });
    // Meanwhile another client gets answers.
    let t = Instant::now();
    let pong: String = redis::cmd("PING").query_async(&mut c).await.expect("ping");
    assert_eq!(pong, "PONG");
    assert!(t.elapsed() < Duration::from_secs(10));
    let (keys, took) = tokio::time::timeout(Duration::from_secs(30), slow)
        .await
        .expect("KEYS answers")
        .expect("task");
    assert!(keys.is_empty());
    assert!(took < Duration::from_secs(10), "KEYS took {took:?}");
    // SCAN MATCH and PSUBSCRIBE-style patterns use the same matcher: one quick check each.
    let (_, found): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab")
        .arg("COUNT")
        .arg(1000)
        .query_async(&mut c)
        .await
        .expect("scan");
    assert!(found.is_empty());
}
