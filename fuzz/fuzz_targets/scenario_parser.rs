//! Fuzz target: arbitrary UTF-8 as a scenario file, then what `redlink check` / `redlink up` do with
//! a scenario that parses: build the world in a runtime address block, apply every step's changes in
//! order (and each change's engine settings), and after each state ask the pure functions what every
//! network's resolver answers for every cache name and what every endpoint port does with every
//! source, with their explanations.
//!
//! Oracles: no panic, no hang; an error always renders (file:line:column); a scenario that parsed
//! (its timeline was replayed once by `Scenario::parse`) builds and replays again without error, a
//! step's `expect_refused` change being refused again with its text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use redlink_world::{AddressPlan, QueryType, Scenario, Source, World, resolve, verdict};

fn exercise(world: &World) {
    let mut names = Vec::new();
    for cache in &world.caches {
        names.push(cache.host_name());
        names.push(cache.privatelink_host_name());
    }
    names.push("example.com".to_owned());
    for net in &world.networks {
        for name in &names {
            for qtype in [QueryType::A, QueryType::Aaaa] {
                let r = resolve(world, &net.name, name, qtype);
                let _ = r.summary();
                let _ = r.explanation_lines();
                let _ = r.outcome(world);
                let _ = r.addresses();
            }
        }
    }
    // Stale records: what the edge holds so that their connects time out.
    let _ = (world.unowned_addresses(), world.unowned_ports());
    let sources = Source::all(world);
    for ep in world.endpoints() {
        for &port in &ep.ports {
            for source in &sources {
                let (_, why) = verdict(world, &ep.id, port, source);
                assert!(!why.is_empty(), "a verdict is explained");
            }
        }
    }
}

fuzz_target!(|text: &str| {
    let scenario = match Scenario::parse("fuzz.toml", text) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            let _ = (e.line(), e.column());
            return;
        }
    };
    // `Scenario::parse` replayed the timeline on the default plan: doing it again must work.
    replay(&scenario, &AddressPlan::default(), true);
    // The runtime builds the world in its own block (`redlink check` runs scenarios side by side);
    // there a pinned address may clash, which must be an error, not a panic.
    if let Some(plan) = AddressPlan::block(3) {
        replay(&scenario, &plan, false);
    }
});

fn replay(scenario: &Scenario, plan: &AddressPlan, must_work: bool) {
    let mut world = match World::build(scenario, plan) {
        Ok(w) => w,
        Err(e) => {
            assert!(!must_work, "a parsed scenario builds: {e}");
            let _ = e.to_string();
            return;
        }
    };
    exercise(&world);
    for step in scenario.steps() {
        let count = step.changes.len();
        for (i, placed) in step.changes.iter().enumerate() {
            // `expect_refused`: the step's last change is refused (and changes nothing).
            let refused = step.refused.as_ref().filter(|_| i + 1 == count);
            match (placed.change.apply(&mut world), refused) {
                (Ok(done), Some(r)) => {
                    assert!(
                        !must_work,
                        "a change refused while parsing is refused again ({:?}): {done}",
                        r.text
                    );
                    return;
                }
                (Err(e), Some(r)) => {
                    assert!(
                        !must_work || e.to_string().contains(&r.text),
                        "refused with the text parsing saw: {e}"
                    );
                }
                (Err(e), None) => {
                    assert!(
                        !must_work,
                        "a change that applied while parsing applies again: {e}"
                    );
                    let _ = e.to_string();
                    return;
                }
                (Ok(_), None) => {}
            }
            let _ = placed.change.engine_settings();
        }
        exercise(&world);
    }
}
