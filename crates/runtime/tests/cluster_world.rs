//! Clustered caches in a running world, as real cluster clients see them: redis-cli `-c` and
//! redis-py's `RedisCluster` through a private endpoint (addresses from the world, never the system
//! resolver) and on the public path; every address a node announces is the address of the endpoint
//! the client used, with the cache's per-node ports; an NSG rule on one node's port makes only that
//! node's slots unreachable. Tests needing redis-cli or redis-py say why they skip when missing.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Premium, 3 shards, plain text on (13000 + n), TLS (15000 + n); the host stands in hub; spoke may
/// not reach node 1's plain port.
const SCENARIO: &str = r#"
name = "cluster-world"
host = { network = "hub" }

[[network]]
name = "hub"

[[network]]
name = "spoke"
peered_with = ["hub"]

[[cache]]
name = "contoso"
shards = 3
non_tls_port = true
public_network_access = "Enabled"

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[network_rule]]
name = "deny-spoke-node-1"
priority = 100
source = "spoke"
destination = "pe-hub"
port = 13001
action = "deny"
deny_as = "drop"
"#;

fn have(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: {tool} {} is not available", probe.join(" "));
    }
    ok
}

/// Runs `program args` (bounded by `timeout`, 30 s) off the async runtime; stdout, or a panic
/// with stderr.
async fn run(program: &str, args: Vec<String>) -> String {
    run_for(program, args, 30).await
}

/// [`run`] with a bound of `seconds`.
async fn run_for(program: &str, args: Vec<String>, seconds: u32) -> String {
    let program = program.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut all = vec![seconds.to_string(), program.clone()];
        all.extend(args.iter().cloned());
        let out = Command::new("timeout").args(&all).output().expect("runs");
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("joins")
}

fn cli(host: IpAddr, args: &[&str]) -> Vec<String> {
    let mut v = vec![
        "-h".to_owned(),
        host.to_string(),
        "-p".to_owned(),
        "6379".to_owned(),
    ];
    v.extend(args.iter().map(|a| (*a).to_owned()));
    v
}

/// `(ip, port)` of every node in a `CLUSTER NODES` reply.
fn node_addresses(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let addr = l.split_whitespace().nth(1).expect("an address field");
            let addr = addr.split('@').next().expect("ip:port");
            let (ip, port) = addr.rsplit_once(':').expect("ip:port");
            (ip.to_owned(), port.parse().expect("a port"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cli_follows_the_cluster_through_the_private_endpoint() {
    if !have("redis-cli", &["--version"]) {
        return;
    }
    let scenario = common::scenario("cluster-cli", SCENARIO);
    let world = common::up(&scenario, "cluster-cli").await;
    let pe = common::pe(&world, "pe-hub");
    // Keys of node 0 (b), node 1 (c) and node 2 (foo): -c follows each -MOVED.
    for key in ["b", "c", "foo"] {
        let set = run(
            "redis-cli",
            cli(pe, &["-c", "SET", key, &format!("v-{key}")]),
        )
        .await;
        assert_eq!(set.trim(), "OK", "SET {key}");
        let get = run("redis-cli", cli(pe, &["-c", "GET", key])).await;
        assert_eq!(get.trim(), format!("v-{key}"), "GET {key}");
    }
    // Every node is announced at pe-hub's address, on the cache's per-node plain ports.
    let nodes = run("redis-cli", cli(pe, &["CLUSTER", "NODES"])).await;
    let mut addrs = node_addresses(&nodes);
    addrs.sort();
    assert_eq!(
        addrs,
        vec![
            (pe.to_string(), 13000),
            (pe.to_string(), 13001),
            (pe.to_string(), 13002)
        ],
        "{nodes}"
    );
    // On the public path the same nodes are told at the public address.
    let public = common::public(&world, "contoso");
    let nodes = run("redis-cli", cli(public, &["CLUSTER", "NODES"])).await;
    assert!(
        node_addresses(&nodes)
            .iter()
            .all(|(ip, port)| *ip == public.to_string() && (13000..=13002).contains(port)),
        "{nodes}"
    );
    let get = run("redis-cli", cli(public, &["-c", "GET", "foo"])).await;
    assert_eq!(get.trim(), "v-foo");
    world.shutdown().await.expect("shuts down");
}

const REDIS_PY: &str = r#"
import sys
from redis.cluster import RedisCluster
host, port = sys.argv[1], int(sys.argv[2])
rc = RedisCluster(host=host, port=port, socket_timeout=5, socket_connect_timeout=5)
for i in range(200):
    rc.set(f"key:{i}", str(i))
for i in range(200):
    assert rc.get(f"key:{i}") == str(i).encode(), i
print(" ".join(sorted(f"{n.host}:{n.port}" for n in rc.get_nodes())))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn redis_py_cluster_client_sees_only_the_endpoint_it_came_through() {
    if !have("python3", &["-c", "import redis.cluster"]) {
        return;
    }
    let scenario = common::scenario("cluster-py", SCENARIO);
    let world = common::up(&scenario, "cluster-py").await;
    for address in [
        common::pe(&world, "pe-hub"),
        common::public(&world, "contoso"),
    ] {
        let out = run(
            "python3",
            vec![
                "-c".to_owned(),
                REDIS_PY.to_owned(),
                address.to_string(),
                "6379".to_owned(),
            ],
        )
        .await;
        assert_eq!(
            out.trim(),
            format!("{address}:13000 {address}:13001 {address}:13002"),
            "nodes redis-py found through {address}"
        );
    }
    world.shutdown().await.expect("shuts down");
}

/// A request on a fresh connection to `to` from `from`: the reply's first line.
async fn ask(from: IpAddr, to: SocketAddr, request: &[u8]) -> Result<String, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(from, 0))
        .map_err(|e| e.to_string())?;
    let mut s: TcpStream = tokio::time::timeout(Duration::from_millis(1500), socket.connect(to))
        .await
        .map_err(|_| "timeout".to_owned())?
        .map_err(|e| e.to_string())?;
    s.write_all(request).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .map_err(|_| "no reply".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_node_port_times_out_only_that_nodes_slots() {
    let scenario = common::scenario("cluster-nsg", SCENARIO);
    let world = common::up(&scenario, "cluster-nsg").await;
    let pe = common::pe(&world, "pe-hub");
    let spoke: IpAddr = world
        .world()
        .network("spoke")
        .expect("spoke")
        .client_address
        .into();
    let get = |key: &str| format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).into_bytes();
    // The seed answers spoke; a key of node 1 is redirected to pe-hub's port 13001 ...
    let moved = ask(spoke, SocketAddr::new(pe, 6379), &get("c"))
        .await
        .expect("the seed answers");
    assert_eq!(moved, format!("-MOVED 7365 {pe}:13001"));
    // ... which spoke's NSG rule drops (a connect timeout), while node 2's port answers.
    assert_eq!(
        ask(spoke, SocketAddr::new(pe, 13001), &get("c")).await,
        Err("timeout".to_owned())
    );
    let moved = ask(spoke, SocketAddr::new(pe, 6379), &get("foo"))
        .await
        .expect("the seed answers");
    assert_eq!(moved, format!("-MOVED 12182 {pe}:13002"));
    assert_eq!(
        ask(spoke, SocketAddr::new(pe, 13002), &get("foo")).await,
        Ok("$-1".to_owned())
    );
    // The host (in hub) is not subject to spoke's rule.
    assert_eq!(
        ask(
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            SocketAddr::new(pe, 13001),
            &get("c")
        )
        .await,
        Ok("$-1".to_owned())
    );
    world.shutdown().await.expect("shuts down");
}

/// Reads every key again and again through RedisCluster until told to stop (a file appears),
/// counting rounds; a wrong value fails it (a slots-cache disagreement mid-move is retried, as an
/// app would), and after the stop every key is read once more.
const READER: &str = r#"
import os, sys, time
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
host, port, n, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rc = RedisCluster(host=host, port=port, socket_timeout=10, socket_connect_timeout=5)
for i in range(n):
    rc.set(f"k:{i}", str(i))
open(stop + ".ready", "w").close()
rounds = 0
redirections = 0
while not os.path.exists(stop):
    for i in range(n):
        for attempt in range(3000):
            try:
                v = rc.get(f"k:{i}")
                break
            except (RedisClusterException, AttributeError):
                if attempt == 2999:
                    raise
                # Nodes asked a moment apart disagreed mid-move: a cluster app retries. AttributeError:
                # redis-py 8.1 follows an -ASK to a node not yet in its nodes cache (the shard the
                # reshard adds) with None ('NoneType' object has no attribute 'redis_connection'),
                # whatever the server (cluster.py's ASK branch looks the node up by name only); a
                # retry once the slot has moved is answered MOVED and refreshes the topology.
                redirections += 1
                time.sleep(0.01)
        assert v == str(i).encode(), (i, v)
    rounds += 1
for i in range(n):
    assert rc.get(f"k:{i}") == str(i).encode(), i
print(rounds, " ".join(sorted(f"{n.host}:{n.port}" for n in rc.get_nodes() if n.server_type == "primary")))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_live_reshard_keeps_every_key_for_a_running_cluster_client() {
    if !have("python3", &["-c", "import redis.cluster"]) {
        return;
    }
    let scenario = common::scenario("cluster-reshard", SCENARIO);
    let world = common::up(&scenario, "cluster-reshard").await;
    let pe = common::pe(&world, "pe-hub");
    let stop = std::env::temp_dir().join(format!("redlink-reshard-{}", std::process::id()));
    let _ = std::fs::remove_file(&stop);
    let ready = stop.with_extension("ready");
    let _ = std::fs::remove_file(&ready);
    let reader = tokio::spawn(run_for(
        "python3",
        vec![
            "-c".to_owned(),
            READER.to_owned(),
            pe.to_string(),
            "6379".to_owned(),
            "500".to_owned(),
            stop.to_string_lossy().into_owned(),
        ],
        180,
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader wrote its keys in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut events = world.events();
    let scale = |shards| {
        redlink_world::Change::Scale(redlink_world::change::ScaleChange {
            cache: "contoso".into(),
            shards,
        })
    };
    let done = world.apply_change(&scale(4)).await.expect("grows");
    assert!(done.contains("from 3 to 4 shards"), "{done}");
    // The background migration reports when the slots have moved.
    let moved = loop {
        let e = tokio::time::timeout(Duration::from_secs(120), events.next())
            .await
            .expect("the reshard finishes in time")
            .expect("the stream is open");
        if let redlink_runtime::Event::Change {
            description, error, ..
        } = e
            && description.contains("resharded to 4 shards")
        {
            assert_eq!(error, None, "{description}");
            break description;
        }
    };
    assert!(!moved.contains("(0 slots"), "{moved}");
    // A shrink moves the slots off node 3 before its port closes.
    let done = world.apply_change(&scale(3)).await.expect("shrinks");
    assert!(done.contains("from 4 to 3 shards"), "{done}");
    std::fs::write(&stop, b"").expect("stop file");
    let out = reader.await.expect("the reader ends");
    let _ = std::fs::remove_file(&stop);
    let _ = std::fs::remove_file(&ready);
    let (rounds, _nodes) = out.trim().split_once(' ').expect("rounds and nodes");
    assert!(rounds.parse::<u32>().expect("a count") >= 1, "{out}");
    // After the shrink the cluster has three nodes again, told at pe-hub (redis-py's own node
    // cache may still hold the removed node: it is not asserted).
    let nodes = ask(
        IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        SocketAddr::new(pe, 6379),
        b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n",
    )
    .await
    .expect("CLUSTER NODES answers");
    for port in [13000, 13001, 13002] {
        assert!(nodes.contains(&format!("{pe}:{port}@")), "{nodes}");
    }
    assert!(!nodes.contains(":13003@"), "{nodes}");
    let state = world.state().await;
    let cluster = state.caches["contoso"]
        .cluster
        .as_ref()
        .expect("cluster state");
    assert_eq!(cluster.shards, 3);
    assert_eq!(cluster.nodes.len(), 3);
    world.shutdown().await.expect("shuts down");
}
