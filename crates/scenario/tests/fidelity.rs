//! The expectation kinds of issue 17 against real worlds: `within` / `slower_than` over a latency
//! toxic, `open_connection` across a step (reset and kept), `expect_refused`, literal and unowned
//! answers, and a stale record's address timing out (not refused). Each kind is also shown failing
//! when the world says otherwise, so a check that can fail does fail.

use redlink_scenario::{ExpectationReport, RunOptions, ScenarioReport, check_scenario};
use redlink_world::Scenario;

const WORLD: &str = r#"
name = "fidelity-test"

[[network]]
name = "hub"

[[network]]
name = "spoke"

[[cache]]
name = "contoso"
non_tls_port = true

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[private_endpoint]]
name = "pe-spoke"
network = "spoke"
cache = "contoso"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
auto_register = false
links = [{ network = "hub" }]
"#;

async fn run(extra: &str) -> ScenarioReport {
    let s = Scenario::parse("fidelity.toml", &format!("{WORLD}\n{extra}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let report = check_scenario(&s, &RunOptions::default()).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    report
}

fn all(report: &ScenarioReport) -> Vec<&ExpectationReport> {
    report
        .phases
        .iter()
        .flat_map(|p| p.expectations.iter())
        .collect()
}

fn by_label<'a>(report: &'a ScenarioReport, label: &str) -> &'a ExpectationReport {
    all(report)
        .into_iter()
        .find(|e| e.label == label)
        .unwrap_or_else(|| panic!("no expectation {label:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_shows_in_within_and_slower_than() {
    let report = run(r#"
[[step]]
name = "slow down hub"
change = [{ add_toxic = { name = "slow", endpoint = "pe-hub", network = "hub", kind = "latency", latency_ms = 150 } }]

[[step.expect]]
name = "slower than 100ms"
from = "hub"
endpoint = "pe-hub"
port = 6379
command = "PING"
reply = "PONG"
slower_than = "100ms"

[[step.expect]]
name = "within 100ms: wrong on purpose"
from = "hub"
endpoint = "pe-hub"
port = 6379
command = "PING"
reply = "PONG"
within = "100ms"

[[step.expect]]
name = "spoke has no toxic: generous bound"
from = "spoke"
endpoint = "pe-spoke"
port = 6379
connect = "ok"
within = "5s"
"#)
    .await;
    let slow = by_label(&report, "slower than 100ms");
    assert!(slow.passed, "{slow:?}");
    assert!(
        slow.evidence
            .iter()
            .any(|l| l.starts_with("time: connect to reply")),
        "{:?}",
        slow.evidence
    );
    let wrong = by_label(&report, "within 100ms: wrong on purpose");
    assert!(!wrong.passed, "{wrong:?}");
    assert!(wrong.got.contains("more than 100ms"), "{}", wrong.got);
    let spoke = by_label(&report, "spoke has no toxic: generous bound");
    assert!(spoke.passed, "{spoke:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_reset_or_kept_across_a_step() {
    let report = run(r#"
[[step]]
name = "reject pe-hub"
change = [{ reject = "pe-hub" }]

[[step.expect]]
name = "hub's open connection is reset"
from = "hub"
endpoint = "pe-hub"
port = 6379
open_connection = "reset"

[[step.expect]]
name = "spoke's open connection is kept"
from = "spoke"
endpoint = "pe-spoke"
port = 6379
open_connection = "kept"

[[step.expect]]
name = "wrong on purpose: hub's is kept"
from = "hub"
endpoint = "pe-hub"
port = 6379
open_connection = "kept"
"#)
    .await;
    let reset = by_label(&report, "hub's open connection is reset");
    assert!(reset.passed, "{reset:?}");
    assert_eq!(reset.kind, "open_connection");
    assert!(
        reset
            .evidence
            .iter()
            .any(|l| l.contains("after the step's changes")),
        "{:?}",
        reset.evidence
    );
    assert!(
        reset
            .explanation
            .iter()
            .any(|l| l.starts_with("after the step: verdict: drop")),
        "{:?}",
        reset.explanation
    );
    let kept = by_label(&report, "spoke's open connection is kept");
    assert!(kept.passed, "{kept:?}");
    assert_eq!(kept.got, "kept");
    let wrong = by_label(&report, "wrong on purpose: hub's is kept");
    assert!(!wrong.passed, "{wrong:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_is_an_expectation_and_changes_nothing() {
    let report = run(r#"
[[step]]
name = "reject"
change = [{ reject = "pe-hub" }]

[[step]]
name = "approve again"
change = [{ approve = "pe-hub" }]
expect_refused = "Approving rejected private endpoint connections is not supported"

[[step.expect]]
name = "still dropped"
from = "hub"
endpoint = "pe-hub"
connect = "timeout"
"#)
    .await;
    let refused = all(&report)
        .into_iter()
        .find(|e| e.kind == "refused")
        .expect("the refusal is reported");
    assert!(refused.passed, "{refused:?}");
    assert_eq!(
        refused.got,
        "(BadRequest) Approving rejected private endpoint connections is not supported."
    );
    assert_eq!(refused.location, "fidelity.toml:37:18");
    let change = &report.phases[2].changes[0];
    assert!(change.error.is_none(), "{change:?}");
    assert!(change.description.starts_with("refused: "), "{change:?}");
    assert!(by_label(&report, "still dropped").passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_record_answers_an_unowned_address_that_times_out() {
    let report = run(r#"
[[step]]
name = "a hand-made record, then its endpoint goes"
change = [
  { add_record = { zone = "privatelink.redis.cache.windows.net", name = "contoso", endpoint = "pe-hub" } },
  { delete_endpoint = "pe-hub" },
]

[[step.expect]]
name = "unowned"
from = "hub"
resolve = "contoso.redis.cache.windows.net"
answer = "unowned"

[[step.expect]]
name = "times out"
from = "hub"
connect = "timeout"

[[step.expect]]
name = "plain port too"
from = "hub"
port = 6379
connect = "timeout"

[[step.expect]]
name = "wrong on purpose: refused"
from = "hub"
connect = "refused"
"#)
    .await;
    for label in ["unowned", "times out", "plain port too"] {
        let e = by_label(&report, label);
        assert!(e.passed, "{e:?}");
    }
    let wrong = by_label(&report, "wrong on purpose: refused");
    assert!(!wrong.passed);
    assert_eq!(wrong.got, "timeout");
    assert!(
        wrong
            .explanation
            .iter()
            .any(|l| l.contains("no endpoint of the world has address") && l.contains("times out")),
        "{:?}",
        wrong.explanation
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_literal_answer_matches_the_address() {
    let report = run(r#"
[[step]]
name = "a record by address"
change = [{ add_record = { zone = "privatelink.redis.cache.windows.net", name = "contoso", address = "127.99.7.7" } }]

[[step.expect]]
name = "literal"
from = "hub"
resolve = "contoso.redis.cache.windows.net"
answer = "127.99.7.7"

[[step.expect]]
name = "wrong literal"
from = "hub"
resolve = "contoso.redis.cache.windows.net"
answer = "127.99.7.8"
"#)
    .await;
    assert!(by_label(&report, "literal").passed);
    let wrong = by_label(&report, "wrong literal");
    assert!(!wrong.passed);
    assert!(wrong.got.contains("127.99.7.7"), "{}", wrong.got);
}
