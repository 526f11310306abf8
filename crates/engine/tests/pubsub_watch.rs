//! Pub/Sub (RESP2 and RESP3 pushes, subscribed-mode restrictions, patterns) and WATCH semantics.

mod common;

use std::time::Duration;

use common::{raw, read_some, resp, start};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn send(s: &mut TcpStream, args: &[&str]) -> String {
    s.write_all(&resp(args)).await.unwrap();
    String::from_utf8_lossy(&read_some(s, Duration::from_millis(200)).await).to_string()
}

/// Send several commands one after the other and concatenate the replies.
async fn sends(s: &mut TcpStream, cmds: &[&[&str]]) -> String {
    let mut out = String::new();
    for c in cmds {
        out.push_str(&Box::pin(send(s, c)).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_reaches_channel_and_pattern_subscribers() {
    let (_s, addr) = start("127.0.3.1", &[]);
    let mut sub = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        send(&mut sub, &["SUBSCRIBE", "news", "alerts"]).await,
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$6\r\nalerts\r\n:2\r\n"
    );
    let mut psub = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        send(&mut psub, &["PSUBSCRIBE", "n*"]).await,
        "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    );
    // RESP2 subscribed mode allows only a few commands.
    assert_eq!(
        send(&mut sub, &["GET", "x"]).await,
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        send(&mut sub, &["PING"]).await,
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    let n = raw(addr, &resp(&["PUBLISH", "news", "hello"])).await;
    assert_eq!(n, b":2\r\n");
    let got =
        String::from_utf8_lossy(&read_some(&mut sub, Duration::from_millis(300)).await).to_string();
    assert_eq!(got, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    let got = String::from_utf8_lossy(&read_some(&mut psub, Duration::from_millis(300)).await)
        .to_string();
    assert_eq!(
        got,
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    let out = raw(
        addr,
        &[
            resp(&["PUBSUB", "NUMSUB", "news", "none"]),
            resp(&["PUBSUB", "NUMPAT"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(out, b"*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n:1\r\n");
    assert_eq!(
        send(&mut sub, &["UNSUBSCRIBE"])
            .await
            .matches("unsubscribe")
            .count(),
        2
    );
    // Out of subscribed mode, ordinary commands work again.
    assert_eq!(send(&mut sub, &["PING"]).await, "+PONG\r\n");
    drop(sub);
    common::wait_until("a closed subscriber is forgotten", || async {
        raw(addr, &resp(&["PUBLISH", "alerts", "x"])).await == b":0\r\n"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resp3_pushes_and_commands_while_subscribed() {
    let (_s, addr) = start("127.0.3.2", &[]);
    let mut sub = TcpStream::connect(addr).await.unwrap();
    let hello = send(&mut sub, &["HELLO", "3"]).await;
    assert!(hello.starts_with("%7"), "{hello}");
    assert_eq!(
        send(&mut sub, &["SUBSCRIBE", "ch"]).await,
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    // RESP3 clients may run any command while subscribed.
    assert_eq!(send(&mut sub, &["SET", "k", "v"]).await, "+OK\r\n");
    let _ = raw(addr, &resp(&["PUBLISH", "ch", "m"])).await;
    let got =
        String::from_utf8_lossy(&read_some(&mut sub, Duration::from_millis(300)).await).to_string();
    assert_eq!(got, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_rs_pubsub() {
    let (_s, addr) = start("127.0.3.3", &[]);
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("events").await.unwrap();
    let mut stream = pubsub.on_message();
    let mut c = common::client(addr).await;
    let n: i64 = redis::cmd("PUBLISH")
        .arg("events")
        .arg("payload")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1);
    use futures_util::StreamExt;
    let msg = tokio::time::timeout(Duration::from_secs(2), stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.get_channel_name(), "events");
    let payload: String = msg.get_payload().unwrap();
    assert_eq!(payload, "payload");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_aborts_exec_when_a_key_changes() {
    let (_s, addr) = start("127.0.3.4", &[]);
    let mut a = TcpStream::connect(addr).await.unwrap();
    assert_eq!(send(&mut a, &["WATCH", "balance"]).await, "+OK\r\n");
    let _ = raw(addr, &resp(&["SET", "balance", "10"])).await;
    let out = sends(&mut a, &[&["MULTI"], &["SET", "balance", "5"], &["EXEC"]]).await;
    assert_eq!(out, "+OK\r\n+QUEUED\r\n*-1\r\n");
    // Untouched watch: EXEC runs.
    let out = sends(
        &mut a,
        &[
            &["WATCH", "balance"],
            &["MULTI"],
            &["INCR", "balance"],
            &["EXEC"],
        ],
    )
    .await;
    assert_eq!(out, "+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n:11\r\n");
    // Expiry counts as a change.
    // (raw and send each wait ~0.3 s for quiet, so the key is still alive at WATCH time.)
    let _ = raw(addr, &resp(&["SET", "temp", "1", "PX", "1500"])).await;
    assert_eq!(send(&mut a, &["WATCH", "temp"]).await, "+OK\r\n");
    common::wait_until("temp expires", || async {
        raw(addr, &resp(&["PTTL", "temp"])).await == b":-2\r\n"
    })
    .await;
    let out = sends(&mut a, &[&["MULTI"], &["SET", "x", "1"], &["EXEC"]]).await;
    assert_eq!(out, "+OK\r\n+QUEUED\r\n*-1\r\n");
    // FLUSHDB touches every watched key; UNWATCH forgets them.
    assert_eq!(send(&mut a, &["WATCH", "balance"]).await, "+OK\r\n");
    let _ = raw(addr, &resp(&["FLUSHDB"])).await;
    let out = sends(&mut a, &[&["MULTI"], &["EXEC"]]).await;
    assert_eq!(out, "+OK\r\n*-1\r\n");
    assert_eq!(send(&mut a, &["WATCH", "k"]).await, "+OK\r\n");
    assert_eq!(send(&mut a, &["UNWATCH"]).await, "+OK\r\n");
    let _ = raw(addr, &resp(&["SET", "k", "1"])).await;
    let out = sends(&mut a, &[&["MULTI"], &["EXEC"]]).await;
    assert_eq!(out, "+OK\r\n*0\r\n");
    let out = sends(&mut a, &[&["MULTI"], &["WATCH", "k"]]).await;
    assert_eq!(out, "+OK\r\n-ERR WATCH inside MULTI is not allowed\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_watch_increments_never_lose_updates() {
    let (_s, addr) = start("127.0.3.5", &[]);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(tokio::spawn(async move {
            // One connection per task: WATCH state belongs to the connection.
            let mut con = common::client(addr).await;
            let mut done = 0;
            while done < 25 {
                let _: () = redis::cmd("WATCH")
                    .arg("counter")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                let cur: Option<i64> = redis::cmd("GET")
                    .arg("counter")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                let r: Option<(String,)> = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg("counter")
                    .arg(cur.unwrap_or(0) + 1)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                if r.is_some() {
                    done += 1;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = common::client(addr).await;
    let v: i64 = redis::cmd("GET")
        .arg("counter")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, 200, "optimistic locking with WATCH loses no increment");
}

/// CLIENT REPLY as redis-server 7.0.15: SKIP drops the next command's reply only, OFF drops every
/// reply (errors included) until ON, whose own +OK is sent; SKIP while OFF changes nothing. Pub/Sub
/// output is pushed whatever the setting (Redis's `CLIENT_PUSHING`), RESP2 and RESP3.
#[tokio::test(flavor = "multi_thread")]
async fn client_reply_off_and_skip_keep_pushes() {
    let (_s, addr) = start("127.0.5.60", &[]);
    let mut c = TcpStream::connect(addr).await.unwrap();
    let pipeline = |cmds: &[&[&str]]| cmds.iter().flat_map(|c| resp(c)).collect::<Vec<u8>>();
    c.write_all(&pipeline(&[
        &["CLIENT", "REPLY", "SKIP"],
        &["SET", "a", "1"],
        &["GET", "a"],
    ]))
    .await
    .unwrap();
    assert_eq!(common::read_frames(&mut c, 1).await, b"$1\r\n1\r\n");
    c.write_all(&pipeline(&[
        &["CLIENT", "REPLY", "OFF"],
        &["SET", "a", "2"],
        &["GET", "a"],
        &["NOSUCHCOMMAND"],
        &["CLIENT", "REPLY", "SKIP"],
        &["PING"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
    ]))
    .await
    .unwrap();
    assert_eq!(common::read_frames(&mut c, 2).await, b"+OK\r\n$1\r\n2\r\n");
    assert_eq!(
        send(&mut c, &["CLIENT", "REPLY", "MAYBE"]).await,
        "-ERR syntax error\r\n"
    );

    // RESP2: subscription confirmations and messages are pushes.
    let mut p = TcpStream::connect(addr).await.unwrap();
    c.write_all(&pipeline(&[
        &["CLIENT", "REPLY", "OFF"],
        &["SUBSCRIBE", "ch"],
    ]))
    .await
    .unwrap();
    assert_eq!(
        common::read_frames(&mut c, 1).await,
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(send(&mut p, &["PUBLISH", "ch", "hi"]).await, ":1\r\n");
    assert_eq!(
        common::read_frames(&mut c, 1).await,
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    c.write_all(&pipeline(&[&["UNSUBSCRIBE"], &["CLIENT", "REPLY", "ON"]]))
        .await
        .unwrap();
    assert_eq!(
        common::read_frames(&mut c, 2).await,
        b"*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n+OK\r\n"
    );

    // RESP3 (the Tcl suite's "PubSub messages with CLIENT REPLY OFF").
    let mut r = TcpStream::connect(addr).await.unwrap();
    assert!(send(&mut r, &["HELLO", "3"]).await.starts_with('%'));
    r.write_all(&pipeline(&[
        &["CLIENT", "REPLY", "OFF"],
        &["SUBSCRIBE", "channel"],
        &["PSUBSCRIBE", "ch*"],
    ]))
    .await
    .unwrap();
    assert_eq!(
        common::read_frames(&mut r, 2).await,
        b">3\r\n$9\r\nsubscribe\r\n$7\r\nchannel\r\n:1\r\n>3\r\n$10\r\npsubscribe\r\n$3\r\nch*\r\n:2\r\n"
    );
    assert_eq!(
        send(&mut p, &["PUBLISH", "channel", "hello"]).await,
        ":2\r\n"
    );
    assert_eq!(
        common::read_frames(&mut r, 2).await,
        b">3\r\n$7\r\nmessage\r\n$7\r\nchannel\r\n$5\r\nhello\r\n>4\r\n$8\r\npmessage\r\n$3\r\nch*\r\n$7\r\nchannel\r\n$5\r\nhello\r\n"
    );
    // Nothing else was sent meanwhile (no reply leaked).
    assert!(
        common::read_window(&mut r, Duration::from_millis(150))
            .await
            .is_empty()
    );
}
