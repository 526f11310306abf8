//! The timeline on the world's one clock: `check` reaches each step's `at` by advancing a manual
//! clock (hours cost nothing), and gives the same results as the same timeline run in real time
//! (as `up` does) — here with resolvers that cache answers for their TTL.

use std::time::{Duration, Instant};

use redlink_runtime::{RunningWorld, UpOptions};
use redlink_scenario::{Pacing, RunOptions, check_scenario, run_timeline};
use redlink_world::Scenario;

/// A private record with a 1 s TTL, moved from pe-a to pe-b at 300 ms: a caching resolver keeps
/// pe-a until the TTL runs out.
const TIMELINE: &str = r#"
name = "clock-test"
dns_cache = true

[[network]]
name = "hub"

[[cache]]
name = "contoso"

[[private_endpoint]]
name = "pe-a"
network = "hub"
cache = "contoso"

[[private_endpoint]]
name = "pe-b"
network = "hub"
cache = "contoso"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
auto_register = false
records = [{ name = "contoso", endpoint = "pe-a", ttl = 1 }]
links = [{ network = "hub" }]

[[expect]]
from = "hub"
resolve = "contoso.redis.cache.windows.net"
answer = "pe-a"

[[step]]
name = "move the record"
at = "300ms"
change = [
  { remove_record = { zone = "privatelink.redis.cache.windows.net", name = "contoso" } },
  { add_record = { zone = "privatelink.redis.cache.windows.net", name = "contoso", endpoint = "pe-b", ttl = 1 } },
]

[[step.expect]]
name = "cached"
from = "hub"
resolve = "contoso.redis.cache.windows.net"
answer = "pe-a"

[[step]]
name = "expired"
at = "1500ms"

[[step.expect]]
name = "asked again"
from = "hub"
resolve = "contoso.redis.cache.windows.net"
answer = "pe-b"
"#;

/// Each expectation's outcome without its address (two worlds live in different address blocks).
fn outcomes(report: &redlink_scenario::ScenarioReport) -> Vec<(String, bool)> {
    report
        .expectations()
        .map(|(_, e)| {
            let got = e.got.split(" (").next().unwrap_or_default().to_owned();
            (got, e.passed)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_on_a_manual_clock_matches_a_real_time_run() {
    let scenario = Scenario::parse("clock.toml", TIMELINE).unwrap_or_else(|e| panic!("{e}"));
    let simulated = check_scenario(&scenario, &RunOptions::default()).await;
    assert!(simulated.passed(), "{simulated:#?}");
    // The report explains a cached answer as one, with why it was that answer when cached.
    let (_, cached) = simulated
        .expectations()
        .nth(1)
        .expect("the step's expectation");
    let why = cached.explanation.join("\n");
    assert!(why.contains("answered from hub's DNS cache"), "{why}");
    assert!(why.contains("cached 0 s ago, 1 s of TTL left"), "{why}");

    let dir = std::env::temp_dir().join(format!("redlink-clock-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let world = RunningWorld::start(
        &scenario,
        UpOptions {
            state_file: Some(dir.join("state.json")),
            dns_port: 0,
            ..UpOptions::default()
        },
    )
    .await
    .expect("world starts");
    let started = Instant::now();
    let options = RunOptions {
        pacing: Pacing::RealTime { speed: 1.0 },
        ..RunOptions::default()
    };
    let phases = run_timeline(&world, &scenario, &options, |_| {}).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "real time waited for `at`"
    );
    world.shutdown().await.expect("stops");
    let _ = std::fs::remove_dir_all(&dir);
    let real = redlink_scenario::ScenarioReport {
        phases,
        ..simulated.clone()
    };
    assert_eq!(
        outcomes(&real),
        outcomes(&simulated),
        "same results in real time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_hours_apart_check_in_well_under_a_second() {
    let text = TIMELINE
        .replace("at = \"300ms\"", "at = \"2h\"")
        .replace("at = \"1500ms\"", "at = \"26h\"")
        .replace("ttl = 1 }", "ttl = 3600 }");
    let scenario = Scenario::parse("hours.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let report = check_scenario(&scenario, &RunOptions::default()).await;
    let took = started.elapsed();
    // The record moved at 2 h, one hour after the initial answer (TTL 1 h) expired: fresh answers.
    let got: Vec<String> = report.expectations().map(|(_, e)| e.got.clone()).collect();
    assert_eq!(report.error, None);
    assert!(
        got[1].contains("pe-b") && got[2].contains("pe-b"),
        "{got:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} for a 26 h timeline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_speed_runs_the_clock_faster_so_ttls_compress_with_the_timeline() {
    // TTL 30 s; the record moves at 2 s and is asked again at 40 s. At 10× the whole timeline takes
    // 4 s of real time and still sees the cached answer at 2 s and the new one at 40 s.
    let text = TIMELINE
        .replace("at = \"300ms\"", "at = \"2s\"")
        .replace("at = \"1500ms\"", "at = \"40s\"")
        .replace("ttl = 1 }", "ttl = 30 }");
    let scenario = Scenario::parse("speed.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("redlink-speed-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let world = RunningWorld::start(
        &scenario,
        UpOptions {
            state_file: Some(dir.join("state.json")),
            dns_port: 0,
            clock: redlink_clock::Clock::real_scaled(10.0),
            ..UpOptions::default()
        },
    )
    .await
    .expect("world starts");
    let started = Instant::now();
    let options = RunOptions {
        pacing: Pacing::RealTime { speed: 10.0 },
        ..RunOptions::default()
    };
    let phases = run_timeline(&world, &scenario, &options, |_| {}).await;
    let took = started.elapsed();
    world.shutdown().await.expect("stops");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        took >= Duration::from_secs(4),
        "40 s at 10× is 4 s: {took:?}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    let got: Vec<(String, bool)> = phases
        .iter()
        .flat_map(|p| &p.expectations)
        .map(|e| {
            (
                e.got.split(" (").next().unwrap_or_default().to_owned(),
                e.passed,
            )
        })
        .collect();
    assert!(got.iter().all(|(_, passed)| *passed), "{got:?}");
}

/// The bundled example (`scenarios/clock-session-expiry.toml`): keys with TTLs on the cache's
/// engine, DNS TTL caches and steps 6 h apart (`at` and a step's own `advance`) — every check met,
/// in simulated time, and the same report on every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_expiry_example_gives_the_same_report_twice() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/clock-session-expiry.toml"
    );
    let text = std::fs::read_to_string(path).expect("the bundled scenario");
    let scenario =
        Scenario::parse("clock-session-expiry.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let run = || async {
        let started = Instant::now();
        let report = check_scenario(&scenario, &RunOptions::default()).await;
        (report, started.elapsed())
    };
    let (first, took) = run().await;
    assert!(first.passed(), "{first:#?}");
    // 8 h 30 min of timeline: seconds at most even on a loaded machine (well under one alone).
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let (second, _) = run().await;
    assert!(second.passed(), "{second:#?}");
    let changes = |r: &redlink_scenario::ScenarioReport| -> Vec<String> {
        r.phases
            .iter()
            .flat_map(|p| &p.changes)
            .map(|c| c.description.clone())
            .collect()
    };
    assert_eq!(changes(&first), changes(&second));
    assert!(
        changes(&first).contains(&"advanced the clock by 6h".to_owned()),
        "{:?}",
        changes(&first)
    );
    assert_eq!(outcomes(&first), outcomes(&second));
    let expected: Vec<String> = first
        .expectations()
        .map(|(_, e)| e.expected.clone())
        .collect();
    assert_eq!(
        expected,
        second
            .expectations()
            .map(|(_, e)| e.expected.clone())
            .collect::<Vec<_>>()
    );
}
