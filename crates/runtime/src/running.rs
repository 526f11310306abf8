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
use redlink_edge::{BackendLink, ConnectionEvents, Edge, PortStatus};
use redlink_engine::Engine;
use redlink_world::{AddressPlan, Change, Scenario, World, WorldError};
use tokio::sync::{Mutex, Notify, broadcast, watch};
use tracing::debug;

use crate::backends::{RunningBackend, start_backend};
use crate::block::BlockLock;
use crate::certs::WorldCa;
use crate::direct::DirectListener;
use crate::engines::start_engine;
use crate::error::RuntimeError;
use crate::events::{CHANGE_EVENT_CAPACITY, Event, EventStream};
use crate::options::{CURRENT_POINTER, UpOptions, default_state_path};
use crate::resolvers::start_resolvers;
use crate::state::{StateFile, StateFiles, Whereabouts, ca_path_for, write_atomically};

/// How many address blocks with a taken address are skipped before giving up.
const MAX_CONFLICTS: usize = 16;

/// What changes together, under one lock.
struct Inner {
    edge: Edge,
    engines: HashMap<String, Engine>,
    state: StateFile,
}

/// A world that is up: resolvers answer, endpoints route or refuse, the state file is written.
pub struct RunningWorld {
    world: watch::Sender<Arc<World>>,
    inner: Mutex<Inner>,
    dns: Option<DnsViews>,
    resolvers: Vec<(String, SocketAddr)>,
    notes: Vec<String>,
    ca: WorldCa,
    files: StateFiles,
    scenario: String,
    lock: BlockLock,
    direct: Vec<(String, SocketAddr)>,
    _direct_listeners: Vec<DirectListener>,
    changes: broadcast::Sender<Event>,
    counts: crate::events::ConnectionCounts,
    edge_events: ConnectionEvents,
    /// Signalled when any engine stops (see [`RunningWorld::watch_engines`]).
    engine_stopped: Arc<Notify>,
    /// Set once [`RunningWorld::shutdown`] begins: engines stopping then are expected.
    stopping: AtomicBool,
    /// The caches' backends (those redlink started stop when this drops).
    _backends: Vec<RunningBackend>,
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
            let world = World::build(scenario, &plan)?;
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
        world: World,
        lock: BlockLock,
        options: &UpOptions,
    ) -> Result<RunningWorld, RuntimeError> {
        let name = world.name.clone().unwrap_or_else(|| {
            Path::new(scenario.file())
                .file_stem()
                .map_or_else(|| "world".to_owned(), |s| s.to_string_lossy().into_owned())
        });
        let ca = WorldCa::generate(&name)?;
        let mut engines = HashMap::new();
        for cache in &world.caches {
            match start_engine(cache, &ca) {
                Ok(engine) => {
                    engines.insert(cache.name.clone(), engine);
                }
                Err(e) => {
                    engines.values().for_each(Engine::shutdown);
                    return Err(e);
                }
            }
        }
        let stop_engines = |engines: &HashMap<String, Engine>| {
            engines.values().for_each(Engine::shutdown);
        };
        let mut backends = Vec::new();
        let mut backend_links = Vec::new();
        let mut backend_notes = Vec::new();
        for cache in &world.caches {
            let Some(backend) = options.backend.as_ref().or(cache.backend.as_ref()) else {
                continue;
            };
            let started = match start_backend(cache, backend, &mut backend_notes).await {
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
                },
            ));
            backends.push(started);
        }

        let (tx, rx) = watch::channel(Arc::new(world));
        let (dns, mut notes) = match start_resolvers(rx, options.dns_port).await {
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
        let current = tx.borrow().clone();
        if let Err(e) = edge.apply(&current, &engines).await {
            edge.shutdown().await;
            let _ = dns.shutdown().await;
            stop_engines(&engines);
            return Err(e.into());
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
        let default_path = options.state_file.is_none();
        let state_path = options
            .state_file
            .clone()
            .unwrap_or_else(|| default_state_path(&name, std::process::id()));
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
        let engine_stopped = Arc::new(Notify::new());
        for engine in engines.values() {
            watch_engine(engine, &engine_stopped);
        }
        let counts = crate::events::ConnectionCounts::default();
        counts.follow(EventStream {
            dns: None,
            edge: Some(edge_events.subscribe()),
            changes: changes.subscribe(),
            lost: 0,
        });
        Ok(RunningWorld {
            world: tx,
            inner: Mutex::new(Inner {
                edge,
                engines,
                state,
            }),
            dns: Some(dns),
            resolvers,
            notes,
            ca,
            files,
            scenario: scenario.file().to_owned(),
            lock,
            direct,
            _direct_listeners: direct_listeners.into_iter().map(|(_, l)| l).collect(),
            changes,
            edge_events,
            counts,
            engine_stopped,
            stopping: AtomicBool::new(false),
            _backends: backends,
            backend_addrs,
        })
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
                let engine = start_engine(cache, &self.ca)?;
                watch_engine(&engine, &self.engine_stopped);
                crate::events::forward_engine_events(&cache.name, &engine, self.changes.clone());
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
        }
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
        self.files.write(&inner.state)?;
        applied?;
        Ok(out)
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

    /// Runs [`RunningWorld::reconcile`] each time an engine stops; never returns. Run it alongside
    /// the world (`up`, `exec`) so a stopped engine shows at once.
    pub async fn watch_engines(&self) {
        loop {
            self.engine_stopped.notified().await;
            if let Err(e) = self.reconcile().await {
                tracing::warn!("while marking a stopped engine's cache: {e}");
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
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(description)
    }

    /// Connections seen since the world started, by endpoint address and verdict.
    pub fn connection_counts(
        &self,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> {
        self.counts.snapshot()
    }

    /// A merged stream of DNS answers, connection verdicts and world changes from now on.
    pub fn events(&self) -> EventStream {
        EventStream {
            dns: self.dns.as_ref().map(DnsViews::subscribe),
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
    pub async fn shutdown(mut self) -> Result<(), RuntimeError> {
        self.stopping.store(true, Ordering::Release);
        let mut inner = self.inner.lock().await;
        inner.edge.shutdown().await;
        let dns = self.dns.take();
        let dns_result = match dns {
            Some(dns) => dns.shutdown().await,
            None => Ok(()),
        };
        for engine in inner.engines.values() {
            engine.shutdown();
        }
        drop(inner);
        // Dropping `self` removes the files and releases the block.
        dns_result.map_err(RuntimeError::from)
    }
}

impl Drop for RunningWorld {
    fn drop(&mut self) {
        for engine in self.inner.get_mut().engines.values() {
            engine.shutdown();
        }
    }
}
