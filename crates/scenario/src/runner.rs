//! Running a scenario's timeline on a running world: the initial expectations, then each step's
//! changes (through [`RunningWorld::apply_change`], which also pushes engine settings such as
//! `requirepass` to the cache's engine) and expectations. [`Pacing::Immediate`] runs the steps back to back (`check`);
//! [`Pacing::RealTime`] waits for each step's `at` (`up`, compressed by `speed`). Observers see
//! each [`Event`] as it happens; [`check_scenario`] brings an isolated world up, runs the timeline
//! and collects a [`ScenarioReport`].

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redlink_runtime::{RunningWorld, UpOptions};
use redlink_world::{PlacedChange, Scenario, TimelineStep};

use crate::check::Checker;
use crate::report::{ChangeReport, ExpectationReport, PhaseReport, ScenarioReport};
use crate::steps::Timeouts;

/// How the steps are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// One after the other, at once.
    Immediate,
    /// Each step at its `at` offset divided by `speed` (steps without `at` follow the previous one).
    RealTime {
        /// Compression factor (2 = twice as fast).
        speed: f64,
    },
}

/// How to run.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// The checker's timeouts.
    pub timeouts: Timeouts,
    /// The pacing of the steps.
    pub pacing: Pacing,
    /// Start a redis-server behind every cache instead of its embedded engine (`--backend
    /// redis-server`).
    pub redis_server_backends: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeouts: Timeouts::default(),
            pacing: Pacing::Immediate,
            redis_server_backends: false,
        }
    }
}

/// What happens, in order, while a timeline runs.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A phase starts: the initial world (`None`) or a step.
    Phase(Option<&'a TimelineStep>),
    /// A change was applied (or failed).
    Change(&'a ChangeReport),
    /// An expectation was checked.
    Expectation(&'a ExpectationReport),
}

/// Runs the timeline of `scenario` on `world`, telling `observe` about each event; returns the
/// phases (the initial world first).
pub async fn run_timeline(
    world: &RunningWorld,
    scenario: &Scenario,
    options: &RunOptions,
    mut observe: impl FnMut(Event<'_>),
) -> Vec<PhaseReport> {
    let started = Instant::now();
    let checker = match Checker::new(world, scenario.file(), options.timeouts) {
        Ok(c) => c,
        Err(e) => {
            let report = ChangeReport {
                description: "trust the world's CA".to_owned(),
                location: scenario.file().to_owned(),
                error: Some(e),
            };
            observe(Event::Change(&report));
            return vec![PhaseReport {
                step: None,
                at_ms: None,
                changes: vec![report],
                expectations: Vec::new(),
            }];
        }
    };
    let mut phases = Vec::with_capacity(scenario.steps().len() + 1);

    observe(Event::Phase(None));
    let mut initial = PhaseReport {
        step: None,
        at_ms: None,
        changes: Vec::new(),
        expectations: Vec::new(),
    };
    for e in scenario.expectations() {
        let r = checker.check(e).await;
        observe(Event::Expectation(&r));
        initial.expectations.push(r);
    }
    phases.push(initial);

    for step in scenario.steps() {
        if let (Pacing::RealTime { speed }, Some(at)) = (options.pacing, step.at) {
            let speed = if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            };
            let due = started + Duration::from_secs_f64(at.as_secs_f64() / speed);
            tokio::time::sleep_until(due.into()).await;
        }
        observe(Event::Phase(Some(step)));
        let mut phase = PhaseReport {
            step: Some(step.name.clone()),
            at_ms: step
                .at
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            changes: Vec::new(),
            expectations: Vec::new(),
        };
        for change in &step.changes {
            let report = apply(world, scenario, change).await;
            observe(Event::Change(&report));
            phase.changes.push(report);
        }
        for e in &step.expectations {
            let r = checker.check(e).await;
            observe(Event::Expectation(&r));
            phase.expectations.push(r);
        }
        phases.push(phase);
    }
    phases
}

/// Applies one change to the running world ([`RunningWorld::apply_change`]: the world, then the
/// engine settings it carries).
async fn apply(world: &RunningWorld, scenario: &Scenario, placed: &PlacedChange) -> ChangeReport {
    let location = format!("{}:{}", scenario.file(), placed.position);
    let change = &placed.change;
    match world.apply_change(change).await {
        Ok(description) => ChangeReport {
            description,
            location,
            error: None,
        },
        Err(e) => ChangeReport {
            description: format!("{change:?}"),
            location,
            error: Some(e.to_string()),
        },
    }
}

/// A state file path for a checker's world: unique per process and world, in the user's private
/// state directory (never a shared directory such as /tmp, where another user could plant it).
fn state_path() -> std::path::PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    redlink_runtime::default_state_dir().join(format!(
        "check-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The name reports use: the scenario's, else the file's stem.
pub fn scenario_name(scenario: &Scenario) -> String {
    scenario.spec.name.clone().unwrap_or_else(|| {
        Path::new(scenario.file()).file_stem().map_or_else(
            || scenario.file().to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )
    })
}

/// Brings `scenario`'s world up in its own address block (resolvers on free ports), runs its
/// timeline at once, shuts the world down, and reports.
pub async fn check_scenario(scenario: &Scenario, options: &RunOptions) -> ScenarioReport {
    let started = Instant::now();
    let mut report = ScenarioReport {
        file: scenario.file().to_owned(),
        name: scenario_name(scenario),
        block: None,
        millis: 0.0,
        error: None,
        phases: Vec::new(),
    };
    let up = UpOptions {
        state_file: Some(state_path()),
        dns_port: 0,
        backend: options
            .redis_server_backends
            .then(redlink_runtime::redis_server_backend),
        ..UpOptions::default()
    };
    match RunningWorld::start(scenario, up).await {
        Err(e) => report.error = Some(format!("the world did not start: {e}")),
        Ok(world) => {
            report.block = Some(world.block());
            report.phases = run_timeline(&world, scenario, options, |_| {}).await;
            if let Err(e) = world.shutdown().await {
                tracing::debug!("stopping the world of {}: {e}", scenario.file());
            }
        }
    }
    report.millis = started.elapsed().as_secs_f64() * 1000.0;
    report
}
