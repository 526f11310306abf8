//! Prints how each network of a scenario resolves each cache's host name, with the explanation:
//! `cargo run -p redlink-world --example explain [SCENARIO]` (default: the embedded quickstart).

use redlink_world::{AddressPlan, QueryType, Scenario, World, quickstart, resolve};

fn main() {
    let scenario = match std::env::args().nth(1) {
        Some(path) => match Scenario::load(std::path::Path::new(&path)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
        None => quickstart(),
    };
    let world = match World::build(&scenario, &AddressPlan::default()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    for net in &world.networks {
        for cache in &world.caches {
            let r = resolve(&world, &net.name, &cache.host_name(), QueryType::A);
            println!("{}", r.summary());
            for line in r.explanation_lines() {
                println!("  - {line}");
            }
        }
    }
    for e in scenario.expectations() {
        match e.check_resolution(&world) {
            Ok(_) => println!("ok: {}", e.label),
            Err(why) => println!("FAILED: {}: {why}", e.label),
        }
    }
}
