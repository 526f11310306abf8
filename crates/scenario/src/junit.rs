//! JUnit XML: one `<testsuite>` per scenario, one `<testcase>` per expectation (a failed one carries
//! `<failure>` with expected vs got, the evidence and the world's explanation); a world that did not
//! start or a change that did not apply is an `<error>`. Written by hand, with XML escaping.

use std::fmt::Write as _;

use crate::report::{PhaseReport, RunReport, ScenarioReport};

/// Escapes text for XML content and attribute values (and drops characters XML 1.0 cannot hold).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn seconds(millis: f64) -> String {
    format!("{:.3}", millis / 1000.0)
}

fn case_name(phase: &PhaseReport, line: &str) -> String {
    match &phase.step {
        None => format!("[initial] {line}"),
        Some(s) => format!("[{s}] {line}"),
    }
}

fn suite(out: &mut String, s: &ScenarioReport) {
    let (passed, failed) = s.counts();
    let change_errors: Vec<_> = s.change_errors().collect();
    let errors = usize::from(s.error.is_some()) + change_errors.len();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"{errors}\" time=\"{}\" file=\"{}\">",
        escape(&s.name),
        passed + failed + errors,
        seconds(s.millis),
        escape(&s.file)
    );
    let class = escape(&s.name);
    if let Some(e) = &s.error {
        let _ = writeln!(
            out,
            "    <testcase name=\"world starts\" classname=\"{class}\">\n      <error message=\"{}\"/>\n    </testcase>",
            escape(e)
        );
    }
    for c in change_errors {
        let _ = writeln!(
            out,
            "    <testcase name=\"change: {}\" classname=\"{class}\">\n      <error message=\"{}\">{}</error>\n    </testcase>",
            escape(&c.description),
            escape(c.error.as_deref().unwrap_or_default()),
            escape(&c.location)
        );
    }
    for (phase, e) in s.expectations() {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{class}\" time=\"{}\"",
            escape(&case_name(phase, &e.line())),
            seconds(e.millis)
        );
        if e.passed {
            out.push_str("/>\n");
            continue;
        }
        let mut body = format!(
            "at {}\nexpected: {}\ngot:      {}\n",
            e.location, e.expected, e.got
        );
        body.push_str("evidence:\n");
        for l in &e.evidence {
            let _ = writeln!(body, "  {l}");
        }
        body.push_str("world:\n");
        for l in &e.explanation {
            let _ = writeln!(body, "  {l}");
        }
        let _ = writeln!(
            out,
            ">\n      <failure message=\"expected {}, got {}\" type=\"expectation\">{}</failure>\n    </testcase>",
            escape(&e.expected),
            escape(&e.got),
            escape(&body)
        );
    }
    out.push_str("  </testsuite>\n");
}

/// The whole run as a JUnit XML document.
pub fn junit(report: &RunReport) -> String {
    let mut tests = 0;
    let mut failures = 0;
    let mut errors = report.bad_input.len();
    for s in &report.scenarios {
        let (p, f) = s.counts();
        let e = usize::from(s.error.is_some()) + s.change_errors().count();
        tests += p + f + e;
        failures += f;
        errors += e;
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"redlink check\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
        tests + report.bad_input.len(),
        seconds(report.millis)
    );
    for b in &report.bad_input {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\">\n    <testcase name=\"parse\" classname=\"{}\">\n      <error message=\"{}\"/>\n    </testcase>\n  </testsuite>",
            escape(&b.file),
            escape(&b.file),
            escape(&b.message)
        );
    }
    for s in &report.scenarios {
        suite(&mut out, s);
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\\u{1}"
        );
    }
}
