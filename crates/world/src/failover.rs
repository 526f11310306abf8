//! What failovers, node reboots and planned maintenance change in the world: which node is primary,
//! whether a maintenance runs, the replication link. Each refuses with Azure's reason when the
//! cache cannot do it (one node, stopped, a maintenance already running), changing nothing; the
//! runtime does the engines' part (promotion, connections closed, restarts).

use crate::error::WorldError;
use crate::model::{Cache, World};
use crate::nodes::{NodeRole, ReplicationLink};

/// What a cache is, for messages: `Basic`, `Standard`, or `managed-redis without high availability`.
fn tier(c: &Cache) -> String {
    match c.flavour {
        crate::flavour::Flavour::ManagedRedis if c.nodes.has_replica() => {
            "managed-redis (highly available)".to_owned()
        }
        crate::flavour::Flavour::ManagedRedis => {
            "managed-redis without high availability".to_owned()
        }
        crate::flavour::Flavour::RedisCache => c.sku.as_str().to_owned(),
    }
}

impl World {
    fn node_cache(&mut self, cache: &str) -> Result<&mut Cache, WorldError> {
        self.caches
            .iter_mut()
            .find(|c| c.name == cache)
            .ok_or_else(|| WorldError::UnknownCache(cache.to_owned()))
    }

    /// Refuses unless `cache` has a replica, runs, and no maintenance runs on it; `what` says
    /// what was asked (`a failover`, `a reboot of the primary node`).
    pub fn check_replicated(&self, cache: &str, what: &str) -> Result<(), WorldError> {
        let c = self
            .cache(cache)
            .ok_or_else(|| WorldError::UnknownCache(cache.to_owned()))?;
        if !c.nodes.has_replica() {
            return Err(WorldError::Invalid(format!(
                "cache {cache} is {} (one node, no replica): {what} needs a replica (sku = \"Standard\" or \"Premium\"; managed-redis with high availability)",
                tier(c)
            )));
        }
        if !c.running {
            return Err(WorldError::Invalid(format!(
                "cache {cache} is stopped: {what} needs its nodes running (start it first)"
            )));
        }
        if let Some(node) = c.maintenance {
            return Err(WorldError::Invalid(format!(
                "cache {cache}: a maintenance of its {node} node is running; {what} waits until it ends"
            )));
        }
        Ok(())
    }

    /// The replica becomes the primary (and the old primary its replica). Returns the new
    /// primary's node index.
    pub fn failover(&mut self, cache: &str) -> Result<u8, WorldError> {
        self.check_replicated(cache, "a failover")?;
        self.promote_replica(cache)
    }

    /// The replica becomes the primary without the checks of [`World::failover`]: the step of a
    /// maintenance that is already running. Returns the new primary's node index.
    pub fn promote_replica(&mut self, cache: &str) -> Result<u8, WorldError> {
        let c = self.node_cache(cache)?;
        if !c.nodes.has_replica() {
            let t = tier(c);
            return Err(WorldError::Invalid(format!(
                "cache {cache} is {t} (one node, no replica): there is no replica to promote"
            )));
        }
        c.nodes = c.nodes.swapped();
        Ok(c.nodes.primary)
    }

    /// Marks a planned maintenance of `node` running on `cache` (refused while one runs).
    pub fn begin_maintenance(&mut self, cache: &str, node: NodeRole) -> Result<(), WorldError> {
        let c = self
            .cache(cache)
            .ok_or_else(|| WorldError::UnknownCache(cache.to_owned()))?;
        if let Some(running) = c.maintenance {
            return Err(WorldError::Invalid(format!(
                "cache {cache}: a maintenance of its {running} node is already running; one maintenance at a time"
            )));
        }
        if !c.running {
            return Err(WorldError::Invalid(format!(
                "cache {cache} is stopped: there is no node to maintain (start it first)"
            )));
        }
        if node == NodeRole::Replica && !c.nodes.has_replica() {
            return Err(WorldError::Invalid(format!(
                "cache {cache} is {} (one node, no replica): there is no replica node to maintain",
                tier(c)
            )));
        }
        self.node_cache(cache)?.maintenance = Some(node);
        Ok(())
    }

    /// Ends the maintenance running on `cache` (if any); returns the node it maintained.
    pub fn end_maintenance(&mut self, cache: &str) -> Result<Option<NodeRole>, WorldError> {
        Ok(self.node_cache(cache)?.maintenance.take())
    }

    /// Sets the primary → replica link of `cache` (refused for a single-node cache).
    pub fn set_replication(
        &mut self,
        cache: &str,
        link: ReplicationLink,
    ) -> Result<ReplicationLink, WorldError> {
        let c = self.node_cache(cache)?;
        if !c.nodes.has_replica() {
            let t = tier(c);
            return Err(WorldError::Invalid(format!(
                "cache {cache} is {t} (one node, no replica): it has no replication link"
            )));
        }
        Ok(std::mem::replace(&mut c.replication, link))
    }
}
