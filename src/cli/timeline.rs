//! The scenario's timeline during `redlink up`: the initial expectations at once, then each step at
//! its `at` offset (divided by `--speed`), printing each change and each expectation's result as it
//! happens (with `--step`, each step waits for Enter or `redlink ctl next`; the dashboard's
//! [`TimelineBoard`] is told, and its "next step" starts the next step at once). When the timeline is
//! over the world keeps running: the future never completes.

use std::time::Instant;

use redlink_runtime::RunningWorld;
use redlink_scenario::{Event, Pacing, RunOptions, run_timeline_advancing, text};
use redlink_ui::TimelineBoard;
use redlink_world::Scenario;

use crate::cli::say;

/// Runs the timeline of `scenario` on `world`, paced at `speed` (or step by step when `stepped`:
/// each step waits for Enter or `redlink ctl next`), telling `board`, then waits forever.
pub async fn run(
    world: &RunningWorld,
    scenario: &Scenario,
    speed: f64,
    stepped: bool,
    board: &TimelineBoard,
) {
    if scenario.expectation_count() > 0 || !scenario.steps().is_empty() {
        let started = Instant::now();
        let options = RunOptions {
            pacing: if stepped {
                Pacing::Stepped
            } else {
                Pacing::RealTime { speed }
            },
            ..RunOptions::default()
        };
        let steps = scenario.steps().len();
        let mut failed = 0usize;
        let mut endpoints = world.world().private_endpoints.len();
        let (mut changes, mut checks) = (0usize, 0usize);
        let observe = |event: Event<'_>| match event {
            Event::Phase(None) => {
                board.phase(None);
                (changes, checks) = (0, 0);
                if scenario.expectations().next().is_some() {
                    say!("\ntimeline: initial world");
                }
            }
            Event::Phase(Some(step)) => {
                board.phase(Some(&step.name));
                (changes, checks) = (0, 0);
                say!(
                    "\n[+{:.1}s] step {:?}{}{}",
                    started.elapsed().as_secs_f64(),
                    step.name,
                    step.at
                        .map(|at| format!(" (at {:.1}s in the file)", at.as_secs_f64()))
                        .unwrap_or_default(),
                    step.description
                        .as_ref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                );
            }
            Event::Change(c) => {
                board.change(changes, c);
                changes += 1;
                say!("{}", text::change(c, "  ").trim_end());
                // A step that adds an endpoint: where it is, as at start.
                let now = world.world();
                if now.private_endpoints.len() > endpoints {
                    say!("{}", endpoint_table(&now));
                }
                endpoints = now.private_endpoints.len();
            }
            Event::Waiting(step) => say!(
                "\nnext: step {:?} — press Enter (or run `redlink ctl next`) to run it",
                step.name
            ),
            Event::Expectation(e) => {
                board.expectation(checks, e);
                checks += 1;
                if !e.passed {
                    failed += 1;
                }
                say!("{}", text::expectation(e, "  ").trim_end());
            }
        };
        let phases =
            run_timeline_advancing(world, scenario, &options, Some(board.advance()), observe).await;
        board.finished();
        let total: usize = phases.iter().map(|p| p.expectations.len()).sum();
        say!(
            "\ntimeline done: {steps} step(s), {} of {total} expectation(s) met; the world keeps running",
            total - failed
        );
    }
    std::future::pending::<()>().await;
}

/// The private endpoints now (reprinted when a step adds one).
fn endpoint_table(w: &redlink_world::World) -> String {
    let rows: Vec<Vec<String>> = w
        .private_endpoints
        .iter()
        .map(|pe| {
            vec![
                pe.cache.clone(),
                pe.name.clone(),
                pe.network.clone(),
                pe.address.to_string(),
                pe.state.to_string(),
            ]
        })
        .collect();
    crate::cli::output::table(&["CACHE", "ENDPOINT", "NETWORK", "ADDRESS", "STATE"], &rows)
}
