//! A clustered cache of a world: one engine per node joined in one
//! [`redlink_engine::cluster::ClusterTopology`] (the slots split as `redis-cli
//! --cluster create` splits them), node `n` behind the per-node ports of
//! [`redlink_world::cluster_ports`] on every endpoint (the edge routes them:
//! `Edge::set_cluster_nodes`), node 0 also behind the cache's own ports. A live reshard (`scale`)
//! adds nodes and moves slots to the new even split with the engine's slot migration, so clients
//! running meanwhile see `-ASK` and `-MOVED`; a shrink moves the slots off the nodes that go first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redlink_engine::Engine;
use redlink_engine::cluster::migrate::{MigrationPace, MigrationReport};
use redlink_engine::cluster::topology::even_split;
use redlink_engine::cluster::{ClusterTopology, NodeSpec};
use redlink_world::{Cache, NodePorts};

use crate::certs::WorldCa;
use crate::engines::start_engine;
use crate::error::RuntimeError;

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

/// The nodes of one clustered cache.
#[derive(Clone)]
pub struct CacheCluster {
    /// The cluster's shared configuration.
    pub topology: Arc<ClusterTopology>,
    /// Every node's engine, node 0 first (node `n` = topology index `n`).
    pub nodes: Vec<Engine>,
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
        let topology =
            ClusterTopology::with_even_slots(ports.iter().map(|p| spec(cache, Some(*p))).collect());
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
        Ok(CacheCluster { topology, nodes })
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
        let mut added = Vec::new();
        for node in self.nodes.len()..usize::from(shards) {
            let engine = start_engine(cache, ca, None, None, clock)?;
            let index = self
                .topology
                .add_node(spec(cache, ports.get(node).copied()));
            if let Err(e) = self.topology.attach(index, &engine) {
                engine.shutdown();
                return Err(cluster_error(cache, e));
            }
            self.nodes.push(engine.clone());
            added.push(engine);
        }
        Ok(added)
    }

    /// Moves slots so nodes `0..shards` serve the even split (`redis-cli --cluster rebalance`),
    /// slot by slot with the engine's live migration, [`SLOT_PAUSE`] apart. Nodes past `shards`
    /// end with no slot.
    pub async fn rebalance(
        topology: Arc<ClusterTopology>,
        shards: u16,
    ) -> Result<MigrationReport, String> {
        let mut moves: BTreeMap<(usize, usize), Vec<u16>> = BTreeMap::new();
        for (node, range) in even_split(usize::from(shards)).into_iter().enumerate() {
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
        let keep = usize::from(shards);
        for node in keep..self.nodes.len() {
            self.topology
                .forget_node(node)
                .map_err(|e| cluster_error(cache, e))?;
        }
        for engine in self.nodes.drain(keep..) {
            engine.shutdown();
        }
        Ok(())
    }

    /// Stops every node.
    pub fn shutdown(&self) {
        self.nodes.iter().for_each(Engine::shutdown);
    }
}
