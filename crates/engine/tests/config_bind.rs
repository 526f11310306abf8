//! CONFIG SET bind/port/tls-port that cannot be applied keeps the old listeners and answers
//! redis-server 7.0.15's error; `CONFIG GET` then agrees with the real sockets (issue 15, item 4).
//!
//! Binding fails on purpose with 192.0.2.1 (TEST-NET-1, never on this machine: bind() gets
//! EADDRNOTAVAIL and no packet is sent) or with a loopback port another socket holds.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Send one command on `s` and read its single-line reply (`+OK`, `-ERR …`).
async fn line(s: &mut TcpStream, args: &[&str]) -> String {
    s.write_all(&common::resp(args)).await.expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(b"\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("reply in time")
            .expect("read");
        assert!(n > 0, "connection closed");
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).trim_end().to_string()
}

async fn config_get(addr: SocketAddr, name: &str) -> String {
    let mut c = common::client(addr).await;
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(&mut c)
        .await
        .expect("config get");
    v.get(1).cloned().unwrap_or_default()
}

/// A fresh connection to `addr` gets PONG.
async fn answers(addr: SocketAddr) -> bool {
    let Ok(Ok(mut s)) =
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
    else {
        return false;
    };
    line(&mut s, &["PING"]).await == "+PONG"
}

/// Connections to `addr` are refused (waits for a listener being closed to go).
async fn refused_soon(addr: SocketAddr) -> bool {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

const BIND_ERR: &str = "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.";
const PORT_ERR: &str = "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.";

#[tokio::test]
async fn bind_to_an_address_not_on_the_machine_keeps_the_old_listener() {
    let (_server, addr) = common::start("127.0.15.10", &[]);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        line(&mut s, &["CONFIG", "SET", "bind", "192.0.2.1"]).await,
        BIND_ERR
    );
    // One good and one impossible address: all or nothing.
    assert_eq!(
        line(&mut s, &["CONFIG", "SET", "bind", "127.0.15.11 192.0.2.1"]).await,
        BIND_ERR
    );
    assert_eq!(
        line(&mut s, &["CONFIG", "SET", "bind", "not-an-ip"]).await,
        BIND_ERR
    );
    assert_eq!(config_get(addr, "bind").await, "127.0.15.10");
    assert!(answers(addr).await, "the old listener still serves");
    let other: SocketAddr = format!("127.0.15.11:{}", addr.port())
        .parse()
        .expect("addr");
    assert!(
        TcpStream::connect(other).await.is_err(),
        "nothing half-bound"
    );
    // The connection that asked is still served too.
    assert_eq!(line(&mut s, &["PING"]).await, "+PONG");
}

#[tokio::test]
async fn port_in_use_keeps_the_old_port() {
    let (_server, addr) = common::start("127.0.15.12", &[]);
    let holder = std::net::TcpListener::bind("127.0.15.12:0").expect("hold a port");
    let taken = holder.local_addr().expect("addr").port().to_string();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        line(&mut s, &["CONFIG", "SET", "port", &taken]).await,
        PORT_ERR
    );
    assert_eq!(config_get(addr, "port").await, addr.port().to_string());
    assert!(answers(addr).await);
    // Several options: the first whose change fails is named, as Redis's apply order does.
    let free = common::free_port("127.0.15.12").to_string();
    assert_eq!(
        line(
            &mut s,
            &["CONFIG", "SET", "port", &free, "bind", "192.0.2.1"]
        )
        .await,
        PORT_ERR
    );
    assert_eq!(
        line(
            &mut s,
            &["CONFIG", "SET", "bind", "192.0.2.1", "port", &free]
        )
        .await,
        BIND_ERR
    );
    assert_eq!(config_get(addr, "port").await, addr.port().to_string());
    assert_eq!(config_get(addr, "bind").await, "127.0.15.12");
    drop(holder);
}

#[tokio::test]
async fn tls_port_without_certificates_is_refused() {
    let (_server, addr) = common::start("127.0.15.13", &[]);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let free = common::free_port("127.0.15.13").to_string();
    assert_eq!(
        line(&mut s, &["CONFIG", "SET", "tls-port", &free]).await,
        "-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to update TLS configuration. Check server logs."
    );
    assert_eq!(config_get(addr, "tls-port").await, "0");
    let tls: SocketAddr = format!("127.0.15.13:{free}").parse().expect("addr");
    assert!(TcpStream::connect(tls).await.is_err());
}

#[tokio::test]
async fn a_bind_that_works_moves_the_listener() {
    let (_server, addr) = common::start("127.0.15.14", &[]);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        line(&mut s, &["CONFIG", "SET", "bind", "127.0.15.15"]).await,
        "+OK"
    );
    let moved: SocketAddr = format!("127.0.15.15:{}", addr.port())
        .parse()
        .expect("addr");
    assert!(answers(moved).await);
    assert!(refused_soon(addr).await, "the old address closes");
    assert_eq!(config_get(moved, "bind").await, "127.0.15.15");
    // And a port move.
    let port = common::free_port("127.0.15.15");
    assert_eq!(
        line(&mut s, &["CONFIG", "SET", "port", &port.to_string()]).await,
        "+OK"
    );
    let new: SocketAddr = format!("127.0.15.15:{port}").parse().expect("addr");
    assert!(answers(new).await);
    assert!(refused_soon(moved).await);
}
