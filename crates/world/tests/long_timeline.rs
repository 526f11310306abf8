//! A long timeline (20,000 steps) parses, validates and compiles in one pass: positions come from a
//! line index (before, each step and expectation rescanned the file from its start: 16,000 steps
//! took 210 s in a debug build; this test, built against that code, had not finished after 15 minutes), and a mistake at the very end of
//! the file is still reported at its exact line and column. The bound below is generous (the parse
//! takes about 2–3 s in a debug build on a loaded 2-core machine): it catches a return to quadratic
//! time without timing anything finely; BENCHMARKS.md has the measured numbers.

use std::time::{Duration, Instant};

use redlink_world::Scenario;

const STEPS: usize = 20_000;

/// The quickstart world, then `steps` steps alternating Pending/Approved of pe-hub (Azure refuses
/// to approve a Rejected connection, so the loop goes through Pending), each with a
/// resolution expectation. Returns the text and the line each step's `[[step]]` header is on.
fn long_scenario(steps: usize) -> (String, Vec<usize>) {
    let mut text = String::from(redlink_world::quickstart::QUICKSTART_TOML);
    let mut lines = text.matches('\n').count();
    let mut headers = Vec::with_capacity(steps);
    for i in 0..steps {
        let change = if i % 2 == 0 {
            r#"{ endpoint_state = { endpoint = "pe-hub", state = "Pending" } }"#
        } else {
            r#"{ approve = "pe-hub" }"#
        };
        // Each step: a blank line, its header, and 6 more lines.
        headers.push(lines + 2);
        lines += 8;
        text.push_str(&format!(
            "\n[[step]]\nname = \"step {i}\"\nchange = [{change}]\n\
             [[step.expect]]\nfrom = \"hub\"\nresolve = \"contoso.redis.cache.windows.net\"\nanswer = \"pe-hub\"\n"
        ));
    }
    (text, headers)
}

#[test]
fn twenty_thousand_steps_compile_in_one_pass() {
    let (text, headers) = long_scenario(STEPS);
    let started = Instant::now();
    let scenario = Scenario::parse("long.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    assert_eq!(scenario.steps().len(), STEPS);
    assert_eq!(scenario.expectation_count(), STEPS + 5);
    for (step, line) in scenario.steps().iter().zip(&headers).step_by(997) {
        assert_eq!(step.position.line, *line, "step {}", step.name);
        assert_eq!(step.position.column, 1);
    }
    let last = &scenario.steps()[STEPS - 1];
    assert_eq!(last.position.line, headers[STEPS - 1]);
    assert_eq!(last.changes[0].position.line, headers[STEPS - 1] + 2);
    assert_eq!(last.changes[0].position.column, 11);
    assert!(
        took < Duration::from_secs(60),
        "parsing {STEPS} steps took {took:?}: quadratic again?"
    );
}

#[test]
fn a_mistake_at_the_end_of_a_long_file_is_placed_exactly() {
    let (mut text, _) = long_scenario(STEPS);
    let line = text.matches('\n').count() + 4;
    text.push_str("\n[[step]]\nname = \"last\"\nchange = [{ approve = \"pe-nowhere\" }]\n");
    let err = Scenario::parse("long.toml", &text).expect_err("pe-nowhere does not exist");
    assert_eq!(err.line(), Some(line), "{err}");
    assert_eq!(err.column(), Some(11), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("long.toml:{line}:11: step \"last\"")),
        "{err}"
    );
}
