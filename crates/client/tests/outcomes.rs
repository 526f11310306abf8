//! The client's names for real socket events on loopback: nothing listening (refused), an orderly
//! close after accept (closed), an RST after accept (reset, at the read and at every later write,
//! whether the OS says ECONNRESET or EPIPE), a server that never answers (no-reply), a TLS record
//! to a plain-text client (tls-error), and a source address that cannot be bound (error).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use redlink_client::net;
use redlink_client::{ClientError, Failure};
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const REPLY: Duration = Duration::from_secs(5);

/// A listener on loopback whose accepted connections `serve` handles.
async fn server<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            serve(s).await;
        }
    });
    addr
}

async fn dial(addr: SocketAddr) -> Result<TcpStream, ClientError> {
    let socket = net::bind(Ipv4Addr::LOCALHOST)?;
    net::connect(socket, addr, REPLY).await
}

/// Reads the request, so that closing does not turn into an RST because of unread data.
async fn read_request(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    let _ = s.read(&mut buf).await;
}

#[tokio::test]
async fn nothing_listening_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let e = dial(addr).await.expect_err("refused");
    assert_eq!(e.failure, Failure::Refused, "{e}");
    assert_eq!(e.errno_name(), Some("ECONNREFUSED"));
}

#[tokio::test]
async fn an_orderly_close_after_accept_is_closed() {
    let addr = server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s.shutdown().await;
    })
    .await;
    let mut s = dial(addr).await.expect("connects");
    let e = net::request(&mut s, &["PING"], REPLY)
        .await
        .expect_err("closed");
    assert_eq!(e.failure, Failure::Closed, "{e}");
    assert_eq!(e.errno, None);
}

#[tokio::test]
async fn an_rst_after_accept_is_reset_at_the_read_and_every_later_write() {
    let addr = server(|mut s| async move {
        read_request(&mut s).await;
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        drop(s);
    })
    .await;
    let mut s = dial(addr).await.expect("connects");
    let e = net::request(&mut s, &["PING"], REPLY)
        .await
        .expect_err("reset");
    assert_eq!(e.failure, Failure::Reset, "{e}");
    assert_eq!(e.errno_name(), Some("ECONNRESET"));
    // The connection is gone: later writes fail with EPIPE (or ECONNRESET), named the same.
    let mut seen = Vec::new();
    for _ in 0..3 {
        if let Err(e) = net::send(&mut s, &["PING"]).await {
            assert_eq!(e.failure, Failure::Reset, "{e}");
            seen.extend(e.errno_name());
        }
    }
    assert!(
        seen.iter().any(|n| *n == "EPIPE" || *n == "ECONNRESET"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn silence_after_accept_is_no_reply() {
    let (hold, held) = tokio::sync::oneshot::channel::<()>();
    let addr = server(|mut s| async move {
        read_request(&mut s).await;
        let _ = held.await;
    })
    .await;
    let mut s = dial(addr).await.expect("connects");
    let e = net::request(&mut s, &["PING"], Duration::from_millis(100))
        .await
        .expect_err("no reply");
    assert_eq!(e.failure, Failure::NoReply, "{e}");
    drop(hold);
}

#[tokio::test]
async fn a_tls_record_to_a_plain_client_is_a_tls_error() {
    let addr = server(|mut s| async move {
        read_request(&mut s).await;
        // A TLS alert record (decode_error), as a TLS port answers plain text.
        let _ = s.write_all(b"\x15\x03\x03\x00\x02\x02\x32").await;
        let _ = s.shutdown().await;
    })
    .await;
    let mut s = dial(addr).await.expect("connects");
    let e = net::request(&mut s, &["PING"], REPLY)
        .await
        .expect_err("TLS");
    assert_eq!(e.failure, Failure::Tls, "{e}");
}

#[tokio::test]
async fn a_source_that_is_not_local_is_an_error() {
    // TEST-NET-1: never an address of this machine.
    let e = net::bind(Ipv4Addr::new(192, 0, 2, 1)).expect_err("cannot bind");
    assert_eq!(e.failure, Failure::Error, "{e}");
    assert_eq!(e.errno_name(), Some("EADDRNOTAVAIL"));
}
