//! The control API driven with the `redis` crate, as a user's test suite would: changes (JSON,
//! `WORLD.CHANGE`) through the control port show at once in DNS answers (hickory at the world's
//! resolvers) and connection outcomes; an open connection on a newly denied path is reset while the
//! data written before is still there through an allowed path; AUTH is enforced; SUBSCRIBE
//! redlink:events streams DNS answers and changes as JSON. Guards: a browser-style POST is closed
//! unanswered and its body never runs; connections past the limit are refused with Redis's error;
//! unauthenticated and idle connections are closed after their timeouts.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use redlink_runtime::{ControlLimits, ControlOptions, ControlServer, RunningWorld, StateFile};
use redlink_world::quickstart;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOST: &str = "contoso.redis.cache.windows.net";
const ZONE: &str = "privatelink.redis.cache.windows.net";

async fn control(
    tag: &str,
    password: Option<&str>,
) -> (Arc<RunningWorld>, ControlServer, SocketAddr) {
    control_with(tag, password, ControlLimits::default()).await
}

async fn control_with(
    tag: &str,
    password: Option<&str>,
    limits: ControlLimits,
) -> (Arc<RunningWorld>, ControlServer, SocketAddr) {
    let world = Arc::new(up(&quickstart(), tag).await);
    let options = ControlOptions {
        addr: None,
        password: password.map(str::to_owned),
        limits,
    };
    let server = ControlServer::start(world.clone(), options)
        .await
        .expect("the control API starts");
    let addr = server.addr();
    (world, server, addr)
}

async fn stop(world: Arc<RunningWorld>, server: ControlServer) {
    server.shutdown().await;
    match Arc::try_unwrap(world) {
        Ok(w) => w.shutdown().await.expect("shutdown"),
        Err(_) => panic!("the control server still holds the world"),
    }
}

async fn call(
    c: &mut redis::aio::MultiplexedConnection,
    args: &[&str],
) -> redis::RedisResult<String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    tokio::time::timeout(Duration::from_secs(10), cmd.query_async(c))
        .await
        .expect("reply in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_the_control_port_show_in_dns_and_connections() {
    let (world, server, addr) = control("ctl-change", None).await;
    let state = StateFile::read(world.state_file()).expect("state file");
    assert_eq!(state.control, Some(addr.to_string()));
    let mut c = redis_conn(addr.ip(), addr.port())
        .await
        .expect("control connects");
    assert_eq!(call(&mut c, &["PING"]).await.expect("ping"), "PONG");

    // Spoke sees the public address until the zone is linked to it.
    let pe_hub = pe(&world, "pe-hub");
    assert_eq!(
        address_of(&world, "spoke", HOST).await,
        Some(public(&world, "contoso"))
    );
    let link = format!(r#"{{"link":{{"zone":"{ZONE}","network":"spoke"}}}}"#);
    let done = call(&mut c, &["WORLD.CHANGE", &link]).await.expect("link");
    assert!(done.contains("linked zone"), "{done}");
    assert_eq!(address_of(&world, "spoke", HOST).await, Some(pe_hub));

    // Data written through pe-hub; a connection stays open on it.
    let mut data = redis_conn(pe_hub, 6379).await.expect("pe-hub routes");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("before")
        .query_async(&mut data)
        .await
        .expect("SET");
    let mut open = tokio::net::TcpStream::connect((pe_hub, 6379))
        .await
        .expect("connect");
    assert_eq!(command(&mut open, &["PING"]).await, "+PONG\r\n");

    // Reject pe-hub: the open connection is reset, new ones do not get through.
    call(&mut c, &["WORLD.CHANGE", r#"{"reject":"pe-hub"}"#])
        .await
        .expect("reject");
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(3), open.read(&mut buf))
        .await
        .expect("reset in time");
    let err = r.expect_err("a reset, not an orderly close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    let _ = open.shutdown().await;
    assert!(
        ping(pe_hub, 6379).await.is_err(),
        "a rejected endpoint passes no traffic"
    );
    let json = call(&mut c, &["WORLD.JSON"]).await.expect("world json");
    let w: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(w["private_endpoints"][0]["state"], "Rejected");

    // The data is still there through an allowed path: the public endpoint, once enabled.
    let public_ip = public(&world, "contoso");
    assert!(
        ping(public_ip, 6379).await.is_err(),
        "public access is Disabled"
    );
    call(
        &mut c,
        &[
            "WORLD.CHANGE",
            r#"{"public_access":{"cache":"contoso","access":"Enabled"}}"#,
        ],
    )
    .await
    .expect("enable public access");
    let mut via_public = redis_conn(public_ip, 6379).await.expect("public routes");
    let got: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut via_public)
        .await
        .expect("GET");
    assert_eq!(got, "before");

    // The JSON form of the same vocabulary, and refused changes. Azure refuses to approve a
    // Rejected connection, with its error code and text; the consumer asks again (Pending) first.
    let err = call(&mut c, &["WORLD.CHANGE", r#"{"approve":"pe-hub"}"#])
        .await
        .expect_err("approving a rejected connection is refused");
    assert!(
        err.to_string().contains(
            "(BadRequest) Approving rejected private endpoint connections is not supported."
        ),
        "{err}"
    );
    assert!(ping(pe_hub, 6379).await.is_err(), "still rejected");
    call(
        &mut c,
        &[
            "WORLD.CHANGE",
            r#"{"endpoint_state":{"endpoint":"pe-hub","state":"Pending"}}"#,
        ],
    )
    .await
    .expect("asked again");
    let done = call(&mut c, &["WORLD.CHANGE", r#"{"approve":"pe-hub"}"#])
        .await
        .expect("approve as JSON");
    assert!(done.contains("Pending → Approved"), "{done}");
    assert_eq!(ping(pe_hub, 6379).await.expect("routes again"), "PONG");
    let err = call(&mut c, &["WORLD.CHANGE", r#"{"approve":"nope"}"#])
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = call(
        &mut c,
        &[
            "WORLD.CHANGE",
            r#"{"endpoint_state":{"endpoint":"pe-hub","state":"Sideways"}}"#,
        ],
    )
    .await
    .expect_err("bad state");
    assert!(err.to_string().contains("Approved"), "{err}");
    // The per-verb encodings are gone: one vocabulary.
    let err = call(&mut c, &["PE.APPROVE", "pe-hub"])
        .await
        .expect_err("no PE.APPROVE");
    assert!(err.to_string().contains("WORLD.CHANGE"), "{err}");
    drop((c, data, via_public));
    stop(world, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_password_is_enforced_with_auth() {
    let (world, server, addr) = control("ctl-auth", Some("t0ken")).await;
    let mut c = redis_conn(addr.ip(), addr.port()).await.expect("connects");
    let err = call(&mut c, &["WORLD.JSON"]).await.expect_err("NOAUTH");
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");
    let err = call(&mut c, &["AUTH", "wrong"])
        .await
        .expect_err("WRONGPASS");
    assert_eq!(err.code(), Some("WRONGPASS"), "{err}");
    let client = redis::Client::open(format!("redis://:t0ken@{addr}/")).expect("url");
    let mut authed = client
        .get_multiplexed_async_connection()
        .await
        .expect("AUTH at connect");
    let json = call(&mut authed, &["WORLD.JSON"]).await.expect("world");
    assert!(json.contains("pe-hub"));
    drop((c, authed));
    stop(world, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_streams_dns_answers_and_changes() {
    let (world, server, addr) = control("ctl-events", None).await;
    let (subscribed, in_place) = tokio::sync::oneshot::channel();
    let listener = tokio::task::spawn_blocking(move || {
        let client = redis::Client::open(format!("redis://{addr}/")).expect("url");
        let mut con = client.get_connection().expect("connects");
        con.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut sub = con.as_pubsub();
        sub.subscribe(redlink_runtime::EVENTS_CHANNEL)
            .expect("subscribe");
        // subscribe() returns once the server confirmed the subscription.
        let _ = subscribed.send(());
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let msg = sub.get_message().expect("an event in time");
            let payload: String = msg.get_payload().expect("a string");
            let event: serde_json::Value = serde_json::from_str(&payload).expect("JSON");
            if event["type"] == "dns" || event["type"] == "change" {
                seen.push(event);
            }
        }
        seen
    });
    // Wait until the subscription is in place, then cause one answer and one change.
    in_place.await.expect("the listener subscribed");
    assert_eq!(
        address_of(&world, "hub", HOST).await,
        Some(pe(&world, "pe-hub"))
    );
    let mut c = redis_conn(addr.ip(), addr.port()).await.expect("connects");
    call(
        &mut c,
        &[
            "WORLD.CHANGE",
            r#"{"config":{"cache":"contoso","maxclients":50}}"#,
        ],
    )
    .await
    .expect("maxclients");
    let seen = listener.await.expect("listener");
    let dns = seen
        .iter()
        .find(|e| e["type"] == "dns")
        .expect("a DNS event");
    assert_eq!(dns["network"], "hub");
    assert_eq!(dns["name"], HOST);
    assert_eq!(dns["answer"], pe(&world, "pe-hub").to_string(), "{dns}");
    assert!(
        dns["reason"].as_str().is_some_and(|r| r.contains("linked")),
        "{dns}"
    );
    let change = seen
        .iter()
        .find(|e| e["type"] == "change")
        .expect("a change event");
    assert!(
        change["description"]
            .as_str()
            .is_some_and(|d| d.contains("maxclients 50")),
        "{change}"
    );
    // The engine follows the change.
    let engine = world.engine("contoso").await.expect("engine");
    assert_eq!(engine.config.read().get("maxclients"), Some("50"));
    drop(c);
    stop(world, server).await;
}

/// Reads until the peer closes (or resets), at most `within`; what was read.
async fn read_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the control API closed the connection in time"
    );
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_style_post_is_closed_and_its_body_never_runs() {
    let (world, server, addr) = control("ctl-post", None).await;
    // What a web page posting to the control port makes the browser send: the body carries
    // changes, as an inline command and as a multibulk one.
    let stop_json = r#"{"stop":"contoso"}"#;
    let body = format!(
        "WORLD.CHANGE '{{\"reject\":\"pe-hub\"}}'\r\n*2\r\n$12\r\nWORLD.CHANGE\r\n${}\r\n{stop_json}\r\n",
        stop_json.len()
    );
    for request in [
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            addr.port(),
            body.len()
        ),
        // A request whose first line is not POST still carries a Host: line.
        format!("PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n{body}"),
        // Already-buffered replies are dropped too, as redis-server does.
        format!("PING\r\nPOST / HTTP/1.1\r\n\r\n{body}"),
    ] {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        s.write_all(request.as_bytes()).await.expect("write");
        let got = read_to_close(&mut s, Duration::from_secs(5)).await;
        let text = String::from_utf8_lossy(&got);
        assert!(
            !text.contains("+PONG") && !text.contains("Rejected") && !text.contains("stopped"),
            "nothing answered: {text:?}"
        );
    }
    let w = world.world();
    let pe_hub = w.private_endpoint("pe-hub").expect("pe-hub");
    assert_eq!(pe_hub.state, redlink_world::ConnectionState::Approved);
    assert!(w.cache("contoso").expect("contoso").running);
    drop(w);
    // The control API still serves.
    let mut c = redis_conn(addr.ip(), addr.port()).await.expect("connects");
    assert_eq!(call(&mut c, &["PING"]).await.expect("ping"), "PONG");
    drop(c);
    stop(world, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_get_maxclients_and_are_closed() {
    let limits = ControlLimits {
        max_connections: 4,
        ..ControlLimits::default()
    };
    let (world, server, addr) = control_with("ctl-limit", None, limits).await;
    // Four connections in, each proven served.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        assert_eq!(command(&mut s, &["PING"]).await, "+PONG\r\n");
        held.push(s);
    }
    // The fifth (and any more) is told why and closed.
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let got = read_to_close(&mut s, Duration::from_secs(5)).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            "-ERR max number of clients reached\r\n"
        );
    }
    // The world's data path is untouched.
    assert_eq!(
        ping(pe(&world, "pe-hub"), 6379).await.expect("routes"),
        "PONG"
    );
    // A slot frees when a connection leaves.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        s.write_all(b"PING\r\n").await.expect("write");
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("a reply in time")
            .unwrap_or(0);
        if &buf[..n] == b"+PONG\r\n" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no slot freed: {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(held);
    stop(world, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_and_idle_connections_are_closed() {
    let limits = ControlLimits {
        auth_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(2),
        ..ControlLimits::default()
    };
    let (world, server, addr) = control_with("ctl-idle", Some("t0ken"), limits).await;
    // Never authenticates: closed after auth_timeout even while it keeps talking.
    let mut lurker = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let started = tokio::time::Instant::now();
    assert!(command(&mut lurker, &["PING"]).await.starts_with("-NOAUTH"));
    let got = read_to_close(&mut lurker, Duration::from_secs(5)).await;
    assert!(got.is_empty(), "{got:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));

    // Authenticated and active: kept past auth_timeout; then idle: closed after idle_timeout.
    let mut admin = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    assert_eq!(command(&mut admin, &["AUTH", "t0ken"]).await, "+OK\r\n");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(command(&mut admin, &["PING"]).await, "+PONG\r\n");
    }
    let idle_from = tokio::time::Instant::now();
    let got = read_to_close(&mut admin, Duration::from_secs(10)).await;
    assert!(got.is_empty(), "{got:?}");
    assert!(idle_from.elapsed() >= Duration::from_millis(1500));

    // A subscriber waits for events as long as it likes.
    let mut sub = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    assert_eq!(command(&mut sub, &["AUTH", "t0ken"]).await, "+OK\r\n");
    sub.write_all(b"SUBSCRIBE redlink:events\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = sub.read(&mut buf).await.expect("subscribed");
    assert!(buf[..n].starts_with(b"*3\r\n$9\r\nsubscribe"));
    let mut one = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(2500), sub.read(&mut one)).await;
    assert!(waited.is_err(), "a subscriber is not closed as idle");
    drop((lurker, admin, sub));
    stop(world, server).await;
}
