//! The glob matcher against redis-server 7.0.15: a line-by-line port of Redis's recursive
//! `stringmatchlen` as the reference (fuzzed against with proptest), vectors recorded from a real
//! redis-server, and the pathological patterns that used to stall the server (issue 15, item 1).

mod common;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use redlink_engine::glob;

/// Redis 7.0.15's `stringmatchlen_impl`, transcribed: C pointer + length become a slice + offset,
/// reads past the end see the NUL terminator sds strings have, `char` is signed (x86-64), and
/// `tolower` is the C locale's. Exponential on purpose (as in Redis, minus nothing): only for
/// small inputs.
fn reference(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip = false;
    impl_(pattern, 0, string, 0, nocase, &mut skip, 0)
}

fn at(b: &[u8], i: usize) -> i32 {
    i32::from(b.get(i).copied().unwrap_or(0) as i8)
}

fn lower(c: i32) -> i32 {
    if (65..=90).contains(&c) { c + 32 } else { c }
}

fn impl_(
    p: &[u8],
    mut pi: usize,
    s: &[u8],
    mut si: usize,
    nocase: bool,
    skip: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    let mut plen = p.len() as isize - pi as isize;
    let mut slen = s.len() as isize - si as isize;
    while plen > 0 && slen > 0 {
        match at(p, pi) as u8 {
            b'*' => {
                while plen > 0 && at(p, pi + 1) == i32::from(b'*') {
                    pi += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while slen > 0 {
                    if impl_(p, pi + 1, s, si, nocase, skip, nesting + 1) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                    si += 1;
                    slen -= 1;
                }
                *skip = true;
                return false;
            }
            b'?' => {
                si += 1;
                slen -= 1;
            }
            b'[' => {
                pi += 1;
                plen -= 1;
                let not = at(p, pi) == i32::from(b'^');
                if not {
                    pi += 1;
                    plen -= 1;
                }
                let mut m = false;
                loop {
                    if at(p, pi) == i32::from(b'\\') && plen >= 2 {
                        pi += 1;
                        plen -= 1;
                        if at(p, pi) == at(s, si) {
                            m = true;
                        }
                    } else if at(p, pi) == i32::from(b']') {
                        break;
                    } else if plen == 0 {
                        pi -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(p, pi + 1) == i32::from(b'-') {
                        let (mut start, mut end, mut c) = (at(p, pi), at(p, pi + 2), at(s, si));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower(start);
                            end = lower(end);
                            c = lower(c);
                        }
                        pi += 2;
                        plen -= 2;
                        if c >= start && c <= end {
                            m = true;
                        }
                    } else if !nocase {
                        if at(p, pi) == at(s, si) {
                            m = true;
                        }
                    } else if lower(at(p, pi)) == lower(at(s, si)) {
                        m = true;
                    }
                    pi += 1;
                    plen -= 1;
                }
                if not {
                    m = !m;
                }
                if !m {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
            other => {
                if other == b'\\' && plen >= 2 {
                    pi += 1;
                    plen -= 1;
                }
                let (a, b) = (at(p, pi), at(s, si));
                let equal = if nocase { lower(a) == lower(b) } else { a == b };
                if !equal {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
        }
        pi += 1;
        plen -= 1;
        if slen == 0 {
            while at(p, pi) == i32::from(b'*') && plen > 0 {
                pi += 1;
                plen -= 1;
            }
            break;
        }
    }
    plen == 0 && slen == 0
}

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
    assert!(
        t.elapsed() < Duration::from_secs(1),
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
    assert!(t.elapsed() < Duration::from_secs(5));
    let (keys, took) = tokio::time::timeout(Duration::from_secs(30), slow)
        .await
        .expect("KEYS answers")
        .expect("task");
    assert!(keys.is_empty());
    assert!(took < Duration::from_secs(2), "KEYS took {took:?}");
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
