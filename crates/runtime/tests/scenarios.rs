//! Small scenarios brought up in-process: NXDOMAIN from a linked zone without the record,
//! NxDomainRedirect, a custom DNS forwarder, managed-redis on port 10000, requirepass, and the
//! errors of a start that cannot happen (ports in use, blocks).

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use common::*;
use redlink_runtime::{RunningWorld, RuntimeError, UpOptions};
use redlink_world::quickstart;

const HOST: &str = "contoso.redis.cache.windows.net";

fn linked_zone_without_record(policy: &str) -> String {
    format!(
        r#"
name = "zone-without-record"
# The test pings from 127.0.0.1: the host is a jump box in hub.
host = {{ network = "hub" }}
[[network]]
name = "hub"
[[network]]
name = "spoke"
[[cache]]
name = "contoso"
non_tls_port = true
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
auto_register = false
links = [{{ network = "hub", resolution_policy = "{policy}" }}]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_zone_without_the_record_is_nxdomain() {
    let s = scenario("nx", &linked_zone_without_record("Default"));
    let world = up(&s, "nx").await;
    assert_eq!(
        lookup(&world, "hub", HOST, false).await,
        vec!["NXDOMAIN".to_owned()]
    );
    assert_eq!(lookup(&world, "hub", HOST, true).await, vec!["NXDOMAIN"]);
    assert_eq!(
        address_of(&world, "spoke", HOST).await,
        Some(public(&world, "contoso"))
    );
    if let Some(lines) = dig(&world, "hub", HOST) {
        // The CNAME, then NXDOMAIN for the privatelink name: no address.
        assert_eq!(
            lines,
            vec!["contoso.privatelink.redis.cache.windows.net.".to_owned()]
        );
    }
    // The endpoint itself is Approved: reachable by address even though DNS fails.
    assert_eq!(
        ping(pe(&world, "pe-hub"), 6379).await.expect("PING"),
        "PONG"
    );
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nxdomain_redirect_falls_back_to_the_public_answer() {
    let s = scenario("redirect", &linked_zone_without_record("NxDomainRedirect"));
    let world = up(&s, "redirect").await;
    assert_eq!(
        address_of(&world, "hub", HOST).await,
        Some(public(&world, "contoso"))
    );
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_forwarder_answers_its_stale_address() {
    let s = scenario(
        "forwarder",
        r#"
# The test pings from 127.0.0.1: the host is a jump box in hub.
host = { network = "hub" }
[[network]]
name = "hub"
[[network]]
name = "onprem"
[network.dns_forwarder]
name = "old-dns"
forwards_to = "hub"
answers = { "contoso.redis.cache.windows.net" = "127.10.1.99" }
[[cache]]
name = "contoso"
[[cache]]
name = "fabrikam"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[private_endpoint]]
name = "pe-fab"
network = "hub"
cache = "fabrikam"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#,
    );
    let world = up(&s, "forwarder").await;
    assert_eq!(
        lookup(&world, "onprem", HOST, false).await,
        vec![format!("{HOST}. A 127.10.1.99")]
    );
    // What the table does not know is forwarded to hub's Azure DNS.
    assert_eq!(
        address_of(&world, "onprem", "fabrikam.redis.cache.windows.net").await,
        Some(pe(&world, "pe-fab"))
    );
    if let Some(lines) = dig(&world, "onprem", HOST) {
        assert_eq!(lines, vec!["127.10.1.99".to_owned()]);
    }
    // The state file names the forwarder.
    let state = world.state().await;
    assert_eq!(
        state.networks["onprem"].dns_forwarder.as_deref(),
        Some("old-dns")
    );
    // Only the TLS port by default (non-TLS is off, as in Azure).
    let pe_hub = pe(&world, "pe-hub");
    assert_refused(pe_hub, 6379);
    let mut tls = tls_connect(world.ca_pem(), pe_hub, 6380, HOST)
        .await
        .expect("TLS");
    assert_eq!(command(&mut tls, &["PING"]).await, "+PONG\r\n");
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_redis_serves_tls_on_10000_with_its_regional_certificate() {
    let s = scenario(
        "amr",
        r#"
# The test pings from 127.0.0.1: the host is a jump box in hub.
host = { network = "hub" }
[[network]]
name = "hub"
[[cache]]
name = "orders"
flavour = "managed-redis"
region = "eastus"
requirepass = "s3cret"
[[private_endpoint]]
name = "pe-orders"
network = "hub"
cache = "orders"
[[dns_zone]]
name = "privatelink.redis.azure.net"
links = [{ network = "hub" }]
"#,
    );
    let world = up(&s, "amr").await;
    let addr = pe(&world, "pe-orders");
    assert_eq!(
        address_of(&world, "hub", "orders.eastus.redis.azure.net").await,
        Some(addr)
    );
    let state = world.state().await;
    let ep = &state.caches["orders"].endpoints[1];
    assert_eq!(ep.ports, vec![10000]);
    assert_eq!(ep.tls_ports, vec![10000]);
    let mut tls = tls_connect(world.ca_pem(), addr, 10000, "orders.eastus.redis.azure.net")
        .await
        .expect("TLS with the regional name");
    assert!(command(&mut tls, &["PING"]).await.starts_with("-NOAUTH"));
    assert_eq!(command(&mut tls, &["AUTH", "s3cret"]).await, "+OK\r\n");
    assert_eq!(command(&mut tls, &["PING"]).await, "+PONG\r\n");
    let err = tls_connect(
        world.ca_pem(),
        addr,
        10000,
        "orders.eastus.privatelink.redis.azure.net",
    )
    .await
    .expect_err("privatelink name not covered");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_port_in_use_is_reported_with_its_owner() {
    let taken = std::net::TcpListener::bind("127.99.0.4:6380").expect("bind the port first");
    let s = scenario(
        "busy-endpoint",
        r#"
[[network]]
name = "hub"
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-pinned"
network = "hub"
cache = "contoso"
address = "127.99.0.4"
"#,
    );
    let options = UpOptions {
        state_file: Some(state_path("busy-endpoint")),
        ..UpOptions::default()
    };
    let err = match RunningWorld::start(&s, options).await {
        Ok(_) => panic!("the world must not start"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(!err.is_bad_input());
    assert!(text.contains("private endpoint pe-pinned"), "{text}");
    assert!(text.contains("cache contoso"), "{text}");
    assert!(text.contains("127.99.0.4:6380"), "{text}");
    assert!(text.contains("already in use"), "{text}");
    assert!(!state_path("busy-endpoint").exists());
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_resolver_port_in_use_is_reported_with_its_network() {
    let taken = UdpSocket::bind("127.99.1.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let s = scenario(
        "busy-resolver",
        &format!(
            r#"
[[network]]
name = "hub"
resolver_address = "127.99.1.1"
resolver_port = {port}
"#
        ),
    );
    let options = UpOptions {
        state_file: Some(state_path("busy-resolver")),
        ..UpOptions::default()
    };
    let err = match RunningWorld::start(&s, options).await {
        Ok(_) => panic!("the world must not start"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(text.contains("network hub"), "{text}");
    assert!(text.contains(&format!("127.99.1.1:{port}")), "{text}");
    assert!(text.contains("already in use"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_default_dns_port_moves_the_resolver_and_says_so() {
    let taken = UdpSocket::bind("127.99.2.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let s = scenario(
        "moved-resolver",
        r#"
[[network]]
name = "hub"
resolver_address = "127.99.2.1"
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#,
    );
    let options = UpOptions {
        state_file: Some(state_path("moved-resolver")),
        dns_port: port,
        ..UpOptions::default()
    };
    let world = RunningWorld::start(&s, options).await.expect("starts");
    let resolver = world.resolver("hub").expect("resolver");
    assert_eq!(resolver.ip(), IpAddr::V4(Ipv4Addr::new(127, 99, 2, 1)));
    assert_ne!(resolver.port(), port);
    assert!(
        world.notes().iter().any(|n| n.contains(&port.to_string())),
        "{:?}",
        world.notes()
    );
    assert_eq!(
        world.state().await.networks["hub"].resolver,
        SocketAddr::from((Ipv4Addr::new(127, 99, 2, 1), resolver.port()))
    );
    assert_eq!(
        address_of(&world, "hub", HOST).await,
        Some(pe(&world, "pe-hub"))
    );
    world.shutdown().await.expect("shutdown");
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_asked_for_must_exist_and_be_free() {
    let options = |tag: &str, block| UpOptions {
        state_file: Some(state_path(tag)),
        block: Some(block),
        ..UpOptions::default()
    };
    let err = match RunningWorld::start(&quickstart(), options("no-block", 250)).await {
        Ok(_) => panic!("block 250 does not exist"),
        Err(e) => e,
    };
    assert!(
        matches!(err, RuntimeError::Block { block: 250, .. }),
        "{err}"
    );
    let first = RunningWorld::start(&quickstart(), options("block-a", 110))
        .await
        .expect("block 110");
    let err = match RunningWorld::start(&quickstart(), options("block-b", 110)).await {
        Ok(_) => panic!("block 110 is taken"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("another world"), "{err}");
    first.shutdown().await.expect("shutdown");
}
