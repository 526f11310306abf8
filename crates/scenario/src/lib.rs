//! Scenarios as tests: run a scenario's timeline on a running world and check what each network's
//! clients see, with reports a person or a CI system can read.
//!
//! - `steps`: the checker's client steps with their evidence lines; the client itself (simulated
//!   DNS only, source-bound TCP with short timeouts, verifying TLS, RESP) and the names of its
//!   failures are `redlink_client`'s, shared with `redlink probe`.
//! - `check`: one [`redlink_world::Expectation`] against a [`redlink_runtime::RunningWorld`].
//! - `runner`: the timeline ([`run_timeline`], paced or not) and [`check_scenario`] (an isolated world
//!   per scenario).
//! - `report`: the results as data; `text`, `junit` (and serde_json) render them.
//! - `discover`: which files a `check` argument stands for.
//! - `exercise`: scoring a lab's `[[exercise]]`s against a running world, once or after every change.

pub mod check;
pub mod discover;
pub mod exercise;
pub mod junit;
pub mod report;
pub mod runner;
pub mod steps;
pub mod text;

pub use check::Checker;
pub use exercise::{ExerciseReport, GoalReport, LabReport, check_exercises, follow_lab};
pub use report::{
    BadInput, ChangeReport, ExpectationReport, PhaseReport, RunReport, ScenarioReport,
};
pub use runner::{
    Event, Pacing, RunOptions, check_scenario, run_timeline, run_timeline_advancing, scenario_name,
};
pub use steps::Timeouts;
