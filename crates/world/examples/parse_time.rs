//! Times parsing + validating + compiling a scenario (the part of `redlink check` before any world
//! starts): `cargo run -p redlink-world --example parse_time -- FILE` (numbers: BENCHMARKS.md).
//! With `TOML_ONLY=1` it first times the bare TOML parse of the same text, for comparison.

use std::time::Instant;

use redlink_world::Scenario;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_time SCENARIO");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    if std::env::var_os("TOML_ONLY").is_some() {
        let started = Instant::now();
        let v: Result<toml::Table, _> = toml::from_str(&text);
        println!(
            "toml only: {:.3} s ({})",
            started.elapsed().as_secs_f64(),
            v.is_ok()
        );
    }
    let started = Instant::now();
    match Scenario::parse(&path, &text) {
        Ok(s) => println!(
            "{path}: {} steps, {} expectations, parsed and compiled in {:.3} s",
            s.steps().len(),
            s.expectation_count(),
            started.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
