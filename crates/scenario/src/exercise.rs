//! Scoring a lab: each `[[exercise]]` of a scenario (see [`redlink_world::exercise`]) checked
//! against a running world with the same [`Checker`] as every expectation, so "met" means a client
//! in the network really sees it. [`check_exercises`] scores once (`redlink check --exercises`);
//! [`follow_lab`] re-scores after every change of the world and hands each [`LabReport`] on
//! (`redlink up` keeps it for `redlink ctl lab status`, `redlink lab` and the dashboard).

use std::sync::Arc;

use redlink_runtime::RunningWorld;
use redlink_world::Scenario;
use serde::{Deserialize, Serialize};

use crate::check::Checker;
use crate::report::{ExpectationReport, PhaseReport};
use crate::steps::Timeouts;

/// One expectation of an exercise, as the trainee sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoalReport {
    /// The expectation's line ("spoke: resolve … → private").
    pub label: String,
    /// What was wanted.
    pub expected: String,
    /// What the client saw.
    pub got: String,
    /// Whether they match.
    pub met: bool,
}

/// One exercise's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExerciseReport {
    /// The exercise's name.
    pub name: String,
    /// Its hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// `file:line:column` of the table.
    pub location: String,
    /// Whether every expectation is met.
    pub met: bool,
    /// Each expectation.
    pub goals: Vec<GoalReport>,
}

/// A lab's score: every exercise, checked against the world at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabReport {
    /// The scenario's name.
    pub lab: String,
    /// Exercises met.
    pub met: usize,
    /// Exercises in the lab.
    pub total: usize,
    /// When the check finished (milliseconds since the Unix epoch).
    pub checked_ms: u64,
    /// Each exercise, in file order.
    pub exercises: Vec<ExerciseReport>,
}

impl LabReport {
    /// The lab before its first scoring: every exercise not met, every goal "not checked yet"
    /// (`checked_ms` 0), so a question asked right at start is not answered "no exercises".
    pub fn unscored(scenario: &Scenario) -> LabReport {
        let exercises: Vec<ExerciseReport> = scenario
            .exercises()
            .iter()
            .map(|x| ExerciseReport {
                name: x.name.clone(),
                hint: x.hint.clone(),
                location: format!("{}:{}", scenario.file(), x.position),
                met: false,
                goals: x
                    .expectations
                    .iter()
                    .map(|e| GoalReport {
                        label: e.label.clone(),
                        expected: e.wanted(),
                        got: "not checked yet".to_owned(),
                        met: false,
                    })
                    .collect(),
            })
            .collect();
        LabReport {
            lab: crate::runner::scenario_name(scenario),
            met: 0,
            total: exercises.len(),
            checked_ms: 0,
            exercises,
        }
    }

    /// `met/total exercises met`, then one line per exercise (`✓`/`✗`, the hint for unmet ones)
    /// and per unmet goal what the client saw.
    pub fn text(&self) -> String {
        let mut out = format!(
            "lab {}: {}/{} exercise(s) met\n",
            self.lab, self.met, self.total
        );
        for x in &self.exercises {
            out.push_str(&format!("  {} {}\n", if x.met { "✓" } else { "✗" }, x.name));
            if x.met {
                continue;
            }
            for g in x.goals.iter().filter(|g| !g.met) {
                out.push_str(&format!(
                    "      not yet: {} (wanted {}, got {})\n",
                    g.label, g.expected, g.got
                ));
            }
            if let Some(h) = &x.hint {
                out.push_str(&format!("      hint: {h}\n"));
            }
        }
        out
    }
}

fn goal(r: &ExpectationReport) -> GoalReport {
    GoalReport {
        label: r.line(),
        expected: r.expected.clone(),
        got: r.got.clone(),
        met: r.passed,
    }
}

/// Checks every exercise of `scenario` against `world` now: one phase per exercise (titled
/// `exercise: NAME`), for reports.
pub async fn exercise_phases(checker: &Checker<'_>, scenario: &Scenario) -> Vec<PhaseReport> {
    let mut phases = Vec::with_capacity(scenario.exercises().len());
    for x in scenario.exercises() {
        let mut expectations = Vec::with_capacity(x.expectations.len());
        for e in &x.expectations {
            expectations.push(checker.check(e).await);
        }
        phases.push(PhaseReport {
            step: Some(format!("exercise: {}", x.name)),
            at_ms: None,
            changes: Vec::new(),
            expectations,
        });
    }
    phases
}

/// Scores `scenario`'s exercises against `world` now.
pub async fn check_exercises(
    world: &RunningWorld,
    scenario: &Scenario,
    timeouts: Timeouts,
) -> Result<LabReport, String> {
    let checker = Checker::new(world, scenario.file(), timeouts)?;
    let phases = exercise_phases(&checker, scenario).await;
    let exercises: Vec<ExerciseReport> = scenario
        .exercises()
        .iter()
        .zip(phases)
        .map(|(x, phase)| ExerciseReport {
            name: x.name.clone(),
            hint: x.hint.clone(),
            location: format!("{}:{}", scenario.file(), x.position),
            met: phase.expectations.iter().all(|e| e.passed),
            goals: phase.expectations.iter().map(goal).collect(),
        })
        .collect();
    Ok(LabReport {
        lab: crate::runner::scenario_name(scenario),
        met: exercises.iter().filter(|x| x.met).count(),
        total: exercises.len(),
        checked_ms: redlink_runtime::events::now_ms(),
        exercises,
    })
}

/// Scores the lab now and after every change of the world, handing each report to `publish`;
/// returns when the world stops. Does nothing (returns at once) for a scenario without exercises.
pub async fn follow_lab(
    world: Arc<RunningWorld>,
    scenario: Arc<Scenario>,
    timeouts: Timeouts,
    publish: impl Fn(LabReport),
) {
    if scenario.exercises().is_empty() {
        return;
    }
    let mut changes = world.subscribe();
    loop {
        changes.borrow_and_update();
        match check_exercises(&world, &scenario, timeouts).await {
            Ok(report) => publish(report),
            Err(e) => {
                tracing::warn!("cannot score the lab: {e}");
                return;
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}
