//! Each edge verdict as redis-cli sees it, through a world started with `redlink up`: route (PONG),
//! refuse (Connection refused at once), reset (Connection reset by peer), drop (connect never
//! completes) and blackhole (connected, no reply).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"
name = "verdicts-cli"

[[network]]
name = "app"

[[cache]]
name = "routed"
non_tls_port = true
public_network_access = "Enabled"

[[cache]]
name = "refuser"
non_tls_port = true
public_network_access = "Disabled"
public_blocked_action = "refuse"

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
name = "pe-pending"
network = "app"
cache = "routed"
state = "Pending"
"#;

fn redis_cli(host: &str, within: Duration) -> Option<(bool, String)> {
    let child = Command::new("timeout")
        .arg(format!("{}", within.as_secs_f64()))
        .args(["redis-cli", "-h", host, "-p", "6379", "PING"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed (apt-get install redis-tools; .ci/run does it)");
    let out = child.wait_with_output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `timeout` exits 124 when redis-cli was still waiting.
    if out.status.code() == Some(124) {
        return None;
    }
    Some((text.contains("PONG"), text))
}

/// Whether redis-cli runs here; prints why the test skips when it does not.
fn redis_cli_installed() -> bool {
    let ok = Command::new("redis-cli")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "note: skipping: redis-cli is not installed (apt-get install redis-tools; .ci/run does it)"
        );
    }
    ok
}

#[test]
fn each_verdict_as_redis_cli_sees_it() {
    if !redis_cli_installed() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("redlink-cli-verdicts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("verdicts.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let state: PathBuf = dir.join("state.json");
    let mut up = Command::new(env!("CARGO_BIN_EXE_redlink"))
        .arg("up")
        .arg(&scenario)
        .args(["--for", "60s", "--state-file"])
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let json: serde_json::Value = loop {
        if let Some(v) = std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
        {
            break v;
        }
        assert!(Instant::now() < deadline, "no state file");
        std::thread::sleep(Duration::from_millis(50));
    };
    let address = |cache: &str, endpoint: &str| -> String {
        json["caches"][cache]["endpoints"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["name"] == endpoint))
            .and_then(|e| e["address"].as_str())
            .unwrap_or_else(|| panic!("{cache}/{endpoint} in the state file"))
            .to_string()
    };
    // route
    let (pong, text) =
        redis_cli(&address("routed", "public"), Duration::from_secs(5)).expect("answers");
    assert!(pong, "route: {text}");
    // refuse: at once
    let t = Instant::now();
    let (pong, text) =
        redis_cli(&address("refuser", "public"), Duration::from_secs(5)).expect("fails at once");
    assert!(!pong && text.contains("refused"), "refuse: {text}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "refused in {:?}",
        t.elapsed()
    );
    // reset
    let (pong, text) =
        redis_cli(&address("resetter", "public"), Duration::from_secs(5)).expect("fails");
    assert!(
        !pong && text.to_lowercase().contains("reset"),
        "reset: {text}"
    );
    // drop: the connect does not complete
    assert!(
        redis_cli(
            &address("routed", "pe-pending"),
            Duration::from_millis(1500)
        )
        .is_none(),
        "drop: redis-cli must still be connecting after 1.5 s"
    );
    // blackhole: connected, never answered
    assert!(
        redis_cli(&address("holer", "public"), Duration::from_millis(1500)).is_none(),
        "blackhole: redis-cli must still be waiting after 1.5 s"
    );
    let _ = up.kill();
    let _ = up.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
