//! Planned maintenance end to end (issue 20): `redlink up --speed 30` with a highly available
//! managed-redis cache and a Standard cache, redis-py (`tests/data/maintenance_clients.py`) through
//! their endpoints while `redlink ctl redis maintenance` runs: the command loop with smart client
//! handoffs (RESP3 `MOVING`…) has no failed command, the same loop without notifications sees the
//! reset, and a subscriber on AzureRedisEvents receives Azure's sequence around the failover's
//! reset. Refusals (a second maintenance, a PrimaryNode reboot of a Basic cache) exit 2.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Up, bounded};

const SCENARIO: &str = r#"
[[cache]]
name = "amr"
flavour = "managed-redis"
region = "westeurope"
tls = false
non_tls_port = true
public_network_access = "Enabled"

[[cache]]
name = "contoso"
sku = "Standard"
non_tls_port = true
public_network_access = "Enabled"

[[cache]]
name = "basic"
non_tls_port = true
public_network_access = "Enabled"
"#;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("redlink-cli-maint-{}-{name}", std::process::id()))
}

fn redis_py_has_maint_notifications() -> bool {
    Command::new("python3")
        .args(["-c", "import redis.maint_notifications"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn redis_py_rides_through_a_maintenance_with_handoffs_and_sees_azures_events() {
    if !redis_py_has_maint_notifications() {
        eprintln!("skipping: python3's redis module has no maint_notifications (redis-py >= 6.4)");
        return;
    }
    let scenario = temp("world.toml");
    std::fs::write(&scenario, SCENARIO).expect("writes the scenario");
    let state = temp("state.json");
    let child = Command::new(env!("CARGO_BIN_EXE_redlink"))
        .arg("up")
        .arg(&scenario)
        .arg("--state-file")
        .arg(&state)
        .args(["--for", "300s", "--speed", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let mut up = Up { child, state };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !up.state.exists() {
        if let Ok(Some(status)) = up.child.try_wait() {
            panic!("redlink up exited early: {status}");
        }
        assert!(Instant::now() < deadline, "no state file within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut py = Command::new("python3");
    py.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/maintenance_clients.py"
    ))
    .arg(&up.state)
    .arg(env!("CARGO_BIN_EXE_redlink"));
    let out = bounded(py, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    if let Some(skip) = r["skip"].as_str() {
        eprintln!("skipping: {skip}");
        return;
    }
    for m in ["maintenance_amr", "maintenance_contoso"] {
        assert_eq!(r[m]["code"], 0, "{m}: {}", r[m]);
    }
    // Refused with the reason, exit 2.
    assert_eq!(
        r["second_maintenance"]["code"], 2,
        "{}",
        r["second_maintenance"]
    );
    assert!(
        r["second_maintenance"]["err"]
            .as_str()
            .is_some_and(|e| e.contains("already running")),
        "{}",
        r["second_maintenance"]
    );
    assert_eq!(
        r["reboot_basic_primary"]["code"], 2,
        "{}",
        r["reboot_basic_primary"]
    );
    // The loop with handoffs never failed; the same loop without them saw the reset.
    assert_eq!(r["handoff"]["failed"], 0, "{}", r["handoff"]);
    assert!(
        r["handoff"]["ok"].as_u64().is_some_and(|n| n > 0),
        "{}",
        r["handoff"]
    );
    // Without handoffs the reset reaches the plain loop: as a failed command when it lands on a
    // command in flight, as a silent reconnect (a new connection: CLIENT ID and the client's
    // address as the server sees it) when it lands between two.
    assert!(
        r["plain"]["failed"].as_u64().is_some_and(|n| n >= 1)
            || r["plain"]["reconnects"].as_u64().is_some_and(|n| n >= 1),
        "{}",
        r["plain"]
    );
    // Azure's sequence, the failover's reset between Start and FailoverComplete.
    let events: Vec<String> = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e.as_str())
        .map(|e| {
            e.strip_prefix("NotificationType|")
                .and_then(|rest| rest.split('|').next())
                .unwrap_or(if e.starts_with("RESET") { "RESET" } else { e })
                .to_owned()
        })
        .collect();
    let order = [
        "NodeMaintenanceScheduled",
        "NodeMaintenanceStarting",
        "NodeMaintenanceStart",
        "RESET",
        "NodeMaintenanceFailoverComplete",
        "NodeMaintenanceEnded",
    ];
    let mut at = 0;
    for e in &events {
        if at < order.len() && e == order[at] {
            at += 1;
        }
    }
    assert_eq!(at, order.len(), "{events:?}");
    let first = r["events"][0].as_str().unwrap_or_default();
    assert!(first.contains("|IsReplica|False|IPAddress|127."), "{first}");
    assert!(first.ends_with("|SSLPort|6380|NonSSLPort|6379"), "{first}");
    // The replica was promoted: node 1 is the primary now.
    assert_eq!(r["instances"][1]["isPrimary"], true, "{}", r["instances"]);
    let _ = std::fs::remove_file(&scenario);
}
