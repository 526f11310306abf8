//! Integration tests for the data-type command families (hashes, lists, sets, sorted sets, bitmaps,
//! HyperLogLog, LCS, COPY, SORT) through the `redis` crate, in RESP2 and RESP3, plus property tests
//! of sorted-set and list operations against in-test models. Every test starts its own engine on an
//! ephemeral loopback port, so tests run in parallel.

use std::collections::{BTreeMap, HashSet, VecDeque};

use proptest::prelude::*;
use redis::Value as V;
use redlink_engine::Server;

mod common;
use common::reply::{b, e, i, q};

fn arr(items: &[&str]) -> V {
    V::Array(items.iter().map(|s| b(s)).collect())
}

/// The bulk strings of an array (or set) reply, sorted.
fn sorted_strings(v: &V) -> Vec<String> {
    let items = match v {
        V::Array(a) | V::Set(a) => a,
        other => panic!("not an array: {other:?}"),
    };
    let mut out: Vec<String> = items
        .iter()
        .map(|x| match x {
            V::BulkString(s) => String::from_utf8_lossy(s).into_owned(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[tokio::test(flavor = "multi_thread")]
async fn hashes() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    assert_eq!(
        q(&mut c, &["HSET", "h", "f1", "v1", "f2", "v2"]).await,
        i(2)
    );
    assert_eq!(q(&mut c, &["HSET", "h", "f1", "x", "f3", "v3"]).await, i(1));
    assert_eq!(
        e(&mut c, &["HSET", "h", "f1"]).await,
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(q(&mut c, &["HMSET", "h", "a", "1"]).await, V::Okay);
    assert_eq!(q(&mut c, &["HGET", "h", "f1"]).await, b("x"));
    assert_eq!(q(&mut c, &["HGET", "h", "nope"]).await, V::Nil);
    assert_eq!(
        q(&mut c, &["HMGET", "h", "f1", "nope", "a"]).await,
        V::Array(vec![b("x"), V::Nil, b("1")])
    );
    assert_eq!(q(&mut c, &["HSETNX", "h", "f1", "y"]).await, i(0));
    assert_eq!(q(&mut c, &["HSETNX", "h", "f4", "y"]).await, i(1));
    assert_eq!(q(&mut c, &["HEXISTS", "h", "f4"]).await, i(1));
    assert_eq!(q(&mut c, &["HLEN", "h"]).await, i(5));
    assert_eq!(q(&mut c, &["HSTRLEN", "h", "f3"]).await, i(2));
    assert_eq!(q(&mut c, &["HINCRBY", "h", "a", "5"]).await, i(6));
    assert_eq!(
        e(&mut c, &["HINCRBY", "h", "f1", "1"]).await,
        "ERR hash value is not an integer"
    );
    assert_eq!(
        e(&mut c, &["HINCRBY", "h", "a", "x"]).await,
        "ERR value is not an integer or out of range"
    );
    q(&mut c, &["HSET", "h", "big", "9223372036854775807"]).await;
    assert_eq!(
        e(&mut c, &["HINCRBY", "h", "big", "1"]).await,
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        q(&mut c, &["HINCRBYFLOAT", "h", "fl", "10.5"]).await,
        b("10.5")
    );
    assert_eq!(
        q(&mut c, &["HINCRBYFLOAT", "h", "fl", "0.1"]).await,
        b("10.6")
    );
    assert_eq!(
        e(&mut c, &["HINCRBYFLOAT", "h", "f1", "1"]).await,
        "ERR hash value is not a float"
    );
    let all = q(&mut c, &["HGETALL", "h"]).await;
    let V::Array(flat) = &all else {
        panic!("HGETALL in RESP2 is a flat array: {all:?}")
    };
    assert_eq!(flat.len(), 14);
    assert_eq!(
        sorted_strings(&q(&mut c, &["HKEYS", "h"]).await),
        ["a", "big", "f1", "f2", "f3", "f4", "fl"]
    );
    assert_eq!(
        q(&mut c, &["HDEL", "h", "a", "big", "f1", "nope"]).await,
        i(3)
    );
    assert_eq!(
        q(&mut c, &["HDEL", "h", "f2", "f3", "f4", "fl"]).await,
        i(4)
    );
    assert_eq!(
        q(&mut c, &["EXISTS", "h"]).await,
        i(0),
        "empty hash deleted"
    );
    assert_eq!(q(&mut c, &["HGETALL", "h"]).await, V::Array(vec![]));

    // HRANDFIELD.
    q(&mut c, &["HSET", "r", "a", "1", "b", "2", "c", "3"]).await;
    assert!(matches!(
        q(&mut c, &["HRANDFIELD", "r"]).await,
        V::BulkString(_)
    ));
    assert_eq!(
        sorted_strings(&q(&mut c, &["HRANDFIELD", "r", "10"]).await),
        ["a", "b", "c"]
    );
    let V::Array(rep) = q(&mut c, &["HRANDFIELD", "r", "-7", "WITHVALUES"]).await else {
        panic!()
    };
    assert_eq!(rep.len(), 14);
    assert_eq!(q(&mut c, &["HRANDFIELD", "nokey"]).await, V::Nil);
    assert_eq!(
        q(&mut c, &["HRANDFIELD", "nokey", "3"]).await,
        V::Array(vec![])
    );
    assert_eq!(
        e(&mut c, &["HRANDFIELD", "r", "1", "WITHVALUES", "x"]).await,
        "ERR syntax error"
    );

    // Wrong types.
    q(&mut c, &["SET", "s", "v"]).await;
    assert_eq!(e(&mut c, &["HGET", "s", "f"]).await, WRONGTYPE);
    assert_eq!(e(&mut c, &["HSET", "s", "f", "v"]).await, WRONGTYPE);
    assert_eq!(e(&mut c, &["GET", "r"]).await, WRONGTYPE);
    assert_eq!(
        q(&mut c, &["TYPE", "r"]).await,
        V::SimpleString("hash".into())
    );
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "r"]).await, b("listpack"));

    // HSCAN over a large hash returns every field.
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for n in 0..1000 {
        args.push(format!("field:{n}"));
        args.push(n.to_string());
    }
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(q(&mut c, &argv).await, i(1000));
    assert_eq!(
        q(&mut c, &["OBJECT", "ENCODING", "big"]).await,
        b("hashtable")
    );
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let V::Array(parts) = q(&mut c, &["HSCAN", "big", &cursor, "COUNT", "50"]).await else {
            panic!()
        };
        let V::BulkString(next) = &parts[0] else {
            panic!()
        };
        let V::Array(items) = &parts[1] else { panic!() };
        for pair in items.chunks(2) {
            if let V::BulkString(f) = &pair[0] {
                seen.insert(f.clone());
            }
        }
        calls += 1;
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert!(calls > 1, "a large hash is scanned in several steps");
    assert_eq!(
        e(&mut c, &["HSCAN", "big", "abc"]).await,
        "ERR invalid cursor"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resp3_reply_types() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, true).await;
    q(&mut c, &["HSET", "h", "f", "v"]).await;
    assert_eq!(
        q(&mut c, &["HGETALL", "h"]).await,
        V::Map(vec![(b("f"), b("v"))])
    );
    assert_eq!(q(&mut c, &["HGETALL", "nokey"]).await, V::Map(vec![]));
    assert_eq!(
        q(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUES"]).await,
        V::Array(vec![V::Array(vec![b("f"), b("v")])])
    );
    q(&mut c, &["SADD", "s", "a"]).await;
    assert_eq!(q(&mut c, &["SMEMBERS", "s"]).await, V::Set(vec![b("a")]));
    assert_eq!(q(&mut c, &["SINTER", "s", "s"]).await, V::Set(vec![b("a")]));
    assert_eq!(q(&mut c, &["SPOP", "nokey", "2"]).await, V::Set(vec![]));
    q(&mut c, &["ZADD", "z", "1.5", "a", "2", "b"]).await;
    assert_eq!(q(&mut c, &["ZSCORE", "z", "a"]).await, V::Double(1.5));
    assert_eq!(q(&mut c, &["ZSCORE", "z", "nope"]).await, V::Nil);
    assert_eq!(q(&mut c, &["ZINCRBY", "z", "1", "a"]).await, V::Double(2.5));
    assert_eq!(
        q(&mut c, &["ZMSCORE", "z", "a", "nope"]).await,
        V::Array(vec![V::Double(2.5), V::Nil])
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).await,
        V::Array(vec![
            V::Array(vec![b("b"), V::Double(2.0)]),
            V::Array(vec![b("a"), V::Double(2.5)]),
        ])
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "INCR", "1", "b"]).await,
        V::Double(3.0)
    );
    assert_eq!(
        q(&mut c, &["ZRANK", "z", "b", "WITHSCORE"]).await,
        V::Array(vec![i(1), V::Double(3.0)])
    );
    assert_eq!(
        q(&mut c, &["ZPOPMIN", "z"]).await,
        V::Array(vec![b("a"), V::Double(2.5)])
    );
    assert_eq!(
        q(&mut c, &["ZPOPMIN", "z", "1"]).await,
        V::Array(vec![V::Array(vec![b("b"), V::Double(3.0)])])
    );
    q(&mut c, &["ZADD", "z", "1", "x"]).await;
    assert_eq!(
        q(&mut c, &["ZMPOP", "1", "z", "MIN"]).await,
        V::Array(vec![
            b("z"),
            V::Array(vec![V::Array(vec![b("x"), V::Double(1.0)])])
        ])
    );
    assert_eq!(q(&mut c, &["ZMPOP", "1", "z", "MIN"]).await, V::Nil);
    assert_eq!(q(&mut c, &["LPOP", "nokey", "2"]).await, V::Nil);
    q(&mut c, &["SET", "a", "ohmytext"]).await;
    q(&mut c, &["SET", "b", "mynewtext"]).await;
    let V::Map(m) = q(&mut c, &["LCS", "a", "b", "IDX"]).await else {
        panic!("LCS IDX is a map in RESP3")
    };
    assert_eq!(m[1], (b("len"), i(6)));
}

#[tokio::test(flavor = "multi_thread")]
async fn lists() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    assert_eq!(q(&mut c, &["LPUSH", "l", "a", "b", "c"]).await, i(3));
    assert_eq!(q(&mut c, &["RPUSH", "l", "d", "e"]).await, i(5));
    assert_eq!(
        q(&mut c, &["LRANGE", "l", "0", "-1"]).await,
        arr(&["c", "b", "a", "d", "e"])
    );
    assert_eq!(
        q(&mut c, &["LRANGE", "l", "-100", "100"]).await,
        arr(&["c", "b", "a", "d", "e"])
    );
    assert_eq!(
        q(
            &mut c,
            &["LRANGE", "l", "-9223372036854775808", "9223372036854775807"]
        )
        .await,
        arr(&["c", "b", "a", "d", "e"])
    );
    assert_eq!(q(&mut c, &["LRANGE", "l", "5", "1"]).await, arr(&[]));
    assert_eq!(q(&mut c, &["LLEN", "l"]).await, i(5));
    assert_eq!(q(&mut c, &["LINDEX", "l", "-1"]).await, b("e"));
    assert_eq!(q(&mut c, &["LINDEX", "l", "100"]).await, V::Nil);
    assert_eq!(q(&mut c, &["LSET", "l", "0", "z"]).await, V::Okay);
    assert_eq!(
        e(&mut c, &["LSET", "l", "100", "z"]).await,
        "ERR index out of range"
    );
    assert_eq!(
        e(&mut c, &["LSET", "nokey", "0", "z"]).await,
        "ERR no such key"
    );
    assert_eq!(q(&mut c, &["LPUSHX", "nokey", "a"]).await, i(0));
    assert_eq!(q(&mut c, &["EXISTS", "nokey"]).await, i(0));
    assert_eq!(q(&mut c, &["LPOP", "l"]).await, b("z"));
    assert_eq!(q(&mut c, &["RPOP", "l", "2"]).await, arr(&["e", "d"]));
    assert_eq!(q(&mut c, &["LPOP", "l", "0"]).await, arr(&[]));
    assert_eq!(
        e(&mut c, &["LPOP", "l", "-1"]).await,
        "ERR value is out of range, must be positive"
    );
    assert_eq!(q(&mut c, &["LPOP", "nokey"]).await, V::Nil);
    assert_eq!(q(&mut c, &["LPOP", "nokey", "2"]).await, V::Nil);
    assert_eq!(q(&mut c, &["RPOP", "l", "10"]).await, arr(&["a", "b"]));
    assert_eq!(
        q(&mut c, &["EXISTS", "l"]).await,
        i(0),
        "empty list deleted"
    );

    q(&mut c, &["RPUSH", "r", "a", "b", "a", "c", "a", "d", "a"]).await;
    assert_eq!(q(&mut c, &["LREM", "r", "2", "a"]).await, i(2));
    assert_eq!(q(&mut c, &["LREM", "r", "-1", "a"]).await, i(1));
    assert_eq!(
        q(&mut c, &["LRANGE", "r", "0", "-1"]).await,
        arr(&["b", "c", "a", "d"])
    );
    assert_eq!(q(&mut c, &["LINSERT", "r", "BEFORE", "c", "X"]).await, i(5));
    assert_eq!(
        q(&mut c, &["LINSERT", "r", "AFTER", "nope", "Y"]).await,
        i(-1)
    );
    assert_eq!(
        q(&mut c, &["LINSERT", "nokey", "AFTER", "a", "Y"]).await,
        i(0)
    );
    assert_eq!(
        e(&mut c, &["LINSERT", "r", "MIDDLE", "c", "Y"]).await,
        "ERR syntax error"
    );
    assert_eq!(q(&mut c, &["LTRIM", "r", "1", "-2"]).await, V::Okay);
    assert_eq!(
        q(&mut c, &["LRANGE", "r", "0", "-1"]).await,
        arr(&["X", "c", "a"])
    );
    q(&mut c, &["LTRIM", "r", "5", "1"]).await;
    assert_eq!(q(&mut c, &["EXISTS", "r"]).await, i(0));

    // LPOS.
    q(&mut c, &["RPUSH", "p", "a", "b", "c", "a", "b", "c", "a"]).await;
    assert_eq!(q(&mut c, &["LPOS", "p", "a"]).await, i(0));
    assert_eq!(q(&mut c, &["LPOS", "p", "a", "RANK", "2"]).await, i(3));
    assert_eq!(q(&mut c, &["LPOS", "p", "a", "RANK", "-1"]).await, i(6));
    assert_eq!(
        q(&mut c, &["LPOS", "p", "a", "COUNT", "0"]).await,
        V::Array(vec![i(0), i(3), i(6)])
    );
    assert_eq!(
        q(&mut c, &["LPOS", "p", "a", "COUNT", "0", "MAXLEN", "4"]).await,
        V::Array(vec![i(0), i(3)])
    );
    assert_eq!(q(&mut c, &["LPOS", "p", "zz"]).await, V::Nil);
    assert!(
        e(&mut c, &["LPOS", "p", "a", "RANK", "0"])
            .await
            .starts_with("ERR RANK can't be zero")
    );
    assert!(
        e(&mut c, &["LPOS", "p", "a", "RANK", "-9223372036854775808"])
            .await
            .starts_with("ERR value is out of range")
    );
    assert_eq!(
        e(&mut c, &["LPOS", "p", "a", "COUNT", "-1"]).await,
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        e(&mut c, &["LPOS", "p", "a", "MAXLEN", "-1"]).await,
        "ERR MAXLEN can't be negative"
    );

    // LMOVE / RPOPLPUSH / LMPOP.
    q(&mut c, &["DEL", "p"]).await;
    q(&mut c, &["RPUSH", "src", "1", "2", "3"]).await;
    assert_eq!(
        q(&mut c, &["LMOVE", "src", "src", "LEFT", "RIGHT"]).await,
        b("1")
    );
    assert_eq!(
        q(&mut c, &["LRANGE", "src", "0", "-1"]).await,
        arr(&["2", "3", "1"])
    );
    assert_eq!(
        q(&mut c, &["LMOVE", "src", "dst", "RIGHT", "LEFT"]).await,
        b("1")
    );
    assert_eq!(q(&mut c, &["RPOPLPUSH", "src", "dst"]).await, b("3"));
    assert_eq!(
        q(&mut c, &["LRANGE", "dst", "0", "-1"]).await,
        arr(&["3", "1"])
    );
    assert_eq!(
        q(&mut c, &["LMOVE", "nokey", "dst", "LEFT", "LEFT"]).await,
        V::Nil
    );
    q(&mut c, &["SET", "str", "x"]).await;
    assert_eq!(
        e(&mut c, &["LMOVE", "src", "str", "LEFT", "LEFT"]).await,
        WRONGTYPE
    );
    assert_eq!(
        q(&mut c, &["LLEN", "src"]).await,
        i(1),
        "nothing moved on error"
    );
    assert_eq!(
        q(
            &mut c,
            &["LMPOP", "2", "nokey", "dst", "LEFT", "COUNT", "5"]
        )
        .await,
        V::Array(vec![b("dst"), arr(&["3", "1"])])
    );
    assert_eq!(q(&mut c, &["LMPOP", "1", "nokey", "LEFT"]).await, V::Nil);
    assert_eq!(
        e(&mut c, &["LMPOP", "0", "nokey", "LEFT"]).await,
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        e(&mut c, &["LMPOP", "1", "src", "LEFT", "COUNT", "0"]).await,
        "ERR count should be greater than 0"
    );
    assert_eq!(e(&mut c, &["LPUSH", "str", "a"]).await, WRONGTYPE);
    q(&mut c, &["RPUSH", "enc", "a"]).await;
    assert_eq!(
        q(&mut c, &["TYPE", "enc"]).await,
        V::SimpleString("list".into())
    );
    assert_eq!(
        q(&mut c, &["OBJECT", "ENCODING", "enc"]).await,
        b("listpack")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sets() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    assert_eq!(q(&mut c, &["SADD", "s", "a", "b", "c", "a"]).await, i(3));
    assert_eq!(q(&mut c, &["SREM", "s", "c", "zz"]).await, i(1));
    assert_eq!(q(&mut c, &["SCARD", "s"]).await, i(2));
    assert_eq!(q(&mut c, &["SISMEMBER", "s", "a"]).await, i(1));
    assert_eq!(
        q(&mut c, &["SMISMEMBER", "s", "a", "zz", "b"]).await,
        V::Array(vec![i(1), i(0), i(1)])
    );
    assert_eq!(
        sorted_strings(&q(&mut c, &["SMEMBERS", "s"]).await),
        ["a", "b"]
    );
    q(&mut c, &["SADD", "s1", "a", "b", "c", "d"]).await;
    q(&mut c, &["SADD", "s2", "c", "d", "e"]).await;
    q(&mut c, &["SADD", "s3", "d"]).await;
    assert_eq!(
        sorted_strings(&q(&mut c, &["SINTER", "s1", "s2", "s3"]).await),
        ["d"]
    );
    assert_eq!(
        sorted_strings(&q(&mut c, &["SUNION", "s1", "s2"]).await),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        sorted_strings(&q(&mut c, &["SDIFF", "s1", "s2"]).await),
        ["a", "b"]
    );
    assert_eq!(q(&mut c, &["SINTER", "s1", "nokey"]).await, arr(&[]));
    assert_eq!(q(&mut c, &["SINTERSTORE", "d", "s1", "s2"]).await, i(2));
    assert_eq!(q(&mut c, &["SUNIONSTORE", "d", "s1", "s2"]).await, i(5));
    assert_eq!(q(&mut c, &["SDIFFSTORE", "d", "s3", "s1"]).await, i(0));
    assert_eq!(q(&mut c, &["EXISTS", "d"]).await, i(0));
    assert_eq!(q(&mut c, &["SINTERCARD", "2", "s1", "s2"]).await, i(2));
    assert_eq!(
        q(&mut c, &["SINTERCARD", "2", "s1", "s2", "LIMIT", "1"]).await,
        i(1)
    );
    assert_eq!(
        e(&mut c, &["SINTERCARD", "0", "s1"]).await,
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        e(&mut c, &["SINTERCARD", "3", "s1"]).await,
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        e(&mut c, &["SINTERCARD", "1", "s1", "LIMIT", "-1"]).await,
        "ERR LIMIT can't be negative"
    );
    q(&mut c, &["SET", "str", "x"]).await;
    assert_eq!(e(&mut c, &["SUNION", "s1", "str"]).await, WRONGTYPE);
    assert_eq!(e(&mut c, &["SINTER", "nokey", "str"]).await, WRONGTYPE);

    // SMOVE.
    assert_eq!(q(&mut c, &["SMOVE", "s3", "new", "d"]).await, i(1));
    assert_eq!(q(&mut c, &["EXISTS", "s3"]).await, i(0));
    assert_eq!(q(&mut c, &["SMOVE", "s1", "new", "zz"]).await, i(0));
    assert_eq!(q(&mut c, &["SMOVE", "nokey", "str", "a"]).await, i(0));
    assert_eq!(e(&mut c, &["SMOVE", "s1", "str", "a"]).await, WRONGTYPE);

    // SPOP / SRANDMEMBER.
    q(&mut c, &["SADD", "p", "1", "2", "3", "4", "5"]).await;
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "p"]).await, b("intset"));
    let popped = sorted_strings(&q(&mut c, &["SPOP", "p", "2"]).await);
    assert_eq!(popped.len(), 2);
    assert_eq!(q(&mut c, &["SCARD", "p"]).await, i(3));
    let V::Array(r) = q(&mut c, &["SRANDMEMBER", "p", "-10"]).await else {
        panic!()
    };
    assert_eq!(r.len(), 10);
    assert_eq!(
        sorted_strings(&q(&mut c, &["SRANDMEMBER", "p", "10"]).await).len(),
        3
    );
    assert!(matches!(q(&mut c, &["SPOP", "p"]).await, V::BulkString(_)));
    q(&mut c, &["SPOP", "p", "10"]).await;
    assert_eq!(q(&mut c, &["EXISTS", "p"]).await, i(0));
    assert_eq!(q(&mut c, &["SPOP", "p"]).await, V::Nil);
    assert_eq!(
        e(&mut c, &["SPOP", "s", "-1"]).await,
        "ERR value is out of range, must be positive"
    );

    // SSCAN with MATCH over a large set.
    let mut args: Vec<String> = vec!["SADD".into(), "big".into()];
    args.extend((0..600).map(|n| format!("m{n}")));
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    q(&mut c, &argv).await;
    assert_eq!(
        q(&mut c, &["OBJECT", "ENCODING", "big"]).await,
        b("hashtable")
    );
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let V::Array(parts) = q(&mut c, &["SSCAN", "big", &cursor, "MATCH", "m1*"]).await else {
            panic!()
        };
        let V::BulkString(next) = &parts[0] else {
            panic!()
        };
        for m in sorted_strings(&parts[1]) {
            assert!(m.starts_with("m1"));
            seen.insert(m);
        }
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 111);
}

#[tokio::test(flavor = "multi_thread")]
async fn sorted_sets() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    assert_eq!(
        q(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]).await,
        i(3)
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "NX", "5", "a", "4", "d"]).await,
        i(1)
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "XX", "10", "a", "10", "zz"]).await,
        i(0)
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "CH", "11", "a", "4", "d", "20", "e"]).await,
        i(2)
    );
    assert_eq!(q(&mut c, &["ZADD", "z", "GT", "CH", "5", "a"]).await, i(0));
    assert_eq!(q(&mut c, &["ZADD", "z", "LT", "CH", "5", "a"]).await, i(1));
    assert_eq!(q(&mut c, &["ZADD", "z", "INCR", "2", "a"]).await, b("7"));
    assert_eq!(
        q(&mut c, &["ZADD", "z", "INCR", "NX", "2", "a"]).await,
        V::Nil
    );
    assert_eq!(
        e(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]).await,
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        e(&mut c, &["ZADD", "z", "GT", "LT", "1", "a"]).await,
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        e(&mut c, &["ZADD", "z", "INCR", "1", "a", "2", "b"]).await,
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(
        e(&mut c, &["ZADD", "z", "x", "a"]).await,
        "ERR value is not a valid float"
    );
    assert_eq!(
        e(&mut c, &["ZADD", "z", "1", "a", "2"]).await,
        "ERR syntax error"
    );
    q(&mut c, &["ZADD", "z", "inf", "big"]).await;
    assert_eq!(
        e(&mut c, &["ZADD", "z", "INCR", "-inf", "big"]).await,
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(q(&mut c, &["ZADD", "nokey", "XX", "1", "a"]).await, i(0));
    assert_eq!(q(&mut c, &["EXISTS", "nokey"]).await, i(0));
    assert_eq!(
        q(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).await,
        arr(&[
            "b", "2", "c", "3", "d", "4", "a", "7", "e", "20", "big", "inf"
        ])
    );
    assert_eq!(q(&mut c, &["ZSCORE", "z", "a"]).await, b("7"));
    assert_eq!(q(&mut c, &["ZINCRBY", "z", "1.5", "b"]).await, b("3.5"));
    assert_eq!(q(&mut c, &["ZCARD", "z"]).await, i(6));
    assert_eq!(q(&mut c, &["ZCOUNT", "z", "(3", "7"]).await, i(3));
    assert_eq!(q(&mut c, &["ZCOUNT", "z", "-inf", "+inf"]).await, i(6));
    assert_eq!(q(&mut c, &["ZCOUNT", "z", "(inf", "+inf"]).await, i(0));
    assert_eq!(
        e(&mut c, &["ZCOUNT", "z", "x", "1"]).await,
        "ERR min or max is not a float"
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "z", "0", "1", "REV"]).await,
        arr(&["big", "e"])
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "z", "(3", "7", "BYSCORE"]).await,
        arr(&["b", "d", "a"])
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "ZRANGE", "z", "7", "(3", "BYSCORE", "REV", "LIMIT", "1", "1"
            ]
        )
        .await,
        arr(&["d"])
    );
    assert_eq!(
        q(
            &mut c,
            &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "4", "-1"]
        )
        .await,
        arr(&["e", "big"])
    );
    assert_eq!(
        q(&mut c, &["ZREVRANGEBYSCORE", "z", "4", "3", "WITHSCORES"]).await,
        arr(&["d", "4", "b", "3.5", "c", "3"])
    );
    assert_eq!(
        q(&mut c, &["ZREVRANGE", "z", "0", "0"]).await,
        arr(&["big"])
    );
    assert_eq!(
        e(&mut c, &["ZRANGE", "z", "0", "-1", "LIMIT", "1", "2"]).await,
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        e(&mut c, &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]).await,
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(q(&mut c, &["ZRANK", "z", "a"]).await, i(3));
    assert_eq!(q(&mut c, &["ZREVRANK", "z", "a"]).await, i(2));
    assert_eq!(q(&mut c, &["ZRANK", "z", "nope"]).await, V::Nil);
    assert_eq!(
        q(&mut c, &["ZRANK", "z", "a", "WITHSCORE"]).await,
        V::Array(vec![i(3), b("7")])
    );

    // Lexicographic ranges.
    q(
        &mut c,
        &[
            "ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ],
    )
    .await;
    assert_eq!(
        q(&mut c, &["ZRANGEBYLEX", "lex", "[b", "(d"]).await,
        arr(&["b", "c"])
    );
    assert_eq!(
        q(
            &mut c,
            &["ZREVRANGEBYLEX", "lex", "+", "-", "LIMIT", "0", "2"]
        )
        .await,
        arr(&["e", "d"])
    );
    assert_eq!(q(&mut c, &["ZLEXCOUNT", "lex", "[b", "+"]).await, i(4));
    assert_eq!(
        e(&mut c, &["ZLEXCOUNT", "lex", "b", "+"]).await,
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        q(&mut c, &["ZREMRANGEBYLEX", "lex", "[a", "[b"]).await,
        i(2)
    );
    assert_eq!(q(&mut c, &["ZREMRANGEBYRANK", "lex", "0", "0"]).await, i(1));
    assert_eq!(
        q(&mut c, &["ZREMRANGEBYSCORE", "lex", "-inf", "+inf"]).await,
        i(2)
    );
    assert_eq!(q(&mut c, &["EXISTS", "lex"]).await, i(0));

    // Pops.
    assert_eq!(q(&mut c, &["ZPOPMIN", "z"]).await, arr(&["c", "3"]));
    assert_eq!(
        q(&mut c, &["ZPOPMAX", "z", "2"]).await,
        arr(&["big", "inf", "e", "20"])
    );
    assert_eq!(q(&mut c, &["ZPOPMIN", "nokey"]).await, arr(&[]));
    assert_eq!(
        q(&mut c, &["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2"]).await,
        V::Array(vec![
            b("z"),
            V::Array(vec![arr(&["a", "7"]), arr(&["d", "4"])])
        ])
    );
    assert_eq!(q(&mut c, &["ZMPOP", "1", "nokey", "MIN"]).await, V::Nil);

    // Set algebra with weights and aggregates; plain sets count as score 1.
    q(&mut c, &["ZADD", "za", "1", "a", "2", "b", "3", "c"]).await;
    q(&mut c, &["ZADD", "zb", "10", "b", "20", "c", "30", "d"]).await;
    q(&mut c, &["SADD", "sz", "b", "x"]).await;
    assert_eq!(
        q(&mut c, &["ZUNIONSTORE", "out", "2", "za", "zb"]).await,
        i(4)
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "out", "0", "-1", "WITHSCORES"]).await,
        arr(&["a", "1", "b", "12", "c", "23", "d", "30"])
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "ZUNION",
                "2",
                "za",
                "zb",
                "WEIGHTS",
                "2",
                "3",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]
        )
        .await,
        arr(&["a", "2", "b", "30", "c", "60", "d", "90"])
    );
    assert_eq!(
        q(&mut c, &["ZINTER", "3", "za", "zb", "sz", "WITHSCORES"]).await,
        arr(&["b", "13"])
    );
    assert_eq!(
        q(
            &mut c,
            &["ZINTERSTORE", "out", "2", "za", "zb", "AGGREGATE", "MIN"]
        )
        .await,
        i(2)
    );
    assert_eq!(
        q(&mut c, &["ZDIFF", "2", "za", "zb", "WITHSCORES"]).await,
        arr(&["a", "1"])
    );
    assert_eq!(
        q(&mut c, &["ZDIFFSTORE", "out", "2", "za", "za"]).await,
        i(0)
    );
    assert_eq!(q(&mut c, &["EXISTS", "out"]).await, i(0));
    assert_eq!(
        q(&mut c, &["ZINTERCARD", "2", "za", "zb", "LIMIT", "1"]).await,
        i(1)
    );
    assert_eq!(
        e(&mut c, &["ZUNIONSTORE", "out", "0", "za"]).await,
        "ERR at least 1 input key is needed for 'zunionstore' command"
    );
    assert_eq!(
        e(
            &mut c,
            &["ZUNIONSTORE", "out", "2", "za", "zb", "WEIGHTS", "1", "x"]
        )
        .await,
        "ERR weight value is not a float"
    );
    assert_eq!(
        e(
            &mut c,
            &["ZDIFFSTORE", "out", "2", "za", "zb", "WEIGHTS", "1", "2"]
        )
        .await,
        "ERR syntax error"
    );
    q(&mut c, &["SET", "str", "x"]).await;
    assert_eq!(e(&mut c, &["ZUNION", "2", "za", "str"]).await, WRONGTYPE);
    assert_eq!(
        q(
            &mut c,
            &["ZRANGESTORE", "out", "za", "2", "(3", "BYSCORE", "REV"]
        )
        .await,
        i(0)
    );
    assert_eq!(
        q(
            &mut c,
            &["ZRANGESTORE", "out", "za", "(3", "2", "BYSCORE", "REV"]
        )
        .await,
        i(1)
    );
    assert_eq!(q(&mut c, &["ZRANGE", "out", "0", "-1"]).await, arr(&["b"]));

    // ZRANDMEMBER / ZSCAN / types.
    assert_eq!(
        sorted_strings(&q(&mut c, &["ZRANDMEMBER", "za", "5"]).await),
        ["a", "b", "c"]
    );
    let V::Array(r) = q(&mut c, &["ZRANDMEMBER", "za", "-4", "WITHSCORES"]).await else {
        panic!()
    };
    assert_eq!(r.len(), 8);
    assert_eq!(
        q(&mut c, &["ZSCAN", "za", "0"]).await,
        V::Array(vec![b("0"), arr(&["a", "1", "b", "2", "c", "3"])])
    );
    assert_eq!(
        q(&mut c, &["TYPE", "za"]).await,
        V::SimpleString("zset".into())
    );
    assert_eq!(
        q(&mut c, &["OBJECT", "ENCODING", "za"]).await,
        b("listpack")
    );
    assert_eq!(e(&mut c, &["ZADD", "str", "1", "a"]).await, WRONGTYPE);
    assert_eq!(e(&mut c, &["GET", "za"]).await, WRONGTYPE);
}

#[tokio::test(flavor = "multi_thread")]
async fn strings_bitmaps_hll_lcs() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    // LCS.
    q(&mut c, &["SET", "a", "ohmytext"]).await;
    q(&mut c, &["SET", "b", "mynewtext"]).await;
    assert_eq!(q(&mut c, &["LCS", "a", "b"]).await, b("mytext"));
    assert_eq!(q(&mut c, &["LCS", "a", "b", "LEN"]).await, i(6));
    assert_eq!(
        q(
            &mut c,
            &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]
        )
        .await,
        V::Array(vec![
            b("matches"),
            V::Array(vec![V::Array(vec![
                V::Array(vec![i(4), i(7)]),
                V::Array(vec![i(5), i(8)]),
                i(4)
            ])]),
            b("len"),
            i(6),
        ])
    );
    assert_eq!(
        e(&mut c, &["LCS", "a", "b", "LEN", "IDX"]).await,
        "ERR If you want both the length and indexes, please just use IDX."
    );

    // Bitmaps.
    assert_eq!(q(&mut c, &["SETBIT", "bm", "7", "1"]).await, i(0));
    assert_eq!(q(&mut c, &["SETBIT", "bm", "7", "0"]).await, i(1));
    assert_eq!(q(&mut c, &["SETBIT", "bm", "100", "1"]).await, i(0));
    assert_eq!(q(&mut c, &["GETBIT", "bm", "100"]).await, i(1));
    assert_eq!(q(&mut c, &["STRLEN", "bm"]).await, i(13));
    assert_eq!(
        e(&mut c, &["SETBIT", "bm", "-1", "1"]).await,
        "ERR bit offset is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, &["SETBIT", "bm", "1", "2"]).await,
        "ERR bit is not an integer or out of range"
    );
    q(&mut c, &["SET", "bc", "foobar"]).await;
    assert_eq!(q(&mut c, &["BITCOUNT", "bc"]).await, i(26));
    assert_eq!(q(&mut c, &["BITCOUNT", "bc", "1", "1"]).await, i(6));
    assert_eq!(
        q(&mut c, &["BITCOUNT", "bc", "5", "30", "BIT"]).await,
        i(17)
    );
    assert_eq!(
        e(&mut c, &["BITCOUNT", "bc", "0"]).await,
        "ERR syntax error"
    );
    // redis-server 7.0.15's order: both ends negative and start past end count 0 (before the
    // unit is read); a missing key counts 0 and a wrong type fails before the range is read.
    assert_eq!(q(&mut c, &["BITCOUNT", "bc", "-6", "-7"]).await, i(0));
    assert_eq!(
        q(&mut c, &["BITCOUNT", "bc", "-6", "-7", "bogus"]).await,
        i(0)
    );
    assert_eq!(q(&mut c, &["BITCOUNT", "bc", "-7", "-6"]).await, i(4));
    assert_eq!(q(&mut c, &["BITCOUNT", "nobc", "x", "y"]).await, i(0));
    assert_eq!(q(&mut c, &["BITCOUNT", "nobc", "0"]).await, i(0));
    q(&mut c, &["RPUSH", "bclist", "a"]).await;
    assert_eq!(
        e(&mut c, &["BITCOUNT", "bclist", "x", "y"]).await,
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    q(&mut c, &["SETBIT", "bp", "12", "1"]).await;
    assert_eq!(q(&mut c, &["BITPOS", "bp", "1"]).await, i(12));
    assert_eq!(q(&mut c, &["BITPOS", "bp", "0"]).await, i(0));
    assert_eq!(q(&mut c, &["BITPOS", "bp", "1", "2"]).await, i(-1));
    assert_eq!(
        q(&mut c, &["BITPOS", "bp", "1", "10", "15", "BIT"]).await,
        i(12)
    );
    assert_eq!(
        e(&mut c, &["BITPOS", "bp", "2"]).await,
        "ERR The bit argument must be 1 or 0."
    );
    q(&mut c, &["SET", "k1", "foobar"]).await;
    q(&mut c, &["SET", "k2", "abcdef"]).await;
    assert_eq!(q(&mut c, &["BITOP", "AND", "dest", "k1", "k2"]).await, i(6));
    assert_eq!(q(&mut c, &["GET", "dest"]).await, b("`bc`ab"));
    assert_eq!(
        e(&mut c, &["BITOP", "NOT", "dest", "k1", "k2"]).await,
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "i8", "0", "INCRBY", "i8", "0",
                "100"
            ]
        )
        .await,
        V::Array(vec![i(0), i(100), i(-56)])
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-100", "OVERFLOW",
                "FAIL", "INCRBY", "i8", "0", "-100"
            ]
        )
        .await,
        V::Array(vec![i(-128), V::Nil])
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "BITFIELD", "bf", "SET", "u8", "#1", "255", "INCRBY", "u8", "#1", "10"
            ]
        )
        .await,
        V::Array(vec![i(0), i(9)])
    );
    assert_eq!(
        e(&mut c, &["BITFIELD", "bf", "GET", "u64", "0"]).await,
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
    );
    assert_eq!(
        e(&mut c, &["BITFIELD_RO", "bf", "SET", "i8", "0", "1"]).await,
        "ERR BITFIELD_RO only supports the GET subcommand"
    );
    assert_eq!(
        q(&mut c, &["BITFIELD_RO", "bf", "GET", "u8", "8"]).await,
        V::Array(vec![i(9)])
    );
    assert_eq!(
        q(&mut c, &["BITFIELD", "nokey", "GET", "i8", "0"]).await,
        V::Array(vec![i(0)])
    );
    assert_eq!(q(&mut c, &["EXISTS", "nokey"]).await, i(0));

    // HyperLogLog within Redis's error bounds (0.81% standard error; allow 3 sigma).
    let mut args: Vec<String> = vec!["PFADD".into(), "hll".into()];
    args.extend((0..20_000).map(|n| format!("element:{n}")));
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(q(&mut c, &argv).await, i(1));
    assert_eq!(q(&mut c, &["PFADD", "hll", "element:1"]).await, i(0));
    let V::Int(n) = q(&mut c, &["PFCOUNT", "hll"]).await else {
        panic!()
    };
    assert!((n - 20_000).abs() < 20_000 * 243 / 10_000, "estimate {n}");
    q(&mut c, &["PFADD", "hll2", "x", "y", "z"]).await;
    assert_eq!(q(&mut c, &["PFCOUNT", "hll2"]).await, i(3));
    let V::Int(m) = q(&mut c, &["PFCOUNT", "hll", "hll2"]).await else {
        panic!()
    };
    assert!((m - n - 3).abs() <= 2);
    assert_eq!(
        q(&mut c, &["PFMERGE", "merged", "hll", "hll2"]).await,
        V::Okay
    );
    assert_eq!(q(&mut c, &["PFCOUNT", "merged"]).await, i(m));
    assert_eq!(
        q(&mut c, &["TYPE", "hll"]).await,
        V::SimpleString("string".into())
    );
    let V::BulkString(raw) = q(&mut c, &["GET", "hll2"]).await else {
        panic!()
    };
    assert_eq!(&raw[..4], b"HYLL");
    assert_eq!(q(&mut c, &["PFCOUNT", "nokey"]).await, i(0));
    assert_eq!(
        e(&mut c, &["PFADD", "k1", "a"]).await,
        "WRONGTYPE Key is not a valid HyperLogLog string value."
    );
    q(&mut c, &["RPUSH", "list", "a"]).await;
    assert_eq!(e(&mut c, &["PFCOUNT", "list"]).await, WRONGTYPE);
    assert_eq!(e(&mut c, &["APPEND", "list", "a"]).await, WRONGTYPE);
    assert_eq!(e(&mut c, &["INCR", "list"]).await, WRONGTYPE);
    assert_eq!(
        q(&mut c, &["MGET", "list", "k1"]).await,
        V::Array(vec![V::Nil, b("foobar")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_and_sort() {
    let (_server, addr) = common::start_default();
    let mut c = common::client_resp(addr, false).await;
    q(&mut c, &["RPUSH", "l", "3", "1", "2", "10"]).await;
    q(&mut c, &["PEXPIRE", "l", "100000"]).await;
    assert_eq!(q(&mut c, &["COPY", "l", "l2"]).await, i(1));
    assert_eq!(q(&mut c, &["COPY", "l", "l2"]).await, i(0));
    q(&mut c, &["RPUSH", "l", "4"]).await;
    assert_eq!(q(&mut c, &["COPY", "l", "l2", "REPLACE"]).await, i(1));
    assert_eq!(q(&mut c, &["LLEN", "l2"]).await, i(5));
    assert!(matches!(q(&mut c, &["PTTL", "l2"]).await, V::Int(t) if t > 0));
    assert_eq!(q(&mut c, &["RPOP", "l2"]).await, b("4"));
    assert_eq!(
        q(&mut c, &["LLEN", "l"]).await,
        i(5),
        "the copy is independent"
    );
    assert_eq!(
        e(&mut c, &["COPY", "l", "l"]).await,
        "ERR source and destination objects are the same"
    );
    assert_eq!(q(&mut c, &["COPY", "l", "l", "DB", "1"]).await, i(1));
    assert_eq!(
        e(&mut c, &["COPY", "l", "x", "DB", "100"]).await,
        "ERR DB index is out of range"
    );
    q(&mut c, &["SELECT", "1"]).await;
    assert_eq!(q(&mut c, &["LLEN", "l"]).await, i(5));
    q(&mut c, &["SELECT", "0"]).await;
    q(&mut c, &["RPOP", "l"]).await;

    assert_eq!(q(&mut c, &["SORT", "l"]).await, arr(&["1", "2", "3", "10"]));
    assert_eq!(
        q(&mut c, &["SORT", "l", "DESC"]).await,
        arr(&["10", "3", "2", "1"])
    );
    assert_eq!(
        q(&mut c, &["SORT", "l", "ALPHA"]).await,
        arr(&["1", "10", "2", "3"])
    );
    assert_eq!(
        q(&mut c, &["SORT", "l", "LIMIT", "1", "2"]).await,
        arr(&["2", "3"])
    );
    q(&mut c, &["MSET", "w_1", "30", "w_2", "20", "w_3", "10"]).await;
    q(&mut c, &["HSET", "o_1", "f", "one"]).await;
    q(&mut c, &["HSET", "o_2", "f", "two"]).await;
    assert_eq!(
        q(&mut c, &["SORT", "l", "BY", "w_*"]).await,
        arr(&["10", "3", "2", "1"])
    );
    assert_eq!(
        q(
            &mut c,
            &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "o_*->f"]
        )
        .await,
        V::Array(vec![
            b("10"),
            V::Nil,
            b("3"),
            V::Nil,
            b("2"),
            b("two"),
            b("1"),
            b("one")
        ])
    );
    assert_eq!(
        q(&mut c, &["SORT", "l", "BY", "nosort"]).await,
        arr(&["3", "1", "2", "10"])
    );
    assert_eq!(q(&mut c, &["SORT", "l", "STORE", "dst"]).await, i(4));
    assert_eq!(
        q(&mut c, &["LRANGE", "dst", "0", "-1"]).await,
        arr(&["1", "2", "3", "10"])
    );
    assert_eq!(
        q(&mut c, &["SORT_RO", "l", "DESC", "LIMIT", "0", "1"]).await,
        arr(&["10"])
    );
    assert_eq!(
        e(&mut c, &["SORT_RO", "l", "STORE", "x"]).await,
        "ERR syntax error"
    );
    q(&mut c, &["RPUSH", "bad", "a", "1"]).await;
    assert_eq!(
        e(&mut c, &["SORT", "bad"]).await,
        "ERR One or more scores can't be converted into double"
    );
    q(&mut c, &["ZADD", "zs", "3", "a", "1", "b", "2", "c"]).await;
    assert_eq!(
        q(&mut c, &["SORT", "zs", "BY", "nosort"]).await,
        arr(&["b", "c", "a"])
    );
    q(&mut c, &["SADD", "ss", "3", "1", "2"]).await;
    assert_eq!(q(&mut c, &["SORT", "ss"]).await, arr(&["1", "2", "3"]));
    assert_eq!(q(&mut c, &["SORT", "nokey", "STORE", "dst"]).await, i(0));
    assert_eq!(q(&mut c, &["EXISTS", "dst"]).await, i(0));
    q(&mut c, &["SET", "str", "x"]).await;
    assert_eq!(e(&mut c, &["SORT", "str"]).await, WRONGTYPE);

    // SCAN's TYPE filter sees the new types.
    let V::Array(parts) = q(&mut c, &["SCAN", "0", "COUNT", "1000", "TYPE", "zset"]).await else {
        panic!()
    };
    assert_eq!(sorted_strings(&parts[1]), ["zs"]);
}

// ---------------------------------------------------------------------------------------------
// Property tests against in-test models (a synchronous connection per test run).

fn sync_server() -> (tokio::runtime::Runtime, Server, redis::Connection) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (server, addr) = {
        let _guard = rt.enter();
        common::start_default()
    };
    let con = redis::Client::open(format!("redis://{addr}/"))
        .expect("url")
        .get_connection()
        .expect("connect");
    (rt, server, con)
}

fn sync_q(con: &mut redis::Connection, args: &[String]) -> V {
    let mut c = redis::cmd(&args[0]);
    for a in &args[1..] {
        c.arg(a.as_str());
    }
    redis::ConnectionLike::req_command(con, &c).expect("command")
}

fn strings(v: V) -> Vec<String> {
    match v {
        V::Array(items) => items
            .into_iter()
            .map(|x| match x {
                V::BulkString(s) => String::from_utf8_lossy(&s).into_owned(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        V::Nil => Vec::new(),
        other => panic!("not an array: {other:?}"),
    }
}

#[derive(Debug, Clone)]
enum ZOp {
    Add(i32, u8),
    Rem(u8),
    Incr(i32, u8),
    RangeByRank(i64, i64),
    RangeByScore(i32, i32),
    PopMin(u8),
    RemRangeByRank(i64, i64),
    Rank(u8),
}

fn zop() -> impl Strategy<Value = ZOp> {
    prop_oneof![
        3 => (-20i32..20, 0u8..12).prop_map(|(s, m)| ZOp::Add(s, m)),
        1 => (0u8..12).prop_map(ZOp::Rem),
        1 => (-5i32..5, 0u8..12).prop_map(|(s, m)| ZOp::Incr(s, m)),
        2 => (-15i64..15, -15i64..15).prop_map(|(a, b)| ZOp::RangeByRank(a, b)),
        2 => (-25i32..25, -25i32..25).prop_map(|(a, b)| ZOp::RangeByScore(a, b)),
        1 => (0u8..4).prop_map(ZOp::PopMin),
        1 => (-15i64..15, -15i64..15).prop_map(|(a, b)| ZOp::RemRangeByRank(a, b)),
        1 => (0u8..12).prop_map(ZOp::Rank),
    ]
}

/// The model: member → score, ordered views computed on demand.
fn model_sorted(m: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn model_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if end < 0 { len + end } else { end.min(len - 1) };
    (s <= e && s < len).then_some((s as usize, e as usize))
}

#[test]
fn zset_matches_model() {
    let (_rt, _server, con) = sync_server();
    let con = std::cell::RefCell::new(con);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(zop(), 1..40), |ops| {
            let mut con = con.borrow_mut();
            let s = |x: &str| x.to_string();
            sync_q(&mut con, &[s("DEL"), s("z")]);
            let mut model: BTreeMap<String, i64> = BTreeMap::new();
            for op in ops {
                match op {
                    ZOp::Add(score, m) => {
                        let m = format!("m{m}");
                        let r =
                            sync_q(&mut con, &[s("ZADD"), s("z"), score.to_string(), m.clone()]);
                        let added = model.insert(m, score as i64).is_none();
                        prop_assert_eq!(r, V::Int(added as i64));
                    }
                    ZOp::Rem(m) => {
                        let m = format!("m{m}");
                        let r = sync_q(&mut con, &[s("ZREM"), s("z"), m.clone()]);
                        prop_assert_eq!(r, V::Int(model.remove(&m).is_some() as i64));
                    }
                    ZOp::Incr(by, m) => {
                        let m = format!("m{m}");
                        let r =
                            sync_q(&mut con, &[s("ZINCRBY"), s("z"), by.to_string(), m.clone()]);
                        let e = model.entry(m).or_insert(0);
                        *e += by as i64;
                        prop_assert_eq!(r, V::BulkString(e.to_string().into_bytes()));
                    }
                    ZOp::RangeByRank(a, b) => {
                        let r = strings(sync_q(
                            &mut con,
                            &[s("ZRANGE"), s("z"), a.to_string(), b.to_string()],
                        ));
                        let sorted = model_sorted(&model);
                        let want: Vec<String> = match model_range(sorted.len(), a, b) {
                            None => Vec::new(),
                            Some((x, y)) => sorted[x..=y].iter().map(|(k, _)| k.clone()).collect(),
                        };
                        prop_assert_eq!(r, want);
                        let rev = strings(sync_q(
                            &mut con,
                            &[s("ZREVRANGE"), s("z"), a.to_string(), b.to_string()],
                        ));
                        let rsorted: Vec<(String, i64)> = sorted.iter().rev().cloned().collect();
                        let want: Vec<String> = match model_range(rsorted.len(), a, b) {
                            None => Vec::new(),
                            Some((x, y)) => rsorted[x..=y].iter().map(|(k, _)| k.clone()).collect(),
                        };
                        prop_assert_eq!(rev, want);
                    }
                    ZOp::RangeByScore(a, b) => {
                        let r = strings(sync_q(
                            &mut con,
                            &[
                                s("ZRANGEBYSCORE"),
                                s("z"),
                                a.to_string(),
                                format!("({b}"),
                                s("WITHSCORES"),
                            ],
                        ));
                        let want: Vec<String> = model_sorted(&model)
                            .into_iter()
                            .filter(|(_, sc)| *sc >= a as i64 && *sc < b as i64)
                            .flat_map(|(k, sc)| [k, sc.to_string()])
                            .collect();
                        prop_assert_eq!(r, want);
                        let n = sync_q(
                            &mut con,
                            &[s("ZCOUNT"), s("z"), a.to_string(), format!("({b}")],
                        );
                        let want_n = model
                            .values()
                            .filter(|sc| **sc >= a as i64 && **sc < b as i64)
                            .count();
                        prop_assert_eq!(n, V::Int(want_n as i64));
                    }
                    ZOp::PopMin(n) => {
                        let r = strings(sync_q(&mut con, &[s("ZPOPMIN"), s("z"), n.to_string()]));
                        let sorted = model_sorted(&model);
                        let take: Vec<(String, i64)> =
                            sorted.into_iter().take(n as usize).collect();
                        for (k, _) in &take {
                            model.remove(k);
                        }
                        let want: Vec<String> = take
                            .into_iter()
                            .flat_map(|(k, sc)| [k, sc.to_string()])
                            .collect();
                        prop_assert_eq!(r, want);
                    }
                    ZOp::RemRangeByRank(a, b) => {
                        let r = sync_q(
                            &mut con,
                            &[s("ZREMRANGEBYRANK"), s("z"), a.to_string(), b.to_string()],
                        );
                        let sorted = model_sorted(&model);
                        let victims: Vec<String> = match model_range(sorted.len(), a, b) {
                            None => Vec::new(),
                            Some((x, y)) => sorted[x..=y].iter().map(|(k, _)| k.clone()).collect(),
                        };
                        for k in &victims {
                            model.remove(k);
                        }
                        prop_assert_eq!(r, V::Int(victims.len() as i64));
                    }
                    ZOp::Rank(m) => {
                        let m = format!("m{m}");
                        let r = sync_q(&mut con, &[s("ZRANK"), s("z"), m.clone()]);
                        let want = model_sorted(&model)
                            .iter()
                            .position(|(k, _)| *k == m)
                            .map_or(V::Nil, |p| V::Int(p as i64));
                        prop_assert_eq!(r, want);
                    }
                }
                let card = sync_q(&mut con, &[s("ZCARD"), s("z")]);
                prop_assert_eq!(card, V::Int(model.len() as i64));
                let exists = sync_q(&mut con, &[s("EXISTS"), s("z")]);
                prop_assert_eq!(exists, V::Int(!model.is_empty() as i64));
            }
            Ok(())
        })
        .expect("sorted set matches the model");
}

#[derive(Debug, Clone)]
enum LOp {
    LPush(Vec<u8>),
    RPush(Vec<u8>),
    LPop(u8),
    RPop(u8),
    Range(i64, i64),
    Trim(i64, i64),
    Index(i64),
    Rem(i64, u8),
}

fn lop() -> impl Strategy<Value = LOp> {
    prop_oneof![
        3 => proptest::collection::vec(0u8..6, 1..4).prop_map(LOp::LPush),
        3 => proptest::collection::vec(0u8..6, 1..4).prop_map(LOp::RPush),
        1 => (0u8..4).prop_map(LOp::LPop),
        1 => (0u8..4).prop_map(LOp::RPop),
        2 => (-12i64..12, -12i64..12).prop_map(|(a, b)| LOp::Range(a, b)),
        1 => (-12i64..12, -12i64..12).prop_map(|(a, b)| LOp::Trim(a, b)),
        1 => (-12i64..12).prop_map(LOp::Index),
        1 => (-3i64..3, 0u8..6).prop_map(|(c, e)| LOp::Rem(c, e)),
    ]
}

#[test]
fn list_matches_model() {
    let (_rt, _server, con) = sync_server();
    let con = std::cell::RefCell::new(con);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(lop(), 1..40), |ops| {
            let mut con = con.borrow_mut();
            let s = |x: &str| x.to_string();
            sync_q(&mut con, &[s("DEL"), s("l")]);
            let mut model: VecDeque<String> = VecDeque::new();
            for op in ops {
                match op {
                    LOp::LPush(es) | LOp::RPush(es) if es.is_empty() => {}
                    LOp::LPush(es) => {
                        let mut args = vec![s("LPUSH"), s("l")];
                        for e in &es {
                            args.push(e.to_string());
                            model.push_front(e.to_string());
                        }
                        prop_assert_eq!(sync_q(&mut con, &args), V::Int(model.len() as i64));
                    }
                    LOp::RPush(es) => {
                        let mut args = vec![s("RPUSH"), s("l")];
                        for e in &es {
                            args.push(e.to_string());
                            model.push_back(e.to_string());
                        }
                        prop_assert_eq!(sync_q(&mut con, &args), V::Int(model.len() as i64));
                    }
                    LOp::LPop(n) | LOp::RPop(n) => {
                        let left = matches!(op, LOp::LPop(_));
                        let name = if left { "LPOP" } else { "RPOP" };
                        let r = sync_q(&mut con, &[s(name), s("l"), n.to_string()]);
                        if model.is_empty() {
                            prop_assert_eq!(r, V::Nil);
                        } else {
                            let mut want = Vec::new();
                            for _ in 0..n {
                                let e = if left {
                                    model.pop_front()
                                } else {
                                    model.pop_back()
                                };
                                match e {
                                    Some(e) => want.push(e),
                                    None => break,
                                }
                            }
                            prop_assert_eq!(strings(r), want);
                        }
                    }
                    LOp::Range(a, b) => {
                        let r = strings(sync_q(
                            &mut con,
                            &[s("LRANGE"), s("l"), a.to_string(), b.to_string()],
                        ));
                        let want: Vec<String> = match model_range(model.len(), a, b) {
                            None => Vec::new(),
                            Some((x, y)) => model.range(x..=y).cloned().collect(),
                        };
                        prop_assert_eq!(r, want);
                    }
                    LOp::Trim(a, b) => {
                        sync_q(
                            &mut con,
                            &[s("LTRIM"), s("l"), a.to_string(), b.to_string()],
                        );
                        model = match model_range(model.len(), a, b) {
                            None => VecDeque::new(),
                            Some((x, y)) => model.range(x..=y).cloned().collect(),
                        };
                    }
                    LOp::Index(idx) => {
                        let r = sync_q(&mut con, &[s("LINDEX"), s("l"), idx.to_string()]);
                        let pos = if idx < 0 {
                            model.len() as i64 + idx
                        } else {
                            idx
                        };
                        let want = usize::try_from(pos)
                            .ok()
                            .and_then(|p| model.get(p))
                            .map_or(V::Nil, |e| V::BulkString(e.clone().into_bytes()));
                        prop_assert_eq!(r, want);
                    }
                    LOp::Rem(count, e) => {
                        let r = sync_q(
                            &mut con,
                            &[s("LREM"), s("l"), count.to_string(), e.to_string()],
                        );
                        let e = e.to_string();
                        let limit = if count == 0 {
                            usize::MAX
                        } else {
                            count.unsigned_abs() as usize
                        };
                        let mut idxs: Vec<usize> = model
                            .iter()
                            .enumerate()
                            .filter(|(_, x)| **x == e)
                            .map(|(i, _)| i)
                            .collect();
                        if count < 0 {
                            idxs.reverse();
                        }
                        idxs.truncate(limit);
                        idxs.sort_unstable();
                        for i in idxs.iter().rev() {
                            model.remove(*i);
                        }
                        prop_assert_eq!(r, V::Int(idxs.len() as i64));
                    }
                }
                prop_assert_eq!(
                    sync_q(&mut con, &[s("LLEN"), s("l")]),
                    V::Int(model.len() as i64)
                );
                prop_assert_eq!(
                    sync_q(&mut con, &[s("EXISTS"), s("l")]),
                    V::Int(!model.is_empty() as i64)
                );
            }
            Ok(())
        })
        .expect("list matches the model");
}
