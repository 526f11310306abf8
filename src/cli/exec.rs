//! `redlink exec [SCENARIO] --network NET -- COMMAND...`: runs an unmodified command inside a
//! simulated network (Linux, rootless). A new user + network + mount namespace holds the whole world
//! on its own loopback (the embedded quickstart without SCENARIO); the chosen network's resolver
//! answers on port 53 of its address, and the child sees a generated resolv.conf, hosts and
//! nsswitch.conf (see `redlink_exec`). The scenario's timeline runs while the child runs (steps and
//! changes on stderr). Inside, `REDLINK_STATE` names the world, and a nested
//! `redlink exec --network OTHER -- CMD` joins it with the other network's resolver instead of
//! starting another world.
//!
//! Exit codes: the child's own code (128 + signal when killed); 125 when redlink itself fails
//! (namespaces unavailable, bad scenario, unknown network), 126 when the command cannot be run,
//! 127 when it is not found — as `env` and shells do.
//!
//! Containment (see `redlink_exec`): the command runs in a PID namespace of its own under
//! `redlink __exec-init` (a private `/proc`, a private tmpfs over `/tmp` and `/dev/shm`), and dies
//! with redlink, even when redlink is SIGKILLed. redlink's files live in a new private directory
//! (`/tmp/redlink-exec-PIDNS-PID-RANDOM`, mode 0700, files created `O_EXCL | O_NOFOLLOW`), removed at
//! exit, and by the next exec when a SIGKILLed one left it behind.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

use redlink_dns::DnsViews;
use redlink_exec::{EXEC_NETNS_ENV, MountPlan, ResolverFiles, exit_code, private_mounts};
use redlink_runtime::{RunningWorld, StateFile, UpOptions};
use redlink_scenario::{Event, Pacing, RunOptions, run_timeline, text};
use redlink_world::{Scenario, World, quickstart};

/// Arguments of `redlink exec`.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The scenario file (TOML); without it, the embedded quickstart world. Ignored by a nested
    /// exec, which joins the world it runs in.
    pub scenario: Option<PathBuf>,
    /// The network the command runs in: its resolver answers the command's DNS queries.
    #[arg(long, value_name = "NET")]
    pub network: String,
    /// Run the scenario's timeline this many times faster than its `at` offsets say.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub speed: f64,
    /// Put a real Redis behind every cache instead of the embedded engine (docs/backends.md).
    #[arg(long, value_name = "KIND")]
    pub backend: Option<crate::cli::up::BackendChoice>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// redlink's own failure (not the child's).
const FAILED: u8 = 125;
/// The resolver port a child's resolv.conf implies.
const DNS_PORT: u16 = 53;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("redlink exec: {message}");
    ExitCode::from(FAILED)
}

/// Runs `redlink exec`. Must be called before any other thread exists (it unshares a user
/// namespace first, then starts its own runtime).
pub fn main(args: ExecArgs) -> ExitCode {
    if let Some(state) = joinable_world() {
        return join(&state, &args);
    }
    let scenario = match &args.scenario {
        Some(path) => match Scenario::load(path) {
            Ok(s) => s,
            Err(e) => return fail(e),
        },
        None => quickstart(),
    };
    // Directories a SIGKILLed exec left behind, then this one's (before the user namespace, where
    // file owners show differently).
    redlink_exec::remove_stale_dirs(&std::env::temp_dir());
    let dir = match files_dir() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if let Err(e) = redlink_exec::enter_world_namespaces() {
        let _ = std::fs::remove_dir_all(&dir);
        return fail(e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return fail(format!("cannot start the runtime: {e}"));
        }
    };
    runtime.block_on(run(scenario, args, dir))
}

/// The state file of the world this process runs inside, when it is inside an exec: both
/// `REDLINK_STATE` and the exec's network namespace marker are set, and the marker is this
/// process's network namespace.
fn joinable_world() -> Option<PathBuf> {
    let state = std::env::var_os("REDLINK_STATE").filter(|s| !s.is_empty())?;
    let marker: u64 = std::env::var(EXEC_NETNS_ENV).ok()?.parse().ok()?;
    (redlink_exec::net_namespace_id() == Some(marker)).then(|| PathBuf::from(state))
}

/// `REDLINK_<NAME>` for a cache name: upper case, anything but letters and digits as `_`.
fn env_name(cache: &str, what: &str) -> String {
    let name: String = cache
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("REDLINK_{name}_{what}")
}

/// The child's environment: the world, its CA, the network, and each cache's host name and
/// password (where it has one).
fn child_env(
    state_file: &Path,
    ca: &Path,
    network: &str,
    caches: &[(String, String, Option<String>)],
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("REDLINK_STATE".to_owned(), state_file.display().to_string());
    env.insert("REDLINK_CA".to_owned(), ca.display().to_string());
    env.insert("REDLINK_NETWORK".to_owned(), network.to_owned());
    if let Some(id) = redlink_exec::net_namespace_id() {
        env.insert(EXEC_NETNS_ENV.to_owned(), id.to_string());
    }
    for (name, host, password) in caches {
        env.insert(env_name(name, "HOST"), host.clone());
        if let Some(p) = password {
            env.insert(env_name(name, "PASSWORD"), p.clone());
        }
    }
    env
}

/// Each cache's name, host name and password.
fn caches_of(world: &World) -> Vec<(String, String, Option<String>)> {
    world
        .caches
        .iter()
        .map(|c| (c.name.clone(), c.host_name(), c.requirepass.clone()))
        .collect()
}

/// The command, under `redlink __exec-init` (see `redlink_exec::init`) in a mount namespace of its
/// own with the resolver files of `nameserver`; `keep` are the directories the command must still
/// see under its private /tmp (the world's state file and CA).
fn child_command(
    args: &ExecArgs,
    dir: &Path,
    nameserver: IpAddr,
    env: &BTreeMap<String, String>,
    keep: &[&Path],
) -> Result<Command, String> {
    let IpAddr::V4(ns) = nameserver else {
        return Err(format!("resolver address {nameserver} is not IPv4"));
    };
    let files = ResolverFiles::write(dir, ns)
        .map_err(|e| format!("cannot write the resolver files in {}: {e}", dir.display()))?;
    let plan = MountPlan::prepare(&files).map_err(|e| e.to_string())?;
    for note in &plan.notes {
        tracing::debug!("{note}");
    }
    if args.command.is_empty() {
        return Err("no command given (put it after --)".to_owned());
    }
    // The running binary itself (even if its file was replaced since), as the namespace's init.
    let mut command = Command::new("/proc/self/exe");
    command.arg(redlink_exec::init::SUBCOMMAND);
    for k in keep {
        command.arg("--keep").arg(k);
    }
    command.arg("--").args(&args.command).envs(env);
    private_mounts(&mut command, Arc::new(plan));
    Ok(command)
}

fn spawn_error(program: &str, e: &io::Error) -> ExitCode {
    eprintln!("redlink exec: cannot run {program:?}: {e}");
    ExitCode::from(match e.kind() {
        io::ErrorKind::NotFound => 127,
        io::ErrorKind::PermissionDenied => 126,
        _ => FAILED,
    })
}

/// A new private directory (0700, never an existing one) for the world's and the child's files:
/// `$TMPDIR/redlink-exec-PIDNS-PID-RANDOM`.
fn files_dir() -> Result<PathBuf, String> {
    redlink_engine::files::new_private_dir(&std::env::temp_dir(), &redlink_exec::dir_prefix())
        .map_err(|e| e.to_string())
}

/// A nested exec: the world runs already (this process is in its network namespace); only a new
/// mount namespace with `network`'s resolver (and, as for every exec, a PID namespace under
/// `redlink __exec-init` with its own /tmp, where the world's directory stays visible).
fn join(state_file: &Path, args: &ExecArgs) -> ExitCode {
    let state = match StateFile::read(state_file) {
        Ok(s) => s,
        Err(e) => {
            return fail(format!(
                "cannot read the world's state file {}: {e}",
                state_file.display()
            ));
        }
    };
    let Some(net) = state.networks.get(&args.network) else {
        return fail(unknown_network(&args.network, state.networks.keys()));
    };
    let password = |cache: &str| {
        state
            .world
            .as_ref()
            .and_then(|w| w.caches.iter().find(|c| c.name == cache))
            .and_then(|c| c.requirepass.clone())
    };
    let caches: Vec<(String, String, Option<String>)> = state
        .caches
        .iter()
        .map(|(name, c)| (name.clone(), c.hostname.clone(), password(name)))
        .collect();
    let env = child_env(state_file, &state.ca, &args.network, &caches);
    let dir = match files_dir() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let world_dir = state_file.parent().unwrap_or(Path::new("/"));
    let ca_dir = state.ca.parent().unwrap_or(Path::new("/"));
    let result = child_command(
        args,
        &dir.join("child"),
        net.resolver.ip(),
        &env,
        &[world_dir, ca_dir],
    )
    .map(|c| {
        redlink_exec::spawn_contained(c, true).and_then(|child| {
            child
                .waiter
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the waiting thread panicked")))
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Err(e) => fail(e),
        Ok(Err(e)) => spawn_error(&args.command[0], &e),
        Ok(Ok(status)) => ExitCode::from(exit_code(status)),
    }
}

fn unknown_network<'a>(network: &str, known: impl Iterator<Item = &'a String>) -> String {
    let known: Vec<&str> = known.map(String::as_str).collect();
    format!(
        "no network {network:?} in this world (networks: {})",
        known.join(", ")
    )
}

/// Inside the namespaces: start the world, make every network's resolver answer on port 53, run the
/// child while the timeline runs, stop the world, pass the child's exit code on.
async fn run(scenario: Scenario, args: ExecArgs, dir: PathBuf) -> ExitCode {
    let state_file = dir.join("state.json");
    let options = UpOptions {
        state_file: Some(state_file.clone()),
        dns_port: DNS_PORT,
        backend: args.backend.map(crate::cli::up::BackendChoice::backend),
        ..UpOptions::default()
    };
    let world = match RunningWorld::start(&scenario, options).await {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return fail(e);
        }
    };
    let code = with_world(&world, &scenario, &args, &dir, &state_file).await;
    if let Err(e) = world.shutdown().await {
        eprintln!("redlink exec: while stopping the world: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    code
}

async fn with_world(
    world: &RunningWorld,
    scenario: &Scenario,
    args: &ExecArgs,
    dir: &Path,
    state_file: &Path,
) -> ExitCode {
    let model = world.world();
    let Some(resolver) = world.resolver(&args.network) else {
        return fail(unknown_network(
            &args.network,
            model.networks.iter().map(|n| &n.name),
        ));
    };
    // Resolvers pinned to another port by the scenario also answer on port 53 (a nested exec
    // relies on every network's resolver being there).
    let extra: Vec<(String, SocketAddr)> = world
        .resolvers()
        .iter()
        .filter(|(_, a)| a.port() != DNS_PORT)
        .map(|(n, a)| (n.clone(), SocketAddr::new(a.ip(), DNS_PORT)))
        .collect();
    let extra_views = if extra.is_empty() {
        None
    } else {
        match DnsViews::start(world.subscribe(), extra).await {
            Ok(v) => Some(v),
            Err(e) => return fail(format!("cannot open the resolvers on port 53: {e}")),
        }
    };
    let caches = caches_of(&model);
    let env = child_env(state_file, world.ca_file(), &args.network, &caches);
    let keep = [dir];
    let code = match child_command(args, &dir.join("child"), resolver.ip(), &env, &keep) {
        Err(e) => fail(e),
        Ok(command) => run_child(world, scenario, args, command).await,
    };
    if let Some(v) = extra_views {
        let _ = v.shutdown().await;
    }
    code
}

async fn run_child(
    world: &RunningWorld,
    scenario: &Scenario,
    args: &ExecArgs,
    command: Command,
) -> ExitCode {
    // Signals are taken before the command starts, so a SIGTERM that arrives at once is forwarded
    // to it rather than killing redlink with the default action.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    // Ctrl-C reaches the child through the terminal's process group; redlink waits for it.
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let child = match redlink_exec::spawn_contained(command, true) {
        Ok(c) => c,
        Err(e) => return spawn_error(&args.command[0], &e),
    };
    let pid = child.pid;
    let waiter = child.waiter;
    let wait = tokio::task::spawn_blocking(move || {
        waiter
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the waiting thread panicked")))
    });
    tokio::pin!(wait);
    let timeline = timeline(world, scenario, args.speed);
    tokio::pin!(timeline);
    // A cache whose engine stops shows as stopped at once (see RunningWorld::reconcile).
    let engines = world.watch_engines();
    tokio::pin!(engines);
    loop {
        tokio::select! {
            status = &mut wait => {
                return match status {
                    Ok(Ok(s)) => ExitCode::from(exit_code(s)),
                    Ok(Err(e)) => fail(format!("waiting for the command: {e}")),
                    Err(e) => fail(format!("waiting for the command: {e}")),
                };
            }
            () = &mut timeline => {}
            () = &mut engines => {}
            Some(()) = recv(&mut term) => {
                redlink_exec::terminate(pid);
            }
            Some(()) = recv(&mut int) => {}
        }
    }
}

async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// The scenario's timeline, reported on stderr (stdout belongs to the child); then never completes.
async fn timeline(world: &RunningWorld, scenario: &Scenario, speed: f64) {
    if !scenario.steps().is_empty() {
        let options = RunOptions {
            pacing: Pacing::RealTime { speed },
            ..RunOptions::default()
        };
        run_timeline(world, scenario, &options, |event| match event {
            Event::Phase(Some(step)) => eprintln!("redlink exec: step {:?}", step.name),
            Event::Change(c) => eprintln!("{}", text::change(c, "redlink exec:   ").trim_end()),
            Event::Expectation(e) if !e.passed => {
                eprintln!("{}", text::expectation(e, "redlink exec:   ").trim_end());
            }
            _ => {}
        })
        .await;
    }
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_become_variable_names() {
        assert_eq!(env_name("contoso", "HOST"), "REDLINK_CONTOSO_HOST");
        assert_eq!(
            env_name("my-cache.2", "PASSWORD"),
            "REDLINK_MY_CACHE_2_PASSWORD"
        );
    }
}
