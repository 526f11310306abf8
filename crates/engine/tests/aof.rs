//! The append-only file: redis-server 7.0.15 loads redlink's AOF directory with the same contents
//! and redlink loads redis-server's; a truncated last command is dropped (and the file truncated),
//! a corrupt file is refused naming the file and byte offset; `CONFIG SET appendonly yes|no` at run
//! time; BGREWRITEAOF while clients write keeps every write. Engines run in-process on ephemeral
//! ports, each in a temporary directory of its own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use redis::Value as V;
use redlink_engine::{Engine, Server};

mod common;
use common::redis_server::{RedisServer, temp_dir};

/// Start an engine whose `dir` is `dir`, loading its AOF first (as `redlink serve` does).
fn start_in(dir: &Path, options: &[(&str, &str)]) -> Result<(Server, SocketAddr), String> {
    let ip = "127.0.0.1";
    let mut c = common::config(ip, options);
    c.set_startup("dir", &dir.to_string_lossy()).expect("dir");
    c.set_startup("port", &common::free_port(ip).to_string())
        .expect("port");
    let engine = Engine::new(c);
    redlink_engine::aof::start(&engine)?;
    let server = Server::start(engine).map_err(|e| e.to_string())?;
    let addr = server
        .listeners()
        .into_iter()
        .find(|l| !l.tls)
        .expect("plain listener")
        .addr;
    Ok((server, addr))
}

/// Stop an engine the way SHUTDOWN does (the AOF flushed and fsynced).
fn stop(server: Server) {
    server.engine().shutdown();
    drop(server);
}

async fn cmd(c: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> V {
    let mut r = redis::cmd(args[0]);
    for a in &args[1..] {
        r.arg(*a);
    }
    r.query_async(c)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Writes of every type, expiries, functions and stream groups, in databases 0 and 2.
async fn write_everything(c: &mut redis::aio::MultiplexedConnection, tag: &str) {
    let k = |s: &str| format!("{tag}:{s}");
    for args in [
        vec!["SET".to_string(), k("str"), "hello".into()],
        vec!["SET".into(), k("int"), "12345".into()],
        vec![
            "SET".into(),
            k("ttl"),
            "v".into(),
            "EX".into(),
            "1000".into(),
        ],
        vec!["INCRBYFLOAT".into(), k("float"), "1.5".into()],
        vec![
            "RPUSH".into(),
            k("list"),
            "a".into(),
            "b".into(),
            "c".into(),
        ],
        vec!["SADD".into(), k("set"), "x".into(), "y".into(), "1".into()],
        vec![
            "HSET".into(),
            k("hash"),
            "f".into(),
            "v".into(),
            "n".into(),
            "1".into(),
        ],
        vec![
            "ZADD".into(),
            k("zset"),
            "1.5".into(),
            "a".into(),
            "-2".into(),
            "b".into(),
        ],
        vec!["PFADD".into(), k("hll"), "a".into(), "b".into()],
        vec![
            "XADD".into(),
            k("stream"),
            "1-1".into(),
            "f".into(),
            "v".into(),
        ],
        vec![
            "XADD".into(),
            k("stream"),
            "2-1".into(),
            "g".into(),
            "w".into(),
        ],
        vec![
            "XGROUP".into(),
            "CREATE".into(),
            k("stream"),
            "grp".into(),
            "0".into(),
        ],
        vec![
            "XREADGROUP".into(),
            "GROUP".into(),
            "grp".into(),
            "alice".into(),
            "COUNT".into(),
            "1".into(),
            "STREAMS".into(),
            k("stream"),
            ">".into(),
        ],
        vec![
            "XGROUP".into(),
            "CREATECONSUMER".into(),
            k("stream"),
            "grp".into(),
            "bob".into(),
        ],
        vec!["SPOP".into(), k("set")],
        vec!["SELECT".into(), "2".into()],
        vec!["SET".into(), k("db2"), "two".into()],
        vec!["SELECT".into(), "0".into()],
    ] {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        cmd(c, &a).await;
    }
    // Functions (once per server).
    let _: redis::RedisResult<V> = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg("#!lua name=lib\nredis.register_function('f', function(k, a) return redis.call('incr', k[1]) end)")
        .query_async(c)
        .await;
    cmd(c, &["FCALL", "f", "1", &k("fcalled")]).await;
}

fn text(v: &V) -> String {
    format!("{v:?}")
}

/// Everything observable of the dataset, key by key, in a comparable form. A group's
/// `entries-read` does not survive Redis 7.0's own AOF (its XCLAIM ... LASTID form leaves it
/// unknown), so it is compared between loaded copies only (`groups`).
async fn dataset(
    c: &mut redis::aio::MultiplexedConnection,
    groups: bool,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for db in ["0", "2"] {
        cmd(c, &["SELECT", db]).await;
        let V::Array(keys) = cmd(c, &["KEYS", "*"]).await else {
            panic!("KEYS")
        };
        for key in keys {
            let V::BulkString(key) = key else { continue };
            let key = String::from_utf8_lossy(&key).to_string();
            let ty = match cmd(c, &["TYPE", &key]).await {
                V::SimpleString(s) => s,
                other => text(&other),
            };
            let value = match ty.as_str() {
                // HyperLogLogs compare by count: the encodings (sparse, dense) may differ.
                "string" => match cmd(c, &["GET", &key]).await {
                    V::BulkString(b) if b.starts_with(b"HYLL") => {
                        format!("hll {}", text(&cmd(c, &["PFCOUNT", &key]).await))
                    }
                    other => text(&other),
                },
                "list" => text(&cmd(c, &["LRANGE", &key, "0", "-1"]).await),
                "set" => {
                    let V::Array(mut m) = cmd(c, &["SMEMBERS", &key]).await else {
                        panic!()
                    };
                    m.sort_by_key(text);
                    text(&V::Array(m))
                }
                "hash" => {
                    let mut pairs: Vec<String> = match cmd(c, &["HGETALL", &key]).await {
                        V::Array(a) => a.chunks(2).map(|p| format!("{p:?}")).collect(),
                        V::Map(m) => m.iter().map(|p| format!("{p:?}")).collect(),
                        other => vec![text(&other)],
                    };
                    pairs.sort();
                    pairs.join(",")
                }
                "zset" => text(&cmd(c, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]).await),
                "stream" => format!(
                    "{} {} {}",
                    text(&cmd(c, &["XRANGE", &key, "-", "+"]).await),
                    if groups {
                        text(&cmd(c, &["XINFO", "GROUPS", &key]).await)
                    } else {
                        String::new()
                    },
                    text(&cmd(c, &["XPENDING", &key, "grp"]).await),
                ),
                other => other.to_string(),
            };
            let expire = text(&cmd(c, &["PEXPIRETIME", &key]).await);
            out.insert(
                format!("db{db} {key}"),
                format!("{ty} {value} expire={expire}"),
            );
        }
    }
    cmd(c, &["SELECT", "0"]).await;
    out.insert(
        "functions".into(),
        text(&cmd(c, &["FUNCTION", "LIST", "WITHCODE"]).await),
    );
    out
}

/// The keys whose descriptions differ (an empty list when the datasets are the same).
fn differences(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}:\n  {:?}\n  {:?}", a.get(k), b.get(k)))
        .collect()
}

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_7_0_loads_redlinks_aof_with_the_same_contents() {
    redis_loads_redlinks_aof("no", "aof").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_7_0_loads_redlinks_aof_with_rdb_preamble() {
    redis_loads_redlinks_aof("yes", "rdb").await;
}

async fn redis_loads_redlinks_aof(preamble: &str, base: &str) {
    if !common::redis_server::available() {
        return;
    }
    let dir = temp_dir("aof-out");
    let (server, addr) = start_in(
        &dir,
        &[("appendonly", "yes"), ("aof-use-rdb-preamble", preamble)],
    )
    .expect("starts");
    let mut c = common::client(addr).await;
    write_everything(&mut c, "before").await;
    // A base holding data and an incremental file holding more.
    assert_eq!(
        cmd(&mut c, &["BGREWRITEAOF"]).await,
        V::SimpleString("Background append only file rewriting started".into())
    );
    common::wait_until("the rewrite ends", || async {
        common::info_field(addr, "persistence", "aof_rewrite_in_progress").await == "0"
    })
    .await;
    write_everything(&mut c, "after").await;
    let live = dataset(&mut c, false).await;
    stop(server);
    let manifest = std::fs::read_to_string(aof_dir(&dir).join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        format!(
            "file appendonly.aof.2.base.{base} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        )
    );
    // redis-server loads a copy; redlink reloads the original.
    let copy = temp_dir("aof-copy");
    copy_dir(&aof_dir(&dir), &aof_dir(&copy));
    let redis = RedisServer::start_in(&copy, &[("appendonly", "yes")]).expect("redis-server");
    let mut rc = common::client(redis.addr).await;
    let theirs = dataset(&mut rc, true).await;
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("reloads");
    let mut c = common::client(addr).await;
    let ours = dataset(&mut c, true).await;
    stop(server);
    let diff = differences(&ours, &theirs);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    let diff = differences(&live, &dataset(&mut rc, false).await);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlink_loads_redis_7_0s_aof_with_the_same_contents() {
    redlink_loads_redis_aof("no").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlink_loads_redis_7_0s_aof_with_rdb_preamble() {
    redlink_loads_redis_aof("yes").await;
}

async fn redlink_loads_redis_aof(preamble: &str) {
    let dir = temp_dir("aof-in");
    // appendfsync always: redis-server writes every command before replying (with everysec it may
    // postpone the write while an fsync runs), so the killed server's files hold all of them.
    let Some(redis) = RedisServer::start_in(
        &dir,
        &[
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("aof-use-rdb-preamble", preamble),
        ],
    ) else {
        return;
    };
    let mut rc = common::client(redis.addr).await;
    write_everything(&mut rc, "before").await;
    cmd(&mut rc, &["BGREWRITEAOF"]).await;
    common::wait_until("redis-server's rewrite ends", || async {
        common::info_field(redis.addr, "persistence", "aof_rewrite_in_progress").await == "0"
            && common::info_field(redis.addr, "persistence", "aof_rewrite_scheduled").await == "0"
    })
    .await;
    write_everything(&mut rc, "after").await;
    let live = dataset(&mut rc, false).await;
    let dir = redis.kill();
    // redlink loads a copy; redis-server reloads the original.
    let copy = temp_dir("aof-copy");
    copy_dir(&aof_dir(&dir), &aof_dir(&copy));
    let (server, addr) = start_in(&copy, &[("appendonly", "yes")]).expect("loads");
    let mut c = common::client(addr).await;
    let ours = dataset(&mut c, true).await;
    let redis = RedisServer::start_in(&dir, &[("appendonly", "yes")]).expect("redis-server");
    let mut rc = common::client(redis.addr).await;
    let diff = differences(&dataset(&mut rc, true).await, &ours);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    let diff = differences(&live, &dataset(&mut c, false).await);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    stop(server);
    let _ = std::fs::remove_dir_all(&copy);
}

/// Start with the AOF of `dir`, expecting a refusal.
fn refused(dir: &Path, options: &[(&str, &str)]) -> String {
    match start_in(dir, options) {
        Ok(_) => panic!("a damaged AOF was loaded"),
        Err(e) => e,
    }
}

async fn aof_with_keys(n: usize) -> PathBuf {
    let dir = temp_dir("aof-damage");
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("starts");
    let mut c = common::client(addr).await;
    for i in 0..n {
        cmd(&mut c, &["SET", &format!("k{i}"), &format!("v{i}")]).await;
    }
    stop(server);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_last_command_is_dropped_and_the_file_truncated() {
    let dir = aof_with_keys(10).await;
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let whole = std::fs::metadata(&incr).unwrap().len();
    // A crash in the middle of writing a command.
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$2\r\nk1");
    std::fs::write(&incr, &data).unwrap();
    // aof-load-truncated no: refused, naming the file and where the whole commands end.
    let e = refused(&dir, &[("appendonly", "yes"), ("aof-load-truncated", "no")]);
    assert!(
        e.contains("appendonly.aof.1.incr.aof") && e.contains(&format!("byte offset {whole}")),
        "{e}"
    );
    // yes (the default): loaded, and the file cut back to its last whole command.
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("loads");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), whole);
    let mut c = common::client(addr).await;
    assert_eq!(cmd(&mut c, &["DBSIZE"]).await, V::Int(10));
    assert_eq!(
        cmd(&mut c, &["GET", "k9"]).await,
        V::BulkString(b"v9".to_vec())
    );
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_without_exec_at_the_end_is_reverted() {
    let dir = aof_with_keys(3).await;
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let whole = std::fs::metadata(&incr).unwrap().len();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$2\r\nk0\r\n$3\r\nnew\r\n");
    std::fs::write(&incr, &data).unwrap();
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("loads");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), whole);
    let mut c = common::client(addr).await;
    assert_eq!(
        cmd(&mut c, &["GET", "k0"]).await,
        V::BulkString(b"v0".to_vec())
    );
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_is_refused_naming_the_file_and_offset() {
    let dir = aof_with_keys(10).await;
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let mut data = std::fs::read(&incr).unwrap();
    // The 5th command's array header, overwritten.
    let at = data
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"*3\r\n")
        .nth(4)
        .map(|(i, _)| i)
        .unwrap();
    data[at] = b'!';
    std::fs::write(&incr, &data).unwrap();
    let e = refused(&dir, &[("appendonly", "yes")]);
    assert!(
        e.contains("Bad file format")
            && e.contains("appendonly.aof.1.incr.aof")
            && e.contains(&format!("byte offset {at}")),
        "{e}"
    );
    // A bad manifest is refused too, naming it.
    std::fs::write(
        aof_dir(&dir).join("appendonly.aof.manifest"),
        "file x seq y\n",
    )
    .unwrap();
    let e = refused(&dir, &[("appendonly", "yes")]);
    assert!(
        e.contains("appendonly.aof.manifest") && e.contains("line 1"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_appendonly_at_run_time() {
    let dir = temp_dir("aof-config");
    let (server, addr) = start_in(&dir, &[]).expect("starts");
    let mut c = common::client(addr).await;
    cmd(&mut c, &["SET", "early", "1"]).await;
    assert!(!aof_dir(&dir).exists());
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"]).await,
        V::Okay
    );
    common::wait_until("the AOF is on", || async {
        common::info_field(addr, "persistence", "aof_enabled").await == "1"
            && common::info_field(addr, "persistence", "aof_rewrite_in_progress").await == "0"
    })
    .await;
    cmd(&mut c, &["SET", "later", "2"]).await;
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "appendonly", "no"]).await,
        V::Okay
    );
    assert_eq!(
        common::info_field(addr, "persistence", "aof_enabled").await,
        "0"
    );
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let size = std::fs::metadata(&incr).unwrap().len();
    cmd(&mut c, &["SET", "unlogged", "3"]).await;
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), size);
    stop(server);
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("loads");
    let mut c = common::client(addr).await;
    assert_eq!(
        cmd(&mut c, &["GET", "early"]).await,
        V::BulkString(b"1".to_vec())
    );
    assert_eq!(
        cmd(&mut c, &["GET", "later"]).await,
        V::BulkString(b"2".to_vec())
    );
    assert_eq!(cmd(&mut c, &["EXISTS", "unlogged"]).await, V::Int(0));
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgrewriteaof_during_writes_keeps_everything() {
    let dir = temp_dir("aof-rewrite");
    let (server, addr) =
        start_in(&dir, &[("appendonly", "yes"), ("appendfsync", "everysec")]).expect("starts");
    let writers: Vec<_> = (0..3)
        .map(|w| {
            tokio::spawn(async move {
                let mut c = common::client(addr).await;
                for i in 0..400 {
                    cmd(&mut c, &["INCR", &format!("counter:{w}")]).await;
                    cmd(&mut c, &["RPUSH", &format!("list:{w}"), &i.to_string()]).await;
                    cmd(&mut c, &["SET", &format!("key:{w}:{i}"), "x", "EX", "3600"]).await;
                }
            })
        })
        .collect();
    let mut c = common::client(addr).await;
    let mut rewrites = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        if let V::SimpleString(_) = redis::cmd("BGREWRITEAOF")
            .query_async::<V>(&mut c)
            .await
            .unwrap_or(V::Nil)
        {
            rewrites += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(rewrites >= 1);
    common::wait_until("the last rewrite ends", || async {
        common::info_field(addr, "persistence", "aof_rewrite_in_progress").await == "0"
    })
    .await;
    assert_eq!(
        common::info_field(addr, "persistence", "aof_last_bgrewrite_status").await,
        "ok"
    );
    let before = dataset(&mut c, true).await;
    stop(server);
    // Only the current base and incremental files remain.
    let files: Vec<String> = std::fs::read_dir(aof_dir(&dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("loads");
    let mut c = common::client(addr).await;
    let after = dataset(&mut c, true).await;
    let diff = differences(&before, &after);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert_eq!(
        cmd(&mut c, &["GET", "counter:1"]).await,
        V::BulkString(b"400".to_vec())
    );
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_are_annotations_that_loading_skips() {
    let dir = temp_dir("aof-ts");
    let (server, addr) = start_in(
        &dir,
        &[("appendonly", "yes"), ("aof-timestamp-enabled", "yes")],
    )
    .expect("starts");
    let mut c = common::client(addr).await;
    cmd(&mut c, &["SET", "a", "1"]).await;
    stop(server);
    let incr = std::fs::read(aof_dir(&dir).join("appendonly.aof.1.incr.aof")).unwrap();
    assert!(
        incr.starts_with(b"#TS:"),
        "{:?}",
        String::from_utf8_lossy(&incr)
    );
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("loads");
    let mut c = common::client(addr).await;
    assert_eq!(
        cmd(&mut c, &["GET", "a"]).await,
        V::BulkString(b"1".to_vec())
    );
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_gc_disabled_replaced_files_stay_as_history() {
    let dir = temp_dir("aof-gc");
    let (server, addr) = start_in(
        &dir,
        &[("appendonly", "yes"), ("aof-disable-auto-gc", "yes")],
    )
    .expect("starts");
    let mut c = common::client(addr).await;
    cmd(&mut c, &["SET", "a", "1"]).await;
    cmd(&mut c, &["BGREWRITEAOF"]).await;
    common::wait_until("the rewrite ends", || async {
        common::info_field(addr, "persistence", "aof_rewrite_in_progress").await == "0"
    })
    .await;
    let manifest = std::fs::read_to_string(aof_dir(&dir).join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.base.rdb seq 1 type h\n\
         file appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(aof_dir(&dir).join("appendonly.aof.1.incr.aof").exists());
    stop(server);
    let (server, addr) = start_in(&dir, &[("appendonly", "yes")]).expect("loads");
    let mut c = common::client(addr).await;
    assert_eq!(
        cmd(&mut c, &["GET", "a"]).await,
        V::BulkString(b"1".to_vec())
    );
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
