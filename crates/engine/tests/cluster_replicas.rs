//! Replicas per shard, shard failover, clients blocked on a slot that moves, and the slot index
//! (issue 21): engines joined in one `ClusterTopology` with `with_layout`, each replica following
//! its primary with Redis's replication over loopback, checked over real sockets with raw RESP.
//! Expected texts and shapes are redis-server 7.0.15's, taken from a `redis-cli --cluster create
//! --cluster-replicas 1` cluster (docs/cluster.md).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::conn::{Conn, V, err, s, text};
use redlink_engine::Server;
use redlink_engine::cluster::migrate::MigrationPace;
use redlink_engine::cluster::{ClusterTopology, NodeSpec, key_slot};

/// A redlink cluster of `primaries` primaries and as many replicas each, on ephemeral ports of
/// `ip`: primaries first, node `primaries + i` replicates primary `i % primaries`.
struct Cluster {
    servers: Vec<Server>,
    addrs: Vec<SocketAddr>,
    topology: Arc<ClusterTopology>,
    ip: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &self.servers {
            s.engine().shutdown();
        }
    }
}

impl Cluster {
    fn start(ip: &str, primaries: usize, replicas: usize) -> Cluster {
        let n = primaries * (1 + replicas);
        let started: Vec<(Server, SocketAddr)> = (0..n).map(|_| common::start(ip, &[])).collect();
        let addrs: Vec<SocketAddr> = started.iter().map(|(_, a)| *a).collect();
        let roles: Vec<Option<usize>> = (0..n)
            .map(|i| (i >= primaries).then(|| (i - primaries) % primaries))
            .collect();
        let topology = ClusterTopology::with_layout(
            addrs
                .iter()
                .map(|a| NodeSpec {
                    host: ip.to_string(),
                    port: a.port(),
                    tls_port: 0,
                })
                .collect(),
            &roles,
        )
        .expect("layout");
        let servers: Vec<Server> = started.into_iter().map(|(s, _)| s).collect();
        for (i, s) in servers.iter().enumerate() {
            topology.attach(i, s.engine()).expect("attach");
        }
        for (i, s) in servers.iter().enumerate() {
            if let Some(p) = roles[i] {
                topology.follow(s.engine(), i, p).expect("follow");
            }
        }
        Cluster {
            servers,
            addrs,
            topology,
            ip: ip.to_string(),
        }
    }

    fn addr(&self, node: usize) -> String {
        format!("{}:{}", self.ip, self.addrs[node].port())
    }

    fn id(&self, node: usize) -> String {
        self.topology.node(node).expect("node").id
    }

    /// Waits until every replica has everything its primary wrote.
    async fn synced(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let behind = (0..self.servers.len()).find(|&i| {
                self.topology.primary_of(i).is_some_and(|p| {
                    let up = matches!(
                        self.servers[i].engine().role(),
                        redlink_engine::replication::Role::Replica {
                            link: redlink_engine::replication::LinkState::Connected,
                            ..
                        }
                    );
                    !up || self.servers[i].engine().repl_offset()
                        < self.servers[p].engine().repl_offset()
                })
            });
            match behind {
                None => return,
                Some(i) => assert!(
                    Instant::now() < deadline,
                    "replica {i} did not catch up with its primary"
                ),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls `check` every 20 ms for up to 20 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn arr(v: V) -> Vec<V> {
    match v {
        V::Arr(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_are_listed_as_redis_server_lists_them() {
    let c = Cluster::start("127.0.121.1", 3, 1);
    c.synced().await;
    let mut n0 = Conn::open(c.addrs[0]).await;
    // CLUSTER SLOTS: each range with its primary, then its replica.
    let entry = |start: i64, end: i64, nodes: &[usize]| {
        let mut v = vec![V::Int(start), V::Int(end)];
        for &n in nodes {
            v.push(V::Arr(vec![
                s(&c.ip),
                V::Int(c.addrs[n].port() as i64),
                s(&c.id(n)),
                V::Arr(vec![]),
            ]));
        }
        V::Arr(v)
    };
    assert_eq!(
        n0.call(&["CLUSTER", "SLOTS"]).await,
        V::Arr(vec![
            entry(0, 5460, &[0, 3]),
            entry(5461, 10922, &[1, 4]),
            entry(10923, 16383, &[2, 5])
        ])
    );
    // CLUSTER NODES: a replica names its primary and shows the primary's config epoch.
    let nodes = text(&n0.call(&["CLUSTER", "NODES"]).await);
    let lines: Vec<&str> = nodes.lines().collect();
    assert_eq!(lines.len(), 6, "{nodes}");
    let port3 = c.addrs[3].port();
    let epoch0 = c.topology.node(0).expect("node").config_epoch;
    assert!(
        lines[3].starts_with(&format!(
            "{} {}@{} slave {} 0 ",
            c.id(3),
            c.addr(3),
            u32::from(port3) + 10000,
            c.id(0)
        )),
        "{nodes}"
    );
    assert!(
        lines[3].ends_with(&format!(" {epoch0} connected")),
        "{nodes}"
    );
    let mut n3 = Conn::open(c.addrs[3]).await;
    let own = text(&n3.call(&["CLUSTER", "NODES"]).await);
    assert!(
        own.lines()
            .nth(3)
            .is_some_and(|l| l.contains(" myself,slave ")),
        "{own}"
    );
    // CLUSTER REPLICAS / SLAVES: the replicas' NODES lines; a replica has none to show.
    let replicas = arr(n3.call(&["CLUSTER", "REPLICAS", &c.id(0)]).await);
    assert_eq!(replicas.len(), 1);
    let line = format!(
        "{} {}@{} myself,slave {} 0 ",
        c.id(3),
        c.addr(3),
        u32::from(port3) + 10000,
        c.id(0)
    );
    assert!(text(&replicas[0]).starts_with(&line), "{replicas:?}");
    assert_eq!(
        arr(n0.call(&["CLUSTER", "SLAVES", &c.id(1)]).await).len(),
        1
    );
    assert_eq!(
        n0.call(&["CLUSTER", "REPLICAS", &c.id(3)]).await,
        err("ERR The specified node is not a master")
    );
    // CLUSTER SHARDS: one shard per primary, the primary then its replica.
    let shards = arr(n0.call(&["CLUSTER", "SHARDS"]).await);
    assert_eq!(shards.len(), 3);
    for (k, shard) in shards.into_iter().enumerate() {
        let shard = arr(shard);
        assert_eq!(shard[0], s("slots"));
        let members = arr(shard[3].clone());
        assert_eq!(members.len(), 2);
        for (m, (node, role)) in members.into_iter().zip([(k, "master"), (k + 3, "replica")]) {
            let m = arr(m);
            assert_eq!(m[1], s(&c.id(node)));
            assert_eq!(m[9], s(role));
            assert_eq!(m[13], s("online"));
        }
    }
    // CLUSTER INFO on a replica: its primary's epoch, six known nodes, three serving slots.
    let info = text(&n3.call(&["CLUSTER", "INFO"]).await);
    for field in [
        "cluster_known_nodes:6".to_string(),
        "cluster_size:3".to_string(),
        format!("cluster_my_epoch:{epoch0}"),
    ] {
        assert!(info.contains(&field), "{info}");
    }
    // FAILOVER's preconditions.
    assert_eq!(
        n0.call(&["CLUSTER", "FAILOVER"]).await,
        err("ERR You should send CLUSTER FAILOVER to a replica")
    );
    assert_eq!(
        n3.call(&["CLUSTER", "FAILOVER", "SOON"]).await,
        err("ERR syntax error")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_serves_reads_after_readonly_and_redirects_the_rest() {
    let c = Cluster::start("127.0.121.2", 3, 1);
    let mut n0 = Conn::open(c.addrs[0]).await;
    assert_eq!(n0.call(&["SET", "b", "1"]).await, s("OK"));
    c.synced().await;
    let mut n3 = Conn::open(c.addrs[3]).await;
    let to_primary = err(&format!("MOVED 3300 {}", c.addr(0)));
    assert_eq!(n3.call(&["GET", "b"]).await, to_primary);
    assert_eq!(n3.call(&["SET", "b", "2"]).await, to_primary);
    assert_eq!(n3.call(&["READONLY"]).await, s("OK"));
    assert_eq!(n3.call(&["GET", "b"]).await, s("1"));
    assert_eq!(
        n3.call(&["MGET", "b", "{b}x"]).await,
        V::Arr(vec![s("1"), V::Nil])
    );
    assert_eq!(n3.call(&["SET", "b", "3"]).await, to_primary);
    // Another shard's key: redirected to that shard's primary, READONLY or not.
    assert_eq!(
        n3.call(&["GET", "foo"]).await,
        err(&format!("MOVED 12182 {}", c.addr(2)))
    );
    assert_eq!(n3.call(&["READWRITE"]).await, s("OK"));
    assert_eq!(n3.call(&["GET", "b"]).await, to_primary);
    // The stream applied by the replica's master client is never redirected.
    assert_eq!(n0.call(&["SET", "{b}y", "2"]).await, s("OK"));
    c.synced().await;
    assert_eq!(n3.call(&["READONLY"]).await, s("OK"));
    assert_eq!(n3.call(&["GET", "{b}y"]).await, s("2"));
    assert_eq!(
        n3.call(&["CLUSTER", "COUNTKEYSINSLOT", "3300"]).await,
        V::Int(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_failover_promotes_the_replica() {
    let c = Cluster::start("127.0.121.3", 3, 1);
    let mut n0 = Conn::open(c.addrs[0]).await;
    assert_eq!(n0.call(&["SET", "b", "1"]).await, s("OK"));
    c.synced().await;
    // A client blocked on the primary that becomes a replica.
    let mut blocked = Conn::open(c.addrs[0]).await;
    blocked
        .send(&[b"BLPOP".to_vec(), b"{b}list".to_vec(), b"30".to_vec()])
        .await;
    let e0 = c.servers[0].engine().clone();
    eventually("the BLPOP blocks", async || {
        e0.store.events.blocked_registrations() == 1
    })
    .await;
    let epoch_before = c.topology.current_epoch();
    let mut n3 = Conn::open(c.addrs[3]).await;
    assert_eq!(n3.call(&["CLUSTER", "FAILOVER"]).await, s("OK"));
    let started = Instant::now();
    assert_eq!(
        blocked.read().await,
        err(
            "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
        )
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    eventually("node 3 is the primary", async || {
        c.topology.primary_of(3).is_none()
            && c.topology.primary_of(0) == Some(3)
            && c.topology.owner(3300) == Some(3)
    })
    .await;
    assert_eq!(c.topology.current_epoch(), epoch_before + 1);
    assert_eq!(
        c.topology.node(3).expect("node").config_epoch,
        epoch_before + 1
    );
    // Clients are sent to the new primary, which has the data and takes writes.
    assert_eq!(
        n0.call(&["GET", "b"]).await,
        err(&format!("MOVED 3300 {}", c.addr(3)))
    );
    let mut writer = Conn::open(c.addrs[3]).await;
    eventually("the new primary takes writes", async || {
        writer.call(&["SET", "b", "2"]).await == s("OK")
    })
    .await;
    assert_eq!(n3.call(&["GET", "b"]).await, s("2"));
    let nodes = text(&n3.call(&["CLUSTER", "NODES"]).await);
    assert!(
        nodes
            .lines()
            .nth(3)
            .is_some_and(|l| l.contains("myself,master -") && l.ends_with(" 0-5460")),
        "{nodes}"
    );
    assert!(
        nodes
            .lines()
            .next()
            .is_some_and(|l| l.contains(&format!(" slave {} ", c.id(3)))),
        "{nodes}"
    );
    // The old primary follows the new one.
    c.synced().await;
    assert_eq!(n0.call(&["READONLY"]).await, s("OK"));
    assert_eq!(n0.call(&["GET", "b"]).await, s("2"));
    let role = arr(n0.call(&["ROLE"]).await);
    assert_eq!(role[0], s("slave"));
    // And back, forced: no agreement from the primary needed.
    assert_eq!(n0.call(&["CLUSTER", "FAILOVER", "FORCE"]).await, s("OK"));
    eventually("node 0 is the primary again", async || {
        c.topology.primary_of(0).is_none()
            && c.topology.primary_of(3) == Some(0)
            && c.topology.owner(3300) == Some(0)
    })
    .await;
    assert_eq!(
        n3.call(&["GET", "b"]).await,
        err(&format!("MOVED 3300 {}", c.addr(0)))
    );
    let mut again = Conn::open(c.addrs[0]).await;
    eventually("node 0 takes writes again", async || {
        again.call(&["SET", "b", "3"]).await == s("OK")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_client_is_redirected_when_its_slot_moves() {
    let c = Cluster::start("127.0.121.4", 3, 0);
    let slot = key_slot(b"b");
    let mut blocked = Conn::open(c.addrs[0]).await;
    blocked
        .send(&[b"BLPOP".to_vec(), b"{b}list".to_vec(), b"60".to_vec()])
        .await;
    let e0 = c.servers[0].engine().clone();
    eventually("the BLPOP blocks", async || {
        e0.store.events.blocked_registrations() == 1
    })
    .await;
    let topology = c.topology.clone();
    topology
        .migrate_slots_async(0, 1, vec![slot], MigrationPace::default())
        .await
        .expect("migrate");
    let started = Instant::now();
    assert_eq!(
        blocked.read().await,
        err(&format!("MOVED {slot} {}", c.addr(1)))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // The node that got the slot serves it; a slot that nobody serves takes the cluster down.
    let mut on1 = Conn::open(c.addrs[1]).await;
    on1.send(&[b"BLPOP".to_vec(), b"{b}list".to_vec(), b"60".to_vec()])
        .await;
    let e1 = c.servers[1].engine().clone();
    eventually("the BLPOP blocks on node 1", async || {
        e1.store.events.blocked_registrations() == 1
    })
    .await;
    let mut admin = Conn::open(c.addrs[1]).await;
    assert_eq!(
        admin
            .call(&["CLUSTER", "DELSLOTS", &slot.to_string()])
            .await,
        s("OK")
    );
    assert_eq!(on1.read().await, err("CLUSTERDOWN The cluster is down"));
    assert_eq!(
        admin
            .call(&["CLUSTER", "ADDSLOTS", &slot.to_string()])
            .await,
        s("OK")
    );
    // A client whose slot stays keeps waiting when other slots move, and a push serves it.
    let mut on2 = Conn::open(c.addrs[2]).await;
    on2.send(&[b"BLPOP".to_vec(), b"foo".to_vec(), b"60".to_vec()])
        .await;
    let e2 = c.servers[2].engine().clone();
    eventually("the BLPOP blocks on node 2", async || {
        e2.store.events.blocked_registrations() == 1
    })
    .await;
    topology
        .migrate_slots_async(1, 0, vec![slot], MigrationPace::default())
        .await
        .expect("migrate back");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(e2.store.events.blocked_registrations(), 1);
    let mut pusher = Conn::open(c.addrs[2]).await;
    assert_eq!(pusher.call(&["RPUSH", "foo", "x"]).await, V::Int(1));
    assert_eq!(on2.read().await, V::Arr(vec![s("foo"), s("x")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_in_slot_come_from_the_slot_index() {
    let c = Cluster::start("127.0.121.5", 1, 0);
    let mut n = Conn::open(c.addrs[0]).await;
    let slot = key_slot(b"t").to_string();
    for i in 0..50 {
        assert_eq!(n.call(&["SET", &format!("{{t}}{i}"), "v"]).await, s("OK"));
    }
    // Overwrites and other slots change nothing.
    assert_eq!(n.call(&["SET", "{t}1", "w"]).await, s("OK"));
    assert_eq!(n.call(&["SET", "other", "w"]).await, s("OK"));
    assert_eq!(
        n.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot]).await,
        V::Int(50)
    );
    assert_eq!(n.call(&["DEL", "{t}1", "{t}2"]).await, V::Int(2));
    assert_eq!(n.call(&["RENAME", "{t}3", "{t}x"]).await, s("OK"));
    assert_eq!(n.call(&["SET", "{t}4", "v", "PX", "1"]).await, s("OK"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The expired key is deleted when it is touched (until then Redis counts it too).
    assert_eq!(n.call(&["GET", "{t}4"]).await, V::Nil);
    assert_eq!(
        n.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot]).await,
        V::Int(47)
    );
    let mut keys: Vec<String> = arr(n.call(&["CLUSTER", "GETKEYSINSLOT", &slot, "100"]).await)
        .iter()
        .map(text)
        .collect();
    keys.sort();
    let mut expected: Vec<String> = (0..50)
        .filter(|i| ![1, 2, 3, 4].contains(i))
        .map(|i| format!("{{t}}{i}"))
        .chain(["{t}x".to_string()])
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(
        arr(n.call(&["CLUSTER", "GETKEYSINSLOT", &slot, "5"]).await).len(),
        5
    );
    assert_eq!(
        n.call(&["SWAPDB", "0", "1"]).await,
        err("ERR SWAPDB is not allowed in cluster mode")
    );
    assert_eq!(
        n.call(&["COPY", "{t}x", "{t}y", "DB", "1"]).await,
        err("ERR Copying to another database is not allowed in cluster mode")
    );
    assert_eq!(n.call(&["FLUSHALL"]).await, s("OK"));
    assert_eq!(
        n.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot]).await,
        V::Int(0)
    );
}
