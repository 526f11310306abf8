//! A running world: the world in a `watch` channel (the DNS views read it at each query), an engine
//! per cache, the edge, and the state file. [`RunningWorld::update`] is the one way to change it.
//!
//! The world stays truthful about its engines: clients cannot stop one (Azure's disabled commands,
//! see `engines`), but should an engine stop anyway, [`RunningWorld::reconcile`] (run by
//! [`RunningWorld::watch_engines`], and before every change and `state()`) marks its cache stopped
//! (the edge refuses, the state file and `WORLD.STATE` say `running: false`, an event says why), and
//! starting the cache again gives it a fresh engine, as a rebooted Azure cache comes back empty.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redlink_dns::DnsViews;
use redlink_edge::{BackendLink, ClusterRoute, ConnectionEvents, Edge, PortStatus};
use redlink_engine::Engine;
use redlink_world::{AddressPlan, Change, Scenario, World, WorldError};
use tokio::sync::{Mutex, Notify, broadcast, watch};
use tracing::debug;

use crate::backend_cluster::ClusterHealth;
use crate::backends::{RunningBackend, start_backend};
use crate::block::BlockLock;
use crate::certs::WorldCa;
use crate::cluster::CacheCluster;
use crate::data::DataDirs;
use crate::direct::DirectListener;
use crate::engines::start_engine;
use crate::error::RuntimeError;
use crate::events::{CHANGE_EVENT_CAPACITY, Event, EventStream};
use crate::options::{CURRENT_POINTER, UpOptions, default_state_path};
use crate::replicas::{LinkProxy, Replica, follow};
use crate::resolvers::start_resolvers;
use crate::state::{StateFile, StateFiles, Whereabouts, ca_path_for, write_atomically};
use redlink_clock::Clock;
use redlink_world::{QueryType, Resolution};

/// How often [`RunningWorld::watch_engines`] checks that each backend answers.
pub const HEALTH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// How many address blocks with a taken address are skipped before giving up.
const MAX_CONFLICTS: usize = 16;

/// What changes together, under one lock.
pub(crate) struct Inner {
    edge: Edge,
    /// Each cache's primary engine (the one its endpoints route to).
    engines: HashMap<String, Engine>,
    /// The replicas of caches that have one (see `replicas`).
    replicas: HashMap<String, Replica>,
    /// Clustered caches' nodes (their node 0 is also in `engines`).
    clusters: HashMap<String, CacheCluster>,
    state: StateFile,
}

/// A world that is up: resolvers answer, endpoints route or refuse, the state file is written.
/// A cheap handle on the shared `Core`, so work that outlives one call (a planned maintenance's
/// notifications and failover, see `maintenance`) can hold the world.
pub struct RunningWorld {
    core: Arc<Core>,
}

impl std::ops::Deref for RunningWorld {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

/// What a [`RunningWorld`] is made of.
pub struct Core {
    world: watch::Sender<Arc<World>>,
    inner: Mutex<Inner>,
    dns: std::sync::Mutex<Option<DnsViews>>,
    resolvers: Vec<(String, SocketAddr)>,
    notes: Vec<String>,
    ca: WorldCa,
    files: StateFiles,
    scenario: String,
    lock: BlockLock,
    direct: Vec<(String, SocketAddr)>,
    direct_listeners: Vec<(String, DirectListener)>,
    /// The persisted caches' data directories (removed with the world).
    data: Option<DataDirs>,
    changes: broadcast::Sender<Event>,
    counts: crate::events::ConnectionCounts,
    edge_events: ConnectionEvents,
    /// Signalled when any engine stops (see [`RunningWorld::watch_engines`]).
    engine_stopped: Arc<Notify>,
    /// Released by [`RunningWorld::next_step`] (`up --step`: Enter, `ctl next`).
    step_gate: Notify,
    /// Whether refusals and drops are observed (see `kernel`), and the watcher doing it.
    kernel_evidence: crate::kernel::KernelEvidence,
    _kernel_watch: Option<crate::kernel::KernelWatch>,
    /// Set once [`RunningWorld::shutdown`] begins: engines stopping then are expected.
    stopping: AtomicBool,
    /// The world's one clock (DNS caches, the timeline).
    clock: Clock,
    /// Maintenance steps waiting, per cache (see `maintenance`).
    maint_due: crate::maintenance::Due,
    /// Woken when a maintenance makes progress.
    maint_progress: Notify,
    /// The lab's latest score as JSON (see [`RunningWorld::set_lab_status`]).
    lab: std::sync::Mutex<Option<String>>,
    /// The caches' backends (those redlink started stop when this drops).
    backends: Vec<RunningBackend>,
    /// Where each cache's backend listens (for the state file).
    backend_addrs: Vec<(String, SocketAddr)>,
}

/// Signals `notify` when `engine` stops, whoever stopped it.
fn watch_engine(engine: &Engine, notify: &Arc<Notify>) {
    let mut stopped = engine.shutdown_receiver();
    let notify = notify.clone();
    tokio::spawn(async move {
        if stopped.wait_for(|s| *s).await.is_ok() {
            notify.notify_one();
        }
    });
}

/// What a failover does with the old primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OldPrimary {
    /// It follows the new primary at once (a failover).
    Follow,
    /// It restarts empty, then follows (a reboot of the primary node).
    Restart,
    /// It keeps serving the connections handed off to the new primary until
    /// [`RunningWorld::release_held`] (a managed-redis maintenance).
    Hold,
}

/// Whether `cache` runs a replica: it has one in the world and no backend stands in for it.
fn wants_replica(cache: &redlink_world::Cache, backends: &[(String, SocketAddr)]) -> bool {
    // A clustered cache's replicas are nodes of its cluster (cluster.rs).
    cache.nodes.has_replica()
        && (cache.node_count() == 0 || cache.shard_copies() == 1)
        && !backends.iter().any(|(c, _)| *c == cache.name)
}

/// An engine for a replica node of `cache`: the cache's settings without its data directory.
fn replica_engine(
    cache: &redlink_world::Cache,
    ca: &WorldCa,
    clock: &redlink_clock::Clock,
) -> Result<Engine, RuntimeError> {
    start_engine(cache, ca, None, None, clock)
}

/// Starts `cache`'s replica: an engine that follows `primary` through a new link.
async fn start_replica(
    cache: &redlink_world::Cache,
    ca: &WorldCa,
    primary: &Engine,
    clock: &redlink_clock::Clock,
) -> Result<Replica, RuntimeError> {
    let engine = replica_engine(cache, ca, clock)?;
    let error = |message: String| RuntimeError::Replica {
        cache: cache.name.clone(),
        message,
    };
    let link = match LinkProxy::open(primary.clone(), cache.replication).await {
        Ok(l) => l,
        Err(e) => {
            engine.shutdown();
            return Err(error(format!("the replication link cannot listen: {e}")));
        }
    };
    if let Err(e) = follow(&engine, &link) {
        engine.shutdown();
        return Err(error(e));
    }
    Ok(Replica { engine, link })
}

/// The addresses a scenario pins (a conflict on one of them is not solved by another block).
fn pinned_addresses(scenario: &Scenario) -> HashSet<Ipv4Addr> {
    let s = &scenario.spec;
    let mut out = HashSet::new();
    for n in &s.networks {
        out.extend(n.resolver_address.iter().map(|a| *a.get_ref()));
        out.extend(n.client_address.iter().map(|a| *a.get_ref()));
    }
    out.extend(
        s.caches
            .iter()
            .filter_map(|c| c.public_address.as_ref())
            .map(|a| *a.get_ref()),
    );
    out.extend(
        s.private_endpoints
            .iter()
            .filter_map(|e| e.address.as_ref())
            .map(|a| *a.get_ref()),
    );
    out
}

impl RunningWorld {
    /// Builds the world of `scenario` in the first free address block (or `options.block`), starts
    /// its engines, endpoints and resolvers, and writes the state file. Nothing is left running on
    /// error. A scenario error (exhausted address plan…) is [`RuntimeError::Scenario`].
    pub async fn start(
        scenario: &Scenario,
        options: UpOptions,
    ) -> Result<RunningWorld, RuntimeError> {
        let pinned = pinned_addresses(scenario);
        let blocks: Vec<u8> = match options.block {
            Some(b) => vec![b],
            None => (0..AddressPlan::BLOCKS).collect(),
        };
        let mut last_conflict = None;
        let mut conflicts = 0;
        for b in blocks {
            let Some(plan) = AddressPlan::block(b) else {
                return Err(RuntimeError::Block {
                    block: b,
                    reason: format!("no such block (there are {})", AddressPlan::BLOCKS),
                });
            };
            let lock = match BlockLock::try_claim(b) {
                Ok(Some(lock)) => lock,
                Ok(None) if options.block.is_some() => {
                    return Err(RuntimeError::Block {
                        block: b,
                        reason: "another world on this machine uses it".to_owned(),
                    });
                }
                Ok(None) => continue,
                Err(e) => {
                    return Err(RuntimeError::Block {
                        block: b,
                        reason: format!("cannot claim it: {e}"),
                    });
                }
            };
            let mut world = World::build(scenario, &plan)?;
            if let Some(host) = &options.host {
                world.host = host.clone();
            }
            match Self::bring_up(scenario, world, lock, &options).await {
                Ok(running) => return Ok(running),
                Err(e) => match e.address_in_use() {
                    // A few blocks in a row with a taken address: more likely a wildcard listener
                    // (0.0.0.0:6379) than other worlds, and no block will do.
                    Some(IpAddr::V4(a))
                        if options.block.is_none()
                            && !pinned.contains(&a)
                            && plan.contains(a)
                            && conflicts < MAX_CONFLICTS =>
                    {
                        debug!("address block {b} is partly taken ({e}); trying the next one");
                        conflicts += 1;
                        last_conflict = Some(e);
                    }
                    _ => return Err(e),
                },
            }
        }
        Err(last_conflict.unwrap_or(RuntimeError::NoFreeBlock(AddressPlan::BLOCKS)))
    }

    async fn bring_up(
        scenario: &Scenario,
        mut world: World,
        lock: BlockLock,
        options: &UpOptions,
    ) -> Result<RunningWorld, RuntimeError> {
        let name = world.name.clone().unwrap_or_else(|| {
            Path::new(scenario.file())
                .file_stem()
                .map_or_else(|| "world".to_owned(), |s| s.to_string_lossy().into_owned())
        });
        let ca = WorldCa::generate(&name)?;
        let default_path = options.state_file.is_none();
        let state_path = options
            .state_file
            .clone()
            .unwrap_or_else(|| default_state_path(&name, std::process::id()));
        let data = DataDirs::create(&state_path, &world).map_err(RuntimeError::DataDir)?;
        let mut engines = HashMap::new();
        let mut clusters: HashMap<String, CacheCluster> = HashMap::new();
        for cache in &world.caches {
            let dir = data.as_ref().and_then(|d| d.dir(&cache.name));
            // A cluster backend's nodes are the backend's: no embedded node engines for them.
            let started = if cache.node_count() > 0 && !cache.has_cluster_backend() {
                CacheCluster::start(cache, &ca, &options.clock).map(|c| {
                    let first = c.nodes[0].clone();
                    clusters.insert(cache.name.clone(), c);
                    first
                })
            } else {
                start_engine(cache, &ca, dir.as_deref(), None, &options.clock)
            };
            match started {
                Ok(engine) => {
                    engines.insert(cache.name.clone(), engine);
                }
                Err(e) => {
                    engines.values().for_each(Engine::shutdown);
                    clusters.values().for_each(CacheCluster::shutdown);
                    return Err(e);
                }
            }
        }
        let stop_engines = |engines: &HashMap<String, Engine>| {
            engines.values().for_each(Engine::shutdown);
            clusters.values().for_each(CacheCluster::shutdown);
        };
        let mut backends = Vec::new();
        let mut backend_links = Vec::new();
        let mut backend_notes = Vec::new();
        for cache in &world.caches {
            let Some(backend) = options.backend.as_ref().or(cache.backend.as_ref()) else {
                continue;
            };
            let file = Path::new(scenario.file());
            let base_dir = file.is_file().then(|| file.parent()).flatten();
            let started = match start_backend(cache, backend, base_dir, &mut backend_notes).await {
                Ok(b) => b,
                Err(e) => {
                    stop_engines(&engines);
                    return Err(e);
                }
            };
            let tls = match ca.server_config(cache) {
                Ok(c) => c,
                Err(e) => {
                    stop_engines(&engines);
                    return Err(e);
                }
            };
            backend_links.push((
                cache.name.clone(),
                BackendLink {
                    address: started.address,
                    tls: Some(tls),
                    upstream_tls: started.tls.clone(),
                    cluster: started
                        .cluster
                        .as_ref()
                        .map(|c| ClusterRoute::new(c.table.clone())),
                    socket: started.socket.clone(),
                },
            ));
            backends.push(started);
        }

        // A cluster backend's nodes get their per-node ports from the start.
        for backend in &backends {
            if let Some(cluster) = &backend.cluster {
                let nodes = cluster.table.nodes().iter().map(|n| n.number + 1).max();
                let nodes = nodes.unwrap_or(0).min(
                    world
                        .cache(&backend.cache)
                        .map_or(0, |c| c.port_scheme().max_nodes()),
                );
                if let Err(e) = world.set_backend_nodes(&backend.cache, nodes, Default::default()) {
                    stop_engines(&engines);
                    return Err(e.into());
                }
            }
        }
        let (tx, rx) = watch::channel(Arc::new(world));
        let (dns, mut notes) = match start_resolvers(rx, options.dns_port, &options.clock).await {
            Ok(started) => started,
            Err(e) => {
                stop_engines(&engines);
                return Err(e.into());
            }
        };
        notes.extend(backend_notes);
        let backend_addrs: Vec<(String, SocketAddr)> = backend_links
            .iter()
            .map(|(cache, link)| (cache.clone(), link.address))
            .collect();
        let mut edge = Edge::new();
        for (cache, link) in backend_links {
            edge.set_backend(&cache, link);
        }
        for (cache, cluster) in &clusters {
            edge.set_cluster_nodes(cache, cluster.nodes.clone());
        }
        let current = tx.borrow().clone();
        if let Err(e) = edge.apply(&current, &engines).await {
            edge.shutdown().await;
            let _ = dns.shutdown().await;
            stop_engines(&engines);
            return Err(e.into());
        }

        let mut replicas = HashMap::new();
        for cache in current
            .caches
            .iter()
            .filter(|c| wants_replica(c, &backend_addrs))
        {
            let Some(primary) = engines.get(&cache.name) else {
                continue;
            };
            match start_replica(cache, &ca, primary, &options.clock).await {
                Ok(r) => {
                    replicas.insert(cache.name.clone(), r);
                }
                Err(e) => {
                    edge.shutdown().await;
                    let _ = dns.shutdown().await;
                    stop_engines(&engines);
                    replicas
                        .values()
                        .for_each(|r: &Replica| r.engine.shutdown());
                    return Err(e);
                }
            }
        }
        let mut direct_listeners = Vec::new();
        if options.direct_engines {
            for (cache, engine) in &engines {
                match DirectListener::open(engine.clone()).await {
                    Ok(l) => direct_listeners.push((cache.clone(), l)),
                    Err(e) => notes.push(format!("cache {cache}: no direct engine port: {e}")),
                }
            }
        }
        let direct: Vec<(String, SocketAddr)> = direct_listeners
            .iter()
            .map(|(c, l)| (c.clone(), l.addr()))
            .collect();
        let files = StateFiles {
            ca: ca_path_for(&state_path),
            pointer: default_path.then(|| state_path.with_file_name(CURRENT_POINTER)),
            state: state_path,
        };
        let resolvers = dns.local_addrs();
        let mut state = StateFile::describe(
            &current,
            &Whereabouts {
                ca: &files.ca,
                resolvers: &resolvers,
                ports: &edge.status(),
                scenario: scenario.file(),
                block: lock.block(),
                direct: &direct,
                backends: &backend_addrs,
            },
        );
        state.control = options.control.map(|a| a.to_string());
        // Before the first write: refusals and drops published as events where observable.
        let (kernel_watch, kernel_evidence) = crate::kernel::watch(tx.subscribe(), edge.events());
        state.kernel_evidence = Some(kernel_evidence.describe());
        state.control_password = options.control.and(options.control_password.clone());
        let written = write_atomically(&files.ca, ca.cert_pem().as_bytes(), 0o644)
            .and_then(|()| files.write(&state));
        if let Err(e) = written {
            edge.shutdown().await;
            let _ = dns.shutdown().await;
            stop_engines(&engines);
            return Err(e);
        }
        files.write_pointer();
        let edge_events = edge.events();
        let changes = broadcast::channel(CHANGE_EVENT_CAPACITY).0;
        for (cache, engine) in &engines {
            crate::events::forward_engine_events(cache, engine, changes.clone());
        }
        for (cache, r) in &replicas {
            crate::events::forward_engine_events(cache, &r.engine, changes.clone());
        }
        for (cache, cluster) in &clusters {
            for engine in cluster.nodes.iter().skip(1) {
                crate::events::forward_engine_events(cache, engine, changes.clone());
            }
        }
        let engine_stopped = Arc::new(Notify::new());
        for engine in engines.values() {
            watch_engine(engine, &engine_stopped);
        }
        let counts = crate::events::ConnectionCounts::default();
        counts.follow(EventStream {
            notice: None,
            dns: None,
            edge: Some(edge_events.subscribe()),
            changes: changes.subscribe(),
            lost: 0,
        });
        Ok(RunningWorld {
            core: Arc::new(Core {
                world: tx,
                inner: Mutex::new(Inner {
                    edge,
                    engines,
                    replicas,
                    clusters,
                    state,
                }),
                dns: std::sync::Mutex::new(Some(dns)),
                resolvers,
                notes,
                ca,
                files,
                scenario: scenario.file().to_owned(),
                lock,
                direct,
                direct_listeners,
                data,
                changes,
                edge_events,
                counts,
                engine_stopped,
                step_gate: Notify::new(),
                kernel_evidence,
                _kernel_watch: kernel_watch,
                stopping: AtomicBool::new(false),
                clock: options.clock.clone(),
                maint_due: crate::maintenance::Due::default(),
                maint_progress: Notify::new(),
                lab: std::sync::Mutex::new(None),
                backends,
                backend_addrs,
            }),
        })
    }

    /// Another handle on the same world (for work that outlives a call).
    pub(crate) fn handle(&self) -> RunningWorld {
        RunningWorld {
            core: self.core.clone(),
        }
    }

    /// The world as it is now.
    pub fn world(&self) -> Arc<World> {
        self.world.borrow().clone()
    }

    /// A receiver that sees every change of the world.
    pub fn subscribe(&self) -> watch::Receiver<Arc<World>> {
        self.world.subscribe()
    }

    /// Changes the world with `change` (which either applies completely or returns an error and
    /// changes nothing), then publishes it: DNS answers follow at once, and when this returns the
    /// endpoints route or refuse as the new world says and the state file is rewritten. Changes are
    /// applied one at a time.
    pub async fn update<T>(
        &self,
        change: impl FnOnce(&mut World) -> Result<T, WorldError>,
    ) -> Result<T, RuntimeError> {
        let mut inner = self.inner.lock().await;
        self.reconcile_locked(&mut inner).await?;
        self.update_locked(&mut inner, change).await
    }

    async fn update_locked<T>(
        &self,
        inner: &mut Inner,
        change: impl FnOnce(&mut World) -> Result<T, WorldError>,
    ) -> Result<T, RuntimeError> {
        let mut next = World::clone(&self.world.borrow());
        let out = change(&mut next)?;
        let next = Arc::new(next);
        // Caches added by the change get an engine; removed ones stop theirs; a running cache whose
        // engine stopped (see `reconcile`) gets a fresh one.
        for cache in &next.caches {
            let alive = inner
                .engines
                .get(&cache.name)
                .is_some_and(|e| !e.is_shutting_down());
            if !alive && (cache.running || !inner.engines.contains_key(&cache.name)) {
                let engine = if cache.node_count() > 0 && !cache.has_cluster_backend() {
                    // A clustered cache whose node 0 stopped (or a new one): a fresh cluster.
                    let cluster = CacheCluster::start(cache, &self.ca, &self.clock)?;
                    for engine in &cluster.nodes {
                        watch_engine(engine, &self.engine_stopped);
                        crate::events::forward_engine_events(
                            &cache.name,
                            engine,
                            self.changes.clone(),
                        );
                    }
                    inner
                        .edge
                        .set_cluster_nodes(&cache.name, cluster.nodes.clone());
                    let first = cluster.nodes[0].clone();
                    if let Some(old) = inner.clusters.insert(cache.name.clone(), cluster) {
                        old.shutdown();
                    }
                    first
                } else {
                    self.new_engine(cache, None)?
                };
                inner.engines.insert(cache.name.clone(), engine);
            }
        }
        let removed: Vec<String> = inner
            .engines
            .keys()
            .filter(|k| next.cache(k).is_none())
            .cloned()
            .collect();
        self.world.send_replace(next.clone());
        let Inner { edge, engines, .. } = &mut *inner;
        let applied = edge.apply(&next, engines).await;
        for name in removed {
            if let Some(engine) = inner.engines.remove(&name) {
                engine.shutdown();
            }
            if let Some(cluster) = inner.clusters.remove(&name) {
                cluster.shutdown();
                inner.edge.set_cluster_nodes(&name, Vec::new());
            }
        }
        let replicas = self.sync_replicas(inner, &next).await;
        let control = inner.state.control.take();
        let control_password = inner.state.control_password.take();
        inner.state = StateFile::describe(
            &next,
            &Whereabouts {
                ca: &self.files.ca,
                resolvers: &self.resolvers,
                ports: &inner.edge.status(),
                scenario: &self.scenario,
                block: self.lock.block(),
                direct: &self.direct,
                backends: &self.backend_addrs,
            },
        );
        inner.state.control = control;
        inner.state.control_password = control_password;
        inner.state.kernel_evidence = Some(self.kernel_evidence.describe());
        self.files.write(&inner.state)?;
        applied?;
        replicas?;
        Ok(out)
    }

    /// Brings the replicas in line with `world`: a replicated cache gets a replica (a new one if
    /// its engine stopped), following its primary through a link with the world's setting; a cache
    /// that lost its replica (or the world) stops it.
    async fn sync_replicas(&self, inner: &mut Inner, world: &World) -> Result<(), RuntimeError> {
        let gone: Vec<String> = inner
            .replicas
            .keys()
            .filter(|c| {
                world
                    .cache(c)
                    .is_none_or(|c| !wants_replica(c, &self.backend_addrs))
            })
            .cloned()
            .collect();
        for name in gone {
            if let Some(r) = inner.replicas.remove(&name) {
                r.engine.shutdown();
            }
        }
        for cache in &world.caches {
            if let Some(cluster) = inner.clusters.get(&cache.name) {
                cluster.links.set(cache.replication);
            }
        }
        for cache in world
            .caches
            .iter()
            .filter(|c| wants_replica(c, &self.backend_addrs))
        {
            let Some(primary) = inner.engines.get(&cache.name).cloned() else {
                continue;
            };
            match inner.replicas.get(&cache.name) {
                Some(r) if !r.engine.is_shutting_down() => {
                    r.link.set(cache.replication);
                    if r.link.primary_run_id() != primary.run_id {
                        r.link.retarget(primary);
                    }
                }
                _ => {
                    let r = start_replica(cache, &self.ca, &primary, &self.clock).await?;
                    watch_engine(&r.engine, &self.engine_stopped);
                    crate::events::forward_engine_events(
                        &cache.name,
                        &r.engine,
                        self.changes.clone(),
                    );
                    inner.replicas.insert(cache.name.clone(), r);
                }
            }
        }
        Ok(())
    }

    /// A fresh engine for `cache`'s replica role (no data directory: the primary's is its own),
    /// watched and with its events forwarded.
    fn new_replica_engine(&self, cache: &redlink_world::Cache) -> Result<Engine, RuntimeError> {
        let engine = replica_engine(cache, &self.ca, &self.clock)?;
        watch_engine(&engine, &self.engine_stopped);
        crate::events::forward_engine_events(&cache.name, &engine, self.changes.clone());
        Ok(engine)
    }

    /// The failover of `cache`: its replica is promoted and the endpoints route to it; every
    /// client connection (through every endpoint) is closed, except those whose client address
    /// `keep` accepts (handed off by a maintenance notification); the old primary then follows the
    /// new one, restarted first when `restart_old` (a reboot). Returns how many connections were
    /// closed. The world's node roles are the caller's (a change already swapped them).
    pub(crate) async fn fail_over(
        &self,
        inner: &mut Inner,
        cache: &str,
        old_primary: OldPrimary,
        keep: &(dyn Fn(SocketAddr) -> bool + Sync),
    ) -> Result<usize, RuntimeError> {
        let world = self.world();
        let model = world
            .cache(cache)
            .ok_or_else(|| RuntimeError::World(WorldError::UnknownCache(cache.to_owned())))?;
        let no_replica = || RuntimeError::Replica {
            cache: cache.to_owned(),
            message: "the cache has no running replica to promote".to_owned(),
        };
        let replica = inner.replicas.remove(cache).ok_or_else(no_replica)?;
        let Some(old) = inner.engines.get(cache).cloned() else {
            inner.replicas.insert(cache.to_owned(), replica);
            return Err(no_replica());
        };
        let Replica { engine: new, link } = replica;
        new.promote();
        inner.engines.insert(cache.to_owned(), new.clone());
        link.retarget(new.clone());
        self.point_direct(cache, &new);
        let applied = {
            let Inner { edge, engines, .. } = &mut *inner;
            edge.apply(&world, engines).await
        };
        let mut closed = inner.edge.reset_cache(cache, keep);
        for h in old.clients.all() {
            let normal = h.kind.load(Ordering::Relaxed) == redlink_engine::client::kind::NORMAL;
            if normal && h.ctx.endpoint.is_none() && !keep(h.ctx.peer) {
                h.kill();
                closed += 1;
            }
        }
        let follower = match old_primary {
            OldPrimary::Restart => {
                old.shutdown();
                self.new_replica_engine(model)?
            }
            OldPrimary::Follow | OldPrimary::Hold => old,
        };
        let followed = match old_primary {
            OldPrimary::Hold => Ok(()),
            _ => follow(&follower, &link).map_err(|message| RuntimeError::Replica {
                cache: cache.to_owned(),
                message,
            }),
        };
        inner.replicas.insert(
            cache.to_owned(),
            Replica {
                engine: follower,
                link,
            },
        );
        applied?;
        followed?;
        Ok(closed)
    }

    /// The failover of every shard of clustered `cache` (the world's `failover` change): in each
    /// shard the replica takes over as `CLUSTER FAILOVER FORCE` does (no wait for the replica:
    /// writes it has not received are lost, as in the unclustered failover), then every client
    /// connection of the cache is closed; cluster clients reconnect and learn the new primaries
    /// from `-MOVED` and `CLUSTER SLOTS`. Returns how many connections were closed.
    async fn fail_over_shards(
        &self,
        inner: &mut Inner,
        cache: &str,
    ) -> Result<usize, RuntimeError> {
        let error = |message: String| RuntimeError::Replica {
            cache: cache.to_owned(),
            message,
        };
        let cluster = inner
            .clusters
            .get(cache)
            .cloned()
            .ok_or_else(|| error("the cache has no cluster nodes running".to_owned()))?;
        if cluster.copies < 2 {
            return Err(error(
                "the cache has no replica per shard to promote".to_owned(),
            ));
        }
        let shards = cluster.nodes.len() / cluster.copies;
        let topology = cluster.topology.clone();
        let failed = tokio::task::spawn_blocking(move || {
            (0..shards)
                .filter_map(|shard| {
                    use redlink_engine::cluster::failover::{Mode, fail_over};
                    let primary = cluster.primary_of_shard(shard);
                    let replica = *topology.replicas_of(primary).first()?;
                    // A planned failover loses no write: the replica first catches up with the
                    // paused primary (CLUSTER FAILOVER without an option). When it cannot (the
                    // replication link is cut, the primary is down), the switch is forced, as
                    // Azure's failover of an unhealthy primary is.
                    fail_over(&topology, replica, Mode::Manual)
                        .or_else(|_| fail_over(&topology, replica, Mode::Force))
                        .err()
                        .map(|e| format!("shard {shard}: {e}"))
                })
                .collect::<Vec<String>>()
        })
        .await
        .map_err(|e| error(format!("the failover task failed: {e}")))?;
        let closed = inner.edge.reset_cache(cache, |_| false);
        match failed.is_empty() {
            true => Ok(closed),
            false => Err(error(failed.join("; "))),
        }
    }

    /// Ends a hand-off ([`OldPrimary::Hold`]): the old primary's remaining clients are closed and
    /// it follows the new primary. Returns how many connections were closed.
    pub(crate) async fn release_held(
        &self,
        inner: &mut Inner,
        cache: &str,
    ) -> Result<usize, RuntimeError> {
        let Some(r) = inner.replicas.get(cache) else {
            return Ok(0);
        };
        let mut closed = 0;
        for h in r.engine.clients.all() {
            if h.kind.load(Ordering::Relaxed) == redlink_engine::client::kind::NORMAL {
                h.kill();
                closed += 1;
            }
        }
        follow(&r.engine, &r.link).map_err(|message| RuntimeError::Replica {
            cache: cache.to_owned(),
            message,
        })?;
        Ok(closed)
    }

    /// The world's node roles swap (a maintenance's failover step), under the lock.
    pub(crate) async fn update_nodes_locked(
        &self,
        inner: &mut Inner,
        cache: &str,
    ) -> Result<u8, RuntimeError> {
        self.update_locked(inner, |w| w.promote_replica(cache))
            .await
    }

    /// The lock on the engines, the edge and the state (one change at a time).
    pub(crate) async fn lock_inner(&self) -> tokio::sync::MutexGuard<'_, Inner> {
        self.inner.lock().await
    }

    /// The engines of `cache`'s nodes now (primary first).
    pub(crate) async fn node_engines(&self, cache: &str) -> Vec<Engine> {
        let inner = self.inner.lock().await;
        inner
            .engines
            .get(cache)
            .cloned()
            .into_iter()
            .chain(inner.replicas.get(cache).map(|r| r.engine.clone()))
            .collect()
    }

    /// Sends `event` to the event stream.
    pub(crate) fn announce_event(&self, event: Event) {
        let _ = self.changes.send(event);
    }

    /// Whether [`RunningWorld::shutdown`] began.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Resolves once the world is stopping.
    pub(crate) async fn stopped(&self) {
        while !self.is_stopping() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Records when `cache`'s maintenance has its next step (`None`: none) and wakes
    /// [`RunningWorld::settle`].
    pub(crate) fn maintenance_due(&self, cache: &str, at: Option<u64>) {
        if let Ok(mut d) = self.maint_due.lock() {
            match at {
                Some(at) => d.insert(cache.to_owned(), at),
                None => d.remove(cache),
            };
        }
        self.maint_progress.notify_waiters();
    }

    /// Waits until no maintenance has a step due at the clock's time (so a timeline that moved
    /// a manual clock past a maintenance's steps sees them done before its expectations), at most
    /// 30 seconds of real time.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let progressed = self.maint_progress.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            if !crate::maintenance::any_due(&self.maint_due, self.clock.now_ms()) {
                return;
            }
            tokio::select! {
                () = progressed => {}
                () = tokio::time::sleep_until(deadline) => return,
                () = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
            }
        }
    }

    /// Restarts `cache`'s replica (a reboot of the replica node): a fresh engine resynchronises
    /// from the primary; clients of the cache are not disturbed.
    pub(crate) async fn restart_replica(
        &self,
        inner: &mut Inner,
        cache: &str,
    ) -> Result<(), RuntimeError> {
        let world = self.world();
        let model = world
            .cache(cache)
            .ok_or_else(|| RuntimeError::World(WorldError::UnknownCache(cache.to_owned())))?;
        let Some(Replica { engine, link }) = inner.replicas.remove(cache) else {
            return Err(RuntimeError::Replica {
                cache: cache.to_owned(),
                message: "the cache has no running replica to reboot".to_owned(),
            });
        };
        engine.shutdown();
        let fresh = self.new_replica_engine(model)?;
        let followed = follow(&fresh, &link);
        inner.replicas.insert(
            cache.to_owned(),
            Replica {
                engine: fresh,
                link,
            },
        );
        followed.map_err(|message| RuntimeError::Replica {
            cache: cache.to_owned(),
            message,
        })
    }

    /// Starts an engine for `cache` (with its data directory when it persists, holding `preload`
    /// when given), watched and with its events forwarded.
    fn new_engine(
        &self,
        cache: &redlink_world::Cache,
        preload: Option<&[u8]>,
    ) -> Result<Engine, RuntimeError> {
        let dir = self.data.as_ref().and_then(|d| d.dir(&cache.name));
        let engine = start_engine(cache, &self.ca, dir.as_deref(), preload, &self.clock)?;
        watch_engine(&engine, &self.engine_stopped);
        crate::events::forward_engine_events(&cache.name, &engine, self.changes.clone());
        Ok(engine)
    }

    /// Restarts `cache`'s engine: the old one stops (every open connection to it, through every
    /// endpoint, is closed), a new one with the same settings takes its place and gets the
    /// endpoints' new connections. The new engine holds `preload` (an import), else the last
    /// snapshot when the cache persists, else nothing. On error the old engine keeps serving.
    pub(crate) async fn restart_engine(
        &self,
        inner: &mut Inner,
        name: &str,
        preload: Option<&[u8]>,
    ) -> Result<(), RuntimeError> {
        let world = self.world();
        let cache = world
            .cache(name)
            .ok_or_else(|| RuntimeError::World(WorldError::UnknownCache(name.to_owned())))?;
        if let Some(old) = inner.engines.get(name) {
            old.shutdown();
            // A background save still writing finishes first: it shares the data directory (and
            // the temporary file's name) with the new engine.
            let old = old.clone();
            let _ = tokio::task::spawn_blocking(move || {
                while redlink_engine::persist::rdb_save::bgsave_in_progress(&old)
                    || old.store.snapshot_running()
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            })
            .await;
        }
        let started = self.new_engine(cache, preload);
        let engine = match started {
            Ok(e) => e,
            Err(e) => {
                // The old engine is stopping: give the cache a fresh one from its data so it is
                // not left without an engine, and report the failure.
                if preload.is_some()
                    && let Ok(fresh) = self.new_engine(cache, None)
                {
                    inner.engines.insert(name.to_owned(), fresh.clone());
                    self.point_direct(name, &fresh);
                    let Inner { edge, engines, .. } = &mut *inner;
                    edge.apply(&world, engines).await?;
                }
                return Err(e);
            }
        };
        inner.engines.insert(name.to_owned(), engine.clone());
        self.point_direct(name, &engine);
        if let Some(r) = inner.replicas.get(name) {
            // The replica follows the new engine (a full resynchronisation: a reboot of all
            // nodes, or an import, replaces its data too).
            r.link.retarget(engine.clone());
        }
        let Inner { edge, engines, .. } = &mut *inner;
        edge.apply(&world, engines).await?;
        Ok(())
    }

    fn point_direct(&self, cache: &str, engine: &Engine) {
        for (c, l) in &self.direct_listeners {
            if c == cache {
                l.set_engine(engine.clone());
            }
        }
    }

    /// Azure's import: the cache's data is replaced by the RDB file's `contents` (checked first: a
    /// corrupt file changes nothing). The cache is unavailable meanwhile, as in Azure: its engine
    /// restarts with the file's data, closing open connections; a persisted cache saves the
    /// imported data as its snapshot. Says what was done, also on the event stream.
    pub async fn import_rdb(&self, cache: &str, contents: &[u8]) -> Result<String, RuntimeError> {
        let result = self.import_quietly(cache, contents).await;
        self.announce(&result, format!("import into cache {cache}"));
        result
    }

    async fn import_quietly(&self, cache: &str, contents: &[u8]) -> Result<String, RuntimeError> {
        self.refuse_for_clusters(cache, "importing into")?;
        self.refuse_for_backends(cache, "importing into")?;
        let mut inner = self.inner.lock().await;
        self.reconcile_locked(&mut inner).await?;
        let world = self.world();
        let c = world
            .cache(cache)
            .ok_or_else(|| RuntimeError::World(WorldError::UnknownCache(cache.to_owned())))?;
        if !c.running {
            return Err(RuntimeError::Data {
                cache: cache.to_owned(),
                message: "the cache is stopped: start it before importing".to_owned(),
            });
        }
        // Check the file on a scratch engine, so a bad file leaves the cache untouched.
        let scratch = Engine::with_clock(redlink_engine::Config::default(), self.clock.clone());
        let stats =
            redlink_engine::persist::rdb_file::load_bytes(&scratch, contents).map_err(
                |(offset, what)| RuntimeError::Data {
                    cache: cache.to_owned(),
                    message: format!(
                        "import refused, the cache is unchanged: Bad RDB file at byte offset {offset}: {what}"
                    ),
                },
            )?;
        drop(scratch);
        self.restart_engine(&mut inner, cache, Some(contents))
            .await?;
        Ok(format!(
            "imported {} keys ({} bytes of RDB version {}) into cache {cache}, replacing its data; its connections were closed",
            stats.keys_loaded,
            contents.len(),
            stats.rdb_version
        ))
    }

    /// Azure's export: an RDB file of the cache's data at one instant (the cache keeps serving).
    pub async fn export_rdb(&self, cache: &str) -> Result<Vec<u8>, RuntimeError> {
        let result = self.export_quietly(cache).await;
        let said = result
            .as_ref()
            .map(|b| format!("exported cache {cache}: {} bytes of RDB", b.len()))
            .map_err(|e| RuntimeError::Data {
                cache: cache.to_owned(),
                message: e.to_string(),
            });
        self.announce(&said, format!("export of cache {cache}"));
        result
    }

    async fn export_quietly(&self, cache: &str) -> Result<Vec<u8>, RuntimeError> {
        self.refuse_for_clusters(cache, "exporting")?;
        self.refuse_for_backends(cache, "exporting")?;
        let engine = {
            let mut inner = self.inner.lock().await;
            self.reconcile_locked(&mut inner).await?;
            if self.world().cache(cache).is_none() {
                return Err(RuntimeError::World(WorldError::UnknownCache(
                    cache.to_owned(),
                )));
            }
            inner
                .engines
                .get(cache)
                .filter(|e| !e.is_shutting_down())
                .cloned()
                .ok_or_else(|| RuntimeError::Data {
                    cache: cache.to_owned(),
                    message: "the cache is stopped: there is no data to export".to_owned(),
                })?
        };
        let name = cache.to_owned();
        tokio::task::spawn_blocking(move || export_image(&engine))
            .await
            .map_err(|e| RuntimeError::Data {
                cache: name.clone(),
                message: format!("export failed: {e}"),
            })?
            .map_err(|message| RuntimeError::Data {
                cache: name,
                message,
            })
    }

    fn announce(&self, result: &Result<String, RuntimeError>, what: String) {
        let event = match result {
            Ok(d) => Event::change(d.clone(), None),
            Err(e) => Event::change(what, Some(e.to_string())),
        };
        let _ = self.changes.send(event);
    }

    /// Marks stopped every running cache whose engine stopped without the world asking (nothing a
    /// client can send does that; a bug or an outside [`Engine::shutdown`] could), and says so on
    /// the event stream. Starting the cache again gives it a fresh (empty) engine.
    pub async fn reconcile(&self) -> Result<(), RuntimeError> {
        let mut inner = self.inner.lock().await;
        self.reconcile_locked(&mut inner).await
    }

    async fn reconcile_locked(&self, inner: &mut Inner) -> Result<(), RuntimeError> {
        if self.stopping.load(Ordering::Acquire) {
            return Ok(());
        }
        let world = self.world();
        let dead: Vec<String> = world
            .caches
            .iter()
            .filter(|c| c.running)
            .filter(|c| {
                inner
                    .engines
                    .get(&c.name)
                    .is_some_and(Engine::is_shutting_down)
            })
            .map(|c| c.name.clone())
            .collect();
        if dead.is_empty() {
            return Ok(());
        }
        let stop = dead.clone();
        self.update_locked(inner, move |w| {
            for name in &stop {
                w.set_cache_running(name, false)?;
            }
            Ok(())
        })
        .await?;
        for name in dead {
            let _ = self.changes.send(Event::change(
                format!(
                    "cache {name}: its engine stopped; the cache is now stopped (CACHE.START {name} starts a fresh, empty engine)"
                ),
                Some(format!("cache {name}: engine stopped unexpectedly")),
            ));
        }
        Ok(())
    }

    /// Lets a timeline paced step by step (`up --step`) run its next step (a release before the
    /// timeline waits is kept for its next wait).
    pub fn next_step(&self) {
        self.step_gate.notify_one();
    }

    /// Waits for [`RunningWorld::next_step`].
    pub async fn step_released(&self) {
        self.step_gate.notified().await;
    }

    /// Runs [`RunningWorld::reconcile`] each time an engine stops; never returns. Run it alongside
    /// the world (`up`, `exec`) so a stopped engine shows at once.
    pub async fn watch_engines(&self) {
        let engines = async {
            loop {
                self.engine_stopped.notified().await;
                if let Err(e) = self.reconcile().await {
                    tracing::warn!("while marking a stopped engine's cache: {e}");
                }
            }
        };
        tokio::join!(engines, self.watch_backends());
    }

    /// Checks every backend each [`HEALTH_INTERVAL`]: one that stops answering makes its cache's
    /// endpoints refuse, as for a stopped cache (`Cache::backend_unreachable`, which the verdicts'
    /// reasons, `ctl status` and `probe` show), until it answers again; each turn is an event.
    /// A cluster backend is discovered again on each turn and whenever a proxied connection meets
    /// a node it does not know (`backend_cluster`): new nodes get per-node ports, a node that does
    /// not answer has its ports refuse, and the cache is down when no node answers.
    async fn watch_backends(&self) {
        if self.backends.is_empty() {
            return;
        }
        // Woken early when a proxied connection asks for a new discovery.
        let wanted = Arc::new(Notify::new());
        let mut forwarders = tokio::task::JoinSet::new();
        for cluster in self.backends.iter().filter_map(|b| b.cluster.as_ref()) {
            let (table, wanted) = (cluster.table.clone(), wanted.clone());
            forwarders.spawn(async move {
                loop {
                    table.wanted().await;
                    wanted.notify_one();
                }
            });
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
                _ = wanted.notified() => {}
            }
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            for backend in &self.backends {
                let why = match &backend.cluster {
                    Some(cluster) => {
                        let health = cluster.refresh().await;
                        self.follow_cluster_nodes(&backend.cache, &health).await;
                        cluster.publish(&health);
                        health.unreachable
                    }
                    None => backend.health().await.err(),
                };
                let was = self
                    .world()
                    .cache(&backend.cache)
                    .map(|c| c.backend_unreachable.clone());
                if was.is_none() || was.as_ref() == Some(&why) {
                    continue;
                }
                let (cache, next) = (backend.cache.clone(), why.clone());
                if let Err(e) = self
                    .update(move |w| w.set_backend_unreachable(&cache, next))
                    .await
                {
                    tracing::warn!("while marking cache {}'s backend: {e}", backend.cache);
                    continue;
                }
                let _ = self.changes.send(match why {
                    Some(why) => Event::change(
                        format!(
                            "cache {}: backend {why}; its endpoints refuse until it answers",
                            backend.cache
                        ),
                        Some(format!("cache {}: backend {why}", backend.cache)),
                    ),
                    None => Event::change(
                        format!(
                            "cache {}: backend {} answers again; its endpoints route",
                            backend.cache, backend.address
                        ),
                        None,
                    ),
                });
            }
        }
    }

    /// Records what a look at a cluster backend found (node count, nodes down) in the world when
    /// it changed, with one event per node that went down or came back.
    async fn follow_cluster_nodes(&self, cache: &str, health: &ClusterHealth) {
        let Some(before) = self.world().cache(cache).cloned() else {
            return;
        };
        if before.backend_nodes >= health.nodes && before.backend_nodes_down == health.down {
            return;
        }
        let (name, nodes, down) = (cache.to_owned(), health.nodes, health.down.clone());
        if let Err(e) = self
            .update(move |w| w.set_backend_nodes(&name, nodes, down))
            .await
        {
            tracing::warn!("while recording cache {cache}'s cluster nodes: {e}");
            return;
        }
        if health.nodes > before.backend_nodes {
            let _ = self.changes.send(Event::change(
                format!(
                    "cache {cache}: the cluster backend has {} nodes; nodes {}..{} get per-node ports",
                    health.nodes,
                    before.backend_nodes,
                    health.nodes - 1
                ),
                None,
            ));
        }
        for (node, why) in &health.down {
            if !before.backend_nodes_down.contains_key(node) {
                let _ = self.changes.send(Event::change(
                    format!("cache {cache}: node {node}: backend {why}; its ports refuse until it answers"),
                    Some(format!("cache {cache}: node {node}: backend {why}")),
                ));
            }
        }
        for node in before.backend_nodes_down.keys() {
            if !health.down.contains_key(node) {
                let _ = self.changes.send(Event::change(
                    format!("cache {cache}: node {node} of the cluster backend answers again; its ports route"),
                    None,
                ));
            }
        }
    }

    /// Applies one timeline/control [`Change`] (the one vocabulary of world changes) through
    /// [`RunningWorld::update`], then pushes the engine settings it carries (`requirepass`,
    /// `maxclients`) to the cache's engine, and tells event subscribers. Returns what was done.
    pub async fn apply_change(&self, change: &Change) -> Result<String, RuntimeError> {
        let result = self.apply_change_quietly(change).await;
        let event = match &result {
            Ok(d) => Event::change(d.clone(), None),
            Err(e) => Event::change(format!("{change:?}"), Some(e.to_string())),
        };
        let _ = self.changes.send(event);
        result
    }

    async fn apply_change_quietly(&self, change: &Change) -> Result<String, RuntimeError> {
        if let Some(by) = change.advance() {
            // The description holds no clock time: the same scenario reports the same on every run.
            self.advance_clock(by).await?;
            return Ok(redlink_world::change::advanced(by));
        }
        if let Some((cache, shards)) = change.scale() {
            self.refuse_for_backends(cache, "resharding")?;
            return self.reshard(change, cache, shards).await;
        }
        if let Some((cache, settings)) = change.engine_settings()
            && !settings.is_empty()
        {
            self.refuse_for_backends(cache, "changing maxclients/requirepass of")?;
        }
        if let Some(cache) = change.failover() {
            self.refuse_for_backends(cache, "failing over")?;
        }
        if let Some((cache, _)) = change.maintenance() {
            self.refuse_for_clusters(cache, "maintenance of")?;
            self.refuse_for_backends(cache, "maintenance of")?;
        }
        if let Some((cache, _)) = change.reboot() {
            self.refuse_for_clusters(cache, "rebooting")?;
            self.refuse_for_backends(cache, "rebooting")?;
        }
        if let Some(cache) = change.failover() {
            let mut inner = self.inner.lock().await;
            self.reconcile_locked(&mut inner).await?;
            let description = self.update_locked(&mut inner, |w| change.apply(w)).await?;
            if inner.clusters.contains_key(cache) {
                let closed = self.fail_over_shards(&mut inner, cache).await?;
                return Ok(format!("{description} ({closed} connections reset)"));
            }
            let closed = self
                .fail_over(&mut inner, cache, OldPrimary::Follow, &|_| false)
                .await?;
            return Ok(format!("{description} ({closed} connections reset)"));
        }
        if let Some((cache, node)) = change.maintenance() {
            let description = self.update(|w| change.apply(w)).await?;
            self.start_maintenance(cache, node);
            return Ok(description);
        }
        if let Some((cache, nodes)) = change.reboot() {
            let mut inner = self.inner.lock().await;
            self.reconcile_locked(&mut inner).await?;
            let description = self.update_locked(&mut inner, |w| change.apply(w)).await?;
            match nodes {
                redlink_world::RebootNodes::All => {
                    self.restart_engine(&mut inner, cache, None).await?;
                    if inner.replicas.contains_key(cache) {
                        self.restart_replica(&mut inner, cache).await?;
                    }
                }
                redlink_world::RebootNodes::Primary => {
                    let closed = self
                        .fail_over(&mut inner, cache, OldPrimary::Restart, &|_| false)
                        .await?;
                    return Ok(format!("{description} ({closed} connections reset)"));
                }
                redlink_world::RebootNodes::Replica => {
                    self.restart_replica(&mut inner, cache).await?;
                }
            }
            return Ok(description);
        }
        let description = self.update(|w| change.apply(w)).await?;
        if let Some((cache, settings)) = change.engine_settings() {
            let engine = self
                .engine(cache)
                .await
                .ok_or_else(|| RuntimeError::Engine {
                    cache: cache.to_owned(),
                    setting: "(any)",
                    message: "the cache has no engine".to_owned(),
                })?;
            let mut failed = None;
            for (name, value) in settings {
                if let Err(e) = engine.config.write().set(name, &value) {
                    failed = Some(RuntimeError::Engine {
                        cache: cache.to_owned(),
                        setting: name,
                        message: format!("{description}, but the engine refused it: {e}"),
                    });
                }
            }
            engine.refresh_hot_config();
            if let Some(r) = self.inner.lock().await.replicas.get(cache) {
                for (name, value) in change.engine_settings().map(|s| s.1).unwrap_or_default() {
                    let _ = r.engine.config.write().set(name, &value);
                }
                r.engine.refresh_hot_config();
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(description)
    }

    /// An error when `cache`'s traffic goes to a backend: its data and settings live in a server
    /// redlink does not own, and acting on the unused embedded engine would report work not done.
    fn refuse_for_backends(&self, cache: &str, what: &str) -> Result<(), RuntimeError> {
        match self.world().cache(cache) {
            Some(c) if c.backend.is_some() => Err(RuntimeError::Engine {
                cache: cache.to_owned(),
                setting: "backend",
                message: format!(
                    "{what} a cache with a backend is not simulated: its data and settings are the \
                     backend's; do it on the backend server itself"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// An error when `cache` is clustered: `what` is not simulated for clustered caches yet.
    fn refuse_for_clusters(&self, cache: &str, what: &str) -> Result<(), RuntimeError> {
        match self.world().cache(cache) {
            Some(c) if c.shards.is_some() => Err(RuntimeError::Engine {
                cache: cache.to_owned(),
                setting: "shards",
                message: format!("{what} a clustered cache is not simulated yet"),
            }),
            _ => Ok(()),
        }
    }

    /// A live reshard (`scale`): a grow starts the new nodes, publishes the world (their ports
    /// open on every endpoint) and moves slots to them in the background while clients run
    /// (`-ASK`/`-MOVED`); a shrink moves the slots off the nodes that go before their ports close.
    async fn reshard(
        &self,
        change: &Change,
        cache: &str,
        shards: u16,
    ) -> Result<String, RuntimeError> {
        let mut inner = self.inner.lock().await;
        self.reconcile_locked(&mut inner).await?;
        // The world's checks first (range, flavour, running), on a copy.
        let mut next = World::clone(&self.world.borrow());
        change.apply(&mut next)?;
        let Some(target) = next.cache(cache).cloned() else {
            return Err(RuntimeError::World(WorldError::UnknownCache(
                cache.to_owned(),
            )));
        };
        let Some(cluster) = inner.clusters.get_mut(cache) else {
            return Err(RuntimeError::Engine {
                cache: cache.to_owned(),
                setting: "shards",
                message: "the cache has no cluster nodes running".to_owned(),
            });
        };
        let copies = cluster.copies;
        let before = cluster.nodes.len() / copies;
        let wanted = usize::from(shards);
        let topology = cluster.topology.clone();
        if wanted > before {
            let added = cluster.grow(&target, &self.ca, shards, &self.clock)?;
            for engine in &added {
                watch_engine(engine, &self.engine_stopped);
                crate::events::forward_engine_events(cache, engine, self.changes.clone());
            }
            let nodes = cluster.nodes.clone();
            inner.edge.set_cluster_nodes(cache, nodes);
            let description = self.update_locked(&mut inner, |w| change.apply(w)).await?;
            let changes = self.changes.clone();
            let name = cache.to_owned();
            tokio::spawn(async move {
                let event = match CacheCluster::rebalance(topology, shards, copies).await {
                    Ok(r) => Event::change(
                        format!(
                            "cache {name}: resharded to {shards} shards ({} slots, {} keys moved)",
                            r.slots, r.keys
                        ),
                        None,
                    ),
                    Err(e) => Event::change(
                        format!("cache {name}: resharding to {shards} shards"),
                        Some(e),
                    ),
                };
                let _ = changes.send(event);
            });
            return Ok(description);
        }
        if wanted < before {
            let report = CacheCluster::rebalance(topology, shards, copies)
                .await
                .map_err(|message| RuntimeError::Engine {
                    cache: cache.to_owned(),
                    setting: "shards",
                    message,
                })?;
            let description = self.update_locked(&mut inner, |w| change.apply(w)).await?;
            if let Some(cluster) = inner.clusters.get_mut(cache) {
                cluster.shrink(&target, shards)?;
                let nodes = cluster.nodes.clone();
                inner.edge.set_cluster_nodes(cache, nodes);
            }
            let world = self.world();
            let Inner { edge, engines, .. } = &mut *inner;
            edge.apply(&world, engines).await?;
            return Ok(format!(
                "{description} ({} slots, {} keys moved)",
                report.slots, report.keys
            ));
        }
        self.update_locked(&mut inner, |w| change.apply(w)).await
    }

    /// Connections seen since the world started, by endpoint address and verdict.
    pub fn connection_counts(
        &self,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> {
        self.counts.snapshot()
    }

    /// Whether refusals and drops are observed (see `kernel`).
    pub fn kernel_evidence(&self) -> &crate::kernel::KernelEvidence {
        &self.kernel_evidence
    }

    /// A merged stream of DNS answers, connection verdicts and world changes from now on (first,
    /// where refusals and drops cannot be observed, a notice saying so).
    pub fn events(&self) -> EventStream {
        EventStream {
            notice: match &self.kernel_evidence {
                crate::kernel::KernelEvidence::Observed => None,
                unobservable => Some(Event::Notice {
                    time_ms: crate::events::now_ms(),
                    text: unobservable.describe(),
                }),
            },
            dns: self
                .dns
                .lock()
                .ok()
                .and_then(|d| d.as_ref().map(DnsViews::subscribe)),
            edge: Some(self.edge_events.subscribe()),
            changes: self.changes.subscribe(),
            lost: 0,
        }
    }

    /// Records the control API's address and password in the state file (`control`,
    /// `control_password`) and rewrites it.
    pub async fn set_control(
        &self,
        control: Option<SocketAddr>,
        password: Option<String>,
    ) -> Result<(), RuntimeError> {
        let mut inner = self.inner.lock().await;
        inner.state.control = control.map(|a| a.to_string());
        inner.state.control_password = control.and(password);
        self.files.write(&inner.state)
    }

    /// The world's clock: what DNS caches, engines and the timeline read.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Moves the world's manual clock forward by `by` and fires what became due before returning:
    /// every engine expires its due keys in order (with their notifications); blocked clients,
    /// DNS cache entries and timeline steps wake by themselves (they sleep on the clock). Returns
    /// the new time (ms since the epoch); a real-time clock refuses.
    pub async fn advance_clock(&self, by: std::time::Duration) -> Result<u64, RuntimeError> {
        let now = self.clock.advance(by)?;
        self.clock_moved().await;
        Ok(now)
    }

    /// Moves a manual clock to `ms` if it is behind (the timeline reaching a step's `at` in
    /// `check`), firing what became due as [`advance_clock`](Self::advance_clock) does.
    pub async fn advance_clock_to(&self, ms: u64) -> Result<u64, RuntimeError> {
        let now = self.clock.advance_to(ms)?;
        self.clock_moved().await;
        Ok(now)
    }

    /// Every engine expires what the clock's last move made due (their own watchers would too,
    /// a moment later: this makes it happen before the mover goes on).
    async fn clock_moved(&self) {
        let engines: Vec<Engine> = self.inner.lock().await.engines.values().cloned().collect();
        let _ = tokio::task::spawn_blocking(move || {
            engines.iter().for_each(|e| {
                e.fire_due();
            });
        })
        .await;
    }

    /// What `network`'s resolver answers for `host` now, its DNS cache included (the explanation
    /// of an answer a client just got), without changing the cache.
    pub fn explain_resolution(&self, network: &str, host: &str) -> Resolution {
        self.dns
            .lock()
            .ok()
            .and_then(|d| d.as_ref().and_then(|d| d.peek(network, host, QueryType::A)))
            .unwrap_or_else(|| redlink_world::resolve(&self.world(), network, host, QueryType::A))
    }

    /// Keeps the lab's latest score (JSON, made by whoever scores the scenario's exercises: the
    /// scenario crate, above this one) for the control API's `LAB.STATUS`.
    pub fn set_lab_status(&self, json: String) {
        if let Ok(mut lab) = self.lab.lock() {
            *lab = Some(json);
        }
    }

    /// The lab's latest score (JSON), `None` when nothing scores exercises in this world.
    pub fn lab_status(&self) -> Option<String> {
        self.lab.lock().ok().and_then(|l| l.clone())
    }

    /// Where each network's resolver listens.
    pub fn resolvers(&self) -> &[(String, SocketAddr)] {
        &self.resolvers
    }

    /// Where `network`'s resolver listens.
    pub fn resolver(&self, network: &str) -> Option<SocketAddr> {
        self.resolvers
            .iter()
            .find(|(n, _)| n == network)
            .map(|(_, a)| *a)
    }

    /// Notes about the start worth telling the user (e.g. a resolver on another port than asked).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The address block the world occupies.
    pub fn block(&self) -> u8 {
        self.lock.block()
    }

    /// The state file's path.
    pub fn state_file(&self) -> &Path {
        &self.files.state
    }

    /// The CA certificate's path (next to the state file).
    pub fn ca_file(&self) -> &Path {
        &self.files.ca
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The state as last written (after [`RunningWorld::reconcile`]).
    pub async fn state(&self) -> StateFile {
        let mut inner = self.inner.lock().await;
        if let Err(e) = self.reconcile_locked(&mut inner).await {
            tracing::warn!("while marking a stopped engine's cache: {e}");
        }
        inner.state.clone()
    }

    /// What every endpoint port does now.
    pub async fn ports(&self) -> Vec<PortStatus> {
        self.inner.lock().await.edge.status()
    }

    /// The direct loopback address of `cache`'s engine, when started with
    /// [`UpOptions::direct_engines`].
    pub fn direct_engine(&self, cache: &str) -> Option<SocketAddr> {
        self.direct
            .iter()
            .find(|(c, _)| c == cache)
            .map(|(_, a)| *a)
    }

    /// The engine of `cache`.
    pub async fn engine(&self, cache: &str) -> Option<Engine> {
        self.inner.lock().await.engines.get(cache).cloned()
    }

    /// Stops everything: endpoints first (so clients are refused), then resolvers and engines, and
    /// removes the state file and the CA certificate.
    pub async fn shutdown(self) -> Result<(), RuntimeError> {
        self.stopping.store(true, Ordering::Release);
        let mut inner = self.inner.lock().await;
        inner.edge.shutdown().await;
        let dns = self.dns.lock().ok().and_then(|mut d| d.take());
        let dns_result = match dns {
            Some(dns) => dns.shutdown().await,
            None => Ok(()),
        };
        for engine in inner.engines.values() {
            engine.shutdown();
        }
        for r in inner.replicas.values() {
            r.engine.shutdown();
        }
        inner.replicas.clear();
        inner.clusters.values().for_each(CacheCluster::shutdown);
        drop(inner);
        // Dropping `self` removes the files and releases the block.
        dns_result.map_err(RuntimeError::from)
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        for engine in inner.engines.values() {
            engine.shutdown();
        }
        for r in inner.replicas.values() {
            r.engine.shutdown();
        }
        inner.clusters.values().for_each(CacheCluster::shutdown);
    }
}

/// An RDB image of `engine`'s data at one instant (waits for a running snapshot to end).
fn export_image(engine: &Engine) -> Result<Vec<u8>, String> {
    use redlink_engine::persist::{rdb_file::WriteOptions, rdb_save::Image};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let image = loop {
        let cut = {
            let _gate = engine.store.gate.exclusive();
            Image::cut(engine)
        };
        match cut {
            Some(image) => break image,
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            None => return Err("export failed: another snapshot is still running".to_owned()),
        }
    };
    let opts = WriteOptions::from_config(&engine.config.read());
    image
        .write(&engine.store, Vec::new(), opts)
        .map(|(bytes, _keys)| bytes)
        .map_err(|e| format!("export failed: {e}"))
}
