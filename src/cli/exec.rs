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
use redlink_runtime::{
    ControlLimits, ControlListener, RunningWorld, StateFile, UpOptions, generate_control_password,
};
use redlink_scenario::{Event, Pacing, RunOptions, run_timeline, text};
use redlink_world::{HostPosition, Scenario, World, quickstart};

/// Arguments of `redlink exec`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Which world: inside an exec, the world it runs in. Otherwise, without SCENARIO, \
a running `redlink up` world when one is found (--state-file, else $REDLINK_STATE, else the \
current.json link `up` keeps): the command joins it, so `redlink ctl` changes in another terminal \
reach it at once. With SCENARIO, --new-world, or no running world: a world of its own, with its own \
control API (its address and password are in $REDLINK_STATE; `redlink ctl --state-file` reaches it \
from outside too). exec says on stderr which world it joined."
)]
pub struct ExecArgs {
    /// The scenario file (TOML) of a world of the exec's own; without it, a running world is
    /// joined when one is found, else the embedded quickstart. Ignored by a nested exec, which
    /// joins the world it runs in.
    pub scenario: Option<PathBuf>,
    /// Join the running world of this state file (`redlink up --state-file F`).
    #[arg(long, value_name = "F", conflicts_with_all = ["scenario", "new_world"])]
    pub state_file: Option<PathBuf>,
    /// Join the running world with this id or name (see `redlink ls`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["scenario", "new_world", "state_file"])]
    pub world: Option<String>,
    /// Start a world of the exec's own even when a `redlink up` world runs.
    #[arg(long)]
    pub new_world: bool,
    /// The network the command runs in: its resolver answers the command's DNS queries.
    #[arg(long, value_name = "NET")]
    pub network: String,
    /// Run the scenario's timeline this many times faster than its `at` offsets say.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub speed: f64,
    /// Run the timeline step by step: each step waits for `redlink ctl next` (from inside or
    /// outside), as in `up --step`; nothing changes on its own. The client matrix
    /// (clients/README.md) uses it to apply a scenario's steps when its drivers say so.
    #[arg(long, conflicts_with = "speed")]
    pub step: bool,
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
    if args.scenario.is_none() && !args.new_world {
        match host_world(args.state_file.as_deref(), args.world.as_deref()) {
            Ok(Some((path, state))) => return join_host(path, state, args),
            Ok(None) => {}
            Err(e) => return fail(e),
        }
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
    // Listed by `redlink ls` (and found by `--world`) while it runs.
    let stem = Path::new(scenario.file())
        .file_stem()
        .map_or_else(|| "exec".to_owned(), |s| s.to_string_lossy().into_owned());
    let _registered = crate::cli::worlds::register(&dir.join("state.json"), &stem);
    // The control API's host side, bound before the namespace is entered: `redlink ctl` outside
    // reaches the world through it (inside, the same address answers directly).
    let control = match std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
    {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return fail(format!("cannot open the control API: {e}"));
        }
    };
    let runtime = match enter(&dir) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(run(scenario, args, dir, control))
}

/// Enters the namespaces and starts the runtime (removing `dir` on failure).
fn enter(dir: &Path) -> Result<tokio::runtime::Runtime, ExitCode> {
    if let Err(e) = redlink_exec::enter_world_namespaces() {
        let _ = std::fs::remove_dir_all(dir);
        return Err(fail(e));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            let _ = std::fs::remove_dir_all(dir);
            fail(format!("cannot start the runtime: {e}"))
        })
}

/// A world running in this network namespace that the command should join: the state file of
/// `explicit` (which must be such a world), else the one `probe` and `ctl` would find, when its
/// process still runs. `None`: start a world of the exec's own.
fn host_world(
    explicit: Option<&Path>,
    world: Option<&str>,
) -> Result<Option<(PathBuf, StateFile)>, String> {
    let path = match crate::cli::worlds::locate(explicit, world) {
        Ok(p) => p,
        // A choice that finds nothing, or several worlds and no choice, is an error; no world at
        // all means a world of the exec's own.
        Err(e) if world.is_some() || crate::cli::worlds::running().len() > 1 => return Err(e),
        Err(_) => return Ok(None),
    };
    // The file itself, not the current.json link, which may later point at another world.
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    // A world named with --world must be joinable, as one named with --state-file.
    let explicit = explicit.or(world.map(|_| path.as_path()));
    let state = match StateFile::read(&path) {
        Ok(s) => s,
        Err(e) if explicit.is_some() => {
            return Err(format!(
                "cannot read the world's state file {}: {e}",
                path.display()
            ));
        }
        Err(_) => return Ok(None),
    };
    let alive = i32::try_from(state.pid).is_ok_and(redlink_exec::process_exists);
    let here = state
        .net_namespace
        .is_none_or(|n| Some(n) == redlink_runtime::net_namespace());
    match (alive && here, explicit) {
        (true, _) => Ok(Some((path, state))),
        (false, Some(_)) if !here => Err(format!(
            "the world of {} runs inside another exec's namespace, whose addresses cannot be reached from here (run the command with that exec, or drive it with `redlink ctl`)",
            path.display()
        )),
        (false, Some(_)) => Err(format!(
            "the world of {} is not running (process {} is gone)",
            path.display(),
            state.pid
        )),
        (false, None) => Ok(None),
    }
}

/// Joins a world running on the host: the command gets a namespace of its own where the
/// [`bridge`](crate::cli::bridge) makes the world's resolvers, endpoints and control API appear.
fn join_host(state_file: PathBuf, state: StateFile, args: ExecArgs) -> ExitCode {
    if !state.networks.contains_key(&args.network) {
        return fail(unknown_network(&args.network, state.networks.keys()));
    }
    // The helper that makes host sockets, forked while this process is single-threaded and still
    // in the host's namespaces.
    let host = match redlink_exec::host::HostSockets::fork() {
        Ok(h) => Arc::new(h),
        Err(e) => return fail(format!("cannot start the host socket helper: {e}")),
    };
    redlink_exec::remove_stale_dirs(&std::env::temp_dir());
    let dir = match files_dir() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let runtime = match enter(&dir) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = runtime.block_on(async {
        let bridge = match crate::cli::bridge::Bridge::open(host, &state_file, &state).await {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        eprintln!(
            "redlink exec: joined world {} (process {}, state file {}) in network {}",
            state.name.as_deref().unwrap_or("(unnamed)"),
            state.pid,
            state_file.display(),
            args.network
        );
        let caches = state_caches(&state);
        let env = child_env(&state_file, &state.ca, &args.network, &caches);
        let world_dir = state_file.parent().unwrap_or(Path::new("/"));
        let ca_dir = state.ca.parent().unwrap_or(Path::new("/"));
        let Some(net) = state.networks.get(&args.network) else {
            return fail(unknown_network(&args.network, state.networks.keys()));
        };
        match child_command(
            &args,
            &dir.join("child"),
            net.resolver.ip(),
            &env,
            &[world_dir, ca_dir, &dir],
        ) {
            Err(e) => fail(e),
            Ok(command) => supervise(&args, command, bridge.follow()).await,
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    code
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
    let caches = state_caches(&state);
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

/// Each cache's name, host name and password, from a state file.
fn state_caches(state: &StateFile) -> Vec<(String, String, Option<String>)> {
    let password = |cache: &str| {
        state
            .world
            .as_ref()
            .and_then(|w| w.caches.iter().find(|c| c.name == cache))
            .and_then(|c| c.requirepass.clone())
    };
    state
        .caches
        .iter()
        .map(|(name, c)| (name.clone(), c.hostname.clone(), password(name)))
        .collect()
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
async fn run(
    scenario: Scenario,
    args: ExecArgs,
    dir: PathBuf,
    host_control: std::net::TcpListener,
) -> ExitCode {
    let state_file = dir.join("state.json");
    let failed = |e: String| {
        let _ = std::fs::remove_dir_all(&dir);
        fail(e)
    };
    let control_addr = match host_control.local_addr() {
        Ok(a) => a,
        Err(e) => return failed(format!("cannot open the control API: {e}")),
    };
    // Inside, the control API listens at the same address as its host side.
    let control = match ControlListener::bind(Some(control_addr)).await {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let password = match generate_control_password() {
        Ok(p) => p,
        Err(e) => return failed(format!("cannot generate the control password: {e}")),
    };
    let options = UpOptions {
        state_file: Some(state_file.clone()),
        dns_port: DNS_PORT,
        // The command's connections come from 127.0.0.1 in the namespace: the host is in NET.
        host: Some(HostPosition::Network(args.network.clone())),
        control: Some(control_addr),
        control_password: Some(password.clone()),
        backend: args.backend.map(crate::cli::up::BackendChoice::backend),
        ..UpOptions::default()
    };
    let world = match RunningWorld::start(&scenario, options).await {
        Ok(w) => Arc::new(w),
        Err(e) => return failed(e.to_string()),
    };
    let server = control.serve(world.clone(), Some(password), ControlLimits::default());
    let forward = match tokio::net::TcpListener::from_std(host_control) {
        Ok(l) => Some(tokio::spawn(forward_control(l, control_addr))),
        Err(e) => {
            eprintln!("redlink exec: the control API is not reachable from outside: {e}");
            None
        }
    };
    let code = with_world(&world, &scenario, &args, &dir, &state_file).await;
    if let Some(f) = forward {
        f.abort();
    }
    server.shutdown().await;
    match Arc::try_unwrap(world) {
        Ok(world) => {
            if let Err(e) = world.shutdown().await {
                eprintln!("redlink exec: while stopping the world: {e}");
            }
        }
        Err(_) => eprintln!("redlink exec: the world is still in use; stopping it on exit"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    code
}

/// Relays connections to the control API's host-side listener (bound before the namespace was
/// entered) to the control API inside.
async fn forward_control(host: tokio::net::TcpListener, inside: SocketAddr) {
    loop {
        let Ok((mut outer, _)) = host.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut inner) = tokio::net::TcpStream::connect(inside).await {
                let _ = tokio::io::copy_bidirectional(&mut outer, &mut inner).await;
            }
        });
    }
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
        Ok(command) => {
            let background = async {
                let timeline = timeline(world, scenario, args.speed, args.step);
                // A cache whose engine stops shows as stopped at once (see RunningWorld::reconcile).
                let engines = world.watch_engines();
                tokio::join!(timeline, engines);
            };
            supervise(args, command, background).await
        }
    };
    if let Some(v) = extra_views {
        let _ = v.shutdown().await;
    }
    code
}

/// Runs the command to its end while `background` (the timeline, the bridge…) runs; forwards
/// SIGTERM to it.
async fn supervise(
    args: &ExecArgs,
    command: Command,
    background: impl std::future::Future<Output = ()>,
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
    let background = async {
        background.await;
        std::future::pending::<()>().await;
    };
    tokio::pin!(background);
    loop {
        tokio::select! {
            status = &mut wait => {
                return match status {
                    Ok(Ok(s)) => ExitCode::from(exit_code(s)),
                    Ok(Err(e)) => fail(format!("waiting for the command: {e}")),
                    Err(e) => fail(format!("waiting for the command: {e}")),
                };
            }
            () = &mut background => {}
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

/// The scenario's timeline, reported on stderr (stdout belongs to the child), paced at `speed` or
/// (`stepped`) each step when `redlink ctl next` releases it; then never completes.
async fn timeline(world: &RunningWorld, scenario: &Scenario, speed: f64, stepped: bool) {
    if !scenario.steps().is_empty() {
        let options = RunOptions {
            pacing: if stepped {
                Pacing::Stepped
            } else {
                Pacing::RealTime { speed }
            },
            ..RunOptions::default()
        };
        let started = std::time::Instant::now();
        run_timeline(world, scenario, &options, |event| match event {
            // When it ran (since the exec started) and when the file says it should.
            Event::Phase(Some(step)) => eprintln!(
                "redlink exec: [+{:.1}s] step {:?}{}",
                started.elapsed().as_secs_f64(),
                step.name,
                step.at
                    .map(|at| format!(" (at {:.1}s in the file)", at.as_secs_f64()))
                    .unwrap_or_default()
            ),
            Event::Waiting(step) => eprintln!(
                "redlink exec: next: step {:?} waits for `redlink ctl next`",
                step.name
            ),
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
