//! `redlink exec --step`: the scenario's timeline waits for `redlink ctl next` instead of running
//! at its `at` offsets (the client matrix decides when a world breaks and is fixed).

use std::process::{Command, Stdio};

fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn steps_wait_for_ctl_next() {
    if !has("redis-cli") {
        eprintln!("note: skipping: redis-cli is not installed");
        return;
    }
    let redlink = env!("CARGO_BIN_EXE_redlink");
    if !Command::new(redlink)
        .args(["exec", "--network", "hub", "--", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("note: skipping: redlink exec cannot create namespaces here");
        return;
    }
    // The file stops the server at 5 s: past that, with --step, it still answers; after
    // `ctl next` the step runs and the same name is refused.
    let script = r#"
        ping() { redis-cli -h contoso.redis.cache.windows.net -p 6380 --tls --cacert "$REDLINK_CA" PING 2>&1; }
        sleep 6
        echo "held: $(ping)"
        "$REDLINK_BIN" ctl next >/dev/null
        for i in $(seq 1 100); do
            out=$(ping)
            case "$out" in *refused*) echo "released: $out"; exit 0;; esac
            sleep 0.1
        done
        echo "released: still $out"
    "#;
    let out = Command::new(redlink)
        .args([
            "exec",
            "scenarios/server-stopped.toml",
            "--step",
            "--network",
            "app",
            "--",
            "sh",
            "-c",
            script,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("REDLINK_BIN", redlink)
        .output()
        .expect("redlink runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("held: PONG"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("released: Could not connect to Redis at contoso.redis.cache.windows.net:6380: Connection refused"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("waits for `redlink ctl next`"),
        "exec says the step waits: {stderr}"
    );
}
