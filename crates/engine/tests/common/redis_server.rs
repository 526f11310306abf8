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
        let server = RedisServer {
            addr,
            dir: dir.to_path_buf(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(addr) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read(&mut buf)
                        .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
                {
                    return Some(server);
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
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
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
