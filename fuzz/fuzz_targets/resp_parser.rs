//! Fuzz target: arbitrary bytes, in arbitrary splits, through the engine's request parser and the
//! command dispatcher, the way `conn::run` drives them.
//!
//! Input layout: byte 0 = flags (bit 0: the engine has `requirepass` and the client starts
//! unauthenticated, so the unauthenticated parser limits apply until an AUTH succeeds; bit 1: a tiny
//! `proto-max-bulk-len`), bytes 1..3 = seed of the read sizes, the rest = what the client sends.
//!
//! Speed: an `Engine` is built once per configuration (the flags' two bits) and reused by the
//! following inputs, emptied between them (only after an input that ran a command with the `write`
//! flag, and only the databases that hold keys: flushing all 16 x 64 shards after every input was
//! a third of the target's time); an input that ran a command of the
//! `@admin` or `@scripting` categories (CONFIG, ACL, DEBUG, CLIENT KILL/PAUSE, SCRIPT, FUNCTION,
//! SHUTDOWN ...), which change engine-wide state beyond the keyspace, makes the next input start on
//! a fresh engine again. Building one per input (16 databases of sharded tables) held the target
//! to ~500 executions per second. Replies of 4 KiB or more that passed the oracle are remembered
//! and not decoded again, and saves go to a tmpfs: with `COMMAND` (written once per engine
//! configuration, see `commands::command`) they had been two thirds of the time.
//!
//! Oracles besides "no panic, no hang, no unbounded allocation":
//! - the parser finds the same commands (and the same protocol error) whether the input arrives at
//!   once or in pieces (for inputs below the 64 KiB header limit, where buffering cannot matter);
//! - every reply the dispatcher writes is well-formed RESP (RESP2, or RESP3 after `HELLO 3`) and
//!   decodes completely with redis-protocol (top-level error lines, which may echo raw client
//!   bytes, are checked for framing only); a value redis-protocol refuses for its content rather
//!   than its framing (a set of maps, as `COMMAND` sends in RESP3) must pass the framing-only
//!   checker of `fuzz/resp3-framing` instead.

#![no_main]

use libfuzzer_sys::fuzz_target;
use redlink_engine::client::Client;
use std::sync::{LazyLock, Mutex};

use redlink_engine::commands::{Ctx, execute, lookup_call};
use redlink_engine::protocol::{ArgVec, Frame, INLINE_MAX_SIZE, Limits, Out, RequestParser};
use redlink_engine::{Config, ConnContext, Engine};

type Commands = Vec<Vec<Vec<u8>>>;

/// The engines kept between inputs, one per configuration (`flags & 3`).
static ENGINES: Mutex<[Option<Engine>; 4]> = Mutex::new([None, None, None, None]);

/// The engine of this configuration: the kept one (emptied by the input before), or a new one.
fn engine_for(flags: u8, with_password: bool) -> Engine {
    let kept = ENGINES.lock().unwrap_or_else(|e| e.into_inner())[usize::from(flags & 3)].take();
    if let Some(engine) = kept {
        return engine;
    }
    // The configuration is built once per flags and copied (building one sorts every parameter).
    static CONFIGS: Mutex<[Option<Config>; 4]> = Mutex::new([None, None, None, None]);
    let mut configs = CONFIGS.lock().unwrap_or_else(|e| e.into_inner());
    let config = configs[usize::from(flags & 3)]
        .get_or_insert_with(|| config_for(flags, with_password))
        .clone();
    drop(configs);
    Engine::new(config)
}

/// A new engine's configuration for these flags.
fn config_for(flags: u8, with_password: bool) -> Config {
    let mut config = Config::default();
    // SAVE, BGSAVE and DEBUG RELOAD write their file here, not into the directory the fuzzer runs
    // in: in memory where there is a tmpfs (a save's fsync on a disk took 5% of the time).
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("redlink-fuzz-{}", std::process::id()));
    remove_stale_dirs(&base);
    if std::fs::create_dir_all(&dir).is_ok()
        && let Some(dir) = dir.to_str()
    {
        let _ = config.set_startup("dir", dir);
    }
    if with_password {
        let _ = config.set_startup("requirepass", "pw");
    }
    if flags & 2 != 0 {
        let _ = config.set_startup("proto-max-bulk-len", "16");
    }
    config
}

/// Remove the save directories of fuzzer processes that are gone (`redlink-fuzz-<pid>` with no
/// `/proc/<pid>`): a libFuzzer target has no exit hook to remove its own, so each run cleans up
/// after the earlier ones (the directories hold the dump file of a run's last SAVE).
fn remove_stale_dirs(base: &std::path::Path) {
    // Without /proc every process would look gone.
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("redlink-fuzz-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Keep `engine` for the next input of this configuration, emptied, unless `used.dirty`.
///
/// Only a command with Redis's `write` flag adds a key (the flag is what replicas, `-OOM` and
/// `min-replicas` rely on), so an input that ran none leaves the keyspace as it found it: empty.
/// Otherwise only the databases holding keys are flushed (a flush takes every shard's lock).
fn keep(flags: u8, engine: Engine, used: Used) {
    if used.dirty || engine.is_shutting_down() {
        return;
    }
    if used.wrote {
        for i in 0..engine.store.databases() {
            let db = engine.store.db(i);
            if !db.is_empty() {
                db.flush();
            }
        }
    }
    ENGINES.lock().unwrap_or_else(|e| e.into_inner())[usize::from(flags & 3)] = Some(engine);
}

/// What the commands of one input may have changed in the engine they ran on.
#[derive(Default, Clone, Copy)]
struct Used {
    /// A command changed engine-wide state beyond the keyspace (see the module comment).
    dirty: bool,
    /// A command may have written the keyspace.
    wrote: bool,
}

impl Used {
    /// Account for the command `args` (run or queued).
    fn add(&mut self, args: &[&[u8]]) {
        static ENGINE_WIDE: LazyLock<u32> = LazyLock::new(|| {
            redlink_engine::spec::category_bit("admin").unwrap_or(0)
                | redlink_engine::spec::category_bit("scripting").unwrap_or(0)
        });
        if let Some(cmd) = lookup_call(args) {
            self.dirty |= cmd.categories & *ENGINE_WIDE != 0;
            self.wrote |= cmd.flags & redlink_engine::spec::flag::WRITE != 0;
        }
    }
}

/// Parse `input` with fixed limits, fed in chunks of the given sizes; the commands found and the
/// protocol error that ended the stream, if any.
fn parse(
    input: &[u8],
    limits: Limits,
    mut next_chunk: impl FnMut() -> usize,
) -> (Commands, Option<String>) {
    let mut parser = RequestParser::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut cmds = Vec::new();
    while fed < input.len() {
        let n = next_chunk().clamp(1, input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        loop {
            match parser.parse(&buf, limits) {
                Ok(Frame::Command { consumed }) => {
                    assert!(
                        consumed > 0 && consumed <= buf.len(),
                        "consumed {consumed} of {}",
                        buf.len()
                    );
                    let mut args = ArgVec::new();
                    parser.args(&buf[..consumed], &mut args);
                    assert!(!args.is_empty(), "a command has a name");
                    let owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                    drop(args);
                    cmds.push(owned);
                    buf.drain(..consumed);
                }
                Ok(Frame::Skip { consumed }) => {
                    assert!(
                        consumed > 0 && consumed <= buf.len(),
                        "skip {consumed} of {}",
                        buf.len()
                    );
                    buf.drain(..consumed);
                }
                Ok(Frame::Incomplete { .. }) => break,
                Err(e) => return (cmds, Some(e.0)),
            }
        }
    }
    (cmds, None)
}

/// Replies of at least this size that passed [`check_replies`] are remembered, so the same bytes
/// are not decoded again: `COMMAND` (~200 KB, the same for every input that sends it) made
/// redis-protocol's decoder a third of the target's time.
const REMEMBERED_FROM: usize = 4096;

/// Check that `out` holds only complete, well-formed replies.
fn check_replies(out: &Out) {
    use std::collections::HashMap;
    /// Checked replies by (protocol, length); at most this many bytes in all.
    const REMEMBERED_MAX: usize = 64 << 20;
    type Checked = (usize, HashMap<(bool, usize), Vec<Vec<u8>>>);
    static CHECKED: LazyLock<Mutex<Checked>> = LazyLock::new(Mutex::default);
    let large = out.buf.len() >= REMEMBERED_FROM;
    if large {
        let checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if checked
            .1
            .get(&(out.resp3, out.buf.len()))
            .is_some_and(|same_len| same_len.iter().any(|b| b[..] == out.buf[..]))
        {
            return;
        }
    }
    check_frames(out);
    if large {
        let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if checked.0 + out.buf.len() <= REMEMBERED_MAX {
            checked.0 += out.buf.len();
            checked
                .1
                .entry((out.resp3, out.buf.len()))
                .or_default()
                .push(out.buf.to_vec());
        }
    }
}

/// Decode every reply in `out` (see [`check_replies`]).
fn check_frames(out: &Out) {
    let mut rest: &[u8] = &out.buf;
    while !rest.is_empty() {
        // A top-level error may carry raw client bytes (Redis echoes them in "unknown command"),
        // which redis-protocol's decoders refuse as non-UTF-8: check its framing here.
        if rest[0] == b'-' {
            let end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or_else(|| {
                    panic!("unterminated error: {:?}", String::from_utf8_lossy(rest))
                });
            assert!(
                !rest[..end].contains(&b'\n') && !rest[..end].contains(&b'\r'),
                "error line: {rest:?}"
            );
            rest = &rest[end + 2..];
            continue;
        }
        // Where redis-protocol refuses a value for what it is rather than how it is framed, the
        // framing-only checker decides: its decoder builds hash sets and maps, so it refuses sets
        // and maps whose members/keys are aggregates (`Invalid hash key`) — what `COMMAND` sends
        // after `HELLO 3`, exactly like redis-server 7.0.15 (key specs: `~1\r\n%3\r\n...`) — and
        // nested error or status lines with non-UTF-8 bytes. Such a reply must still be one
        // complete, well-formed value (of the connection's protocol) and is skipped by its length.
        let used = if out.resp3 {
            match redis_protocol::resp3::decode::complete::decode(rest) {
                Ok(Some((_, used))) => used,
                Err(e) => resp3_framing::frame_len(rest).unwrap_or_else(|framing| {
                    panic!(
                        "bad RESP3 reply ({e:?}; framing: {framing}): {:?}",
                        String::from_utf8_lossy(rest)
                    )
                }),
                Ok(None) => panic!(
                    "incomplete RESP3 reply: {:?}",
                    String::from_utf8_lossy(rest)
                ),
            }
        } else {
            match redis_protocol::resp2::decode::decode(rest) {
                Ok(Some((_, used))) => used,
                Err(e) => resp3_framing::frame_len_resp2(rest).unwrap_or_else(|framing| {
                    panic!(
                        "bad RESP2 reply ({e:?}; framing: {framing}): {:?}",
                        String::from_utf8_lossy(rest)
                    )
                }),
                Ok(None) => panic!(
                    "incomplete RESP2 reply: {:?}",
                    String::from_utf8_lossy(rest)
                ),
            }
        };
        assert!(used > 0);
        rest = &rest[used..];
    }
}

/// A small deterministic generator of read sizes (1..=64, sometimes large).
fn chunker(seed: u16) -> impl FnMut() -> usize {
    let mut x = u32::from(seed) | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if x % 8 == 0 {
            4096
        } else {
            (x % 64) as usize + 1
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let flags = data[0];
    let seed = u16::from_le_bytes([data[1], data[2]]);
    let input = &data[3..];
    let with_password = flags & 1 != 0;
    let max_bulk = if flags & 2 != 0 {
        16
    } else {
        512 * 1024 * 1024
    };

    // 1. The parser alone: at once and in pieces, same result.
    let limits = Limits {
        unauthenticated: with_password,
        max_bulk,
    };
    let whole = parse(input, limits, || usize::MAX);
    let pieces = parse(input, limits, chunker(seed));
    if input.len() <= INLINE_MAX_SIZE {
        assert_eq!(whole, pieces, "split-dependent parse");
    }

    // 2. Parser + dispatcher on an empty engine, as one connection would run them.
    let engine = engine_for(flags, with_password);
    let mut used = Used::default();
    let addr = "127.0.0.1:6379".parse().expect("literal address");
    let handle = engine.clients.register(ConnContext {
        peer: addr,
        local: addr,
        tls: false,
        endpoint: None,
        announce: None,
    });
    let id = handle.id;
    let mut client = Client::new(handle, !with_password);
    let mut out = Out::new(false);
    let mut parser = RequestParser::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut next = chunker(seed.rotate_left(7));
    let mut fed = 0;
    'conn: while fed < input.len() {
        let n = next().clamp(1, input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        loop {
            let limits = Limits {
                unauthenticated: !client.authenticated && with_password,
                max_bulk: engine
                    .hot
                    .max_bulk
                    .load(std::sync::atomic::Ordering::Relaxed),
            };
            match parser.parse(&buf, limits) {
                Ok(Frame::Command { consumed }) => {
                    let mut args = ArgVec::new();
                    parser.args(&buf[..consumed], &mut args);
                    used.add(&args);
                    let mut ctx = Ctx {
                        engine: &engine,
                        client: &mut client,
                        out: &mut out,
                        now: engine.clock().now_ms(),
                        in_exec: false,
                        retry: false,
                    };
                    execute(&mut ctx, &args);
                    drop(args);
                    buf.drain(..consumed);
                    // A blocked command would wait on the connection; here it simply gives up.
                    client.block = None;
                    check_replies(&out);
                    out.buf.clear();
                    if client.close_after_reply || engine.is_shutting_down() {
                        break 'conn;
                    }
                }
                Ok(Frame::Skip { consumed }) => {
                    buf.drain(..consumed);
                }
                Ok(Frame::Incomplete { .. }) => break,
                Err(_) => break 'conn,
            }
        }
    }
    client.release(&engine);
    engine.clients.unregister(id);
    keep(flags, engine, used);
});
