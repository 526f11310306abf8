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

#[cfg(test)]
mod tests {
    use crate::Scenario;

    const WORLD: &str = r#"
[[network]]
name = "hub"
[[network]]
name = "spoke"
[[cache]]
name = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
"#;

    fn parse(rest: &str) -> Result<Scenario, String> {
        Scenario::parse("lab.toml", &format!("{WORLD}{rest}")).map_err(|e| e.to_string())
    }

    #[test]
    fn exercises_parse_with_hints_and_expectations() {
        let s = parse(
            r#"
[[exercise]]
name = "spoke resolves privately"
hint = "link the zone"
[[exercise.expect]]
from = "spoke"
resolve = "contoso.redis.cache.windows.net"
answer = "private"
"#,
        )
        .expect("parses");
        let x = &s.exercises()[0];
        assert_eq!(x.name, "spoke resolves privately");
        assert_eq!(x.hint.as_deref(), Some("link the zone"));
        assert_eq!(x.expectations.len(), 1);
        assert_eq!(x.position.line, 11);
    }

    #[test]
    fn exercises_see_the_world_the_timeline_leaves() {
        // pe-spoke exists only after the step: the exercise may name it.
        let s = parse(
            r#"
[[step]]
name = "create"
change = [{ create_endpoint = { name = "pe-spoke", network = "spoke", cache = "contoso" } }]
[[exercise]]
name = "spoke uses its own endpoint"
[[exercise.expect]]
from = "spoke"
resolve = "contoso.redis.cache.windows.net"
answer = "pe-spoke"
"#,
        );
        assert!(s.is_ok(), "{s:?}");
        let e = parse(
            r#"
[[exercise]]
name = "spoke uses its own endpoint"
[[exercise.expect]]
from = "spoke"
resolve = "contoso.redis.cache.windows.net"
answer = "pe-spoke"
"#,
        )
        .expect_err("no such endpoint");
        assert!(e.starts_with("lab.toml:"), "{e}");
        assert!(e.contains("pe-spoke"), "{e}");
    }

    #[test]
    fn bad_exercises_say_where_and_why() {
        let e = parse("\n[[exercise]]\nname = \"nothing to do\"\n").expect_err("no expect");
        assert!(
            e.contains("lab.toml:11:1") && e.contains("has no expectations"),
            "{e}"
        );
        let twice = r#"
[[exercise]]
name = "a"
[[exercise.expect]]
from = "hub"
connect = "ok"
[[exercise]]
name = "a"
[[exercise.expect]]
from = "hub"
connect = "ok"
"#;
        let e = parse(twice).expect_err("duplicate");
        assert!(
            e.contains("lab.toml:17:8") && e.contains("duplicate exercise name \"a\""),
            "{e}"
        );
        let e = parse("\n[[exercise]]\nname = \"x\"\ngoal = 1\n").expect_err("unknown key");
        assert!(e.contains("unknown field `goal`"), "{e}");
    }
}
