//! `redlink ctl` against a running `redlink up`: az-shaped JSON for `network private-endpoint
//! show`, a change (`private-endpoint-connection reject`) visible in the next show, and a bad name
//! exiting with 2.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn wait_for_control(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && json["control"].is_string()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("redlink up exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("no control address in {}", path.display());
}

fn ctl(state: &Path, args: &[&str]) -> Output {
    redlink()
        .arg("ctl")
        .arg("--state-file")
        .arg(state)
        .args(args)
        .output()
        .expect("redlink ctl runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[test]
fn ctl_shows_az_json_and_changes_the_world() {
    let state: PathBuf =
        std::env::temp_dir().join(format!("redlink-cli-ctl-{}.json", std::process::id()));
    let mut child = redlink()
        .args(["up", "--for", "60s", "--state-file"])
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    wait_for_control(&state, &mut child);

    let pe = json(&ctl(
        &state,
        &["network", "private-endpoint", "show", "--name", "pe-hub"],
    ));
    assert_eq!(pe["name"], "pe-hub");
    assert!(
        pe["id"]
            .as_str()
            .is_some_and(|i| i.ends_with("/Microsoft.Network/privateEndpoints/pe-hub"))
    );
    let conn = &pe["privateLinkServiceConnections"][0];
    assert_eq!(
        conn["privateLinkServiceConnectionState"]["status"],
        "Approved"
    );
    assert_eq!(conn["groupIds"][0], "redisCache");
    assert!(
        conn["privateLinkServiceId"]
            .as_str()
            .is_some_and(|i| i.ends_with("/Microsoft.Cache/Redis/contoso"))
    );
    assert!(
        pe["subnet"]["id"]
            .as_str()
            .is_some_and(|i| i.contains("/virtualNetworks/hub/"))
    );
    let address = pe["customDnsConfigs"][0]["ipAddresses"][0]
        .as_str()
        .expect("address");
    assert_eq!(
        pe["networkInterfaces"][0]["ipConfigurations"][0]["privateIPAddress"],
        address
    );
    assert_eq!(
        pe["customDnsConfigs"][0]["fqdn"],
        "contoso.redis.cache.windows.net"
    );

    // A routed connection through pe-hub shows in `ctl status`.
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect((address, 6379)).expect("pe-hub routes");
        c.write_all(b"PING\r\n").expect("write");
        let mut buf = [0u8; 7];
        c.read_exact(&mut buf).expect("PONG");
        assert_eq!(&buf, b"+PONG\r\n");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = json(&ctl(&state, &["status"]));
        let hub = status["networks"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["network"] == "hub"))
            .expect("hub in status");
        let pe_hub = hub["caches"][0]["endpoints"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["endpoint"] == "pe-hub"))
            .expect("pe-hub in status");
        if pe_hub["connectionsSinceStart"]["route"].as_u64() >= Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never counted the connection: {pe_hub}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let rejected = json(&ctl(
        &state,
        &[
            "network",
            "private-endpoint-connection",
            "reject",
            "--name",
            "pe-hub",
        ],
    ));
    assert_eq!(
        rejected["privateLinkServiceConnectionState"]["status"],
        "Rejected"
    );
    let redis = json(&ctl(&state, &["redis", "show", "--name", "contoso"]));
    assert_eq!(redis["hostName"], "contoso.redis.cache.windows.net");
    assert_eq!(redis["publicNetworkAccess"], "Disabled");
    assert_eq!(redis["sslPort"], 6380);
    assert_eq!(
        redis["privateEndpointConnections"][0]["privateLinkServiceConnectionState"]["status"],
        "Rejected"
    );

    let bad = ctl(
        &state,
        &[
            "network",
            "private-endpoint-connection",
            "approve",
            "--name",
            "nope",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nope"));

    // Changes go as JSON Changes: public access with a blocked action, a bad value is bad input.
    let redis = json(&ctl(
        &state,
        &[
            "redis",
            "update",
            "--name",
            "contoso",
            "--set",
            "publicNetworkAccess=disabled",
            "--set",
            "publicBlockedAction=reset",
        ],
    ));
    assert_eq!(redis["publicNetworkAccess"], "Disabled");
    let bad = ctl(
        &state,
        &[
            "redis",
            "update",
            "--name",
            "contoso",
            "--set",
            "redisConfiguration.maxclients=lots",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lots"));
    // Azure refuses to approve a Rejected connection (tests/cli_fidelity.rs checks az's shape).
    let refused = ctl(&state, &["raw", "WORLD.CHANGE", r#"{"approve":"pe-hub"}"#]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Approving rejected"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // The control API asks for the password `up` generated into the state file; ctl finds it
    // there, also with --control.
    let text = std::fs::read_to_string(&state).expect("state file");
    let file: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let password = file["control_password"]
        .as_str()
        .expect("a control password");
    assert_eq!(password.len(), 32);
    let control = file["control"].as_str().expect("control");
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(control).expect("control connects");
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        c.write_all(b"WORLD.JSON\r\n").expect("write");
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).expect("a reply");
        assert_eq!(&buf[..n], b"-NOAUTH Authentication required.\r\n");
        c.write_all(format!("AUTH {password}\r\nPING\r\n").as_bytes())
            .expect("write");
        let mut got = Vec::new();
        while got.len() < 12 {
            let n = c.read(&mut buf).expect("replies");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"+OK\r\n+PONG\r\n");
    }
    let pe = json(&ctl(
        &state,
        &[
            "--control",
            control,
            "network",
            "private-endpoint",
            "show",
            "--name",
            "pe-hub",
        ],
    ));
    assert_eq!(pe["name"], "pe-hub");
    let wrong = ctl(&state, &["--password", "nope", "status"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("WRONGPASS"));

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&state);
}
