//! MULTI/EXEC edge rules, each as redis-server 7.0.15 answers it (the expected replies below were
//! taken from redis-server 7.0.15 running the same steps): commands refused inside MULTI, EXEC
//! refused before it runs (OOM, arity, ACL, a busy script) discarding the transaction, WATCH across
//! FLUSHALL/FLUSHDB/SWAPDB of keys that were not there, blocking commands inside MULTI, and scripts
//! that pass the busy threshold while a transaction is queued or running.

mod common;

use std::time::Duration;

use common::conn::{Conn, V, err, s};

const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// A script that runs until SCRIPT KILL stops it (read-only, so killable).
const FOREVER: &str = "while true do end";
/// What its caller gets then (redis-server 7.0.15's text; the SHA1 is FOREVER's).
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL... script: 694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7, on @user_script:1.";

async fn call(c: &mut Conn, args: &[&str]) -> V {
    c.call(args).await
}

/// Wait until `c` sees a script past the busy threshold (BUSY to PING).
async fn until_busy(c: &mut Conn) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if call(c, &["PING"]).await == err(BUSY) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "script never busy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_and_shutdown_are_refused_inside_multi() {
    let (_server, addr) = common::start("127.0.84.1", &[]);
    let mut c = Conn::open(addr).await;
    for cmd in [&["SAVE"][..], &["SHUTDOWN"], &["SHUTDOWN", "NOSAVE"]] {
        assert_eq!(call(&mut c, &["MULTI"]).await, s("OK"));
        assert_eq!(
            call(&mut c, cmd).await,
            err("ERR Command not allowed inside a transaction")
        );
        assert_eq!(
            call(&mut c, &["EXEC"]).await,
            err("EXECABORT Transaction discarded because of previous errors.")
        );
    }
    // The server is still up, and CONFIG SET errors inside EXEC are per command, as in Redis.
    assert_eq!(call(&mut c, &["MULTI"]).await, s("OK"));
    call(&mut c, &["CONFIG", "SET", "maxmemory-policy", "bogus"]).await;
    call(&mut c, &["CONFIG", "SET", "bogus", "1"]).await;
    call(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).await;
    assert_eq!(
        call(&mut c, &["EXEC"]).await,
        V::Arr(vec![
            err(
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
            ),
            err("ERR Unknown option or number of arguments for CONFIG SET - 'bogus'"),
            s("OK"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_under_oom_runs_reads_and_discards_writes() {
    let (_server, addr) = common::start("127.0.84.2", &[]);
    let (mut a, mut b) = (Conn::open(addr).await, Conn::open(addr).await);
    call(&mut a, &["SET", "x", "1"]).await;
    assert_eq!(call(&mut a, &["MULTI"]).await, s("OK"));
    call(&mut a, &["GET", "x"]).await;
    call(&mut a, &["EXISTS", "x"]).await;
    call(&mut b, &["CONFIG", "SET", "maxmemory", "1"]).await;
    // Only reads queued: EXEC runs (noeviction keeps x).
    assert_eq!(
        call(&mut a, &["EXEC"]).await,
        V::Arr(vec![s("1"), V::Int(1)])
    );
    call(&mut b, &["CONFIG", "SET", "maxmemory", "0"]).await;
    assert_eq!(call(&mut a, &["MULTI"]).await, s("OK"));
    call(&mut a, &["GET", "x"]).await;
    call(&mut a, &["SET", "y", "1"]).await;
    call(&mut b, &["CONFIG", "SET", "maxmemory", "1"]).await;
    // A command that uses memory is queued: EXEC is refused and the transaction is gone.
    assert_eq!(
        call(&mut a, &["EXEC"]).await,
        err(&format!(
            "EXECABORT Transaction discarded because of: {OOM}"
        ))
    );
    assert_eq!(call(&mut a, &["MULTI"]).await, s("OK"));
    // Queueing itself is refused while over the limit.
    assert_eq!(call(&mut a, &["GET", "x"]).await, err(OOM));
    assert_eq!(call(&mut a, &["DISCARD"]).await, s("OK"));
    call(&mut b, &["CONFIG", "SET", "maxmemory", "0"]).await;
    assert_eq!(call(&mut a, &["GET", "y"]).await, V::Nil);
    // EXEC refused for its arity, in MULTI or not, says so the same way.
    assert_eq!(
        call(&mut a, &["EXEC", "extra"]).await,
        err(
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
        )
    );
    call(
        &mut a,
        &[
            "ACL", "SETUSER", "noexec", "on", ">p", "+@all", "-exec", "~*",
        ],
    )
    .await;
    call(&mut a, &["AUTH", "noexec", "p"]).await;
    call(&mut a, &["MULTI"]).await;
    call(&mut a, &["PING"]).await;
    let refused = err(
        "EXECABORT Transaction discarded because of: NOPERM this user has no permissions to run the 'exec' command",
    );
    assert_eq!(call(&mut a, &["EXEC"]).await, refused);
    assert_eq!(call(&mut a, &["EXEC"]).await, refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_fail_only_the_watches_of_keys_they_removed() {
    let (_server, addr) = common::start("127.0.84.3", &[]);
    let (mut a, mut b) = (Conn::open(addr).await, Conn::open(addr).await);
    // `watch` is prepared with a, `flush` runs on b, then a's transaction tells what survived.
    async fn outcome(a: &mut Conn) -> V {
        call(a, &["MULTI"]).await;
        call(a, &["PING"]).await;
        call(a, &["EXEC"]).await
    }
    let ran = V::Arr(vec![s("PONG")]);
    for flush in [&["FLUSHALL"][..], &["FLUSHDB"], &["SWAPDB", "0", "1"]] {
        call(&mut a, &["FLUSHALL"]).await;
        call(&mut a, &["WATCH", "missing"]).await;
        call(&mut b, flush).await;
        assert_eq!(outcome(&mut a).await, ran, "{flush:?} of a missing key");
        call(&mut a, &["SET", "k", "1"]).await;
        call(&mut a, &["WATCH", "k"]).await;
        call(&mut b, flush).await;
        assert_eq!(
            outcome(&mut a).await,
            V::Nil,
            "{flush:?} of an existing key"
        );
    }
    // FLUSHDB of another database leaves the watched key alone.
    call(&mut a, &["SET", "k", "1"]).await;
    call(&mut a, &["WATCH", "k"]).await;
    call(&mut b, &["SELECT", "1"]).await;
    call(&mut b, &["FLUSHDB"]).await;
    call(&mut b, &["SELECT", "0"]).await;
    assert_eq!(outcome(&mut a).await, ran);
    // SWAPDB brings a key in where the watched one was missing: the watch fails.
    call(&mut a, &["FLUSHALL"]).await;
    call(&mut a, &["WATCH", "s"]).await;
    call(&mut b, &["SELECT", "1"]).await;
    call(&mut b, &["SET", "s", "1"]).await;
    call(&mut b, &["SWAPDB", "0", "1"]).await;
    assert_eq!(outcome(&mut a).await, V::Nil);
    // A key that expired before the flush counts as missing.
    call(&mut a, &["FLUSHALL"]).await;
    call(&mut a, &["SET", "e", "1", "PX", "1"]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    call(&mut a, &["WATCH", "e"]).await;
    call(&mut b, &["FLUSHALL"]).await;
    assert_eq!(outcome(&mut a).await, ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_commands_inside_multi_do_not_wait() {
    let (_server, addr) = common::start("127.0.84.4", &[]);
    let mut c = Conn::open(addr).await;
    call(&mut c, &["MULTI"]).await;
    for cmd in [
        &["BLPOP", "nolist", "0"][..],
        &["BZPOPMIN", "noz", "5"],
        &["BLMPOP", "0", "1", "nolist", "LEFT"],
        &["XREAD", "BLOCK", "0", "STREAMS", "nos", "0"],
        &["BLMOVE", "a", "b", "LEFT", "LEFT", "0"],
        &["BZMPOP", "0", "1", "z", "MIN"],
    ] {
        assert_eq!(call(&mut c, cmd).await, s("QUEUED"));
    }
    let started = std::time::Instant::now();
    assert_eq!(call(&mut c, &["EXEC"]).await, V::Arr(vec![V::Nil; 6]));
    assert!(started.elapsed() < Duration::from_secs(5), "EXEC waited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_script_fails_the_transactions_queued_meanwhile() {
    let (_server, addr) = common::start("127.0.84.5", &[("busy-reply-threshold", "100")]);
    let (mut a, mut b, mut runner, mut killer) = (
        Conn::open(addr).await,
        Conn::open(addr).await,
        Conn::open(addr).await,
        Conn::open(addr).await,
    );
    call(&mut b, &["MULTI"]).await;
    call(&mut b, &["SET", "x", "1"]).await;
    runner
        .send(&[b"EVAL".to_vec(), FOREVER.into(), b"0".to_vec()])
        .await;
    until_busy(&mut a).await;
    // Refused while queueing: the transaction fails at EXEC.
    assert_eq!(call(&mut b, &["SET", "y", "1"]).await, err(BUSY));
    // EXEC itself refused: the transaction is discarded (and a second EXEC says so again).
    let abort = err(&format!(
        "EXECABORT Transaction discarded because of: {BUSY}"
    ));
    assert_eq!(call(&mut b, &["EXEC"]).await, abort);
    assert_eq!(call(&mut b, &["EXEC"]).await, abort);
    assert_eq!(call(&mut killer, &["SCRIPT", "KILL"]).await, s("OK"));
    assert_eq!(runner.read().await, err(KILLED));
    assert_eq!(call(&mut b, &["GET", "x"]).await, V::Nil);
    assert_eq!(call(&mut b, &["EXEC"]).await, err("ERR EXEC without MULTI"));

    // A script inside EXEC passes the threshold: the others get BUSY, SCRIPT KILL stops it, and
    // the rest of the transaction runs.
    call(&mut runner, &["MULTI"]).await;
    call(&mut runner, &["SET", "z", "1"]).await;
    call(&mut runner, &["EVAL", FOREVER, "0"]).await;
    call(&mut runner, &["GET", "z"]).await;
    runner.send(&[b"EXEC".to_vec()]).await;
    until_busy(&mut a).await;
    assert_eq!(call(&mut killer, &["SCRIPT", "KILL"]).await, s("OK"));
    let V::Arr(replies) = runner.read().await else {
        panic!("EXEC's replies");
    };
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0], s("OK"));
    assert_eq!(replies[1], err(KILLED));
    assert_eq!(replies[2], s("1"));
    assert_eq!(call(&mut a, &["PING"]).await, s("PONG"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_script_stops_after_its_client_and_the_killer_left() {
    let (_server, addr) = common::start("127.0.84.6", &[("busy-reply-threshold", "100")]);
    let mut watcher = Conn::open(addr).await;
    for killer_first in [false, true] {
        let mut runner = Conn::open(addr).await;
        runner
            .send(&[b"EVAL".to_vec(), FOREVER.into(), b"0".to_vec()])
            .await;
        until_busy(&mut watcher).await;
        let mut killer = Conn::open(addr).await;
        if killer_first {
            killer.send(&[b"SCRIPT".to_vec(), b"KILL".to_vec()]).await;
            drop(killer);
            drop(runner);
        } else {
            drop(runner);
            killer.send(&[b"SCRIPT".to_vec(), b"KILL".to_vec()]).await;
            drop(killer);
        }
        // Nobody is left to see the script end, yet the server must be free again.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match call(&mut watcher, &["PING"]).await {
                v if v == s("PONG") => break,
                v => assert_eq!(v, err(BUSY)),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the script kept running"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// WATCH of a key that is there but expired already (active expiry off, so it stays): its
/// deletion, lazy or by a flush, is no change; SWAPDB swapping in nothing or another expired key
/// is none either; a key that expires after WATCH is one, and so is a write after the deletion.
/// The replies are redis-server 7.0.15's (its tests/unit/multi.tcl, "WATCH stale keys ...").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_a_key_that_had_expired_already() {
    let (_server, addr) = common::start("127.0.84.7", &[]);
    let mut c = Conn::open(addr).await;
    let pong = V::Arr(vec![s("PONG")]);
    async fn make_stale(c: &mut Conn, key: &str) {
        assert_eq!(c.call(&["SET", key, "foo", "PX", "1"]).await, s("OK"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    async fn exec_ping(c: &mut Conn) -> V {
        assert_eq!(c.call(&["MULTI"]).await, s("OK"));
        assert_eq!(c.call(&["PING"]).await, s("QUEUED"));
        c.call(&["EXEC"]).await
    }
    call(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await;

    // Expired when watched, deleted lazily at EXEC: no change.
    make_stale(&mut c, "x").await;
    call(&mut c, &["WATCH", "x"]).await;
    assert_eq!(exec_ping(&mut c).await, pong);
    // Deleted lazily by EXISTS before EXEC: no change.
    make_stale(&mut c, "x").await;
    call(&mut c, &["WATCH", "x"]).await;
    assert_eq!(call(&mut c, &["EXISTS", "x"]).await, V::Int(0));
    assert_eq!(exec_ping(&mut c).await, pong);
    // Deleted by FLUSHDB: no change.
    make_stale(&mut c, "x").await;
    call(&mut c, &["WATCH", "x"]).await;
    call(&mut c, &["FLUSHDB"]).await;
    assert_eq!(exec_ping(&mut c).await, pong);
    // Deleted, then written: a change.
    make_stale(&mut c, "x").await;
    call(&mut c, &["WATCH", "x"]).await;
    call(&mut c, &["SET", "x", "new"]).await;
    assert_eq!(exec_ping(&mut c).await, V::Nil);
    // Live when watched, expired since: a change. (On a loaded machine the key may expire before
    // WATCH arrives; then it was watched expired, so try again with a longer life.)
    let mut checked = false;
    for ttl in [50u64, 500, 5000] {
        call(&mut c, &["SET", "x", "foo", "PX", &ttl.to_string()]).await;
        call(&mut c, &["WATCH", "x"]).await;
        // Read-only and without deleting anything while the key lives: it was live at WATCH.
        if call(&mut c, &["EXISTS", "x"]).await != V::Int(1) {
            call(&mut c, &["UNWATCH"]).await;
            continue;
        }
        tokio::time::sleep(Duration::from_millis(ttl + 30)).await;
        assert_eq!(exec_ping(&mut c).await, V::Nil);
        checked = true;
        break;
    }
    assert!(checked, "the key never lived until WATCH");

    // SWAPDB: a missing key replaced by an expired one is no change...
    call(&mut c, &["FLUSHALL"]).await;
    call(&mut c, &["SELECT", "0"]).await;
    make_stale(&mut c, "x").await;
    call(&mut c, &["SELECT", "1"]).await;
    call(&mut c, &["WATCH", "x"]).await;
    call(&mut c, &["SWAPDB", "0", "1"]).await;
    assert_eq!(exec_ping(&mut c).await, pong);
    // ... nor an expired key replaced by another expired one...
    call(&mut c, &["FLUSHALL"]).await;
    call(&mut c, &["SELECT", "1"]).await;
    make_stale(&mut c, "x").await;
    call(&mut c, &["SELECT", "0"]).await;
    make_stale(&mut c, "x").await;
    call(&mut c, &["SELECT", "1"]).await;
    call(&mut c, &["WATCH", "x"]).await;
    call(&mut c, &["SWAPDB", "0", "1"]).await;
    assert_eq!(exec_ping(&mut c).await, pong);
    // ... but an expired key replaced by a live one is.
    call(&mut c, &["FLUSHALL"]).await;
    call(&mut c, &["SELECT", "1"]).await;
    make_stale(&mut c, "x").await;
    call(&mut c, &["SELECT", "0"]).await;
    call(&mut c, &["SET", "x", "live"]).await;
    call(&mut c, &["SELECT", "1"]).await;
    call(&mut c, &["WATCH", "x"]).await;
    call(&mut c, &["SWAPDB", "0", "1"]).await;
    assert_eq!(exec_ping(&mut c).await, V::Nil);
    call(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).await;
}

/// While a script is busy, MULTI, WATCH, UNWATCH and DISCARD are served (Redis's `allow-busy`
/// commands), the commands queued meanwhile get BUSY and fail the transaction: a pipelined
/// transaction never runs half of its commands (redis-server 7.0.15's "MULTI and script timeout").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_begun_while_a_script_is_busy_fails_whole() {
    let (_server, addr) = common::start("127.0.84.8", &[("busy-reply-threshold", "50")]);
    let (mut a, mut b, mut runner) = (
        Conn::open(addr).await,
        Conn::open(addr).await,
        Conn::open(addr).await,
    );
    call(&mut a, &["SET", "xx", "1"]).await;
    runner
        .send(&[b"EVAL".to_vec(), FOREVER.into(), b"0".to_vec()])
        .await;
    until_busy(&mut a).await;
    assert_eq!(call(&mut b, &["WATCH", "xx"]).await, s("OK"));
    assert_eq!(call(&mut b, &["UNWATCH"]).await, s("OK"));
    assert_eq!(call(&mut b, &["MULTI"]).await, s("OK"));
    assert_eq!(call(&mut b, &["DISCARD"]).await, s("OK"));
    assert_eq!(call(&mut b, &["MULTI"]).await, s("OK"));
    assert_eq!(call(&mut b, &["INCR", "xx"]).await, err(BUSY));
    assert_eq!(call(&mut a, &["SCRIPT", "KILL"]).await, s("OK"));
    assert_eq!(runner.read().await, err(KILLED));
    assert_eq!(call(&mut b, &["INCR", "xx"]).await, s("QUEUED"));
    assert_eq!(
        call(&mut b, &["EXEC"]).await,
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(call(&mut b, &["GET", "xx"]).await, s("1"));
    assert_eq!(call(&mut b, &["PING", "asdf"]).await, s("asdf"));
}

/// EXEC is judged by what it will run when it comes, not when its commands were queued: writes
/// without enough good replicas, and reads on a replica whose link is down with
/// `replica-serve-stale-data no`, discard the transaction (redis-server 7.0.15's replies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_is_refused_when_the_server_changed_since_queueing() {
    let (_server, addr) = common::start("127.0.84.9", &[]);
    let (mut c, mut admin) = (Conn::open(addr).await, Conn::open(addr).await);
    call(&mut c, &["SET", "xx", "1"]).await;
    call(&mut c, &["MULTI"]).await;
    call(&mut c, &["INCR", "xx"]).await;
    call(&mut admin, &["CONFIG", "SET", "min-replicas-to-write", "2"]).await;
    assert_eq!(
        call(&mut c, &["EXEC"]).await,
        err(
            "EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write."
        )
    );
    // Discarded: not in MULTI any more, and INCR did not run.
    assert_eq!(call(&mut c, &["EXEC"]).await, err("ERR EXEC without MULTI"));
    call(&mut admin, &["CONFIG", "SET", "min-replicas-to-write", "0"]).await;
    assert_eq!(call(&mut c, &["GET", "xx"]).await, s("1"));

    call(&mut c, &["CONFIG", "SET", "replica-serve-stale-data", "no"]).await;
    let masterdown = err(
        "EXECABORT Transaction discarded because of: MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    );
    for queued in ["GET", "PING"] {
        call(&mut c, &["MULTI"]).await;
        if queued == "GET" {
            call(&mut c, &["GET", "xx"]).await;
        } else {
            call(&mut c, &["PING"]).await;
        }
        call(&mut admin, &["REPLICAOF", "localhost", "0"]).await;
        assert_eq!(call(&mut c, &["EXEC"]).await, masterdown);
        call(&mut admin, &["REPLICAOF", "NO", "ONE"]).await;
    }
    // MULTI itself is allowed on a stale replica; EXEC of a GET runs once the link is back.
    call(&mut admin, &["REPLICAOF", "localhost", "0"]).await;
    assert_eq!(call(&mut c, &["MULTI"]).await, s("OK"));
    call(&mut admin, &["REPLICAOF", "NO", "ONE"]).await;
    call(&mut c, &["GET", "xx"]).await;
    assert_eq!(call(&mut c, &["EXEC"]).await, V::Arr(vec![s("1")]));
}

/// INFO commandstats as redis-server 7.0.15 keeps it: calls and failed calls per command (an error
/// answered by the command itself), refused calls (arity, a busy script...), EXEC not failed by the
/// errors of the commands it ran; CONFIG RESETSTAT clears it. Also the access-time rules of the
/// introspection commands (TTL, TYPE, EXISTS leave it; TOUCH sets it), shared small integers'
/// OBJECT REFCOUNT, and CLIENT KILL USER of a user that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_stats_and_introspection_follow_redis() {
    let (_server, addr) = common::start("127.0.89.1", &[]);
    let mut c = Conn::open(addr).await;
    let stat = |info: &V, name: &str| -> String {
        let V::Str(text) = info else {
            panic!("INFO: {info:?}");
        };
        let text = String::from_utf8_lossy(text).to_string();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:")))
            .map(|v| {
                // usec varies: keep calls, rejected and failed.
                v.split(',')
                    .filter(|f| !f.starts_with("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    call(&mut c, &["CONFIG", "RESETSTAT"]).await;
    call(&mut c, &["SET", "a", "1"]).await;
    call(&mut c, &["LPUSH", "a", "x"]).await;
    call(&mut c, &["GET"]).await;
    call(&mut c, &["MULTI"]).await;
    call(&mut c, &["LPUSH", "a", "x"]).await;
    call(&mut c, &["EXEC"]).await;
    let info = call(&mut c, &["INFO", "commandstats"]).await;
    assert_eq!(
        stat(&info, "set"),
        "calls=1,rejected_calls=0,failed_calls=0"
    );
    assert_eq!(
        stat(&info, "lpush"),
        "calls=2,rejected_calls=0,failed_calls=2"
    );
    assert_eq!(
        stat(&info, "get"),
        "calls=0,rejected_calls=1,failed_calls=0"
    );
    assert_eq!(
        stat(&info, "exec"),
        "calls=1,rejected_calls=0,failed_calls=0"
    );
    let all = call(&mut c, &["INFO", "everything"]).await;
    assert_eq!(
        stat(&all, "info"),
        "calls=1,rejected_calls=0,failed_calls=0"
    );
    let default = call(&mut c, &["INFO"]).await;
    assert_eq!(stat(&default, "info"), "");
    // Scripts (redis-server 7.0.15's "Consistent eval error reporting"): a command refused inside
    // a script is its rejected call, one that fails its failed call, and the script fails too.
    call(&mut c, &["CONFIG", "RESETSTAT"]).await;
    call(&mut c, &["EVAL", "return redis.call('select',99)", "0"]).await;
    call(&mut c, &["EVAL", "return redis.pcall('select',99)", "0"]).await;
    call(
        &mut c,
        &["EVAL", "local t = redis.pcall('select',99) return 1", "0"],
    )
    .await;
    call(&mut c, &["CONFIG", "SET", "maxmemory", "1"]).await;
    call(
        &mut c,
        &["EVAL", "return redis.call('set','x','y')", "1", "x"],
    )
    .await;
    call(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).await;
    let info = call(&mut c, &["INFO", "commandstats"]).await;
    assert_eq!(
        stat(&info, "select"),
        "calls=3,rejected_calls=0,failed_calls=3"
    );
    assert_eq!(
        stat(&info, "set"),
        "calls=0,rejected_calls=1,failed_calls=0"
    );
    assert_eq!(
        stat(&info, "eval"),
        "calls=4,rejected_calls=0,failed_calls=3"
    );
    call(&mut c, &["CONFIG", "RESETSTAT"]).await;
    let info = call(&mut c, &["INFO", "commandstats"]).await;
    assert_eq!(stat(&info, "set"), "");

    // OBJECT REFCOUNT: integers 0..9999 are shared.
    call(&mut c, &["SET", "n", "5"]).await;
    assert_eq!(
        call(&mut c, &["OBJECT", "REFCOUNT", "n"]).await,
        V::Int(2147483647)
    );
    call(&mut c, &["SET", "n", "10000"]).await;
    assert_eq!(call(&mut c, &["OBJECT", "REFCOUNT", "n"]).await, V::Int(1));
    assert_eq!(
        call(&mut c, &["CLIENT", "KILL", "USER", "wrong_user"]).await,
        err("ERR No such user 'wrong_user'")
    );

    // TTL, TYPE and EXISTS leave the access time alone; TOUCH does not.
    call(&mut c, &["SET", "foo", "bar"]).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for cmd in [
        &["TTL", "foo"][..],
        &["PTTL", "foo"],
        &["TYPE", "foo"],
        &["EXISTS", "foo"],
    ] {
        call(&mut c, cmd).await;
    }
    let V::Int(idle) = call(&mut c, &["OBJECT", "IDLETIME", "foo"]).await else {
        panic!("OBJECT IDLETIME");
    };
    assert!(idle >= 2, "idle {idle}");
    call(&mut c, &["TOUCH", "foo"]).await;
    let V::Int(idle) = call(&mut c, &["OBJECT", "IDLETIME", "foo"]).await else {
        panic!("OBJECT IDLETIME");
    };
    assert!(idle < 2, "idle {idle}");
}
