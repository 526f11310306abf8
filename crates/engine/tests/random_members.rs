//! SRANDMEMBER / HRANDFIELD / ZRANDMEMBER with a negative count draw every member with the same
//! chance (a chi-square test with a generous bound: it fails for a biased pick, not by bad luck), and
//! SINTERCARD / ZINTERCARD reject illegal arguments with redis-server 7.0.15's errors.

mod common;

use common::conn::{Conn, V, err, text};

/// Chi-square statistic of `samples` against a uniform distribution over `n` members.
fn chi_square(samples: &[String], n: usize) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for s in samples {
        *counts.entry(s.as_str()).or_insert(0usize) += 1;
    }
    assert!(counts.len() <= n, "a sample outside the members");
    let expected = samples.len() as f64 / n as f64;
    (0..n)
        .map(|i| {
            let c = counts.get(format!("m{i}").as_str()).copied().unwrap_or(0) as f64;
            (c - expected).powi(2) / expected
        })
        .sum()
}

fn strings(v: V) -> Vec<String> {
    let V::Arr(items) = v else {
        panic!("an array: {v:?}");
    };
    items.iter().map(text).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_counts_draw_uniformly() {
    let (_server, addr) = common::start("127.0.86.1", &[]);
    let mut c = Conn::open(addr).await;
    // 10 members (compact encodings) and 300 (hash tables, where chains differ in length).
    for n in [10usize, 300] {
        c.call(&["FLUSHALL"]).await;
        let members: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let (mut sadd, mut hset, mut zadd) =
            (vec!["SADD", "s"], vec!["HSET", "h"], vec!["ZADD", "z"]);
        for m in &members {
            sadd.push(m);
            hset.extend([m.as_str(), "v"]);
            zadd.extend(["1", m.as_str()]);
        }
        for cmd in [sadd, hset, zadd] {
            c.call(&cmd).await;
        }
        let draws = (200 * n).to_string();
        let neg = format!("-{draws}");
        let df = (n - 1) as f64;
        // Mean df, standard deviation sqrt(2 df): ten deviations above is beyond any bad luck,
        // and far below what a pick favouring short chains gives (hundreds of df).
        let bound = df + 10.0 * (2.0 * df).sqrt();
        for (name, cmd) in [
            ("SRANDMEMBER", vec!["SRANDMEMBER", "s", &neg]),
            ("HRANDFIELD", vec!["HRANDFIELD", "h", &neg]),
            ("ZRANDMEMBER", vec!["ZRANDMEMBER", "z", &neg]),
        ] {
            let samples = strings(c.call(&cmd).await);
            assert_eq!(samples.len(), 200 * n);
            let chi = chi_square(&samples, n);
            assert!(
                chi < bound,
                "{name} over {n} members: chi-square {chi:.0} (bound {bound:.0})"
            );
        }
        // WITHVALUES / WITHSCORES: the same draws, in pairs.
        let pairs = strings(c.call(&["HRANDFIELD", "h", &neg, "WITHVALUES"]).await);
        let fields: Vec<String> = pairs.chunks(2).map(|p| p[0].clone()).collect();
        assert!(chi_square(&fields, n) < bound);
        let pairs = strings(c.call(&["ZRANDMEMBER", "z", &neg, "WITHSCORES"]).await);
        let members: Vec<String> = pairs.chunks(2).map(|p| p[0].clone()).collect();
        assert!(chi_square(&members, n) < bound);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercard_illegal_arguments_like_redis() {
    let (_server, addr) = common::start("127.0.86.2", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["SADD", "s", "a", "b", "c"]).await;
    c.call(&["ZADD", "z", "1", "a", "2", "b"]).await;
    c.call(&["SET", "str", "v"]).await;
    let numkeys = err("ERR numkeys should be greater than 0");
    let too_many = err("ERR Number of keys can't be greater than number of args");
    let negative = err("ERR LIMIT can't be negative");
    let syntax = err("ERR syntax error");
    let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
    let zero_keys = err("ERR at least 1 input key is needed for 'zintercard' command");
    for (args, want) in [
        (&["SINTERCARD", "0", "s"][..], numkeys.clone()),
        (&["SINTERCARD", "-1", "s"], numkeys.clone()),
        (&["SINTERCARD", "x", "s"], numkeys.clone()),
        (&["SINTERCARD", "2", "s"], too_many.clone()),
        (&["SINTERCARD", "1", "s", "LIMIT"], syntax.clone()),
        (&["SINTERCARD", "1", "s", "LIMIT", "-1"], negative.clone()),
        (&["SINTERCARD", "1", "s", "LIMIT", "x"], negative.clone()),
        (
            &["SINTERCARD", "1", "s", "LIMIT", "9223372036854775808"],
            negative.clone(),
        ),
        (&["SINTERCARD", "1", "s", "FOO", "1"], syntax.clone()),
        (&["SINTERCARD", "1", "s", "LIMIT", "2"], V::Int(2)),
        (&["SINTERCARD", "1", "s", "LIMIT", "0"], V::Int(3)),
        (&["SINTERCARD", "1", "z"], wrongtype.clone()),
        (&["SINTERCARD", "1", "str", "LIMIT", "x"], negative.clone()),
        (&["ZINTERCARD", "0", "z"], zero_keys.clone()),
        (&["ZINTERCARD", "-1", "z"], zero_keys),
        (
            &["ZINTERCARD", "x", "z"],
            err("ERR value is not an integer or out of range"),
        ),
        (&["ZINTERCARD", "2", "z"], syntax.clone()),
        (&["ZINTERCARD", "1", "z", "LIMIT", "-1"], negative.clone()),
        (&["ZINTERCARD", "1", "z", "LIMIT", "x"], negative.clone()),
        (&["ZINTERCARD", "1", "z", "WEIGHTS", "1"], syntax.clone()),
        (&["ZINTERCARD", "1", "z", "LIMIT", "1"], V::Int(1)),
        (&["ZINTERCARD", "1", "s"], V::Int(3)),
        (&["ZINTERCARD", "1", "str"], wrongtype),
        (&["ZINTERCARD", "2", "z", "nokey"], V::Int(0)),
    ] {
        assert_eq!(c.call(args).await, want, "{args:?}");
    }
}
