//! The one harness of the engine's integration tests (and of the root tests that need a free port):
//! start an engine in-process on an ephemeral port, connect redis-rs clients with timeouts that hold
//! on a loaded machine, talk raw RESP, and find free ports on distinct loopback addresses. Each test
//! binary includes it with `mod common;`, so one copy serves every test file.

#![allow(dead_code)]

pub mod inproc;
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
    let mut last = None;
    for _ in 0..20 {
        let mut c = config(ip, options);
        c.set_startup("port", &free_port(ip).to_string())
            .expect("port");
        match Server::start(Engine::new(c)) {
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

/// Send raw bytes and read what comes back until the server stops sending for a while.
pub async fn raw(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(input).await.expect("write");
    read_some(&mut s, Duration::from_millis(300)).await
}

/// Read until EOF or `quiet` passes without data.
pub async fn read_some(s: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
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
