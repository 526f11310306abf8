//! The shared harness works: an engine starts on an ephemeral loopback port and answers a client.

mod common;

#[tokio::test]
async fn engine_starts_and_answers_ping() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = common::client(addr).await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.expect("PING");
    assert_eq!(pong, "PONG");
    let raw = common::raw(addr, &common::resp(&["ECHO", "hi"])).await;
    assert_eq!(raw, b"$2\r\nhi\r\n");
}
