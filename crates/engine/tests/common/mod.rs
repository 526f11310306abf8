//! The one harness of the engine's integration tests (and of the root tests that need a free port):
//! start an engine in-process on an ephemeral port, connect redis-rs clients with timeouts that hold
//! on a loaded machine, talk raw RESP, and find free ports on distinct loopback addresses. Each test
//! binary includes it with `mod common;`, so one copy serves every test file.

#![allow(dead_code)]

pub mod conn;
pub mod inproc;
pub mod redis_server;
pub mod reply;

use std::net::SocketAddr;
use std::time::Duration;

use redlink_engine::{Config, Engine, ServeError, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A configuration listening on `ip`, ephemeral port, with these extra options.
pub fn config(ip: &str, options: &[(&str, &str)]) -> Config {
    let mut c = Config::default();
    c.set_startup("bind", ip).expect("bind");
    c.set_startup("port", "0").expect("port");
    // No save points unless a test asks: no dump.rdb in the working directory.
    c.set_startup("save", "").expect("save");
    // Port 0 means "no plain listener" in Redis; the tests ask for an ephemeral one below.
    for (k, v) in options {
        c.set_startup(k, v).expect("option");
    }
    c
}

/// Start an engine with a plain listener on an ephemeral port of `ip` (inside a tokio runtime).
///
/// The engine reads port 0 as "no plain listener" (like redis-server), so the port comes from the OS
/// first; if another process takes it before the engine binds, the start is retried with a new one.
pub fn start(ip: &str, options: &[(&str, &str)]) -> (Server, SocketAddr) {
    start_with_clock(ip, options, redlink_engine::store::Clock::real())
}

/// [`start`] with the engine on `clock` (a manual clock: time moves only when the test says).
pub fn start_with_clock(
    ip: &str,
    options: &[(&str, &str)],
    clock: redlink_engine::store::Clock,
) -> (Server, SocketAddr) {
    let mut last = None;
    for _ in 0..20 {
        let mut c = config(ip, options);
        c.set_startup("port", &free_port(ip).to_string())
            .expect("port");
        match Server::start(Engine::with_clock(c, clock.clone())) {
            Ok(server) => {
                let addr = server
                    .listeners()
                    .into_iter()
                    .find(|l| !l.tls)
                    .expect("plain listener")
                    .addr;
                return (server, addr);
            }
            Err(e @ ServeError::Bind { .. }) => last = Some(e),
            Err(e) => panic!("server does not start: {e}"),
        }
    }
    panic!("server does not start: {last:?}");
}

/// Start an engine on 127.0.0.1 with the default configuration.
pub fn start_default() -> (Server, SocketAddr) {
    start("127.0.0.1", &[])
}

/// An engine serving TLS (and plain when asked) with certificates made for its address.
pub struct TlsServer {
    pub server: Server,
    /// The plain listener, if one was asked for.
    pub plain: Option<SocketAddr>,
    pub tls: SocketAddr,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub ca: Vec<u8>,
    /// Where the certificates are; removed on drop.
    pub dir: std::path::PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start an engine with a TLS listener (and a plain one if `plain`) on ephemeral ports of `ip`;
/// `tag` names its certificate directory. `tls-auth-clients` is `no`; `options` come last.
pub fn start_tls(ip: &str, tag: &str, plain: bool, options: &[(&str, &str)]) -> TlsServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("redlink-test-{tag}-{}", std::process::id()));
    let certs = redlink_engine::tls::auto_certificates(&dir, &[ip.into()]).expect("certificates");
    let ca = std::fs::read(&certs.ca).expect("CA certificate");
    let mut last = None;
    for _ in 0..20 {
        let mut c = config(ip, &[]);
        let plain_port = if plain { free_port(ip) } else { 0 };
        let tls_port = free_port(ip);
        for (k, v) in [
            ("port", plain_port.to_string()),
            ("tls-port", tls_port.to_string()),
            ("tls-cert-file", certs.cert.display().to_string()),
            ("tls-key-file", certs.key.display().to_string()),
            ("tls-ca-cert-file", certs.ca.display().to_string()),
            ("tls-auth-clients", "no".to_string()),
        ] {
            c.set_startup(k, &v).expect("TLS option");
        }
        for (k, v) in options {
            c.set_startup(k, v).expect("option");
        }
        match Server::start(Engine::new(c)) {
            Ok(server) => {
                let find = |tls: bool| {
                    server
                        .listeners()
                        .into_iter()
                        .find(|l| l.tls == tls)
                        .map(|l| l.addr)
                };
                let (plain, tls) = (find(false), find(true).expect("TLS listener"));
                return TlsServer {
                    server,
                    plain,
                    tls,
                    ca,
                    dir,
                };
            }
            Err(e @ ServeError::Bind { .. }) => last = Some(e),
            Err(e) => panic!("server does not start: {e}"),
        }
    }
    panic!("server does not start: {last:?}");
}

/// A redis-rs client for `rediss://addr/` trusting `ca` (PEM).
pub fn tls_client(addr: SocketAddr, ca: &[u8]) -> redis::Client {
    redis::Client::build_with_tls(
        format!("rediss://{addr}/"),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.to_vec()),
        },
    )
    .expect("TLS client")
}

/// A multiplexed connection from `client` with the test timeouts.
pub async fn connect_with(
    client: &redis::Client,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    client
        .get_multiplexed_async_connection_with_config(&client_config())
        .await
}

/// A port that is free on `ip` right now.
pub fn free_port(ip: &str) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).expect("ephemeral bind");
    l.local_addr().expect("local addr").port()
}

/// Timeouts for test clients: the redis crate's defaults (1 s to connect, 500 ms per reply) are
/// too short on a loaded 2-core machine and for tests that run slow scripts on purpose.
pub fn client_config() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_response_timeout(Some(Duration::from_secs(30)))
}

/// A redis-rs multiplexed connection to `url`, with the test timeouts.
pub async fn connect_url(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&client_config())
        .await
}

/// A redis-rs multiplexed connection (RESP2).
pub async fn client(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    connect_url(&format!("redis://{addr}/"))
        .await
        .expect("connect")
}

/// A redis-rs multiplexed connection speaking RESP3 (HELLO 3).
pub async fn client3(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    connect_url(&format!("redis://{addr}/?protocol=resp3"))
        .await
        .expect("connect (RESP3)")
}

/// A redis-rs connection in RESP3 when `resp3`, else RESP2.
pub async fn client_resp(addr: SocketAddr, resp3: bool) -> redis::aio::MultiplexedConnection {
    if resp3 {
        client3(addr).await
    } else {
        client(addr).await
    }
}

/// A redis-rs connection authenticated as `user` with `pass`.
pub async fn client_as(
    addr: SocketAddr,
    user: &str,
    pass: &str,
) -> redis::aio::MultiplexedConnection {
    connect_url(&format!("redis://{user}:{pass}@{addr}/"))
        .await
        .expect("connect as user")
}

/// Send raw bytes on a fresh connection and read the reply ([`read_some`]: up to [`PATIENCE`] for
/// the first bytes, then until the server stops sending for 300 ms or closes).
pub async fn raw(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(input).await.expect("write");
    read_some(&mut s, Duration::from_millis(300)).await
}

/// Read a reply that is sure to come: wait up to [`PATIENCE`] for the first bytes (or EOF), then
/// keep reading until EOF or `quiet` passes without data. A slow machine delays the reply but does
/// not cut it short. For "nothing arrives" checks use [`read_window`].
pub async fn read_some(s: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(PATIENCE.max(quiet), s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return out,
        Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
    }
    out.extend(read_window(s, quiet).await);
    out
}

/// Read whatever arrives until EOF or `quiet` passes without data, possibly nothing: for checks
/// that something is *not* sent (a quiet period is the only way to observe an absence).
pub async fn read_window(s: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match tokio::time::timeout(quiet, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether the peer closed the connection (EOF or reset) within `within`.
pub async fn closed(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Encode a command as a RESP multibulk.
pub fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    v
}

/// How long an awaited reply or condition may take before the test fails (a loaded 2-core machine
/// can stall a task for a second or more).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The length of the first complete RESP2/RESP3 frame in `b`, if `b` holds one.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(b.get(1..line_end)?).ok()?;
    let after = line_end + 2;
    match b.first()? {
        b'+' | b'-' | b':' | b',' | b'_' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let mut n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            if matches!(b[0], b'%' | b'|') {
                n *= 2;
            }
            let mut at = after;
            for _ in 0..n {
                at += frame_len(&b[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

/// Read until `n` complete RESP frames have arrived and return exactly those bytes; fails the test
/// if they take longer than [`PATIENCE`] or the connection closes first. For replies that are
/// certain to come: unlike [`read_some`], no quiet period decides when a reply is complete.
pub async fn read_frames(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut at = 0;
        let mut complete = 0;
        while complete < n
            && let Some(len) = frame_len(&buf[at..])
        {
            at += len;
            complete += 1;
        }
        if complete == n {
            assert_eq!(at, buf.len(), "more than {n} frames: {buf:?}");
            return buf;
        }
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!("closed before {n} frames: {buf:?}"),
            Ok(Ok(k)) => buf.extend_from_slice(&chunk[..k]),
            Err(_) => panic!("{n} frames not in within {PATIENCE:?}: {buf:?}"),
        }
    }
}

/// Wait until `check` holds, polling every 10 ms; fails the test with `what` after [`PATIENCE`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {PATIENCE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One field of `INFO section`, read over a fresh connection.
pub async fn info_field(addr: SocketAddr, section: &str, field: &str) -> String {
    let mut c = client(addr).await;
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query_async(&mut c)
        .await
        .expect("INFO");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{field} in INFO {section}"))
}

/// Wait until the engine counts `n` clients blocked (BLPOP and friends, WAIT, XREAD BLOCK…).
pub async fn wait_blocked_clients(addr: SocketAddr, n: usize) {
    wait_until(&format!("{n} blocked clients"), || async {
        info_field(addr, "clients", "blocked_clients").await == n.to_string()
    })
    .await
}

/// Wait until a script (EVAL or FCALL) runs on the engine. FUNCTION STATS is answered while a
/// script runs: it names the running function, or is refused with BUSY while an EVAL script runs.
pub async fn wait_script_running(c: &mut redis::aio::MultiplexedConnection) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let running = match reply::run(c, &["FUNCTION", "STATS"]).await {
            Err(e) => e.starts_with("BUSY"),
            Ok(redis::Value::Array(stats)) => stats.get(1).is_some_and(|r| *r != redis::Value::Nil),
            Ok(other) => panic!("FUNCTION STATS: {other:?}"),
        };
        if running {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no script running within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
