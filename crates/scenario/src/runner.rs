//! Running a scenario's timeline on a running world: the initial expectations, then each step's
//! changes (through [`RunningWorld::apply_change`], which also pushes engine settings such as
//! `requirepass` to the cache's engine) and expectations. [`Pacing::Immediate`] runs the steps back
//! to back (`check`), moving the world's manual clock to each step's `at` so DNS TTLs expire as they
//! would; [`Pacing::RealTime`] waits for each step's `at` on the world's clock (`up`, compressed by
//! `speed`). Observers see each [`Event`] as it happens; [`check_scenario`] brings an isolated world
//! up, runs the timeline and collects a [`ScenarioReport`].

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redlink_runtime::{RunningWorld, UpOptions};
use redlink_world::{ExpectationKind, ExpectedRefusal, PlacedChange, Scenario, TimelineStep};

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
    /// Each step when released ([`RunningWorld::next_step`]: Enter in `up --step`'s terminal,
    /// `redlink ctl next`), after an [`Event::Waiting`].
    Stepped,
}

/// How to run.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// The checker's timeouts.
    pub timeouts: Timeouts,
    /// The pacing of the steps.
    pub pacing: Pacing,
    /// [`check_scenario`]: also score the scenario's `[[exercise]]`s after the timeline, one phase
    /// each (`redlink check --exercises`).
    pub exercises: bool,
    /// Start a redis-server behind every cache instead of its embedded engine (`--backend
    /// redis-server`).
    pub redis_server_backends: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeouts: Timeouts::default(),
            pacing: Pacing::Immediate,
            exercises: false,
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
    /// [`Pacing::Stepped`]: this step waits for [`RunningWorld::next_step`].
    Waiting(&'a TimelineStep),
}

/// Runs the timeline of `scenario` on `world`, telling `observe` about each event; returns the
/// phases (the initial world first).
pub async fn run_timeline(
    world: &RunningWorld,
    scenario: &Scenario,
    options: &RunOptions,
    observe: impl FnMut(Event<'_>),
) -> Vec<PhaseReport> {
    run_timeline_advancing(world, scenario, options, None, observe).await
}

/// [`run_timeline`], where a notification on `advance` (the dashboard's "next step") starts the
/// next step at once instead of at its `at` (a notification while no step waits is kept for the
/// next one).
pub async fn run_timeline_advancing(
    world: &RunningWorld,
    scenario: &Scenario,
    options: &RunOptions,
    advance: Option<&tokio::sync::Notify>,
    mut observe: impl FnMut(Event<'_>),
) -> Vec<PhaseReport> {
    let clock = world.clock().clone();
    let started_ms = clock.now_ms();
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
        // Each step at its `at` on the world's clock: waited for in real time (`up`), or reached
        // at once by moving a manual clock (`check`: TTLs expire, no one waits).
        match (options.pacing, step.at) {
            (Pacing::RealTime { speed }, Some(at)) => {
                let speed = if speed.is_finite() && speed > 0.0 {
                    speed
                } else {
                    1.0
                };
                // The clock time of `at` compressed by `speed`: a real clock that itself runs
                // `rate` times faster (`up --speed`) reaches it after `at / speed` of real time; a
                // manual clock reaches `at / speed` when someone advances it there.
                let scale = if clock.is_manual() { 1.0 } else { clock.rate() };
                let offset = Duration::try_from_secs_f64(at.as_secs_f64() * scale / speed)
                    .unwrap_or(Duration::MAX);
                let due = started_ms
                    .saturating_add(u64::try_from(offset.as_millis()).unwrap_or(u64::MAX));
                match advance {
                    Some(next) => tokio::select! {
                        () = clock.sleep_until(due) => {}
                        () = next.notified() => {}
                    },
                    None => clock.sleep_until(due).await,
                }
            }
            (Pacing::Immediate, Some(at)) if clock.is_manual() => {
                let due =
                    started_ms.saturating_add(u64::try_from(at.as_millis()).unwrap_or(u64::MAX));
                // A manual clock never refuses to move forward to a later time; a step whose
                // time already passed (moved by someone else) runs at once.
                let _ = world.advance_clock_to(due).await;
            }
            _ => {}
        }
        // Maintenance steps the clock reached run before this step's changes and expectations.
        world.settle().await;
        if options.pacing == Pacing::Stepped {
            observe(Event::Waiting(step));
            world.step_released().await;
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
        // Connections watched across the step open before its changes.
        let mut watches = Vec::new();
        for (i, e) in step.expectations.iter().enumerate() {
            if matches!(e.kind, ExpectationKind::OpenConnection { .. }) {
                watches.push((i, checker.watch(e).await));
            }
        }
        let count = step.changes.len();
        for (i, change) in step.changes.iter().enumerate() {
            match (&step.refused, i + 1 == count) {
                (Some(refusal), true) => {
                    let (report, expectation) = refuse(world, scenario, change, refusal).await;
                    observe(Event::Change(&report));
                    phase.changes.push(report);
                    observe(Event::Expectation(&expectation));
                    phase.expectations.push(expectation);
                }
                _ => {
                    let report = apply(world, scenario, change).await;
                    observe(Event::Change(&report));
                    phase.changes.push(report);
                }
            }
        }
        for (i, e) in step.expectations.iter().enumerate() {
            let r = match watches.iter().position(|(at, _)| *at == i) {
                Some(w) => {
                    let (_, watch) = watches.swap_remove(w);
                    checker.finish(e, watch).await
                }
                None => checker.check(e).await,
            };
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

/// Applies a change that Azure must refuse (a step's `expect_refused`): the change report says what
/// happened, the expectation report whether the refusal is the one expected.
async fn refuse(
    world: &RunningWorld,
    scenario: &Scenario,
    placed: &PlacedChange,
    refusal: &ExpectedRefusal,
) -> (ChangeReport, ExpectationReport) {
    let started = Instant::now();
    let location = format!("{}:{}", scenario.file(), placed.position);
    let change = &placed.change;
    let shown = serde_json::to_string(change).unwrap_or_else(|_| change.name().to_owned());
    let (description, got, passed) = match world.apply_change(change).await {
        Ok(done) => (
            format!("applied, though Azure refuses it: {done}"),
            format!("applied: {done}"),
            false,
        ),
        Err(e) => {
            let e = e.to_string();
            let passed = e.contains(&refusal.text);
            (format!("refused: {e}"), e, passed)
        }
    };
    let report = ChangeReport {
        description,
        location: location.clone(),
        error: None,
    };
    let expectation = ExpectationReport {
        label: format!("api: {shown} is refused"),
        from: "api".to_owned(),
        kind: "refused",
        location: format!("{}:{}", scenario.file(), refusal.position),
        expected: format!("refused: {}", refusal.text),
        got,
        passed,
        evidence: vec![format!("change at {location}: {shown}")],
        explanation: Vec::new(),
        millis: started.elapsed().as_secs_f64() * 1000.0,
    };
    (report, expectation)
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
        // Simulated time: each step's `at` is reached by advancing the clock, at no cost.
        clock: redlink_clock::Clock::manual(),
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
            if options.exercises && !scenario.exercises().is_empty() {
                match Checker::new(&world, scenario.file(), options.timeouts) {
                    Ok(checker) => report
                        .phases
                        .extend(crate::exercise::exercise_phases(&checker, scenario).await),
                    Err(e) => report.error = Some(format!("cannot check the exercises: {e}")),
                }
            }
            if let Err(e) = world.shutdown().await {
                tracing::debug!("stopping the world of {}: {e}", scenario.file());
            }
        }
    }
    report.millis = started.elapsed().as_secs_f64() * 1000.0;
    report
}
