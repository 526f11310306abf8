//! What a run found, as plain data (serialized as is for `--json`): per scenario its phases (the
//! initial world, then each step) with the changes applied and every expectation's result, with the
//! evidence trail and the world's explanation.

use serde::Serialize;

/// The result of one expectation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpectationReport {
    /// The label (given or generated).
    pub label: String,
    /// The network it looks from.
    pub from: String,
    /// resolve, connect, auth or command.
    pub kind: &'static str,
    /// `file:line:column` of the table.
    pub location: String,
    /// What was wanted.
    pub expected: String,
    /// What the client saw.
    pub got: String,
    /// Whether they match.
    pub passed: bool,
    /// What the client did, step by step.
    pub evidence: Vec<String>,
    /// The world's explanation (the pure `resolve()` and `verdict()`).
    pub explanation: Vec<String>,
    /// How long the check took.
    pub millis: f64,
}

impl ExpectationReport {
    /// The line reports show: "hub: resolve … → private", prefixed with the network when the label
    /// does not start with it.
    pub fn line(&self) -> String {
        if self.label.starts_with(&format!("{}: ", self.from))
            || self.label.starts_with(&format!("{} ", self.from))
        {
            self.label.clone()
        } else {
            format!("{}: {}", self.from, self.label)
        }
    }
}

/// A change of a step, applied to the running world.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangeReport {
    /// What it did (or was to do).
    pub description: String,
    /// `file:line:column` of the change.
    pub location: String,
    /// Why it did not apply, if it did not.
    pub error: Option<String>,
}

/// The initial world or one step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseReport {
    /// The step's name (`None`: the initial world).
    pub step: Option<String>,
    /// The step's `at` offset, in milliseconds.
    pub at_ms: Option<u64>,
    /// The changes.
    pub changes: Vec<ChangeReport>,
    /// The expectations.
    pub expectations: Vec<ExpectationReport>,
}

impl PhaseReport {
    /// "initial world" or "step NAME".
    pub fn title(&self) -> String {
        match &self.step {
            None => "initial world".to_owned(),
            Some(s) => format!("step {s:?}"),
        }
    }
}

/// One scenario's run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioReport {
    /// The file.
    pub file: String,
    /// The scenario's name (or the file's stem).
    pub name: String,
    /// The address block its world used.
    pub block: Option<u8>,
    /// How long it took.
    pub millis: f64,
    /// Why the world could not run, if it could not.
    pub error: Option<String>,
    /// The phases, in order.
    pub phases: Vec<PhaseReport>,
}

impl ScenarioReport {
    /// Every expectation, in order, with its phase.
    pub fn expectations(&self) -> impl Iterator<Item = (&PhaseReport, &ExpectationReport)> {
        self.phases
            .iter()
            .flat_map(|p| p.expectations.iter().map(move |e| (p, e)))
    }

    /// (passed, failed) expectations.
    pub fn counts(&self) -> (usize, usize) {
        let passed = self.expectations().filter(|(_, e)| e.passed).count();
        (passed, self.expectations().count() - passed)
    }

    /// Every change that did not apply.
    pub fn change_errors(&self) -> impl Iterator<Item = &ChangeReport> {
        self.phases
            .iter()
            .flat_map(|p| p.changes.iter())
            .filter(|c| c.error.is_some())
    }

    /// Whether everything held: the world ran, every change applied, every expectation passed.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.change_errors().next().is_none() && self.counts().1 == 0
    }
}

/// A bad input file (exit 2).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BadInput {
    /// The file.
    pub file: String,
    /// Line, if known.
    pub line: Option<usize>,
    /// Column, if known.
    pub column: Option<usize>,
    /// The whole message (`file:line:col: reason`).
    pub message: String,
}

/// A whole `redlink check` run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunReport {
    /// The scenarios that ran, in the order given.
    pub scenarios: Vec<ScenarioReport>,
    /// The files that could not be used.
    pub bad_input: Vec<BadInput>,
    /// How long it all took.
    pub millis: f64,
}

impl RunReport {
    /// 0 all passed, 1 some expectation failed, 2 bad input (wins over failures).
    pub fn exit_code(&self) -> u8 {
        if !self.bad_input.is_empty() {
            2
        } else if self.scenarios.iter().all(ScenarioReport::passed) {
            0
        } else {
            1
        }
    }
}
