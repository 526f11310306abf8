//! RDB persistence inside one engine: BGSAVE's point-in-time snapshot while clients write, the
//! replies of SAVE/BGSAVE/LASTSAVE/SHUTDOWN/DEBUG RELOAD, the `save` schedule, FLUSHALL's save, a
//! missing `dir` (error status, MISCONF, recovery) and the CONFIG parameters of RDB.
//! (Cross-process checks against redis-server are in the root `tests/cli_persistence.rs`.)

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::reply::{b, e, q};
use redis::Value as V;
use redlink_engine::persist::rdb_file;
use redlink_engine::store::{Blob, Value};
use redlink_engine::{Config, Engine};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "redlink-rdb-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn s(dir: &Path) -> &str {
    dir.to_str().expect("utf-8 path")
}

async fn field(addr: SocketAddr, name: &str) -> String {
    common::info_field(addr, "persistence", name).await
}

async fn bgsave_done(addr: SocketAddr) {
    common::wait_until("no BGSAVE in progress", || async {
        field(addr, "rdb_bgsave_in_progress").await == "0"
    })
    .await;
}

/// The keys of an RDB file, loaded into a fresh engine.
fn load(path: &Path) -> Engine {
    let engine = Engine::new(Config::default());
    rdb_file::load_file(&engine, path).expect("the file loads");
    engine
}

fn get(engine: &Engine, key: &[u8]) -> Option<Value> {
    engine
        .store
        .db(0)
        .lock(key, engine.clock().now_ms())
        .get(key)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgsave_is_a_point_in_time_snapshot_while_clients_write() {
    let dir = scratch("pit");
    let (server, addr) = common::start("127.0.62.1", &[("dir", s(&dir))]);
    const N: usize = 200_000;
    let engine = server.engine().clone();
    let now = engine.clock().now_ms();
    for i in 0..N {
        let k = format!("key:{i}");
        engine.store.db(0).lock(k.as_bytes(), now).set(
            k.as_bytes(),
            Value::Str(Blob::from_slice(b"old")),
            0,
        );
    }
    let mut c = common::client(addr).await;
    assert_eq!(
        q(&mut c, &["BGSAVE"]).await,
        V::SimpleString("Background saving started".into())
    );
    // Everything written after the reply must stay out of the file.
    let mut during = 0;
    for i in (0..N).step_by(97) {
        q(&mut c, &["SET", &format!("key:{i}"), "new"]).await;
        q(&mut c, &["DEL", &format!("key:{}", i + 1)]).await;
        if field(addr, "rdb_bgsave_in_progress").await == "1" {
            during += 1;
        }
        if during > 50 {
            break;
        }
    }
    q(&mut c, &["SET", "after", "x"]).await;
    bgsave_done(addr).await;
    assert_eq!(field(addr, "rdb_last_bgsave_status").await, "ok");
    assert_eq!(field(addr, "rdb_saves").await, "1");
    let loaded = load(&dir.join("dump.rdb"));
    assert_eq!(
        loaded.store.db(0).len(),
        N,
        "every key of the instant, none added or removed"
    );
    for i in 0..N {
        let k = format!("key:{i}");
        assert_eq!(
            get(&loaded, k.as_bytes()),
            Some(Value::Str(Blob::from_slice(b"old"))),
            "{k} as it was when BGSAVE started"
        );
    }
    assert_eq!(get(&loaded, b"after"), None);
    eprintln!("writes observed while the BGSAVE ran: {during}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgsave_replies_and_schedule_while_another_snapshot_runs() {
    let dir = scratch("schedule");
    let (server, addr) = common::start("127.0.62.2", &[("dir", s(&dir))]);
    let mut c = common::client(addr).await;
    q(&mut c, &["SET", "k", "v"]).await;
    assert_eq!(e(&mut c, &["BGSAVE", "NOW"]).await, "ERR syntax error");
    // Another snapshot (what an AOF rewrite holds) is running.
    let held = {
        let _gate = server.engine().store.gate.exclusive();
        server
            .engine()
            .store
            .begin_snapshot()
            .expect("no snapshot yet")
    };
    assert_eq!(
        e(&mut c, &["BGSAVE"]).await,
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
    );
    assert_eq!(
        q(&mut c, &["BGSAVE", "SCHEDULE"]).await,
        V::SimpleString("Background saving scheduled".into())
    );
    assert_eq!(field(addr, "rdb_saves").await, "0");
    // SAVE reads in place under the gate: it works while the other snapshot runs.
    q(&mut c, &["SAVE"]).await;
    assert_eq!(field(addr, "rdb_saves").await, "1");
    assert_eq!(load(&dir.join("dump.rdb")).store.db(0).len(), 1);
    drop(held);
    common::wait_until("the scheduled BGSAVE ran", || async {
        field(addr, "rdb_saves").await == "2"
    })
    .await;
    assert!(dir.join("dump.rdb").exists());
    // Inside a transaction a snapshot cannot start: it is scheduled.
    q(&mut c, &["MULTI"]).await;
    q(&mut c, &["BGSAVE"]).await;
    assert_eq!(
        q(&mut c, &["EXEC"]).await,
        V::Array(vec![V::SimpleString("Background saving scheduled".into())])
    );
    common::wait_until("the BGSAVE scheduled by EXEC ran", || async {
        field(addr, "rdb_saves").await == "3"
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_save_schedule_and_flushall_write_the_file() {
    let dir = scratch("points");
    let (_server, addr) = common::start("127.0.62.3", &[("dir", s(&dir)), ("save", "1 2")]);
    let mut c = common::client(addr).await;
    let before: i64 = redis::cmd("LASTSAVE")
        .query_async(&mut c)
        .await
        .expect("LASTSAVE");
    q(&mut c, &["SET", "a", "1"]).await;
    assert_eq!(field(addr, "rdb_changes_since_last_save").await, "1");
    q(&mut c, &["SET", "b", "2"]).await;
    common::wait_until(
        "the save point (1 s, 2 changes) triggered a BGSAVE",
        || async { field(addr, "rdb_saves").await == "1" },
    )
    .await;
    assert_eq!(field(addr, "rdb_changes_since_last_save").await, "0");
    let after: i64 = redis::cmd("LASTSAVE")
        .query_async(&mut c)
        .await
        .expect("LASTSAVE");
    assert!(after >= before);
    let loaded = load(&dir.join("dump.rdb"));
    assert_eq!(loaded.store.db(0).len(), 2);
    // FLUSHALL saves the empty dataset, so a restart does not bring the keys back.
    q(&mut c, &["FLUSHALL"]).await;
    assert_eq!(load(&dir.join("dump.rdb")).store.db(0).len(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_reload_saves_empties_and_loads() {
    let dir = scratch("reload");
    let (_server, addr) = common::start(
        "127.0.62.4",
        &[("dir", s(&dir)), ("enable-debug-command", "yes")],
    );
    let mut c = common::client(addr).await;
    q(&mut c, &["SET", "kept", "v"]).await;
    q(&mut c, &["RPUSH", "l", "a", "b"]).await;
    q(&mut c, &["DEBUG", "RELOAD"]).await;
    assert_eq!(q(&mut c, &["GET", "kept"]).await, b("v"));
    assert_eq!(q(&mut c, &["LLEN", "l"]).await, V::Int(2));
    // NOSAVE: what was not saved is gone after the reload.
    q(&mut c, &["SET", "unsaved", "x"]).await;
    q(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]).await;
    assert_eq!(q(&mut c, &["GET", "unsaved"]).await, V::Nil);
    assert_eq!(q(&mut c, &["GET", "kept"]).await, b("v"));
    // MERGE keeps keys the file does not have and replaces those it has.
    q(&mut c, &["SET", "extra", "x"]).await;
    q(&mut c, &["SET", "kept", "changed"]).await;
    q(&mut c, &["DEBUG", "RELOAD", "MERGE", "NOSAVE"]).await;
    assert_eq!(q(&mut c, &["GET", "extra"]).await, b("x"));
    assert_eq!(q(&mut c, &["GET", "kept"]).await, b("v"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dir_fails_saves_turns_on_misconf_and_recovers() {
    let dir = scratch("missing");
    let (_server, addr) = common::start("127.0.62.5", &[("dir", s(&dir)), ("save", "3600 1")]);
    let mut c = common::client(addr).await;
    q(&mut c, &["SET", "k", "v"]).await;
    std::fs::remove_dir_all(&dir).expect("remove dir");
    let why = e(&mut c, &["SAVE"]).await;
    assert_eq!(
        why,
        format!(
            "ERR Failed opening the temp RDB file temp-{}.rdb (in server root dir {}) for saving: No such file or directory (os error 2)",
            std::process::id(),
            dir.display()
        )
    );
    // A failed SAVE does not change the background status.
    assert_eq!(field(addr, "rdb_last_bgsave_status").await, "ok");
    q(&mut c, &["BGSAVE"]).await;
    bgsave_done(addr).await;
    assert_eq!(field(addr, "rdb_last_bgsave_status").await, "err");
    let misconf = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
    assert_eq!(e(&mut c, &["SET", "x", "y"]).await, misconf);
    assert_eq!(e(&mut c, &["PING"]).await, misconf);
    assert_eq!(q(&mut c, &["GET", "k"]).await, b("v"));
    // Scripts may read, not write.
    assert_eq!(
        q(&mut c, &["EVAL", "return redis.call('GET', 'k')", "0"]).await,
        b("v")
    );
    assert!(
        e(&mut c, &["EVAL", "return redis.call('SET', 'k', 'w')", "0"])
            .await
            .starts_with("MISCONF"),
    );
    // Queued writes are refused too, and the transaction is aborted.
    q(&mut c, &["MULTI"]).await;
    assert_eq!(e(&mut c, &["INCR", "n"]).await, misconf);
    assert!(e(&mut c, &["EXEC"]).await.starts_with("EXECABORT"));
    // SHUTDOWN cannot save: it refuses, and the server keeps serving.
    assert_eq!(
        e(&mut c, &["SHUTDOWN"]).await,
        "ERR Errors trying to SHUTDOWN. Check logs."
    );
    assert_eq!(q(&mut c, &["GET", "k"]).await, b("v"));
    // stop-writes-on-bgsave-error no lets writes through despite the failure.
    q(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    )
    .await;
    q(&mut c, &["SET", "x", "y"]).await;
    q(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
    )
    .await;
    assert_eq!(e(&mut c, &["SET", "x", "y"]).await, misconf);
    // Once the directory is back, a successful BGSAVE lifts the refusal.
    std::fs::create_dir_all(&dir).expect("dir again");
    q(&mut c, &["BGSAVE"]).await;
    bgsave_done(addr).await;
    assert_eq!(field(addr, "rdb_last_bgsave_status").await, "ok");
    q(&mut c, &["SET", "x", "z"]).await;
    assert_eq!(load(&dir.join("dump.rdb")).store.db(0).len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_options_and_rdb_config_parameters() {
    let dir = scratch("shutdown");
    let (_server, addr) = common::start("127.0.62.6", &[("dir", s(&dir))]);
    let mut c = common::client(addr).await;
    assert_eq!(
        e(&mut c, &["SHUTDOWN", "NOSAVE", "SAVE"]).await,
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["SHUTDOWN", "ABORT", "NOW"]).await,
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["SHUTDOWN", "ABORT"]).await,
        "ERR No shutdown in progress."
    );
    assert_eq!(
        e(&mut c, &["CONFIG", "SET", "save", "60"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(
        e(&mut c, &["CONFIG", "SET", "dir", "/tmp"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        e(&mut c, &["CONFIG", "SET", "dbfilename", "x.rdb"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"
    );
    assert_eq!(
        e(&mut c, &["CONFIG", "SET", "rdbchecksum", "no"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'rdbchecksum') - can't set immutable config"
    );
    q(&mut c, &["CONFIG", "SET", "save", "900 1 300 10"]).await;
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "save"]).await,
        V::Array(vec![b("save"), b("900 1 300 10")])
    );
    q(&mut c, &["CONFIG", "SET", "rdbcompression", "no"]).await;
    q(&mut c, &["SET", "long", &"z".repeat(1000)]).await;
    q(&mut c, &["SAVE"]).await;
    let size = std::fs::metadata(dir.join("dump.rdb"))
        .expect("saved")
        .len();
    assert!(
        size > 1000,
        "rdbcompression no stores the string raw: {size}"
    );
    q(&mut c, &["CONFIG", "SET", "rdbcompression", "yes"]).await;
    q(&mut c, &["SAVE"]).await;
    let size = std::fs::metadata(dir.join("dump.rdb"))
        .expect("saved")
        .len();
    assert!(size < 500, "rdbcompression yes compresses it: {size}");
    // SHUTDOWN with save points saves, then closes the connection.
    q(&mut c, &["SET", "last", "1"]).await;
    let _ = common::reply::run(&mut c, &["SHUTDOWN"]).await;
    let loaded = load(&dir.join("dump.rdb"));
    assert!(get(&loaded, b"last").is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_dump_and_restore_with_their_groups() {
    let (_server, addr) = common::start("127.0.62.7", &[]);
    let mut c = common::client(addr).await;
    for i in 1..=150 {
        q(
            &mut c,
            &["XADD", "st", &format!("{i}-0"), "f", &i.to_string()],
        )
        .await;
    }
    q(&mut c, &["XGROUP", "CREATE", "st", "g", "0"]).await;
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "st",
            ">",
        ],
    )
    .await;
    let V::BulkString(payload) = q(&mut c, &["DUMP", "st"]).await else {
        panic!("DUMP of a stream")
    };
    let mut restore = redis::cmd("RESTORE");
    restore.arg("copy").arg(0).arg(payload);
    let _: () = restore.query_async(&mut c).await.expect("RESTORE");
    for cmd in [&["XRANGE", "-", "+"][..], &["XPENDING", "g"], &["XLEN"]] {
        let mut a = vec![cmd[0], "st"];
        a.extend_from_slice(&cmd[1..]);
        let mut b2 = vec![cmd[0], "copy"];
        b2.extend_from_slice(&cmd[1..]);
        assert_eq!(q(&mut c, &a).await, q(&mut c, &b2).await, "{cmd:?}");
    }
}

/// A BGSAVE that cannot finish yet: its temp file is a FIFO nobody reads, so the save thread waits
/// in open(2) until the test drains it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_bgsave_refuses_another_save_and_reports_its_age() {
    let dir = scratch("running");
    let fifo = dir.join(format!("temp-{}.rdb", std::process::id()));
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("note: skipping: mkfifo is not available");
        return;
    }
    let (_server, addr) = common::start("127.0.62.8", &[("dir", s(&dir))]);
    let mut c = common::client(addr).await;
    q(&mut c, &["SET", "k", "v"]).await;
    assert_eq!(
        q(&mut c, &["BGSAVE"]).await,
        V::SimpleString("Background saving started".into())
    );
    assert_eq!(field(addr, "rdb_bgsave_in_progress").await, "1");
    assert_ne!(field(addr, "rdb_current_bgsave_time_sec").await, "-1");
    assert_eq!(
        e(&mut c, &["BGSAVE"]).await,
        "ERR Background save already in progress"
    );
    assert_eq!(
        e(&mut c, &["BGSAVE", "SCHEDULE"]).await,
        "ERR Background save already in progress"
    );
    assert_eq!(
        e(&mut c, &["SAVE"]).await,
        "ERR Background save already in progress"
    );
    // Clients are served meanwhile.
    q(&mut c, &["SET", "k2", "v2"]).await;
    let drain = std::thread::spawn(move || std::fs::read(&fifo).map(|b| b.len()));
    bgsave_done(addr).await;
    let drained = drain.join().expect("reader thread").expect("read the FIFO");
    assert!(
        drained > 9,
        "the RDB went through the FIFO: {drained} bytes"
    );
    // fsync of a FIFO fails, so this save is reported failed and leaves no dump.rdb.
    assert_eq!(field(addr, "rdb_last_bgsave_status").await, "err");
    assert_eq!(field(addr, "rdb_current_bgsave_time_sec").await, "-1");
    assert_ne!(field(addr, "rdb_last_bgsave_time_sec").await, "-1");
    let _ = std::fs::remove_dir_all(&dir);
}
