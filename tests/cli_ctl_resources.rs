//! `redlink ctl` verbs that create and delete resources, end to end through the control API of a
//! running `redlink up`, checked with `redlink probe` as a client in a network would see it:
//! `network vnet peering create|delete|list|show` (one-sided = Initiated, no traffic),
//! `network nsg rule create|delete|list`, `network private-endpoint create|delete`,
//! `redis firewall-rules create|delete|list`, `redis update --set enableNonSslPort=…`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const WORLD: &str = r#"
name = "ctl-resources"

[[network]]
name = "hub"

[[network]]
name = "spoke"

[[network]]
name = "office"

[[cache]]
name = "contoso"
public_network_access = "Enabled"
firewall_rules = [{ name = "nobody", start = "127.99.0.1", end = "127.99.0.1" }]

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }, { network = "spoke" }]
"#;

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

struct World {
    child: Child,
    state: PathBuf,
    dir: PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn up() -> World {
    let dir = std::env::temp_dir().join(format!("redlink-ctl-resources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("world.toml");
    std::fs::write(&file, WORLD).expect("scenario");
    let state = dir.join("state.json");
    let mut child = redlink()
        .arg("up")
        .arg(&file)
        .args(["--for", "120s", "--state-file"])
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&state)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && json["control"].is_string()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("redlink up exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no control address in {}",
            state.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    World { child, state, dir }
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

/// Fails with exit 2 and says `says`.
fn refused(out: &Output, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(says), "{err}");
}

/// `redlink probe --network NET HOST` (TLS): whether PING succeeded, and the evidence.
fn probe(state: &Path, network: &str, host: &str) -> (bool, String) {
    let out = redlink()
        .args([
            "probe",
            "--tls",
            "--connect-timeout",
            "300",
            "--network",
            network,
            "--state-file",
        ])
        .arg(state)
        .arg(host)
        .output()
        .expect("probe runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const HOST: &str = "contoso.redis.cache.windows.net";

#[test]
fn peerings_rules_endpoints_and_firewall_rules_through_ctl() {
    let w = up();
    let st = w.state.as_path();

    // Peering: one side is Initiated and passes nothing; the other side makes it Connected.
    let (ok, why) = probe(st, "spoke", HOST);
    assert!(!ok, "spoke is not peered yet: {why}");
    let side = json(&ctl(
        st,
        &[
            "network",
            "vnet",
            "peering",
            "create",
            "-g",
            "rg",
            "-n",
            "spoke-to-hub",
            "--vnet-name",
            "spoke",
            "--remote-vnet",
            "hub",
        ],
    ));
    assert_eq!(side["peeringState"], "Initiated");
    assert_eq!(side["name"], "spoke-to-hub");
    assert!(
        side["remoteVirtualNetwork"]["id"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/virtualNetworks/hub")
    );
    let (ok, why) = probe(st, "spoke", HOST);
    assert!(!ok && why.contains("Initiated"), "{why}");
    let other = json(&ctl(
        st,
        &[
            "network",
            "vnet",
            "peering",
            "create",
            "-n",
            "hub-to-spoke",
            "--vnet-name",
            "hub",
            "--remote-vnet",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/spoke",
        ],
    ));
    assert_eq!(other["peeringState"], "Connected");
    let list = json(&ctl(
        st,
        &["network", "vnet", "peering", "list", "--vnet-name", "spoke"],
    ));
    assert_eq!(list[0]["peeringState"], "Connected", "{list}");
    let (ok, why) = probe(st, "spoke", HOST);
    assert!(ok, "Connected: {why}");
    refused(
        &ctl(
            st,
            &[
                "network",
                "vnet",
                "peering",
                "create",
                "-n",
                "again",
                "--vnet-name",
                "spoke",
                "--remote-vnet",
                "hub",
            ],
        ),
        "already has a peering to hub (Connected)",
    );

    // NSG rule: deny spoke → pe-hub, then delete it.
    let rule = json(&ctl(
        st,
        &[
            "network",
            "nsg",
            "rule",
            "create",
            "--nsg-name",
            "spoke-nsg",
            "-n",
            "deny-spoke",
            "--priority",
            "100",
            "--access",
            "Deny",
            "--source-address-prefixes",
            "spoke",
            "--destination-address-prefixes",
            "pe-hub",
            "--destination-port-ranges",
            "6380",
            "--protocol",
            "Tcp",
        ],
    ));
    assert_eq!(rule["access"], "Deny");
    assert_eq!(rule["destinationPortRange"], "6380");
    assert!(
        rule["id"]
            .as_str()
            .unwrap_or_default()
            .contains("/networkSecurityGroups/spoke-nsg/securityRules/deny-spoke")
    );
    let (ok, why) = probe(st, "spoke", HOST);
    assert!(!ok && why.contains("deny-spoke"), "{why}");
    let rules = json(&ctl(
        st,
        &["network", "nsg", "rule", "list", "--nsg-name", "spoke-nsg"],
    ));
    assert_eq!(rules.as_array().map(Vec::len), Some(1));
    refused(
        &ctl(
            st,
            &[
                "network",
                "nsg",
                "rule",
                "create",
                "--nsg-name",
                "n",
                "-n",
                "udp",
                "--priority",
                "200",
                "--protocol",
                "Udp",
            ],
        ),
        "TCP only",
    );
    let deleted = ctl(
        st,
        &[
            "network",
            "nsg",
            "rule",
            "delete",
            "--nsg-name",
            "spoke-nsg",
            "-n",
            "deny-spoke",
        ],
    );
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert!(probe(st, "spoke", HOST).0, "rule deleted");

    // Unpeering one side leaves the other Disconnected.
    let gone = ctl(
        st,
        &[
            "network",
            "vnet",
            "peering",
            "delete",
            "-n",
            "hub-to-spoke",
            "--vnet-name",
            "hub",
        ],
    );
    assert!(
        gone.status.success(),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
    let left = json(&ctl(
        st,
        &[
            "network",
            "vnet",
            "peering",
            "show",
            "-n",
            "spoke-to-hub",
            "--vnet-name",
            "spoke",
        ],
    ));
    assert_eq!(left["peeringState"], "Disconnected");
    assert!(!probe(st, "spoke", HOST).0);

    // A private endpoint of spoke's own, registered in the zone: spoke connects without peering.
    let pe = json(&ctl(
        st,
        &[
            "network",
            "private-endpoint",
            "create",
            "-g",
            "rg",
            "-n",
            "pe-spoke",
            "--vnet-name",
            "spoke",
            "--subnet",
            "default",
            "--private-connection-resource-id",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Cache/Redis/contoso",
            "--group-id",
            "redisCache",
            "--connection-name",
            "c1",
            "--register-in",
            "privatelink.redis.cache.windows.net",
        ],
    ));
    assert_eq!(pe["name"], "pe-spoke");
    assert_eq!(
        pe["privateLinkServiceConnections"][0]["privateLinkServiceConnectionState"]["status"],
        "Approved"
    );
    let (ok, why) = probe(st, "spoke", HOST);
    assert!(ok && why.contains("pe-spoke"), "{why}");
    refused(
        &ctl(
            st,
            &[
                "network",
                "private-endpoint",
                "create",
                "-n",
                "pe-x",
                "--vnet-name",
                "spoke",
                "--private-connection-resource-id",
                "contoso",
                "--group-id",
                "redisEnterprise",
            ],
        ),
        "has group id redisCache",
    );
    let manual = json(&ctl(
        st,
        &[
            "network",
            "private-endpoint",
            "create",
            "-n",
            "pe-office",
            "--vnet-name",
            "office",
            "--private-connection-resource-id",
            "contoso",
            "--manual-request",
        ],
    ));
    assert_eq!(
        manual["manualPrivateLinkServiceConnections"][0]["privateLinkServiceConnectionState"]["status"],
        "Pending"
    );
    for name in ["pe-spoke", "pe-office"] {
        let out = ctl(st, &["network", "private-endpoint", "delete", "-n", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    refused(
        &ctl(
            st,
            &["network", "private-endpoint", "delete", "-n", "pe-spoke"],
        ),
        "pe-spoke",
    );

    // Firewall rules on the public endpoint (office has no private endpoint and no zone link).
    let (ok, why) = probe(st, "office", HOST);
    assert!(!ok, "no firewall rule admits office: {why}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(st).expect("state")).expect("state JSON");
    let office_addr = state["networks"]["office"]["client_address"]
        .as_str()
        .unwrap_or_else(|| panic!("office's client address in {state}"))
        .to_owned();
    let fw = json(&ctl(
        st,
        &[
            "redis",
            "firewall-rules",
            "create",
            "--name",
            "contoso",
            "-g",
            "rg",
            "--rule-name",
            "office",
            "--start-ip",
            &office_addr,
            "--end-ip",
            &office_addr,
        ],
    ));
    assert_eq!(fw["name"], "contoso/office");
    assert_eq!(fw["startIp"], office_addr);
    let (ok, why) = probe(st, "office", HOST);
    assert!(ok, "the firewall rule admits office: {why}");
    let all = json(&ctl(
        st,
        &["redis", "firewall-rules", "list", "--name", "contoso"],
    ));
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    let out = ctl(
        st,
        &[
            "redis",
            "firewall-rules",
            "delete",
            "--name",
            "contoso",
            "--rule-name",
            "office",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!probe(st, "office", HOST).0, "rule deleted");
    refused(
        &ctl(
            st,
            &[
                "redis",
                "firewall-rules",
                "create",
                "--name",
                "contoso",
                "--rule-name",
                "bad",
                "--start-ip",
                "127.0.0.9",
                "--end-ip",
                "127.0.0.1",
            ],
        ),
        "before it starts",
    );

    // The non-TLS port, and Azure's minimum TLS version.
    let redis = json(&ctl(
        st,
        &[
            "redis",
            "update",
            "-n",
            "contoso",
            "--set",
            "enableNonSslPort=true",
        ],
    ));
    assert_eq!(redis["enableNonSslPort"], true);
    assert_eq!(redis["port"], 6379);
    refused(
        &ctl(
            st,
            &[
                "redis",
                "update",
                "-n",
                "contoso",
                "--set",
                "minimumTlsVersion=1.0",
            ],
        ),
        "TLS 1.0 and 1.1 were retired",
    );
    let redis = json(&ctl(
        st,
        &[
            "redis",
            "update",
            "-n",
            "contoso",
            "--set",
            "minimumTlsVersion=1.2",
        ],
    ));
    assert_eq!(redis["minimumTlsVersion"], "1.2");
}
