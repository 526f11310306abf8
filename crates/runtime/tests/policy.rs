//! The network policy layer in a running world, seen through `probe` (the library `redlink probe`
//! and the checker use): per-source verdicts on one endpoint (routed hub, dropped unpeered spoke,
//! a network rule's reset, a toxic on one network's path), a Pending endpoint's drop, the public
//! endpoint's blocked action and firewall, AUTH outcomes, NXDOMAIN, and an open connection reset
//! when its path becomes denied.

mod common;

use std::time::Duration;

use common::*;
use redlink_runtime::probe::{Evidence, ProbeOptions, ProbeOutcome, ProbeTarget, probe};
use redlink_world::{BlockedAction, PublicNetworkAccess, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCENARIO: &str = r#"
name = "policy"
[[network]]
name = "hub"
[[network]]
name = "spoke"
[[network]]
name = "dmz"
peered_with = ["hub"]

[[cache]]
name = "contoso"
non_tls_port = true
public_network_access = "Disabled"
public_blocked_action = "reset"

[[cache]]
name = "fabrikam"
non_tls_port = true
requirepass = "s3cret"
public_network_access = "Enabled"
firewall_rules = [{ name = "office", start = "127.0.0.1", end = "127.0.0.1" }]

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[private_endpoint]]
name = "pe-pending"
network = "hub"
cache = "fabrikam"
state = "Pending"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]

[[network_rule]]
name = "deny-dmz-tls"
priority = 100
source = "dmz"
destination = "pe-hub"
port = 6380
action = "deny"
deny_as = "reset"

[[toxic]]
name = "slow-dmz"
endpoint = "pe-hub"
network = "dmz"
kind = "latency"
latency_ms = 200
"#;

const CONTOSO: &str = "contoso.redis.cache.windows.net";

async fn run(
    world: &redlink_runtime::RunningWorld,
    network: &str,
    host: &str,
    port: Option<u16>,
    tls: bool,
    password: Option<&str>,
) -> Evidence {
    let state = world.state().await;
    let target = ProbeTarget {
        network: network.to_owned(),
        host: host.to_owned(),
        port,
    };
    let options = ProbeOptions {
        tls,
        password: password.map(str::to_owned),
        connect_timeout: Duration::from_millis(1500),
        reply_timeout: Duration::from_millis(1500),
    };
    tokio::time::timeout(Duration::from_secs(10), probe(&state, &target, &options))
        .await
        .expect("the probe ends in time")
}

fn expect(e: &Evidence, outcome: ProbeOutcome) {
    assert_eq!(e.outcome, outcome, "{}", e.render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_per_source_with_probe_evidence() {
    let world = up(&scenario("policy", SCENARIO), "policy").await;
    let pe_hub = pe(&world, "pe-hub").to_string();
    let pe_pending = pe(&world, "pe-pending").to_string();

    // hub: private DNS, TLS verified with the public name, PING.
    let e = run(&world, "hub", CONTOSO, None, true, None).await;
    expect(&e, ProbeOutcome::Ok);
    assert_eq!(e.port, 6380);
    assert!(
        e.render().contains("why: zone privatelink"),
        "{}",
        e.render()
    );
    assert_eq!(
        e.verdict.as_ref().map(|v| v.verdict.as_str()),
        Some("route")
    );

    // spoke: public DNS, public access Disabled with blocked action reset.
    let e = run(&world, "spoke", CONTOSO, Some(6379), false, None).await;
    expect(&e, ProbeOutcome::Reset);
    let v = e.verdict.as_ref().expect("verdict");
    assert!(v.reason.contains("Disabled"), "{}", v.reason);

    // spoke straight at pe-hub: not peered, dropped (or reset without the filter privilege).
    let e = run(&world, "spoke", &pe_hub, Some(6379), false, None).await;
    let v = e.verdict.clone().expect("verdict");
    assert!(v.reason.contains("not peered"), "{}", v.reason);
    match v.verdict.as_str() {
        "drop" => expect(&e, ProbeOutcome::Timeout),
        _ => expect(&e, ProbeOutcome::Reset),
    }

    // dmz (peered): plain port routed through its latency toxic; TLS port denied by the rule.
    let e = run(&world, "dmz", &pe_hub, Some(6379), false, None).await;
    expect(&e, ProbeOutcome::Ok);
    let ping = e
        .steps
        .iter()
        .find(|s| s.step == "ping")
        .expect("ping step");
    assert!(ping.elapsed_ms >= 200.0, "{}", e.render());
    assert!(
        e.verdict
            .as_ref()
            .is_some_and(|v| v.reason.contains("slow-dmz")),
        "{}",
        e.render()
    );
    let e = run(&world, "dmz", &pe_hub, Some(6380), false, None).await;
    expect(&e, ProbeOutcome::Reset);
    assert!(
        e.verdict
            .as_ref()
            .is_some_and(|v| v.reason.contains("deny-dmz-tls")),
        "{}",
        e.render()
    );
    // The host is on the internet (the scenario says nothing): no private endpoint answers it.
    let state = world.state().await;
    let host_view = state
        .caches
        .values()
        .flat_map(|c| &c.endpoints)
        .find(|e| e.name == "pe-hub")
        .map(|e| e.verdicts["6379"].clone())
        .expect("pe-hub");
    assert_eq!(host_view.verdict, Verdict::Drop, "{}", host_view.reason);
    assert!(
        host_view.reason.contains("internet"),
        "{}",
        host_view.reason
    );

    // A Pending endpoint drops everyone.
    let e = run(&world, "hub", &pe_pending, Some(6379), false, None).await;
    expect(&e, ProbeOutcome::Timeout);
    assert!(
        e.verdict
            .as_ref()
            .is_some_and(|v| v.reason.contains("Pending"))
    );

    // fabrikam's public endpoint: the firewall admits the host only; AUTH outcomes.
    let fabrikam = public(&world, "fabrikam").to_string();
    let e = run(&world, "spoke", &fabrikam, Some(6379), false, None).await;
    assert!(
        e.verdict
            .as_ref()
            .is_some_and(|v| v.reason.contains("firewall")),
        "{}",
        e.render()
    );
    assert_ne!(e.outcome, ProbeOutcome::Ok);
    let state = world.state().await;
    let ep = &state.caches["fabrikam"].endpoints[0];
    assert_eq!(ep.verdicts["6379"].verdict, Verdict::Route);
    assert_ne!(
        ep.verdicts["6379"].networks["spoke"].verdict,
        Verdict::Route
    );

    // NXDOMAIN from the linked zone.
    let e = run(
        &world,
        "hub",
        "nope.privatelink.redis.cache.windows.net",
        None,
        false,
        None,
    )
    .await;
    expect(&e, ProbeOutcome::Nxdomain);
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_outcomes_and_an_open_connection_reset_by_a_change() {
    let world = up(&scenario("policy-auth", SCENARIO), "policy-auth").await;
    world
        .update(|w| {
            w.set_public_access("fabrikam", PublicNetworkAccess::Enabled, None)?;
            w.set_endpoint_state("pe-pending", redlink_world::ConnectionState::Approved)
                .map(|_| ())
        })
        .await
        .expect("approve");
    let pe_pending = pe(&world, "pe-pending").to_string();
    let e = run(&world, "hub", &pe_pending, Some(6379), false, None).await;
    expect(&e, ProbeOutcome::Noauth);
    let e = run(&world, "hub", &pe_pending, Some(6379), false, Some("wrong")).await;
    expect(&e, ProbeOutcome::Wrongpass);
    let e = run(
        &world,
        "hub",
        &pe_pending,
        Some(6379),
        false,
        Some("s3cret"),
    )
    .await;
    expect(&e, ProbeOutcome::Ok);

    // An open routed connection is reset when its path becomes refuse.
    // From hub (the host is on the internet, where no private endpoint is reachable).
    let pe_hub = pe(&world, "pe-hub");
    let hub_client = world.world().network("hub").expect("hub").client_address;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind((hub_client, 0).into())
        .expect("bind hub's client address");
    let mut conn = socket
        .connect((pe_hub, 6379).into())
        .await
        .expect("connect");
    assert_eq!(command(&mut conn, &["PING"]).await, "+PONG\r\n");
    world
        .update(|w| w.set_cache_running("contoso", false).map(|_| ()))
        .await
        .expect("stop");
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
        .await
        .expect("reset in time");
    let err = r.expect_err("a reset, not an orderly close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    let _ = conn.shutdown().await;
    assert_refused(pe_hub, 6379);

    // The public blocked action is live too: drop now.
    world
        .update(|w| {
            w.set_public_access(
                "contoso",
                PublicNetworkAccess::Disabled,
                Some(BlockedAction::Drop),
            )
        })
        .await
        .expect("drop");
    world.shutdown().await.expect("shutdown");
}
