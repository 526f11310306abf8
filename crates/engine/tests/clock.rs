//! The engine on a manual clock (issue 23): `DEBUG CLOCK ADVANCE|SET|GET` moves time and fires
//! what became due at once and in order — keys expire with their `expired` notifications, blocked
//! clients time out, idle clients are closed — and TIME, OBJECT IDLETIME, CLIENT LIST, LASTSAVE and
//! stream IDs read the same clock. Bad input gets Redis-style errors.

mod common;

use std::time::{Duration, Instant};

use common::conn::{Conn, V, text};
use redlink_engine::store::Clock;

/// 2026-01-01T00:00:00Z: every test starts its clock here, so times are exact.
const START_MS: u64 = 1_767_225_600_000;

fn manual(
    ip: &str,
    options: &[(&str, &str)],
) -> (redlink_engine::Server, std::net::SocketAddr, Clock) {
    let clock = Clock::manual_at(START_MS);
    let mut opts = vec![("enable-debug-command", "yes")];
    opts.extend_from_slice(options);
    let (server, addr) = common::start_with_clock(ip, &opts, clock.clone());
    (server, addr, clock)
}

fn int(v: &V) -> i64 {
    match v {
        V::Int(i) => *i,
        other => panic!("an integer, got {other:?}"),
    }
}

/// The next Pub/Sub message's payload (the key of a keyevent notification).
async fn next_message(sub: &mut Conn) -> (String, String) {
    let V::Arr(items) = sub.read().await else {
        panic!("a Pub/Sub message");
    };
    (text(&items[2]), text(&items[3]))
}

#[tokio::test]
async fn set_ex_1800_survives_1799_s_and_expires_at_1800_s_with_its_notification() {
    let (_s, addr, _clock) = manual("127.0.23.1", &[("notify-keyspace-events", "Ex")]);
    let mut sub = Conn::open(addr).await;
    sub.call(&["PSUBSCRIBE", "__keyevent@0__:expired"]).await;
    let mut c = Conn::open(addr).await;
    assert_eq!(
        c.call(&["SET", "session", "v", "EX", "1800"]).await,
        V::Str(b"OK".to_vec())
    );
    let now = int(&c.call(&["DEBUG", "CLOCK", "ADVANCE", "1799s"]).await);
    assert_eq!(
        now as u64,
        START_MS + 1_799_000,
        "ADVANCE replies with the new time"
    );
    assert_eq!(text(&c.call(&["GET", "session"]).await), "v");
    assert_eq!(int(&c.call(&["TTL", "session"]).await), 1);
    assert_eq!(int(&c.call(&["PTTL", "session"]).await), 1000);
    assert_eq!(
        int(&c.call(&["EXPIRETIME", "session"]).await) as u64,
        (START_MS + 1_800_000) / 1000
    );
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "1s"]).await;
    // Removed by the move itself, not by a later access: DBSIZE counts keys not yet collected.
    assert_eq!(int(&c.call(&["DBSIZE"]).await), 0);
    assert_eq!(c.call(&["GET", "session"]).await, V::Nil);
    assert_eq!(
        next_message(&mut sub).await,
        ("__keyevent@0__:expired".to_string(), "session".to_string())
    );
    let info = text(&c.call(&["INFO", "stats"]).await);
    assert!(info.contains("expired_keys:1\r\n"), "{info}");
}

#[tokio::test]
async fn one_advance_expires_keys_in_order_of_their_expiry() {
    let (_s, addr, _clock) = manual("127.0.23.2", &[("notify-keyspace-events", "Ex")]);
    let mut sub = Conn::open(addr).await;
    sub.call(&["SUBSCRIBE", "__keyevent@0__:expired"]).await;
    let mut c = Conn::open(addr).await;
    c.call(&["SET", "a", "1", "EX", "30"]).await;
    c.call(&["SET", "b", "1", "PX", "10000"]).await;
    c.call(&["SET", "c", "1"]).await;
    c.call(&["PEXPIREAT", "c", &(START_MS + 20_000).to_string()])
        .await;
    c.call(&["SET", "later", "1", "EX", "3600"]).await;
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "1m"]).await;
    let mut order = Vec::new();
    for _ in 0..3 {
        let V::Arr(items) = sub.read().await else {
            panic!("a message")
        };
        order.push(text(&items[2]));
    }
    assert_eq!(order, ["b", "c", "a"]);
    assert_eq!(int(&c.call(&["DBSIZE"]).await), 1, "`later` is not due yet");
}

#[tokio::test]
async fn blpop_600_returns_nil_at_once_after_advance_600s() {
    let (_s, addr, _clock) = manual("127.0.23.3", &[]);
    let mut blocked = Conn::open(addr).await;
    blocked
        .send(&[b"BLPOP".to_vec(), b"queue".to_vec(), b"600".to_vec()])
        .await;
    common::wait_blocked_clients(addr, 1).await;
    let mut c = Conn::open(addr).await;
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "599s"]).await;
    // Still blocked one second before its timeout.
    let mut probe = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(200), blocked.s.peek(&mut probe)).await;
    assert!(early.is_err(), "BLPOP answered before its timeout");
    let moved = Instant::now();
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "1s"]).await;
    assert_eq!(blocked.read().await, V::Nil);
    // Not 600 s of real time: at once (loose bound for a loaded machine).
    assert!(
        moved.elapsed() < Duration::from_secs(5),
        "{:?}",
        moved.elapsed()
    );
    common::wait_blocked_clients(addr, 0).await;
}

#[tokio::test]
async fn time_object_idletime_client_list_and_lastsave_follow_the_clock() {
    let (_s, addr, _clock) = manual("127.0.23.4", &[]);
    let mut c = Conn::open(addr).await;
    let time = |v: V| -> u64 {
        let V::Arr(parts) = v else { panic!("TIME") };
        text(&parts[0]).parse::<u64>().expect("secs") * 1_000_000
            + text(&parts[1]).parse::<u64>().expect("micros")
    };
    let t0 = time(c.call(&["TIME"]).await);
    assert_eq!(t0, START_MS * 1000);
    assert_eq!(int(&c.call(&["LASTSAVE"]).await) as u64, START_MS / 1000);
    c.call(&["SET", "k", "v"]).await;
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "90s"]).await;
    assert_eq!(
        time(c.call(&["TIME"]).await) - t0,
        90_000_000,
        "TIME moves by exactly the advance"
    );
    assert_eq!(int(&c.call(&["OBJECT", "IDLETIME", "k"]).await), 90);
    let info = text(&c.call(&["CLIENT", "INFO"]).await);
    assert!(info.contains(" age=90 "), "{info}");
    let mut idle = Conn::open(addr).await;
    idle.call(&["PING"]).await;
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "30s"]).await;
    let list = text(&c.call(&["CLIENT", "LIST"]).await);
    assert!(
        list.lines().any(|l| l.contains(" age=30 idle=30 ")),
        "the idle client is 30 s old and idle: {list}"
    );
    let uptime = text(&c.call(&["INFO", "server"]).await);
    assert!(uptime.contains("uptime_in_seconds:120\r\n"), "{uptime}");
}

#[tokio::test]
async fn stream_ids_use_the_clock_and_stay_monotonic() {
    let (_s, addr, _clock) = manual("127.0.23.5", &[]);
    let mut c = Conn::open(addr).await;
    assert_eq!(
        text(&c.call(&["XADD", "s", "*", "f", "v"]).await),
        format!("{START_MS}-0")
    );
    assert_eq!(
        text(&c.call(&["XADD", "s", "*", "f", "v"]).await),
        format!("{START_MS}-1")
    );
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "5ms"]).await;
    assert_eq!(
        text(&c.call(&["XADD", "s", "*", "f", "v"]).await),
        format!("{}-0", START_MS + 5)
    );
    // An explicit ID ahead of the clock: `*` stays after it.
    let ahead = START_MS + 60_000;
    c.call(&["XADD", "s", &format!("{ahead}-0"), "f", "v"])
        .await;
    assert_eq!(
        text(&c.call(&["XADD", "s", "*", "f", "v"]).await),
        format!("{ahead}-1")
    );
}

#[tokio::test]
async fn idle_clients_are_closed_when_the_clock_passes_timeout() {
    let (_s, addr, _clock) = manual("127.0.23.6", &[("timeout", "60")]);
    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut c = Conn::open(addr).await;
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "59s"]).await;
    assert!(
        !common::closed(&mut idle, Duration::from_millis(200)).await,
        "closed early"
    );
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "2s"]).await;
    assert!(
        common::closed(&mut idle, Duration::from_secs(5)).await,
        "idle client not closed"
    );
}

#[tokio::test]
async fn a_move_from_outside_expires_what_became_due() {
    let (_s, addr, clock) = manual("127.0.23.7", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["SET", "k", "v", "EX", "10"]).await;
    clock
        .advance(Duration::from_secs(10))
        .expect("manual clock");
    common::wait_until("the key expired by the move", || async {
        let mut c = Conn::open(addr).await;
        int(&c.call(&["DBSIZE"]).await) == 0
    })
    .await;
}

#[tokio::test]
async fn clock_get_set_and_bad_input() {
    let (_s, addr, _clock) = manual("127.0.23.8", &[]);
    let mut c = Conn::open(addr).await;
    let V::Arr(get) = c.call(&["DEBUG", "CLOCK", "GET"]).await else {
        panic!("GET")
    };
    assert_eq!(
        get,
        vec![
            V::Str(b"mode".to_vec()),
            V::Str(b"manual".to_vec()),
            V::Str(b"now-ms".to_vec()),
            V::Int(START_MS as i64),
            V::Str(b"now".to_vec()),
            V::Str(b"2026-01-01T00:00:00Z".to_vec()),
        ]
    );
    let set = c
        .call(&["DEBUG", "CLOCK", "SET", "2026-01-01T06:00:00Z"])
        .await;
    assert_eq!(int(&set) as u64, START_MS + 6 * 3_600_000);
    let set = c
        .call(&[
            "DEBUG",
            "CLOCK",
            "SET",
            &(START_MS + 7 * 3_600_000).to_string(),
        ])
        .await;
    assert_eq!(int(&set) as u64, START_MS + 7 * 3_600_000);
    let V::Err(back) = c
        .call(&["DEBUG", "CLOCK", "SET", "2026-01-01T00:00:00Z"])
        .await
    else {
        panic!("going backwards is refused")
    };
    assert!(
        back.starts_with("ERR the clock cannot go backwards"),
        "{back}"
    );
    let V::Err(bad) = c.call(&["DEBUG", "CLOCK", "ADVANCE", "soon"]).await else {
        panic!("a malformed duration is refused")
    };
    assert_eq!(
        bad,
        "ERR invalid duration \"soon\" is not a duration (try 500ms, 30s, 2m or 1h)"
    );
    let V::Err(bad) = c.call(&["DEBUG", "CLOCK", "ADVANCE", "3d"]).await else {
        panic!("an unknown unit is refused")
    };
    assert!(bad.contains("unknown unit \"d\""), "{bad}");
    let V::Err(bad) = c.call(&["DEBUG", "CLOCK", "SET", "yesterday"]).await else {
        panic!("a malformed time is refused")
    };
    assert!(
        bad.starts_with("ERR invalid time \"yesterday\" is not a time"),
        "{bad}"
    );
    let V::Err(bad) = c.call(&["DEBUG", "CLOCK", "REWIND", "1s"]).await else {
        panic!("an unknown subcommand is refused")
    };
    assert!(
        bad.starts_with("ERR unknown subcommand or wrong number of arguments for 'CLOCK'"),
        "{bad}"
    );
    // Nothing moved on the refusals.
    let V::Arr(t) = c.call(&["TIME"]).await else {
        panic!("TIME")
    };
    assert_eq!(text(&t[0]), ((START_MS + 7 * 3_600_000) / 1000).to_string());
}

#[tokio::test]
async fn a_real_clock_refuses_to_move_and_debug_stays_gated() {
    let (_s, addr) = common::start("127.0.23.9", &[("enable-debug-command", "yes")]);
    let mut c = Conn::open(addr).await;
    let V::Err(e) = c.call(&["DEBUG", "CLOCK", "ADVANCE", "30m"]).await else {
        panic!("a real clock does not move")
    };
    assert_eq!(
        e,
        "ERR the clock is real time and moves by itself (start with --clock manual to move it)"
    );
    let V::Arr(get) = c.call(&["DEBUG", "CLOCK", "GET"]).await else {
        panic!("GET")
    };
    assert_eq!(get[1], V::Str(b"real".to_vec()));
    let (_s2, gated) = common::start("127.0.23.10", &[]);
    let mut g = Conn::open(gated).await;
    let V::Err(e) = g.call(&["DEBUG", "CLOCK", "GET"]).await else {
        panic!("DEBUG is gated")
    };
    assert!(e.starts_with("ERR DEBUG command not allowed"), "{e}");
}
