//! The cluster's configuration, shared by its nodes in one process: what redis-server's cluster bus
//! would agree on by gossip. Node ids (40 hex digits), each node's own address, the owner of each
//! of the 16384 slots, per-node MIGRATING/IMPORTING states, and epochs. The slot owners are atomics
//! so the dispatcher's check reads one without a lock; everything else sits behind one lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;

use super::Membership;
use super::slot::SLOTS;
use crate::{Engine, Shared};

/// No node serves the slot.
const UNOWNED: u16 = u16::MAX;

/// Where a node listens (its own address; clients may be told another, see
/// [`ClusterAnnounce`](super::ClusterAnnounce)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The host or IP clients connect to.
    pub host: String,
    /// The plain port (0 = none).
    pub port: u16,
    /// The TLS port (0 = none).
    pub tls_port: u16,
}

/// One node as the topology knows it.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node id: 40 hex digits, random at creation, as in Redis.
    pub id: String,
    /// The node's own address.
    pub spec: NodeSpec,
    /// The node's config epoch.
    pub config_epoch: u64,
    /// Whether the node left the cluster (indices stay stable: a forgotten node keeps its index).
    pub forgotten: bool,
    /// The primary this node is a replica of (Redis's `slaveof`); `None` for a primary.
    pub replica_of: Option<usize>,
    engine: Option<Weak<Shared>>,
}

#[derive(Debug, Default)]
struct Meta {
    nodes: Vec<Node>,
    /// `(node, slot)` → the node the slot is migrating to (SETSLOT MIGRATING on `node`).
    migrating: HashMap<(usize, u16), usize>,
    /// `(node, slot)` → the node the slot is imported from (SETSLOT IMPORTING on `node`).
    importing: HashMap<(usize, u16), usize>,
    current_epoch: u64,
    wiring: Option<Arc<dyn ReplicationWiring>>,
}

/// How a node of a cluster is made to follow another: `redlink serve --cluster` lets replicas
/// connect to their primary's own listener (the default); a world routes the link through the
/// runtime's replication proxy (its latency and cuts).
pub trait ReplicationWiring: Send + Sync + std::fmt::Debug {
    /// Make `follower` (the engine of node `follower_node`) replicate node `primary`.
    fn follow(&self, follower: &Engine, follower_node: usize, primary: usize)
    -> Result<(), String>;
}

/// The shared configuration of one cluster.
#[derive(Debug)]
pub struct ClusterTopology {
    owners: Box<[AtomicU16]>,
    /// Slots with no owner (the cluster is down while any, with full coverage required).
    unowned: AtomicUsize,
    /// Number of MIGRATING/IMPORTING entries: the dispatcher looks them up only when non-zero.
    transitions: AtomicUsize,
    /// `cluster-require-full-coverage`.
    pub require_full_coverage: AtomicBool,
    /// `cluster-allow-reads-when-down`.
    pub allow_reads_when_down: AtomicBool,
    meta: RwLock<Meta>,
    /// One live migration at a time ([`ClusterTopology::migrate_slots`]).
    pub(crate) migration_lock: parking_lot::Mutex<()>,
}

/// A random node id (40 lower-case hex digits).
pub fn random_node_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Redis's error for a slot argument that is not a slot.
pub const INVALID_SLOT: &str = "ERR Invalid or out of range slot";

impl ClusterTopology {
    /// A cluster of these nodes with no slot assigned yet.
    pub fn new(specs: Vec<NodeSpec>) -> Arc<ClusterTopology> {
        let nodes = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| Node {
                id: random_node_id(),
                spec,
                config_epoch: i as u64 + 1,
                forgotten: false,
                replica_of: None,
                engine: None,
            })
            .collect::<Vec<_>>();
        let current_epoch = nodes.len() as u64;
        Arc::new(ClusterTopology {
            owners: (0..SLOTS).map(|_| AtomicU16::new(UNOWNED)).collect(),
            unowned: AtomicUsize::new(SLOTS),
            transitions: AtomicUsize::new(0),
            require_full_coverage: AtomicBool::new(true),
            allow_reads_when_down: AtomicBool::new(false),
            meta: RwLock::new(Meta {
                nodes,
                current_epoch,
                ..Meta::default()
            }),
            migration_lock: parking_lot::Mutex::new(()),
        })
    }

    /// A cluster of these nodes with the slots split between them as `redis-cli --cluster create`
    /// splits them (0-5460, 5461-10922, 10923-16383 for three).
    pub fn with_even_slots(specs: Vec<NodeSpec>) -> Arc<ClusterTopology> {
        let t = ClusterTopology::new(specs);
        let n = t.node_count();
        for (node, range) in even_split(n).into_iter().enumerate() {
            for slot in range {
                t.set_owner(slot, Some(node));
            }
        }
        t
    }

    /// A cluster of these nodes where node `i` replicates `replica_of[i]` (`None`: a primary),
    /// the slots split between the primaries in index order as `redis-cli --cluster create`
    /// splits them. Errors name a replica whose primary is not a primary of this cluster.
    pub fn with_layout(
        specs: Vec<NodeSpec>,
        replica_of: &[Option<usize>],
    ) -> Result<Arc<ClusterTopology>, String> {
        if specs.len() != replica_of.len() {
            return Err(format!(
                "{} nodes but {} roles",
                specs.len(),
                replica_of.len()
            ));
        }
        let t = ClusterTopology::new(specs);
        for (node, primary) in replica_of.iter().enumerate() {
            if let Some(p) = *primary {
                if replica_of.get(p).is_none_or(|r| r.is_some()) {
                    return Err(format!(
                        "node {node} replicates node {p}, which is not a primary"
                    ));
                }
                t.set_replica_of(node, Some(p))?;
            }
        }
        let primaries: Vec<usize> = (0..replica_of.len())
            .filter(|&i| replica_of[i].is_none())
            .collect();
        for (range, &node) in even_split(primaries.len()).into_iter().zip(&primaries) {
            for slot in range {
                t.set_owner(slot, Some(node));
            }
        }
        Ok(t)
    }

    /// Make `engine` node `node` of this cluster (once per engine; a restarted node's new engine
    /// attaches to the same index).
    pub fn attach(self: &Arc<Self>, node: usize, engine: &Engine) -> Result<(), String> {
        let mut meta = self.meta.write();
        let n = meta
            .nodes
            .get_mut(node)
            .ok_or_else(|| format!("no node {node} in this cluster"))?;
        engine
            .cluster
            .set(Membership {
                topology: self.clone(),
                node,
                fence: Arc::default(),
            })
            .map_err(|_| "the engine is already a cluster node".to_string())?;
        n.engine = Some(engine.downgrade());
        drop(meta);
        engine.store.db(0).enable_slot_index();
        Ok(())
    }

    /// Add a node that serves no slot yet (a new shard); returns its index.
    pub fn add_node(&self, spec: NodeSpec) -> usize {
        let mut meta = self.meta.write();
        meta.current_epoch += 1;
        let config_epoch = meta.current_epoch;
        meta.nodes.push(Node {
            id: random_node_id(),
            spec,
            config_epoch,
            forgotten: false,
            replica_of: None,
            engine: None,
        });
        meta.nodes.len() - 1
    }

    /// Remove a node that serves no slot (a shard scaled away). Its index stays reserved.
    pub fn forget_node(&self, node: usize) -> Result<(), String> {
        if (0..SLOTS as u16).any(|s| self.owner(s) == Some(node)) {
            return Err(format!("node {node} still serves slots"));
        }
        let mut meta = self.meta.write();
        let n = meta
            .nodes
            .get_mut(node)
            .ok_or_else(|| format!("no node {node}"))?;
        n.forgotten = true;
        n.engine = None;
        Ok(())
    }

    /// The number of node indices (forgotten nodes included).
    pub fn node_count(&self) -> usize {
        self.meta.read().nodes.len()
    }

    /// The nodes (forgotten ones included, flagged).
    pub fn nodes(&self) -> Vec<Node> {
        self.meta.read().nodes.clone()
    }

    /// One node.
    pub fn node(&self, node: usize) -> Option<Node> {
        self.meta.read().nodes.get(node).cloned()
    }

    /// The index of the live node with this id.
    pub fn index_of(&self, id: &[u8]) -> Option<usize> {
        let meta = self.meta.read();
        meta.nodes
            .iter()
            .position(|n| !n.forgotten && n.id.as_bytes().eq_ignore_ascii_case(id))
    }

    /// The engine of a node, while it runs.
    pub fn engine(&self, node: usize) -> Option<Engine> {
        let meta = self.meta.read();
        meta.nodes
            .get(node)?
            .engine
            .as_ref()
            .and_then(Engine::upgrade)
    }

    /// The engines of every running node.
    pub fn engines(&self) -> Vec<Engine> {
        let meta = self.meta.read();
        meta.nodes
            .iter()
            .filter_map(|n| n.engine.as_ref().and_then(Engine::upgrade))
            .collect()
    }

    /// The node serving `slot` (lock-free).
    #[inline]
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let o = self.owners.get(slot as usize)?.load(Ordering::Acquire);
        (o != UNOWNED).then_some(o as usize)
    }

    /// Set (or clear) the owner of a slot.
    pub fn set_owner(&self, slot: u16, node: Option<usize>) {
        let Some(cell) = self.owners.get(slot as usize) else {
            return;
        };
        let new = node.map_or(UNOWNED, |n| n as u16);
        let old = cell.swap(new, Ordering::AcqRel);
        match (old == UNOWNED, new == UNOWNED) {
            (true, false) => {
                self.unowned.fetch_sub(1, Ordering::AcqRel);
            }
            (false, true) => {
                self.unowned.fetch_add(1, Ordering::AcqRel);
            }
            _ => {}
        }
    }

    /// The slots a node serves, as inclusive ranges in order.
    pub fn ranges_of(&self, node: usize) -> Vec<(u16, u16)> {
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for s in 0..SLOTS as u16 {
            if self.owner(s) == Some(node) {
                match ranges.last_mut() {
                    Some(r) if r.1 + 1 == s => r.1 = s,
                    _ => ranges.push((s, s)),
                }
            }
        }
        ranges
    }

    /// Every slot has an owner.
    pub fn fully_covered(&self) -> bool {
        self.unowned.load(Ordering::Acquire) == 0
    }

    /// Number of slots with an owner.
    pub fn assigned_slots(&self) -> usize {
        SLOTS - self.unowned.load(Ordering::Acquire)
    }

    /// `cluster_state:ok`: every slot served, or full coverage not required.
    pub fn state_ok(&self) -> bool {
        self.fully_covered() || !self.require_full_coverage.load(Ordering::Relaxed)
    }

    /// Whether any slot is migrating or importing anywhere (one load).
    #[inline]
    pub fn in_transition(&self) -> bool {
        self.transitions.load(Ordering::Acquire) != 0
    }

    /// The node `node`'s slot `slot` is migrating to.
    pub fn migrating_to(&self, node: usize, slot: u16) -> Option<usize> {
        self.meta.read().migrating.get(&(node, slot)).copied()
    }

    /// The node `node`'s slot `slot` is being imported from.
    pub fn importing_from(&self, node: usize, slot: u16) -> Option<usize> {
        self.meta.read().importing.get(&(node, slot)).copied()
    }

    /// Every MIGRATING (`true`) and IMPORTING (`false`) entry of `node`: `(slot, other node)`.
    pub fn transitions_of(&self, node: usize) -> Vec<(u16, usize, bool)> {
        let meta = self.meta.read();
        let mut v: Vec<(u16, usize, bool)> = meta
            .migrating
            .iter()
            .filter(|((n, _), _)| *n == node)
            .map(|((_, s), to)| (*s, *to, true))
            .chain(
                meta.importing
                    .iter()
                    .filter(|((n, _), _)| *n == node)
                    .map(|((_, s), from)| (*s, *from, false)),
            )
            .collect();
        v.sort_unstable();
        v
    }

    /// CLUSTER SETSLOT `slot` MIGRATING `to` on node `node` (Redis's checks and error texts).
    pub fn set_migrating(&self, node: usize, slot: u16, to: usize) -> Result<(), String> {
        if self.owner(slot) != Some(node) {
            return Err(format!("ERR I'm not the owner of hash slot {slot}"));
        }
        if to == node {
            return Err("ERR I'm the target node, cannot migrate to myself".into());
        }
        let mut meta = self.meta.write();
        if meta.migrating.insert((node, slot), to).is_none() {
            self.transitions.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// CLUSTER SETSLOT `slot` IMPORTING `from` on node `node`.
    pub fn set_importing(&self, node: usize, slot: u16, from: usize) -> Result<(), String> {
        if self.owner(slot) == Some(node) {
            return Err(format!("ERR I'm already the owner of hash slot {slot}"));
        }
        if from == node {
            return Err("ERR I'm the node you're asking about, cannot import from myself".into());
        }
        let mut meta = self.meta.write();
        if meta.importing.insert((node, slot), from).is_none() {
            self.transitions.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// CLUSTER SETSLOT `slot` STABLE on node `node`: clears its MIGRATING/IMPORTING state.
    pub fn set_stable(&self, node: usize, slot: u16) {
        let mut meta = self.meta.write();
        let removed = meta.migrating.remove(&(node, slot)).is_some() as usize
            + meta.importing.remove(&(node, slot)).is_some() as usize;
        self.transitions.fetch_sub(removed, Ordering::AcqRel);
    }

    /// CLUSTER SETSLOT `slot` NODE `owner` sent to node `node`: the slot is `owner`'s from now on.
    /// On the importing node it ends the import and bumps its config epoch (as Redis does); on
    /// the node that migrated it away, its MIGRATING state ends. Other nodes' states for the slot
    /// end too (the shared topology is what gossip would converge to).
    ///
    /// The new owner and the end of the MIGRATING/IMPORTING states are one step for
    /// [`Self::slot_state`]: the owner is written first, then the states cleared, both under the
    /// configuration's write lock. (Clearing the states first let a command on the source find
    /// itself the owner of a stable slot whose keys had all moved, and answer nil.)
    pub fn set_node(&self, node: usize, slot: u16, owner: usize) -> Result<(), String> {
        let _ = node;
        let moved = {
            let mut meta = self.meta.write();
            if owner >= meta.nodes.len() || meta.nodes[owner].forgotten {
                return Err(format!("ERR Unknown node {owner}"));
            }
            let moved = self.owner(slot) != Some(owner);
            if moved {
                meta.current_epoch += 1;
                let epoch = meta.current_epoch;
                meta.nodes[owner].config_epoch = epoch;
            }
            self.set_owner(slot, Some(owner));
            let before = meta.migrating.len() + meta.importing.len();
            meta.migrating.retain(|(_, s), _| *s != slot);
            meta.importing.retain(|(_, s), _| *s != slot);
            let removed = before - meta.migrating.len() - meta.importing.len();
            self.transitions.fetch_sub(removed, Ordering::AcqRel);
            moved
        };
        if moved {
            self.slots_changed();
        }
        Ok(())
    }

    /// A slot as node `node` sees it, read as one state: its owner, the node it is migrating to
    /// (when `node` owns it) and whether `node` imports it. Without a migration anywhere this is
    /// one load of the transition count and one of the owner; during one, the owner and the
    /// states are read under the configuration's lock, so [`Self::set_node`] is seen whole.
    pub fn slot_state(&self, node: usize, slot: u16) -> (Option<usize>, Option<usize>, bool) {
        // The count first: `set_node` writes the owner before it lowers the count, so a count of
        // zero here means the owner read next is the final one.
        if !self.in_transition() {
            return (self.owner(slot), None, false);
        }
        let meta = self.meta.read();
        let owner = self.owner(slot);
        if owner == Some(node) {
            (owner, meta.migrating.get(&(node, slot)).copied(), false)
        } else {
            (owner, None, meta.importing.contains_key(&(node, slot)))
        }
    }

    /// Make `node` a replica of `primary` (`None`: a primary again). A replica serves no slot:
    /// `redis-cli --cluster create --cluster-replicas` gives replicas none, and a failover hands
    /// the old primary's slots to its replica ([`ClusterTopology::swap_roles`]).
    pub fn set_replica_of(&self, node: usize, primary: Option<usize>) -> Result<(), String> {
        let mut meta = self.meta.write();
        let count = meta.nodes.len();
        if let Some(p) = primary
            && (p >= count || p == node || meta.nodes[p].forgotten)
        {
            return Err(format!("node {node} cannot replicate node {p}"));
        }
        let n = meta
            .nodes
            .get_mut(node)
            .ok_or_else(|| format!("no node {node} in this cluster"))?;
        n.replica_of = primary;
        Ok(())
    }

    /// The primary node `node` replicates, if it is a replica.
    pub fn primary_of(&self, node: usize) -> Option<usize> {
        self.meta.read().nodes.get(node).and_then(|n| n.replica_of)
    }

    /// The live replicas of `node`, in index order.
    pub fn replicas_of(&self, node: usize) -> Vec<usize> {
        let meta = self.meta.read();
        (0..meta.nodes.len())
            .filter(|&i| !meta.nodes[i].forgotten && meta.nodes[i].replica_of == Some(node))
            .collect()
    }

    /// The config epoch a node is shown with: a replica shows its primary's (as in `CLUSTER
    /// NODES` of redis-server).
    pub fn shown_epoch(&self, node: usize) -> u64 {
        let meta = self.meta.read();
        let Some(n) = meta.nodes.get(node) else {
            return 0;
        };
        n.replica_of
            .and_then(|p| meta.nodes.get(p))
            .map_or(n.config_epoch, |p| p.config_epoch)
    }

    /// A failover's change of configuration: `replica` takes its primary's slots and a new config
    /// epoch (the current epoch bumped), the old primary and the shard's other replicas replicate
    /// it. Returns the old primary. The engines' roles, and waking blocked clients
    /// ([`ClusterTopology::slots_changed`]), are the caller's ([`super::failover`]).
    pub fn swap_roles(&self, replica: usize) -> Result<usize, String> {
        let old = {
            let mut meta = self.meta.write();
            let old = meta
                .nodes
                .get(replica)
                .and_then(|n| n.replica_of)
                .ok_or_else(|| format!("node {replica} is not a replica"))?;
            meta.current_epoch += 1;
            let epoch = meta.current_epoch;
            for n in meta.nodes.iter_mut() {
                if n.replica_of == Some(old) {
                    n.replica_of = Some(replica);
                }
            }
            meta.nodes[replica].replica_of = None;
            meta.nodes[replica].config_epoch = epoch;
            meta.nodes[old].replica_of = Some(replica);
            // The old primary's slot states are the new primary's now.
            let moved: Vec<((usize, u16), usize)> = meta
                .migrating
                .iter()
                .filter(|((n, _), _)| *n == old)
                .map(|(k, v)| (*k, *v))
                .collect();
            for ((_, s), to) in moved {
                meta.migrating.remove(&(old, s));
                meta.migrating.insert((replica, s), to);
            }
            let moved: Vec<((usize, u16), usize)> = meta
                .importing
                .iter()
                .filter(|((n, _), _)| *n == old)
                .map(|(k, v)| (*k, *v))
                .collect();
            for ((_, s), from) in moved {
                meta.importing.remove(&(old, s));
                meta.importing.insert((replica, s), from);
            }
            old
        };
        for s in 0..SLOTS as u16 {
            if self.owner(s) == Some(old) {
                self.set_owner(s, Some(replica));
            }
        }
        // Blocked clients are woken by the caller once the engines' roles changed (the old
        // primary's own get `-UNBLOCKED` when it becomes a replica, as in Redis).
        Ok(old)
    }

    /// How a node is made to follow another (the default: the primary's own plain listener).
    pub fn set_wiring(&self, wiring: Arc<dyn ReplicationWiring>) {
        self.meta.write().wiring = Some(wiring);
    }

    /// Make engine `follower` (node `follower_node`) replicate node `primary`.
    pub fn follow(
        &self,
        follower: &Engine,
        follower_node: usize,
        primary: usize,
    ) -> Result<(), String> {
        let wiring = self.meta.read().wiring.clone();
        match wiring {
            Some(w) => w.follow(follower, follower_node, primary),
            None => {
                let (host, port) = self
                    .own_address(primary, false)
                    .ok_or_else(|| format!("no node {primary}"))?;
                if port == 0 {
                    return Err(format!(
                        "node {primary} has no plain port for its replicas to connect to"
                    ));
                }
                follower
                    .replicate_from(&host, port)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Slot owners changed: every node's clients blocked on keys re-check where their slot is
    /// now (Redis's `clusterRedirectBlockedClientIfNeeded`), so they get `-MOVED` at once.
    pub fn slots_changed(&self) {
        for engine in self.engines() {
            engine.store.events.wake_all();
        }
    }

    /// The cluster's current epoch.
    pub fn current_epoch(&self) -> u64 {
        self.meta.read().current_epoch
    }

    /// Bump the current epoch and give it to `node` (CLUSTER BUMPEPOCH); returns the new epoch.
    pub fn bump_epoch(&self, node: usize) -> u64 {
        let mut meta = self.meta.write();
        meta.current_epoch += 1;
        let e = meta.current_epoch;
        if let Some(n) = meta.nodes.get_mut(node) {
            n.config_epoch = e;
        }
        e
    }

    /// A node's own address for clients: `(host, port)`, the TLS port for a TLS connection when
    /// the node has one.
    pub fn own_address(&self, node: usize, tls: bool) -> Option<(String, u16)> {
        let meta = self.meta.read();
        let n = meta.nodes.get(node)?;
        let port = if tls && n.spec.tls_port != 0 {
            n.spec.tls_port
        } else {
            n.spec.port
        };
        Some((n.spec.host.clone(), port))
    }
}

/// `redis-cli --cluster create`'s split of the 16384 slots over `n` masters: inclusive ranges.
pub fn even_split(n: usize) -> Vec<std::ops::RangeInclusive<u16>> {
    if n == 0 {
        return Vec::new();
    }
    let per_node = SLOTS as f64 / n as f64;
    let (mut first, mut cursor) = (0usize, 0.0f64);
    let mut ranges = Vec::with_capacity(n);
    for i in 0..n {
        let mut last = (cursor + per_node - 1.0).round() as usize;
        if last > SLOTS - 1 || i == n - 1 {
            last = SLOTS - 1;
        }
        if last < first {
            last = first;
        }
        ranges.push(first as u16..=last as u16);
        first = last + 1;
        cursor += per_node;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_matches_redis_cli() {
        assert_eq!(even_split(3), vec![0..=5460, 5461..=10922, 10923..=16383]);
        assert_eq!(even_split(1), vec![0..=16383]);
        let r = even_split(7);
        assert_eq!(*r[0].start(), 0);
        assert_eq!(*r[6].end(), 16383);
        for w in r.windows(2) {
            assert_eq!(*w[0].end() + 1, *w[1].start());
        }
    }
}
