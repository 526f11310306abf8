//! A real redis-server 7.0 for cross-checks (persistence files, propagated commands): started in a
//! temporary directory of its own on an ephemeral port of 127.0.0.1, killed and removed on drop.
//! `start` returns `None` (and says why) when redis-server is not installed, so the test skips.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server.
pub struct RedisServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its `dir`.
    pub dir: PathBuf,
    child: Child,
}

/// A new empty directory under the system's temp dir (removed by the caller, or on drop of a
/// [`RedisServer`] that owns it).
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "redlink-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Whether redis-server can be run (prints why not).
pub fn available() -> bool {
    let ok = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: redis-server is not installed");
    }
    ok
}

impl RedisServer {
    /// Start redis-server in a new directory with these options (no RDB snapshots unless asked).
    pub fn start(options: &[(&str, &str)]) -> Option<RedisServer> {
        Self::start_in(&temp_dir("redis"), options)
    }

    /// Start redis-server with `dir` as its directory.
    pub fn start_in(dir: &Path, options: &[(&str, &str)]) -> Option<RedisServer> {
        if !available() {
            return None;
        }
        // A free port can be taken by another test between the probe and redis-server's bind:
        // then redis-server exits, and a PONG could even come from the other listener. So the
        // server is the one whose INFO names this child's pid; a lost port is retried.
        for _ in 0..5 {
            let port = super::free_port("127.0.0.1");
            let mut cmd = Command::new("redis-server");
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            for (k, v) in options {
                cmd.arg(format!("--{k}")).arg(v);
            }
            let child = cmd.spawn().expect("redis-server starts");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let mut server = RedisServer {
                addr,
                dir: dir.to_path_buf(),
                child,
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // the port was taken meanwhile: another one
                }
                if answers_as(addr, server.child.id()) {
                    return Some(server);
                }
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            // Keep the directory for the next attempt.
            let _ = server.child.wait();
            server.dir = PathBuf::new();
        }
        panic!("redis-server did not start: five ports taken in a row");
    }

    /// Stop it (SIGKILL) without removing its directory; returns the directory.
    pub fn kill(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::take(&mut self.dir);
        std::mem::forget(self);
        dir
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether the server at `addr` is the process `pid` (its INFO's `process_id`).
fn answers_as(addr: SocketAddr, pid: u32) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let want = format!("\r\nprocess_id:{pid}\r\n");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < 64 * 1024 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&got);
        if text.contains(&want) {
            return true;
        }
        if text.contains("\r\nprocess_id:") && text.contains("\r\nrun_id:") {
            return false; // another server's INFO
        }
    }
    false
}
