//! Issue 17 through the binary: `redlink up` says where the host stands (its output and the state
//! file); `redlink ctl` refuses to approve a Rejected connection as az does (`ERROR: (BadRequest)
//! …`, `Code:`, `Message:`, exit 1, no `Auto-Approved`); `redlink probe` to a stale record's
//! address times out and explains it as `check` does; `redlink check` runs the bundled scenarios
//! of the new kinds.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::bounded;

const LIMIT: Duration = Duration::from_secs(60);

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn ctl(state: &Path, args: &[&str]) -> Output {
    let mut c = redlink();
    c.arg("ctl").arg("--state-file").arg(state).args(args);
    bounded(c, LIMIT)
}

/// Starts the quickstart; returns the child and the lines `up` printed up to its `host:` line.
fn up(state: &Path) -> (Child, Vec<String>) {
    let mut child = redlink()
        .args(["up", "--for", "90s", "--state-file"])
        .arg(state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no host line: {lines:?}");
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("up exited early: {lines:?}");
        }
        let done = line.starts_with("host:");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    // The state file is written once everything listens; the control address is in it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(state)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && json["control"].is_string()
        {
            break;
        }
        assert!(Instant::now() < deadline, "no state file");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, lines)
}

fn stop(mut child: Child, state: &PathBuf) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_file(state);
}

#[test]
fn up_ctl_and_probe_keep_azures_rules() {
    let state =
        std::env::temp_dir().join(format!("redlink-cli-fidelity-{}.json", std::process::id()));
    let (child, lines) = up(&state);

    // Where the host stands: printed, and in the state file.
    let host = lines.last().expect("a host line");
    assert!(host.starts_with("host:       in network hub"), "{lines:?}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("JSON");
    assert_eq!(file["host"], serde_json::json!({ "network": "hub" }));

    // Reject, then approve again: refused as az reports a service error.
    let rejected = ctl(
        &state,
        &[
            "network",
            "private-endpoint-connection",
            "reject",
            "--name",
            "pe-hub",
        ],
    );
    assert!(rejected.status.success(), "{rejected:?}");
    let again = ctl(
        &state,
        &[
            "network",
            "private-endpoint-connection",
            "approve",
            "--name",
            "pe-hub",
        ],
    );
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(
        stderr,
        "ERROR: (BadRequest) Approving rejected private endpoint connections is not supported.\n\
         Code: BadRequest\n\
         Message: Approving rejected private endpoint connections is not supported.\n"
    );
    assert!(again.stdout.is_empty(), "{again:?}");
    let shown = ctl(
        &state,
        &[
            "network",
            "private-endpoint-connection",
            "show",
            "--name",
            "pe-hub",
        ],
    );
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("\"Rejected\""), "{shown}");
    assert!(!shown.contains("Auto-Approved"), "{shown}");

    // A stale record: an address no endpoint owns times out, and probe says why.
    let added = ctl(
        &state,
        &[
            "network",
            "private-dns",
            "record-set",
            "a",
            "add-record",
            "--zone-name",
            "privatelink.redis.cache.windows.net",
            "--record-set-name",
            "stale",
            "--ipv4-address",
            "127.251.17.9",
        ],
    );
    assert!(added.status.success(), "{added:?}");
    let mut probe = redlink();
    probe
        .args(["probe", "--network", "hub", "--connect-timeout", "300"])
        .arg("--state-file")
        .arg(&state)
        .arg("stale.privatelink.redis.cache.windows.net:6380");
    let probed = bounded(probe, LIMIT);
    let text = String::from_utf8_lossy(&probed.stdout);
    assert!(!probed.status.success(), "{text}");
    assert!(text.contains("outcome: timeout"), "{text}");
    assert!(
        text.contains("no endpoint of the world has address 127.251.17.9")
            && text.contains("times out"),
        "{text}"
    );
    stop(child, &state);
}

#[test]
fn the_bundled_scenarios_of_the_new_kinds_pass() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut check = redlink();
    check.arg("check").args([
        format!("{root}/scenarios/stale-record-timeout.toml"),
        format!("{root}/scenarios/reapproval-refused.toml"),
    ]);
    let out = bounded(check, Duration::from_secs(120));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("✓ api: {\"approve\":\"pe-app\"} is refused"),
        "{text}"
    );
    assert!(
        text.contains("✓ app: DNS still answers the old address, which no endpoint owns"),
        "{text}"
    );
}
