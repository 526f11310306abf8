//! `redlink explain`: a client's message to the likely causes (in the guides' order) and the
//! scenario that reproduces each; exit 0 with causes, 1 with none, 2 for bad input; `-o json`.

use std::process::Command;

fn explain(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
        .arg("explain")
        .args(args)
        .output()
        .expect("redlink runs")
}

#[test]
fn redis_py_refusal_lists_causes_with_their_scenarios() {
    let out = explain(&[
        "Error 111 connecting to contoso.redis.cache.windows.net:6380. Connection refused.",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("symptom: connection refused"), "{text}");
    let public = text
        .find("redlink check scenarios/missing-dns-zone-link.toml")
        .expect(&text);
    let stopped = text
        .find("redlink check scenarios/server-stopped.toml")
        .expect(&text);
    assert!(public < stopped, "DNS is checked before the server: {text}");
    // The message names 6380: the disabled non-TLS port 6379 comes last, saying why.
    let port = text
        .find("redlink check scenarios/wrong-port.toml")
        .expect(&text);
    assert!(stopped < port, "{text}");
    assert!(
        text.contains("[less likely: the message names port 6380]"),
        "{text}"
    );
    assert!(
        text.contains("redis-py in case"),
        "the matrix saw this message: {text}"
    );
}

#[test]
fn errno_words_and_auth_errors_are_recognised() {
    for (message, scenario) in [
        ("connect ETIMEDOUT", "pending-endpoint-approval.toml"),
        (
            "getaddrinfo ENOTFOUND contoso.redis.cache.windows.net",
            "zone-linked-missing-record.toml",
        ),
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch",
            "privatelink-fqdn-tls-mismatch.toml",
        ),
        (
            "NOAUTH Authentication required.",
            "requirepass-mismatch.toml",
        ),
        (
            "WRONGPASS invalid username-password pair or user is disabled.",
            "requirepass-mismatch.toml",
        ),
    ] {
        let out = explain(&[message, "-o", "json"]);
        assert!(
            out.status.success(),
            "{message}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let scenarios: Vec<&str> = json["causes"]
            .as_array()
            .expect("causes")
            .iter()
            .filter_map(|c| c["scenario"].as_str())
            .collect();
        assert!(
            scenarios.contains(&format!("scenarios/{scenario}").as_str()),
            "{message}: {scenarios:?}"
        );
    }
}

#[test]
fn an_unknown_message_exits_1_and_an_empty_one_2() {
    let out = explain(&["all good here"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = explain(&["  "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
}
