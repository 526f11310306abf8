//! The quickstart world brought up in-process: DNS from each network, routes and refusals at the
//! endpoints, TLS name checks as in Azure, live changes, the state file, and two worlds side by side.

mod common;

use std::time::Duration;

use common::*;
use redlink_runtime::{EndpointKind, StateFile};
use redlink_world::{ConnectionState, PublicNetworkAccess, Verdict, WorldError, quickstart};

const HOST: &str = "contoso.redis.cache.windows.net";
const PRIVATELINK: &str = "contoso.privatelink.redis.cache.windows.net";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_resolves_private_and_spoke_resolves_public() {
    let world = up(&quickstart(), "dns").await;
    let pe_hub = pe(&world, "pe-hub");
    let public = public(&world, "contoso");
    for tcp in [false, true] {
        assert_eq!(
            lookup(&world, "hub", HOST, tcp).await,
            vec![
                format!("{HOST}. CNAME {PRIVATELINK}."),
                format!("{PRIVATELINK}. A {pe_hub}"),
            ]
        );
        assert_eq!(
            lookup(&world, "spoke", HOST, tcp).await,
            vec![
                format!("{HOST}. CNAME {PRIVATELINK}."),
                format!("{PRIVATELINK}. A {public}"),
            ]
        );
    }
    if let Some(lines) = dig(&world, "hub", HOST) {
        assert_eq!(lines, vec![format!("{PRIVATELINK}."), pe_hub.to_string()]);
        let spoke = dig(&world, "spoke", HOST).expect("dig ran once");
        assert_eq!(spoke.last(), Some(&public.to_string()));
    }
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pe_hub_routes_plain_and_tls_and_public_refuses() {
    let world = up(&quickstart(), "routes").await;
    let pe_hub = pe(&world, "pe-hub");
    assert_eq!(ping(pe_hub, 6379).await.expect("PING via pe-hub"), "PONG");

    // TLS verified against the public host name, connected to the private address: as Azure.
    let mut tls = tls_connect(world.ca_pem(), pe_hub, 6380, HOST)
        .await
        .expect("TLS handshake with the cache's host name");
    assert_eq!(command(&mut tls, &["PING"]).await, "+PONG\r\n");

    // The certificate does not cover the privatelink name, nor the address.
    let err = tls_connect(world.ca_pem(), pe_hub, 6380, PRIVATELINK)
        .await
        .expect_err("the privatelink name is not in the certificate");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    let client = redis::Client::build_with_tls(
        format!("rediss://{pe_hub}:6380/"),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(world.ca_pem().as_bytes().to_vec()),
        },
    )
    .expect("client");
    let rediss = tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .expect("in time");
    let err = rediss.expect_err("rediss:// by IP must fail verification");
    assert!(err.to_string().contains("not valid for name"), "{err}");

    // Public network access is Disabled: refused at once, on both ports.
    let public = public(&world, "contoso");
    assert_refused(public, 6379);
    assert_refused(public, 6380);
    // A port the cache does not serve is refused too (nothing listens there at all).
    assert_refused(pe_hub, 6381);
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_engine_behind_every_route() {
    let world = up(&quickstart(), "same-engine").await;
    let pe_hub = pe(&world, "pe-hub");
    let mut plain = redis_conn(pe_hub, 6379).await.expect("connect");
    let () = redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query_async(&mut plain)
        .await
        .expect("SET");
    let mut tls = tls_connect(world.ca_pem(), pe_hub, 6380, HOST)
        .await
        .expect("TLS");
    assert_eq!(
        command(&mut tls, &["GET", "greeting"]).await,
        "$5\r\nhello\r\n"
    );
    world
        .update(|w| w.set_public_access("contoso", PublicNetworkAccess::Enabled, None))
        .await
        .expect("enable public access");
    let public = public(&world, "contoso");
    let mut via_public = redis_conn(public, 6379).await.expect("public route");
    let got: String = redis::cmd("GET")
        .arg("greeting")
        .query_async(&mut via_public)
        .await
        .expect("GET");
    assert_eq!(got, "hello");
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_flip_route_and_refuse_and_rewrite_the_state_file() {
    let world = up(&quickstart(), "flip").await;
    let pe_hub = pe(&world, "pe-hub");
    assert_eq!(ping(pe_hub, 6379).await.expect("PING"), "PONG");

    let before = world
        .update(|w| w.set_endpoint_state("pe-hub", ConnectionState::Rejected))
        .await
        .expect("reject");
    assert_eq!(before, ConnectionState::Approved);
    // Only Approved passes traffic: the others are dropped (a connect timeout).
    assert_dropped(pe_hub, 6379);
    let state = StateFile::read(world.state_file()).expect("state file");
    let ep = &state.caches["contoso"].endpoints[1];
    assert_eq!(ep.state, Some(ConnectionState::Rejected));
    assert_eq!(ep.verdicts["6379"].verdict, Verdict::Drop);
    assert!(ep.verdicts["6379"].reason.contains("Rejected"));
    // DNS does not care about the connection state: the record is still there.
    assert_eq!(address_of(&world, "hub", HOST).await, Some(pe_hub));

    // Azure refuses to approve a Rejected connection: the consumer asks again (Pending) first.
    let refused = world
        .update(|w| w.set_endpoint_state("pe-hub", ConnectionState::Approved))
        .await
        .expect_err("approving a rejected connection is refused");
    assert!(
        refused.to_string().contains("Approving rejected"),
        "{refused}"
    );
    world
        .update(|w| {
            w.set_endpoint_state("pe-hub", ConnectionState::Pending)?;
            w.set_endpoint_state("pe-hub", ConnectionState::Approved)
        })
        .await
        .expect("approve");
    assert_eq!(ping(pe_hub, 6379).await.expect("PING again"), "PONG");

    // DNS follows the world: unlinking the zone sends hub to the public address.
    world
        .update(|w| w.unlink_zone("privatelink.redis.cache.windows.net", "hub"))
        .await
        .expect("unlink");
    assert_eq!(
        address_of(&world, "hub", HOST).await,
        Some(public(&world, "contoso"))
    );

    // A change that does not apply changes nothing.
    let err = world
        .update(|w| w.set_endpoint_state("nope", ConnectionState::Approved))
        .await
        .expect_err("unknown endpoint");
    assert!(matches!(
        err,
        redlink_runtime::RuntimeError::World(WorldError::UnknownEndpoint(_))
    ));

    // Stopping the cache refuses every endpoint.
    world
        .update(|w| w.set_cache_running("contoso", false))
        .await
        .expect("stop");
    assert_refused(pe_hub, 6379);
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_file_follows_the_contract_and_goes_away() {
    let world = up(&quickstart(), "state").await;
    let path = world.state_file().to_path_buf();
    let ca = world.ca_file().to_path_buf();
    let text = std::fs::read_to_string(&path).expect("state file written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(json.get("control").is_some_and(serde_json::Value::is_null));
    assert_eq!(json["ca"].as_str(), Some(ca.to_string_lossy().as_ref()));
    assert_eq!(
        std::fs::read_to_string(&ca).expect("ca.crt written"),
        world.ca_pem()
    );
    for (net, resolver) in world.resolvers() {
        assert_eq!(json["networks"][net]["resolver"], resolver.to_string());
        assert!(json["networks"][net]["client_address"].is_string());
    }
    let cache = &json["caches"]["contoso"];
    assert_eq!(cache["hostname"], HOST);
    assert_eq!(cache["public_network_access"], "Disabled");
    let eps = cache["endpoints"].as_array().expect("endpoints");
    assert_eq!(eps[0]["name"], "public");
    assert_eq!(eps[0]["kind"], "public");
    assert_eq!(eps[0]["ports"], serde_json::json!([6379, 6380]));
    assert_eq!(eps[0]["tls_ports"], serde_json::json!([6380]));
    assert_eq!(eps[1]["name"], "pe-hub");
    assert_eq!(eps[1]["kind"], "private");
    assert_eq!(eps[1]["network"], "hub");
    assert_eq!(eps[1]["state"], "Approved");
    assert_eq!(eps[1]["address"], pe(&world, "pe-hub").to_string());
    let typed = StateFile::read(&path).expect("typed");
    assert_eq!(
        typed.caches["contoso"].endpoints[1].kind,
        EndpointKind::Private
    );
    assert_eq!(typed, world.state().await);
    world.shutdown().await.expect("shutdown");
    assert!(!path.exists(), "state file removed at exit");
    assert!(!ca.exists(), "CA certificate removed at exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worlds_at_once_take_different_blocks() {
    let scenario = quickstart();
    let (a, b) = tokio::join!(up(&scenario, "twin-a"), up(&scenario, "twin-b"));
    assert_ne!(a.block(), b.block());
    assert_ne!(pe(&a, "pe-hub"), pe(&b, "pe-hub"));
    assert_ne!(a.resolver("hub"), b.resolver("hub"));
    for w in [&a, &b] {
        assert_eq!(address_of(w, "hub", HOST).await, Some(pe(w, "pe-hub")));
        assert_eq!(ping(pe(w, "pe-hub"), 6379).await.expect("PING"), "PONG");
    }
    // Separate engines: a key set in one world is not in the other.
    let mut ca = redis_conn(pe(&a, "pe-hub"), 6379).await.expect("a");
    let () = redis::cmd("SET")
        .arg("k")
        .arg("a")
        .query_async(&mut ca)
        .await
        .expect("SET");
    let mut cb = redis_conn(pe(&b, "pe-hub"), 6379).await.expect("b");
    let got: Option<String> = redis::cmd("GET")
        .arg("k")
        .query_async(&mut cb)
        .await
        .expect("GET");
    assert_eq!(got, None);
    a.shutdown().await.expect("a stops");
    b.shutdown().await.expect("b stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_restarts_on_the_same_addresses() {
    // Connections closed by the server leave TIME_WAIT entries on the endpoint's address; the next
    // world must still reserve it.
    let first = up(&quickstart(), "restart-1").await;
    let block = first.block();
    let addr = pe(&first, "pe-hub");
    for _ in 0..3 {
        assert_eq!(ping(addr, 6379).await.expect("PING"), "PONG");
    }
    // Connections open at shutdown are closed by the server first: TIME_WAIT on the server side.
    let open = redis_conn(addr, 6379).await.expect("connect");
    let mut tls = tls_connect(first.ca_pem(), addr, 6380, HOST)
        .await
        .expect("TLS");
    assert_eq!(command(&mut tls, &["PING"]).await, "+PONG\r\n");
    first.shutdown().await.expect("stop");
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(open);
    drop(tls);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let options = redlink_runtime::UpOptions {
        state_file: Some(state_path("restart-2")),
        block: Some(block),
        ..Default::default()
    };
    let second = redlink_runtime::RunningWorld::start(&quickstart(), options)
        .await
        .expect("restart in the same block");
    assert_eq!(pe(&second, "pe-hub"), addr);
    assert_eq!(ping(addr, 6379).await.expect("PING"), "PONG");
    second.shutdown().await.expect("stop");
}
