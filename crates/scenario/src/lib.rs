//! Scenarios as tests: run a scenario's timeline on a running world and check what each network's
//! clients see, with reports a person or a CI system can read.
//!
//! - `client`: the checker's client side (simulated DNS only, source-bound TCP with short timeouts,
//!   verifying TLS, RESP) with typed outcomes and evidence lines.
//! - `check`: one [`redlink_world::Expectation`] against a [`redlink_runtime::RunningWorld`].
//! - `runner`: the timeline ([`run_timeline`], paced or not) and [`check_scenario`] (an isolated world
//!   per scenario).
//! - `report`: the results as data; `text`, `junit` (and serde_json) render them.
//! - `discover`: which files a `check` argument stands for.

pub mod check;
pub mod client;
pub mod discover;
pub mod junit;
pub mod report;
pub mod resp;
pub mod runner;
pub mod text;

pub use check::Checker;
pub use client::Timeouts;
pub use report::{
    BadInput, ChangeReport, ExpectationReport, PhaseReport, RunReport, ScenarioReport,
};
pub use runner::{Event, Pacing, RunOptions, check_scenario, run_timeline, scenario_name};
