//! Property tests: the request parser against the `redis-protocol` encoder (any split of the input),
//! reply encoding against the `redis-protocol` decoder, and string/key commands against a simple
//! in-test model of Redis.

use std::collections::HashMap;

use bytes::BytesMut;
use proptest::prelude::*;
use redis_protocol::resp2::types::{BytesFrame, OwnedFrame};
use redlink_engine::protocol::{ArgVec, Frame, Limits, Out, RequestParser};

mod common;
use common::inproc::InProcess;

const LIMITS: Limits = Limits {
    unauthenticated: false,
    max_bulk: 512 * 1024 * 1024,
};

fn encode_command(args: &[Vec<u8>]) -> Vec<u8> {
    let frame = BytesFrame::Array(
        args.iter()
            .map(|a| BytesFrame::BulkString(a.clone().into()))
            .collect(),
    );
    let mut buf = BytesMut::new();
    redis_protocol::resp2::encode::extend_encode(&mut buf, &frame, false).expect("encode");
    buf.to_vec()
}

/// Feed `input` to a parser in the given chunk sizes; return every command parsed.
fn parse_chunked(input: &[u8], chunks: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let mut parser = RequestParser::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut out = Vec::new();
    let mut sizes = chunks.iter().cycle();
    while fed < input.len() {
        let n = (*sizes.next().unwrap_or(&1)).max(1).min(input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        loop {
            match parser.parse(&buf, LIMITS).expect("valid input") {
                Frame::Command { consumed } => {
                    let mut args = ArgVec::new();
                    parser.args(&buf[..consumed], &mut args);
                    let owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                    drop(args);
                    out.push(owned);
                    buf.drain(..consumed);
                }
                Frame::Skip { consumed } => {
                    buf.drain(..consumed);
                }
                Frame::Incomplete { .. } => break,
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn parser_reads_what_redis_protocol_writes(
        cmds in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
        chunks in prop::collection::vec(1usize..64, 1..8),
    ) {
        let input: Vec<u8> = cmds.iter().flat_map(|c| encode_command(c)).collect();
        prop_assert_eq!(parse_chunked(&input, &chunks), cmds);
    }

    #[test]
    fn parser_never_panics_on_garbage(input in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut parser = RequestParser::default();
        let mut off = 0;
        while let Ok(frame) = parser.parse(&input[off..], LIMITS) {
            match frame {
                Frame::Command { consumed } | Frame::Skip { consumed } => off += consumed,
                Frame::Incomplete { .. } => break,
            }
        }
    }

    #[test]
    fn replies_decode_with_redis_protocol(
        bulks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 0..10),
        int in any::<i64>(),
    ) {
        let mut out = Out::new(false);
        out.array(bulks.len() + 2);
        for b in &bulks {
            out.bulk(b);
        }
        out.int(int);
        out.null();
        let (frame, used) = redis_protocol::resp2::decode::decode(&out.buf)
            .expect("decodes")
            .expect("complete");
        prop_assert_eq!(used, out.buf.len());
        let mut expected: Vec<OwnedFrame> = bulks.iter().map(|b| OwnedFrame::BulkString(b.clone())).collect();
        expected.push(OwnedFrame::Integer(int));
        expected.push(OwnedFrame::Null);
        prop_assert_eq!(frame, OwnedFrame::Array(expected));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, Vec<u8>),
    SetNx(u8, Vec<u8>),
    Get(u8),
    Del(u8),
    Append(u8, Vec<u8>),
    IncrBy(u8, i32),
    Strlen(u8),
    Exists(u8),
    GetDel(u8),
    Rename(u8, u8),
    GetRange(u8, i8, i8),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..6;
    let val = prop::collection::vec(prop_oneof![Just(b'1'), Just(b'a'), any::<u8>()], 0..6);
    prop_oneof![
        (key.clone(), val.clone()).prop_map(|(k, v)| Op::Set(k, v)),
        (key.clone(), val.clone()).prop_map(|(k, v)| Op::SetNx(k, v)),
        key.clone().prop_map(Op::Get),
        key.clone().prop_map(Op::Del),
        (key.clone(), val).prop_map(|(k, v)| Op::Append(k, v)),
        (key.clone(), -5i32..5).prop_map(|(k, n)| Op::IncrBy(k, n)),
        key.clone().prop_map(Op::Strlen),
        key.clone().prop_map(Op::Exists),
        key.clone().prop_map(Op::GetDel),
        (key.clone(), key.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        (key, any::<i8>(), any::<i8>()).prop_map(|(k, s, e)| Op::GetRange(k, s, e)),
    ]
}

fn bulk(v: Option<&Vec<u8>>) -> OwnedFrame {
    v.map_or(OwnedFrame::Null, |v| OwnedFrame::BulkString(v.clone()))
}

/// What Redis replies, computed from a HashMap model.
fn model_apply(m: &mut HashMap<u8, Vec<u8>>, op: &Op) -> OwnedFrame {
    use OwnedFrame::*;
    match op {
        Op::Set(k, v) => {
            m.insert(*k, v.clone());
            SimpleString(b"OK".to_vec())
        }
        Op::SetNx(k, v) => {
            if m.contains_key(k) {
                Integer(0)
            } else {
                m.insert(*k, v.clone());
                Integer(1)
            }
        }
        Op::Get(k) => bulk(m.get(k)),
        Op::Del(k) => Integer(m.remove(k).is_some() as i64),
        Op::Append(k, v) => {
            let e = m.entry(*k).or_default();
            e.extend_from_slice(v);
            Integer(e.len() as i64)
        }
        Op::IncrBy(k, n) => {
            let cur = match m.get(k) {
                None => Some(0i64),
                Some(v) => std::str::from_utf8(v)
                    .ok()
                    .filter(|s| {
                        *s == "0"
                            || !(s.starts_with('0')
                                || s.starts_with("-0")
                                || s.starts_with('+')
                                || s.is_empty())
                    })
                    .and_then(|s| s.parse::<i64>().ok()),
            };
            match cur.and_then(|c| c.checked_add(*n as i64)) {
                Some(new) => {
                    m.insert(*k, new.to_string().into_bytes());
                    Integer(new)
                }
                None if cur.is_none() => {
                    Error("ERR value is not an integer or out of range".into())
                }
                None => Error("ERR increment or decrement would overflow".into()),
            }
        }
        Op::Strlen(k) => Integer(m.get(k).map_or(0, |v| v.len()) as i64),
        Op::Exists(k) => Integer(m.contains_key(k) as i64),
        Op::GetDel(k) => bulk(m.remove(k).as_ref()),
        Op::Rename(a, b) => match m.remove(a) {
            None => Error("ERR no such key".into()),
            Some(v) => {
                m.insert(*b, v);
                SimpleString(b"OK".to_vec())
            }
        },
        Op::GetRange(k, s, e) => {
            let v = m.get(k).cloned().unwrap_or_default();
            let len = v.len() as i64;
            let (s, e) = (*s as i64, *e as i64);
            if s < 0 && e < 0 && s > e {
                return BulkString(Vec::new());
            }
            let s = if s < 0 { (len + s).max(0) } else { s };
            let e = if e < 0 { (len + e).max(0) } else { e }.min(len - 1);
            if len == 0 || s > e {
                BulkString(Vec::new())
            } else {
                BulkString(v[s as usize..=e as usize].to_vec())
            }
        }
    }
}

fn op_args(op: &Op) -> Vec<Vec<u8>> {
    let k = |k: &u8| format!("key{k}").into_bytes();
    match op {
        Op::Set(key, v) => vec![b"SET".to_vec(), k(key), v.clone()],
        Op::SetNx(key, v) => vec![b"SETNX".to_vec(), k(key), v.clone()],
        Op::Get(key) => vec![b"GET".to_vec(), k(key)],
        Op::Del(key) => vec![b"DEL".to_vec(), k(key)],
        Op::Append(key, v) => vec![b"APPEND".to_vec(), k(key), v.clone()],
        Op::IncrBy(key, n) => vec![b"INCRBY".to_vec(), k(key), n.to_string().into_bytes()],
        Op::Strlen(key) => vec![b"STRLEN".to_vec(), k(key)],
        Op::Exists(key) => vec![b"EXISTS".to_vec(), k(key)],
        Op::GetDel(key) => vec![b"GETDEL".to_vec(), k(key)],
        Op::Rename(a, b) => vec![b"RENAME".to_vec(), k(a), k(b)],
        Op::GetRange(key, s, e) => vec![
            b"GETRANGE".to_vec(),
            k(key),
            s.to_string().into_bytes(),
            e.to_string().into_bytes(),
        ],
    }
}

proptest! {
    #[test]
    fn string_commands_match_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = InProcess::new();
        let mut model = HashMap::new();
        for op in &ops {
            let args = op_args(op);
            let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            let got = h.run(&refs);
            let want = model_apply(&mut model, op);
            prop_assert_eq!(got, want, "op {:?}", op);
        }
        let dbsize = h.run(&[b"DBSIZE"]);
        prop_assert_eq!(dbsize, OwnedFrame::Integer(model.len() as i64));
    }
}
