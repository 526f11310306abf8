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

fn inv(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    s
}

async fn frames(s: &mut TcpStream, n: usize) -> String {
    String::from_utf8_lossy(&Box::pin(common::read_frames(s, n)).await).into_owned()
}

/// BCAST as Redis's prefix table: the keys a command (a whole transaction) changed go out once per
/// prefix, in key order; enabling again adds prefixes; overlapping prefixes are refused with
/// Redis's texts; CLIENT TRACKINGINFO and INFO report them.
#[tokio::test(flavor = "multi_thread")]
async fn bcast_one_message_per_prefix_and_added_prefixes() {
    let (_s, addr) = start("127.0.5.45", &[]);
    let mut b = connect(addr, true).await;
    let mut w = connect(addr, false).await;
    assert_eq!(
        send(
            &mut b,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:"
            ]
        )
        .await,
        "+OK\r\n"
    );
    let mut tx = Vec::new();
    for c in [
        &["MULTI"][..],
        &["INCR", "b:2"],
        &["INCR", "a:2"],
        &["INCR", "a:1"],
        &["INCR", "b:1"],
        &["INCR", "c:1"],
        &["EXEC"],
    ] {
        tx.extend(resp(c));
    }
    w.write_all(&tx).await.expect("write");
    assert_eq!(
        frames(&mut w, 7).await,
        format!(
            "+OK\r\n{}*5\r\n{}",
            "+QUEUED\r\n".repeat(5),
            ":1\r\n".repeat(5)
        )
    );
    assert_eq!(
        frames(&mut b, 2).await,
        inv(&["a:1", "a:2"]) + &inv(&["b:1", "b:2"])
    );
    assert_eq!(
        send(
            &mut b,
            &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:"]
        )
        .await,
        "+OK\r\n"
    );
    send(&mut w, &["INCR", "c:1234"]).await;
    assert_eq!(frames(&mut b, 1).await, inv(&["c:1234"]));
    let info = send(&mut b, &["CLIENT", "TRACKINGINFO"]).await;
    assert!(
        info.ends_with("$8\r\nprefixes\r\n*3\r\n$2\r\na:\r\n$2\r\nb:\r\n$2\r\nc:\r\n"),
        "{info:?}"
    );
    let stats = send(&mut w, &["INFO", "stats"]).await;
    assert!(stats.contains("tracking_total_prefixes:3\r\n"), "{stats}");
    let clients = send(&mut w, &["INFO", "clients"]).await;
    assert!(clients.contains("tracking_clients:1\r\n"), "{clients}");
    for (prefixes, text) in [
        (
            vec!["FOOBAR", "FOO"],
            "-ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not overlap.\r\n",
        ),
        (
            vec!["a"],
            "-ERR Prefix 'a' overlaps with an existing prefix 'a:'. Prefixes for a single client must not overlap.\r\n",
        ),
    ] {
        let mut cmd = vec!["CLIENT", "TRACKING", "on", "BCAST"];
        for p in prefixes {
            cmd.extend(["PREFIX", p]);
        }
        assert_eq!(send(&mut b, &cmd).await, text);
    }
}

/// Default mode sends one message per key (Redis's `sendTrackingMessage` per key), after the reply
/// of the client's own command; NOLOOP drops the client's own writes in both modes.
#[tokio::test(flavor = "multi_thread")]
async fn one_message_per_key_and_noloop() {
    let (_s, addr) = start("127.0.5.46", &[]);
    let mut r = connect(addr, true).await;
    let mut w = connect(addr, false).await;
    send(&mut r, &["CLIENT", "TRACKING", "on"]).await;
    send(&mut r, &["MGET", "k1", "k2"]).await;
    send(&mut w, &["MSET", "k2", "1", "k1", "1"]).await;
    assert_eq!(frames(&mut r, 2).await, inv(&["k2"]) + &inv(&["k1"]));
    send(&mut r, &["MGET", "k1", "k2"]).await;
    r.write_all(&resp(&["MSET", "k1", "2", "k2", "2"]))
        .await
        .expect("write");
    assert_eq!(
        frames(&mut r, 3).await,
        "+OK\r\n".to_string() + &inv(&["k1"]) + &inv(&["k2"])
    );
    send(&mut r, &["CLIENT", "TRACKING", "off"]).await;
    send(&mut r, &["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]).await;
    send(&mut r, &["SET", "own", "1"]).await;
    send(&mut w, &["SET", "other", "1"]).await;
    assert_eq!(frames(&mut r, 1).await, inv(&["other"]));
    assert!(silent(&mut r, Duration::from_millis(150)).await.is_empty());
}

/// Keys removed by expiry are invalidated, even for a NOLOOP client that set them (Redis signals
/// expiry with no client).
#[tokio::test(flavor = "multi_thread")]
async fn expired_keys_are_invalidated() {
    let (_s, addr) = start("127.0.5.47", &[("enable-debug-command", "yes")]);
    let mut r = connect(addr, true).await;
    send(&mut r, &["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]).await;
    // Its own writes are not reported (NOLOOP); the active expiry cycle removes the key within a
    // few of its 100 ms ticks, and that is.
    let mut both = resp(&["SET", "mykey", "v", "PX", "1"]);
    both.extend(resp(&["SET", "mykeyother", "v"]));
    r.write_all(&both).await.expect("write");
    assert_eq!(
        frames(&mut r, 3).await,
        "+OK\r\n+OK\r\n".to_string() + &inv(&["mykey"])
    );
    // Lazy expiry by a default-mode reader's own read.
    let mut d = connect(addr, true).await;
    send(&mut d, &["CLIENT", "TRACKING", "on", "NOLOOP"]).await;
    send(&mut d, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await;
    send(&mut d, &["SET", "lazy", "v", "PX", "200"]).await;
    assert_eq!(send(&mut d, &["GET", "lazy"]).await, "$1\r\nv\r\n");
    tokio::time::sleep(Duration::from_millis(250)).await;
    d.write_all(&resp(&["GET", "lazy"])).await.expect("write");
    assert_eq!(
        frames(&mut d, 2).await,
        "_\r\n".to_string() + &inv(&["lazy"])
    );
    send(&mut d, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).await;
}

/// A script that calls a read-only command makes its caller track the keys it declared (not the
/// keys it read); one that only writes, or EVAL_RO calling PING, tracks nothing.
#[tokio::test(flavor = "multi_thread")]
async fn scripts_track_their_declared_keys_after_a_read() {
    let (_s, addr) = start("127.0.5.48", &[]);
    let mut r = connect(addr, true).await;
    let mut w = connect(addr, false).await;
    send(&mut r, &["CLIENT", "TRACKING", "on"]).await;
    send(
        &mut r,
        &["EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2"],
    )
    .await;
    send(&mut r, &["EVAL_RO", "redis.call('ping')", "2", "k1", "k2"]).await;
    send(&mut w, &["MSET", "k2", "1", "k1", "1", "k3", "1"]).await;
    assert!(silent(&mut r, Duration::from_millis(150)).await.is_empty());
    send(
        &mut r,
        &["EVAL", "redis.call('get', 'k3')", "2", "k1", "k2"],
    )
    .await;
    send(&mut w, &["MSET", "k2", "2", "k1", "2", "k3", "2"]).await;
    assert_eq!(frames(&mut r, 2).await, inv(&["k2"]) + &inv(&["k1"]));
}

/// REDIRECT: a RESP3 target gets pushes without subscribing; once the target is gone the
/// tracking client gets `tracking-redir-broken` (RESP3) and TRACKINGINFO says `broken_redirect`.
#[tokio::test(flavor = "multi_thread")]
async fn redirect_to_resp3_and_broken_redirect() {
    let (_s, addr) = start("127.0.5.49", &[]);
    let mut target = connect(addr, true).await;
    let id = send(&mut target, &["CLIENT", "ID"]).await;
    let id = id.trim_start_matches(':').trim().to_string();
    let mut r = connect(addr, true).await;
    let mut w = connect(addr, false).await;
    send(&mut r, &["CLIENT", "TRACKING", "on", "REDIRECT", &id]).await;
    send(&mut r, &["GET", "k"]).await;
    send(&mut w, &["SET", "k", "1"]).await;
    assert_eq!(frames(&mut target, 1).await, inv(&["k"]));
    assert_eq!(send(&mut target, &["QUIT"]).await, "+OK\r\n");
    drop(target);
    common::wait_until("the target is gone", || async {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        !send(&mut c, &["CLIENT", "LIST"])
            .await
            .contains(&format!("id={id} "))
    })
    .await;
    send(&mut r, &["GET", "k"]).await;
    send(&mut w, &["SET", "k", "2"]).await;
    assert_eq!(
        frames(&mut r, 1).await,
        format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{id}\r\n")
    );
    let info = send(&mut r, &["CLIENT", "TRACKINGINFO"]).await;
    assert!(
        info.starts_with(&format!(
            "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:{id}\r\n"
        )),
        "{info:?}"
    );
    assert_eq!(
        send(
            &mut r,
            &["CLIENT", "TRACKING", "on", "REDIRECT", "1", "REDIRECT", "2"]
        )
        .await,
        "-ERR The client ID you want redirect to does not exist\r\n"
    );
}

/// CLIENT REPLY OFF does not hold back invalidation pushes, and the reply of CLIENT REPLY ON follows.
#[tokio::test(flavor = "multi_thread")]
async fn invalidations_pass_client_reply_off() {
    let (_s, addr) = start("127.0.5.50", &[]);
    let mut r = connect(addr, true).await;
    let mut w = connect(addr, false).await;
    send(&mut r, &["CLIENT", "TRACKING", "on"]).await;
    send(&mut r, &["GET", "foo"]).await;
    r.write_all(&resp(&["CLIENT", "REPLY", "OFF"]))
        .await
        .expect("write");
    send(&mut w, &["SET", "foo", "bar"]).await;
    assert_eq!(frames(&mut r, 1).await, inv(&["foo"]));
    assert_eq!(send(&mut r, &["CLIENT", "REPLY", "ON"]).await, "+OK\r\n");
    assert_eq!(send(&mut r, &["PING"]).await, "+PONG\r\n");
}

/// `tracking-table-max-keys` is applied before every command, queued ones included (Redis's
/// processCommand; the #11715 regression): the invalidation comes before QUEUED. A FLUSHALL
/// empties the table even while nobody tracks; SWAPDB is not reported (redis-server 7.0).
#[tokio::test(flavor = "multi_thread")]
async fn table_limit_before_each_command_and_flush_empties_table() {
    let (_s, addr) = start("127.0.5.51", &[("enable-debug-command", "yes")]);
    let mut r = connect(addr, true).await;
    let mut admin = connect(addr, false).await;
    assert_eq!(
        send(&mut admin, &["DEBUG", "PAUSE-CRON", "1"]).await,
        "+OK\r\n"
    );
    send(&mut r, &["CLIENT", "TRACKING", "on"]).await;
    send(&mut r, &["MGET", "1{t}", "2{t}"]).await;
    assert_eq!(send(&mut r, &["MULTI"]).await, "+OK\r\n");
    send(
        &mut admin,
        &["CONFIG", "SET", "tracking-table-max-keys", "1"],
    )
    .await;
    let queued = send(&mut r, &["PING"]).await;
    assert!(
        queued.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\n")
            && queued.ends_with("+QUEUED\r\n"),
        "{queued:?}"
    );
    assert_eq!(send(&mut r, &["EXEC"]).await, "*1\r\n+PONG\r\n");
    send(
        &mut admin,
        &["CONFIG", "SET", "tracking-table-max-keys", "0"],
    )
    .await;
    assert_eq!(
        send(&mut admin, &["DEBUG", "PAUSE-CRON", "0"]).await,
        "+OK\r\n"
    );
    let keys = |info: String| {
        info.lines()
            .find_map(|l| l.strip_prefix("tracking_total_keys:"))
            .map(str::to_string)
    };
    assert_eq!(
        keys(send(&mut admin, &["INFO", "stats"]).await).as_deref(),
        Some("1")
    );
    send(&mut r, &["CLIENT", "TRACKING", "off"]).await;
    send(&mut admin, &["FLUSHALL"]).await;
    assert_eq!(
        keys(send(&mut admin, &["INFO", "stats"]).await).as_deref(),
        Some("0")
    );
    send(&mut r, &["CLIENT", "TRACKING", "on"]).await;
    send(&mut r, &["GET", "k"]).await;
    send(&mut admin, &["SWAPDB", "0", "1"]).await;
    assert!(silent(&mut r, Duration::from_millis(150)).await.is_empty());
    send(&mut admin, &["FLUSHDB"]).await;
    assert_eq!(frames(&mut r, 1).await, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
}

/// A RESP2 REDIRECT target in Pub/Sub mode gets invalidations as `__redis__:invalidate` messages
/// even when subscribed to another channel only (Redis checks `CLIENT_PUBSUB`); one that
/// subscribes to nothing gets none.
#[tokio::test(flavor = "multi_thread")]
async fn resp2_redirect_target_in_pubsub_mode() {
    let (_s, addr) = start("127.0.5.52", &[]);
    let mut sink = connect(addr, false).await;
    let id = send(&mut sink, &["CLIENT", "ID"]).await;
    let id = id.trim_start_matches(':').trim().to_string();
    let mut r = connect(addr, false).await;
    let mut w = connect(addr, false).await;
    send(&mut r, &["CLIENT", "TRACKING", "on", "REDIRECT", &id]).await;
    send(&mut r, &["GET", "k"]).await;
    send(&mut w, &["SET", "k", "1"]).await;
    assert!(
        silent(&mut sink, Duration::from_millis(150))
            .await
            .is_empty()
    );
    assert_eq!(
        send(&mut sink, &["SUBSCRIBE", "other"]).await,
        "*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:1\r\n"
    );
    send(&mut r, &["GET", "k"]).await;
    send(&mut w, &["SET", "k", "2"]).await;
    assert_eq!(
        frames(&mut sink, 1).await,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    // A flush: Redis's RESP2 null ($-1) as the message.
    send(&mut w, &["FLUSHALL"]).await;
    assert_eq!(
        frames(&mut sink, 1).await,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    );
}
