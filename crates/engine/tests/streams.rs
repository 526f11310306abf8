//! Integration tests for the stream commands (XADD ... XSETID) through the `redis` crate in RESP2 and
//! RESP3, including blocking XREAD/XREADGROUP woken by another connection, plus property tests of ID
//! ordering, trimming and consumer-group delivery run in-process. Expected replies and error texts
//! are redis-server 7.0.15's. Every network test starts its own engine on an ephemeral loopback port.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use proptest::prelude::*;
use redis::Value as V;
use redis::aio::MultiplexedConnection;
use redis_protocol::resp2::types::OwnedFrame;

mod common;
use common::inproc::InProcess;
use common::reply::{b, e, i, q, run};

/// One entry: `[id, [f, v, ...]]`.
fn entry(id: &str, fields: &[&str]) -> V {
    V::Array(vec![b(id), V::Array(fields.iter().map(|f| b(f)).collect())])
}

fn entries(items: &[(&str, &[&str])]) -> V {
    V::Array(items.iter().map(|(id, f)| entry(id, f)).collect())
}

/// A RESP2 map reply (flat array) or RESP3 map as (key, value) pairs.
fn pairs(v: &V) -> Vec<(String, V)> {
    match v {
        V::Map(m) => m.iter().map(|(k, v)| (text(k), v.clone())).collect(),
        V::Array(a) => a.chunks(2).map(|c| (text(&c[0]), c[1].clone())).collect(),
        other => panic!("not a map: {other:?}"),
    }
}

fn field(v: &V, name: &str) -> V {
    pairs(v)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {name} in {v:?}"))
}

fn text(v: &V) -> String {
    match v {
        V::BulkString(s) => String::from_utf8_lossy(s).into_owned(),
        V::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

#[tokio::test(flavor = "multi_thread")]
async fn xadd_ids_and_errors() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    assert_eq!(q(&mut c, &["XADD", "s", "1-1", "a", "1"]).await, b("1-1"));
    assert_eq!(
        e(&mut c, &["XADD", "s", "1-1", "a", "1"]).await,
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(
        e(&mut c, &["XADD", "s2", "0-0", "a", "1"]).await,
        "ERR The ID specified in XADD must be greater than 0-0"
    );
    assert_eq!(q(&mut c, &["EXISTS", "s2"]).await, i(0));
    assert_eq!(q(&mut c, &["XADD", "s", "1-*", "a", "1"]).await, b("1-2"));
    assert_eq!(q(&mut c, &["XADD", "s", "5-*", "a", "1"]).await, b("5-0"));
    assert_eq!(q(&mut c, &["XADD", "s", "7", "a", "1"]).await, b("7-0"));
    assert_eq!(q(&mut c, &["XADD", "z", "0-*", "a", "1"]).await, b("0-1"));
    assert_eq!(e(&mut c, &["XADD", "s", "2-x", "a", "1"]).await, INVALID_ID);
    assert_eq!(e(&mut c, &["XADD", "s", "-", "a", "1"]).await, INVALID_ID);
    assert_eq!(
        e(&mut c, &["XADD", "s", "*", "a"]).await,
        "ERR wrong number of arguments for 'xadd' command"
    );
    // Auto IDs are current milliseconds and strictly increase.
    let auto = text(&q(&mut c, &["XADD", "s", "*", "a", "1"]).await);
    let auto2 = text(&q(&mut c, &["XADD", "s", "*", "a", "1"]).await);
    let parse = |s: &str| {
        let (ms, seq) = s.split_once('-').expect("dash");
        (
            ms.parse::<u64>().expect("ms"),
            seq.parse::<u64>().expect("seq"),
        )
    };
    assert!(parse(&auto2) > parse(&auto));
    assert!(parse(&auto).0 > 1_600_000_000_000);
    // NOMKSTREAM on a missing key: nil, no key.
    assert_eq!(
        q(&mut c, &["XADD", "nokey", "NOMKSTREAM", "*", "a", "1"]).await,
        V::Nil
    );
    assert_eq!(q(&mut c, &["EXISTS", "nokey"]).await, i(0));
    // Trimming options.
    assert_eq!(
        e(
            &mut c,
            &["XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b"]
        )
        .await,
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
    );
    assert_eq!(
        e(&mut c, &["XADD", "s", "LIMIT", "5", "*", "a", "b"]).await,
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
    );
    assert_eq!(
        e(
            &mut c,
            &["XADD", "s", "MAXLEN", "5", "LIMIT", "5", "*", "a", "b"]
        )
        .await,
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    );
    assert_eq!(
        e(&mut c, &["XADD", "s", "MAXLEN", "-1", "*", "a", "b"]).await,
        "ERR The MAXLEN argument must be >= 0."
    );
    q(&mut c, &["XADD", "s", "MAXLEN", "=", "2", "*", "a", "b"]).await;
    assert_eq!(q(&mut c, &["XLEN", "s"]).await, i(2));
    q(&mut c, &["SET", "str", "x"]).await;
    assert_eq!(e(&mut c, &["XADD", "str", "*", "a", "b"]).await, WRONGTYPE);
    assert_eq!(e(&mut c, &["XLEN", "str"]).await, WRONGTYPE);
    assert_eq!(
        q(&mut c, &["TYPE", "s"]).await,
        V::SimpleString("stream".into())
    );
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "s"]).await, b("stream"));
    // An emptied stream stays (Redis keeps empty streams), and so does its last ID.
    q(&mut c, &["XTRIM", "s", "MAXLEN", "0"]).await;
    assert_eq!(q(&mut c, &["EXISTS", "s"]).await, i(1));
    assert_eq!(q(&mut c, &["XLEN", "s"]).await, i(0));
    assert_eq!(
        e(&mut c, &["XADD", "s", "100-1", "a", "b"]).await,
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    // COPY and RENAME carry streams.
    assert_eq!(
        q(&mut c, &["XADD", "t", "200-1", "a", "b"]).await,
        b("200-1")
    );
    assert_eq!(q(&mut c, &["COPY", "t", "s3"]).await, i(1));
    assert_eq!(q(&mut c, &["RENAME", "s3", "s4"]).await, V::Okay);
    assert_eq!(
        q(&mut c, &["XRANGE", "s4", "-", "+"]).await,
        entries(&[("200-1", &["a", "b"])])
    );
    assert!(matches!(q(&mut c, &["MEMORY", "USAGE", "s4"]).await, V::Int(n) if n > 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_len_del_trim() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    for (id, v) in [("1-1", "1"), ("2-1", "2"), ("3-1", "3"), ("4-1", "4")] {
        q(&mut c, &["XADD", "s", id, "f", v]).await;
    }
    assert_eq!(
        q(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "2"]).await,
        entries(&[("1-1", &["f", "1"]), ("2-1", &["f", "2"])])
    );
    assert_eq!(
        q(&mut c, &["XRANGE", "s", "(1-1", "(4-1"]).await,
        entries(&[("2-1", &["f", "2"]), ("3-1", &["f", "3"])])
    );
    assert_eq!(
        q(&mut c, &["XRANGE", "s", "2", "3"]).await,
        entries(&[("2-1", &["f", "2"]), ("3-1", &["f", "3"])])
    );
    assert_eq!(
        q(&mut c, &["XREVRANGE", "s", "+", "-", "COUNT", "1"]).await,
        entries(&[("4-1", &["f", "4"])])
    );
    assert_eq!(
        q(&mut c, &["XREVRANGE", "s", "(4-1", "(2-1"]).await,
        entries(&[("3-1", &["f", "3"])])
    );
    assert_eq!(
        q(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "0"]).await,
        V::Nil
    );
    assert_eq!(
        q(&mut c, &["XRANGE", "nokey", "-", "+"]).await,
        V::Array(vec![])
    );
    assert_eq!(
        e(
            &mut c,
            &[
                "XRANGE",
                "s",
                "(18446744073709551615-18446744073709551615",
                "+"
            ]
        )
        .await,
        "ERR invalid start ID for the interval"
    );
    assert_eq!(
        e(&mut c, &["XRANGE", "s", "-", "(0-0"]).await,
        "ERR invalid end ID for the interval"
    );
    assert_eq!(
        e(&mut c, &["XRANGE", "s", "-", "+", "FOO"]).await,
        "ERR syntax error"
    );
    assert_eq!(e(&mut c, &["XRANGE", "s", "x", "+"]).await, INVALID_ID);
    assert_eq!(q(&mut c, &["XDEL", "s", "2-1", "9-9"]).await, i(1));
    assert_eq!(q(&mut c, &["XDEL", "s", "2-1"]).await, i(0));
    assert_eq!(e(&mut c, &["XDEL", "s", "x"]).await, INVALID_ID);
    assert_eq!(q(&mut c, &["XDEL", "nokey", "x"]).await, i(0));
    assert_eq!(q(&mut c, &["XLEN", "s"]).await, i(3));
    assert_eq!(q(&mut c, &["XLEN", "nokey"]).await, i(0));
    assert_eq!(
        e(&mut c, &["XTRIM", "s", "LIMIT", "5"]).await,
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
    );
    assert_eq!(
        e(&mut c, &["XTRIM", "s", "LIMIT", "0"]).await,
        "ERR syntax error, XTRIM must be called with a trimming strategy"
    );
    assert_eq!(
        e(&mut c, &["XTRIM", "s", "FOO", "1"]).await,
        "ERR syntax error"
    );
    // Approximate trimming removes whole nodes only: nothing from a small stream.
    assert_eq!(q(&mut c, &["XTRIM", "s", "MAXLEN", "~", "1"]).await, i(0));
    assert_eq!(q(&mut c, &["XTRIM", "s", "MAXLEN", "2"]).await, i(1));
    assert_eq!(q(&mut c, &["XTRIM", "s", "MINID", "4"]).await, i(1));
    assert_eq!(
        q(&mut c, &["XRANGE", "s", "-", "+"]).await,
        entries(&[("4-1", &["f", "4"])])
    );
    assert_eq!(q(&mut c, &["XTRIM", "nokey", "MAXLEN", "0"]).await, i(0));
    // 250 entries make three nodes of 100: `~` trims whole nodes, LIMIT caps it.
    q(&mut c, &["DEL", "big"]).await;
    for n in 1..=250 {
        q(&mut c, &["XADD", "big", &format!("{n}-0"), "f", "v"]).await;
    }
    assert_eq!(
        q(
            &mut c,
            &["XTRIM", "big", "MAXLEN", "~", "120", "LIMIT", "50"]
        )
        .await,
        i(0)
    );
    assert_eq!(
        q(&mut c, &["XTRIM", "big", "MAXLEN", "~", "120"]).await,
        i(100)
    );
    assert_eq!(q(&mut c, &["XTRIM", "big", "MAXLEN", "120"]).await, i(30));
    let info = q(&mut c, &["XINFO", "STREAM", "big"]).await;
    assert_eq!(field(&info, "length"), i(120));
    assert_eq!(field(&info, "recorded-first-entry-id"), b("131-0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn xread_and_dollar() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    q(&mut c, &["XADD", "a", "1-1", "f", "1"]).await;
    q(&mut c, &["XADD", "a", "2-1", "f", "2"]).await;
    q(&mut c, &["XADD", "b", "5-1", "g", "5"]).await;
    assert_eq!(
        q(
            &mut c,
            &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"]
        )
        .await,
        V::Array(vec![
            V::Array(vec![b("a"), entries(&[("1-1", &["f", "1"])])]),
            V::Array(vec![b("b"), entries(&[("5-1", &["g", "5"])])]),
        ])
    );
    assert_eq!(q(&mut c, &["XREAD", "STREAMS", "a", "$"]).await, V::Nil);
    assert_eq!(q(&mut c, &["XREAD", "STREAMS", "a", "2-1"]).await, V::Nil);
    assert_eq!(
        q(&mut c, &["XREAD", "BLOCK", "10", "STREAMS", "a", "$"]).await,
        V::Nil
    );
    assert_eq!(
        e(&mut c, &["XREAD", "STREAMS", "a", "b", "0"]).await,
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    );
    assert_eq!(
        e(&mut c, &["XREAD", "STREAMS", "a", ">"]).await,
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
    );
    assert_eq!(
        e(&mut c, &["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"]).await,
        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
    );
    assert_eq!(
        e(&mut c, &["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"]).await,
        "ERR timeout is negative"
    );
    assert_eq!(
        e(&mut c, &["XREAD", "BLOCK", "x", "STREAMS", "a", "0"]).await,
        "ERR timeout is not an integer or out of range"
    );
    q(&mut c, &["SET", "str", "x"]).await;
    assert_eq!(
        e(&mut c, &["XREAD", "STREAMS", "str", "0"]).await,
        WRONGTYPE
    );
    // Inside MULTI a blocking read returns at once.
    q(&mut c, &["MULTI"]).await;
    q(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "a", "$"]).await;
    assert_eq!(q(&mut c, &["EXEC"]).await, V::Array(vec![V::Nil]));
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_xread_woken_by_xadd() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    let mut reader = common::client_resp(addr, false).await;
    let mut reader2 = common::client_resp(addr, false).await;
    q(&mut c, &["XADD", "s", "1-1", "f", "old"]).await;
    // `$` means "after the last entry when I blocked": the entry added while waiting is returned.
    let t1 =
        tokio::spawn(
            async move { q(&mut reader, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await },
        );
    let t2 = tokio::spawn(async move {
        q(
            &mut reader2,
            &[
                "XREAD", "BLOCK", "5000", "STREAMS", "missing", "s", "$", "$",
            ],
        )
        .await
    });
    wait_blocked(&mut c, 2).await;
    q(&mut c, &["XADD", "s", "2-1", "f", "new"]).await;
    let expect = V::Array(vec![V::Array(vec![
        b("s"),
        entries(&[("2-1", &["f", "new"])]),
    ])]);
    assert_eq!(t1.await.expect("join"), expect);
    assert_eq!(t2.await.expect("join"), expect);
    // A timeout replies nil.
    let start = std::time::Instant::now();
    assert_eq!(
        q(&mut c, &["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]).await,
        V::Nil
    );
    assert!(start.elapsed() >= Duration::from_millis(90));
}

/// Wait until `n` clients are blocked.
async fn wait_blocked(c: &mut MultiplexedConnection, n: usize) {
    for _ in 0..500 {
        let info = text(&q(c, &["INFO", "clients"]).await);
        let blocked = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if blocked >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("clients did not block");
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_xreadgroup() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).await;
    q(&mut c, &["XGROUP", "CREATE", "s", "h", "$"]).await;
    let mut c1 = common::client_resp(addr, false).await;
    let mut c2 = common::client_resp(addr, false).await;
    let mut c3 = common::client_resp(addr, false).await;
    // Two consumers of g and one of h: the first of g and the one of h get the entry.
    let t1 = tokio::spawn(async move {
        q(
            &mut c1,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c1",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await
    });
    wait_blocked(&mut c, 1).await;
    let t2 = tokio::spawn(async move {
        q(
            &mut c2,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c2",
                "BLOCK",
                "300",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await
    });
    wait_blocked(&mut c, 2).await;
    let t3 = tokio::spawn(async move {
        q(
            &mut c3,
            &[
                "XREADGROUP",
                "GROUP",
                "h",
                "c3",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await
    });
    wait_blocked(&mut c, 3).await;
    q(&mut c, &["XADD", "s", "1-1", "f", "v"]).await;
    let got = V::Array(vec![V::Array(vec![
        b("s"),
        entries(&[("1-1", &["f", "v"])]),
    ])]);
    assert_eq!(t1.await.expect("join"), got);
    assert_eq!(t3.await.expect("join"), got);
    assert_eq!(t2.await.expect("join"), V::Nil);
    let summary = q(&mut c, &["XPENDING", "s", "g"]).await;
    assert_eq!(
        summary,
        V::Array(vec![
            i(1),
            b("1-1"),
            b("1-1"),
            V::Array(vec![V::Array(vec![b("c1"), b("1")])]),
        ])
    );

    // Deleting the key or destroying the group wakes a blocked consumer with an error.
    let mut c4 = common::client_resp(addr, false).await;
    let t4 = tokio::spawn(async move {
        run(
            &mut c4,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c4",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await
    });
    wait_blocked(&mut c, 1).await;
    q(&mut c, &["XGROUP", "DESTROY", "s", "g"]).await;
    assert_eq!(
        t4.await.expect("join"),
        Err("NOGROUP the consumer group this client was blocked on no longer exists".into())
    );
    let mut c5 = common::client_resp(addr, false).await;
    let t5 = tokio::spawn(async move {
        run(
            &mut c5,
            &[
                "XREADGROUP",
                "GROUP",
                "h",
                "c5",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await
    });
    wait_blocked(&mut c, 1).await;
    q(&mut c, &["DEL", "s"]).await;
    assert_eq!(
        t5.await.expect("join"),
        Err("UNBLOCKED the stream key no longer exists".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_groups() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    assert_eq!(
        e(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await,
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    );
    for (id, v) in [("1-1", "1"), ("2-1", "2"), ("3-1", "3")] {
        q(&mut c, &["XADD", "s", id, "f", v]).await;
    }
    assert_eq!(
        q(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await,
        V::Okay
    );
    assert_eq!(
        e(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await,
        "BUSYGROUP Consumer Group name already exists"
    );
    assert_eq!(
        e(
            &mut c,
            &["XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-5"]
        )
        .await,
        "ERR value for ENTRIESREAD must be positive or -1"
    );
    assert_eq!(
        e(&mut c, &["XGROUP", "CREATE", "s", "g2", "0", "FOO"]).await,
        "ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."
    );
    assert_eq!(
        e(&mut c, &["XGROUP", "SETID", "s", "nog", "0"]).await,
        "NOGROUP No such consumer group 'nog' for key name 's'"
    );
    assert_eq!(
        e(&mut c, &["XGROUP", "FOO"]).await,
        "ERR unknown subcommand 'FOO'. Try XGROUP HELP."
    );
    assert_eq!(
        e(&mut c, &["XGROUP", "DESTROY", "s"]).await,
        "ERR wrong number of arguments for 'xgroup|destroy' command"
    );
    assert!(matches!(q(&mut c, &["XGROUP", "HELP"]).await, V::Array(a) if a.len() == 17));
    assert_eq!(
        q(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "c0"]).await,
        i(1)
    );
    assert_eq!(
        q(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "c0"]).await,
        i(0)
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c1",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">"
            ]
        )
        .await,
        V::Array(vec![V::Array(vec![
            b("s"),
            entries(&[("1-1", &["f", "1"]), ("2-1", &["f", "2"])]),
        ])])
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c2",
                "NOACK",
                "STREAMS",
                "s",
                ">"
            ]
        )
        .await,
        V::Array(vec![V::Array(vec![
            b("s"),
            entries(&[("3-1", &["f", "3"])])
        ])])
    );
    // Nothing new: nil; history of c1 from 0.
    assert_eq!(
        q(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]
        )
        .await,
        V::Nil
    );
    assert_eq!(
        q(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"]
        )
        .await,
        V::Array(vec![V::Array(vec![
            b("s"),
            entries(&[("1-1", &["f", "1"]), ("2-1", &["f", "2"])]),
        ])])
    );
    assert_eq!(
        q(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0"]
        )
        .await,
        V::Array(vec![V::Array(vec![b("s"), V::Array(vec![])])])
    );
    assert_eq!(
        e(
            &mut c,
            &["XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"]
        )
        .await,
        "NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option"
    );
    assert_eq!(
        e(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"]
        )
        .await,
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
    );
    assert_eq!(
        e(
            &mut c,
            &[
                "XREADGROUP",
                "COUNT",
                "1",
                "BLOCK",
                "1",
                "STREAMS",
                "s",
                ">"
            ]
        )
        .await,
        "ERR Missing GROUP option for XREADGROUP"
    );
    // A deleted entry still pending shows as [id, nil] in the history.
    q(&mut c, &["XDEL", "s", "2-1"]).await;
    assert_eq!(
        q(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "1-1"]
        )
        .await,
        V::Array(vec![V::Array(vec![
            b("s"),
            V::Array(vec![V::Array(vec![b("2-1"), V::Nil])]),
        ])])
    );
    assert_eq!(q(&mut c, &["XACK", "s", "g", "1-1", "9-9"]).await, i(1));
    assert_eq!(q(&mut c, &["XACK", "s", "g", "1-1"]).await, i(0));
    assert_eq!(e(&mut c, &["XACK", "s", "g", "x"]).await, INVALID_ID);
    assert_eq!(q(&mut c, &["XACK", "s", "nog", "1-1"]).await, i(0));
    // XINFO GROUPS / CONSUMERS.
    let groups = q(&mut c, &["XINFO", "GROUPS", "s"]).await;
    let V::Array(groups) = groups else {
        panic!("groups")
    };
    assert_eq!(field(&groups[0], "name"), b("g"));
    assert_eq!(field(&groups[0], "consumers"), i(3));
    assert_eq!(field(&groups[0], "pending"), i(1));
    assert_eq!(field(&groups[0], "last-delivered-id"), b("3-1"));
    assert_eq!(field(&groups[0], "entries-read"), i(3));
    assert_eq!(field(&groups[0], "lag"), i(0));
    let consumers = q(&mut c, &["XINFO", "CONSUMERS", "s", "g"]).await;
    let V::Array(consumers) = consumers else {
        panic!("consumers")
    };
    let names: Vec<String> = consumers.iter().map(|c| text(&field(c, "name"))).collect();
    assert_eq!(names, ["c0", "c1", "c2"]);
    assert_eq!(field(&consumers[1], "pending"), i(1));
    assert!(matches!(field(&consumers[1], "idle"), V::Int(n) if n >= 0));
    // c1 was given an entry: active; a consumer never given one reports -1.
    assert!(matches!(field(&consumers[1], "inactive"), V::Int(n) if n >= 0));
    q(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "idle-one"]).await;
    let V::Array(all) = q(&mut c, &["XINFO", "CONSUMERS", "s", "g"]).await else {
        panic!("consumers")
    };
    let idle_one = all
        .iter()
        .find(|c| text(&field(c, "name")) == "idle-one")
        .expect("created");
    assert_eq!(field(idle_one, "inactive"), i(-1));
    q(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", "idle-one"]).await;
    assert_eq!(
        e(&mut c, &["XINFO", "CONSUMERS", "s", "nog"]).await,
        "NOGROUP No such consumer group 'nog' for key name 's'"
    );
    assert_eq!(
        q(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", "c1"]).await,
        i(1)
    );
    assert_eq!(
        q(
            &mut c,
            &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"]
        )
        .await,
        V::Okay
    );
    assert_eq!(q(&mut c, &["XGROUP", "DESTROY", "s", "g"]).await, i(1));
    assert_eq!(q(&mut c, &["XGROUP", "DESTROY", "s", "g"]).await, i(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_claim_autoclaim() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    for n in 1..=5 {
        q(
            &mut c,
            &["XADD", "s", &format!("{n}-1"), "f", &n.to_string()],
        )
        .await;
    }
    q(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await;
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    )
    .await;
    assert_eq!(
        q(&mut c, &["XPENDING", "s", "g"]).await,
        V::Array(vec![
            i(3),
            b("1-1"),
            b("3-1"),
            V::Array(vec![V::Array(vec![b("c1"), b("3")])]),
        ])
    );
    let rows = q(&mut c, &["XPENDING", "s", "g", "-", "+", "10"]).await;
    let V::Array(rows) = rows else { panic!("rows") };
    assert_eq!(rows.len(), 3);
    let V::Array(row) = &rows[0] else {
        panic!("row")
    };
    assert_eq!(row[0], b("1-1"));
    assert_eq!(row[1], b("c1"));
    assert_eq!(row[3], i(1));
    assert_eq!(
        q(
            &mut c,
            &["XPENDING", "s", "g", "IDLE", "1000000", "-", "+", "10"]
        )
        .await,
        V::Array(vec![])
    );
    let one = q(&mut c, &["XPENDING", "s", "g", "(1-1", "+", "1", "c1"]).await;
    assert_eq!(
        blank_idle(&one),
        V::Array(vec![V::Array(vec![b("2-1"), b("c1"), i(-1), i(1)])])
    );
    assert_eq!(
        q(&mut c, &["XPENDING", "s", "g", "-", "+", "10", "nobody"]).await,
        V::Array(vec![])
    );
    assert_eq!(
        e(&mut c, &["XPENDING", "s", "nog"]).await,
        "NOGROUP No such key 's' or consumer group 'nog'"
    );
    assert_eq!(
        e(&mut c, &["XPENDING", "s", "g", "-", "+"]).await,
        "ERR syntax error"
    );
    // XCLAIM: to c2, JUSTID does not count a delivery, RETRYCOUNT sets it; FORCE creates entries.
    assert_eq!(
        q(&mut c, &["XCLAIM", "s", "g", "c2", "0", "1-1"]).await,
        entries(&[("1-1", &["f", "1"])])
    );
    assert_eq!(
        q(&mut c, &["XCLAIM", "s", "g", "c2", "0", "1-1", "JUSTID"]).await,
        V::Array(vec![b("1-1")])
    );
    assert_eq!(
        q(&mut c, &["XCLAIM", "s", "g", "c2", "100000", "1-1"]).await,
        V::Array(vec![])
    );
    assert_eq!(
        q(&mut c, &["XCLAIM", "s", "g", "c3", "0", "5-1"]).await,
        V::Array(vec![])
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XCLAIM",
                "s",
                "g",
                "c3",
                "0",
                "5-1",
                "FORCE",
                "RETRYCOUNT",
                "7"
            ]
        )
        .await,
        entries(&[("5-1", &["f", "5"])])
    );
    let rows = q(&mut c, &["XPENDING", "s", "g", "5-1", "5-1", "1"]).await;
    let V::Array(rows) = rows else { panic!("rows") };
    let V::Array(row) = &rows[0] else {
        panic!("row")
    };
    assert_eq!((row[1].clone(), row[3].clone()), (b("c3"), i(7)));
    assert_eq!(
        e(&mut c, &["XCLAIM", "s", "g", "c3", "0", "1-1", "FOO"]).await,
        "ERR Unrecognized XCLAIM option 'FOO'"
    );
    assert_eq!(
        e(&mut c, &["XCLAIM", "s", "g", "c3", "x", "1-1"]).await,
        "ERR Invalid min-idle-time argument for XCLAIM"
    );
    assert_eq!(
        e(&mut c, &["XCLAIM", "s", "g", "c3", "0", "1-1", "IDLE", "x"]).await,
        "ERR Invalid IDLE option argument for XCLAIM"
    );
    assert_eq!(
        e(&mut c, &["XCLAIM", "s", "nog", "c3", "0", "1-1"]).await,
        "NOGROUP No such key 's' or consumer group 'nog'"
    );
    // LASTID moves the group's last delivered ID forward.
    q(
        &mut c,
        &[
            "XCLAIM", "s", "g", "c3", "0", "1-1", "LASTID", "4-0", "JUSTID",
        ],
    )
    .await;
    let V::Array(groups) = q(&mut c, &["XINFO", "GROUPS", "s"]).await else {
        panic!("groups")
    };
    assert_eq!(field(&groups[0], "last-delivered-id"), b("4-0"));
    // A claimed entry that was deleted leaves the PEL instead (7.0).
    q(&mut c, &["XDEL", "s", "2-1"]).await;
    assert_eq!(
        q(&mut c, &["XCLAIM", "s", "g", "c3", "0", "2-1"]).await,
        V::Array(vec![])
    );
    // XAUTOCLAIM: 3 elements, cursor, claimed, deleted IDs.
    q(&mut c, &["XDEL", "s", "3-1"]).await;
    assert_eq!(
        q(
            &mut c,
            &["XAUTOCLAIM", "s", "g", "c4", "0", "0", "COUNT", "1"]
        )
        .await,
        V::Array(vec![
            b("3-1"),
            entries(&[("1-1", &["f", "1"])]),
            V::Array(vec![]),
        ])
    );
    assert_eq!(
        q(
            &mut c,
            &["XAUTOCLAIM", "s", "g", "c4", "0", "(1-1", "JUSTID"]
        )
        .await,
        V::Array(vec![
            b("0-0"),
            V::Array(vec![b("5-1")]),
            V::Array(vec![b("3-1")])
        ])
    );
    assert_eq!(
        e(
            &mut c,
            &["XAUTOCLAIM", "s", "g", "c4", "0", "0", "COUNT", "0"]
        )
        .await,
        "ERR COUNT must be > 0"
    );
    assert_eq!(
        e(&mut c, &["XAUTOCLAIM", "s", "nog", "c4", "0", "0"]).await,
        "NOGROUP No such key 's' or consumer group 'nog'"
    );
    assert_eq!(
        q(&mut c, &["XPENDING", "s", "g"]).await,
        V::Array(vec![
            i(2),
            b("1-1"),
            b("5-1"),
            V::Array(vec![V::Array(vec![b("c4"), b("2")])]),
        ])
    );
}

/// XPENDING rows with their clock-dependent idle time blanked to -1.
fn blank_idle(v: &V) -> V {
    match v {
        V::Array(rows) => V::Array(
            rows.iter()
                .map(|r| match r {
                    V::Array(cols) if cols.len() == 4 => {
                        let mut c = cols.clone();
                        c[2] = V::Int(-1);
                        V::Array(c)
                    }
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn xinfo_and_xsetid() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    q(&mut c, &["XADD", "s", "1-1", "a", "1"]).await;
    q(&mut c, &["XADD", "s", "2-1", "b", "2"]).await;
    q(&mut c, &["XDEL", "s", "1-1"]).await;
    let info = q(&mut c, &["XINFO", "STREAM", "s"]).await;
    let keys: Vec<String> = pairs(&info).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "length",
            "radix-tree-keys",
            "radix-tree-nodes",
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "recorded-first-entry-id",
            "groups",
            "first-entry",
            "last-entry"
        ]
    );
    assert_eq!(field(&info, "length"), i(1));
    assert_eq!(field(&info, "radix-tree-keys"), i(1));
    assert_eq!(field(&info, "radix-tree-nodes"), i(2));
    assert_eq!(field(&info, "max-deleted-entry-id"), b("1-1"));
    assert_eq!(field(&info, "entries-added"), i(2));
    assert_eq!(field(&info, "recorded-first-entry-id"), b("2-1"));
    assert_eq!(field(&info, "first-entry"), entry("2-1", &["b", "2"]));
    q(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await;
    q(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
    )
    .await;
    let full = q(&mut c, &["XINFO", "STREAM", "s", "FULL", "COUNT", "5"]).await;
    assert_eq!(field(&full, "entries"), entries(&[("2-1", &["b", "2"])]));
    let V::Array(groups) = field(&full, "groups") else {
        panic!("groups")
    };
    assert_eq!(field(&groups[0], "pel-count"), i(1));
    let V::Array(consumers) = field(&groups[0], "consumers") else {
        panic!("consumers")
    };
    assert_eq!(field(&consumers[0], "name"), b("c"));
    assert_eq!(field(&consumers[0], "pel-count"), i(1));
    assert_eq!(
        e(&mut c, &["XINFO", "STREAM", "nokey"]).await,
        "ERR no such key"
    );
    assert_eq!(
        e(&mut c, &["XINFO", "STREAM", "s", "FOO"]).await,
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
    );
    assert_eq!(
        e(&mut c, &["XINFO", "GROUPS"]).await,
        "ERR wrong number of arguments for 'xinfo|groups' command"
    );
    assert!(matches!(q(&mut c, &["XINFO", "HELP"]).await, V::Array(a) if a.len() == 9));
    // XSETID.
    assert_eq!(
        e(&mut c, &["XSETID", "s", "1-0"]).await,
        "ERR The ID specified in XSETID is smaller than the target stream top item"
    );
    assert_eq!(
        e(&mut c, &["XSETID", "s", "9-0", "ENTRIESADDED", "0"]).await,
        "ERR The entries_added specified in XSETID is smaller than the target stream length"
    );
    assert_eq!(
        e(&mut c, &["XSETID", "s", "9-0", "MAXDELETEDID", "10-0"]).await,
        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
    );
    assert_eq!(
        e(&mut c, &["XSETID", "nokey", "1-1"]).await,
        "ERR no such key"
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XSETID",
                "s",
                "9-0",
                "ENTRIESADDED",
                "50",
                "MAXDELETEDID",
                "8-0"
            ]
        )
        .await,
        V::Okay
    );
    let info = q(&mut c, &["XINFO", "STREAM", "s"]).await;
    assert_eq!(field(&info, "last-generated-id"), b("9-0"));
    assert_eq!(field(&info, "entries-added"), i(50));
    assert_eq!(field(&info, "max-deleted-entry-id"), b("8-0"));
    assert_eq!(
        e(&mut c, &["XADD", "s", "9-0", "f", "v"]).await,
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resp3_shapes() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, true).await;
    q(&mut c, &["XADD", "s", "1-1", "f", "v"]).await;
    q(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await;
    // XREAD and XREADGROUP reply a map of stream name to entries.
    let read = q(&mut c, &["XREAD", "STREAMS", "s", "0"]).await;
    assert_eq!(
        read,
        V::Map(vec![(b("s"), entries(&[("1-1", &["f", "v"])]))])
    );
    let read = q(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
    )
    .await;
    assert_eq!(
        read,
        V::Map(vec![(b("s"), entries(&[("1-1", &["f", "v"])]))])
    );
    assert_eq!(q(&mut c, &["XREAD", "STREAMS", "s", "$"]).await, V::Nil);
    // XINFO replies are maps.
    assert!(matches!(q(&mut c, &["XINFO", "STREAM", "s"]).await, V::Map(m) if m.len() == 10));
    assert!(
        matches!(q(&mut c, &["XINFO", "STREAM", "s", "FULL"]).await, V::Map(m) if m.len() == 9)
    );
    let V::Array(groups) = q(&mut c, &["XINFO", "GROUPS", "s"]).await else {
        panic!("groups")
    };
    assert!(matches!(&groups[0], V::Map(m) if m.len() == 6));
    let V::Array(consumers) = q(&mut c, &["XINFO", "CONSUMERS", "s", "g"]).await else {
        panic!("consumers")
    };
    // Redis 7.2's shape: name, pending, idle, inactive.
    assert!(matches!(&consumers[0], V::Map(m) if m.len() == 4));
    // The history of a deleted pending entry: [id, null].
    q(&mut c, &["XDEL", "s", "1-1"]).await;
    assert_eq!(
        q(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"]
        )
        .await,
        V::Map(vec![(
            b("s"),
            V::Array(vec![V::Array(vec![b("1-1"), V::Nil])])
        )])
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests, in-process.

fn id_of(f: &OwnedFrame) -> (u64, u64) {
    let OwnedFrame::BulkString(s) = f else {
        panic!("not an id: {f:?}")
    };
    let s = String::from_utf8_lossy(s);
    let (ms, seq) = s.split_once('-').expect("dash");
    (ms.parse().expect("ms"), seq.parse().expect("seq"))
}

/// The IDs of an entries array.
fn ids_of(f: &OwnedFrame) -> Vec<(u64, u64)> {
    match f {
        OwnedFrame::Array(items) => items
            .iter()
            .map(|e| match e {
                OwnedFrame::Array(pair) => id_of(&pair[0]),
                other => panic!("not an entry: {other:?}"),
            })
            .collect(),
        OwnedFrame::Null => Vec::new(),
        other => panic!("not entries: {other:?}"),
    }
}

/// The entries of stream `s` in an XREADGROUP reply.
fn read_ids(f: &OwnedFrame) -> Vec<(u64, u64)> {
    match f {
        OwnedFrame::Null => Vec::new(),
        OwnedFrame::Array(streams) => streams
            .iter()
            .flat_map(|s| match s {
                OwnedFrame::Array(kv) => ids_of(&kv[1]),
                other => panic!("not a stream: {other:?}"),
            })
            .collect(),
        other => panic!("not a read reply: {other:?}"),
    }
}

#[derive(Debug, Clone)]
enum AddOp {
    Auto,
    Explicit(u64, u64),
    AutoSeq(u64),
    Del(usize),
    TrimMaxLen(u64, bool),
}

fn add_op() -> impl Strategy<Value = AddOp> {
    prop_oneof![
        3 => Just(AddOp::Auto),
        3 => (0u64..50, 0u64..4).prop_map(|(m, s)| AddOp::Explicit(m, s)),
        2 => (0u64..50).prop_map(AddOp::AutoSeq),
        1 => (0usize..64).prop_map(AddOp::Del),
        1 => (0u64..30, any::<bool>()).prop_map(|(n, a)| AddOp::TrimMaxLen(n, a)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// IDs strictly increase under any mix of auto, explicit and `ms-*` IDs; rejected IDs are exactly
    /// those not above the last ID; XRANGE returns the model's entries in order and XREVRANGE their
    /// reverse; trimming keeps the newest entries.
    #[test]
    fn ids_increase_and_ranges_are_sorted(ops in prop::collection::vec(add_op(), 1..80)) {
        let mut h = InProcess::new();
        let mut model: BTreeSet<(u64, u64)> = BTreeSet::new();
        let mut last = (0u64, 0u64);
        for op in ops {
            match op {
                AddOp::Auto | AddOp::Explicit(..) | AddOp::AutoSeq(_) => {
                    let id = match &op {
                        AddOp::Explicit(m, s) => format!("{m}-{s}"),
                        AddOp::AutoSeq(m) => format!("{m}-*"),
                        _ => "*".to_string(),
                    };
                    let reply = h.run_str(&["XADD", "s", &id, "f", "v"]);
                    match reply {
                        OwnedFrame::BulkString(_) => {
                            let got = id_of(&reply);
                            prop_assert!(got > last, "{:?} not above {:?}", got, last);
                            if let AddOp::Explicit(m, s) = op {
                                prop_assert_eq!(got, (m, s));
                            }
                            last = got;
                            model.insert(got);
                        }
                        OwnedFrame::Error(e) => {
                            // Only IDs not above the top may fail.
                            let wanted = match op {
                                AddOp::Explicit(m, s) => (m, s),
                                AddOp::AutoSeq(m) => (m, if m == last.0 { last.1 + 1 } else { 0 }),
                                _ => (0, 0),
                            };
                            prop_assert!(wanted <= last, "{} for {:?} (last {:?})", e, wanted, last);
                        }
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
                AddOp::Del(k) => {
                    if let Some(id) = model.iter().nth(k % model.len().max(1)).copied() {
                        let reply = h.run_str(&["XDEL", "s", &format!("{}-{}", id.0, id.1)]);
                        prop_assert_eq!(reply, OwnedFrame::Integer(1));
                        model.remove(&id);
                    }
                }
                AddOp::TrimMaxLen(n, approx) => {
                    let n_s = n.to_string();
                    let args: Vec<&str> = if approx {
                        vec!["XTRIM", "s", "MAXLEN", "~", &n_s]
                    } else {
                        vec!["XTRIM", "s", "MAXLEN", &n_s]
                    };
                    let reply = h.run_str(&args);
                    let OwnedFrame::Integer(removed) = reply else {
                        prop_assert!(false, "trim reply");
                        continue;
                    };
                    for _ in 0..removed {
                        let first = *model.iter().next().expect("model has entries");
                        model.remove(&first);
                    }
                    if !approx {
                        prop_assert!(model.len() as u64 <= n);
                    }
                }
            }
            let expect: Vec<(u64, u64)> = model.iter().copied().collect();
            prop_assert_eq!(ids_of(&h.run_str(&["XRANGE", "s", "-", "+"])), expect.clone());
            let mut rev = expect.clone();
            rev.reverse();
            prop_assert_eq!(ids_of(&h.run_str(&["XREVRANGE", "s", "+", "-"])), rev);
            prop_assert_eq!(h.run_str(&["XLEN", "s"]), OwnedFrame::Integer(model.len() as i64));
        }
    }

    /// Consumer groups: whatever the interleaving of XADD, XREADGROUP `>` by several consumers, XACK
    /// and XCLAIM, every entry is delivered through `>` exactly once per group and stays pending (with
    /// exactly one owner) until acknowledged.
    #[test]
    fn group_delivery_exactly_once(ops in prop::collection::vec((0u8..5, 0usize..3, 1usize..4, 0usize..32), 1..80)) {
        let mut h = InProcess::new();
        let consumers = ["c0", "c1", "c2"];
        prop_assert_eq!(h.run_str(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), OwnedFrame::SimpleString(b"OK".to_vec()));
        let mut added: Vec<(u64, u64)> = Vec::new();
        let mut delivered: HashMap<(u64, u64), usize> = HashMap::new();
        let mut pending: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        for (op, who, count, pick) in ops {
            match op {
                0 | 1 => {
                    let id = format!("{}-1", added.len() + 1);
                    h.run_str(&["XADD", "s", &id, "f", "v"]);
                    added.push((added.len() as u64 + 1, 1));
                }
                2 => {
                    let n = count.to_string();
                    let reply = h.run_str(&["XREADGROUP", "GROUP", "g", consumers[who], "COUNT", &n, "STREAMS", "s", ">"]);
                    for id in read_ids(&reply) {
                        *delivered.entry(id).or_default() += 1;
                        pending.insert(id, who);
                    }
                }
                3 => {
                    if let Some((&id, _)) = pending.iter().nth(pick % pending.len().max(1)) {
                        let reply = h.run_str(&["XACK", "s", "g", &format!("{}-{}", id.0, id.1)]);
                        prop_assert_eq!(reply, OwnedFrame::Integer(1));
                        pending.remove(&id);
                    }
                }
                _ => {
                    if let Some((&id, _)) = pending.iter().nth(pick % pending.len().max(1)) {
                        let reply = h.run_str(&["XCLAIM", "s", "g", consumers[who], "0", &format!("{}-{}", id.0, id.1), "JUSTID"]);
                        prop_assert_eq!(ids_of_justid(&reply), vec![id]);
                        pending.insert(id, who);
                    }
                }
            }
            // The PEL matches the model: same IDs, same owners.
            let rows = h.run_str(&["XPENDING", "s", "g", "-", "+", "1000"]);
            let OwnedFrame::Array(rows) = rows else {
                prop_assert!(false, "xpending");
                continue;
            };
            let got: Vec<((u64, u64), String)> = rows
                .iter()
                .map(|r| match r {
                    OwnedFrame::Array(cols) => (
                        id_of(&cols[0]),
                        match &cols[1] {
                            OwnedFrame::BulkString(s) => String::from_utf8_lossy(s).into_owned(),
                            _ => String::new(),
                        },
                    ),
                    _ => ((0, 0), String::new()),
                })
                .collect();
            let want: Vec<((u64, u64), String)> = pending
                .iter()
                .map(|(id, c)| (*id, consumers[*c].to_string()))
                .collect();
            prop_assert_eq!(got, want);
        }
        // Deliver the rest: then every entry was delivered exactly once.
        let rest = h.run_str(&["XREADGROUP", "GROUP", "g", "c0", "STREAMS", "s", ">"]);
        for id in read_ids(&rest) {
            *delivered.entry(id).or_default() += 1;
        }
        for id in &added {
            prop_assert_eq!(delivered.get(id).copied(), Some(1), "entry {:?}", id);
        }
        prop_assert_eq!(delivered.len(), added.len());
    }
}

fn ids_of_justid(f: &OwnedFrame) -> Vec<(u64, u64)> {
    match f {
        OwnedFrame::Array(items) => items.iter().map(id_of).collect(),
        other => panic!("not an array: {other:?}"),
    }
}
