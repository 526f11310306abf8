//! Exercises: the goals of a training lab. A scenario may declare `[[exercise]]` tables, each with a
//! name, a hint for the trainee, and expectations that define "done" (the same `[[expect]]` tables
//! as the rest of the file, checked the same way by a client in the network). A lab file starts the
//! world broken; the trainee changes it (`redlink ctl`, the dashboard) until every exercise is met.
//! Exercise expectations are compiled against the world at the end of the timeline (the world the
//! trainee is left with), so every name they use must exist there.
//!
//! ```toml
//! [[exercise]]
//! name = "spoke reaches contoso privately"        # required, unique
//! hint = "link the privatelink zone to spoke"     # optional, shown to the trainee
//! [[exercise.expect]]                             # at least one
//! from = "spoke"
//! resolve = "contoso.redis.cache.windows.net"
//! answer = "private"
//! ```

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::expect::{self, Expectation, ExpectationSpec};
use crate::location::Position;
use crate::model::World;
use crate::text::ScenarioText;

/// One `[[exercise]]` table as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseSpec {
    /// The goal, in a few words.
    pub name: Spanned<String>,
    /// What to look at, for a trainee who is stuck.
    #[serde(default)]
    pub hint: Option<String>,
    /// The expectations that define "done".
    #[serde(default, rename = "expect")]
    pub expectations: Vec<Spanned<ExpectationSpec>>,
}

/// A validated exercise.
#[derive(Clone, Debug)]
pub struct Exercise {
    /// The goal.
    pub name: String,
    /// The hint, if any.
    pub hint: Option<String>,
    /// Where the table is written.
    pub position: Position,
    /// What must hold for the exercise to be met (all of them).
    pub expectations: Vec<Expectation>,
}

/// Validates `specs` against `world` (the world at the end of the timeline): unique non-empty
/// names, at least one expectation each, every expectation valid there.
pub fn compile(
    src: &ScenarioText,
    world: &World,
    specs: &[Spanned<ExerciseSpec>],
) -> Result<Vec<Exercise>, ScenarioError> {
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for x in specs {
        let spec = x.get_ref();
        let name = spec.name.get_ref();
        if name.trim().is_empty() {
            return Err(src.error(
                &spec.name.span(),
                ScenarioErrorKind::Invalid,
                "an exercise needs a name (what the trainee must achieve)",
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(src.error(
                &spec.name.span(),
                ScenarioErrorKind::Duplicate,
                format!("duplicate exercise name {name:?}"),
            ));
        }
        if spec.expectations.is_empty() {
            return Err(src.error(
                &x.span(),
                ScenarioErrorKind::Invalid,
                format!(
                    "exercise {name:?} has no expectations: add [[exercise.expect]] tables that define when it is done"
                ),
            ));
        }
        let expectations = spec
            .expectations
            .iter()
            .map(|e| expect::compile::expectation(src, world, e))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Exercise {
            name: name.clone(),
            hint: spec.hint.clone(),
            position: src.position(&x.span()),
            expectations,
        });
    }
    Ok(out)
}
