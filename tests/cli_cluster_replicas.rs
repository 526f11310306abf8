//! `redlink serve --cluster 3 --cluster-replicas 1` as a process: six nodes, each replica
//! following its primary, checked by redis-cli's own `--cluster check`, and real cluster clients
//! (redis-py `RedisCluster`, ioredis `Cluster`) that keep working across a `CLUSTER FAILOVER` of a
//! shard. Tests skip (saying why) when a client is missing.

mod support;

use support::{installed, redis_cli, serve_cluster};

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn redis_cli_sees_three_primaries_with_a_replica_each() {
    if !installed("redis-cli", &["--version"], "redis-cli is not installed") {
        return;
    }
    let ip = "127.0.122.1";
    let c = serve_cluster(ip, &["--cluster", "3", "--cluster-replicas", "1"], 6);
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
    assert_eq!(
        check.matches("1 additional replica(s)").count(),
        3,
        "{check}"
    );
    // Node 3 replicates node 0: a write there is readable on the replica after READONLY.
    assert_eq!(redis_cli(ip, c.port, &["SET", "b", "v"]).trim(), "OK");
    assert_eq!(redis_cli(ip, c.port, &["WAIT", "1", "10000"]).trim(), "1");
    let replica = c.port + 3;
    assert_eq!(
        redis_cli(ip, replica, &["GET", "b"]).trim(),
        format!("MOVED 3300 {ip}:{}", c.port)
    );
    let mut cli = Command::new("redis-cli");
    cli.args(["-h", ip, "-p", &replica.to_string()])
        .stdin(Stdio::piped());
    let out = {
        use std::io::Write;
        let mut child = cli.stdout(Stdio::piped()).spawn().expect("redis-cli");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"READONLY\nGET b\n")
            .expect("write");
        child.wait_with_output().expect("redis-cli output")
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\nv\n");
    let role = redis_cli(ip, replica, &["ROLE"]);
    assert!(role.starts_with("slave\n"), "{role}");
}

#[test]
fn redis_py_cluster_follows_a_shard_failover() {
    if !installed(
        "python3",
        &["-c", "import redis.cluster"],
        "redis-py is not installed",
    ) {
        return;
    }
    let ip = "127.0.122.2";
    let c = serve_cluster(ip, &["--cluster", "3", "--cluster-replicas", "1"], 6);
    let script = format!(
        r#"
import time, redis, redis.cluster as rc
r = rc.RedisCluster(host="{ip}", port={port}, socket_timeout=10)
assert len(r.get_nodes()) == 6, r.get_nodes()
assert len(r.get_primaries()) == 3 and len(r.get_replicas()) == 3
for i in range(200):
    r.set(f"k{{i}}", i)
# Fail over the shard of "foo" (slot 12182: primary node 2, replica node 5).
primary = r.get_node_from_key("foo")
assert primary.port == {port} + 2, primary
r.set("foo", "before")
assert r.execute_command("WAIT", 1, 10000, target_nodes=primary) == 1
replica = redis.Redis(host="{ip}", port={port} + 5)
assert replica.execute_command("CLUSTER FAILOVER") in (b"OK", "OK", True)
deadline = time.time() + 20
while time.time() < deadline:
    role = replica.execute_command("ROLE")
    if role[0] in (b"master", "master"):
        break
    time.sleep(0.05)
else:
    raise SystemExit("the replica was not promoted")
# The client follows -MOVED to the new primary and keeps every key.
r.set("foo", "after")
assert r.get("foo") == b"after"
assert r.get_node_from_key("foo").port == {port} + 5, r.get_node_from_key("foo")
assert [int(r.get(f"k{{i}}")) for i in range(200)] == list(range(200))
print("ok")
"#,
        port = c.port
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script]);
    let out = support::bounded(cmd, Duration::from_secs(90));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ioredis_cluster_follows_a_shard_failover() {
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
    let ip = "127.0.122.3";
    let c = serve_cluster(ip, &["--cluster", "3", "--cluster-replicas", "1"], 6);
    let script = format!(
        r#"
const Redis = require('ioredis');
const cluster = new Redis.Cluster([{{ host: '{ip}', port: {port} }}], {{ redisOptions: {{ connectTimeout: 10000 }} }});
const sleep = ms => new Promise(r => setTimeout(r, ms));
(async () => {{
  for (let i = 0; i < 100; i++) await cluster.set('k' + i, String(i));
  await cluster.set('b', 'before');
  const replica = new Redis({{ host: '{ip}', port: {port} + 3 }});
  if (await replica.cluster('FAILOVER') !== 'OK') throw new Error('failover refused');
  for (let t = 0; ; t++) {{
    const role = await replica.role();
    if (role[0] === 'master') break;
    if (t > 400) throw new Error('not promoted');
    await sleep(50);
  }}
  await cluster.set('b', 'after');
  if (await cluster.get('b') !== 'after') throw new Error('b');
  for (let i = 0; i < 100; i++) {{
    const v = await cluster.get('k' + i);
    if (v !== String(i)) throw new Error('k' + i + ' = ' + v);
  }}
  replica.disconnect();
  cluster.disconnect();
  console.log('ok');
}})().catch(e => {{ console.error(e); process.exit(1); }});
"#,
        port = c.port
    );
    let mut cmd = Command::new("node");
    cmd.args(["-e", &script]).env("NODE_PATH", &node_path);
    let out = support::bounded(cmd, Duration::from_secs(90));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
