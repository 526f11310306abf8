//! The simulated clock from the command line (issue 23): redis-py against `redlink serve --clock
//! manual` (a key set with `ex=1800` survives an advance of 1799 s and is gone, with its `expired`
//! keyspace event, after one more second; `BLPOP k 600` returns nil at once after `advance 600s`),
//! `redlink up --clock manual` moved by `redlink ctl clock advance`, and the bad inputs (exit 2
//! with the message).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A free port on `ip` (the OS picks it; serve binds it right after).
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn serve_manual(ip: &str) -> (Child, u16) {
    let port = free_port(ip);
    let child = redlink()
        .args(["serve", "--clock", "manual", "--bind", ip, "--port"])
        .arg(port.to_string())
        .args(["--save", "", "--enable-debug-command", "yes"])
        .args(["--notify-keyspace-events", "Ex"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redlink serve");
    (support::until_ready(child, "Ready"), port)
}

/// redis-py, as a user's test would drive it (the `redis` package is installed here and by
/// `.ci/run`).
const EXPIRY_SCRIPT: &str = r#"
import sys, threading, time, redis
host, port = sys.argv[1], int(sys.argv[2])
r = redis.Redis(host=host, port=port, socket_timeout=20)
p = r.pubsub()
p.psubscribe("__keyevent@0__:expired")
assert p.get_message(timeout=5)["type"] == "psubscribe"
r.set("session", "v", ex=1800)
r.execute_command("DEBUG", "CLOCK", "ADVANCE", "1799s")
assert r.get("session") == b"v", "gone too early"
assert r.ttl("session") == 1
r.execute_command("DEBUG", "CLOCK", "ADVANCE", "1s")
assert r.get("session") is None, "still there at 1800 s"
m = p.get_message(timeout=10)
assert m is not None and m["data"] == b"session", m
print("expired", m["channel"].decode())

result = {}
def blpop():
    started = time.monotonic()
    result["value"] = redis.Redis(host=host, port=port, socket_timeout=30).blpop("queue", timeout=600)
    result["took"] = time.monotonic() - started
t = threading.Thread(target=blpop)
t.start()
deadline = time.monotonic() + 10
while r.info("clients")["blocked_clients"] != 1:
    assert time.monotonic() < deadline, "BLPOP never blocked"
    time.sleep(0.01)
r.execute_command("DEBUG", "CLOCK", "ADVANCE", "600s")
t.join(20)
assert not t.is_alive(), "BLPOP still blocked"
assert result["value"] is None, result
assert result["took"] < 15, result
print("blpop nil")
"#;

#[test]
fn redis_py_sees_expiry_and_blpop_timeouts_when_serve_s_manual_clock_advances() {
    let ip = "127.0.23.20";
    let (mut child, port) = serve_manual(ip);
    let mut py = Command::new("python3");
    py.args(["-c", EXPIRY_SCRIPT, ip, &port.to_string()]);
    let out = support::bounded(py, Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "redis-py: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "expired __keyevent@0__:expired\nblpop nil\n"
    );
}

#[test]
fn serve_refuses_a_clock_that_is_neither_real_nor_manual() {
    let mut cmd = redlink();
    cmd.args(["serve", "--clock", "sometimes", "--port", "0"]);
    let out = support::bounded(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "command line: option --clock: \"sometimes\" is not a clock (real or manual)"
        ),
        "{}",
        text(&out.stderr)
    );
}

fn state_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "redlink-cli-clock-{tag}-{}.json",
        std::process::id()
    ))
}

fn up(state: &Path, extra: &[&str]) -> Child {
    let child = redlink()
        .args(["up", "--for", "120s", "--direct-engines", "--state-file"])
        .arg(state)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let child = support::until_ready(child, "redlink up: world");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(state).is_ok_and(|t| t.contains("\"control\"")) {
        assert!(Instant::now() < deadline, "no control address");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn ctl(state: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = redlink();
    cmd.arg("ctl").arg("--state-file").arg(state).args(args);
    support::bounded(cmd, Duration::from_secs(30))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn direct_engine(state: &Path) -> String {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state).expect("state")).expect("JSON");
    s["caches"]["contoso"]["direct"]
        .as_str()
        .expect("caches.contoso.direct")
        .to_owned()
}

#[test]
fn ctl_clock_advance_moves_up_s_manual_clock_and_the_engines_with_it() {
    let state = state_path("manual");
    let mut child = up(&state, &["--clock", "manual"]);
    let before = json(&ctl(&state, &["clock", "show"]));
    assert_eq!(before["mode"], "manual");
    let start = before["nowMs"].as_u64().expect("nowMs");

    // A key with a 30-minute TTL on the cache's engine (redis-py, on its direct port).
    let direct = direct_engine(&state);
    let (host, port) = direct.rsplit_once(':').expect("host:port");
    let script = "import sys, redis\nr = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), socket_timeout=10)\n\
                  if sys.argv[3] == 'set':\n    r.set('session', 'v', ex=1800)\n\
                  print(r.get('session'), r.ttl('session'))\n";
    let py = |what: &str| {
        let mut c = Command::new("python3");
        c.args(["-c", script, host, port, what]);
        let out = support::bounded(c, Duration::from_secs(30));
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    assert_eq!(py("set"), "b'v' 1800");

    let after = json(&ctl(&state, &["clock", "advance", "29m"]));
    assert_eq!(after["nowMs"].as_u64(), Some(start + 29 * 60_000));
    assert_eq!(py("get"), "b'v' 60");
    json(&ctl(&state, &["clock", "advance", "1m"]));
    assert_eq!(
        py("get"),
        "None -2",
        "expired when the world's clock passed its TTL"
    );

    // Bad input: exit 2 with the message.
    let bad = ctl(&state, &["clock", "advance", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("\"soon\" is not a duration"),
        "{}",
        text(&bad.stderr)
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&state);
}

#[test]
fn ctl_clock_advance_on_a_real_time_world_is_refused() {
    let state = state_path("real");
    let mut child = up(&state, &[]);
    assert_eq!(json(&ctl(&state, &["clock", "show"]))["mode"], "real");
    let out = ctl(&state, &["clock", "advance", "30m"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "clock: the clock is real time and moves by itself (start with --clock manual to move it)"
        ),
        "{}",
        text(&out.stderr)
    );
    let raw = ctl(&state, &["raw", "CLOCK.ADVANCE", "1m"]);
    assert_eq!(raw.status.code(), Some(2));
    assert!(
        text(&raw.stderr).contains("ERR the clock is real time"),
        "{}",
        text(&raw.stderr)
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&state);
}
