//! MONITOR, CLIENT UNBLOCK, MEMORY USAGE and the gated DEBUG command.

mod common;

use std::time::Duration;

use common::{raw, read_some, resp, start};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn monitor_sees_commands_with_auth_redacted() {
    let (_s, addr) = start("127.0.5.1", &[]);
    let mut mon = TcpStream::connect(addr).await.unwrap();
    mon.write_all(&resp(&["MONITOR"])).await.unwrap();
    assert_eq!(
        read_some(&mut mon, Duration::from_millis(200)).await,
        b"+OK\r\n"
    );
    let _ = raw(
        addr,
        &[resp(&["SET", "k", "a b\n"]), resp(&["AUTH", "secret"])].concat(),
    )
    .await;
    let text =
        String::from_utf8_lossy(&read_some(&mut mon, Duration::from_millis(300)).await).to_string();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with('+') && lines[0].ends_with(r#"] "SET" "k" "a b\n""#),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("[0 127.0.0.1:") || lines[0].contains("[0 127.0.5.1"),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with(r#""AUTH" (redacted)"#), "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_unblock_as_timeout_or_error() {
    let (_s, addr) = start("127.0.5.2", &[]);
    for (mode, expected) in [
        ("TIMEOUT", "*-1\r\n"),
        (
            "ERROR",
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
        ),
    ] {
        let mut b = TcpStream::connect(addr).await.unwrap();
        b.write_all(&resp(&["CLIENT", "ID"])).await.unwrap();
        let id = String::from_utf8_lossy(&read_some(&mut b, Duration::from_millis(200)).await)
            .trim_start_matches(':')
            .trim()
            .to_string();
        b.write_all(&resp(&["BLPOP", "nothing", "0"]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = raw(addr, &resp(&["CLIENT", "UNBLOCK", &id, mode])).await;
        assert_eq!(out, b":1\r\n");
        let got = String::from_utf8_lossy(&read_some(&mut b, Duration::from_millis(300)).await)
            .to_string();
        assert_eq!(got, expected);
    }
    let out = raw(addr, &resp(&["CLIENT", "UNBLOCK", "999999"])).await;
    assert_eq!(out, b":0\r\n", "a client that is not blocked");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_usage_and_debug_gate() {
    let (_s, addr) = start("127.0.5.3", &[]);
    let out = raw(
        addr,
        &[
            resp(&["SET", "foo", "bar"]),
            resp(&["MEMORY", "USAGE", "foo"]),
            resp(&["MEMORY", "USAGE", "none"]),
        ]
        .concat(),
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(
        text.starts_with("+OK\r\n:") && text.ends_with("$-1\r\n"),
        "{text}"
    );
    let out = raw(addr, &resp(&["DEBUG", "SLEEP", "0"])).await;
    assert!(String::from_utf8_lossy(&out).starts_with("-ERR DEBUG command not allowed."));
    let (_s2, addr2) = start("127.0.5.4", &[("enable-debug-command", "yes")]);
    let out = raw(
        addr2,
        &[
            resp(&["DEBUG", "ERROR", "LOADING fake"]),
            resp(&["DEBUG", "SLEEP", "0"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(out, b"-LOADING fake\r\n+OK\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn tracking_off_and_lolwut() {
    let (_s, addr) = start("127.0.5.5", &[]);
    let out = raw(
        addr,
        &[resp(&["CLIENT", "GETREDIR"]), resp(&["LOLWUT"])].concat(),
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(text.starts_with(":-1\r\n$"), "{text}");
    assert!(text.contains("Redis ver. 7.2."), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_pause_holds_writes_until_it_ends() {
    let (_s, addr) = start("127.0.5.6", &[]);
    let out = raw(addr, &resp(&["CLIENT", "PAUSE", "400", "WRITE"])).await;
    assert_eq!(out, b"+OK\r\n");
    // Reads go on; a write waits for the pause.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&resp(&["GET", "k"])).await.unwrap();
    assert_eq!(
        read_some(&mut s, Duration::from_millis(100)).await,
        b"$-1\r\n"
    );
    let t = std::time::Instant::now();
    s.write_all(&resp(&["SET", "k", "v"])).await.unwrap();
    let out = read_some(&mut s, Duration::from_millis(600)).await;
    assert_eq!(out, b"+OK\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "the write waited: {:?}",
        t.elapsed()
    );
    // CLIENT UNPAUSE (not a write) ends a long WRITE pause at once.
    let _ = raw(addr, &resp(&["CLIENT", "PAUSE", "100000", "WRITE"])).await;
    let mut w = TcpStream::connect(addr).await.unwrap();
    w.write_all(&resp(&["SET", "k", "w"])).await.unwrap();
    assert!(
        read_some(&mut w, Duration::from_millis(200))
            .await
            .is_empty(),
        "the write waits"
    );
    let out = raw(addr, &resp(&["CLIENT", "UNPAUSE"])).await;
    assert_eq!(out, b"+OK\r\n");
    assert_eq!(
        read_some(&mut w, Duration::from_millis(300)).await,
        b"+OK\r\n"
    );
    let out = raw(addr, &resp(&["CLIENT", "PAUSE", "abc"])).await;
    assert_eq!(out, b"-ERR timeout is not an integer or out of range\r\n");
}
