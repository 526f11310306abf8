//! A shard's failover: its replica becomes the primary, as `CLUSTER FAILOVER [FORCE|TAKEOVER]`
//! on a redis-server 7.0 replica does it. The default (manual) failover pauses writes on the
//! primary, waits until the replica has everything the primary wrote (at most
//! [`MANUAL_TIMEOUT`], Redis's `CLUSTER_MF_TIMEOUT`; past it nothing changes, as in Redis), then
//! switches; `FORCE` and `TAKEOVER` switch at once, without the primary's agreement (writes not
//! yet replicated are lost, the lesson they teach). The switch: the topology hands the slots to
//! the replica with a new config epoch ([`ClusterTopology::swap_roles`]), so clients get
//! `-MOVED` to the new primary; the replica's engine is promoted (PSYNC2: the old primary can
//! resynchronise partially); the old primary and the shard's other replicas follow it
//! ([`ClusterTopology::follow`]); the old primary's blocked clients get Redis's `-UNBLOCKED`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::ClusterTopology;

/// How long a manual failover waits for the replica to catch up (Redis's `CLUSTER_MF_TIMEOUT`).
pub const MANUAL_TIMEOUT: Duration = Duration::from_millis(5000);

/// `CLUSTER FAILOVER`'s option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No option: wait for the replica to catch up with the paused primary.
    Manual,
    /// `FORCE`: switch without the primary's agreement.
    Force,
    /// `TAKEOVER`: switch without the cluster's agreement either (the same here: there is no vote).
    Takeover,
}

/// Redis's refusal on a primary.
pub const NOT_A_REPLICA: &str = "ERR You should send CLUSTER FAILOVER to a replica";
/// Redis's refusal when the primary is down and the failover is not forced.
pub const MASTER_DOWN: &str = "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE";

/// Checks `CLUSTER FAILOVER` on node `replica` (Redis's preconditions and texts); `Ok` when the
/// failover may start.
pub fn check(
    topology: &ClusterTopology,
    replica: usize,
    mode: Mode,
) -> Result<usize, &'static str> {
    let Some(primary) = topology.primary_of(replica) else {
        return Err(NOT_A_REPLICA);
    };
    if mode == Mode::Manual && topology.engine(primary).is_none() {
        return Err(MASTER_DOWN);
    }
    Ok(primary)
}

/// Fails shard of node `replica` over to it (blocking: run it off the async workers). Returns the
/// old primary, or why nothing changed.
pub fn fail_over(
    topology: &Arc<ClusterTopology>,
    replica: usize,
    mode: Mode,
) -> Result<usize, String> {
    let primary = check(topology, replica, mode).map_err(str::to_owned)?;
    let new = topology
        .engine(replica)
        .ok_or_else(|| format!("node {replica} is not running"))?;
    let old = topology.engine(primary);
    if mode == Mode::Manual
        && let Some(old) = &old
    {
        // Writes wait on the primary while the replica catches up (Redis pauses them for
        // CLUSTER_MF_TIMEOUT * CLUSTER_MF_PAUSE_MULT).
        let clock = old.clock();
        let until = clock.now_ms() + 2 * MANUAL_TIMEOUT.as_millis() as u64;
        old.pause.writes_only.store(true, Ordering::Release);
        old.pause.until_ms.store(until, Ordering::Release);
        let target = old.repl_offset();
        let deadline = Instant::now() + MANUAL_TIMEOUT;
        while new.repl_offset() < target {
            if Instant::now() >= deadline {
                unpause(old);
                return Err(format!(
                    "Manual failover timed out: the replica reached offset {} of {target}",
                    new.repl_offset()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let old_primary = topology.swap_roles(replica)?;
    new.promote();
    let mut result = Ok(old_primary);
    if let Some(old) = &old {
        if let Err(e) = topology.follow(old, old_primary, replica) {
            result = Err(format!("the old primary cannot follow the new one: {e}"));
        }
        unpause(old);
    }
    for other in topology.replicas_of(replica) {
        if other == old_primary {
            continue;
        }
        if let Some(engine) = topology.engine(other)
            && let Err(e) = topology.follow(&engine, other, replica)
        {
            result = Err(format!(
                "replica {other} cannot follow the new primary: {e}"
            ));
        }
    }
    topology.slots_changed();
    result
}

fn unpause(engine: &crate::Engine) {
    engine.pause.until_ms.store(0, Ordering::Release);
    engine.pause.ended.notify_waiters();
}
