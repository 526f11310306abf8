//! The human report: one line per expectation (✓ or ✗, the network and what was checked) and, for
//! each failure, expected vs got, the evidence trail and the world's explanation.

use std::fmt::Write as _;

use crate::report::{ChangeReport, ExpectationReport, RunReport, ScenarioReport};

/// The lines of one expectation's result (one line when it passed).
pub fn expectation(e: &ExpectationReport, indent: &str) -> String {
    let mark = if e.passed { "✓" } else { "✗" };
    let mut out = format!("{indent}{mark} {}\n", e.line());
    if !e.passed {
        let _ = writeln!(out, "{indent}    expected: {}", e.expected);
        let _ = writeln!(out, "{indent}    got:      {}", e.got);
        let _ = writeln!(out, "{indent}    at:       {}", e.location);
        if !e.evidence.is_empty() {
            let _ = writeln!(out, "{indent}    evidence:");
            for l in &e.evidence {
                let _ = writeln!(out, "{indent}      {l}");
            }
        }
        if !e.explanation.is_empty() {
            let _ = writeln!(out, "{indent}    world:");
            for l in &e.explanation {
                let _ = writeln!(out, "{indent}      {l}");
            }
        }
    }
    out
}

/// One change's line.
pub fn change(c: &ChangeReport, indent: &str) -> String {
    match &c.error {
        None => format!("{indent}→ {}\n", c.description),
        Some(e) => format!(
            "{indent}✗ change did not apply: {e}\n{indent}    at: {}\n",
            c.location
        ),
    }
}

/// One scenario's report.
pub fn scenario(s: &ScenarioReport) -> String {
    let (passed, failed) = s.counts();
    let mark = if s.passed() { "✓" } else { "✗" };
    let block = s
        .block
        .map(|b| format!(", address block {b}"))
        .unwrap_or_default();
    let mut out = format!(
        "{mark} {} ({}): {passed}/{} expectations met, {:.2} s{block}\n",
        s.name,
        s.file,
        passed + failed,
        s.millis / 1000.0
    );
    if let Some(e) = &s.error {
        let _ = writeln!(out, "    ✗ {e}");
    }
    for phase in &s.phases {
        if phase.step.is_none() && phase.expectations.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {}", phase.title());
        for c in &phase.changes {
            out.push_str(&change(c, "    "));
        }
        for e in &phase.expectations {
            out.push_str(&expectation(e, "    "));
        }
    }
    out
}

/// The closing summary line.
pub fn summary(r: &RunReport) -> String {
    let (mut passed, mut failed) = (0, 0);
    for s in &r.scenarios {
        let (p, f) = s.counts();
        passed += p;
        failed += f;
    }
    let ok = r.scenarios.iter().filter(|s| s.passed()).count();
    let mut out = format!(
        "{} scenario(s): {ok} passed, {} failed; {} expectation(s): {passed} met, {failed} not met; {:.2} s",
        r.scenarios.len(),
        r.scenarios.len() - ok,
        passed + failed,
        r.millis / 1000.0
    );
    if !r.bad_input.is_empty() {
        let _ = write!(out, "; {} bad input file(s)", r.bad_input.len());
    }
    out
}
