//! Criterion benches for the engine's hot path: request parsing, dispatch of GET/SET, and the whole
//! parse + execute + encode loop for a pipelined batch (what one read of `redis-benchmark -P 16`
//! costs).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redlink_engine::commands::{Ctx, execute};
use redlink_engine::protocol::{ArgVec, Frame, Limits, Out, RequestParser};
use redlink_engine::{Config, ConnContext, Engine, client::Client};

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
    let engine = Engine::new(Config::default());
    let addr = "127.0.0.1:1".parse().expect("addr");
    let handle = engine.clients.register(ConnContext {
        peer: addr,
        local: addr,
        tls: false,
        endpoint: None,
    });
    let client = Client::new(handle, true);
    (engine, client)
}

/// Parse and execute every command in `batch`, like one pass of the connection loop.
fn run_batch(
    engine: &Engine,
    client: &mut Client,
    parser: &mut RequestParser,
    out: &mut Out,
    batch: &[u8],
) {
    let now = redlink_engine::store::now_ms();
    let mut off = 0;
    while let Ok(Frame::Command { consumed }) = parser.parse(&batch[off..], LIMITS) {
        let mut args = ArgVec::new();
        parser.args(&batch[off..off + consumed], &mut args);
        let mut ctx = Ctx {
            engine,
            client,
            out,
            now,
            in_exec: false,
            retry: false,
        };
        execute(&mut ctx, &args);
        off += consumed;
    }
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
    g.bench_function("pipeline of 16 SET", |b| {
        b.iter(|| run_batch(&engine, &mut client, &mut parser, &mut out, &set16))
    });
    g.bench_function("pipeline of 16 GET", |b| {
        b.iter(|| run_batch(&engine, &mut client, &mut parser, &mut out, &get16))
    });
    g.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
