//! `/metrics` in Prometheus's text exposition format (version 0.0.4), so a lab can point a real
//! Prometheus (and Grafana) at a world, as production teams watch Azure Monitor's charts:
//!
//! - `redlink_dns_answers_total{network,outcome}`: DNS answers per network by outcome (`private`,
//!   `public`, `other`, `nxdomain`, `nodata`, `refused`), counted from the world's event stream
//!   since the dashboard started.
//! - `redlink_connections_total{cache,endpoint,verdict}`: connections per endpoint by verdict
//!   (`route`, `reset`, `blackhole`, `maxclients`), the world's own counters since it started;
//!   refusals and drops happen in the kernel and are not seen.
//! - per cache, the gauges Azure Monitor charts for Azure Cache for Redis: connected clients,
//!   operations per second (`commands_processed` sampled every second), used memory, cache
//!   hits/misses, evicted keys, errors (error replies), plus `redlink_cache_up`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redlink_runtime::{Event, RunningWorld};
use redlink_world::{AddressOwner, World};

/// Counters the dashboard keeps from the event stream, and the ops/s samples.
#[derive(Clone, Default)]
pub struct Metrics {
    dns: Arc<Mutex<BTreeMap<(String, String), u64>>>,
    ops_per_sec: Arc<Mutex<HashMap<String, u64>>>,
}

/// The per-cache metrics: name, type, help (the order of [`Metrics::render`]'s values).
const GAUGES: &[(&str, &str, &str)] = &[
    (
        "redlink_cache_up",
        "gauge",
        "1 when the cache's engine runs.",
    ),
    (
        "redlink_cache_connected_clients",
        "gauge",
        "Connected clients (Azure Monitor: Connected Clients).",
    ),
    (
        "redlink_cache_operations_per_second",
        "gauge",
        "Commands processed during the last second (Azure Monitor: Operations Per Second).",
    ),
    (
        "redlink_cache_used_memory_bytes",
        "gauge",
        "Used memory (Azure Monitor: Used Memory); every cache of a world shares one process, so this is the process's count.",
    ),
    (
        "redlink_cache_hits_total",
        "counter",
        "Successful key lookups (Azure Monitor: Cache Hits).",
    ),
    (
        "redlink_cache_misses_total",
        "counter",
        "Failed key lookups (Azure Monitor: Cache Misses).",
    ),
    (
        "redlink_cache_evicted_keys_total",
        "counter",
        "Keys evicted by maxmemory (Azure Monitor: Evicted Keys).",
    ),
    (
        "redlink_cache_errors_total",
        "counter",
        "Error replies sent to clients (Azure Monitor: Errors).",
    ),
];

/// One per-cache metric and its samples.
struct Gauge {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, u64)>,
}

/// The outcome label of a DNS answer.
fn dns_outcome(world: &World, answer: &str, addresses: &[std::net::Ipv4Addr]) -> &'static str {
    match answer {
        "NXDOMAIN" => "nxdomain",
        "NODATA" => "nodata",
        "REFUSED" => "refused",
        _ => match addresses.first().and_then(|a| world.address_owner(*a)) {
            Some(AddressOwner::PrivateEndpoint { .. }) => "private",
            Some(AddressOwner::Public { .. }) => "public",
            _ => "other",
        },
    }
}

/// A label value escaped as the format asks (backslash, double quote, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts the world's DNS answers and samples its engines every second, until the world stops
    /// or the returned tasks are aborted (they hold the world weakly, upgrading it only briefly).
    pub fn follow(&self, world: &Arc<RunningWorld>) -> Vec<tokio::task::JoinHandle<()>> {
        let dns = self.dns.clone();
        let mut events = world.events();
        let w = Arc::downgrade(world);
        let counting = tokio::spawn(async move {
            while let Some(e) = events.next().await {
                if let Event::Dns {
                    network,
                    answer,
                    addresses,
                    ..
                } = e
                {
                    let Some(world) = w.upgrade() else { return };
                    let outcome = dns_outcome(&world.world(), &answer, &addresses);
                    drop(world);
                    if let Ok(mut m) = dns.lock() {
                        *m.entry((network, outcome.to_owned())).or_default() += 1;
                    }
                }
            }
        });
        let ops = self.ops_per_sec.clone();
        let weak = Arc::downgrade(world);
        let sampling = tokio::spawn(async move {
            let mut last: HashMap<String, u64> = HashMap::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(world) = weak.upgrade() else { return };
                let mut now = HashMap::new();
                for c in &world.world().caches {
                    if let Some(engine) = world.engine(&c.name).await {
                        now.insert(
                            c.name.clone(),
                            engine.stats.commands_processed.load(Ordering::Relaxed),
                        );
                    }
                }
                drop(world);
                if let Ok(mut o) = ops.lock() {
                    *o = now
                        .iter()
                        .map(|(c, n)| (c.clone(), n.saturating_sub(*last.get(c).unwrap_or(n))))
                        .collect();
                }
                last = now;
            }
        });
        vec![counting, sampling]
    }

    /// The exposition text.
    pub async fn render(&self, world: &RunningWorld) -> String {
        let mut out = String::new();
        let w = world.world();
        let _ = writeln!(
            out,
            "# HELP redlink_dns_answers_total DNS answers of each network's resolver, by outcome (private, public, other, nxdomain, nodata, refused)."
        );
        let _ = writeln!(out, "# TYPE redlink_dns_answers_total counter");
        if let Ok(m) = self.dns.lock() {
            for ((network, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "redlink_dns_answers_total{{network=\"{}\",outcome=\"{}\"}} {n}",
                    label(network),
                    label(outcome)
                );
            }
        }

        let _ = writeln!(
            out,
            "# HELP redlink_connections_total Connections accepted at each endpoint, by verdict (route, reset, blackhole, maxclients); refusals and drops happen in the kernel and are not counted."
        );
        let _ = writeln!(out, "# TYPE redlink_connections_total counter");
        let counts = world.connection_counts();
        for c in &w.caches {
            let mut endpoints = vec![("public".to_owned(), c.public_address)];
            endpoints.extend(w.endpoints_of(&c.name).map(|e| (e.name.clone(), e.address)));
            for (endpoint, address) in endpoints {
                let Some(by_verdict) = counts.get(&address.to_string()) else {
                    continue;
                };
                for (verdict, n) in by_verdict {
                    let _ = writeln!(
                        out,
                        "redlink_connections_total{{cache=\"{}\",endpoint=\"{}\",verdict=\"{}\"}} {n}",
                        label(&c.name),
                        label(&endpoint),
                        label(verdict)
                    );
                }
            }
        }

        let ops = self
            .ops_per_sec
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default();
        let used = redlink_engine::alloc::used_memory();
        let mut gauges: Vec<Gauge> = GAUGES
            .iter()
            .map(|&(name, kind, help)| Gauge {
                name,
                kind,
                help,
                samples: Vec::new(),
            })
            .collect();
        for c in &w.caches {
            let engine = world
                .engine(&c.name)
                .await
                .filter(|e| !e.is_shutting_down());
            let up = u64::from(c.running && engine.is_some());
            gauges[0].samples.push((c.name.clone(), up));
            let Some(e) = engine else { continue };
            let s = &e.stats;
            let values = [
                e.clients.count() as u64,
                ops.get(&c.name).copied().unwrap_or(0),
                used,
                s.keyspace_hits.load(Ordering::Relaxed),
                s.keyspace_misses.load(Ordering::Relaxed),
                s.evicted_keys.load(Ordering::Relaxed),
                s.error_replies.load(Ordering::Relaxed),
            ];
            for (g, v) in gauges.iter_mut().skip(1).zip(values) {
                g.samples.push((c.name.clone(), v));
            }
        }
        for g in gauges {
            let _ = writeln!(out, "# HELP {} {}", g.name, g.help);
            let _ = writeln!(out, "# TYPE {} {}", g.name, g.kind);
            for (cache, v) in g.samples {
                let _ = writeln!(out, "{}{{cache=\"{}\"}} {v}", g.name, label(&cache));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
