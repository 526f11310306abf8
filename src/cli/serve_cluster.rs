//! `redlink serve --cluster N [--cluster-replicas R]`: a Redis Cluster of N primaries (and R
//! replicas each) in one process, nodes on ports P..P+N(1+R)-1 (and TLS ports from T with
//! `--tls-port T`): the primaries first, then the replicas (node `N + i` replicates primary
//! `i mod N`, each following it with Redis's replication over loopback), slots split as
//! `redis-cli --cluster create` splits them, ready at once (no gossip to wait for). Each node is an engine with the
//! same configuration, its own listeners and its own persistence files; the nodes share one
//! `ClusterTopology` (crates/engine/src/cluster). See docs/cluster.md.

use std::process::ExitCode;

use redlink_engine::cluster::{ClusterTopology, NodeSpec};
use redlink_engine::{Config, Engine, Server};

/// The largest `--cluster` node count (Redis's documented scaling limit is 1000 nodes).
pub const MAX_NODES: usize = 1000;

/// Cluster options taken out of `serve`'s arguments.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClusterArgs {
    /// Number of primaries.
    pub nodes: usize,
    /// Replicas per primary (`--cluster-replicas`, redis-cli's flag).
    pub replicas: usize,
}

impl ClusterArgs {
    /// Every node, primaries and replicas.
    pub fn total(&self) -> usize {
        self.nodes * (1 + self.replicas)
    }

    /// Node `i`'s primary (`None` for a primary).
    pub fn replica_of(&self, i: usize) -> Option<usize> {
        (i >= self.nodes).then(|| (i - self.nodes) % self.nodes)
    }
}

/// Take `--cluster N` and `--cluster-replicas R` out of `args`; `Ok(None)` without `--cluster`.
pub fn take_args(args: &mut Vec<String>) -> Result<Option<ClusterArgs>, String> {
    let mut nodes = None;
    let mut replicas = None;
    let mut i = 0;
    while i < args.len() {
        let name = args[i].as_str();
        if name == "--cluster" || name == "--cluster-replicas" {
            let value = args
                .get(i + 1)
                .cloned()
                .ok_or_else(|| format!("{name} takes a number"))?;
            if name == "--cluster-replicas" {
                let r: usize = value.parse().map_err(|_| {
                    format!("--cluster-replicas takes a replica count per primary, not '{value}'")
                })?;
                replicas = Some(r);
                args.drain(i..i + 2);
                continue;
            }
            let n: usize = value.parse().map_err(|_| {
                format!("--cluster takes a node count from 1 to {MAX_NODES}, not '{value}'")
            })?;
            if !(1..=MAX_NODES).contains(&n) {
                return Err(format!(
                    "--cluster takes a node count from 1 to {MAX_NODES}, not {n}"
                ));
            }
            nodes = Some(n);
            args.drain(i..i + 2);
            continue;
        }
        i += 1;
    }
    match (nodes, replicas) {
        (None, Some(_)) => Err("--cluster-replicas needs --cluster N".into()),
        (None, None) => Ok(None),
        (Some(nodes), r) => {
            let replicas = r.unwrap_or(0);
            let total = nodes.saturating_mul(1 + replicas);
            if total > MAX_NODES {
                return Err(format!(
                    "--cluster {nodes} --cluster-replicas {replicas} makes {total} nodes; a cluster has at most {MAX_NODES}"
                ));
            }
            Ok(Some(ClusterArgs { nodes, replicas }))
        }
    }
}

/// The per-node configurations: ports shifted by the node's index, persistence files named by
/// the node's port so the nodes never share one.
pub fn node_configs(base: &Config, nodes: usize) -> Result<Vec<Config>, String> {
    let (port, tls_port) = (base.port() as usize, base.tls_port() as usize);
    if port == 0 && tls_port == 0 {
        return Err(
            "--cluster needs --port (or --tls-port): the nodes listen on consecutive ports".into(),
        );
    }
    for p in [port, tls_port] {
        if p != 0 && p + nodes - 1 > u16::MAX as usize {
            return Err(format!(
                "--cluster {nodes} from port {p} goes past port 65535"
            ));
        }
    }
    (0..nodes)
        .map(|i| {
            let mut c = base.clone();
            let shift = |p: usize| if p == 0 { 0 } else { p + i };
            let node_port = shift(port).to_string();
            let set = |c: &mut Config, name: &str, value: &str| {
                c.set_startup(name, value)
                    .map_err(|e| format!("node {i}: {name} {value}: {e:?}"))
            };
            set(&mut c, "port", &node_port)?;
            set(&mut c, "tls-port", &shift(tls_port).to_string())?;
            let tag = if port != 0 {
                shift(port)
            } else {
                shift(tls_port)
            };
            set(&mut c, "dbfilename", &format!("dump-{tag}.rdb"))?;
            set(&mut c, "appenddirname", &format!("appendonlydir-{tag}"))?;
            Ok(c)
        })
        .collect()
}

/// The address the nodes announce: the first specific bind address, else 127.0.0.1.
fn announce_host(config: &Config) -> String {
    config
        .bind()
        .iter()
        .map(|a| a.trim_start_matches('-'))
        .find(|a| {
            a.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| !ip.is_unspecified())
        })
        .unwrap_or("127.0.0.1")
        .to_string()
}

/// Run the cluster until SIGINT/SIGTERM (or every node got SHUTDOWN).
pub fn main(config: Config, cluster: ClusterArgs) -> ExitCode {
    let configs = match node_configs(&config, cluster.total()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redlink serve: {e}");
            return ExitCode::from(2);
        }
    };
    if config.tls_auto.is_some() {
        eprintln!(
            "redlink serve: --tls-auto is not supported with --cluster; give --tls-cert-file/--tls-key-file"
        );
        return ExitCode::from(2);
    }
    let process = match super::serve_process::Process::start(&config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("redlink serve: {e}");
            return ExitCode::from(1);
        }
    };
    // Each node serves on `io-threads` threads, as that many redis-server processes would.
    let threads = super::serve::io_threads(&config).saturating_mul(configs.len().max(1));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redlink serve: cannot start runtime: {e}");
            process.stop();
            return ExitCode::from(1);
        }
    };
    let host = announce_host(&config);
    runtime.block_on(async move {
        let mut signals = crate::cli::Signals::take();
        let specs = configs
            .iter()
            .map(|c| NodeSpec {
                host: host.clone(),
                port: c.port(),
                tls_port: c.tls_port(),
            })
            .collect();
        let roles: Vec<Option<usize>> = (0..cluster.total()).map(|i| cluster.replica_of(i)).collect();
        let topology = match ClusterTopology::with_layout(specs, &roles) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("redlink serve: {e}");
                process.stop();
                return ExitCode::from(1);
            }
        };
        let mut servers = Vec::new();
        let mut engines = Vec::new();
        for (i, c) in configs.into_iter().enumerate() {
            let engine = Engine::new(c);
            if let Err(e) = topology.attach(i, &engine) {
                eprintln!("redlink serve: node {i}: {e}");
                return ExitCode::from(1);
            }
            if let Err(e) = redlink_engine::persist::rdb_save::load_at_start(&engine) {
                eprintln!("redlink serve: node {i}: Fatal error loading the DB: {e}. Exiting.");
                return ExitCode::from(1);
            }
            match Server::start(engine.clone()) {
                Ok(s) => {
                    for l in s.listeners() {
                        process.notice(format_args!(
                            "Cluster node {i} ({}) ready to accept connections {} on {}",
                            topology.node(i).map(|n| n.id).unwrap_or_default(),
                            if l.tls { "tls" } else { "tcp" },
                            l.addr
                        ));
                    }
                    servers.push(s);
                }
                Err(e) => {
                    eprintln!("redlink serve: node {i}: {e}");
                    for e in &engines {
                        Engine::shutdown(e);
                    }
                    process.stop();
                    return ExitCode::from(1);
                }
            }
            engines.push(engine);
        }
        // Every node listens: the replicas follow their primaries.
        for (i, engine) in engines.iter().enumerate() {
            if let Some(p) = cluster.replica_of(i)
                && let Err(e) = topology.follow(engine, i, p)
            {
                eprintln!("redlink serve: node {i} cannot replicate node {p}: {e}");
                for e in &engines {
                    Engine::shutdown(e);
                }
                process.stop();
                return ExitCode::from(1);
            }
        }
        process.notice(format_args!(
            "Ready to accept connections: a cluster of {} primaries and {} replicas, slots split evenly",
            cluster.nodes,
            cluster.total() - cluster.nodes
        ));
        process.ready();
        let stoppers = engines.clone();
        tokio::spawn(async move {
            signals.recv().await;
            for e in &stoppers {
                e.shutdown();
            }
        });
        for s in servers {
            s.wait().await;
        }
        process.notice(format_args!("redlink serve: bye"));
        process.stop();
        ExitCode::SUCCESS
    })
}
