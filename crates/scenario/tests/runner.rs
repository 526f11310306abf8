//! The runner against real worlds: a check that can fail does fail, with the right explanation; a
//! timeline's changes reach DNS, the edge and the engine; several scenarios run side by side.

use redlink_scenario::{RunOptions, ScenarioReport, check_scenario};
use redlink_world::Scenario;

const WORLD: &str = r#"
name = "runner-test"

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

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

fn scenario(extra: &str) -> Scenario {
    Scenario::parse("runner-test.toml", &format!("{WORLD}\n{extra}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn run(extra: &str) -> ScenarioReport {
    let report = check_scenario(&scenario(extra), &RunOptions::default()).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_connect_expectation_fails_with_the_worlds_explanation() {
    let report = run(r#"
[[expect]]
name = "deliberately wrong: spoke times out in truth"
from = "spoke"
connect = "ok"
"#)
    .await;
    assert!(!report.passed());
    assert_eq!(report.counts(), (0, 1));
    let (_, e) = report.expectations().next().expect("one expectation");
    assert_eq!(e.expected, "ok");
    // Blocked public clients are dropped by default (Azure's silent drop): a timeout.
    assert_eq!(e.got, "timeout");
    assert_eq!(e.location, "runner-test.toml:24:1");
    let evidence = e.evidence.join("\n");
    assert!(
        evidence.contains("dns: asked spoke's resolver"),
        "{evidence}"
    );
    assert!(evidence.contains("(timeout)"), "{evidence}");
    let world = e.explanation.join("\n");
    assert!(world.contains("is not linked to spoke"), "{world}");
    assert!(
        world.contains("public network access of cache contoso is Disabled"),
        "{world}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_resolve_expectation_fails_and_says_why() {
    let report = run(r#"
[[expect]]
from = "spoke"
resolve = "contoso.redis.cache.windows.net"
answer = "pe-hub"
"#)
    .await;
    let (_, e) = report.expectations().next().expect("one expectation");
    assert!(!e.passed);
    assert_eq!(e.expected, "private endpoint pe-hub");
    assert!(e.got.starts_with("public ("), "{}", e.got);
    assert!(
        e.explanation[0]
            .contains("zone privatelink.redis.cache.windows.net is not linked to spoke"),
        "{:?}",
        e.explanation
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_reply_fails_with_the_reply_seen() {
    let report = run(r#"
[[expect]]
from = "hub"
get = { key = "never-set", value = "something" }
"#)
    .await;
    let (_, e) = report.expectations().next().expect("one expectation");
    assert!(!e.passed);
    assert_eq!(
        (e.expected.as_str(), e.got.as_str()),
        ("something", "(nil)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_change_dns_the_edge_and_the_engine() {
    let report = run(r#"
[[expect]]
from = "hub"
set = { key = "k", value = "v" }

[[step]]
name = "link spoke, peer nothing: the endpoint is in hub"
change = [{ link = { zone = "privatelink.redis.cache.windows.net", network = "spoke" } }]
[[step.expect]]
from = "spoke"
resolve = "contoso.redis.cache.windows.net"
answer = "pe-hub"
[[step.expect]]
name = "spoke is not peered with hub: dropped"
from = "spoke"
connect = "timeout"

[[step]]
name = "a password"
change = [{ config = { cache = "contoso", requirepass = "s3cret" } }]
[[step.expect]]
from = "hub"
auth = "noauth"
[[step.expect]]
from = "hub"
auth = "wrongpass"
password = "nope"
[[step.expect]]
from = "hub"
password = "s3cret"
get = { key = "k", value = "v" }

[[step]]
name = "stop"
change = [{ stop = "contoso" }]
[[step.expect]]
from = "hub"
connect = "refused"
"#)
    .await;
    for (phase, e) in report.expectations() {
        assert!(
            e.passed,
            "{}: {}: expected {}, got {}\n{:#?}",
            phase.title(),
            e.label,
            e.expected,
            e.got,
            e.evidence
        );
    }
    assert_eq!(report.counts(), (7, 0));
    assert_eq!(report.phases.len(), 4);
    assert!(report.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_run_side_by_side_in_their_own_blocks() {
    let extra = r#"
[[expect]]
from = "hub"
connect = "ok"
"#;
    let (a, b) = (scenario(extra), scenario(extra));
    let options = RunOptions::default();
    let (ra, rb) = tokio::join!(check_scenario(&a, &options), check_scenario(&b, &options));
    assert!(ra.passed() && rb.passed(), "{ra:#?}\n{rb:#?}");
    assert_ne!(ra.block, rb.block);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_come_and_go_with_steps() {
    let report = run(r#"
[[step]]
name = "a toxic that holds every byte"
change = [{ add_toxic = { name = "stall", endpoint = "pe-hub", kind = "timeout", timeout_ms = 0 } }]
[[step.expect]]
from = "hub"
port = 6379
connect = "no-reply"

[[step]]
name = "remove it"
change = [{ remove_toxic = "stall" }]
[[step.expect]]
from = "hub"
port = 6379
connect = "ok"
"#)
    .await;
    for (phase, e) in report.expectations() {
        assert!(
            e.passed,
            "{}: expected {}, got {}\n{:#?}",
            phase.title(),
            e.expected,
            e.got,
            e.evidence
        );
    }
    assert_eq!(
        report.phases[1].changes[0].description,
        "added toxic stall (timeout (hold forever), downstream)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_blackhole_show_at_the_first_read() {
    let report = run(
        r#"
[[step]]
name = "blocked public clients are reset"
change = [{ public_access = { cache = "contoso", access = "Disabled", blocked_action = "reset" } }]
[[step.expect]]
from = "spoke"
connect = "reset"
[[step.expect]]
from = "spoke"
port = 6379
connect = "reset"

[[step]]
name = "blocked public clients hang"
change = [{ public_access = { cache = "contoso", access = "Disabled", blocked_action = "blackhole" } }]
[[step.expect]]
from = "spoke"
port = 6379
connect = "no-reply"
"#,
    )
    .await;
    for (phase, e) in report.expectations() {
        assert!(
            e.passed,
            "{}: {}: expected {}, got {}\n{:#?}",
            phase.title(),
            e.label,
            e.expected,
            e.got,
            e.evidence
        );
    }
}
