//! Shared helpers for integration tests: start an engine in-process on an ephemeral port, talk raw
//! RESP to it, and find free ports on distinct loopback addresses.

#![allow(dead_code)]

pub mod reply;

use std::net::SocketAddr;
use std::time::Duration;

use redlink_engine::{Config, Engine, Server};
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

/// Start an engine with a plain listener on an ephemeral port of `ip`.
pub fn start(ip: &str, options: &[(&str, &str)]) -> (Server, SocketAddr) {
    let mut c = config(ip, options);
    let port = free_port(ip);
    c.set_startup("port", &port.to_string()).expect("port");
    let server = Server::start(Engine::new(c)).expect("server starts");
    let addr = server
        .listeners()
        .into_iter()
        .find(|l| !l.tls)
        .expect("plain listener")
        .addr;
    (server, addr)
}

/// A port that is free on `ip` right now.
pub fn free_port(ip: &str) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).expect("ephemeral bind");
    l.local_addr().expect("local addr").port()
}

/// A redis-rs multiplexed connection.
pub async fn client(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://{addr}/"))
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
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
