//! OBJECT ENCODING never converts back, as in Redis: a collection that grew past the compact
//! thresholds keeps its big encoding when it shrinks, a set that held a non-integer stays a
//! listpack, a string changed in place stays raw; COPY and RENAME keep the encoding (and COPY copies
//! every encoding's data), and SPOP taking most of a set rebuilds it compact (Redis's "case 3").

mod common;

use common::conn::{Conn, V, s};

async fn encoding(c: &mut Conn, key: &str) -> V {
    c.call(&["OBJECT", "ENCODING", key]).await
}

/// `EVAL` a loop of `n` calls of `cmd KEY <prefix>i [<value>]`.
async fn fill(c: &mut Conn, cmd: &str, key: &str, n: usize, member: &str) {
    let script = format!("for i=1,{n} do redis.call('{cmd}', KEYS[1], {member}) end");
    c.call(&["EVAL", &script, "1", key]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_encodings_stay_after_shrinking() {
    let (_server, addr) = common::start("127.0.87.1", &[]);
    let mut c = Conn::open(addr).await;
    // hash: past 512 fields (hash-max-listpack-entries), then back to one
    fill(&mut c, "hset", "h", 600, "'f'..i, 'v'").await;
    assert_eq!(encoding(&mut c, "h").await, s("hashtable"));
    c.call(&[
        "EVAL",
        "for i=2,600 do redis.call('hdel', KEYS[1], 'f'..i) end",
        "1",
        "h",
    ])
    .await;
    assert_eq!(encoding(&mut c, "h").await, s("hashtable"));
    // zset
    fill(&mut c, "zadd", "z", 200, "i, 'm'..i").await;
    c.call(&["ZREMRANGEBYRANK", "z", "1", "-1"]).await;
    assert_eq!(c.call(&["ZCARD", "z"]).await, V::Int(1));
    assert_eq!(encoding(&mut c, "z").await, s("skiplist"));
    // a long member converts too
    c.call(&["ZADD", "z2", "1", &"x".repeat(100)]).await;
    c.call(&["ZADD", "z2", "2", "short"]).await;
    c.call(&["ZREM", "z2", &"x".repeat(100)]).await;
    assert_eq!(encoding(&mut c, "z2").await, s("skiplist"));
    // set: intset past 512 members, then one
    fill(&mut c, "sadd", "si", 600, "i").await;
    assert_eq!(encoding(&mut c, "si").await, s("hashtable"));
    c.call(&[
        "EVAL",
        "for i=2,600 do redis.call('srem', KEYS[1], i) end",
        "1",
        "si",
    ])
    .await;
    assert_eq!(encoding(&mut c, "si").await, s("hashtable"));
    // set: an intset that took a non-integer stays a listpack
    c.call(&["SADD", "sl", "1", "2"]).await;
    assert_eq!(encoding(&mut c, "sl").await, s("intset"));
    c.call(&["SADD", "sl", "a"]).await;
    c.call(&["SREM", "sl", "a"]).await;
    assert_eq!(encoding(&mut c, "sl").await, s("listpack"));
    // list: past the listpack size, then one element
    fill(&mut c, "rpush", "l", 2000, "'element-'..i").await;
    assert_eq!(encoding(&mut c, "l").await, s("quicklist"));
    c.call(&["LTRIM", "l", "0", "0"]).await;
    assert_eq!(encoding(&mut c, "l").await, s("quicklist"));
    // strings: APPEND and SETRANGE leave a raw string; a new value starts over
    c.call(&["SET", "str", "5"]).await;
    assert_eq!(encoding(&mut c, "str").await, s("int"));
    c.call(&["APPEND", "str", "x"]).await;
    assert_eq!(encoding(&mut c, "str").await, s("raw"));
    c.call(&["SETRANGE", "sr", "0", "abc"]).await;
    assert_eq!(encoding(&mut c, "sr").await, s("raw"));
    c.call(&["SET", "sr", "abc"]).await;
    assert_eq!(encoding(&mut c, "sr").await, s("embstr"));
    c.call(&["SET", "n", "5"]).await;
    c.call(&["INCR", "n"]).await;
    assert_eq!(encoding(&mut c, "n").await, s("int"));
    // DEL and a new value: compact again
    c.call(&["DEL", "h"]).await;
    c.call(&["HSET", "h", "f", "v"]).await;
    assert_eq!(encoding(&mut c, "h").await, s("listpack"));
    // RENAME keeps the encoding
    c.call(&["RENAME", "z", "z3"]).await;
    assert_eq!(encoding(&mut c, "z3").await, s("skiplist"));
    // SPOP taking most of a big set rebuilds it (Redis's SPOP with count, case 3)
    fill(&mut c, "sadd", "sp", 600, "i").await;
    c.call(&["SPOP", "sp", "599"]).await;
    assert_eq!(encoding(&mut c, "sp").await, s("intset"));
}

/// A key's whole value, in a form independent of iteration order.
async fn content(c: &mut Conn, key: &str) -> Vec<String> {
    let kind = common::conn::text(&c.call(&["TYPE", key]).await);
    let read: Vec<&str> = match kind.as_str() {
        "string" => vec!["GET", key],
        "list" => vec!["LRANGE", key, "0", "-1"],
        "set" => vec!["SMEMBERS", key],
        "hash" => vec!["HGETALL", key],
        "zset" => vec!["ZRANGE", key, "0", "-1", "WITHSCORES"],
        "stream" => vec!["XRANGE", key, "-", "+"],
        other => panic!("type {other}"),
    };
    let mut out = match c.call(&read).await {
        V::Arr(items) => items.iter().map(|v| format!("{v:?}")).collect(),
        v => vec![format!("{v:?}")],
    };
    if kind == "set" || kind == "hash" {
        out.sort();
    }
    out.insert(0, kind);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_keeps_every_encoding_and_its_data() {
    let (_server, addr) = common::start("127.0.87.2", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["SET", "int", "123"]).await;
    c.call(&["SET", "embstr", "hello"]).await;
    c.call(&["SET", "raw", &"r".repeat(100)]).await;
    c.call(&["RPUSH", "listpack-list", "a", "b"]).await;
    fill(&mut c, "rpush", "quicklist", 2000, "'element-'..i").await;
    c.call(&["SADD", "intset", "1", "2", "3"]).await;
    c.call(&["SADD", "listpack-set", "a", "b"]).await;
    fill(&mut c, "sadd", "hashtable-set", 300, "'m'..i").await;
    c.call(&["HSET", "listpack-hash", "f", "v"]).await;
    fill(&mut c, "hset", "hashtable-hash", 600, "'f'..i, i").await;
    c.call(&["ZADD", "listpack-zset", "1", "a", "2", "b"]).await;
    fill(&mut c, "zadd", "skiplist", 300, "i, 'm'..i").await;
    c.call(&["XADD", "stream", "1-1", "f", "v"]).await;
    c.call(&["PFADD", "hll", "a", "b", "c"]).await;
    // A big encoding that shrank: the copy keeps it too.
    fill(&mut c, "hset", "shrunk", 600, "'f'..i, i").await;
    c.call(&[
        "EVAL",
        "for i=2,600 do redis.call('hdel', KEYS[1], 'f'..i) end",
        "1",
        "shrunk",
    ])
    .await;
    let keys = [
        ("int", "int"),
        ("embstr", "embstr"),
        ("raw", "raw"),
        ("listpack-list", "listpack"),
        ("quicklist", "quicklist"),
        ("intset", "intset"),
        ("listpack-set", "listpack"),
        ("hashtable-set", "hashtable"),
        ("listpack-hash", "listpack"),
        ("hashtable-hash", "hashtable"),
        ("listpack-zset", "listpack"),
        ("skiplist", "skiplist"),
        ("stream", "stream"),
        ("hll", "raw"),
        ("shrunk", "hashtable"),
    ];
    for (key, enc) in keys {
        assert_eq!(encoding(&mut c, key).await, s(enc), "{key}");
        let copy = format!("{key}-copy");
        assert_eq!(c.call(&["COPY", key, &copy]).await, V::Int(1));
        assert_eq!(encoding(&mut c, &copy).await, s(enc), "copy of {key}");
        assert_eq!(
            content(&mut c, key).await,
            content(&mut c, &copy).await,
            "data of {key}"
        );
        // Into another database as well.
        assert_eq!(c.call(&["COPY", key, key, "DB", "1"]).await, V::Int(1));
    }
    c.call(&["SELECT", "1"]).await;
    for (key, enc) in keys {
        assert_eq!(encoding(&mut c, key).await, s(enc), "db 1 copy of {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_no_touch_leaves_lfu_alone_and_no_evict_shows() {
    let (_server, addr) = common::start("127.0.87.3", &[("maxmemory-policy", "allkeys-lfu")]);
    let mut c = Conn::open(addr).await;
    let freq = |v: V| match v {
        V::Int(n) => n,
        other => panic!("OBJECT FREQ: {other:?}"),
    };
    c.call(&["SET", "k", "v"]).await;
    let start = freq(c.call(&["OBJECT", "FREQ", "k"]).await);
    assert_eq!(c.call(&["CLIENT", "NO-TOUCH", "ON"]).await, s("OK"));
    for _ in 0..20 {
        c.call(&["GET", "k"]).await;
    }
    c.call(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"])
        .await;
    assert_eq!(freq(c.call(&["OBJECT", "FREQ", "k"]).await), start);
    // TOUCH still touches (a fresh counter always counts its first access).
    c.call(&["TOUCH", "k"]).await;
    assert_eq!(freq(c.call(&["OBJECT", "FREQ", "k"]).await), start + 1);
    let info = common::conn::text(&c.call(&["CLIENT", "INFO"]).await);
    assert!(info.contains(" flags=T "), "{info}");
    assert_eq!(c.call(&["CLIENT", "NO-EVICT", "ON"]).await, s("OK"));
    let info = common::conn::text(&c.call(&["CLIENT", "INFO"]).await);
    assert!(info.contains(" flags=eT "), "{info}");
    assert_eq!(
        c.call(&["CLIENT", "NO-TOUCH", "maybe"]).await,
        common::conn::err("ERR syntax error")
    );
    // Another client touches as usual.
    let mut other = Conn::open(addr).await;
    other.call(&["SET", "j", "v"]).await;
    let before = freq(other.call(&["OBJECT", "FREQ", "j"]).await);
    other.call(&["GET", "j"]).await;
    assert_eq!(freq(other.call(&["OBJECT", "FREQ", "j"]).await), before + 1);
    // RESET clears NO-TOUCH; NO-EVICT stays, as in redis-server 7.0.15.
    c.call(&["RESET"]).await;
    let info = common::conn::text(&c.call(&["CLIENT", "INFO"]).await);
    assert!(info.contains(" flags=e "), "{info}");
    c.call(&["MULTI"]).await;
    c.call(&["CLIENT", "INFO"]).await;
    let V::Arr(replies) = c.call(&["EXEC"]).await else {
        panic!("EXEC");
    };
    assert!(common::conn::text(&replies[0]).contains(" flags=xe "));
}
