//! Criterion benches for the engine's hot path: request parsing, dispatch of GET/SET, and the whole
//! parse + execute + encode loop for a pipelined batch (what one read of `redis-benchmark -P 16`
//! costs).

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redlink_engine::protocol::{Frame, Limits, Out, RequestParser};
use redlink_engine::{Engine, client::Client, conn};

#[allow(dead_code)]
#[path = "../crates/engine/tests/common/inproc.rs"]
mod inproc;

const LIMITS: Limits = Limits {
    unauthenticated: false,
    max_bulk: 512 * 1024 * 1024,
};

fn set_cmd(i: usize) -> Vec<u8> {
    let key = format!("key:{i:012}");
    format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nxxx\r\n",
        key.len()
    )
    .into_bytes()
}

fn get_cmd(i: usize) -> Vec<u8> {
    let key = format!("key:{i:012}");
    format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).into_bytes()
}

fn harness() -> (Engine, Client) {
    let inproc::InProcess { engine, client } = inproc::InProcess::new();
    (engine, client)
}

/// One pass of the engine's connection loop over `batch`: the engine's own `conn::process` parses
/// and executes every request, then the replies are dropped as if written.
fn run_batch(
    engine: &Engine,
    client: &mut Client,
    parser: &mut RequestParser,
    rbuf: &mut BytesMut,
    out: &mut Out,
    batch: &[u8],
) {
    rbuf.extend_from_slice(batch);
    let _ = conn::process(engine, client, parser, rbuf, out);
    debug_assert!(rbuf.is_empty(), "every request of the batch ran");
    out.buf.clear();
}

fn benches(c: &mut Criterion) {
    let set16: Vec<u8> = (0..16).flat_map(set_cmd).collect();
    let get16: Vec<u8> = (0..16).flat_map(get_cmd).collect();

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(16));
    g.bench_function("16 SET requests", |b| {
        let mut parser = RequestParser::default();
        b.iter(|| {
            let mut off = 0;
            while let Ok(Frame::Command { consumed }) = parser.parse(&set16[off..], LIMITS) {
                off += consumed;
            }
            off
        })
    });
    g.finish();

    let mut g = c.benchmark_group("parse+dispatch");
    g.throughput(Throughput::Elements(16));
    let (engine, mut client) = harness();
    let mut parser = RequestParser::default();
    let mut out = Out::new(false);
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    g.bench_function("pipeline of 16 SET", |b| {
        b.iter(|| {
            run_batch(
                &engine,
                &mut client,
                &mut parser,
                &mut rbuf,
                &mut out,
                &set16,
            )
        })
    });
    g.bench_function("pipeline of 16 GET", |b| {
        b.iter(|| {
            run_batch(
                &engine,
                &mut client,
                &mut parser,
                &mut rbuf,
                &mut out,
                &get16,
            )
        })
    });
    g.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
