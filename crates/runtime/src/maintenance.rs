//! Azure's planned maintenance of one node of a cache, replayed on the world's clock (so `up
//! --speed N` compresses it and `check`'s manual clock runs it as the timeline advances).
//!
//! Azure Cache for Redis (Azure/AzureCacheForRedis, `AzureRedisEvents.md`, whose walk-through gives
//! the spacing): `NodeMaintenanceScheduled` (start ~13 minutes ahead) → `NodeMaintenanceStarting`
//! 20 s before the start → `NodeMaintenanceStart` at the start → the node goes down 1 s later
//! (the primary: a failover closes every connection; the replica: it restarts) →
//! `NodeMaintenanceFailoverComplete` 10 s after the start (the primary only) →
//! `NodeMaintenanceEnded` 3 minutes after the start. Each subscriber of `AzureRedisEvents` gets
//! the address and ports it reached the cache through.
//!
//! Azure Managed Redis (smart client handoffs, redis-py `maint_notifications`): at the start,
//! `FAILING_OVER` (the primary) or `MIGRATING` (the replica) to the connections that opted in; at
//! the failover the endpoints route to the promoted replica and the connections that did not opt
//! in are closed, while those that did get `MOVING <seq> <time> <endpoint>` and stay served by the
//! old node for [`HANDOFF_GRACE_S`] seconds (or until they left), after which that node follows the
//! new primary (a write sent there in the grace window is not carried over); `FAILED_OVER` or
//! `MIGRATED` follow at failover-complete time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redlink_engine::maint::{Notice, publish_azure_event};
use redlink_engine::{ConnContext, Engine};
use redlink_world::{Cache, Flavour, NodeRole};

use crate::error::RuntimeError;
use crate::events::Event;
use crate::running::{OldPrimary, RunningWorld};

/// When the start is, after the maintenance is scheduled (Azure: 10-15 minutes).
pub const SCHEDULED_AHEAD_MS: u64 = 13 * 60 * 1000;
/// `NodeMaintenanceStarting` this long before the start (Azure: ~20 s).
pub const STARTING_AHEAD_MS: u64 = 20 * 1000;
/// The node goes down this long after `NodeMaintenanceStart` (Azure: < 5 s; the walk-through: 1 s).
pub const DOWN_AFTER_MS: u64 = 1000;
/// `NodeMaintenanceFailoverComplete` this long after the start (the walk-through: 10 s).
pub const FAILOVER_COMPLETE_AFTER_MS: u64 = 10 * 1000;
/// `NodeMaintenanceEnded` this long after the start (the walk-through: 3 minutes).
pub const ENDED_AFTER_MS: u64 = 3 * 60 * 1000;
/// How long a handed-off connection (MOVING) is still served by the old node, in seconds.
pub const HANDOFF_GRACE_S: u64 = 15;

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of a Unix time in milliseconds.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One `AzureRedisEvents` message for a subscriber connected through `ctx`.
pub fn azure_message(
    kind: &str,
    start_ms: Option<u64>,
    is_replica: bool,
    ctx: &ConnContext,
    cache: &Cache,
) -> String {
    let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
    format!(
        "NotificationType|{kind}|StartTimeInUTC|{}|IsReplica|{}|IPAddress|{}|SSLPort|{}|NonSSLPort|{}",
        start_ms.map(utc).unwrap_or_default(),
        if is_replica { "True" } else { "False" },
        ctx.local.ip(),
        port(cache.ports.tls),
        port(cache.ports.plain),
    )
}

/// The endpoint a MOVING names for a connection: by the type it asked for, the address it
/// reached (`*-ip`), the cache's host name (`*-fqdn`) or nothing (`none`: reconnect to the same).
fn moving_endpoint(ctx: &ConnContext, endpoint_type: &str, cache: &Cache) -> Option<String> {
    let port = ctx.local.port();
    match endpoint_type {
        "internal-ip" | "external-ip" => Some(format!("{}:{port}", ctx.local.ip())),
        "internal-fqdn" | "external-fqdn" => Some(format!("{}:{port}", cache.host_name())),
        _ => None,
    }
}

impl RunningWorld {
    /// Runs the maintenance of `cache`'s `node` in the background (the world already marks it
    /// running); its end clears the mark and is announced on the event stream.
    pub(crate) fn start_maintenance(&self, cache: &str, node: NodeRole) {
        let world = self.handle();
        let cache = cache.to_owned();
        // Scheduled now, on the world's clock (not when the task first runs).
        let t0 = self.clock().now_ms();
        self.maintenance_due(&cache, Some(t0));
        tokio::spawn(async move {
            let result = world.run_maintenance(&cache, node, t0).await;
            world.maintenance_due(&cache, None);
            if world.is_stopping() {
                // The world is going away: nothing to update (its edge is closed).
                return;
            }
            let ended = world.update(|w| w.end_maintenance(&cache)).await;
            let event = match (result, ended) {
                (Ok(said), Ok(_)) => Event::change(said, None),
                (Err(e), _) | (Ok(_), Err(e)) => Event::change(
                    format!("maintenance of the {node} node of cache {cache}"),
                    Some(e.to_string()),
                ),
            };
            world.announce_event(event);
        });
    }

    /// Waits on the world's clock until `ms`; `false` when the world is stopping.
    async fn maintenance_wait(&self, cache: &str, ms: u64) -> bool {
        self.maintenance_due(cache, Some(ms));
        tokio::select! {
            () = self.clock().sleep_until(ms) => {}
            () = self.stopped() => return false,
        }
        !self.is_stopping()
    }

    async fn run_maintenance(
        &self,
        cache: &str,
        node: NodeRole,
        t0: u64,
    ) -> Result<String, RuntimeError> {
        let start = t0 + SCHEDULED_AHEAD_MS;
        let replica = node == NodeRole::Replica;
        let model = |w: &RunningWorld| {
            w.world().cache(cache).cloned().ok_or_else(|| {
                RuntimeError::World(redlink_world::WorldError::UnknownCache(cache.to_owned()))
            })
        };
        let managed = model(self)?.flavour == Flavour::ManagedRedis;
        let azure = |engines: Vec<Engine>, kind: &str, at: Option<u64>| {
            let Ok(c) = model(self) else { return };
            let mut told = 0;
            for engine in engines {
                told +=
                    publish_azure_event(&engine, |ctx| azure_message(kind, at, replica, ctx, &c));
            }
            self.announce_event(Event::change(
                format!("cache {cache}: AzureRedisEvents {kind} ({} node) published to {told} subscriber(s)", node),
                None,
            ));
        };
        let push = |engines: Vec<Engine>,
                    notice: &dyn Fn(&ConnContext, &str) -> Notice,
                    name: &str| {
            let mut told = 0;
            for engine in engines {
                told += engine.maint.notify(notice);
            }
            self.announce_event(Event::change(
                format!("cache {cache}: {name} pushed to {told} connection(s) that opted in to maintenance notifications"),
                None,
            ));
        };
        if !managed {
            azure(
                self.node_engines(cache).await,
                "NodeMaintenanceScheduled",
                Some(start),
            );
            if !self
                .maintenance_wait(cache, start - STARTING_AHEAD_MS)
                .await
            {
                return Ok("the world stopped".to_owned());
            }
            azure(
                self.node_engines(cache).await,
                "NodeMaintenanceStarting",
                Some(start),
            );
        }
        if !self.maintenance_wait(cache, start).await {
            return Ok("the world stopped".to_owned());
        }
        if managed {
            if replica {
                push(
                    self.node_engines(cache).await,
                    &|_, _| Notice::Migrating { time: 15 },
                    "MIGRATING",
                );
            } else {
                push(
                    self.node_engines(cache).await,
                    &|_, _| Notice::FailingOver { time: 15 },
                    "FAILING_OVER",
                );
            }
        } else {
            azure(self.node_engines(cache).await, "NodeMaintenanceStart", None);
        }
        if !self.maintenance_wait(cache, start + DOWN_AFTER_MS).await {
            return Ok("the world stopped".to_owned());
        }
        let c = model(self)?;
        let what = match (node, c.nodes.has_replica()) {
            (NodeRole::Replica, _) => {
                self.maintenance_restart_replica(cache).await?;
                "the replica restarted and resynchronised".to_owned()
            }
            (NodeRole::Primary, false) => {
                self.maintenance_restart_single(cache).await?;
                "the only node restarted (connections closed)".to_owned()
            }
            (NodeRole::Primary, true) if managed => {
                let moved = self.maintenance_handoff(cache, &c).await?;
                format!("the replica was promoted; {moved}")
            }
            (NodeRole::Primary, true) => {
                let closed = self.maintenance_failover(cache, &|_| false).await?;
                format!("the replica was promoted and {closed} connection(s) were closed")
            }
        };
        if !self
            .maintenance_wait(cache, start + FAILOVER_COMPLETE_AFTER_MS)
            .await
        {
            return Ok("the world stopped".to_owned());
        }
        match (managed, replica) {
            (true, true) => push(
                self.node_engines(cache).await,
                &|_, _| Notice::Migrated,
                "MIGRATED",
            ),
            (true, false) => push(
                self.node_engines(cache).await,
                &|_, _| Notice::FailedOver,
                "FAILED_OVER",
            ),
            (false, false) => azure(
                self.node_engines(cache).await,
                "NodeMaintenanceFailoverComplete",
                None,
            ),
            (false, true) => {}
        }
        if !self.maintenance_wait(cache, start + ENDED_AFTER_MS).await {
            return Ok("the world stopped".to_owned());
        }
        if !managed {
            azure(
                self.node_engines(cache).await,
                "NodeMaintenanceEnded",
                Some(start + ENDED_AFTER_MS),
            );
        }
        Ok(format!(
            "maintenance of the {node} node of cache {cache} ended: {what}"
        ))
    }

    /// The failover step of a maintenance: the world's roles swap and the engines follow.
    async fn maintenance_failover(
        &self,
        cache: &str,
        keep: &(dyn Fn(SocketAddr) -> bool + Sync),
    ) -> Result<usize, RuntimeError> {
        let mut inner = self.lock_inner().await;
        self.update_nodes_locked(&mut inner, cache).await?;
        self.fail_over(&mut inner, cache, OldPrimary::Follow, keep)
            .await
    }

    /// Azure Managed Redis: promote, hand opted-in connections off with MOVING, hold the old node
    /// for them, then let it follow.
    async fn maintenance_handoff(&self, cache: &str, c: &Cache) -> Result<String, RuntimeError> {
        let old = self.engine(cache).await;
        let handed: Vec<SocketAddr> = old
            .as_ref()
            .map(|e| e.maint.opted_in_peers())
            .unwrap_or_default();
        let closed = {
            let mut inner = self.lock_inner().await;
            self.update_nodes_locked(&mut inner, cache).await?;
            let keep = |peer: SocketAddr| handed.contains(&peer);
            self.fail_over(&mut inner, cache, OldPrimary::Hold, &keep)
                .await?
        };
        let moved = old.as_ref().map_or(0, |e| {
            e.maint.notify(|ctx, t| Notice::Moving {
                time: HANDOFF_GRACE_S,
                endpoint: moving_endpoint(ctx, t, c),
            })
        });
        self.announce_event(Event::change(
            format!("cache {cache}: MOVING pushed to {moved} connection(s); {closed} other connection(s) closed"),
            None,
        ));
        // The old node serves the handed-off connections until they left or the grace ends.
        let until = self.clock().now_ms() + HANDOFF_GRACE_S * 1000;
        if let Some(e) = &old {
            while self.clock().now_ms() < until && !self.is_stopping() {
                let open = e.maint.opted_in_peers().len();
                if open == 0 {
                    break;
                }
                self.maintenance_due(cache, Some(until));
                tokio::select! {
                    () = self.clock().sleep_until(until) => {}
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
        let mut inner = self.lock_inner().await;
        let left = self.release_held(&mut inner, cache).await?;
        Ok(format!(
            "{moved} connection(s) handed off with MOVING, {closed} closed at once, {left} still on the old node closed after the grace"
        ))
    }

    async fn maintenance_restart_replica(&self, cache: &str) -> Result<(), RuntimeError> {
        let mut inner = self.lock_inner().await;
        self.restart_replica(&mut inner, cache).await
    }

    async fn maintenance_restart_single(&self, cache: &str) -> Result<(), RuntimeError> {
        let mut inner = self.lock_inner().await;
        self.restart_engine(&mut inner, cache, None).await
    }
}

/// Which caches have a maintenance step waiting, and for when (see [`RunningWorld::settle`]).
pub(crate) type Due = Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>;

/// Whether any step in `due` is due at `now`.
pub(crate) fn any_due(due: &Due, now: u64) -> bool {
    due.lock()
        .map(|d| d.values().any(|&at| at <= now))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_iso_seconds() {
        assert_eq!(utc(0), "1970-01-01T00:00:00");
        // 2026-12-02T13:52:00Z
        assert_eq!(utc(1_796_219_520_000), "2026-12-02T13:52:00");
    }
}
