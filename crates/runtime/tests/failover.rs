//! Primary + replica caches in a running world: a Standard cache runs two engines replicating with
//! Redis's protocol over the runtime's link; a failover promotes the replica, resets every client
//! connection and routes the endpoints to the new primary; a slowed link loses the writes not yet
//! replicated unless the client used WAIT; planned maintenance publishes Azure's AzureRedisEvents
//! sequence on the world's clock and pushes smart-client-handoff notifications on managed-redis;
//! refusals change nothing.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use redlink_runtime::{RunningWorld, UpOptions};
use redlink_world::Change;
use redlink_world::change::{MaintenanceChange, RebootChange};
use redlink_world::{NodeRole, RebootNodes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCENARIO: &str = r#"
name = "failover-runtime"

[[cache]]
name = "contoso"
sku = "Standard"
non_tls_port = true
public_network_access = "Enabled"
requirepass = "s3cret"

[[cache]]
name = "basic"
non_tls_port = true
public_network_access = "Enabled"
"#;

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Sends one command and reads what arrives within `wait` (at least one read).
async fn call(s: &mut TcpStream, args: &[&str], wait: Duration) -> String {
    s.write_all(&resp(args)).await.expect("writes");
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Ok(Err(e)) => format!("(error {e})"),
        Err(_) => "(no reply)".to_owned(),
    }
}

async fn connect(ip: IpAddr, port: u16, password: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(SocketAddr::new(ip, port))
        .await
        .expect("connects");
    if let Some(p) = password {
        assert_eq!(
            call(&mut s, &["AUTH", p], Duration::from_secs(10)).await,
            "+OK\r\n"
        );
    }
    s
}

/// Whether the server closed `s` (EOF or reset at the next read).
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

async fn wait_until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !ok().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_promotes_the_replica_and_resets_every_connection() {
    let scenario = common::scenario("failover-rt", SCENARIO);
    let world = common::up(&scenario, "failover-rt").await;
    let ip = common::public(&world, "contoso");
    let c = world.world().cache("contoso").cloned().expect("cache");
    assert_eq!(c.nodes.count, 2);
    assert_eq!(c.nodes.primary, 0);

    let mut a = connect(ip, 6379, Some("s3cret")).await;
    assert_eq!(
        call(&mut a, &["SET", "k", "v"], Duration::from_secs(10)).await,
        "+OK\r\n"
    );
    // The replica acknowledges the write (it follows through the link, authenticated).
    assert_eq!(
        call(&mut a, &["WAIT", "1", "20000"], Duration::from_secs(30)).await,
        ":1\r\n"
    );
    assert!(
        call(&mut a, &["ROLE"], Duration::from_secs(10))
            .await
            .contains("master")
    );

    let said = world
        .apply_change(&Change::Failover("contoso".into()))
        .await
        .expect("failover");
    assert!(said.contains("failed over cache contoso"), "{said}");
    assert!(closed(&mut a).await, "the open connection was reset");
    assert_eq!(
        world.world().cache("contoso").map(|c| c.nodes.primary),
        Some(1)
    );

    // The endpoint routes to the new primary, which kept the acknowledged write and takes writes.
    let mut b = connect(ip, 6379, Some("s3cret")).await;
    assert_eq!(
        call(&mut b, &["GET", "k"], Duration::from_secs(10)).await,
        "$1\r\nv\r\n"
    );
    assert_eq!(
        call(&mut b, &["SET", "k2", "w"], Duration::from_secs(10)).await,
        "+OK\r\n"
    );
    // The old primary follows the new one.
    wait_until("the old primary to follow", async || {
        call(&mut b, &["WAIT", "1", "1000"], Duration::from_secs(10)).await == ":1\r\n"
    })
    .await;

    // A reboot of the primary fails over back, restarting the old primary empty: it resyncs.
    let said = world
        .apply_change(&Change::Reboot(RebootChange {
            cache: "contoso".into(),
            node: RebootNodes::Primary,
        }))
        .await
        .expect("reboot primary");
    assert!(said.contains("rebooted the primary node"), "{said}");
    assert!(closed(&mut b).await);
    let mut d = connect(ip, 6379, Some("s3cret")).await;
    assert_eq!(
        call(&mut d, &["GET", "k2"], Duration::from_secs(10)).await,
        "$1\r\nw\r\n"
    );
    wait_until("the rebooted node to resync", async || {
        call(&mut d, &["WAIT", "1", "1000"], Duration::from_secs(10)).await == ":1\r\n"
    })
    .await;
    // A reboot of the replica leaves clients connected.
    world
        .apply_change(&Change::Reboot(RebootChange {
            cache: "contoso".into(),
            node: RebootNodes::Replica,
        }))
        .await
        .expect("reboot replica");
    assert_eq!(
        call(&mut d, &["PING"], Duration::from_secs(10)).await,
        "+PONG\r\n"
    );

    // Refusals: a Basic cache has no replica; the world is unchanged.
    let before = world.world();
    for change in [
        Change::Failover("basic".into()),
        Change::Reboot(RebootChange {
            cache: "basic".into(),
            node: RebootNodes::Primary,
        }),
        Change::Maintenance(MaintenanceChange {
            cache: "basic".into(),
            node: NodeRole::Replica,
        }),
    ] {
        let e = world.apply_change(&change).await.expect_err("refused");
        assert!(
            e.to_string().contains("Basic (one node, no replica)"),
            "{e}"
        );
    }
    assert_eq!(*before, *world.world());
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lagging_link_loses_the_writes_wait_did_not_confirm() {
    let toml = SCENARIO.replace(
        "requirepass = \"s3cret\"",
        "requirepass = \"s3cret\"\nreplication = { latency_ms = 2000 }",
    );
    let scenario = common::scenario("failover-lag", &toml);
    let world = common::up(&scenario, "failover-lag").await;
    let ip = common::public(&world, "contoso");
    let mut a = connect(ip, 6379, Some("s3cret")).await;
    // Writes before the replica's full synchronisation reach it with the RDB, not the stream:
    // wait until it is online, as a lab would (every handshake step pays the link's latency).
    wait_until("the replica to come online", async || {
        call(&mut a, &["INFO", "replication"], Duration::from_secs(10))
            .await
            .contains("state=online")
    })
    .await;
    assert_eq!(
        call(&mut a, &["SET", "acked", "1"], Duration::from_secs(10)).await,
        "+OK\r\n"
    );
    // WAIT returns once the replica has it, about the link's latency later.
    assert_eq!(
        call(&mut a, &["WAIT", "1", "30000"], Duration::from_secs(40)).await,
        ":1\r\n"
    );
    assert_eq!(
        call(&mut a, &["SET", "unacked", "2"], Duration::from_secs(10)).await,
        "+OK\r\n"
    );
    world
        .apply_change(&Change::Failover("contoso".into()))
        .await
        .expect("failover");
    let mut b = connect(ip, 6379, Some("s3cret")).await;
    assert_eq!(
        call(&mut b, &["GET", "acked"], Duration::from_secs(10)).await,
        "$1\r\n1\r\n"
    );
    assert_eq!(
        call(&mut b, &["GET", "unacked"], Duration::from_secs(10)).await,
        "$-1\r\n"
    );
    world.shutdown().await.expect("shutdown");
}

/// Reads pub/sub messages from `s` until one contains `kind` (at most 10 s).
async fn message(s: &mut TcpStream, kind: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 4096];
    while !seen.contains(kind) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => panic!("no {kind} message; got {seen:?}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn maintenance_publishes_azures_sequence_on_the_worlds_clock() {
    let scenario = common::scenario("failover-maint", SCENARIO);
    let clock = redlink_clock::Clock::manual();
    let options = UpOptions {
        state_file: Some(common::state_path("failover-maint")),
        clock: clock.clone(),
        ..UpOptions::default()
    };
    let world = RunningWorld::start(&scenario, options)
        .await
        .expect("starts");
    let ip = common::public(&world, "contoso");
    let subscribe = async || {
        let mut s = connect(ip, 6379, Some("s3cret")).await;
        let r = call(
            &mut s,
            &["SUBSCRIBE", "AzureRedisEvents"],
            Duration::from_secs(10),
        )
        .await;
        assert!(r.contains("subscribe"), "{r}");
        s
    };
    let mut sub = subscribe().await;
    let t0 = clock.now_ms();
    world
        .apply_change(&Change::Maintenance(MaintenanceChange {
            cache: "contoso".into(),
            node: NodeRole::Primary,
        }))
        .await
        .expect("maintenance");
    let start = t0 + redlink_runtime::maintenance::SCHEDULED_AHEAD_MS;
    let start_text = redlink_runtime::maintenance::utc(start);
    let m = message(&mut sub, "NodeMaintenanceScheduled").await;
    let expected = format!(
        "NotificationType|NodeMaintenanceScheduled|StartTimeInUTC|{start_text}|IsReplica|False|IPAddress|{ip}|SSLPort|6380|NonSSLPort|6379"
    );
    assert!(m.contains(&expected), "{m}\nwanted {expected}");
    // A second maintenance while one runs is refused.
    let e = world
        .apply_change(&Change::Maintenance(MaintenanceChange {
            cache: "contoso".into(),
            node: NodeRole::Replica,
        }))
        .await
        .expect_err("one at a time");
    assert!(e.to_string().contains("already running"), "{e}");

    clock.advance_to(start - 20_000).expect("advance");
    world.settle().await;
    let m = message(&mut sub, "NodeMaintenanceStarting").await;
    assert!(m.contains(&format!("StartTimeInUTC|{start_text}|")), "{m}");
    clock.advance_to(start).expect("advance");
    world.settle().await;
    let m = message(&mut sub, "NodeMaintenanceStart").await;
    assert!(
        m.contains("NodeMaintenanceStart|StartTimeInUTC||IsReplica|False"),
        "{m}"
    );
    clock.advance_to(start + 1000).expect("advance");
    world.settle().await;
    assert!(closed(&mut sub).await, "the failover closed the subscriber");
    assert_eq!(
        world.world().cache("contoso").map(|c| c.nodes.primary),
        Some(1)
    );
    let mut sub = subscribe().await;
    clock.advance_to(start + 10_000).expect("advance");
    world.settle().await;
    message(&mut sub, "NodeMaintenanceFailoverComplete").await;
    clock.advance_to(start + 180_000).expect("advance");
    world.settle().await;
    message(&mut sub, "NodeMaintenanceEnded").await;
    wait_until("the maintenance to end", async || {
        world
            .world()
            .cache("contoso")
            .is_some_and(|c| c.maintenance.is_none())
    })
    .await;
    world.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_redis_hands_opted_in_connections_off() {
    let toml = r#"
name = "handoff"

[[cache]]
name = "amr"
flavour = "managed-redis"
region = "westeurope"
tls = false
non_tls_port = true
public_network_access = "Enabled"
"#;
    let scenario = common::scenario("failover-amr", toml);
    let clock = redlink_clock::Clock::manual();
    let options = UpOptions {
        state_file: Some(common::state_path("failover-amr")),
        clock: clock.clone(),
        ..UpOptions::default()
    };
    let world = RunningWorld::start(&scenario, options)
        .await
        .expect("starts");
    let ip = common::public(&world, "amr");
    let mut opted = connect(ip, 10000, None).await;
    assert!(
        call(&mut opted, &["HELLO", "3"], Duration::from_secs(10))
            .await
            .starts_with('%')
    );
    assert_eq!(
        call(
            &mut opted,
            &[
                "CLIENT",
                "MAINT_NOTIFICATIONS",
                "ON",
                "moving-endpoint-type",
                "internal-ip"
            ],
            Duration::from_secs(10)
        )
        .await,
        "+OK\r\n"
    );
    let mut plain = connect(ip, 10000, None).await;
    assert_eq!(
        call(&mut plain, &["PING"], Duration::from_secs(10)).await,
        "+PONG\r\n"
    );
    let t0 = clock.now_ms();
    world
        .apply_change(&Change::Maintenance(MaintenanceChange {
            cache: "amr".into(),
            node: NodeRole::Primary,
        }))
        .await
        .expect("maintenance");
    let start = t0 + redlink_runtime::maintenance::SCHEDULED_AHEAD_MS;
    clock.advance_to(start).expect("advance");
    world.settle().await;
    let m = message(&mut opted, "FAILING_OVER").await;
    assert!(
        m.contains(">3\r\n$12\r\nFAILING_OVER\r\n:1\r\n:15\r\n"),
        "{m:?}"
    );
    clock.advance_to(start + 1000).expect("advance");
    world.settle().await;
    let m = message(&mut opted, "MOVING").await;
    let want = format!(
        ">4\r\n$6\r\nMOVING\r\n:2\r\n:15\r\n${}\r\n{ip}:10000\r\n",
        format!("{ip}:10000").len()
    );
    assert!(m.contains(&want), "{m:?}\nwanted {want:?}");
    // Those that did not opt in were closed; the handed-off one is still served meanwhile.
    assert!(closed(&mut plain).await);
    assert_eq!(
        call(&mut opted, &["PING"], Duration::from_secs(10)).await,
        "+PONG\r\n"
    );
    // A new connection reaches the promoted node.
    let mut fresh = connect(ip, 10000, None).await;
    assert!(
        call(&mut fresh, &["ROLE"], Duration::from_secs(10))
            .await
            .contains("master")
    );
    drop(opted);
    world.shutdown().await.expect("shutdown");
}
