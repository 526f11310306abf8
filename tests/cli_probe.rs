//! `redlink probe` against a running `redlink up`: exit 0 with the evidence trail when PING
//! succeeds, 1 with the failing step (refused, errno and time) otherwise, 2 for bad input; `--json`
//! for machines; the world is found through `--state-file` or `$REDLINK_STATE`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("redlink-cli-probe-{}-{name}", std::process::id()))
}

fn probe(args: &[&str], state: &PathBuf) -> Output {
    redlink()
        .arg("probe")
        .args(args)
        .env("REDLINK_STATE", state)
        .output()
        .expect("redlink probe runs")
}

#[test]
fn probe_prints_evidence_and_exits_by_outcome() {
    let state = temp("state.json");
    let mut up = redlink()
        .args(["up", "--for", "30s", "--state-file"])
        .arg(&state)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !state.exists() {
        assert!(Instant::now() < deadline, "no state file");
        std::thread::sleep(Duration::from_millis(50));
    }
    let host = "contoso.redis.cache.windows.net";

    let ok = probe(&["--network", "hub", host, "--tls"], &state);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    for line in [
        "ok   dns",
        "CNAME",
        "why: zone",
        "ok   tcp",
        "ok   tls",
        "ok   ping +PONG",
        "outcome: ok",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }

    let refused = probe(&["--network", "spoke", host, "--tls", "--json"], &state);
    assert_eq!(refused.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_slice(&refused.stdout).expect("--json prints JSON");
    assert_eq!(json["outcome"], "refused");
    let tcp = &json["steps"][1];
    assert_eq!(tcp["step"], "tcp");
    assert_eq!(tcp["errno_name"], "ECONNREFUSED");
    assert!(tcp["elapsed_ms"].as_f64().is_some_and(|ms| ms < 1000.0));
    assert!(
        json["verdict"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Disabled"))
    );

    let missing = probe(&["--network", "spoke"], &state);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "a missing HOST is bad input"
    );
    let unknown = probe(&["--network", "nowhere", host], &state);
    assert_eq!(unknown.status.code(), Some(2));

    let _ = Command::new("kill").arg(up.id().to_string()).status();
    let _ = up.wait();
    assert!(!state.exists(), "the state file goes away");
}
