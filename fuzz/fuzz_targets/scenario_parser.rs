//! Fuzz target: arbitrary UTF-8 as a scenario file, then what `redlink check` / `redlink up` do with
//! a scenario that parses: build the world in a runtime address block, apply every step's changes in
//! order (and each change's engine settings), and after each state ask the pure functions what every
//! network's resolver answers for every cache name and what every endpoint port does with every
//! source, with their explanations.
//!
//! Each network's resolver is also asked through its DNS cache (`resolve_cached`) on a clock that
//! moves to each step's `at`, as `check` runs it.
//!
//! Oracles: no panic, no hang; an error always renders (file:line:column); a scenario that parsed
//! (its timeline was replayed once by `Scenario::parse`) builds and replays again without error, a
//! step's `expect_refused` change being refused again with its text; a network without `dns_cache`
//! answers through the cache exactly as `resolve()` does.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

use redlink_world::{
    AddressPlan, QueryType, ResolverCache, Scenario, Source, World, resolve, resolve_cached,
    verdict,
};

/// Each network's resolver cache and the clock time (ms) the timeline is at.
type Caches = (HashMap<String, ResolverCache>, u64);

fn exercise(world: &World, caches: &mut Caches) {
    let mut names = Vec::new();
    for cache in &world.caches {
        names.push(cache.host_name());
        names.push(cache.privatelink_host_name());
    }
    names.push("example.com".to_owned());
    let now = caches.1;
    for net in &world.networks {
        let cache = caches.0.entry(net.name.clone()).or_default();
        for name in &names {
            for qtype in [QueryType::A, QueryType::Aaaa] {
                let r = resolve(world, &net.name, name, qtype);
                let _ = r.summary();
                let _ = r.explanation_lines();
                let _ = r.outcome(world);
                let _ = r.addresses();
                let c = resolve_cached(world, &net.name, name, qtype, cache, now, true);
                if net.dns_cache {
                    let _ = c.resolution.summary();
                } else {
                    // Equal to `r`, whose summary was just rendered.
                    assert_eq!(
                        c.resolution, r,
                        "without dns_cache the cache changes nothing"
                    );
                }
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
    let mut caches: Caches = (HashMap::new(), 0);
    exercise(&world, &mut caches);
    for step in scenario.steps() {
        if let Some(at) = step.at {
            caches.1 = caches.1.max(u64::try_from(at.as_millis()).unwrap_or(u64::MAX));
        }
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
        exercise(&world, &mut caches);
    }
}
