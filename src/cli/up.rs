//! `redlink up [SCENARIO] [--state-file F] [--for DURATION] [--speed N] [--control ADDR]
//! [--control-password P] [--events FILE [--events-max-size SIZE]] [--ui [ADDR]]`: brings a world up (the
//! embedded quickstart without SCENARIO) with its control API (`redlink ctl`, any Redis client; a
//! generated password in the state file unless `--control-password` gives one, or `''` none),
//! prints where everything is and commands to try, writes events as JSON lines to `--events`
//! (bounded: FILE is renamed FILE.1 when it reaches the size, so the two never hold more than
//! twice it), runs the scenario's timeline paced in
//! real time (see `cli::timeline`), scores the lab's exercises after every change (for
//! `redlink ctl lab status`, `redlink lab` and the dashboard), serves the dashboard with `--ui`
//! (`redlink_ui`; loopback, port 0 = a free one, printed as `dashboard: http://…/`), and runs until Ctrl-C, SIGTERM or the end of `--for`. Exit codes: 0 normal stop, 2 bad input (scenario errors
//! with file:line:column, bad duration), 1 runtime failure (a port in use…).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use redlink_runtime::{
    ControlLimits, ControlListener, ControlServer, EndpointKind, EventStream, RunningWorld,
    StateFile, UpOptions, generate_control_password,
};
use redlink_scenario::{LabReport, Timeouts, follow_lab};
use redlink_ui::{Dashboard, DashboardOptions, TimelineBoard};
use redlink_world::{HostPosition, Scenario, Verdict, quickstart};

use crate::cli::{say, timeline};

/// What `--backend` puts behind every cache (overriding the scenario's `backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// A `redis-server --save ""` that redlink starts on a free loopback port per cache.
    RedisServer,
}

impl BackendChoice {
    /// The backend it stands for.
    pub fn backend(self) -> redlink_world::Backend {
        match self {
            BackendChoice::RedisServer => redlink_runtime::redis_server_backend(),
        }
    }
}

/// `up --clock`: how the world's clock moves.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// Wall time (scaled by `--speed`).
    Real,
    /// Moves only when told.
    Manual,
}

/// Arguments of `redlink up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// The scenario file (TOML); without it, the embedded quickstart world.
    pub scenario: Option<PathBuf>,
    /// Where to write the state file (default: a per-user runtime directory, printed at start).
    #[arg(long, value_name = "F")]
    pub state_file: Option<PathBuf>,
    /// Stop after this long (e.g. 500ms, 30s, 2m, 1h; a bare number is seconds).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Also expose each cache's engine on a direct 127.0.0.1 port (plain, no edge), listed as
    /// `caches.*.direct` in the state file: for benchmarks (benches/edge.sh).
    #[arg(long, hide = true)]
    pub direct_engines: bool,
    /// Put a real Redis behind every cache instead of the embedded engine (docs/backends.md).
    #[arg(long, value_name = "KIND")]
    pub backend: Option<BackendChoice>,
    /// Run the scenario's timeline this many times faster than its `at` offsets say (the world's
    /// clock runs that much faster: DNS TTLs shorten alike).
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub speed: f64,
    /// The world's one clock (DNS caches, engines, the timeline): `real` (wall time, `--speed`
    /// times faster) or `manual` (starts at wall time and moves only by `redlink ctl clock advance`,
    /// a timeline step's `advance`, or DEBUG CLOCK on a cache; docs/clock.md).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ClockMode::Real)]
    pub clock: ClockMode,
    /// Run the timeline step by step (labs): each step waits for Enter in this terminal or
    /// `redlink ctl next` (its `at` is ignored).
    #[arg(long, conflicts_with = "speed")]
    pub step: bool,
    /// Where the control API listens (loopback only; default 127.0.0.1 on a free port).
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// The control API's password (AUTH). Default: a generated one, written to the state file's
    /// `control_password` (where `redlink ctl` finds it); `''` requires none.
    #[arg(
        long,
        value_name = "P",
        env = "REDLINK_CONTROL_PASSWORD",
        hide_env_values = true
    )]
    pub control_password: Option<String>,
    /// Write every event (DNS answers, connection verdicts, changes) as JSON lines to FILE. The
    /// file is bounded: when it reaches --events-max-size it is renamed FILE.1 (replacing the
    /// previous FILE.1) and a new FILE starts, so at most twice that size is kept.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// The size at which the --events file is rotated (e.g. 512k, 16m, 1g; bytes without a
    /// unit; at least 4k).
    #[arg(long, value_name = "SIZE", default_value = "16m", value_parser = parse_size)]
    pub events_max_size: u64,
    /// Serve the lab dashboard (a live page of the world, its events, timeline, exercises and
    /// actions, plus /metrics for Prometheus) on ADDR, loopback only; without ADDR
    /// 127.0.0.1 on a free port. Prints `dashboard: http://ADDR/`.
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        default_missing_value = "127.0.0.1:0",
        value_parser = parse_ui_addr
    )]
    pub ui: Option<SocketAddr>,
}

/// `--ui`'s address: `IP:PORT`, a bare `PORT` (on 127.0.0.1) or a bare loopback IP (free port).
pub fn parse_ui_addr(text: &str) -> Result<SocketAddr, String> {
    let addr = if let Ok(a) = text.parse::<SocketAddr>() {
        a
    } else if let Ok(port) = text.parse::<u16>() {
        SocketAddr::from(([127, 0, 0, 1], port))
    } else if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        SocketAddr::new(ip, 0)
    } else {
        return Err(format!(
            "{text:?} is not an address (try 127.0.0.1:8080, 8080, or nothing for a free port; a scenario goes before --ui)"
        ));
    };
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address: the dashboard listens on 127.0.0.0/8 or ::1 only"
        ));
    }
    Ok(addr)
}

/// Parses `4096`, `512k`, `16m`, `1g` (powers of 1024), at least 4 KiB.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 512k, 16m or 1g)"))?;
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use k, m or g)")),
    };
    let size = n
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if size < 4096 {
        return Err(format!("{text:?} is below the minimum of 4k"));
    }
    Ok(size)
}

/// Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    // The scenario file's durations (`at = "30s"`) and `--for` read the same way.
    redlink_world::expect::Offset::parse(text).map(|o| o.0)
}

/// Runs `redlink up`.
pub fn main(args: UpArgs) -> ExitCode {
    let scenario = match &args.scenario {
        Some(path) => match Scenario::load(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("redlink up: {e}");
                return ExitCode::from(2);
            }
        },
        None => quickstart(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redlink up: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(scenario, args))
}

async fn run(scenario: Scenario, args: UpArgs) -> ExitCode {
    // Take SIGTERM/SIGINT before anything is announced (the state file is the "ready" signal
    // scripts wait for): a signal that arrives while the world starts stops it cleanly instead of
    // killing the process with the state file left behind.
    let signals = crate::cli::Signals::take();
    let control = match ControlListener::bind(args.control).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redlink up: {e}");
            return ExitCode::from(1);
        }
    };
    let control_password = match args.control_password.as_deref() {
        Some("") => None,
        Some(p) => Some(p.to_owned()),
        None => match generate_control_password() {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("redlink up: cannot generate the control password: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let options = UpOptions {
        state_file: args.state_file.clone(),
        direct_engines: args.direct_engines,
        control: Some(control.addr()),
        control_password: control_password.clone(),
        // `--speed N`: the world's clock runs N times faster, the timeline and DNS TTLs alike;
        // `--clock manual`: it moves only when told (`ctl clock advance`).
        clock: match args.clock {
            ClockMode::Real => redlink_clock::Clock::real_scaled(args.speed),
            ClockMode::Manual => redlink_clock::Clock::manual(),
        },
        backend: args.backend.map(BackendChoice::backend),
        ..UpOptions::default()
    };
    let world = match RunningWorld::start(&scenario, options).await {
        Ok(w) => Arc::new(w),
        Err(e) => {
            eprintln!("redlink up: {e}");
            return ExitCode::from(if e.is_bad_input() { 2 } else { 1 });
        }
    };
    let events_file = match &args.events {
        None => None,
        Some(path) => match EventsFile::create(path.clone(), args.events_max_size) {
            Ok(f) => Some(tokio::spawn(write_events(world.events(), f))),
            Err(e) => {
                eprintln!("redlink up: --events {}: {e}", path.display());
                return stop(world, None, 1).await;
            }
        },
    };
    // A cache whose engine stops shows as stopped at once (see RunningWorld::reconcile).
    let supervisor = tokio::spawn({
        let world = world.clone();
        async move { world.watch_engines().await }
    });
    let board = TimelineBoard::new(&scenario);
    // A lab answers "not checked yet" until its first scoring, never "no exercises".
    let unscored = (!scenario.exercises().is_empty()).then(|| LabReport::unscored(&scenario));
    if let Some(json) = unscored
        .as_ref()
        .and_then(|r| serde_json::to_string(r).ok())
    {
        world.set_lab_status(json);
    }
    let (lab_tx, lab_rx) = tokio::sync::watch::channel(unscored);
    let dashboard = match args.ui {
        None => None,
        Some(addr) => {
            let options = DashboardOptions {
                addr,
                password: control_password.clone(),
                timeline: board.clone(),
                lab: lab_rx,
            };
            match Dashboard::start(&world, options).await {
                Ok(d) => Some(d),
                Err(e) => {
                    eprintln!("redlink up: {e}");
                    if let Some(task) = events_file {
                        task.abort();
                        let _ = task.await;
                    }
                    supervisor.abort();
                    let _ = supervisor.await;
                    return stop(world, None, 1).await;
                }
            }
        }
    };
    let lab = tokio::spawn(follow_lab(
        world.clone(),
        Arc::new(scenario.clone()),
        Timeouts::default(),
        {
            let world = Arc::downgrade(&world);
            let last = std::sync::Mutex::new(None);
            move |report: LabReport| {
                if let Some(w) = world.upgrade()
                    && let Ok(json) = serde_json::to_string(&report)
                {
                    w.set_lab_status(json);
                }
                if let Ok(mut last) = last.lock()
                    && *last != Some(report.met)
                {
                    *last = Some(report.met);
                    say!("\n{}", report.text().trim_end());
                }
                lab_tx.send_replace(Some(report));
            }
        },
    ));
    let control = control.serve(world.clone(), control_password, ControlLimits::default());
    // A state file outside the default directory is listed there too (`redlink ls`, --world).
    let _registered = args
        .state_file
        .as_ref()
        .and_then(|f| crate::cli::worlds::register(f, state_name(&scenario).as_str()));
    let state = world.state().await;
    say!("{}", describe(&world, &state, args.duration));
    if world.clock().is_manual() {
        say!(
            "clock: manual, at {} (moves only by `redlink ctl clock advance DURATION`)",
            redlink_clock::format_time(world.clock().now_ms())
        );
    }
    if let Some(d) = &dashboard {
        say!("dashboard: {}", d.url());
    }
    if args.step {
        // Enter releases the next step (as `ctl next` does); stdin closed: only `ctl next`.
        let world = world.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                world.next_step();
                line.clear();
            }
        });
    }
    let timeline = timeline::run(&world, &scenario, args.speed, args.step, &board);
    tokio::select! {
        _ = signals.wait() => say!("redlink up: stopping (signal)"),
        _ = sleep_for(args.duration) => say!("redlink up: stopping (--for elapsed)"),
        _ = timeline => {}
    }
    if let Some(task) = events_file {
        task.abort();
        let _ = task.await;
    }
    supervisor.abort();
    let _ = supervisor.await;
    lab.abort();
    let _ = lab.await;
    if let Some(d) = dashboard {
        d.shutdown().await;
    }
    stop(world, Some(control), 0).await
}

/// Per network and cache, what is missing for a private path (the lesson of the quickstart's
/// spoke: linking the zone alone turns a refusal into a timeout, because the endpoint it then
/// resolves to lives in a network spoke is not peered with).
fn private_path_needs(w: &redlink_world::World) -> Vec<String> {
    let mut out = Vec::new();
    for c in &w.caches {
        let private_host = c.privatelink_host_name();
        let zone = w
            .dns_zones
            .iter()
            .find(|z| private_host.ends_with(&format!(".{}", z.name)))
            .map_or_else(
                || {
                    private_host
                        .split_once('.')
                        .map_or("", |(_, z)| z)
                        .to_owned()
                },
                |z| z.name.clone(),
            );
        let endpoints: Vec<&redlink_world::PrivateEndpoint> = w
            .private_endpoints
            .iter()
            .filter(|pe| pe.cache == c.name)
            .collect();
        if endpoints.is_empty() {
            continue;
        }
        for n in &w.networks {
            let linked = w
                .dns_zones
                .iter()
                .any(|z| z.name == zone && z.link_to(&n.name).is_some());
            let reachable = endpoints
                .iter()
                .any(|pe| pe.network == n.name || n.peered_with.contains(&pe.network));
            let mut missing = Vec::new();
            if !linked {
                missing.push(format!(
                    "a link of zone {zone} (redlink ctl network private-dns link vnet create --zone-name {zone} --name {0}-link --virtual-network {0})",
                    n.name
                ));
            }
            if !reachable {
                let homes: Vec<&str> = endpoints.iter().map(|pe| pe.network.as_str()).collect();
                missing.push(format!(
                    "a peering with {} or a private endpoint of its own",
                    homes.join(" or ")
                ));
            }
            if !missing.is_empty() {
                out.push(format!(
                    "{} → {}: needs {}",
                    n.name,
                    c.name,
                    missing.join(" AND ")
                ));
            }
        }
    }
    out
}

/// The name a world is listed under: the scenario's name, else its file's stem.
fn state_name(scenario: &Scenario) -> String {
    std::path::Path::new(scenario.file())
        .file_stem()
        .map_or_else(|| "world".to_owned(), |s| s.to_string_lossy().into_owned())
}

/// The `--events` file: JSON lines, each written whole (so `tail -F` follows), renamed FILE.1 once
/// it holds `max` bytes.
pub struct EventsFile {
    path: PathBuf,
    max: u64,
    file: std::fs::File,
    written: u64,
}

impl EventsFile {
    /// Creates (truncates) `path`.
    pub fn create(path: PathBuf, max: u64) -> std::io::Result<EventsFile> {
        let file = std::fs::File::create(&path)?;
        Ok(EventsFile {
            path,
            max,
            file,
            written: 0,
        })
    }

    /// Writes one line, rotating first when it would take the file past its size.
    pub fn line(&mut self, text: &str) -> std::io::Result<()> {
        let len = text.len() as u64 + 1;
        if self.written > 0 && self.written + len > self.max {
            // FILE never goes missing (a reader or `tail -F` may look at any moment): its bytes
            // become FILE.1 through a link, then a new empty FILE replaces it by rename.
            let with = |suffix: &str| {
                let mut p = self.path.clone().into_os_string();
                p.push(suffix);
                PathBuf::from(p)
            };
            let (old, old_tmp, new_tmp) = (with(".1"), with(".1.tmp"), with(".new"));
            let _ = std::fs::remove_file(&old_tmp);
            if std::fs::hard_link(&self.path, &old_tmp).is_ok() {
                std::fs::rename(&old_tmp, &old)?;
                let file = std::fs::File::create(&new_tmp)?;
                std::fs::rename(&new_tmp, &self.path)?;
                self.file = file;
            } else {
                // No hard links on this file system: a moment without FILE.
                std::fs::rename(&self.path, &old)?;
                self.file = std::fs::File::create(&self.path)?;
            }
            self.written = 0;
        }
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.written += len;
        Ok(())
    }
}

/// Writes each event as one JSON line.
async fn write_events(mut events: EventStream, mut file: EventsFile) {
    while let Some(event) = events.next().await {
        if let Err(e) = file.line(&event.to_json()) {
            eprintln!(
                "redlink up: --events {}: {e}; no more events are written",
                file.path.display()
            );
            return;
        }
    }
}

/// Stops the control API, then the world; exits with `code` unless stopping fails.
async fn stop(world: Arc<RunningWorld>, control: Option<ControlServer>, code: u8) -> ExitCode {
    if let Some(c) = control {
        c.shutdown().await;
    }
    let world = match Arc::try_unwrap(world) {
        Ok(w) => w,
        Err(_) => {
            eprintln!("redlink up: the world is still in use; stopping it on exit");
            return ExitCode::from(code);
        }
    };
    match world.shutdown().await {
        Ok(()) => ExitCode::from(code),
        Err(e) => {
            eprintln!("redlink up: while stopping: {e}");
            ExitCode::from(1)
        }
    }
}

async fn sleep_for(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn ports_text(ports: &[u16], tls: &[u16]) -> String {
    ports
        .iter()
        .map(|p| {
            if tls.contains(p) {
                format!("{p}/tls")
            } else {
                p.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Lines as a table with columns padded to their widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
        }
        let _ = writeln!(out, "  {}", line.trim_end());
    }
    out
}

/// Where this terminal stands, and what that means for its connections.
fn host_line(host: &HostPosition) -> String {
    match host {
        HostPosition::Internet => "internet (this terminal reaches public endpoints only; private endpoints time out: use `redlink exec --network NET`)".to_owned(),
        HostPosition::Network(n) => format!(
            "in network {n} (this terminal is a jump box there: its connections get {n}'s verdicts)"
        ),
    }
}

/// The table and the commands to try.
fn describe(world: &RunningWorld, state: &StateFile, duration: Option<Duration>) -> String {
    let w = world.world();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "redlink up: world {} ({}), address block {}",
        state.name.as_deref().unwrap_or("(unnamed)"),
        state.scenario,
        state.block
    );
    let _ = writeln!(out, "state file: {}", world.state_file().display());
    let _ = writeln!(out, "CA:         {}", world.ca_file().display());
    let _ = writeln!(out, "host:       {}", host_line(&w.host));
    match &state.control {
        Some(c) if state.control_password.is_some() => {
            let _ = writeln!(
                out,
                "control:    {c}    (redlink ctl …; other clients AUTH with the state file's control_password)"
            );
        }
        Some(c) => {
            let _ = writeln!(
                out,
                "control:    {c}    (redlink ctl …, or redis-cli -p {} SUBSCRIBE redlink:events)",
                c.rsplit(':').next().unwrap_or(c)
            );
        }
        None => {
            let _ = writeln!(out, "control:    none");
        }
    }
    for note in world.notes() {
        let _ = writeln!(out, "note: {note}");
    }

    let mut rows = vec![vec![
        "NETWORK".to_owned(),
        "RESOLVER".to_owned(),
        "CLIENT ADDRESS".to_owned(),
        "ZONES LINKED".to_owned(),
    ]];
    for n in &w.networks {
        let Some(ns) = state.networks.get(&n.name) else {
            continue;
        };
        let zones: Vec<&str> = w
            .dns_zones
            .iter()
            .filter(|z| z.link_to(&n.name).is_some())
            .map(|z| z.name.as_str())
            .collect();
        let mut linked = if zones.is_empty() {
            "-".to_owned()
        } else {
            zones.join(",")
        };
        if let Some(f) = &n.forwarder {
            let _ = write!(linked, " (custom DNS {})", f.name);
        }
        rows.push(vec![
            n.name.clone(),
            ns.resolver.to_string(),
            ns.client_address.to_string(),
            linked,
        ]);
    }
    let _ = write!(out, "\n{}", table(&rows));

    let mut rows = vec![vec![
        "CACHE".to_owned(),
        "ENDPOINT".to_owned(),
        "NETWORK".to_owned(),
        "ADDRESS".to_owned(),
        "PORTS".to_owned(),
        "STATE".to_owned(),
        "HOST VERDICT".to_owned(),
    ]];
    for c in &w.caches {
        let Some(cs) = state.caches.get(&c.name) else {
            continue;
        };
        for e in &cs.endpoints {
            let state_text = match (e.kind, e.state) {
                (_, Some(s)) => s.to_string(),
                (EndpointKind::Public, None) => format!("access {}", cs.public_network_access),
                (EndpointKind::Private, None) => "-".to_owned(),
            };
            let verdicts: Vec<String> = e
                .ports
                .iter()
                .filter_map(|p| e.verdicts.get(&p.to_string()).map(|v| (p, v)))
                .map(|(p, v)| format!("{p} {}", v.verdict))
                .collect();
            rows.push(vec![
                c.name.clone(),
                e.name.clone(),
                e.network.clone().unwrap_or_else(|| "-".to_owned()),
                e.address.to_string(),
                ports_text(&e.ports, &e.tls_ports),
                state_text,
                verdicts.join(", "),
            ]);
        }
    }
    let _ = write!(out, "\n{}", table(&rows));
    let needs = private_path_needs(&w);
    if !needs.is_empty() {
        let _ = writeln!(
            out,
            "\nTo reach a cache privately, a network needs the zone linked AND a private endpoint it can reach (its own, or one in a peered network):"
        );
        for line in needs {
            let _ = writeln!(out, "  {line}");
        }
    }

    let _ = writeln!(out, "\nTry:");
    if let Some(cache) = w.caches.first() {
        let host = cache.host_name();
        for (network, resolver) in world.resolvers() {
            let _ = writeln!(
                out,
                "  dig @{} -p {} {host}    # as network {network} sees it",
                resolver.ip(),
                resolver.port()
            );
        }
        let auth = cache
            .requirepass
            .as_ref()
            .map(|p| format!(" -a '{p}'"))
            .unwrap_or_default();
        let routed = state.caches.get(&cache.name).and_then(|cs| {
            cs.endpoints
                .iter()
                .find(|e| e.verdicts.values().any(|v| v.verdict == Verdict::Route))
        });
        if let Some(e) = routed {
            let route = |p: &u16| {
                e.verdicts
                    .get(&p.to_string())
                    .is_some_and(|v| v.verdict == Verdict::Route)
            };
            if let Some(p) = e
                .ports
                .iter()
                .find(|p| !e.tls_ports.contains(p) && route(p))
            {
                let _ = writeln!(
                    out,
                    "  redis-cli -h {} -p {p}{auth} PING    # through {}",
                    e.address, e.name
                );
            }
            if let Some(p) = e.tls_ports.iter().find(|p| route(p)) {
                let _ = writeln!(
                    out,
                    "  redis-cli -h {} -p {p} --tls --cacert {} --sni {host}{auth} PING",
                    e.address,
                    world.ca_file().display()
                );
            }
        }
        let refused = state.caches.get(&cache.name).and_then(|cs| {
            cs.endpoints.iter().find_map(|e| {
                e.ports.iter().find_map(|p| {
                    e.verdicts
                        .get(&p.to_string())
                        .filter(|v| v.verdict == Verdict::Refuse)
                        .map(|v| (e, p, v))
                })
            })
        });
        if let Some((e, p, v)) = refused {
            let tls = if e.tls_ports.contains(p) {
                " --tls"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  redis-cli -h {} -p {p}{tls} PING    # refused ({})",
                e.address,
                v.reason.trim_start_matches("refuse: ")
            );
        }
    }
    let _ = write!(
        out,
        "\nRunning{}; stop with Ctrl-C.",
        duration.map_or_else(String::new, |d| format!(" for {d:?}"))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_file_stays_under_its_cap() {
        let dir = std::env::temp_dir().join(format!("redlink-up-events-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("events.jsonl");
        let mut f = EventsFile::create(path.clone(), 4096).expect("create");
        let line = format!("{{\"type\":\"dns\",\"pad\":\"{}\"}}", "x".repeat(100));
        for _ in 0..1000 {
            f.line(&line).expect("write");
        }
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let rotated = dir.join("events.jsonl.1");
        assert!(size(&path) <= 4096, "{}", size(&path));
        assert!(
            size(&rotated) <= 4096 && size(&rotated) > 3000,
            "{}",
            size(&rotated)
        );
        // Whole lines only.
        let text = std::fs::read_to_string(&rotated).unwrap_or_default();
        assert!(text.lines().all(|l| l == line));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn sizes_parse_with_units_and_a_floor() {
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("8192"), Ok(8192));
        assert!(parse_size("1").is_err());
        assert!(parse_size("10x").is_err());
    }

    #[test]
    fn ui_addresses_are_loopback_only() {
        assert_eq!(
            parse_ui_addr("8080"),
            Ok("127.0.0.1:8080".parse().expect("addr"))
        );
        assert_eq!(
            parse_ui_addr("127.0.0.2"),
            Ok("127.0.0.2:0".parse().expect("addr"))
        );
        assert_eq!(
            parse_ui_addr("[::1]:9"),
            Ok("[::1]:9".parse().expect("addr"))
        );
        let e = parse_ui_addr("0.0.0.0:8080").expect_err("not loopback");
        assert!(e.contains("not a loopback address"), "{e}");
        let e = parse_ui_addr("labs/cutover-lab.toml").expect_err("a file");
        assert!(e.contains("a scenario goes before --ui"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }
}
