//! `redlink probe` and the checker name the same event the same way: one running world, each
//! event seen through both — an RST after accept (a public endpoint whose blocked action is
//! `reset`), a blackhole (connected, no reply: once `timeout` for the probe), plain text to the TLS
//! port (a TLS alert back: once `closed` for the probe), a TLS client closed after accept
//! (maxclients reached: the engine closes before the handshake) — and the expectation vocabulary
//! is the client's.

use std::net::SocketAddr;
use std::time::Duration;

use redlink_client::{Failure, Value, net};
use redlink_runtime::probe::{ProbeOptions, ProbeOutcome, ProbeTarget, probe};
use redlink_runtime::{RunningWorld, UpOptions};
use redlink_scenario::{Checker, Timeouts};
use redlink_world::{ConnectResult, Scenario};

const SCENARIO: &str = r#"
name = "same-names"

[[network]]
name = "hub"

[[network]]
name = "spoke"

[[cache]]
name = "contoso"
non_tls_port = true
maxclients = 1

[[cache]]
name = "resetter"
non_tls_port = true
public_network_access = "Disabled"
public_blocked_action = "reset"

[[cache]]
name = "holer"
non_tls_port = true
public_network_access = "Disabled"
public_blocked_action = "blackhole"

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]

[[expect]]
name = "an RST after accept"
from = "spoke"
host = "resetter.redis.cache.windows.net"
port = 6379
connect = "reset"

[[expect]]
name = "a blackhole"
from = "spoke"
host = "holer.redis.cache.windows.net"
port = 6379
connect = "no-reply"

[[expect]]
name = "plain text to the TLS port"
from = "hub"
host = "contoso.redis.cache.windows.net"
port = 6380
tls = false
connect = "tls-error"

[[expect]]
name = "a TLS client closed after accept"
from = "hub"
host = "contoso.redis.cache.windows.net"
port = 6380
connect = "closed"
hold = 1
"#;

async fn probe_outcome(
    world: &RunningWorld,
    network: &str,
    host: &str,
    port: u16,
    tls: bool,
) -> ProbeOutcome {
    let state = world.state().await;
    let target = ProbeTarget {
        network: network.to_owned(),
        host: host.to_owned(),
        port: Some(port),
    };
    let options = ProbeOptions {
        tls,
        reply_timeout: Duration::from_millis(500),
        ..ProbeOptions::default()
    };
    let evidence = tokio::time::timeout(Duration::from_secs(10), probe(&state, &target, &options))
        .await
        .expect("the probe ends in time");
    evidence.outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_and_check_name_the_same_event_the_same() {
    let scenario = Scenario::parse("same-names.toml", SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    let options = UpOptions {
        state_file: Some(
            std::env::temp_dir().join(format!("redlink-same-names-{}.json", std::process::id())),
        ),
        dns_port: 0,
        ..UpOptions::default()
    };
    let world = tokio::time::timeout(
        Duration::from_secs(20),
        RunningWorld::start(&scenario, options),
    )
    .await
    .expect("the world starts in time")
    .unwrap_or_else(|e| panic!("the world starts: {e}"));
    let checker = Checker::new(&world, "same-names.toml", Timeouts::default()).expect("checker");
    let expectations: Vec<_> = scenario.expectations().collect();

    // An RST after accept.
    let checked = checker.check(expectations[0]).await;
    let probed = probe_outcome(
        &world,
        "spoke",
        "resetter.redis.cache.windows.net",
        6379,
        false,
    )
    .await;
    assert!(checked.passed, "{checked:?}");
    assert_eq!(checked.got, "reset");
    assert_eq!(probed.as_str(), checked.got);

    // A blackhole, and plain text to the TLS port.
    let checked = checker.check(expectations[1]).await;
    let probed = probe_outcome(
        &world,
        "spoke",
        "holer.redis.cache.windows.net",
        6379,
        false,
    )
    .await;
    assert!(checked.passed, "{checked:?}");
    assert_eq!(probed.as_str(), checked.got);
    let checked = checker.check(expectations[2]).await;
    let probed = probe_outcome(
        &world,
        "hub",
        "contoso.redis.cache.windows.net",
        6380,
        false,
    )
    .await;
    assert!(checked.passed, "{checked:?}");
    assert_eq!(probed.as_str(), checked.got);

    // Closed after accept: the check holds its own connection; the probe gets one held here.
    let checked = checker.check(expectations[3]).await;
    assert!(checked.passed, "{checked:?}");
    assert_eq!(checked.got, "closed");
    let hub = world
        .world()
        .network("hub")
        .expect("hub exists")
        .client_address;
    let pe = world
        .world()
        .private_endpoint("pe-hub")
        .expect("pe-hub exists")
        .address;
    let mut held = None;
    for _ in 0..50 {
        // The check's own held connection may still count for a moment.
        let socket = net::bind(hub).expect("bind the hub's client address");
        let mut s = net::connect(socket, SocketAddr::from((pe, 6379)), Duration::from_secs(2))
            .await
            .expect("pe-hub accepts");
        if let Ok(Value::Status(p)) = net::request(&mut s, &["PING"], Duration::from_secs(2)).await
            && p == "PONG"
        {
            held = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(held.is_some(), "one connection is admitted");
    let probed = probe_outcome(&world, "hub", "contoso.redis.cache.windows.net", 6380, true).await;
    assert_eq!(probed.as_str(), checked.got);
    drop(held);

    let _ = world.shutdown().await;
}

/// Every `connect = "…"` word of a scenario file is the client's name for that event (or `ok`).
#[test]
fn the_expectation_words_are_the_clients_names() {
    let names = [
        Failure::Refused,
        Failure::Timeout,
        Failure::Reset,
        Failure::Closed,
        Failure::Unreachable,
        Failure::NoReply,
        Failure::Tls,
        Failure::Error,
    ]
    .map(Failure::as_str);
    for word in [
        ConnectResult::Ok,
        ConnectResult::Refused,
        ConnectResult::Timeout,
        ConnectResult::Reset,
        ConnectResult::TlsError,
        ConnectResult::Closed,
        ConnectResult::NoReply,
    ] {
        assert!(
            word == ConnectResult::Ok || names.contains(&word.as_str()),
            "{word} is not a client outcome name"
        );
    }
    for probe in [
        ProbeOutcome::Refused,
        ProbeOutcome::Timeout,
        ProbeOutcome::Reset,
        ProbeOutcome::Closed,
        ProbeOutcome::NoReply,
        ProbeOutcome::Unreachable,
        ProbeOutcome::TlsError,
        ProbeOutcome::Error,
    ] {
        assert!(names.contains(&probe.as_str()), "{probe}");
    }
}
