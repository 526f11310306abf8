//! The bundled scenarios on the pure model: every file parses, and every resolution expectation
//! holds on the world `resolve()` sees, initially and after each step's changes (the running checker
//! asks the real resolvers; this keeps model and files in line without any socket).

use std::path::Path;

use std::collections::HashMap;

use redlink_world::expect::answer_matches;
use redlink_world::{
    AddressPlan, ExpectationKind, QueryType, ResolverCache, Scenario, World, resolve_cached,
};

fn bundled() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| Scenario::load(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn bundled_scenarios_parse_and_tell_their_story() {
    let all = bundled();
    assert!(all.len() >= 18, "{} scenarios", all.len());
    for s in &all {
        assert!(s.expectation_count() > 0, "{} checks nothing", s.file());
        for word in ["Symptom", "Cause", "Fix"] {
            assert!(
                s.text().contains(word),
                "{} has no {word} in its story",
                s.file()
            );
        }
    }
}

#[test]
fn resolution_expectations_hold_on_the_model_through_every_step() {
    for s in bundled() {
        let mut world = World::build(&s, &AddressPlan::block(7).expect("block 7")).expect("builds");
        // Resolvers with `dns_cache` remember answers: one cache per network, on the timeline's
        // simulated clock (each step at its `at`), as `check` runs it.
        let mut caches: HashMap<String, ResolverCache> = HashMap::new();
        let mut now_ms = 0u64;
        let mut check = |world: &World, e: &redlink_world::Expectation, now_ms: u64| {
            let ExpectationKind::Resolve { host, answer } = &e.kind else {
                return;
            };
            let cache = caches.entry(e.from.clone()).or_default();
            let r = resolve_cached(world, &e.from, host, QueryType::A, cache, now_ms, true);
            let r = r.resolution;
            assert!(
                answer_matches(answer, &r.outcome(world)),
                "{}: {}: expected {answer}: {}",
                s.file(),
                e.label,
                r.summary()
            );
        };
        for e in s.expectations() {
            check(&world, e, now_ms);
        }
        for step in s.steps() {
            if let Some(at) = step.at {
                now_ms = now_ms.max(u64::try_from(at.as_millis()).expect("at fits"));
            }
            let count = step.changes.len();
            for (i, c) in step.changes.iter().enumerate() {
                // `{ advance = "6h" }` moves the simulated clock as `check` does.
                if let Some(by) = c.change.advance() {
                    now_ms = now_ms.saturating_add(u64::try_from(by.as_millis()).expect("fits"));
                }
                let result = c.change.apply(&mut world);
                // `expect_refused`: the step's last change is refused with the text, changing nothing.
                match (&step.refused, i + 1 == count, result) {
                    (Some(r), true, Err(e)) => assert!(
                        e.to_string().contains(&r.text),
                        "{}:{}: {e}",
                        s.file(),
                        c.position
                    ),
                    (Some(_), true, Ok(done)) => {
                        panic!("{}:{}: applied: {done}", s.file(), c.position)
                    }
                    (_, _, result) => {
                        result.unwrap_or_else(|e| panic!("{}:{}: {e}", s.file(), c.position));
                    }
                }
            }
            for e in &step.expectations {
                check(&world, e, now_ms);
            }
        }
    }
}
