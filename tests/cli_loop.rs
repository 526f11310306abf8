//! The everyday loop, end to end: `redlink up` in one process, `redlink exec` joining that world
//! with an application (redis-py in a retry loop, or redis-cli) in another, and `redlink ctl`
//! fixing the world meanwhile — the application sees the fix at once. Also: an exec without a
//! running world starts its own, whose control API `ctl` reaches from outside. Linux, user
//! namespaces, redis-py and redis-cli (each test says why it skips when one is missing); every
//! process is bounded in time and every world has its own runtime directory and state file.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HOST: &str = "contoso.redis.cache.windows.net";
const LIMIT: Duration = Duration::from_secs(60);

fn redlink() -> &'static str {
    env!("CARGO_BIN_EXE_redlink")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A python3 that has redis-py (CI installs it for `python3`; some machines only have it for the
/// system interpreter).
fn python_with_redis() -> Option<String> {
    ["python3", "/usr/bin/python3"].into_iter().find_map(|p| {
        Command::new(p)
            .args(["-c", "import redis"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            .then(|| p.to_owned())
    })
}

/// Whether `exec` can create its namespaces here; prints why not.
fn namespaces_available(runtime_dir: &Path) -> bool {
    let mut c = Command::new(redlink());
    c.args(["exec", "--new-world", "--network", "hub", "--", "true"]);
    isolate(&mut c, runtime_dir);
    let out = support::bounded(c, LIMIT);
    if out.status.success() {
        return true;
    }
    eprintln!(
        "note: skipping: exec cannot create its namespaces here: {}",
        text(&out.stderr)
    );
    false
}

/// A runtime directory of the test's own, so `current.json` and `redlink ls` see only its worlds.
fn runtime_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redlink-loop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("runtime dir");
    dir
}

fn isolate(c: &mut Command, runtime_dir: &Path) {
    c.env("XDG_RUNTIME_DIR", runtime_dir)
        .env_remove("REDLINK_STATE")
        .env_remove("REDLINK_EXEC_NETNS")
        .env_remove("REDLINK_CONTROL_PASSWORD");
}

/// A running `redlink up` (killed when dropped).
struct Up {
    child: Child,
    state: PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `redlink up` with the default state path (so it keeps `current.json`, where `exec`, `probe`
/// and `ctl` find it).
fn up(runtime_dir: &Path) -> Up {
    let mut c = Command::new(redlink());
    c.args(["up", "--for", "90s"]);
    isolate(&mut c, runtime_dir);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let pid = child.id();
    let child = support::until_ready(child, "Running for");
    // The default path: NAME-PID.json in the runtime directory's redlink/.
    let state = runtime_dir
        .join("redlink")
        .join(format!("quickstart-{pid}.json"));
    assert!(state.exists(), "{} exists", state.display());
    Up { child, state }
}

fn ctl(runtime_dir: &Path, state: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(redlink());
    c.arg("ctl").arg("--state-file").arg(state).args(args);
    isolate(&mut c, runtime_dir);
    support::bounded(c, LIMIT)
}

/// Lines of a child's stdout, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!(
                "no line {what} within {LIMIT:?}; last lines: {:?}",
                &seen[seen.len().saturating_sub(5)..]
            ),
        }
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the exec did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An application retrying until the cache answers: what a developer runs while fixing the world.
const RETRY_LOOP: &str = r#"
import sys, time, redis
deadline = time.time() + 50
tries = 0
while True:
    tries += 1
    try:
        r = redis.Redis(host=sys.argv[1], port=6379, socket_connect_timeout=2, socket_timeout=2)
        r.set("loop", "fixed")
        print("ok after", tries, "tries:", r.get("loop").decode(), flush=True)
        sys.exit(0)
    except redis.exceptions.ConnectionError as e:
        print("retry", tries, e, flush=True)
        if time.time() > deadline:
            sys.exit(1)
        time.sleep(0.2)
"#;

#[test]
fn an_app_in_exec_retries_until_ctl_fixes_the_world() {
    let Some(python) = python_with_redis() else {
        eprintln!("note: skipping: no python3 with redis-py (pip install redis)");
        return;
    };
    let dir = runtime_dir("retry");
    if !namespaces_available(&dir) {
        return;
    }
    let world = up(&dir);
    // The app joins the running world: found through current.json, like probe and ctl.
    let mut c = Command::new(redlink());
    c.args([
        "exec",
        "--network",
        "spoke",
        "--",
        &python,
        "-c",
        RETRY_LOOP,
        HOST,
    ]);
    isolate(&mut c, &dir);
    let mut app = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec starts");
    let lines = lines_of(&mut app);
    // spoke resolves the public address; public access is Disabled (refuse).
    let refused = wait_line(&lines, "with a refusal", |l| l.starts_with("retry"));
    assert!(refused.contains("refused"), "{refused}");
    // The fix, from outside (another terminal).
    let out = ctl(
        &dir,
        &world.state,
        &[
            "redis",
            "update",
            "--name",
            "contoso",
            "--set",
            "publicNetworkAccess=Enabled",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ok = wait_line(&lines, "reporting success", |l| l.starts_with("ok after"));
    assert!(ok.ends_with("fixed"), "{ok}");
    let status = wait_exit(&mut app);
    let mut err = String::new();
    if let Some(mut e) = app.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(status.success(), "{status}: {err}");
    assert!(
        err.contains("joined world quickstart"),
        "exec says which world it joined: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctl_inside_a_joined_exec_takes_effect_before_it_returns() {
    if !has("redis-cli") {
        eprintln!("note: skipping: redis-cli is not installed");
        return;
    }
    let dir = runtime_dir("inside");
    if !namespaces_available(&dir) {
        return;
    }
    let world = up(&dir);
    let script = format!(
        "redis-cli -h {HOST} -p 6379 PING; \
         {bin} ctl redis update --name contoso --set publicNetworkAccess=Enabled >/dev/null && \
         redis-cli -h {HOST} -p 6379 PING; \
         {bin} ctl redis update --name contoso --set publicNetworkAccess=Disabled >/dev/null && \
         redis-cli -h {HOST} -p 6379 PING",
        bin = redlink()
    );
    let mut c = Command::new(redlink());
    c.args(["exec", "--network", "spoke", "--state-file"])
        .arg(&world.state)
        .args(["--", "sh", "-c", &script]);
    isolate(&mut c, &dir);
    let out = support::bounded(c, LIMIT);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // Refused, then PONG right after the change, then refused again.
    assert_eq!(stdout.trim(), "PONG", "stdout {stdout:?} stderr {stderr}");
    assert_eq!(
        stderr.matches("Connection refused").count(),
        2,
        "stderr: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_exec_world_has_a_control_api_reachable_from_outside() {
    let dir = runtime_dir("own");
    if !namespaces_available(&dir) {
        return;
    }
    let mut c = Command::new(redlink());
    c.args([
        "exec",
        "--network",
        "hub",
        "--",
        "sh",
        "-c",
        "echo \"$REDLINK_STATE\"; read line; echo \"got $line\"",
    ]);
    isolate(&mut c, &dir);
    let mut exec = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec starts");
    let lines = lines_of(&mut exec);
    let state = PathBuf::from(wait_line(&lines, "naming the state file", |l| {
        l.ends_with(".json")
    }));
    let out = ctl(
        &dir,
        &state,
        &[
            "network",
            "private-endpoint-connection",
            "reject",
            "--name",
            "pe-hub",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = ctl(
        &dir,
        &state,
        &["network", "private-endpoint", "show", "--name", "pe-hub"],
    );
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(
        json["privateLinkServiceConnections"][0]["privateLinkServiceConnectionState"]["status"],
        "Rejected",
        "{json}"
    );
    if let Some(mut stdin) = exec.stdin.take() {
        let _ = writeln!(stdin, "done");
    }
    wait_line(&lines, "after stdin", |l| l == "got done");
    assert!(wait_exit(&mut exec).success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The address of private endpoint `name` in the world of state file `state` (worlds run in
/// parallel, each in its own address block: never a literal address).
fn endpoint_address(state: &Path, name: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state).expect("state file")).expect("JSON");
    json["caches"]["contoso"]["endpoints"]
        .as_array()
        .and_then(|eps| eps.iter().find(|e| e["name"] == name))
        .and_then(|e| e["address"].as_str())
        .expect("the endpoint's address")
        .to_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn ok_json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).expect("JSON output")
}

#[test]
fn several_worlds_stay_addressable() {
    let dir = runtime_dir("several");
    let first = up(&dir);
    let second = up(&dir);
    // The second did not take current.json over.
    assert_ne!(first.state, second.state);
    let current = std::fs::canonicalize(dir.join("redlink").join("current.json")).expect("pointer");
    assert_eq!(current, first.state);
    let mut c = Command::new(redlink());
    c.args(["ls", "-o", "json"]);
    isolate(&mut c, &dir);
    let listed = ok_json(&support::bounded(c, LIMIT));
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|w| w["name"] == "quickstart" && w["control"].is_string())
    );
    let second_id = listed
        .iter()
        .find(|w| !w["current"].as_bool().unwrap_or(true))
        .and_then(|w| w["id"].as_str())
        .expect("the second world's id")
        .to_owned();
    let mut c = Command::new(redlink());
    c.args(["ls"]);
    isolate(&mut c, &dir);
    let table = ok(&support::bounded(c, LIMIT));
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(&second_id), "{table}");
    // --world selects; the name alone is ambiguous and says so.
    let mut c = Command::new(redlink());
    c.args([
        "ctl", "--world", &second_id, "redis", "update", "--name", "contoso",
    ])
    .args(["--set", "publicNetworkAccess=Enabled", "-o", "none"]);
    isolate(&mut c, &dir);
    ok(&support::bounded(c, LIMIT));
    let second_state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&second.state).expect("state")).expect("JSON");
    let first_state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&first.state).expect("state")).expect("JSON");
    assert_eq!(
        second_state["caches"]["contoso"]["public_network_access"],
        "Enabled"
    );
    assert_eq!(
        first_state["caches"]["contoso"]["public_network_access"],
        "Disabled"
    );
    let mut c = Command::new(redlink());
    c.args(["ctl", "--world", "quickstart", "status"]);
    isolate(&mut c, &dir);
    let out = support::bounded(c, LIMIT);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("2 worlds are named"),
        "{}",
        text(&out.stderr)
    );
    let mut c = Command::new(redlink());
    c.args(["probe", "--world", &second_id, "--network", "spoke", HOST]);
    isolate(&mut c, &dir);
    let probed = ok(&support::bounded(c, LIMIT));
    assert!(probed.contains("outcome: ok"), "{probed}");
    // The first stops: its pointer goes, and the one world left is found without a choice.
    drop(first);
    let mut c = Command::new(redlink());
    c.args([
        "ctl",
        "redis",
        "show",
        "--name",
        "contoso",
        "--query",
        "publicNetworkAccess",
        "-o",
        "tsv",
    ]);
    isolate(&mut c, &dir);
    assert_eq!(ok(&support::bounded(c, LIMIT)).trim(), "Enabled");
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every documented `ctl` verb against a running world, in an order each one makes sense in.
#[test]
fn every_documented_ctl_verb_works_end_to_end() {
    let dir = runtime_dir("verbs");
    let world = up(&dir);
    let s = world.state.clone();
    let zone = "privatelink.redis.cache.windows.net";
    let run = |args: &[&str]| ctl(&dir, &s, args);
    // Private endpoints and their connections.
    let pe = ok_json(&run(&[
        "network",
        "private-endpoint",
        "show",
        "--name",
        "pe-hub",
    ]));
    assert_eq!(pe["name"], "pe-hub");
    let list = ok_json(&run(&["network", "private-endpoint", "list"]));
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    for (verb, status) in [("reject", "Rejected"), ("show", "Rejected")] {
        let c = ok_json(&run(&[
            "network",
            "private-endpoint-connection",
            verb,
            "--name",
            "pe-hub",
        ]));
        assert_eq!(
            c["privateLinkServiceConnectionState"]["status"], status,
            "{verb}"
        );
    }
    ok(&run(&[
        "raw",
        "WORLD.CHANGE",
        r#"{"endpoint_state":{"endpoint":"pe-hub","state":"Pending"}}"#,
    ]));
    let c = ok_json(&run(&[
        "network",
        "private-endpoint-connection",
        "approve",
        "--name",
        "pe-hub",
    ]));
    assert_eq!(c["privateLinkServiceConnectionState"]["status"], "Approved");
    // Zones, links, records.
    let z = ok_json(&run(&[
        "network",
        "private-dns",
        "zone",
        "create",
        "--name",
        "privatelink.redis.azure.net",
    ]));
    assert_eq!(z["name"], "privatelink.redis.azure.net");
    ok_json(&run(&[
        "network",
        "private-dns",
        "zone",
        "show",
        "--name",
        zone,
    ]));
    let zones = ok_json(&run(&["network", "private-dns", "zone", "list"]));
    assert_eq!(zones.as_array().map(Vec::len), Some(2));
    ok(&run(&[
        "network",
        "private-dns",
        "zone",
        "delete",
        "--name",
        "privatelink.redis.azure.net",
    ]));
    let link = ok_json(&run(&[
        "network",
        "private-dns",
        "link",
        "vnet",
        "create",
        "--zone-name",
        zone,
        "--name",
        "spoke-link",
        "--virtual-network",
        "spoke",
    ]));
    assert_eq!(link["name"], "spoke-link");
    let link = ok_json(&run(&[
        "network",
        "private-dns",
        "link",
        "vnet",
        "update",
        "--zone-name",
        zone,
        "--name",
        "spoke-link",
        "--resolution-policy",
        "NxDomainRedirect",
    ]));
    assert_eq!(link["resolutionPolicy"], "NxDomainRedirect", "{link}");
    ok_json(&run(&[
        "network",
        "private-dns",
        "link",
        "vnet",
        "show",
        "--zone-name",
        zone,
        "--name",
        "spoke-link",
    ]));
    let links = ok_json(&run(&[
        "network",
        "private-dns",
        "link",
        "vnet",
        "list",
        "--zone-name",
        zone,
    ]));
    assert_eq!(links.as_array().map(Vec::len), Some(2));
    ok(&run(&[
        "network",
        "private-dns",
        "link",
        "vnet",
        "delete",
        "--zone-name",
        zone,
        "--name",
        "spoke-link",
        "--yes",
    ]));
    let rs = ok_json(&run(&[
        "network",
        "private-dns",
        "record-set",
        "a",
        "add-record",
        "--zone-name",
        zone,
        "--record-set-name",
        "other",
        "--ipv4-address",
        "127.10.1.9",
    ]));
    assert_eq!(rs["aRecords"][0]["ipv4Address"], "127.10.1.9", "{rs}");
    ok_json(&run(&[
        "network",
        "private-dns",
        "record-set",
        "a",
        "show",
        "--zone-name",
        zone,
        "--name",
        "other",
    ]));
    let sets = ok_json(&run(&[
        "network",
        "private-dns",
        "record-set",
        "a",
        "list",
        "--zone-name",
        zone,
    ]));
    assert!(sets.as_array().is_some_and(|a| a.len() >= 2), "{sets}");
    let rs = ok_json(&run(&[
        "network",
        "private-dns",
        "record-set",
        "a",
        "remove-record",
        "--zone-name",
        zone,
        "--record-set-name",
        "other",
        "--ipv4-address",
        "127.10.1.9",
    ]));
    assert_eq!(rs["aRecords"], serde_json::json!([]), "{rs}");
    // Caches.
    for set in [
        "publicNetworkAccess=Enabled",
        "redisConfiguration.maxclients=50",
        "requirepass=s3cret",
        "requirepass=",
    ] {
        ok_json(&run(&[
            "redis", "update", "--name", "contoso", "--set", set,
        ]));
    }
    let r = ok_json(&run(&[
        "redis",
        "update",
        "--name",
        "contoso",
        "--set",
        "publicNetworkAccess=Disabled",
        "--set",
        "publicBlockedAction=drop",
    ]));
    assert_eq!(r["publicNetworkAccess"], "Disabled");
    ok_json(&run(&["redis", "show", "--name", "contoso"]));
    ok_json(&run(&["redis", "list"]));
    ok_json(&run(&["redis", "stop", "--name", "contoso"]));
    ok_json(&run(&["redis", "start", "--name", "contoso"]));
    // Toxics, with Toxiproxy's names.
    let t = ok_json(&run(&[
        "toxic",
        "add",
        "--name",
        "slow",
        "--type",
        "latency",
        "-a",
        "latency=50",
        "-a",
        "jitter=5",
        "--endpoint",
        "pe-hub",
        "--upstream",
    ]));
    assert_eq!(t["stream"], "upstream");
    assert_eq!(t["attributes"]["latency"], 50);
    let names = ok(&run(&["toxic", "list", "--query", "[].name", "-o", "tsv"]));
    assert_eq!(names.trim(), "slow");
    ok(&run(&["toxic", "remove", "--name", "slow"]));
    for (kind, attribute) in [
        ("limit_data", "bytes=1"),
        ("slow_close", "delay=10"),
        ("reset_peer", "timeout=0"),
        ("bandwidth", "rate=64"),
        ("slicer", "average_size=8"),
        ("timeout", "timeout=0"),
    ] {
        let t = ok_json(&run(&[
            "toxic", "add", "--name", kind, "--type", kind, "-a", attribute,
        ]));
        assert_eq!(t["type"], kind, "{t}");
        ok(&run(&["toxic", "remove", "--name", kind]));
    }
    let half = ok_json(&run(&[
        "toxic",
        "add",
        "--name",
        "half",
        "--type",
        "latency",
        "-a",
        "latency=1",
        "--toxicity",
        "0.5",
    ]));
    assert_eq!(half["toxicity"], 0.5, "{half}");
    ok(&run(&["toxic", "remove", "--name", "half"]));
    let refused = run(&[
        "toxic",
        "add",
        "--name",
        "x",
        "--type",
        "latency",
        "-a",
        "latency=1",
        "--toxicity",
        "2",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let refused = run(&["toxic", "add", "--name", "x", "--type", "poison"]);
    assert_eq!(refused.status.code(), Some(2));
    if has("redis-cli") {
        // reset_peer on the requests: the first command brings a reset.
        ok(&run(&[
            "toxic",
            "add",
            "--name",
            "rst",
            "--type",
            "reset_peer",
            "-a",
            "timeout=0",
            "--endpoint",
            "pe-hub",
            "--upstream",
        ]));
        let out = support::bounded(
            {
                let mut c = Command::new("redis-cli");
                c.args(["-h", &endpoint_address(&s, "pe-hub"), "-p", "6379", "PING"]);
                c
            },
            LIMIT,
        );
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!said.contains("PONG"), "{said}");
        ok(&run(&["toxic", "remove", "--name", "rst"]));
    }
    // Reads in az's formats.
    let status = ok(&run(&["status", "-o", "table"]));
    assert!(
        status
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("Network")),
        "{status}"
    );
    assert!(status.lines().all(|l| l.chars().count() <= 120), "{status}");
    let yaml = ok(&run(&["redis", "show", "--name", "contoso", "-o", "yaml"]));
    assert!(yaml.contains("name: contoso"), "{yaml}");
    let bad = run(&["redis", "list", "--query", "[?"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    // events, raw and its exit codes.
    ok(&run(&["events", "--wait", "200ms"]));
    let help = ok(&run(&["raw", "WORLD.HELP"]));
    assert!(help.contains("WORLD.CHANGE"), "{help}");
    let error_reply = run(&["raw", "NOSUCH"]);
    assert_eq!(error_reply.status.code(), Some(2));
    let mut c = Command::new(redlink());
    c.args([
        "ctl",
        "--control",
        "127.0.0.1:1",
        "--password",
        "x",
        "raw",
        "PING",
    ]);
    isolate(&mut c, &dir);
    assert_eq!(support::bounded(c, LIMIT).status.code(), Some(1));
    // The rest of the change vocabulary in its documented JSON form.
    for change in [
        r#"{"create_endpoint":{"name":"pe-2","network":"spoke","cache":"contoso","state":"Approved","register_in":"privatelink.redis.cache.windows.net"}}"#,
        r#"{"add_zone":"privatelink.redis.azure.net"}"#,
        r#"{"remove_zone":"privatelink.redis.azure.net"}"#,
        r#"{"link":{"zone":"privatelink.redis.cache.windows.net","network":"spoke","name":"spoke-link","resolution_policy":"Default"}}"#,
        r#"{"resolution_policy":{"zone":"privatelink.redis.cache.windows.net","network":"spoke","policy":"NxDomainRedirect"}}"#,
        r#"{"unlink":{"zone":"privatelink.redis.cache.windows.net","network":"spoke"}}"#,
        r#"{"add_record":{"zone":"privatelink.redis.cache.windows.net","name":"extra","address":"127.10.1.4","ttl":10}}"#,
        r#"{"add_record":{"zone":"privatelink.redis.cache.windows.net","name":"extra2","endpoint":"pe-hub"}}"#,
        r#"{"remove_record":{"zone":"privatelink.redis.cache.windows.net","name":"extra","address":"127.10.1.4"}}"#,
        r#"{"public_access":{"cache":"contoso","access":"Disabled","blocked_action":"drop"}}"#,
        r#"{"add_rule":{"name":"deny-spoke","priority":100,"source":"spoke","destination":"pe-hub","port":6380,"action":"deny","deny_as":"reset"}}"#,
        r#"{"remove_rule":"deny-spoke"}"#,
        r#"{"stop":"contoso"}"#,
        r#"{"start":"contoso"}"#,
        r#"{"config":{"cache":"contoso","requirepass":"s3cret","maxclients":50}}"#,
        r#"{"add_toxic":{"name":"slow","endpoint":"pe-hub","kind":"latency","latency_ms":200}}"#,
        r#"{"remove_toxic":"slow"}"#,
        r#"{"delete_endpoint":"pe-2"}"#,
        r#"{"reject":"pe-hub"}"#,
        r#"{"disconnect":"pe-hub"}"#,
    ] {
        let out = run(&["raw", "WORLD.CHANGE", change]);
        assert!(out.status.success(), "{change}: {}", text(&out.stderr));
    }
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn probe_names_the_missing_peering_and_takes_durations() {
    let dir = runtime_dir("probe");
    let world = up(&dir);
    ok(&ctl(
        &dir,
        &world.state,
        &[
            "network",
            "private-dns",
            "link",
            "vnet",
            "create",
            "--zone-name",
            "privatelink.redis.cache.windows.net",
            "--name",
            "spoke-link",
            "--virtual-network",
            "spoke",
        ],
    ));
    let mut c = Command::new(redlink());
    c.args([
        "probe",
        "--network",
        "spoke",
        HOST,
        "--connect-timeout",
        "300ms",
        "--state-file",
    ])
    .arg(&world.state);
    isolate(&mut c, &dir);
    let out = support::bounded(c, LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("outcome: timeout"), "{stdout}");
    assert!(
        stdout.contains("resolved to pe-hub but spoke is not peered with hub"),
        "{stdout}"
    );
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn up_step_waits_for_ctl_next() {
    let dir = runtime_dir("step");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rejected-endpoint.toml");
    let mut c = Command::new(redlink());
    c.arg("up").arg(&scenario).args(["--step", "--for", "60s"]);
    isolate(&mut c, &dir);
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("up starts");
    let pid = child.id();
    let lines = lines_of(&mut child);
    let world = Up {
        child,
        state: dir
            .join("redlink")
            .join(format!("rejected-endpoint-{pid}.json")),
    };
    wait_line(&lines, "announcing the first step", |l| {
        l.starts_with("next: step")
    });
    ok(&ctl(&dir, &world.state, &["next"]));
    wait_line(&lines, "running the first step", |l| {
        l.contains("deleted private endpoint")
    });
    wait_line(&lines, "announcing the second step", |l| {
        l.starts_with("next: step")
    });
    ok(&ctl(&dir, &world.state, &["next"]));
    let approved = wait_line(&lines, "running the second step", |l| {
        l.contains("→ Approved")
    });
    assert!(approved.contains("Pending → Approved"), "{approved}");
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Refusals and drops happen in the kernel: where the world can watch the loopback they are
/// events like any other verdict; where it cannot, the stream says so first.
#[test]
fn refusals_and_drops_are_evidence_or_said_to_be_unobservable() {
    let dir = runtime_dir("kernel");
    let world = up(&dir);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&world.state).expect("state")).expect("JSON");
    let observed = state["kernel_evidence"]
        .as_str()
        .expect("the state file says whether refusals are observed")
        .starts_with("refused and dropped connections are observed");
    let mut c = Command::new(redlink());
    c.args(["ctl", "events", "--follow", "--state-file"])
        .arg(&world.state);
    isolate(&mut c, &dir);
    let mut events = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ctl events");
    let lines = lines_of(&mut events);
    let first = if observed {
        None
    } else {
        Some(wait_line(&lines, "first", |_| true))
    };
    // The stream is open once a change shows in it (then the probes cannot come too early); a
    // change made before `ctl events` subscribed is not in it, so try again until one is.
    let deadline = Instant::now() + LIMIT;
    for n in 0.. {
        assert!(
            Instant::now() < deadline,
            "no change event within {LIMIT:?}"
        );
        let zone = format!(r#"{{"add_zone":"privatelink-{n}.redis.azure.net"}}"#);
        ok(&ctl(&dir, &world.state, &["raw", "WORLD.CHANGE", &zone]));
        let until = Instant::now() + Duration::from_secs(2);
        let mut seen = false;
        while let Ok(line) = lines.recv_timeout(until.saturating_duration_since(Instant::now())) {
            if line.contains("\"type\":\"change\"") {
                seen = true;
                break;
            }
        }
        if seen {
            break;
        }
    }
    // A refusal (public access Disabled) and a drop (spoke is not peered with hub).
    let pe_hub = endpoint_address(&world.state, "pe-hub");
    for target in [format!("{HOST}:6379"), format!("{pe_hub}:6379")] {
        let mut c = Command::new(redlink());
        c.args([
            "probe",
            "--network",
            "spoke",
            &target,
            "--connect-timeout",
            "300ms",
        ])
        .arg("--state-file")
        .arg(&world.state);
        isolate(&mut c, &dir);
        assert_eq!(support::bounded(c, LIMIT).status.code(), Some(1));
    }
    if let Some(first) = first {
        let notice: serde_json::Value = serde_json::from_str(&first).expect("JSON");
        assert_eq!(notice["type"], "notice", "{first}");
        assert!(
            notice["text"]
                .as_str()
                .is_some_and(|t| t.contains("not observed"))
        );
    } else {
        let spoke = format!(
            "{}:",
            state["networks"]["spoke"]["client_address"]
                .as_str()
                .expect("spoke's client address")
        );
        for verdict in ["refuse", "drop"] {
            let line = wait_line(&lines, verdict, |l| {
                l.contains(&format!("\"verdict\":\"{verdict}\""))
                    && l.contains("\"network\":\"spoke\"")
            });
            let event: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            assert!(
                event["peer"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(&spoke)),
                "{line}"
            );
            assert!(
                !event["reason"].as_str().unwrap_or_default().is_empty(),
                "{line}"
            );
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}
