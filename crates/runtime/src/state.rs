//! The state file (a contract, see DESIGN.md): where a running world's resolvers, endpoints and CA
//! are, for `probe`, `ctl`, `exec`, tests and users' scripts. Written atomically (a new temporary
//! file with a random name in the same directory, created `O_EXCL | O_NOFOLLOW` with mode 0600 —
//! it names cache passwords — then a rename) once everything listens and after each change;
//! removed when the world stops. The default directory ([`crate::default_state_dir`]) is private:
//! created 0700, and refused when it exists as a link, another user's or open to others (see
//! [`redlink_engine::files`]), so nothing another user plants there is followed or written into.
//!
//! Field names of the contract are kept (`control`, `ca`, `networks.*.resolver`,
//! `networks.*.client_address`, `caches.*.hostname`, `caches.*.public_network_access`,
//! `caches.*.endpoints[]` with `name`, `kind`, `network`, `address`, `ports`, `tls_ports`, `state`);
//! the others are extras. `control` is the control API's address (`null` when none runs).
//!
//! Extras worth knowing: `world` is the whole world model as it is now (so `probe` and other
//! clients can recompute DNS explanations with [`redlink_world::resolve()`] without the scenario
//! file, live changes included); each endpoint port's `verdicts` entry gives the primitive in force
//! for the host and, under `networks`, for each network's clients, with the explanation (including
//! any fallback the edge had to make); `caches.*.direct` is the engine's direct loopback address
//! when the world was started with [`crate::UpOptions::direct_engines`].

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use redlink_edge::PortStatus;
use redlink_world::{
    ClusterPolicy, ConnectionState, EndpointId, Flavour, NodePorts, PublicNetworkAccess, Verdict,
    World,
};
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// The control API's address (`127.0.0.1:PORT`); `null` when none runs.
    pub control: Option<String>,
    /// Extra: the password the control API asks for with AUTH (`redlink up` generates one unless
    /// `--control-password` says otherwise); absent when it asks for none. Why the state file must
    /// be readable by its owner only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_password: Option<String>,
    /// The world's CA certificate (PEM): what TLS clients trust.
    pub ca: PathBuf,
    /// Networks by name.
    pub networks: BTreeMap<String, NetworkState>,
    /// Caches by name.
    pub caches: BTreeMap<String, CacheState>,
    /// Extra: the scenario's name, if it has one.
    #[serde(default)]
    pub name: Option<String>,
    /// Extra: the scenario file (`scenarios/quickstart.toml` for the embedded quickstart).
    #[serde(default)]
    pub scenario: String,
    /// Extra: the process running the world.
    #[serde(default)]
    pub pid: u32,
    /// Extra: the address block the world occupies.
    #[serde(default)]
    pub block: u8,
    /// Extra: the world model as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<World>,
    /// Extra: where the host (127.0.0.1: a terminal outside `exec`) stands: `"internet"` or
    /// `{"network": "hub"}`; the endpoints' `verdict` fields are its verdicts.
    #[serde(default)]
    pub host: redlink_world::HostPosition,
    /// Extra: the inode of the network namespace the world's addresses live in (a world started
    /// by `redlink exec` lives in a namespace of its own; `exec` joins only a world in its own
    /// namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_namespace: Option<u64>,
    /// Extra: whether refusals and drops (carried out by the kernel) are observed and published
    /// as events, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_evidence: Option<String>,
}

/// The inode of this process's network namespace (`/proc/self/ns/net`).
pub fn net_namespace() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.ino())
}

/// One network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    /// Its resolver, `ADDRESS:PORT` (UDP and TCP).
    pub resolver: SocketAddr,
    /// The source address clients in the network bind to.
    pub client_address: Ipv4Addr,
    /// Extra: networks peered with it.
    #[serde(default)]
    pub peered_with: Vec<String>,
    /// Extra: the custom DNS forwarder it uses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_forwarder: Option<String>,
}

/// One cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheState {
    /// Its public host name.
    pub hostname: String,
    /// `Enabled` or `Disabled`.
    pub public_network_access: PublicNetworkAccess,
    /// Its public endpoint first, then its private endpoints.
    pub endpoints: Vec<EndpointState>,
    /// Extra: `redis-cache` or `managed-redis`.
    #[serde(default)]
    pub flavour: Flavour,
    /// Extra: the privatelink host name.
    #[serde(default)]
    pub privatelink_hostname: String,
    /// Extra: whether the cache runs.
    #[serde(default)]
    pub running: bool,
    /// Extra: whether clients must AUTH.
    #[serde(default)]
    pub requirepass: bool,
    /// Extra: the engine's direct loopback listener (plain), when started with one (benchmarks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct: Option<SocketAddr>,
    /// Extra: the backend routed connections are proxied to, when the cache has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<SocketAddr>,
    /// Extra: the cache's nodes as az's `instances` (which one is primary now).
    #[serde(default)]
    pub instances: Vec<redlink_world::Instance>,
    /// Extra: a clustered cache's shards and per-node ports (docs/cluster-ports.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterState>,
}

/// A clustered cache as cluster clients see it: every endpoint stands for each node's ports too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// How many shards.
    pub shards: u16,
    /// `OSS` or `Enterprise` (managed-redis; a Premium cluster is always `OSS`).
    pub policy: ClusterPolicy,
    /// Each node's ports (node 0 first), the same on every endpoint of the cache.
    pub nodes: Vec<NodePorts>,
    /// The address clients are told instead of their endpoint's (`cluster_announce`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<Ipv4Addr>,
}

/// Public or private endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    /// The cache's public endpoint.
    Public,
    /// A private endpoint.
    Private,
}

/// One endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointState {
    /// `public` or the private endpoint's name.
    pub name: String,
    /// Public or private.
    pub kind: EndpointKind,
    /// The network of a private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Its address.
    pub address: Ipv4Addr,
    /// Every port it stands for (its verdict may still refuse).
    pub ports: Vec<u16>,
    /// The TLS ones among them.
    pub tls_ports: Vec<u16>,
    /// The connection state of a private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ConnectionState>,
    /// Extra: what each port does now, by port number.
    #[serde(default)]
    pub verdicts: BTreeMap<String, PortVerdict>,
}

/// What one port does for the host (127.0.0.1), and why; per network under `networks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortVerdict {
    /// `route`, `refuse`, `drop`, `reset` or `blackhole`: the primitive in force.
    pub verdict: Verdict,
    /// The world's explanation.
    pub reason: String,
    /// Extra: the same for clients of each network (by network name).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, SourcePortVerdict>,
}

/// What one port does for one network's clients, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePortVerdict {
    /// The primitive in force.
    pub verdict: Verdict,
    /// The world's verdict, when the edge had to carry it out differently (a fallback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_verdict: Option<Verdict>,
    /// The explanation.
    pub reason: String,
}

/// Where the world is, besides the world itself.
pub struct Whereabouts<'a> {
    /// The CA file.
    pub ca: &'a Path,
    /// The resolvers' addresses by network.
    pub resolvers: &'a [(String, SocketAddr)],
    /// The edge's ports.
    pub ports: &'a [PortStatus],
    /// The scenario file.
    pub scenario: &'a str,
    /// The address block.
    pub block: u8,
    /// The engines' direct loopback listeners, by cache.
    pub direct: &'a [(String, SocketAddr)],
    /// The backends' addresses, by cache (docs/backends.md).
    pub backends: &'a [(String, SocketAddr)],
}

impl StateFile {
    /// The state of `world` running at `at`.
    pub fn describe(world: &World, at: &Whereabouts<'_>) -> StateFile {
        let networks = world
            .networks
            .iter()
            .map(|n| {
                let resolver = at
                    .resolvers
                    .iter()
                    .find(|(name, _)| *name == n.name)
                    .map_or_else(
                        || SocketAddr::from((n.resolver, n.resolver_port.unwrap_or(0))),
                        |(_, a)| *a,
                    );
                (
                    n.name.clone(),
                    NetworkState {
                        resolver,
                        client_address: n.client_address,
                        peered_with: n.peered_with.clone(),
                        dns_forwarder: n.forwarder.as_ref().map(|f| f.name.clone()),
                    },
                )
            })
            .collect();
        let mut caches: BTreeMap<String, CacheState> = world
            .caches
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    CacheState {
                        hostname: c.host_name(),
                        public_network_access: c.public_network_access,
                        endpoints: Vec::new(),
                        flavour: c.flavour,
                        privatelink_hostname: c.privatelink_host_name(),
                        running: c.running,
                        requirepass: c.requirepass.is_some(),
                        instances: c.instances(),
                        direct: at
                            .direct
                            .iter()
                            .find(|(name, _)| *name == c.name)
                            .map(|(_, a)| *a),
                        backend: at
                            .backends
                            .iter()
                            .find(|(name, _)| *name == c.name)
                            .map(|(_, a)| *a),
                        cluster: c.shards.map(|shards| ClusterState {
                            shards,
                            policy: match c.flavour {
                                Flavour::RedisCache => ClusterPolicy::Oss,
                                Flavour::ManagedRedis => c.cluster_policy,
                            },
                            nodes: c.node_ports(),
                            announce: c.cluster_announce,
                        }),
                    },
                )
            })
            .collect();
        for e in world.endpoints() {
            let verdicts = at
                .ports
                .iter()
                .filter(|p| p.endpoint == e.id && p.address.ip() == e.address)
                .map(|p| {
                    (
                        p.address.port().to_string(),
                        PortVerdict {
                            verdict: p.verdict,
                            reason: p.reason.clone(),
                            networks: p
                                .sources
                                .iter()
                                .filter_map(|s| {
                                    let n = s.source.network()?;
                                    Some((
                                        n.to_owned(),
                                        SourcePortVerdict {
                                            verdict: s.action,
                                            world_verdict: (s.action != s.verdict)
                                                .then_some(s.verdict),
                                            reason: s.reason.clone(),
                                        },
                                    ))
                                })
                                .collect(),
                        },
                    )
                })
                .collect();
            let Some(cache) = caches.get_mut(&e.cache) else {
                continue;
            };
            cache.endpoints.push(EndpointState {
                name: e.id.name().to_owned(),
                kind: match e.id {
                    EndpointId::Public { .. } => EndpointKind::Public,
                    EndpointId::Private { .. } => EndpointKind::Private,
                },
                network: e.network,
                address: e.address,
                ports: e.ports,
                tls_ports: e.tls_ports,
                state: e.state,
                verdicts,
            });
        }
        StateFile {
            control: None,
            control_password: None,
            ca: at.ca.to_path_buf(),
            networks,
            caches,
            name: world.name.clone(),
            scenario: at.scenario.to_owned(),
            pid: std::process::id(),
            block: at.block,
            world: Some(world.clone()),
            host: world.host.clone(),
            net_namespace: net_namespace(),
            kernel_evidence: None,
        }
    }

    /// Reads a state file.
    pub fn read(path: &Path) -> std::io::Result<StateFile> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::StateFile {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes sure the directory of `path` can take redlink's files: the default state directory is
/// created 0700 or must pass [`redlink_engine::files::check_private_dir`]; another directory that
/// is missing is created (its last component 0700); an existing one the user chose is used as it
/// is (files in it are still created new and renamed into place).
pub fn ensure_parent(path: &Path) -> Result<(), RuntimeError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir == crate::options::default_state_dir() {
        return crate::options::ensure_default_state_dir().map_err(io_error(dir));
    }
    if std::fs::symlink_metadata(dir).is_ok() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    redlink_engine::files::private_dir(dir).map_err(io_error(dir))
}

/// Mode of the state file (it names cache passwords).
pub const STATE_MODE: u32 = 0o600;

/// Writes `bytes` to `path` atomically with `mode` (see [`redlink_engine::files::replace`]).
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), RuntimeError> {
    ensure_parent(path)?;
    redlink_engine::files::replace(path, bytes, mode).map_err(io_error(path))
}

/// The CA certificate's path for state file `state`: `STEM-ca.crt` next to it.
pub fn ca_path_for(state: &Path) -> PathBuf {
    let stem = state
        .file_stem()
        .map_or_else(|| "redlink".into(), |s| s.to_string_lossy().into_owned());
    state.with_file_name(format!("{stem}-ca.crt"))
}

/// Removes the state file and the CA certificate when dropped (also on panic), and the
/// `current.json` pointer if it still points at this state file.
#[derive(Debug)]
pub struct StateFiles {
    /// The state file.
    pub state: PathBuf,
    /// The CA certificate.
    pub ca: PathBuf,
    /// The stable pointer written next to a default-path state file.
    pub pointer: Option<PathBuf>,
}

impl StateFiles {
    /// Writes `state` as pretty JSON.
    pub fn write(&self, state: &StateFile) -> Result<(), RuntimeError> {
        let mut json = serde_json::to_vec_pretty(state)
            .map_err(|e| io_error(&self.state)(std::io::Error::other(e)))?;
        json.push(b'\n');
        write_atomically(&self.state, &json, STATE_MODE)
    }
}

impl StateFiles {
    /// Points `pointer` (a symbolic link in the same directory) at the state file, unless it
    /// points at another world that still runs (a second `up` does not take it over; that world
    /// removes it when it stops).
    pub fn write_pointer(&self) {
        let (Some(pointer), Some(target)) = (&self.pointer, self.state.file_name()) else {
            return;
        };
        let taken = std::fs::read_link(pointer).is_ok_and(|t| t != Path::new(target))
            && StateFile::read(pointer).is_ok_and(|other| {
                other.pid != std::process::id()
                    && Path::new(&format!("/proc/{}", other.pid)).exists()
            });
        if taken {
            return;
        }
        // symlink() never follows or reuses what is there: it fails if the name exists.
        let tmp = pointer.with_file_name(format!(".current.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(target, &tmp).is_ok()
            && std::fs::rename(&tmp, pointer).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

impl Drop for StateFiles {
    fn drop(&mut self) {
        if let Some(pointer) = &self.pointer
            && std::fs::read_link(pointer)
                .is_ok_and(|t| Some(t.as_os_str()) == self.state.file_name())
        {
            let _ = std::fs::remove_file(pointer);
        }
        let _ = std::fs::remove_file(&self.state);
        let _ = std::fs::remove_file(&self.ca);
    }
}
