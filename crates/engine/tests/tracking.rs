//! CLIENT TRACKING (client-side caching) over raw RESP: RESP3 invalidation pushes for keys a client
//! read, REDIRECT to a RESP2 subscriber of `__redis__:invalidate`, BCAST prefixes, NOLOOP, OPTIN with
//! CLIENT CACHING and FLUSHALL's null invalidation. (redis-py's own client-side cache refuses servers
//! that report a version below 7.4; redlink reports 7.2.4.)

mod common;

use std::time::Duration;

use common::{resp, start};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// `common::read_some` boxed: its 64 KB buffer would otherwise sit in this test's future once per
/// call (debug builds do not overlap them) and overflow the test thread's stack.
async fn recv(s: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    Box::pin(common::read_some(s, quiet)).await
}

/// What arrives within `window`, possibly nothing (for "no push" checks).
async fn silent(s: &mut TcpStream, window: Duration) -> Vec<u8> {
    Box::pin(common::read_window(s, window)).await
}

async fn send(s: &mut TcpStream, cmd: &[&str]) -> String {
    s.write_all(&resp(cmd)).await.expect("write");
    String::from_utf8_lossy(&recv(s, Duration::from_millis(150)).await).into_owned()
}

async fn connect(addr: std::net::SocketAddr, resp3: bool) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    if resp3 {
        let hello = send(&mut s, &["HELLO", "3"]).await;
        assert!(hello.starts_with('%'), "{hello}");
    }
    s
}

const INVALIDATE_K: &str = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn resp3_client_is_told_once_when_a_key_it_read_changes() {
    let (_s, addr) = start("127.0.5.40", &[]);
    let mut reader = connect(addr, true).await;
    let mut writer = connect(addr, false).await;
    assert_eq!(
        send(&mut reader, &["CLIENT", "TRACKING", "on"]).await,
        "+OK\r\n"
    );
    assert_eq!(send(&mut reader, &["GET", "k"]).await, "_\r\n");
    assert_eq!(send(&mut writer, &["SET", "k", "1"]).await, "+OK\r\n");
    assert_eq!(
        recv(&mut reader, Duration::from_millis(300)).await,
        INVALIDATE_K.as_bytes()
    );
    // Not read again: a second write sends nothing.
    send(&mut writer, &["SET", "k", "2"]).await;
    assert!(
        silent(&mut reader, Duration::from_millis(200))
            .await
            .is_empty()
    );
    // A key nobody read: nothing.
    send(&mut writer, &["SET", "other", "1"]).await;
    assert!(
        silent(&mut reader, Duration::from_millis(200))
            .await
            .is_empty()
    );
    // Its own write is reported too (no NOLOOP), FLUSHALL as a null list.
    send(&mut reader, &["GET", "k"]).await;
    let own = send(&mut reader, &["DEL", "k"]).await;
    assert!(
        own.contains(INVALIDATE_K) && own.contains(":1\r\n"),
        "{own:?}"
    );
    send(&mut writer, &["FLUSHALL"]).await;
    assert_eq!(
        recv(&mut reader, Duration::from_millis(300)).await,
        b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    );
    let info = send(&mut reader, &["CLIENT", "TRACKINGINFO"]).await;
    assert!(info.contains("on") && info.contains(":0\r\n"), "{info}");
    assert_eq!(
        send(&mut reader, &["CLIENT", "TRACKING", "off"]).await,
        "+OK\r\n"
    );
    send(&mut reader, &["GET", "k"]).await;
    send(&mut writer, &["SET", "k", "3"]).await;
    assert!(
        silent(&mut reader, Duration::from_millis(200))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_to_a_resp2_subscriber() {
    let (_s, addr) = start("127.0.5.41", &[]);
    // RESP2: invalidations go to a subscriber of __redis__:invalidate.
    let mut sink = connect(addr, false).await;
    let id = send(&mut sink, &["CLIENT", "ID"]).await;
    let id = id.trim_start_matches(':').trim().to_string();
    let sub = send(&mut sink, &["SUBSCRIBE", "__redis__:invalidate"]).await;
    assert!(sub.contains("subscribe"), "{sub}");
    let mut c = connect(addr, false).await;
    assert_eq!(
        send(&mut c, &["CLIENT", "TRACKING", "on", "REDIRECT", &id]).await,
        "+OK\r\n"
    );
    assert_eq!(
        send(&mut c, &["CLIENT", "GETREDIR"]).await,
        format!(":{id}\r\n")
    );
    send(&mut c, &["GET", "k"]).await;
    let mut w = connect(addr, false).await;
    send(&mut w, &["SET", "k", "v"]).await;
    assert_eq!(
        recv(&mut sink, Duration::from_millis(300)).await,
        b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bcast_prefix_noloop() {
    let (_s, addr) = start("127.0.5.43", &[]);
    let mut w = connect(addr, false).await;
    // BCAST with a prefix and NOLOOP: every write under the prefix by others, none of its own.
    let mut b = connect(addr, true).await;
    assert_eq!(
        send(
            &mut b,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "NOLOOP"
            ]
        )
        .await,
        "+OK\r\n"
    );
    send(&mut w, &["SET", "user:1", "x"]).await;
    send(&mut w, &["SET", "order:1", "x"]).await;
    assert_eq!(
        recv(&mut b, Duration::from_millis(300)).await,
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nuser:1\r\n"
    );
    assert_eq!(send(&mut b, &["SET", "user:2", "own"]).await, "+OK\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn optin_and_errors() {
    let (_s, addr) = start("127.0.5.44", &[]);
    let mut w = connect(addr, false).await;
    // OPTIN: only the read after CLIENT CACHING yes is remembered.
    let mut o = connect(addr, true).await;
    send(&mut o, &["CLIENT", "TRACKING", "on", "OPTIN"]).await;
    send(&mut o, &["GET", "a"]).await;
    assert_eq!(send(&mut o, &["CLIENT", "CACHING", "yes"]).await, "+OK\r\n");
    send(&mut o, &["GET", "b"]).await;
    send(&mut w, &["MSET", "a", "1", "b", "2"]).await;
    assert_eq!(
        recv(&mut o, Duration::from_millis(300)).await,
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n"
    );

    // Errors as redis-server 7 words them.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["CLIENT", "TRACKING", "on", "PREFIX", "a"],
            "PREFIX option requires BCAST mode to be enabled",
        ),
        (
            vec!["CLIENT", "TRACKING", "on", "REDIRECT", "99999"],
            "The client ID you want redirect to does not exist",
        ),
        (
            vec!["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
            "You can't specify both OPTIN mode and OPTOUT mode",
        ),
        (vec!["CLIENT", "TRACKING", "maybe"], "syntax error"),
        (
            vec!["CLIENT", "CACHING", "yes"],
            "CLIENT CACHING can be called only when the client is in tracking mode",
        ),
    ];
    for (cmd, text) in cases {
        let mut fresh = connect(addr, false).await;
        let got = send(&mut fresh, &cmd).await;
        assert!(got.starts_with('-') && got.contains(text), "{cmd:?}: {got}");
    }
}
