//! The everyday loop, end to end: `redlink up` in one process, `redlink exec` joining that world
//! with an application (redis-py in a retry loop, or redis-cli) in another, and `redlink ctl`
//! fixing the world meanwhile — the application sees the fix at once. Also: an exec without a
//! running world starts its own, whose control API `ctl` reaches from outside. Linux, user
//! namespaces, redis-py and redis-cli (each test says why it skips when one is missing); every
//! process is bounded in time and every world has its own runtime directory and state file.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HOST: &str = "contoso.redis.cache.windows.net";
const LIMIT: Duration = Duration::from_secs(60);

fn redlink() -> &'static str {
    env!("CARGO_BIN_EXE_redlink")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A python3 that has redis-py (CI installs it for `python3`; some machines only have it for the
/// system interpreter).
fn python_with_redis() -> Option<String> {
    ["python3", "/usr/bin/python3"].into_iter().find_map(|p| {
        Command::new(p)
            .args(["-c", "import redis"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            .then(|| p.to_owned())
    })
}

/// Whether `exec` can create its namespaces here; prints why not.
fn namespaces_available(runtime_dir: &Path) -> bool {
    let mut c = Command::new(redlink());
    c.args(["exec", "--new-world", "--network", "hub", "--", "true"]);
    isolate(&mut c, runtime_dir);
    let out = support::bounded(c, LIMIT);
    if out.status.success() {
        return true;
    }
    eprintln!(
        "note: skipping: exec cannot create its namespaces here: {}",
        text(&out.stderr)
    );
    false
}

/// A runtime directory of the test's own, so `current.json` and `redlink ls` see only its worlds.
fn runtime_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redlink-loop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("runtime dir");
    dir
}

fn isolate(c: &mut Command, runtime_dir: &Path) {
    c.env("XDG_RUNTIME_DIR", runtime_dir)
        .env_remove("REDLINK_STATE")
        .env_remove("REDLINK_EXEC_NETNS")
        .env_remove("REDLINK_CONTROL_PASSWORD");
}

/// A running `redlink up` (killed when dropped).
struct Up {
    child: Child,
    state: PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `redlink up` with the default state path (so it keeps `current.json`, where `exec`, `probe`
/// and `ctl` find it).
fn up(runtime_dir: &Path) -> Up {
    let mut c = Command::new(redlink());
    c.args(["up", "--for", "90s"]);
    isolate(&mut c, runtime_dir);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let child = support::until_ready(child, "Running for");
    let state = std::fs::canonicalize(runtime_dir.join("redlink").join("current.json"))
        .expect("up points current.json at its state file");
    Up { child, state }
}

fn ctl(runtime_dir: &Path, state: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(redlink());
    c.arg("ctl").arg("--state-file").arg(state).args(args);
    isolate(&mut c, runtime_dir);
    support::bounded(c, LIMIT)
}

/// Lines of a child's stdout, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!(
                "no line {what} within {LIMIT:?}; last lines: {:?}",
                &seen[seen.len().saturating_sub(5)..]
            ),
        }
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the exec did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An application retrying until the cache answers: what a developer runs while fixing the world.
const RETRY_LOOP: &str = r#"
import sys, time, redis
deadline = time.time() + 50
tries = 0
while True:
    tries += 1
    try:
        r = redis.Redis(host=sys.argv[1], port=6379, socket_connect_timeout=2, socket_timeout=2)
        r.set("loop", "fixed")
        print("ok after", tries, "tries:", r.get("loop").decode(), flush=True)
        sys.exit(0)
    except redis.exceptions.ConnectionError as e:
        print("retry", tries, e, flush=True)
        if time.time() > deadline:
            sys.exit(1)
        time.sleep(0.2)
"#;

#[test]
fn an_app_in_exec_retries_until_ctl_fixes_the_world() {
    let Some(python) = python_with_redis() else {
        eprintln!("note: skipping: no python3 with redis-py (pip install redis)");
        return;
    };
    let dir = runtime_dir("retry");
    if !namespaces_available(&dir) {
        return;
    }
    let world = up(&dir);
    // The app joins the running world: found through current.json, like probe and ctl.
    let mut c = Command::new(redlink());
    c.args([
        "exec",
        "--network",
        "spoke",
        "--",
        &python,
        "-c",
        RETRY_LOOP,
        HOST,
    ]);
    isolate(&mut c, &dir);
    let mut app = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec starts");
    let lines = lines_of(&mut app);
    // spoke resolves the public address; public access is Disabled (refuse).
    let refused = wait_line(&lines, "with a refusal", |l| l.starts_with("retry"));
    assert!(refused.contains("refused"), "{refused}");
    // The fix, from outside (another terminal).
    let out = ctl(
        &dir,
        &world.state,
        &[
            "redis",
            "update",
            "--name",
            "contoso",
            "--set",
            "publicNetworkAccess=Enabled",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ok = wait_line(&lines, "reporting success", |l| l.starts_with("ok after"));
    assert!(ok.ends_with("fixed"), "{ok}");
    let status = wait_exit(&mut app);
    let mut err = String::new();
    if let Some(mut e) = app.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(status.success(), "{status}: {err}");
    assert!(
        err.contains("joined world quickstart"),
        "exec says which world it joined: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctl_inside_a_joined_exec_takes_effect_before_it_returns() {
    if !has("redis-cli") {
        eprintln!("note: skipping: redis-cli is not installed");
        return;
    }
    let dir = runtime_dir("inside");
    if !namespaces_available(&dir) {
        return;
    }
    let world = up(&dir);
    let script = format!(
        "redis-cli -h {HOST} -p 6379 PING; \
         {bin} ctl redis update --name contoso --set publicNetworkAccess=Enabled >/dev/null && \
         redis-cli -h {HOST} -p 6379 PING; \
         {bin} ctl redis update --name contoso --set publicNetworkAccess=Disabled >/dev/null && \
         redis-cli -h {HOST} -p 6379 PING",
        bin = redlink()
    );
    let mut c = Command::new(redlink());
    c.args(["exec", "--network", "spoke", "--state-file"])
        .arg(&world.state)
        .args(["--", "sh", "-c", &script]);
    isolate(&mut c, &dir);
    let out = support::bounded(c, LIMIT);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // Refused, then PONG right after the change, then refused again.
    assert_eq!(stdout.trim(), "PONG", "stdout {stdout:?} stderr {stderr}");
    assert_eq!(
        stderr.matches("Connection refused").count(),
        2,
        "stderr: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_exec_world_has_a_control_api_reachable_from_outside() {
    let dir = runtime_dir("own");
    if !namespaces_available(&dir) {
        return;
    }
    let mut c = Command::new(redlink());
    c.args([
        "exec",
        "--network",
        "hub",
        "--",
        "sh",
        "-c",
        "echo \"$REDLINK_STATE\"; read line; echo \"got $line\"",
    ]);
    isolate(&mut c, &dir);
    let mut exec = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec starts");
    let lines = lines_of(&mut exec);
    let state = PathBuf::from(wait_line(&lines, "naming the state file", |l| {
        l.ends_with(".json")
    }));
    let out = ctl(
        &dir,
        &state,
        &[
            "network",
            "private-endpoint-connection",
            "reject",
            "--name",
            "pe-hub",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = ctl(
        &dir,
        &state,
        &["network", "private-endpoint", "show", "--name", "pe-hub"],
    );
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(
        json["privateLinkServiceConnections"][0]["privateLinkServiceConnectionState"]["status"],
        "Rejected",
        "{json}"
    );
    if let Some(mut stdin) = exec.stdin.take() {
        let _ = writeln!(stdin, "done");
    }
    wait_line(&lines, "after stdin", |l| l == "got done");
    assert!(wait_exit(&mut exec).success());
    let _ = std::fs::remove_dir_all(&dir);
}
