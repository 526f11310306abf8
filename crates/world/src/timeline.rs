//! The timeline: `[[step]]` entries that change the world in order, each carrying expectations.
//! [`StepSpec`] is the file's format (serde, spans; its changes are [`Change`]s, see
//! [`crate::change`]); [`compile`] validates a whole scenario's expectations and steps by replaying
//! the timeline once on the world built from the file, so that every mistake (a change naming a
//! missing zone, an expectation naming an endpoint that does not exist at that point) is reported
//! with its file:line:column; [`Step`] is the result. Each expectation table is compiled by
//! [`crate::expect::compile`].
//!
//! ```toml
//! [[step]]
//! name = "approve the endpoint"     # required
//! at = "5s"                         # optional: offset from the start, for `redlink up` pacing
//! change = [
//!   { approve = "pe-hub" },
//!   { link = { zone = "privatelink.redis.cache.windows.net", network = "spoke" } },
//! ]
//! [[step.expect]]
//! from = "spoke"
//! resolve = "contoso.redis.cache.windows.net"
//! answer = "pe-hub"
//!
//! [[step]]
//! name = "approve the rejected endpoint"
//! change = [{ approve = "pe-hub" }]  # the step's last change…
//! expect_refused = "Approving rejected private endpoint connections is not supported"
//! ```
//!
//! `expect_refused` says that Azure's API refuses the step's last change (its error contains the
//! text): the file still compiles, the world stays as it was, and the report shows the refusal as a
//! met (or unmet) expectation. Without it, a change that does not apply is an error in the file.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub use crate::change::Change;
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::expect::{self, Expectation, ExpectationSpec, Offset};
use crate::location::Position;
use crate::model::World;
use crate::text::ScenarioText;

/// One `[[step]]` table as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The step's name.
    pub name: Spanned<String>,
    /// Offset from the start of the timeline (for `redlink up` pacing).
    #[serde(default)]
    pub at: Option<Spanned<Offset>>,
    /// Free text shown when the step runs.
    #[serde(default)]
    pub description: Option<String>,
    /// The changes, applied in order.
    #[serde(default, rename = "change")]
    pub changes: Vec<Spanned<Change>>,
    /// What must hold after the changes.
    #[serde(default, rename = "expect")]
    pub expectations: Vec<Spanned<ExpectationSpec>>,
    /// The step's last change is refused, with an error containing this text.
    #[serde(default)]
    pub expect_refused: Option<Spanned<String>>,
}

/// A step whose last change Azure refuses (`expect_refused`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedRefusal {
    /// Text the refusal's error must contain.
    pub text: String,
    /// Where `expect_refused` is written.
    pub position: Position,
}

/// A change with its place in the file.
#[derive(Clone, Debug)]
pub struct PlacedChange {
    /// The change.
    pub change: Change,
    /// Where it is written.
    pub position: Position,
}

/// A validated timeline step.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its name.
    pub name: String,
    /// Its offset from the start, if given.
    pub at: Option<Duration>,
    /// Free text.
    pub description: Option<String>,
    /// Where the step is written.
    pub position: Position,
    /// The changes, in order.
    pub changes: Vec<PlacedChange>,
    /// What must hold after them.
    pub expectations: Vec<Expectation>,
    /// Set when the last of [`Step::changes`] must be refused (and so changes nothing).
    pub refused: Option<ExpectedRefusal>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} (at {at:?})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Validates the expectations and steps of a scenario by replaying its timeline on `world` (the
/// world built from the file): the top-level expectations against it, then each step's changes in
/// order and its expectations against the world at that point. One pass, each item placed once.
pub fn compile(
    src: &ScenarioText,
    mut world: World,
    initial: &[Spanned<ExpectationSpec>],
    steps: &[Spanned<StepSpec>],
) -> Result<(Vec<Expectation>, Vec<Step>), ScenarioError> {
    let initial = initial
        .iter()
        .map(|x| {
            if let Some(o) = &x.get_ref().open_connection {
                return Err(src.error(
                    &o.span(),
                    ScenarioErrorKind::Invalid,
                    "open_connection goes in a step's expectations ([[step.expect]]): it watches a connection opened before the step's changes",
                ));
            }
            expect::compile::expectation(src, &world, x)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut compiled = Vec::with_capacity(steps.len());
    let mut last_at = Duration::ZERO;
    let mut names = HashSet::new();
    for st in steps {
        let spec = st.get_ref();
        let name = spec.name.get_ref();
        if !names.insert(name.as_str()) {
            return Err(src.error(
                &spec.name.span(),
                ScenarioErrorKind::Duplicate,
                format!("duplicate step name {name:?}"),
            ));
        }
        if let Some(at) = &spec.at {
            last_at = step_offset(src, name, at, last_at)?;
        }
        compiled.push(step(src, &mut world, st)?);
    }
    Ok((initial, compiled))
}

/// A step's `at`, which may not come before the previous step's.
fn step_offset(
    src: &ScenarioText,
    name: &str,
    at: &Spanned<Offset>,
    last_at: Duration,
) -> Result<Duration, ScenarioError> {
    let Offset(d) = *at.get_ref();
    if d < last_at {
        return Err(src.error(
            &at.span(),
            ScenarioErrorKind::Invalid,
            format!(
                "step {name:?} is at {d:?}, before the previous step ({last_at:?}): steps run in file order"
            ),
        ));
    }
    Ok(d)
}

/// One step: its changes applied to `world` in order, then its expectations checked against it.
fn step(
    src: &ScenarioText,
    world: &mut World,
    st: &Spanned<StepSpec>,
) -> Result<Step, ScenarioError> {
    let spec = st.get_ref();
    let name = spec.name.get_ref();
    // A connection watched across the step is opened before its changes: its target must exist then.
    let before = spec
        .expectations
        .iter()
        .filter(|x| x.get_ref().open_connection.is_some())
        .map(|x| Ok((x.span().start, expect::compile::expectation(src, world, x)?)))
        .collect::<Result<Vec<_>, ScenarioError>>()?;
    let mut changes = Vec::with_capacity(spec.changes.len());
    let refused = expected_refusal(src, name, spec, st)?;
    let count = spec.changes.len();
    for (i, c) in spec.changes.iter().enumerate() {
        let result = c.get_ref().apply(world);
        match (&refused, i + 1 == count, result) {
            (Some(r), true, Ok(done)) => {
                return Err(src.error(
                    &c.span(),
                    ScenarioErrorKind::Invalid,
                    format!(
                        "step {name:?}: expect_refused says Azure refuses this change ({:?}), but it applies: {done}",
                        r.text
                    ),
                ));
            }
            (Some(r), true, Err(e)) if !e.to_string().contains(&r.text) => {
                return Err(src.error(
                    &c.span(),
                    ScenarioErrorKind::Invalid,
                    format!(
                        "step {name:?}: this change is refused, but with {:?}, which does not contain the expected {:?}",
                        e.to_string(),
                        r.text
                    ),
                ));
            }
            (Some(_), true, Err(_)) | (_, _, Ok(_)) => {}
            (_, _, Err(e)) => {
                return Err(src.error(
                    &c.span(),
                    ScenarioErrorKind::Invalid,
                    format!("step {name:?}: this change does not apply: {e}"),
                ));
            }
        }
        changes.push(PlacedChange {
            change: c.get_ref().clone(),
            position: src.position(&c.span()),
        });
    }
    if spec.changes.is_empty() && spec.expectations.is_empty() {
        return Err(src.error(
            &st.span(),
            ScenarioErrorKind::Invalid,
            format!(
                "step {name:?} has neither changes (`change = [...]`) nor expectations (`[[step.expect]]`)"
            ),
        ));
    }
    let expectations = spec
        .expectations
        .iter()
        .map(
            |x| match before.iter().find(|(at, _)| *at == x.span().start) {
                Some((_, compiled)) => Ok(compiled.clone()),
                None => expect::compile::expectation(src, world, x),
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Step {
        name: name.clone(),
        at: spec.at.as_ref().map(|a| a.get_ref().0),
        description: spec.description.clone(),
        position: src.position(&st.span()),
        changes,
        expectations,
        refused,
    })
}

/// A step's `expect_refused`: it needs a change to refuse.
fn expected_refusal(
    src: &ScenarioText,
    name: &str,
    spec: &StepSpec,
    st: &Spanned<StepSpec>,
) -> Result<Option<ExpectedRefusal>, ScenarioError> {
    let Some(text) = &spec.expect_refused else {
        return Ok(None);
    };
    if spec.changes.is_empty() {
        return Err(src.error(
            &st.span(),
            ScenarioErrorKind::Invalid,
            format!("step {name:?}: expect_refused needs a change to refuse (`change = [...]`)"),
        ));
    }
    if text.get_ref().trim().is_empty() {
        return Err(src.error(
            &text.span(),
            ScenarioErrorKind::Invalid,
            format!("step {name:?}: expect_refused needs the text the refusal must contain"),
        ));
    }
    Ok(Some(ExpectedRefusal {
        text: text.get_ref().clone(),
        position: src.position(&text.span()),
    }))
}
