//! Security of the CLI's files and processes (issue 15): `up` refuses a default state directory
//! another user planted (a link, someone else's, open to others); `serve --tls-auto` writes keys
//! 0600 and a name-constrained CA that redis-cli, redis-py and rustls still accept; `up --events`
//! stays under its size; `exec`'s command dies when redlink is SIGKILLed, sees only its own
//! processes and a private /tmp — also for an ordinary uid (setpriv), since root hides EPERM.
//! Linux only; every run is bounded in time.
#![cfg(target_os = "linux")]

mod support;

#[path = "../crates/engine/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn redlink() -> &'static str {
    env!("CARGO_BIN_EXE_redlink")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for one test.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redlink-sec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs `command`, failing the test if it takes longer than [`LIMIT`].
fn bounded(command: Command) -> Output {
    support::bounded(command, LIMIT)
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

fn up_with_runtime_dir(runtime_dir: &Path) -> Output {
    let mut c = Command::new(redlink());
    c.args(["up", "--for", "1s"])
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env_remove("REDLINK_STATE");
    bounded(c)
}

#[test]
fn up_refuses_a_planted_default_state_directory() {
    let base = scratch("planted");
    // A link planted where the state directory goes: refused, the target untouched.
    let target = base.join("elsewhere");
    std::fs::create_dir_all(&target).expect("target");
    std::os::unix::fs::symlink(&target, base.join("redlink")).expect("link");
    let out = up_with_runtime_dir(&base);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&base.join("redlink").display().to_string()) && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&target).map(Iterator::count).unwrap_or(9),
        0
    );
    // A directory open to other users: refused too, naming its mode.
    std::fs::remove_file(base.join("redlink")).expect("unlink");
    std::fs::create_dir(base.join("redlink")).expect("dir");
    chmod(&base.join("redlink"), 0o777);
    let out = up_with_runtime_dir(&base);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("0777"), "{err}");
    // Another user's directory (here root's, for uid 65534): refused, naming the owner.
    if is_root() && has("setpriv") {
        chmod(&base.join("redlink"), 0o700);
        chmod(&base, 0o755);
        let bin = base.join("redlink-bin");
        std::fs::copy(redlink(), &bin).expect("copy");
        chmod(&bin, 0o755);
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["up", "--for", "1s"])
            .current_dir(&base)
            .env("XDG_RUNTIME_DIR", &base)
            .env_remove("REDLINK_STATE");
        let out = bounded(c);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("belongs to uid 0, not to uid 65534"), "{err}");
        let _ = std::fs::remove_file(bin);
    }
    // Created fresh: 0700, and the state file in it 0600 while the world runs.
    std::fs::remove_dir(base.join("redlink")).expect("rmdir");
    let mut child = Command::new(redlink())
        .args(["up", "--for", "20s"])
        .env("XDG_RUNTIME_DIR", &base)
        .env_remove("REDLINK_STATE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("up");
    let dir = base.join("redlink");
    let state = wait_for(|| {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("current.json"))
    });
    let _ = child.kill();
    let _ = child.wait();
    let state = state.expect("a state file appears");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&state), 0o600, "{}", state.display());
    let _ = std::fs::remove_dir_all(base);
}

fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(v) = probe() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// `redlink serve ARGS`, once its TLS listener is ready.
fn serve(args: &[&str]) -> Child {
    let child = Command::new(redlink())
        .arg("serve")
        .args(args)
        // No save points: nothing written to (or loaded from) the working directory.
        .args(["--save", ""])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redlink");
    support::until_ready(child, "Ready to accept connections tls")
}

#[test]
fn tls_auto_keys_are_private_and_the_constrained_ca_still_validates() {
    let ip = "127.0.9.2";
    let dir = scratch("tlsauto").join("certs");
    let port = common::free_port(ip).to_string();
    let ca_dir = dir.to_str().expect("utf-8");
    // `serve --tls-auto DIR` on the test's address, TLS only.
    let serve_tls_auto = || {
        serve(&[
            "--port",
            "0",
            "--bind",
            ip,
            "--tls-port",
            &port,
            "--tls-auto",
            ca_dir,
            "--tls-hostname",
            ip,
        ])
    };
    let mut child = serve_tls_auto();
    assert_eq!(mode(&dir), 0o700, "created private");
    assert_eq!(mode(&dir.join("ca.key")), 0o600);
    assert_eq!(mode(&dir.join("server.key")), 0o600);
    assert_eq!(mode(&dir.join("ca.crt")), 0o644);
    let ca = dir.join("ca.crt");
    let ca_pem = std::fs::read_to_string(&ca).unwrap_or_default();
    if has("redis-cli") {
        let out = Command::new("redis-cli")
            .args(["-h", ip, "-p", &port, "--tls", "--cacert"])
            .arg(&ca)
            .arg("PING")
            .output()
            .expect("redis-cli");
        assert_eq!(text(&out.stdout).trim(), "PONG", "{}", text(&out.stderr));
    }
    // openssl shows the constraints and the short validity.
    if has("openssl") {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&ca)
            .output()
            .expect("openssl");
        let t = text(&out.stdout);
        assert!(t.contains("X509v3 Name Constraints"), "{t}");
        assert!(
            t.contains("DNS:localhost") && t.contains("IP:127.0.0.0/255.0.0.0"),
            "{t}"
        );
        let not_after = t
            .lines()
            .find(|l| l.contains("Not After"))
            .unwrap_or_default();
        assert!(
            !not_after.contains("4096"),
            "no CA valid until 4096: {not_after}"
        );
    }
    let python_ok = Command::new("python3")
        .args(["-c", "import redis"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if python_ok {
        // redis-py verifies the chain (and the address, which the certificate carries).
        let script = format!(
            "import redis\nr = redis.Redis(host='{ip}', port={port}, ssl=True, ssl_ca_certs='{ca_dir}/ca.crt', ssl_cert_reqs='required', socket_connect_timeout=5)\nprint(r.ping())\n"
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .expect("python3");
        assert_eq!(text(&out.stdout).trim(), "True", "{}", text(&out.stderr));
    }
    let _ = child.kill();
    let _ = child.wait();
    // Restarting reuses the CA (clients keep trusting ca.crt) as long as it is private.
    let mut again = serve_tls_auto();
    assert_eq!(std::fs::read_to_string(&ca).unwrap_or_default(), ca_pem);
    let _ = again.kill();
    let _ = again.wait();
    // A CA key other users could read is replaced, not reused.
    chmod(&dir.join("ca.key"), 0o644);
    let mut third = serve_tls_auto();
    assert_ne!(std::fs::read_to_string(&ca).unwrap_or_default(), ca_pem);
    assert_eq!(mode(&dir.join("ca.key")), 0o600);
    let _ = third.kill();
    let _ = third.wait();
    let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
}

#[test]
fn the_events_file_stays_under_its_cap() {
    let dir = scratch("events");
    let events = dir.join("events.jsonl");
    let state = dir.join("state.json");
    let mut child = Command::new(redlink())
        .args(["up", "--for", "30s", "--events-max-size", "4k", "--events"])
        .arg(&events)
        .arg("--state-file")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("up");
    let world = wait_for(|| {
        std::fs::read_to_string(&state)
            .ok()
            .filter(|s| s.ends_with("}\n"))
    });
    let world: serde_json::Value =
        serde_json::from_str(&world.expect("a state file")).expect("json");
    // Every connection to an endpoint is an event: make a few hundred.
    let address = world["caches"]["contoso"]["endpoints"][0]["address"]
        .as_str()
        .expect("an endpoint address")
        .to_owned();
    for _ in 0..400 {
        let _ = std::net::TcpStream::connect_timeout(
            &format!("{address}:6380").parse().expect("addr"),
            Duration::from_millis(500),
        );
    }
    let rotated = PathBuf::from(format!("{}.1", events.display()));
    let seen = wait_for(|| rotated.exists().then_some(()));
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.is_some(), "the events file was rotated");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX);
    assert!(size(&events) <= 4096, "{}", size(&events));
    assert!(size(&rotated) <= 4096, "{}", size(&rotated));
    // Too small a cap is refused, and --help says what happens.
    let out = bounded({
        let mut c = Command::new(redlink());
        c.args(["up", "--events-max-size", "100", "--events", "x"]);
        c
    });
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let help = bounded({
        let mut c = Command::new(redlink());
        c.args(["up", "--help"]);
        c
    });
    assert!(
        text(&help.stdout).contains("FILE.1"),
        "{}",
        text(&help.stdout)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `redlink exec` with stdout piped, from the binary at `bin`, as `setpriv ARGS` when given.
fn spawn_exec(bin: &Path, setpriv: bool, script: &str) -> Child {
    let mut c = if setpriv {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    c.args(["exec", "--network", "hub", "--", "sh", "-c", script])
        .env_remove("REDLINK_STATE")
        .env_remove("REDLINK_EXEC_NETNS")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = bin.parent() {
        c.current_dir(dir);
    }
    c.spawn().expect("exec")
}

/// Namespaces usable here? (prints why not)
fn namespaces_available() -> bool {
    let mut c = Command::new(redlink());
    c.args(["exec", "--network", "hub", "--", "true"])
        .env_remove("REDLINK_STATE")
        .env_remove("REDLINK_EXEC_NETNS");
    let out = bounded(c);
    if out.status.success() {
        return true;
    }
    eprintln!(
        "note: skipping: exec is unavailable here: {}",
        text(&out.stderr)
    );
    false
}

/// The pids of `pid`'s descendants (from /proc).
fn descendants(pid: u32) -> Vec<u32> {
    let parent_of = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().nth(1)?.parse().ok()
    };
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![pid];
    let mut grew = true;
    while grew {
        grew = false;
        for p in &all {
            if !out.contains(p) && parent_of(*p).is_some_and(|pp| out.contains(&pp)) {
                out.push(*p);
                grew = true;
            }
        }
    }
    out.retain(|p| *p != pid);
    out
}

/// Alive and not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, a)| a.trim_start().to_owned()))
        .is_some_and(|state| !state.starts_with('Z') && !state.starts_with('X'))
}

/// The exec's own view, then SIGKILL to redlink: its command dies, and the next exec removes the
/// directory it left.
fn exec_is_contained(bin: &Path, setpriv: bool) {
    let marker =
        std::env::temp_dir().join(format!("redlink-sec-host-marker-{}", std::process::id()));
    std::fs::write(&marker, "host").expect("marker");
    chmod(&marker, 0o644);
    let script = format!(
        "echo pid=$$; echo procs=$(ls /proc | grep -c '^[0-9]'); test -e {} && echo tmp=host || echo tmp=private; echo ready; exec sleep 120",
        marker.display()
    );
    let mut child = spawn_exec(bin, setpriv, &script);
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while lines.last().is_none_or(|l: &String| l != "ready") {
        assert!(Instant::now() < deadline, "no ready line: {lines:?}");
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("exec ended early: {lines:?} {err}");
        }
        lines.push(line.trim_end().to_owned());
    }
    assert_eq!(
        lines[0], "pid=2",
        "the command is PID 2 under redlink's init: {lines:?}"
    );
    let procs: usize = lines[1]
        .strip_prefix("procs=")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    assert!(
        procs <= 5,
        "the command sees only its own processes: {lines:?}"
    );
    assert_eq!(lines[2], "tmp=private", "{lines:?}");
    // The process tree under redlink (setpriv execs redlink in place).
    let redlink_pid = child.id();
    let tree = descendants(redlink_pid);
    assert!(tree.len() >= 2, "init and the command: {tree:?}");
    let dirs = |pid: u32| -> Vec<PathBuf> {
        std::fs::read_dir(std::env::temp_dir())
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            n.starts_with("redlink-exec-") && n.contains(&format!("-{pid}-"))
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let left = dirs(redlink_pid);
    assert_eq!(left.len(), 1, "one private directory: {left:?}");
    assert_eq!(mode(&left[0]), 0o700);
    let _ = Command::new("kill")
        .args(["-KILL", &redlink_pid.to_string()])
        .status();
    let _ = child.wait();
    let gone = wait_for(|| tree.iter().all(|p| !running(*p)).then_some(()));
    assert!(
        gone.is_some(),
        "the command outlived a SIGKILLed redlink: {:?}",
        tree.iter().filter(|p| running(**p)).collect::<Vec<_>>()
    );
    // The directory stays (nothing ran to remove it) until the next exec.
    assert!(left[0].exists());
    let mut next = spawn_exec(bin, setpriv, "true");
    let _ = next.wait();
    assert!(
        !left[0].exists(),
        "the next exec removes {}",
        left[0].display()
    );
    let _ = std::fs::remove_file(marker);
}

#[test]
fn exec_command_is_contained_and_dies_with_redlink() {
    if !namespaces_available() {
        return;
    }
    exec_is_contained(Path::new(redlink()), false);
}

#[test]
fn exec_containment_holds_for_an_ordinary_uid() {
    if !is_root() || !has("setpriv") || !namespaces_available() {
        eprintln!("note: skipping the ordinary-uid run (needs root to switch and setpriv)");
        return;
    }
    // A copy that uid 65534 can read and run, wherever the build directory is.
    let dir = scratch("uid");
    let bin = dir.join("redlink");
    std::fs::copy(redlink(), &bin).expect("copy");
    chmod(&dir, 0o755);
    chmod(&bin, 0o755);
    exec_is_contained(&bin, true);
    let _ = std::fs::remove_dir_all(dir);
}
