//! Cluster mode (issue 21): engines joined in one `ClusterTopology`, checked over real sockets with
//! raw RESP (exact error texts), the `redis` crate's cluster client, and side by side with a real
//! 3-node redis-server 7.0.15 cluster built in the test (CLUSTER ADDSLOTSRANGE + MEET on loopback):
//! the same requests must get the same answers once node ids and ports are named by node index.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::conn::{Conn, V, err, s};
use common::redis_server::RedisServer;
use redlink_engine::cluster::migrate::MigrationPace;
use redlink_engine::cluster::{ClusterAnnounce, ClusterTopology, NodeSpec, key_slot};
use redlink_engine::{ConnContext, Server};

/// A redlink cluster: `n` engines on ephemeral ports of `ip`, slots split as redis-cli does.
struct Cluster {
    servers: Vec<Server>,
    addrs: Vec<SocketAddr>,
    topology: Arc<ClusterTopology>,
}

fn start_cluster(ip: &str, n: usize) -> Cluster {
    let started: Vec<(Server, SocketAddr)> = (0..n).map(|_| common::start(ip, &[])).collect();
    let addrs: Vec<SocketAddr> = started.iter().map(|(_, a)| *a).collect();
    let topology = ClusterTopology::with_even_slots(
        addrs
            .iter()
            .map(|a| NodeSpec {
                host: ip.to_string(),
                port: a.port(),
                tls_port: 0,
            })
            .collect(),
    );
    let servers: Vec<Server> = started.into_iter().map(|(s, _)| s).collect();
    for (i, s) in servers.iter().enumerate() {
        topology.attach(i, s.engine()).expect("attach");
    }
    Cluster {
        servers,
        addrs,
        topology,
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &self.servers {
            s.engine().shutdown();
        }
    }
}

/// Keys of the three shards of a 3-node cluster: foo (12182, node 2), b (3300, node 0), g (7233,
/// node 1) — slots from redis-server 7.0.15's CLUSTER KEYSLOT.
const SHARD_KEYS: [&str; 3] = ["b", "g", "foo"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_errors_have_redis_texts() {
    let c = start_cluster("127.0.21.1", 3);
    let mut n0 = Conn::open(c.addrs[0]).await;
    let node2 = format!("127.0.21.1:{}", c.addrs[2].port());
    assert_eq!(n0.call(&["SET", "b", "1"]).await, s("OK"));
    assert_eq!(
        n0.call(&["SET", "foo", "1"]).await,
        err(&format!("MOVED 12182 {node2}"))
    );
    assert_eq!(
        n0.call(&["MSET", "b", "1", "f", "2"]).await,
        err("CROSSSLOT Keys in request don't hash to the same slot")
    );
    // Hash tags put keys in one slot.
    assert_eq!(n0.call(&["MSET", "{b}x", "1", "{b}y", "2"]).await, s("OK"));
    assert_eq!(n0.call(&["CLUSTER", "KEYSLOT", "{b}x"]).await, V::Int(3300));
    assert_eq!(
        n0.call(&["SELECT", "1"]).await,
        err("ERR SELECT is not allowed in cluster mode")
    );
    assert_eq!(n0.call(&["SELECT", "0"]).await, s("OK"));
    // Keyless commands run anywhere.
    assert_eq!(n0.call(&["PING"]).await, s("PONG"));
    // In MULTI a foreign key fails the transaction.
    assert_eq!(n0.call(&["MULTI"]).await, s("OK"));
    assert_eq!(
        n0.call(&["SET", "foo", "1"]).await,
        err(&format!("MOVED 12182 {node2}"))
    );
    assert_eq!(
        n0.call(&["EXEC"]).await,
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    // An unserved slot, with and without full coverage required.
    assert_eq!(n0.call(&["CLUSTER", "DELSLOTS", "3300"]).await, s("OK"));
    assert_eq!(
        n0.call(&["GET", "b"]).await,
        err("CLUSTERDOWN Hash slot not served")
    );
    assert_eq!(
        n0.call(&["GET", "{f}"]).await,
        err("CLUSTERDOWN The cluster is down")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "DELSLOTS", "3300"]).await,
        err("ERR Slot 3300 is already unassigned")
    );
    assert_eq!(n0.call(&["CLUSTER", "ADDSLOTS", "3300"]).await, s("OK"));
    assert_eq!(
        n0.call(&["CLUSTER", "ADDSLOTS", "3300"]).await,
        err("ERR Slot 3300 is already busy")
    );
    assert_eq!(n0.call(&["GET", "b"]).await, s("1"));
    // Argument errors.
    assert_eq!(
        n0.call(&["CLUSTER", "COUNTKEYSINSLOT", "16384"]).await,
        err("ERR Invalid slot")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "GETKEYSINSLOT", "1", "-1"]).await,
        err("ERR Invalid slot or number of keys")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "SETSLOT", "20000", "STABLE"]).await,
        err("ERR Invalid or out of range slot")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "SETSLOT", "1", "FOO"]).await,
        err("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "ADDSLOTSRANGE", "5", "1"]).await,
        err("ERR start slot number 5 is greater than end slot number 1")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "FAILOVER"]).await,
        err("ERR You should send CLUSTER FAILOVER to a replica")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "REPLICATE", "abc"]).await,
        err("ERR Unknown node abc")
    );
    assert_eq!(
        n0.call(&["INFO", "cluster"]).await,
        s("# Cluster\r\ncluster_enabled:1\r\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_introspection_describes_the_topology() {
    let c = start_cluster("127.0.21.2", 3);
    let mut n1 = Conn::open(c.addrs[1]).await;
    let ids: Vec<String> = c.topology.nodes().iter().map(|n| n.id.clone()).collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert_eq!(n1.call(&["CLUSTER", "MYID"]).await, s(&ids[1]));
    let slots = n1.call(&["CLUSTER", "SLOTS"]).await;
    let expected = |start: i64, end: i64, i: usize| {
        V::Arr(vec![
            V::Int(start),
            V::Int(end),
            V::Arr(vec![
                s("127.0.21.2"),
                V::Int(c.addrs[i].port() as i64),
                s(&ids[i]),
                V::Arr(vec![]),
            ]),
        ])
    };
    assert_eq!(
        slots,
        V::Arr(vec![
            expected(0, 5460, 0),
            expected(5461, 10922, 1),
            expected(10923, 16383, 2)
        ])
    );
    let nodes = common::conn::text(&n1.call(&["CLUSTER", "NODES"]).await);
    let lines: Vec<&str> = nodes.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with(&format!(
        "{} 127.0.21.2:{}@{} myself,master - 0 0 ",
        ids[1],
        c.addrs[1].port(),
        c.addrs[1].port() as u32 + 10000
    )));
    assert!(lines[1].ends_with(" connected 5461-10922"), "{nodes}");
    let info = common::conn::text(&n1.call(&["CLUSTER", "INFO"]).await);
    for field in [
        "cluster_state:ok",
        "cluster_slots_assigned:16384",
        "cluster_known_nodes:3",
        "cluster_size:3",
    ] {
        assert!(info.contains(field), "{info}");
    }
    let V::Arr(shards) = n1.call(&["CLUSTER", "SHARDS"]).await else {
        panic!("shards");
    };
    assert_eq!(shards.len(), 3);
    assert_eq!(
        shards[1],
        V::Arr(vec![
            s("slots"),
            V::Arr(vec![V::Int(5461), V::Int(10922)]),
            s("nodes"),
            V::Arr(vec![V::Arr(vec![
                s("id"),
                s(&ids[1]),
                s("port"),
                V::Int(c.addrs[1].port() as i64),
                s("ip"),
                s("127.0.21.2"),
                s("endpoint"),
                s("127.0.21.2"),
                s("role"),
                s("master"),
                s("replication-offset"),
                V::Int(0),
                s("health"),
                s("online"),
            ])]),
        ])
    );
    assert_eq!(n1.call(&["SET", "g", "1"]).await, s("OK"));
    assert_eq!(n1.call(&["SET", "{g}2", "1"]).await, s("OK"));
    assert_eq!(
        n1.call(&["CLUSTER", "COUNTKEYSINSLOT", "7233"]).await,
        V::Int(2)
    );
    let V::Arr(keys) = n1.call(&["CLUSTER", "GETKEYSINSLOT", "7233", "1"]).await else {
        panic!("keys");
    };
    assert_eq!(keys.len(), 1);
    let V::Arr(links) = n1.call(&["CLUSTER", "LINKS"]).await else {
        panic!("links");
    };
    assert_eq!(links.len(), 4);
}

/// Per-connection announce: what a client that came through some endpoint is told.
#[derive(Debug)]
struct ThroughEndpoint;

impl ClusterAnnounce for ThroughEndpoint {
    fn address(&self, node: usize, tls: bool) -> Option<(String, u16)> {
        Some((
            "10.1.0.5".to_string(),
            if tls { 15000 } else { 13000 } + node as u16,
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_addresses_follow_the_connection() {
    let c = start_cluster("127.0.21.3", 3);
    let engine = c.servers[0].engine().clone();
    let (client, server) = tokio::io::duplex(64 * 1024);
    let ctx = ConnContext {
        peer: "127.0.21.3:1".parse().expect("addr"),
        local: c.addrs[0],
        tls: false,
        endpoint: Some("pe-hub".into()),
        announce: Some(Arc::new(ThroughEndpoint)),
    };
    tokio::spawn(async move { engine.accept_stream(server, ctx).await });
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut rd, mut wr) = tokio::io::split(client);
    wr.write_all(&common::resp(&["GET", "foo"]))
        .await
        .expect("write");
    wr.write_all(&common::resp(&["CLUSTER", "NODES"]))
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("10.1.0.5:13002@23002") {
        let n = tokio::time::timeout(Duration::from_secs(10), rd.read(&mut chunk))
            .await
            .expect("reply")
            .expect("read");
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("-MOVED 12182 10.1.0.5:13002\r\n"),
        "{text}"
    );
    // A plain socket connection is told the nodes' own addresses.
    let mut n0 = Conn::open(c.addrs[0]).await;
    assert_eq!(
        n0.call(&["GET", "foo"]).await,
        err(&format!("MOVED 12182 127.0.21.3:{}", c.addrs[2].port()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_slot_asks_and_migrate_moves_keys() {
    let c = start_cluster("127.0.21.4", 3);
    let ids: Vec<String> = c.topology.nodes().iter().map(|n| n.id.clone()).collect();
    let (a0, a1) = (c.addrs[0], c.addrs[1]);
    let mut n0 = Conn::open(a0).await;
    let mut n1 = Conn::open(a1).await;
    // Slot 3300 ("b", "{b}x"...) moves from node 0 to node 1, the way redis-cli reshards.
    for k in ["b", "{b}1", "{b}2"] {
        assert_eq!(n0.call(&["SET", k, k]).await, s("OK"));
    }
    assert_eq!(
        n1.call(&["CLUSTER", "SETSLOT", "3300", "IMPORTING", &ids[0]])
            .await,
        s("OK")
    );
    assert_eq!(
        n0.call(&["CLUSTER", "SETSLOT", "3300", "MIGRATING", &ids[1]])
            .await,
        s("OK")
    );
    let nodes = common::conn::text(&n0.call(&["CLUSTER", "NODES"]).await);
    assert!(nodes.contains(&format!("[3300->-{}]", ids[1])), "{nodes}");
    let port1 = a1.port().to_string();
    assert_eq!(
        n0.call(&[
            "MIGRATE",
            "127.0.21.4",
            &port1,
            "",
            "0",
            "5000",
            "KEYS",
            "b",
            "{b}1"
        ])
        .await,
        s("OK")
    );
    let ask = err(&format!("ASK 3300 127.0.21.4:{port1}"));
    // Moved keys: ASK; keys still here: served; a mix: TRYAGAIN.
    assert_eq!(n0.call(&["GET", "b"]).await, ask);
    assert_eq!(n0.call(&["GET", "{b}2"]).await, s("{b}2"));
    assert_eq!(
        n0.call(&["MGET", "{b}1", "{b}2"]).await,
        err("TRYAGAIN Multiple keys request during rehashing of slot")
    );
    // The importing node: MOVED back without ASKING, served with it (for one command).
    assert_eq!(
        n1.call(&["GET", "b"]).await,
        err(&format!("MOVED 3300 127.0.21.4:{}", a0.port()))
    );
    assert_eq!(n1.call(&["ASKING"]).await, s("OK"));
    assert_eq!(n1.call(&["GET", "b"]).await, s("b"));
    assert!(matches!(n1.call(&["GET", "b"]).await, V::Err(e) if e.starts_with("MOVED")));
    assert_eq!(n1.call(&["ASKING"]).await, s("OK"));
    assert_eq!(
        n1.call(&["MGET", "{b}1", "{b}2"]).await,
        err("TRYAGAIN Multiple keys request during rehashing of slot")
    );
    // NODE refuses while keys remain, then the slot is node 1's.
    assert_eq!(
        n0.call(&["CLUSTER", "SETSLOT", "3300", "NODE", &ids[1]])
            .await,
        err(
            "ERR Can't assign hashslot 3300 to a different node while I still hold keys for this hash slot."
        )
    );
    assert_eq!(
        n0.call(&["MIGRATE", "127.0.21.4", &port1, "{b}2", "0", "5000"])
            .await,
        s("OK")
    );
    assert_eq!(
        n0.call(&["MIGRATE", "127.0.21.4", &port1, "{b}2", "0", "5000"])
            .await,
        s("NOKEY")
    );
    assert_eq!(
        n1.call(&["CLUSTER", "SETSLOT", "3300", "NODE", &ids[1]])
            .await,
        s("OK")
    );
    assert_eq!(
        n0.call(&["GET", "b"]).await,
        err(&format!("MOVED 3300 127.0.21.4:{port1}"))
    );
    assert_eq!(n1.call(&["GET", "{b}2"]).await, s("{b}2"));
    assert_eq!(
        n1.call(&["CLUSTER", "COUNTKEYSINSLOT", "3300"]).await,
        V::Int(3)
    );
    assert_eq!(
        n0.call(&["CLUSTER", "COUNTKEYSINSLOT", "3300"]).await,
        V::Int(0)
    );
    // MIGRATE to an address that is not loopback is refused without a connection attempt.
    assert_eq!(
        n1.call(&["MIGRATE", "192.0.2.1", "6379", "b", "0", "100"])
            .await,
        err("IOERR error or timeout connecting to the client")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_and_pubsub_in_cluster_mode() {
    let c = start_cluster("127.0.21.5", 3);
    let mut n0 = Conn::open(c.addrs[0]).await;
    let node2 = format!("127.0.21.5:{}", c.addrs[2].port());
    let reply = n0
        .call(&["EVAL", "return redis.call('get','foo')", "0"])
        .await;
    assert!(
        matches!(&reply, V::Err(e) if e.starts_with("ERR Script attempted to access a non local key in a cluster node script: ")),
        "{reply:?}"
    );
    // b (3300) and f (3168) are both node 0's: without a shebang any local slot goes.
    assert_eq!(
        n0.call(&[
            "EVAL",
            "redis.call('set','b',1); return redis.call('set','f',1)",
            "0"
        ])
        .await,
        s("OK")
    );
    let reply = n0
        .call(&["EVAL", "#!lua\nreturn redis.call('get','f')", "1", "b"])
        .await;
    assert!(
        matches!(&reply, V::Err(e) if e.starts_with("ERR Script attempted to access keys that do not hash to the same slot")),
        "{reply:?}"
    );
    assert_eq!(
        n0.call(&[
            "EVAL",
            "#!lua flags=allow-cross-slot-keys\nreturn redis.call('get','f')",
            "1",
            "b"
        ])
        .await,
        s("1")
    );
    assert_eq!(
        n0.call(&["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"])
            .await,
        err("ERR Can not run script on cluster, 'no-cluster' flag is set.")
    );
    assert_eq!(
        n0.call(&["EVAL", "return 1", "1", "foo"]).await,
        err(&format!("MOVED 12182 {node2}"))
    );
    // Sharded Pub/Sub is routed by slot; PUBLISH reaches subscribers on every node.
    assert_eq!(
        n0.call(&["SPUBLISH", "foo", "x"]).await,
        err(&format!("MOVED 12182 {node2}"))
    );
    assert_eq!(
        n0.call(&["SSUBSCRIBE", "b", "foo"]).await,
        err("CROSSSLOT Keys in request don't hash to the same slot")
    );
    let mut sub = Conn::open(c.addrs[2]).await;
    sub.call(&["SUBSCRIBE", "news"]).await;
    let mut ssub = Conn::open(c.addrs[2]).await;
    ssub.call(&["SSUBSCRIBE", "foo"]).await;
    assert_eq!(n0.call(&["PUBLISH", "news", "hello"]).await, V::Int(0));
    assert_eq!(
        sub.read().await,
        V::Arr(vec![s("message"), s("news"), s("hello")])
    );
    let mut n2 = Conn::open(c.addrs[2]).await;
    assert_eq!(n2.call(&["SPUBLISH", "foo", "hi"]).await, V::Int(1));
    assert_eq!(
        ssub.read().await,
        V::Arr(vec![s("smessage"), s("foo"), s("hi")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rs_cluster_client_reads_and_writes_every_shard() {
    use redis::AsyncCommands;
    let c = start_cluster("127.0.21.6", 3);
    let urls: Vec<String> = c.addrs.iter().map(|a| format!("redis://{a}")).collect();
    let client = redis::cluster::ClusterClientBuilder::new(urls)
        .connection_timeout(Duration::from_secs(10))
        .response_timeout(Duration::from_secs(10))
        .build()
        .expect("cluster client");
    let mut con = client.get_async_connection().await.expect("connect");
    for i in 0..300 {
        let _: () = con.set(format!("key:{i}"), i).await.expect("set");
    }
    for i in 0..300 {
        let v: i64 = con.get(format!("key:{i}")).await.expect("get");
        assert_eq!(v, i);
    }
    // Every node got a share.
    for (n, addr) in c.addrs.iter().enumerate() {
        let keys = c.servers[n].engine().store.db(0).len();
        assert!(keys > 50, "node {n} ({addr}) holds {keys} keys");
    }
    let _: () = redis::cmd("MSET")
        .arg("{user}a")
        .arg(1)
        .arg("{user}b")
        .arg(2)
        .query_async(&mut con)
        .await
        .expect("mset with hash tags");
    let tagged: Vec<String> = con.mget(&["{user}a", "{user}b"]).await.expect("mget");
    assert_eq!(tagged, ["1", "2"]);
    // The client splits a multi-key command over the shards itself (each node saw one slot).
    for (i, k) in SHARD_KEYS.iter().enumerate() {
        let _: () = con.set(*k, i).await.expect("set");
    }
    let values: Vec<i64> = con.mget(&SHARD_KEYS).await.expect("mget over shards");
    assert_eq!(values, [0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_migration_with_a_client_running_loses_nothing() {
    use redis::AsyncCommands;
    let c = start_cluster("127.0.21.7", 3);
    let urls: Vec<String> = c.addrs.iter().map(|a| format!("redis://{a}")).collect();
    let client = redis::cluster::ClusterClientBuilder::new(urls)
        .connection_timeout(Duration::from_secs(10))
        .response_timeout(Duration::from_secs(10))
        .retries(50)
        .build()
        .expect("cluster client");
    let mut con = client.get_async_connection().await.expect("connect");
    let keys: Vec<String> = (0..2000).map(|i| format!("k{i}")).collect();
    for k in &keys {
        let _: () = con.set(k, k).await.expect("set");
    }
    // Node 0's first 200 slots move to node 2 in small batches while the client writes and reads.
    let slots: Vec<u16> = (0..200).collect();
    let moving: Vec<&String> = keys
        .iter()
        .filter(|k| key_slot(k.as_bytes()) < 200)
        .collect();
    assert!(!moving.is_empty());
    let migration = c.topology.migrate_slots_async(
        0,
        2,
        slots,
        MigrationPace {
            batch: 2,
            pause: Duration::from_millis(1),
        },
    );
    let mut con2 = con.clone();
    let keys2 = keys.clone();
    let traffic = tokio::spawn(async move {
        let mut rounds = 0;
        for round in 0..3 {
            for k in &keys2 {
                let _: () = con2
                    .set(k, format!("{k}:{round}"))
                    .await
                    .expect("set during move");
                let v: String = con2.get(k).await.expect("get during move");
                assert_eq!(v, format!("{k}:{round}"));
            }
            rounds += 1;
        }
        rounds
    });
    let report = migration.await.expect("migration");
    assert_eq!(report.slots, 200);
    assert_eq!(traffic.await.expect("traffic"), 3);
    for k in &keys {
        let v: String = con.get(k).await.expect("get after move");
        assert_eq!(v, format!("{k}:2"));
    }
    let total: usize = c.servers.iter().map(|s| s.engine().store.db(0).len()).sum();
    assert_eq!(total, keys.len());
    for k in moving {
        assert!(
            c.servers[2]
                .engine()
                .store
                .db(0)
                .lock(k.as_bytes(), 0)
                .exists(k.as_bytes())
        );
    }
    let mut n0 = Conn::open(c.addrs[0]).await;
    assert!(matches!(n0.call(&["GET", "b"]).await, V::Str(_) | V::Nil));
    assert_eq!(
        n0.call(&["CLUSTER", "COUNTKEYSINSLOT", "0"]).await,
        V::Int(0)
    );
    let slots = common::conn::text(&n0.call(&["CLUSTER", "NODES"]).await);
    assert!(slots.contains("connected 200-5460"), "{slots}");
}

/// A key that exists is never answered nil while its slot migrates: the slot check (is the key
/// still here, or `-ASK`?) and the command are one step for a migration batch, as on Redis's one
/// thread. Readers on plain connections follow `-ASK` themselves (ASKING + GET on the target)
/// while slots move one key at a time, back and forth.
///
/// One nil is the protocol's and not a fault: an `-ASK` is not versioned, so a reader that
/// follows it only after the migration finished, the key went back and the next migration to the
/// same node began (its slot importing again, the key not yet moved) is served by the importing
/// node, which does not have the key — redis-server answers the same. Such a read is retried,
/// and only when at least two migrations started between the reader's first GET and the nil
/// (`epoch`): the window a nil inside one migration would need is never excused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_being_moved_is_never_answered_nil() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    const ROUNDS: usize = 30;
    let c = start_cluster("127.0.21.8", 2);
    let mut setup = Conn::open(c.addrs[0]).await;
    // Keys of node 0's first 64 slots (hash tags pick the slot).
    let keys: Vec<String> = (0..64u16)
        .flat_map(|slot| (0..4).map(move |i| (slot, i)))
        .filter_map(|(slot, i)| {
            (0..100_000)
                .map(|t| format!("{{t{t}}}:{i}"))
                .find(|k| key_slot(k.as_bytes()) == slot)
        })
        .collect();
    assert_eq!(keys.len(), 256);
    for k in &keys {
        assert_eq!(setup.call(&["SET", k, k]).await, s("OK"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    // Migrations started so far.
    let epoch = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for r in 0..3 {
        let (keys, stop, epoch, addrs) =
            (keys.clone(), stop.clone(), epoch.clone(), c.addrs.clone());
        readers.push(tokio::spawn(async move {
            let mut cons = [Conn::open(addrs[0]).await, Conn::open(addrs[1]).await];
            let (mut reads, mut stale_asks) = (0u64, 0u64);
            while !stop.load(SeqCst) {
                for k in keys.iter().skip(r) {
                    let mut answer = None;
                    for _attempt in 0..100 {
                        let started = epoch.load(SeqCst);
                        // Ask node 0, then follow redirections (bounded) like a cluster client.
                        let (mut node, mut asking) = (0, false);
                        for _ in 0..20 {
                            if asking {
                                assert_eq!(cons[node].call(&["ASKING"]).await, s("OK"));
                            }
                            match cons[node].call(&["GET", k]).await {
                                V::Err(e) if e.starts_with("ASK ") || e.starts_with("MOVED ") => {
                                    asking = e.starts_with("ASK ");
                                    let port =
                                        e.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                                    node = usize::from(addrs[1].port() == port.unwrap_or(0));
                                }
                                other => {
                                    answer = Some(other);
                                    break;
                                }
                            }
                        }
                        let migrations = epoch.load(SeqCst) - started;
                        if answer == Some(V::Nil) && asking && migrations >= 2 {
                            stale_asks += 1;
                            continue;
                        }
                        assert_eq!(
                            answer,
                            Some(s(k)),
                            "GET {k} (asking: {asking}, migrations meanwhile: {migrations})"
                        );
                        break;
                    }
                    assert_eq!(answer, Some(s(k)), "GET {k}: 100 stale ASKs in a row");
                    reads += 1;
                }
            }
            (reads, stale_asks)
        }));
    }
    let slots: Vec<u16> = (0..64).collect();
    let pace = MigrationPace {
        batch: 1,
        pause: Duration::ZERO,
    };
    for _ in 0..ROUNDS {
        epoch.fetch_add(1, SeqCst);
        let there = c
            .topology
            .migrate_slots_async(0, 1, slots.clone(), pace)
            .await;
        assert_eq!(there.expect("to node 1").keys, 256);
        epoch.fetch_add(1, SeqCst);
        let back = c
            .topology
            .migrate_slots_async(1, 0, slots.clone(), pace)
            .await;
        assert_eq!(back.expect("back to node 0").keys, 256);
    }
    stop.store(true, SeqCst);
    for r in readers {
        let (reads, stale_asks) = r.await.expect("reader");
        eprintln!("reader: {reads} reads, {stale_asks} stale ASKs retried");
        assert!(reads > 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Side by side with redis-server 7.0.15.

/// A real 3-node redis-server cluster (slots as redis-cli splits them), or `None` without
/// redis-server.
fn redis_cluster() -> Option<Vec<RedisServer>> {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let bus = common::free_port("127.0.0.1").to_string();
        nodes.push(RedisServer::start(&[
            ("cluster-enabled", "yes"),
            ("cluster-port", &bus),
            ("cluster-node-timeout", "5000"),
        ])?);
    }
    Some(nodes)
}

fn sync_call(addr: SocketAddr, args: &[&str]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(&common::resp(args)).expect("write");
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf).expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_answers_as_a_redis_server_cluster() {
    if !common::redis_server::available() {
        eprintln!("skipped: redis-server is not installed");
        return;
    }
    let Some(real) = tokio::task::spawn_blocking(redis_cluster)
        .await
        .expect("start")
    else {
        return;
    };
    let real_addrs: Vec<SocketAddr> = real.iter().map(|r| r.addr).collect();
    let ranges = [(0, 5460), (5461, 10922), (10923, 16383)];
    let setup = real_addrs.clone();
    tokio::task::spawn_blocking(move || {
        for (i, a) in setup.iter().enumerate() {
            let (lo, hi) = ranges[i];
            let r = sync_call(
                *a,
                &["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()],
            );
            assert_eq!(r, "+OK\r\n");
        }
        for a in &setup[1..] {
            let bus = sync_call(*a, &["CONFIG", "GET", "cluster-port"]);
            let bus = bus.lines().nth(4).unwrap_or("").to_string();
            let r = sync_call(
                setup[0],
                &["CLUSTER", "MEET", "127.0.0.1", &a.port().to_string(), &bus],
            );
            assert_eq!(r, "+OK\r\n");
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        for a in &setup {
            loop {
                let info = sync_call(*a, &["CLUSTER", "INFO"]);
                if info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3") {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "redis cluster not ok: {info}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    })
    .await
    .expect("setup");
    let ours = start_cluster("127.0.0.1", 3);
    // Node ids and ports named by node index, so the two clusters' answers compare.
    let normalise = |text: String, addrs: &[SocketAddr], ids: &[String]| {
        let mut t = text;
        for (i, a) in addrs.iter().enumerate() {
            t = t.replace(&a.port().to_string(), &format!("<port{i}>"));
            if let Some(id) = ids.get(i) {
                t = t.replace(id, &format!("<id{i}>"));
            }
        }
        t
    };
    let real_ids: Vec<String> = real_addrs
        .iter()
        .map(|a| {
            sync_call(*a, &["CLUSTER", "MYID"])
                .lines()
                .nth(1)
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let our_ids: Vec<String> = ours.topology.nodes().iter().map(|n| n.id.clone()).collect();
    let requests: &[&[&str]] = &[
        &["SET", "foo", "bar"],
        &["SET", "b", "1"],
        &["GET", "b"],
        &["MSET", "b", "1", "f", "2"],
        &["MSET", "{b}1", "1", "{b}2", "2"],
        &["MGET", "b", "foo"],
        &["DEL", "b", "{b}1", "{b}2"],
        &["SELECT", "1"],
        &["SELECT", "0"],
        &["CLUSTER", "KEYSLOT", "{user1000}.following"],
        &["CLUSTER", "COUNTKEYSINSLOT", "3300"],
        &["CLUSTER", "COUNTKEYSINSLOT", "-1"],
        &["CLUSTER", "GETKEYSINSLOT", "3300", "10"],
        &["CLUSTER", "GETKEYSINSLOT", "16384", "1"],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "MYID"],
        &["CLUSTER", "SETSLOT", "1", "FOO"],
        &["CLUSTER", "SETSLOT", "99999", "STABLE"],
        &["CLUSTER", "SETSLOT", "1", "NODE", "abc"],
        &["CLUSTER", "SETSLOT", "1", "MIGRATING", "abc"],
        &["CLUSTER", "SETSLOT", "7000", "MIGRATING", "<id1>"],
        &["CLUSTER", "ADDSLOTS", "1"],
        &["CLUSTER", "ADDSLOTSRANGE", "5", "1"],
        &["CLUSTER", "DELSLOTSRANGE", "1", "2", "3"],
        &["CLUSTER", "FAILOVER"],
        &["CLUSTER", "REPLICATE", "abc"],
        &["CLUSTER", "COUNT-FAILURE-REPORTS", "abc"],
        &["CLUSTER", "KEYSLOT"],
        &["ASKING"],
        &["READONLY"],
        &["READWRITE"],
        &["SPUBLISH", "foo", "x"],
        &["SPUBLISH", "b", "x"],
        &["EVAL", "return 1", "1", "foo"],
        &["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"],
        &["MIGRATE", "127.0.0.1", "1", "nokey", "0", "100"],
        &["MIGRATE", "127.0.0.1", "1", "b", "0", "100", "KEYS", "x"],
        &["INFO", "cluster"],
    ];
    for req in requests {
        let resolve = |ids: &[String]| -> Vec<String> {
            req.iter()
                .map(|a| {
                    let mut a = a.to_string();
                    for (i, id) in ids.iter().enumerate() {
                        a = a.replace(&format!("<id{i}>"), id);
                    }
                    a
                })
                .collect()
        };
        let (r_args, o_args) = (resolve(&real_ids), resolve(&our_ids));
        let ra = real_addrs[0];
        let theirs = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = r_args.iter().map(|s| s.as_str()).collect();
            sync_call(ra, &a)
        })
        .await
        .expect("real");
        let oa = ours.addrs[0];
        let mine = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = o_args.iter().map(|s| s.as_str()).collect();
            sync_call(oa, &a)
        })
        .await
        .expect("ours");
        assert_eq!(
            normalise(mine, &ours.addrs, &our_ids),
            normalise(theirs, &real_addrs, &real_ids),
            "{req:?}"
        );
    }
    drop(real);
}
