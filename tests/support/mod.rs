//! What the CLI tests that run the `redlink` binary share: a command bounded in time, a spawned
//! process read up to its readiness line (its output then drained, so it never blocks on a pipe),
//! and `redlink serve --cluster` on consecutive free ports.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `command` with its output captured, failing the test (and killing the command) if it takes
/// longer than `limit`.
pub fn bounded(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("runs"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{command:?} took longer than {limit:?}");
        }
    }
}

/// Reads `child`'s piped stdout until a line starting with `ready` (within 30 s), then keeps
/// draining it on a thread of its own.
pub fn until_ready(mut child: Child, ready: &str) -> Child {
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no {ready:?} line within 30 s");
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("exited before printing {ready:?}");
        }
        if line.starts_with(ready) {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    child
}

/// A running `redlink serve --cluster …` on consecutive ports from `port`; killed on drop.
pub struct ServedCluster {
    pub child: Child,
    pub port: u16,
}

impl Drop for ServedCluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A base port on `ip` with the next `n - 1` free too (probed; retried if one is taken).
pub fn consecutive_ports(ip: &str, n: u16) -> u16 {
    loop {
        let Ok(base) = TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()) else {
            continue;
        };
        let base = base.port();
        if base.checked_add(n).is_none() {
            continue;
        }
        if (1..n).all(|i| TcpListener::bind((ip, base + i)).is_ok()) {
            return base;
        }
    }
}

/// `redlink serve --cluster` with `args` (e.g. `["--cluster", "3"]`) on `nodes` consecutive free
/// ports of `ip`, ready once it says so. A port taken between the probe and the bind makes it
/// exit: it is tried again on another range (ten at most).
pub fn serve_cluster(ip: &str, args: &[&str], nodes: u16) -> ServedCluster {
    for _ in 0..10 {
        let port = consecutive_ports(ip, nodes);
        let mut child = Command::new(env!("CARGO_BIN_EXE_redlink"))
            .arg("serve")
            .args(args)
            .args(["--bind", ip, "--save", "", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redlink");
        // The ready line comes after every node listens; an exit means a port was taken.
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if line.starts_with("Ready to accept connections") {
                    let _ = tx.send(true);
                    let mut sink = Vec::new();
                    let _ = reader.read_to_end(&mut sink);
                    return;
                }
                line.clear();
            }
            let _ = tx.send(false);
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(true) => return ServedCluster { child, port },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    panic!("serve {args:?} did not start on ten port ranges");
}

/// Whether `program args` runs; says why the test skips when not.
pub fn installed(program: &str, args: &[&str], why: &str) -> bool {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("note: skipping: {why}");
    }
    ok
}

/// `redis-cli -h ip -p port args…`'s stdout (bounded to 30 s).
pub fn redis_cli(ip: &str, port: u16, args: &[&str]) -> String {
    let mut c = Command::new("redis-cli");
    c.args(["-h", ip, "-p", &port.to_string()]).args(args);
    let out = bounded(c, Duration::from_secs(30));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `redlink up` and its state file: stopped on drop as a user would (SIGTERM, up to 20 s
/// to finish, then SIGKILL), the state file removed.
pub struct Up {
    pub child: Child,
    pub state: PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.state);
    }
}
