//! `redlink check` as CI runs it: the bundled library passes (exit 0) with a JUnit report of the
//! right shape; a scenario with a deliberately wrong expectation fails (exit 1) and explains why;
//! bad input exits 2 with the file, the line and the reason, and wins over failures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redlink-cli-check-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn check(args: &[&str], extra: &[&Path]) -> Output {
    redlink()
        .arg("check")
        .args(args)
        .args(extra)
        .output()
        .expect("redlink check runs")
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Counts `<tag ` and `<tag>` openings.
fn count(xml: &str, tag: &str) -> usize {
    xml.matches(&format!("<{tag} ")).count() + xml.matches(&format!("<{tag}>")).count()
}

const WORLD: &str = r#"
[[network]]
name = "hub"

[[network]]
name = "spoke"

[[cache]]
name = "contoso"

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

#[test]
fn the_bundled_library_passes_with_a_junit_report() {
    let dir = temp_dir("library");
    let junit = dir.join("junit.xml");
    let started = Instant::now();
    let out = check(&["--junit"], &[&junit, &scenarios_dir()]);
    let elapsed = started.elapsed();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert!(stdout.contains("✓ quickstart"), "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");

    let files = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    assert!(files >= 18, "{files} scenario files");
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report is written");
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "),
        "{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
    assert_eq!(
        count(&xml, "testsuite"),
        files,
        "one testsuite per scenario"
    );
    assert!(
        count(&xml, "testcase") >= 3 * files,
        "one testcase per expectation"
    );
    assert_eq!(count(&xml, "failure"), 0);
    assert_eq!(count(&xml, "error"), 0);
    assert!(
        xml.contains("<testsuite name=\"cutover-rehearsal\""),
        "{xml}"
    );
    assert!(
        xml.contains("name=\"[disable public network access] spoke1: connect contoso.redis.cache.windows.net → ok\""),
        "{xml}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_expectation_fails_with_expected_got_and_the_explanation() {
    let dir = temp_dir("wrong");
    let file = dir.join("wrong.toml");
    std::fs::write(
        &file,
        format!(
            "{WORLD}\n[[expect]]\nname = \"deliberately wrong\"\nfrom = \"spoke\"\nconnect = \"ok\"\n\n[[expect]]\nfrom = \"hub\"\nconnect = \"ok\"\n"
        ),
    )
    .expect("write");
    let junit = dir.join("junit.xml");
    let out = check(&["--junit"], &[&junit, &file]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("✗ spoke: deliberately wrong"), "{stdout}");
    assert!(
        stdout.contains("✓ hub: connect contoso.redis.cache.windows.net → ok"),
        "{stdout}"
    );
    assert!(stdout.contains("expected: ok"), "{stdout}");
    // Blocked public clients are dropped by default (a timeout), as in Azure.
    assert!(stdout.contains("got:      timeout"), "{stdout}");
    assert!(
        stdout.contains(&format!("at:       {}:20:1", file.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("zone privatelink.redis.cache.windows.net is not linked to spoke"),
        "{stdout}"
    );
    assert!(
        stdout.contains("public network access of cache contoso is Disabled"),
        "{stdout}"
    );
    assert!(stdout.contains("1 not met"), "{stdout}");

    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(count(&xml, "testcase"), 2);
    assert_eq!(count(&xml, "failure"), 1);
    assert!(
        xml.contains("message=\"expected ok, got timeout\""),
        "{xml}"
    );

    let out = check(&["--json"], &[&file]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let e = &json["scenarios"][0]["phases"][0]["expectations"][0];
    assert_eq!(e["passed"], false);
    assert_eq!(e["got"], "timeout");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2_with_file_line_and_reason_and_wins_over_failures() {
    let dir = temp_dir("bad");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "{WORLD}\n[[step]]\nname = \"oops\"\nchange = [\n  {{ approve = \"pe-nowhere\" }},\n]\n"
        ),
    )
    .expect("write");
    let out = check(&[], &[&bad]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:23:3:", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("pe-nowhere"), "{stderr}");

    let typo = dir.join("typo.toml");
    std::fs::write(
        &typo,
        format!("{WORLD}\n[[expect]]\nfrom = \"hub\"\nconect = \"ok\"\n"),
    )
    .expect("write");
    let out = check(&[], &[&typo]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:22:1:", typo.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `conect`"), "{stderr}");

    let wrong = dir.join("wrong.toml");
    std::fs::write(
        &wrong,
        format!("{WORLD}\n[[expect]]\nfrom = \"spoke\"\nconnect = \"ok\"\n"),
    )
    .expect("write");
    let out = check(&[], &[&wrong, &typo]);
    assert_eq!(out.status.code(), Some(2), "bad input wins over failures");
    let _ = std::fs::remove_dir_all(&dir);
}
