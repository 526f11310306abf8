//! A base file in AOF form (`aof-use-rdb-preamble no`): the dataset as the commands that rebuild
//! it, the way Redis 7.0's `rewriteAppendOnlyFileRio` writes them — FUNCTION LOAD per library, then
//! per database SELECT and per key SET / RPUSH / SADD / ZADD / HSET (at most 64 items per command,
//! Redis's `AOF_REWRITE_ITEMS_PER_CMD`), streams as XADD + XSETID + XGROUP CREATE + XCLAIM (the
//! pending entries) + XGROUP CREATECONSUMER, and PEXPIREAT for keys with a time to live. Plain
//! commands, so any Redis version loads them.

use std::io::{self, Write};
use std::sync::Arc;

use crate::propagate::encode;
use crate::store::{Stream, Value};

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

/// The dataset at one instant.
pub struct Snapshot {
    /// Per database: (key, value, expiry in unix ms, 0 = none).
    pub dbs: Vec<Vec<(Vec<u8>, Value, u64)>>,
    /// Function libraries' code.
    pub functions: Vec<Arc<[u8]>>,
}

/// Write `snap` as commands.
pub fn write_commands(snap: &Snapshot, w: &mut impl Write) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    for code in &snap.functions {
        encode(&mut buf, &[b"FUNCTION".as_slice(), b"LOAD", code]);
    }
    for (i, keys) in snap.dbs.iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        let n = i.to_string();
        encode(&mut buf, &[b"SELECT".as_slice(), n.as_bytes()]);
        for (key, value, expire) in keys {
            value_commands(&mut buf, key, value);
            if *expire != 0 {
                let at = expire.to_string();
                encode(&mut buf, &[b"PEXPIREAT".as_slice(), key, at.as_bytes()]);
            }
            if buf.len() >= 64 * 1024 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    w.write_all(&buf)
}

/// `head... items...` in commands of at most 64 items each.
fn batched<'a>(buf: &mut Vec<u8>, head: &[&[u8]], items: impl Iterator<Item = Vec<&'a [u8]>>) {
    let mut argv: Vec<&[u8]> = head.to_vec();
    let mut n = 0;
    for item in items {
        argv.extend(item);
        n += 1;
        if n == ITEMS_PER_CMD {
            encode(buf, &argv);
            argv.truncate(head.len());
            n = 0;
        }
    }
    if n > 0 {
        encode(buf, &argv);
    }
}

fn value_commands(buf: &mut Vec<u8>, key: &[u8], value: &Value) {
    match value {
        Value::Str(s) => encode(buf, &[b"SET".as_slice(), key, s]),
        Value::List(l) => batched(buf, &[b"RPUSH", key], l.iter().map(|v| vec![v.as_slice()])),
        Value::Set(s) => batched(
            buf,
            &[b"SADD", key],
            s.iter().map(|(m, _)| vec![m.as_slice()]),
        ),
        Value::Hash(h) => batched(
            buf,
            &[b"HSET", key],
            h.iter().map(|(f, v)| vec![f.as_slice(), v.as_slice()]),
        ),
        Value::ZSet(z) => {
            let scored: Vec<(String, &[u8])> = z
                .iter()
                .map(|(m, s)| (crate::protocol::format_double(s), m.as_slice()))
                .collect();
            batched(
                buf,
                &[b"ZADD", key],
                scored.iter().map(|(s, m)| vec![s.as_bytes(), *m]),
            );
        }
        Value::Stream(s) => stream_commands(buf, key, s),
    }
}

/// Redis's `rewriteStreamObject`.
fn stream_commands(buf: &mut Vec<u8>, key: &[u8], s: &Stream) {
    let last = s.last_id.to_bytes();
    if s.is_empty() {
        // An empty stream still exists (its last ID and groups matter): created by an XADD trimmed
        // to nothing, as Redis writes it.
        encode(
            buf,
            &[b"XADD".as_slice(), key, b"MAXLEN", b"0", &last, b"x", b"y"],
        );
    } else {
        for (id, fields) in s.range(
            crate::store::StreamId::MIN,
            crate::store::StreamId::MAX,
            false,
        ) {
            let id = id.to_bytes();
            let mut argv: Vec<&[u8]> = vec![b"XADD", key, &id];
            argv.extend(fields.iter().map(|f| f.as_slice()));
            encode(buf, &argv);
        }
    }
    let added = s.entries_added.to_string();
    let max_deleted = s.max_deleted.to_bytes();
    encode(
        buf,
        &[
            b"XSETID".as_slice(),
            key,
            &last,
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            &max_deleted,
        ],
    );
    for (name, g) in s.groups.iter() {
        let gid = g.last_id.to_bytes();
        let read = g.entries_read.to_string();
        encode(
            buf,
            &[
                b"XGROUP".as_slice(),
                b"CREATE",
                key,
                name,
                &gid,
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for (id, nack) in g.pel.iter() {
            let id = id.to_bytes();
            let (time, count) = (
                nack.delivery_time.to_string(),
                nack.delivery_count.to_string(),
            );
            encode(
                buf,
                &[
                    b"XCLAIM".as_slice(),
                    key,
                    name,
                    &nack.consumer,
                    b"0",
                    &id,
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ],
            );
        }
        for (consumer, c) in g.consumers.iter() {
            if c.pel.is_empty() {
                encode(
                    buf,
                    &[b"XGROUP".as_slice(), b"CREATECONSUMER", key, name, consumer],
                );
            }
        }
    }
}
