//! The control API driven with the `redis` crate, as a user's test suite would: changes through the
//! control port show at once in DNS answers (hickory at the world's resolvers) and connection
//! outcomes; an open connection on a newly denied path is reset while the data written before is
//! still there through an allowed path; AUTH is enforced; SUBSCRIBE redlink:events streams DNS
//! answers and changes as JSON.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use redlink_runtime::{ControlOptions, ControlServer, RunningWorld, StateFile};
use redlink_world::quickstart;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOST: &str = "contoso.redis.cache.windows.net";
const ZONE: &str = "privatelink.redis.cache.windows.net";

async fn control(
    tag: &str,
    password: Option<&str>,
) -> (Arc<RunningWorld>, ControlServer, SocketAddr) {
    let world = Arc::new(up(&quickstart(), tag).await);
    let options = ControlOptions {
        addr: None,
        password: password.map(str::to_owned),
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
    let done = call(&mut c, &["ZONE.LINK", ZONE, "spoke"])
        .await
        .expect("link");
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
    call(&mut c, &["PE.REJECT", "pe-hub"])
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
        &["CACHE.SET", "contoso", "publicNetworkAccess", "Enabled"],
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

    // The JSON form of the same vocabulary, and a refused change.
    let done = call(&mut c, &["WORLD.CHANGE", r#"{"approve":"pe-hub"}"#])
        .await
        .expect("approve as JSON");
    assert!(done.contains("Rejected → Approved"), "{done}");
    assert_eq!(ping(pe_hub, 6379).await.expect("routes again"), "PONG");
    let err = call(&mut c, &["PE.APPROVE", "nope"])
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = call(&mut c, &["PE.SETSTATE", "pe-hub", "Sideways"])
        .await
        .expect_err("bad state");
    assert!(err.to_string().contains("Approved"), "{err}");
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
    call(&mut c, &["CACHE.SET", "contoso", "maxclients", "50"])
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
