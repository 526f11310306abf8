//! What the CLI tests that run the `redlink` binary share: a command bounded in time, and a spawned
//! process read up to its readiness line (its output then drained, so it never blocks on a pipe).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
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
