//! A clustered cache inside `redlink exec`, by host name: an unmodified `redis-cli -c` in network
//! hub resolves contoso.redis.cache.windows.net through the simulated DNS (the private endpoint),
//! follows -MOVED to the endpoint's per-node ports, and CLUSTER NODES names only that address.
//! Linux only (user namespaces); skips with a note where they or redis-cli are unavailable.
#![cfg(target_os = "linux")]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

const SCENARIO: &str = r#"
name = "cluster-exec"

[[network]]
name = "hub"

[[cache]]
name = "contoso"
shards = 3
non_tls_port = true

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn redis_cli_c_follows_the_cluster_by_host_name_inside_exec() {
    let has_cli = Command::new("sh")
        .args(["-c", "command -v redis-cli"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_cli {
        eprintln!("note: skipping: redis-cli is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("redlink-cluster-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("cluster-exec.toml");
    std::fs::write(&file, SCENARIO).expect("scenario written");
    let script = "H=contoso.redis.cache.windows.net; \
        for k in b c foo; do redis-cli -c -h $H -p 6379 SET $k v-$k || exit 3; done; \
        for k in b c foo; do redis-cli -c -h $H -p 6379 GET $k || exit 4; done; \
        echo NODES; redis-cli -h $H -p 6379 CLUSTER NODES; echo ADDRESS; getent hosts $H";
    let mut c = Command::new(env!("CARGO_BIN_EXE_redlink"));
    c.arg("exec")
        .arg(&file)
        .args(["--new-world", "--network", "hub", "--", "sh", "-c", script])
        .env_remove("REDLINK_STATE")
        .env_remove("REDLINK_EXEC_NETNS");
    let out = support::bounded(c, Duration::from_secs(60));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() && stderr.contains("cannot create a user namespace") {
        eprintln!("note: skipping: unprivileged user namespaces are unavailable here: {stderr}");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let (replies, rest) = stdout
        .split_once("NODES\n")
        .expect("the script ran through");
    assert_eq!(
        replies.lines().collect::<Vec<_>>(),
        ["OK", "OK", "OK", "v-b", "v-c", "v-foo"],
        "{stdout}"
    );
    let (nodes, address) = rest.split_once("ADDRESS\n").expect("getent ran");
    let pe = address.split_whitespace().next().expect("an address");
    let mut told: Vec<String> = nodes
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|a| a.split('@').next().unwrap_or(a).to_owned())
        .collect();
    told.sort();
    assert_eq!(
        told,
        [
            format!("{pe}:13000"),
            format!("{pe}:13001"),
            format!("{pe}:13002")
        ],
        "{stdout}"
    );
}
