//! Blocking pops: timeouts, wake-ups by other clients in arrival order, BLMOVE, sorted sets,
//! MULTI, and clients that leave while blocked.

mod common;

use std::time::{Duration, Instant};

use common::{raw, read_frames, resp, start, wait_blocked_clients};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn blocked(addr: std::net::SocketAddr, args: &[&str]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&resp(args)).await.unwrap();
    s
}

/// The next `frames` replies on `s`, as text.
async fn reply(s: &mut TcpStream, frames: usize) -> String {
    String::from_utf8_lossy(&read_frames(s, frames).await).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn blpop_times_out_with_a_null_array() {
    let (_s, addr) = start("127.0.4.1", &[]);
    let t = Instant::now();
    let out = raw(addr, &resp(&["BLPOP", "empty", "0.2"])).await;
    assert_eq!(out, b"*-1\r\n");
    assert!(t.elapsed() >= Duration::from_millis(200));
    let out = raw(addr, &resp(&["BLPOP", "empty", "-1"])).await;
    assert_eq!(out, b"-ERR timeout is negative\r\n");
    let out = raw(addr, &resp(&["BLPOP", "empty", "abc"])).await;
    assert_eq!(out, b"-ERR timeout is not a float or out of range\r\n");
    let out = raw(
        addr,
        &[resp(&["HELLO", "3"]), resp(&["BRPOP", "empty", "0.05"])].concat(),
    )
    .await;
    assert!(
        out.ends_with(b"_\r\n"),
        "RESP3 null: {}",
        String::from_utf8_lossy(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_wake_blocked_clients_in_arrival_order() {
    let (_s, addr) = start("127.0.4.2", &[]);
    // Arrival order is the order in which the engine blocked them: wait for each in turn.
    let mut first = blocked(addr, &["BLPOP", "jobs", "5"]).await;
    wait_blocked_clients(addr, 1).await;
    let mut second = blocked(addr, &["BLPOP", "jobs", "other", "5"]).await;
    wait_blocked_clients(addr, 2).await;
    let mut third = blocked(addr, &["BLPOP", "jobs", "5"]).await;
    wait_blocked_clients(addr, 3).await;
    let out = raw(addr, &resp(&["RPUSH", "jobs", "a", "b", "c"])).await;
    assert_eq!(out, b":3\r\n");
    assert_eq!(
        reply(&mut first, 1).await,
        "*2\r\n$4\r\njobs\r\n$1\r\na\r\n"
    );
    assert_eq!(
        reply(&mut second, 1).await,
        "*2\r\n$4\r\njobs\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        reply(&mut third, 1).await,
        "*2\r\n$4\r\njobs\r\n$1\r\nc\r\n"
    );
    let out = raw(addr, &resp(&["EXISTS", "jobs"])).await;
    assert_eq!(out, b":0\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn blmove_and_bzpopmin() {
    let (_s, addr) = start("127.0.4.3", &[]);
    let mut mover = blocked(addr, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "5"]).await;
    let mut zpop = blocked(addr, &["BZPOPMIN", "z", "5"]).await;
    wait_blocked_clients(addr, 2).await;
    let _ = raw(
        addr,
        &[
            resp(&["LPUSH", "src", "x"]),
            resp(&["ZADD", "z", "1.5", "m"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(reply(&mut mover, 1).await, "$1\r\nx\r\n");
    assert_eq!(
        reply(&mut zpop, 1).await,
        "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$3\r\n1.5\r\n"
    );
    let out = raw(addr, &resp(&["LRANGE", "dst", "0", "-1"])).await;
    assert_eq!(out, b"*1\r\n$1\r\nx\r\n");
    // BLMPOP with COUNT takes what is there without waiting.
    let _ = raw(addr, &resp(&["RPUSH", "l", "1", "2", "3"])).await;
    let out = raw(
        addr,
        &resp(&["BLMPOP", "1", "2", "nope", "l", "LEFT", "COUNT", "2"]),
    )
    .await;
    assert_eq!(out, b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_inside_multi_does_not_wait_and_wrongtype_errors() {
    let (_s, addr) = start("127.0.4.4", &[]);
    let t = Instant::now();
    let out = raw(
        addr,
        &[
            resp(&["MULTI"]),
            resp(&["BLPOP", "none", "10"]),
            resp(&["EXEC"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(out, b"+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n");
    assert!(t.elapsed() < Duration::from_secs(2));
    let out = raw(
        addr,
        &[resp(&["SET", "s", "v"]), resp(&["BLPOP", "s", "1"])].concat(),
    )
    .await;
    assert_eq!(
        out,
        b"+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_leaving_while_blocked_takes_nothing() {
    let (_s, addr) = start("127.0.4.5", &[]);
    let gone = blocked(addr, &["BLPOP", "q", "0"]).await;
    wait_blocked_clients(addr, 1).await;
    drop(gone);
    wait_blocked_clients(addr, 0).await;
    let out = raw(
        addr,
        &[
            resp(&["RPUSH", "q", "keep"]),
            resp(&["LRANGE", "q", "0", "-1"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(out, b":1\r\n*1\r\n$4\r\nkeep\r\n");
    // Commands pipelined after a blocking one run once it is served.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[resp(&["BLPOP", "w", "5"]), resp(&["PING"])].concat())
        .await
        .unwrap();
    wait_blocked_clients(addr, 1).await;
    let _ = raw(addr, &resp(&["RPUSH", "w", "1"])).await;
    assert_eq!(
        reply(&mut s, 2).await,
        "*2\r\n$1\r\nw\r\n$1\r\n1\r\n+PONG\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_rs_blpop_across_tasks() {
    let (_s, addr) = start("127.0.4.6", &[]);
    let waiter = tokio::spawn(async move {
        let mut c = common::client(addr).await;
        let v: Option<(String, String)> = redis::cmd("BRPOP")
            .arg("tasks")
            .arg(5)
            .query_async(&mut c)
            .await
            .unwrap();
        v
    });
    wait_blocked_clients(addr, 1).await;
    let mut c = common::client(addr).await;
    let _: i64 = redis::cmd("LPUSH")
        .arg("tasks")
        .arg("t1")
        .query_async(&mut c)
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(3), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, Some(("tasks".to_string(), "t1".to_string())));
}
