//! A clustered cache of a world: one engine per node joined in one
//! [`redlink_engine::cluster::ClusterTopology`] (the slots split as `redis-cli
//! --cluster create` splits them), node `n` behind the per-node ports of
//! [`redlink_world::cluster_ports`] on every endpoint (the edge routes them:
//! `Edge::set_cluster_nodes`), node 0 also behind the cache's own ports. A replicated cache
//! (`sku = "Premium"`) has a replica per shard, numbered after its primary as Azure numbers them;
//! each replica follows its shard's primary through the shard's [`LinkProxy`] ([`ShardLinks`]:
//! the world's `replication` latency and cuts apply), and a failover (`CLUSTER FAILOVER` on a
//! replica, or the world's `failover` change) re-points the shard's link at the new primary. A live reshard (`scale`)
//! adds nodes and moves slots to the new even split with the engine's slot migration, so clients
//! running meanwhile see `-ASK` and `-MOVED`; a shrink moves the slots off the nodes that go first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redlink_engine::Engine;
use redlink_engine::cluster::migrate::{MigrationPace, MigrationReport};
use redlink_engine::cluster::topology::even_split;
use redlink_engine::cluster::{ClusterTopology, NodeSpec, ReplicationWiring};
use redlink_world::{Cache, NodePorts, ReplicationLink};

use crate::certs::WorldCa;
use crate::engines::start_engine;
use crate::error::RuntimeError;
use crate::replicas::{LinkProxy, follow};

/// Keys moved per batch during a reshard, and the pause between batches: small enough that
/// clients running meanwhile meet slots half moved (`-ASK`), as during Azure's MIGRATE.
const RESHARD_PACE: MigrationPace = MigrationPace {
    batch: 16,
    pause: Duration::from_millis(1),
};

/// The pause after each slot moved: about 500 slots a second, the order of a real reshard's
/// pace (each slot takes SETSLOT round trips on every node even without keys). Moving empty
/// slots as fast as possible would let two nodes' `CLUSTER SLOTS` asked a few milliseconds
/// apart differ by hundreds of slots, which clients that compare them (redis-py's
/// `RedisCluster`) reject.
const SLOT_PAUSE: Duration = Duration::from_millis(2);

/// The replication links of a clustered cache: one [`LinkProxy`] per shard, handing each link
/// connection to the shard's current primary. The topology's [`ReplicationWiring`].
pub struct ShardLinks {
    /// Nodes per shard (primary + replicas).
    copies: usize,
    proxies: std::sync::Mutex<Vec<LinkProxy>>,
    topology: std::sync::OnceLock<std::sync::Weak<ClusterTopology>>,
}

impl std::fmt::Debug for ShardLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShardLinks({} copies per shard)", self.copies)
    }
}

impl ShardLinks {
    /// Applies the world's replication link setting to every shard's link.
    pub fn set(&self, link: ReplicationLink) {
        if let Ok(proxies) = self.proxies.lock() {
            proxies.iter().for_each(|p| p.set(link));
        }
    }

    /// Opens the link of one more shard, to `primary`.
    fn open(&self, primary: Engine, link: ReplicationLink) -> std::io::Result<()> {
        let proxy = LinkProxy::bind(primary, link)?;
        if let Ok(mut proxies) = self.proxies.lock() {
            proxies.push(proxy);
        }
        Ok(())
    }
}

impl ReplicationWiring for ShardLinks {
    fn follow(
        &self,
        follower: &Engine,
        _follower_node: usize,
        primary: usize,
    ) -> Result<(), String> {
        let topology = self
            .topology
            .get()
            .and_then(std::sync::Weak::upgrade)
            .ok_or("the cluster is gone")?;
        let engine = topology
            .engine(primary)
            .ok_or_else(|| format!("node {primary} is not running"))?;
        let proxies = self.proxies.lock().map_err(|_| "link lock poisoned")?;
        let proxy = proxies
            .get(primary / self.copies)
            .ok_or_else(|| format!("no replication link for node {primary}'s shard"))?;
        if proxy.primary_run_id() != engine.run_id {
            proxy.retarget(engine);
        }
        follow(follower, proxy)
    }
}

/// The nodes of one clustered cache.
#[derive(Clone)]
pub struct CacheCluster {
    /// The cluster's shared configuration.
    pub topology: Arc<ClusterTopology>,
    /// Every node's engine, node 0 first (node `n` = topology index `n`).
    pub nodes: Vec<Engine>,
    /// Nodes per shard: 1, or 2 with a replica per shard.
    pub copies: usize,
    /// The shards' replication links (with replicas).
    pub links: Arc<ShardLinks>,
}

/// The layout of `shards` shards of `copies` nodes: node `s * copies` is shard `s`'s primary,
/// the next `copies - 1` its replicas (Azure's numbering, `cluster_ports::node_number`).
fn roles(shards: usize, copies: usize) -> Vec<Option<usize>> {
    (0..shards * copies)
        .map(|n| (!n.is_multiple_of(copies)).then_some(n - n % copies))
        .collect()
}

impl std::fmt::Debug for CacheCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CacheCluster({} nodes)", self.nodes.len())
    }
}

fn spec(cache: &Cache, ports: Option<NodePorts>) -> NodeSpec {
    NodeSpec {
        host: cache.public_address.to_string(),
        port: ports.and_then(|p| p.plain).unwrap_or(0),
        tls_port: ports.and_then(|p| p.tls).unwrap_or(0),
    }
}

fn cluster_error(cache: &Cache, message: String) -> RuntimeError {
    RuntimeError::Engine {
        cache: cache.name.clone(),
        setting: "shards",
        message,
    }
}

impl CacheCluster {
    /// Starts `cache`'s nodes (one engine each, the cache's settings) and joins them, the slots
    /// split evenly. Must be called inside a tokio runtime.
    pub fn start(
        cache: &Cache,
        ca: &WorldCa,
        clock: &redlink_clock::Clock,
    ) -> Result<CacheCluster, RuntimeError> {
        let ports = cache.node_ports();
        let copies = usize::from(cache.shard_copies());
        let layout = roles(ports.len() / copies, copies);
        let topology = ClusterTopology::with_layout(
            ports.iter().map(|p| spec(cache, Some(*p))).collect(),
            &layout,
        )
        .map_err(|e| cluster_error(cache, e))?;
        let links = Arc::new(ShardLinks {
            copies,
            proxies: std::sync::Mutex::new(Vec::new()),
            topology: std::sync::OnceLock::new(),
        });
        let _ = links.topology.set(Arc::downgrade(&topology));
        topology.set_wiring(links.clone());
        let mut nodes = Vec::with_capacity(ports.len());
        for node in 0..ports.len() {
            let engine = match start_engine(cache, ca, None, None, clock) {
                Ok(e) => e,
                Err(e) => {
                    nodes.iter().for_each(Engine::shutdown);
                    return Err(e);
                }
            };
            if let Err(e) = topology.attach(node, &engine) {
                engine.shutdown();
                nodes.iter().for_each(Engine::shutdown);
                return Err(cluster_error(cache, e));
            }
            nodes.push(engine);
        }
        let cluster = CacheCluster {
            topology,
            nodes,
            copies,
            links,
        };
        if let Err(e) = cluster.connect_replicas(cache, 0) {
            cluster.shutdown();
            return Err(e);
        }
        Ok(cluster)
    }

    /// Opens the links of the shards from `first_shard` on and makes their replicas follow.
    fn connect_replicas(&self, cache: &Cache, first_shard: usize) -> Result<(), RuntimeError> {
        if self.copies < 2 {
            return Ok(());
        }
        for shard in first_shard..self.nodes.len() / self.copies {
            let primary = shard * self.copies;
            self.links
                .open(self.nodes[primary].clone(), cache.replication)
                .map_err(|e| {
                    cluster_error(cache, format!("the replication link cannot listen: {e}"))
                })?;
            for replica in primary + 1..primary + self.copies {
                self.topology
                    .follow(&self.nodes[replica], replica, primary)
                    .map_err(|e| cluster_error(cache, e))?;
            }
        }
        Ok(())
    }

    /// The node serving as shard `shard`'s primary now (failovers move it within the shard).
    pub fn primary_of_shard(&self, shard: usize) -> usize {
        let first = shard * self.copies;
        (first..first + self.copies)
            .find(|&n| self.topology.primary_of(n).is_none())
            .unwrap_or(first)
    }

    /// Adds nodes until there are `shards` (`cache` is the cache with its new shard count), each a
    /// new engine serving no slot yet; returns the new engines. [`CacheCluster::rebalance`] then
    /// gives them their slots.
    pub fn grow(
        &mut self,
        cache: &Cache,
        ca: &WorldCa,
        shards: u16,
        clock: &redlink_clock::Clock,
    ) -> Result<Vec<Engine>, RuntimeError> {
        if self.topology.node_count() != self.nodes.len() {
            return Err(cluster_error(
                cache,
                "growing a cache that was shrunk before is not simulated (its removed nodes keep their numbers)".to_owned(),
            ));
        }
        let ports = cache.node_ports();
        let first_new_shard = self.nodes.len() / self.copies;
        let mut added = Vec::new();
        for node in self.nodes.len()..usize::from(shards) * self.copies {
            let engine = start_engine(cache, ca, None, None, clock)?;
            let index = self
                .topology
                .add_node(spec(cache, ports.get(node).copied()));
            if let Err(e) = self.topology.attach(index, &engine) {
                engine.shutdown();
                return Err(cluster_error(cache, e));
            }
            if !index.is_multiple_of(self.copies) {
                let primary = index - index % self.copies;
                self.topology
                    .set_replica_of(index, Some(primary))
                    .map_err(|e| cluster_error(cache, e))?;
            }
            self.nodes.push(engine.clone());
            added.push(engine);
        }
        self.connect_replicas(cache, first_new_shard)?;
        Ok(added)
    }

    /// Moves slots so nodes `0..shards` serve the even split (`redis-cli --cluster rebalance`),
    /// slot by slot with the engine's live migration, [`SLOT_PAUSE`] apart. Nodes past `shards`
    /// end with no slot.
    pub async fn rebalance(
        topology: Arc<ClusterTopology>,
        shards: u16,
        copies: usize,
    ) -> Result<MigrationReport, String> {
        let mut moves: BTreeMap<(usize, usize), Vec<u16>> = BTreeMap::new();
        for (shard, range) in even_split(usize::from(shards)).into_iter().enumerate() {
            // The shard's primary now (a failover may have moved it within the shard).
            let first = shard * copies;
            let node = (first..first + copies)
                .find(|&n| topology.primary_of(n).is_none())
                .unwrap_or(first);
            for slot in range {
                match topology.owner(slot) {
                    Some(owner) if owner != node => {
                        moves.entry((owner, node)).or_default().push(slot)
                    }
                    Some(_) => {}
                    None => topology.set_owner(slot, Some(node)),
                }
            }
        }
        let mut total = MigrationReport::default();
        for ((from, to), slots) in moves {
            for slot in slots {
                let report = topology
                    .migrate_slots_async(from, to, vec![slot], RESHARD_PACE)
                    .await?;
                total.slots += report.slots;
                total.keys += report.keys;
                tokio::time::sleep(SLOT_PAUSE).await;
            }
        }
        Ok(total)
    }

    /// Removes the nodes past `shards` (they must serve no slot: [`CacheCluster::rebalance`]
    /// first) and stops their engines.
    pub fn shrink(&mut self, cache: &Cache, shards: u16) -> Result<(), RuntimeError> {
        let keep = usize::from(shards) * self.copies;
        for node in keep..self.nodes.len() {
            self.topology
                .forget_node(node)
                .map_err(|e| cluster_error(cache, e))?;
        }
        for engine in self.nodes.drain(keep..) {
            engine.shutdown();
        }
        if let Ok(mut proxies) = self.links.proxies.lock() {
            proxies.truncate(usize::from(shards));
        }
        Ok(())
    }

    /// Stops every node.
    pub fn shutdown(&self) {
        self.nodes.iter().for_each(Engine::shutdown);
    }
}
