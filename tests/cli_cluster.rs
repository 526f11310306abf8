//! `redlink serve --cluster N` as a process, driven by real cluster clients: redis-cli `-c` and
//! `--cluster check`, redis-py's `RedisCluster`, ioredis's `Cluster` (node; the version pinned in
//! clients/package.json), and bad `--cluster` arguments. Tests skip (saying why) when a client is missing.

mod support;

use support::{installed, redis_cli, serve_cluster};

use std::process::{Command, Stdio};
use std::time::Duration;

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

#[test]
fn redis_cli_follows_redirects_across_the_three_shards() {
    if !installed("redis-cli", &["--version"], "redis-cli is not installed") {
        return;
    }
    let ip = "127.0.22.1";
    let c = serve_cluster(ip, &["--cluster", "3"], 3);
    // b, g and foo live on nodes 0, 1 and 2; -c follows MOVED from node 0.
    for (k, v) in [("b", "1"), ("g", "2"), ("foo", "3")] {
        assert_eq!(redis_cli(ip, c.port, &["-c", "SET", k, v]).trim(), "OK");
    }
    for (k, v) in [("b", "1"), ("g", "2"), ("foo", "3")] {
        assert_eq!(redis_cli(ip, c.port + 1, &["-c", "GET", k]).trim(), v);
    }
    assert_eq!(
        redis_cli(ip, c.port, &["SET", "foo", "x"]).trim(),
        format!("MOVED 12182 {ip}:{}", c.port + 2)
    );
    assert_eq!(
        redis_cli(ip, c.port, &["-c", "MSET", "{t}a", "1", "{t}b", "2"]).trim(),
        "OK"
    );
    assert_eq!(
        redis_cli(ip, c.port, &["-c", "MSET", "b", "1", "foo", "2"]).trim(),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    // redis-cli's own cluster checker reads CLUSTER NODES / INFO of every node.
    let check = redis_cli(
        ip,
        c.port,
        &["--cluster", "check", &format!("{ip}:{}", c.port)],
    );
    assert!(
        check.contains("[OK] All nodes agree about slots configuration."),
        "{check}"
    );
    assert!(check.contains("[OK] All 16384 slots covered."), "{check}");
}

#[test]
fn redis_py_cluster_client_works() {
    if !installed(
        "python3",
        &["-c", "import redis.cluster"],
        "redis-py is not installed",
    ) {
        return;
    }
    let ip = "127.0.22.2";
    let c = serve_cluster(ip, &["--cluster", "3"], 3);
    let script = format!(
        r#"
import redis, redis.exceptions, redis.cluster as rc
r = rc.RedisCluster(host="{ip}", port={port}, socket_timeout=10)
assert len(r.get_nodes()) == 3, r.get_nodes()
for i in range(300):
    r.set(f"k{{i}}", i)
assert [int(r.get(f"k{{i}}")) for i in range(300)] == list(range(300))
assert r.mset_nonatomic({{"b": 1, "g": 2, "foo": 3}})
assert r.mget_nonatomic(["b", "g", "foo"]) == [b"1", b"2", b"3"]
p = r.pipeline()
for i in range(50):
    p.incr("{{tag}}n")
assert p.execute()[-1] == 50
assert r.keyslot("foo") == 12182
# The server's own refusal, sent to the node that owns the first key.
try:
    r.execute_command("MSET", "b", "1", "foo", "2", target_nodes=r.get_node_from_key("b"))
    raise SystemExit("no CROSSSLOT")
except redis.exceptions.ClusterCrossSlotError:
    pass
print("ok")
"#,
        port = c.port
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script]);
    let out = support::bounded(cmd, Duration::from_secs(60));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ioredis_cluster_client_works() {
    // The pinned ioredis (clients/package.json, installed by `.ci/run`'s `npm ci` in clients/).
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/node_modules").to_string();
    let node_path = std::env::var("REDLINK_NODE_PATH").unwrap_or(root);
    let has = Command::new("node")
        .args(["-e", "require('ioredis')"])
        .env("NODE_PATH", &node_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        eprintln!(
            "note: skipping: node with ioredis is not installed (cd clients && npm ci; .ci/run does it)"
        );
        return;
    }
    let ip = "127.0.22.3";
    let c = serve_cluster(ip, &["--cluster", "3"], 3);
    let script = format!(
        r#"
const Redis = require('ioredis');
const cluster = new Redis.Cluster([{{ host: '{ip}', port: {port} }}], {{ redisOptions: {{ connectTimeout: 10000 }} }});
(async () => {{
  for (let i = 0; i < 300; i++) await cluster.set('k' + i, String(i));
  for (let i = 0; i < 300; i++) {{
    const v = await cluster.get('k' + i);
    if (v !== String(i)) throw new Error('k' + i + ' = ' + v);
  }}
  await cluster.mset('{{t}}a', '1', '{{t}}b', '2');
  const both = await cluster.mget('{{t}}a', '{{t}}b');
  if (both.join(',') !== '1,2') throw new Error('mget ' + both);
  let crossslot = '';
  try {{ await cluster.mset('b', '1', 'foo', '2'); }} catch (e) {{ crossslot = e.message; }}
  if (!crossslot.includes('CROSSSLOT')) throw new Error('no CROSSSLOT: ' + crossslot);
  if (cluster.nodes('master').length !== 3) throw new Error('nodes ' + cluster.nodes('master').length);
  console.log('ok');
  cluster.disconnect();
}})().catch(e => {{ console.error(e); process.exit(1); }});
"#,
        port = c.port
    );
    let mut cmd = Command::new("node");
    cmd.args(["-e", &script]).env("NODE_PATH", &node_path);
    let out = support::bounded(cmd, Duration::from_secs(60));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_cluster_arguments_are_refused() {
    for (args, message) in [
        (
            vec!["--cluster", "0", "--port", "7000"],
            "--cluster takes a node count from 1 to 1000, not 0",
        ),
        (
            vec!["--cluster", "x", "--port", "7000"],
            "--cluster takes a node count from 1 to 1000, not 'x'",
        ),
        (
            vec!["--cluster", "3", "--port", "65534"],
            "--cluster 3 from port 65534 goes past port 65535",
        ),
        (
            vec![
                "--cluster",
                "3",
                "--cluster-replicas",
                "x",
                "--port",
                "7000",
            ],
            "--cluster-replicas takes a replica count per primary, not 'x'",
        ),
        (
            vec!["--cluster-replicas", "1", "--port", "7000"],
            "--cluster-replicas needs --cluster N",
        ),
        (
            vec![
                "--cluster",
                "600",
                "--cluster-replicas",
                "1",
                "--port",
                "7000",
            ],
            "makes 1200 nodes; a cluster has at most 1000",
        ),
        (vec!["--cluster"], "--cluster takes a number"),
    ] {
        let mut c = redlink();
        c.arg("serve").args(&args);
        let out = support::bounded(c, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
