//! The timeline as the page shows it: every step of the scenario (name, `at`, changes), which one
//! ran last, and each expectation's ✓/✗ as the runner checks it. `redlink up`'s timeline runner
//! tells a [`TimelineBoard`] what happens (the same events it prints); the board wakes the page.

use std::sync::{Arc, Mutex};

use redlink_scenario::{ChangeReport, ExpectationReport};
use redlink_world::Scenario;
use serde::Serialize;
use tokio::sync::{Notify, watch};

/// The timeline now.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TimelineView {
    /// The phases: the initial world, then each step in file order.
    pub phases: Vec<PhaseView>,
    /// The index in `phases` of the phase that ran last (`None`: not started).
    pub current: Option<usize>,
    /// Whether every step has run.
    pub done: bool,
}

/// One phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PhaseView {
    /// The step's name (`initial world` for the first phase).
    pub name: String,
    /// Its offset, in milliseconds.
    pub at_ms: Option<u64>,
    /// Its changes, as described by the world once applied (or as written before), with any error.
    pub changes: Vec<ChangeView>,
    /// Its expectations, with their result once checked.
    pub expectations: Vec<CheckView>,
}

/// One change of a step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChangeView {
    /// What it does.
    pub description: String,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One expectation of a phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckView {
    /// Its label.
    pub label: String,
    /// `None` until checked.
    pub passed: Option<bool>,
    /// What the client saw, once checked.
    pub got: Option<String>,
}

/// Shared between the timeline runner (which reports) and the dashboard (which shows).
#[derive(Clone)]
pub struct TimelineBoard {
    view: Arc<Mutex<TimelineView>>,
    changed: watch::Sender<u64>,
    advance: Arc<Notify>,
}

impl TimelineBoard {
    /// The board of `scenario`'s timeline, nothing run yet.
    pub fn new(scenario: &Scenario) -> TimelineBoard {
        let mut phases = vec![PhaseView {
            name: "initial world".to_owned(),
            at_ms: None,
            changes: Vec::new(),
            expectations: scenario
                .expectations()
                .map(|e| CheckView {
                    label: e.label.clone(),
                    ..CheckView::default()
                })
                .collect(),
        }];
        phases.extend(scenario.steps().iter().map(|s| {
            PhaseView {
                name: s.name.clone(),
                at_ms: s
                    .at
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                changes: s
                    .changes
                    .iter()
                    .map(|c| ChangeView {
                        description: serde_json::to_string(&c.change)
                            .unwrap_or_else(|_| format!("{:?}", c.change)),
                        error: None,
                    })
                    .collect(),
                expectations: s
                    .expectations
                    .iter()
                    .map(|e| CheckView {
                        label: e.label.clone(),
                        ..CheckView::default()
                    })
                    .collect(),
            }
        }));
        TimelineBoard {
            view: Arc::new(Mutex::new(TimelineView {
                phases,
                current: None,
                done: false,
            })),
            changed: watch::channel(0).0,
            advance: Arc::new(Notify::new()),
        }
    }

    fn edit(&self, f: impl FnOnce(&mut TimelineView)) {
        if let Ok(mut v) = self.view.lock() {
            f(&mut v);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// A phase starts: the initial world (`None`) or the step named `step`.
    pub fn phase(&self, step: Option<&str>) {
        self.edit(|v| {
            v.current = match step {
                None => Some(0),
                Some(name) => v
                    .phases
                    .iter()
                    .skip(1)
                    .position(|p| p.name == name)
                    .map(|i| i + 1),
            };
        });
    }

    /// The `index`th change of the current phase was applied (or failed).
    pub fn change(&self, index: usize, report: &ChangeReport) {
        self.edit(|v| {
            if let Some(c) = v
                .current
                .and_then(|p| v.phases.get_mut(p))
                .and_then(|p| p.changes.get_mut(index))
            {
                c.description = report.description.clone();
                c.error = report.error.clone();
            }
        });
    }

    /// The `index`th expectation of the current phase was checked.
    pub fn expectation(&self, index: usize, report: &ExpectationReport) {
        self.edit(|v| {
            if let Some(c) = v
                .current
                .and_then(|p| v.phases.get_mut(p))
                .and_then(|p| p.expectations.get_mut(index))
            {
                c.passed = Some(report.passed);
                c.got = Some(report.got.clone());
            }
        });
    }

    /// Every step has run.
    pub fn finished(&self) {
        self.edit(|v| v.done = true);
    }

    /// The timeline now.
    pub fn view(&self) -> TimelineView {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Wakes whoever shows the board at each report.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// What the timeline runner waits on besides the clock: notified by the page's "next step".
    pub fn advance(&self) -> &Notify {
        &self.advance
    }

    /// Asks the timeline to run its next step now; an error when every step has run.
    pub fn next_step(&self) -> Result<String, String> {
        let v = self.view();
        if v.done || v.phases.len() <= 1 {
            return Err("the timeline has no step left to run".to_owned());
        }
        let next = v.current.map_or(1, |c| c + 1);
        let name = v
            .phases
            .get(next)
            .map_or_else(|| "the next step".to_owned(), |p| p.name.clone());
        self.advance.notify_one();
        Ok(format!("step {name:?} starts now"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redlink_scenario::{ChangeReport, ExpectationReport};

    const SCENARIO: &str = r#"
[[network]]
name = "hub"
[[cache]]
name = "contoso"
public_network_access = "Enabled"
[[expect]]
from = "hub"
connect = "ok"
[[step]]
name = "off"
at = "10s"
change = [{ public_access = { cache = "contoso", access = "Disabled" } }]
[[step.expect]]
from = "hub"
connect = "refused"
"#;

    fn report(passed: bool) -> ExpectationReport {
        ExpectationReport {
            label: "x".to_owned(),
            from: "hub".to_owned(),
            kind: "connect",
            location: String::new(),
            expected: "refused".to_owned(),
            got: if passed { "refused" } else { "ok" }.to_owned(),
            passed,
            evidence: Vec::new(),
            explanation: Vec::new(),
            millis: 0.0,
        }
    }

    #[test]
    fn the_board_follows_the_runner_and_asks_for_the_next_step() {
        let scenario = Scenario::parse("t.toml", SCENARIO).expect("parses");
        let board = TimelineBoard::new(&scenario);
        let v = board.view();
        assert_eq!(v.phases.len(), 2);
        assert_eq!(v.phases[1].name, "off");
        assert_eq!(v.phases[1].at_ms, Some(10_000));
        assert_eq!(v.current, None);
        assert_eq!(v.phases[0].expectations[0].passed, None);

        let changed = board.subscribe();
        board.phase(None);
        board.expectation(0, &report(true));
        assert!(changed.has_changed().unwrap_or(false));
        assert_eq!(board.next_step(), Ok("step \"off\" starts now".to_owned()));
        board.phase(Some("off"));
        board.change(
            0,
            &ChangeReport {
                description: "public network access Disabled".to_owned(),
                location: String::new(),
                error: None,
            },
        );
        board.expectation(0, &report(false));
        let v = board.view();
        assert_eq!(v.current, Some(1));
        assert_eq!(v.phases[0].expectations[0].passed, Some(true));
        assert_eq!(v.phases[1].expectations[0].passed, Some(false));
        assert_eq!(
            v.phases[1].changes[0].description,
            "public network access Disabled"
        );
        board.finished();
        assert!(board.next_step().is_err(), "nothing left to run");
    }
}
