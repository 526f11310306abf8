//! The lab dashboard (`redlink up --ui`), from the outside: the page and its JSON over real HTTP,
//! the guards (wrong password, refused change, foreign Host, not JSON) answered with clear messages
//! on the page and in the log while the world keeps running, a port in use, `/metrics`, the lab's
//! scoring (`ctl lab status`, `redlink lab`, `check --exercises`), and a real browser: headless
//! Chromium driven over WebDriver (chromedriver) finds the networks and endpoints by name, clicks
//! "Link" for spoke (entering the control password the page asks for) and sees spoke's resolution
//! change. With `REDLINK_SCREENSHOT=docs/dashboard.png` the browser test writes its screenshot there.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::bounded;

const ZONE: &str = "privatelink.redis.cache.windows.net";

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("redlink-cli-ui-{}-{name}", std::process::id()))
}

/// A `redlink up --ui` child: its dashboard address, its log (stderr), stopped on drop.
struct Up {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
    state: PathBuf,
}

impl Up {
    /// Starts `redlink up ARGS --ui 127.0.0.1:0 --for 120s --state-file …` and reads up to its
    /// `dashboard: http://ADDR/` line.
    fn start(name: &str, args: &[&str]) -> Up {
        let state = temp(&format!("{name}.json"));
        let mut child = redlink()
            .arg("up")
            .args(args)
            .args(["--ui", "127.0.0.1:0", "--for", "120s", "--state-file"])
            .arg(&state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("redlink up starts");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut sent = false;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if !sent && let Some(url) = line.trim().strip_prefix("dashboard: http://") {
                    let _ = tx.send(url.trim_end_matches('/').to_owned());
                    sent = true;
                }
                line.clear();
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a.parse().expect("a dashboard address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no dashboard line within 60 s; log: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        Up {
            child,
            addr,
            log,
            state,
        }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (u16, String) {
        http(self.addr, "GET", path, &self.addr.to_string(), &[], "")
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, text) = http(
            self.addr,
            "POST",
            path,
            &self.addr.to_string(),
            &[("Content-Type", "application/json")],
            &body.to_string(),
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn view(&self) -> Value {
        let (status, text) = self.get("/api/view");
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("view JSON")
    }

    fn resolution(&self, network: &str, cache: &str) -> String {
        let v = self.view();
        v["resolution"]
            .as_array()
            .and_then(|rs| {
                rs.iter()
                    .find(|r| r["network"] == network && r["cache"] == cache)
            })
            .and_then(|r| r["kind"].as_str())
            .unwrap_or("")
            .to_owned()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // Already stopped (and reaped): its pid may belong to someone else now.
        if let Ok(Some(_)) = self.child.try_wait() {
            let _ = std::fs::remove_file(&self.state);
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.state);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.state);
    }
}

/// One HTTP/1.1 request (`Connection: close`), the status and the body (chunked bodies decoded).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("writes");
    // Read the header block, then the body by its length, by its chunks, or to the end (a
    // server may keep the connection open despite `Connection: close`).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut buf).expect("reads");
        assert!(n > 0, "the connection closed before the headers");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut body = raw[head_end + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    loop {
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = s.read(&mut buf).expect("reads");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    if !chunked {
        return (status, text);
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    (status, out)
}

/// Polls `f` until it is true, for at most `limit`.
fn eventually(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not within {limit:?}: {what}");
}

#[test]
fn the_dashboard_serves_the_world_and_refuses_bad_actions_clearly() {
    let up = Up::start("guards", &["--control-password", "s3cret"]);

    let (status, page) = up.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("<svg id=\"topology\"") && page.contains("/app.js"));
    for asset in ["/app.js", "/app.css", "/favicon.svg"] {
        assert_eq!(up.get(asset).0, 200, "{asset}");
    }
    // Nothing from elsewhere: every asset is served by the binary.
    assert!(!page.contains("https://"), "the page loads nothing remote");

    let v = up.view();
    assert_eq!(v["name"], "quickstart");
    assert_eq!(v["password_required"], true);
    assert!(!v.to_string().contains("s3cret"), "no password in the view");
    assert_eq!(up.resolution("hub", "contoso"), "private");
    assert_eq!(up.resolution("spoke", "contoso"), "public");

    let link = json!({"link": {"zone": ZONE, "network": "spoke"}});
    let (status, body) = up.post("/api/change", &json!({ "change": link }));
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("enter it")),
        "{body}"
    );
    let (status, body) = up.post(
        "/api/change",
        &json!({ "change": link, "password": "wrong" }),
    );
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("wrong control password")),
        "{body}"
    );
    let (status, body) = up.post(
        "/api/change",
        &json!({ "change": {"approve": "pe-nowhere"}, "password": "s3cret" }),
    );
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("the world refused the change") && e.contains("pe-nowhere")),
        "{body}"
    );
    let (status, body) = up.post(
        "/api/change",
        &json!({ "change": {"aprove": "pe-hub"}, "password": "s3cret" }),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown variant `aprove`")),
        "{body}"
    );
    let (status, _) = http(
        up.addr,
        "POST",
        "/api/change",
        &up.addr.to_string(),
        &[("Content-Type", "text/plain")],
        &json!({ "change": link, "password": "s3cret" }).to_string(),
    );
    assert_eq!(status, 415, "a form post is not an action");
    let (status, text) = http(up.addr, "GET", "/api/view", "evil.example:80", &[], "");
    assert_eq!(status, 421, "{text}");
    assert!(text.contains("loopback host names"));
    let (status, body) = up.post("/api/next-step", &json!({ "password": "s3cret" }));
    assert_eq!(status, 409, "the quickstart has no timeline: {body}");

    // The log says the same, and the world is still up.
    eventually(Duration::from_secs(10), "the refusals logged", || {
        let log = up.log();
        log.contains("wrong control password")
            && log.contains("the world refused a change")
            && log.contains("not a loopback name")
    });
    assert_eq!(up.resolution("spoke", "contoso"), "public");

    let (status, body) = up.post(
        "/api/change",
        &json!({ "change": link, "password": "s3cret" }),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["done"].as_str().is_some_and(|d| d.contains("spoke")));
    assert_eq!(up.resolution("spoke", "contoso"), "private");
}

#[test]
fn a_change_from_ctl_reaches_the_page_s_event_stream() {
    let up = Up::start("sse", &[]);
    let mut s = TcpStream::connect_timeout(&up.addr, Duration::from_secs(10)).expect("connects");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        up.addr
    )
    .expect("writes");
    let mut seen = String::new();
    let mut read_until = |wanted: &[&str], limit: Duration| {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 8192];
        while !wanted.iter().all(|w| seen.contains(w)) {
            assert!(
                Instant::now() < deadline,
                "not in the stream: {wanted:?}\n{seen}"
            );
            match s.read(&mut buf) {
                Ok(0) => panic!("the stream ended: {seen}"),
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => {}
            }
        }
    };
    read_until(&["text/event-stream"], Duration::from_secs(30));
    // The state file names the control password `up` generated: ctl finds it there.
    let mut ctl = redlink();
    ctl.args([
        "ctl",
        "network",
        "private-endpoint-connection",
        "reject",
        "--name",
        "pe-hub",
        "--state-file",
    ])
    .arg(&up.state);
    let out = bounded(ctl, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_until(
        &[
            "event: refresh",
            "event: feed",
            "\"type\":\"change\"",
            "pe-hub",
        ],
        Duration::from_secs(30),
    );
    let v = up.view();
    let pe = v["caches"][0]["endpoints"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["name"] == "pe-hub"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(pe["state"], "Rejected", "{pe}");
    assert_eq!(v["password_required"], true, "up generated a password");

    // A page still following does not keep the world from stopping cleanly.
    let mut up = up;
    let _ = Command::new("kill")
        .args(["-TERM", &up.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = up.child.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "up did not stop within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{}", up.log());
    assert!(!up.state.exists(), "the state file is removed");
    assert!(!up.log().contains("still in use"), "{}", up.log());
    drop(s);
}

#[test]
fn metrics_speak_prometheus_text() {
    let up = Up::start("metrics", &["--control-password", ""]);
    // A DNS answer and a routed connection to count: a client in hub (`redlink probe`: hub's
    // resolver, hub's client address) resolves the cache and connects through pe-hub.
    let mut probe = redlink();
    probe
        .args([
            "probe",
            "--network",
            "hub",
            "contoso.redis.cache.windows.net:6379",
        ])
        .arg("--state-file")
        .arg(&up.state);
    let out = bounded(probe, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    eventually(Duration::from_secs(30), "the probe counted", || {
        let text = up.get("/metrics").1;
        text.contains("redlink_dns_answers_total{network=\"hub\",outcome=\"private\"}")
            && text.contains(
                "redlink_connections_total{cache=\"contoso\",endpoint=\"pe-hub\",verdict=\"route\"}",
            )
    });
    let (status, text) = up.get("/metrics");
    assert_eq!(status, 200);
    for family in [
        "redlink_dns_answers_total",
        "redlink_connections_total",
        "redlink_cache_up",
        "redlink_cache_connected_clients",
        "redlink_cache_operations_per_second",
        "redlink_cache_used_memory_bytes",
        "redlink_cache_hits_total",
        "redlink_cache_misses_total",
        "redlink_cache_evicted_keys_total",
        "redlink_cache_errors_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family}: {text}"
        );
    }
    assert!(
        text.contains(
            "redlink_connections_total{cache=\"contoso\",endpoint=\"pe-hub\",verdict=\"route\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("redlink_cache_up{cache=\"contoso\"} 1"),
        "{text}"
    );
    // Every sample line is NAME{labels} VALUE with a numeric value.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (_, value) = line.rsplit_once(' ').expect("a value");
        assert!(value.parse::<f64>().is_ok(), "{line}");
        assert!(line.starts_with("redlink_"), "{line}");
    }
}

#[test]
fn next_step_runs_the_timeline_s_next_step_now() {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/cutover-rehearsal.toml"
    );
    // At this speed the first step would wait 2000 s: only the page's "next step" runs it.
    let up = Up::start(
        "next",
        &[scenario, "--speed", "0.001", "--control-password", ""],
    );
    eventually(Duration::from_secs(60), "the initial world checked", || {
        let v = up.view();
        v["timeline"]["current"] == 0
            && v["timeline"]["phases"][0]["expectations"]
                .as_array()
                .is_some_and(|es| es.iter().all(|e| e["passed"] == true))
    });
    let (status, body) = up.post("/api/next-step", &json!({}));
    assert_eq!(status, 200, "{body}");
    assert!(
        body["done"]
            .as_str()
            .is_some_and(|d| d.contains("create the private endpoint")),
        "{body}"
    );
    eventually(Duration::from_secs(60), "step 1 ran", || {
        let v = up.view();
        v["timeline"]["current"] == 1
            && v["caches"][0]["endpoints"]
                .as_array()
                .is_some_and(|es| es.iter().any(|e| e["name"] == "pe-hub"))
    });
}

#[test]
fn a_port_in_use_or_a_foreign_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("addr");
    let state = temp("taken.json");
    let mut up = redlink();
    up.args(["up", "--for", "20s", "--control-password", "", "--ui"])
        .arg(addr.to_string())
        .arg("--state-file")
        .arg(&state);
    let out = bounded(up, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot listen on {addr}: the address is already in use"
        )),
        "{stderr}"
    );
    assert!(
        !state.exists(),
        "the world was stopped and its state file removed"
    );

    let mut up = redlink();
    up.args(["up", "--for", "5s", "--ui", "10.1.2.3:8080"]);
    let out = bounded(up, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[test]
fn a_lab_is_scored_after_every_change() {
    let lab = concat!(env!("CARGO_MANIFEST_DIR"), "/labs/cutover-lab.toml");
    // As written, the lab starts broken: its start passes, its exercises do not.
    let mut check = redlink();
    check.args(["check", lab]);
    assert_eq!(
        bounded(check, Duration::from_secs(120)).status.code(),
        Some(0)
    );
    let mut check = redlink();
    check.args(["check", "--exercises", lab]);
    let out = bounded(check, Duration::from_secs(120));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exercise: hub reaches contoso"));

    let up = Up::start("lab", &[lab, "--control-password", ""]);
    let state = up.state.to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let mut c = redlink();
        c.args(args).args(["--state-file", &state]);
        bounded(c, Duration::from_secs(60))
    };
    eventually(Duration::from_secs(30), "a first score", || {
        run(&["ctl", "lab", "status"]).status.success()
    });
    let out = run(&["lab"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("score: 0/3") && text.contains("hint: "),
        "{text}"
    );

    // The trainee's moves, through the page's own path.
    for change in [
        json!({"approve": "pe-hub"}),
        json!({"link": {"zone": ZONE, "network": "spoke"}}),
        json!({"public_access": {"cache": "contoso", "access": "Disabled"}}),
    ] {
        let (status, body) = up.post("/api/change", &json!({ "change": change }));
        assert_eq!(status, 200, "{body}");
    }
    eventually(Duration::from_secs(30), "every exercise met", || {
        run(&["lab"]).status.success()
    });
    let out = run(&["ctl", "lab", "status", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("lab JSON");
    assert_eq!(report["met"], 3);
    assert_eq!(report["total"], 3);
    let v = up.view();
    assert_eq!(v["lab"]["met"], 3, "the page shows the same score");

    // A world without exercises says so.
    drop(up);
    let plain = Up::start("nolab", &["--control-password", ""]);
    let out = {
        let mut c = redlink();
        c.args(["lab", "--state-file"]).arg(&plain.state);
        bounded(c, Duration::from_secs(60))
    };
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("this world has no exercises"));
}

// ---- the browser ------------------------------------------------------------------------------

/// A chromedriver child and one headless Chromium session.
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    profile: PathBuf,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session; `None` (after saying
    /// why) when chromium or chromedriver is missing.
    fn start(name: &str) -> Option<Browser> {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(chromium) = chromium else {
            eprintln!(
                "skipping: chromium is not installed (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let mut driver = match Command::new("chromedriver")
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "skipping: chromedriver does not start ({e}); apt-get install chromium-driver"
                );
                return None;
            }
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = driver.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(port) = line
                    .trim()
                    .strip_prefix("ChromeDriver was started successfully on port ")
                {
                    let _ = tx.send(port.trim_end_matches('.').to_owned());
                }
                line.clear();
            }
        });
        let port: u16 = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(p) => p.parse().expect("a port"),
            Err(_) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("chromedriver did not say its port within 30 s");
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let profile = temp(&format!("chromium-{name}"));
        let _ = std::fs::remove_dir_all(&profile);
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--window-size=1400,1250",
                    format!("--user-data-dir={}", browser.profile.display()),
                ]
            }
        }}});
        let v = browser.call("POST", "/session", Some(caps));
        browser.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Some(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, text) = http(
            self.addr,
            method,
            path,
            &self.addr.to_string(),
            &[("Content-Type", "application/json")],
            &body,
        );
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status < 300, "WebDriver {method} {path}: {status} {text}");
        v["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn script(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The element for `css`, waiting for it to appear.
    fn find(&self, css: &str) -> String {
        let q = serde_json::to_string(css).expect("a string");
        eventually(
            Duration::from_secs(30),
            &format!("an element {css}"),
            || {
                self.script(&format!("return document.querySelector({q}) !== null"))
                    == Value::Bool(true)
            },
        );
        let v = self.session_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element id for {css}: {v}"))
            .to_owned()
    }

    /// Clicks `css`, finding it again when the page redrew it in between (a stale element).
    fn click(&self, css: &str) {
        for _ in 0..20 {
            let id = self.find(css);
            let (status, text) = http(
                self.addr,
                "POST",
                &format!("/session/{}/element/{id}/click", self.session),
                &self.addr.to_string(),
                &[("Content-Type", "application/json")],
                "{}",
            );
            if status < 300 {
                return;
            }
            assert!(
                text.contains("stale element"),
                "click {css}: {status} {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{css} stayed stale");
    }

    /// Types into `css` (the password dialog, which the page does not redraw).
    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn attribute(&self, css: &str, name: &str) -> String {
        let q = serde_json::to_string(css).expect("a string");
        let n = serde_json::to_string(name).expect("a string");
        self.script(&format!(
            "const e = document.querySelector({q}); return e ? e.getAttribute({n}) : null"
        ))
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    fn text(&self, css: &str) -> String {
        let q = serde_json::to_string(css).expect("a string");
        self.script(&format!(
            "const e = document.querySelector({q}); return e ? e.textContent : ''"
        ))
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// The page as PNG bytes.
    fn screenshot(&self) -> Vec<u8> {
        let v = self.session_call("GET", "/screenshot", None);
        base64_decode(v.as_str().expect("base64 PNG"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &self.addr.to_string(),
                &[],
                "",
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}

#[test]
fn a_browser_links_spoke_to_the_zone_and_sees_its_resolution_change() {
    let up = Up::start("browser", &["--control-password", "s3cret"]);
    let Some(browser) = Browser::start("browser") else {
        return;
    };
    browser.session_call(
        "POST",
        "/url",
        Some(json!({ "url": format!("http://{}/", up.addr) })),
    );
    // The page draws the world: networks and endpoints by name, live updates on.
    browser.find("#topology [data-network=\"hub\"]");
    browser.find("#topology [data-network=\"spoke\"]");
    browser.find("#topology [data-endpoint=\"pe-hub\"]");
    browser.find("#verdicts [data-endpoint=\"public\"]");
    eventually(Duration::from_secs(30), "live updates connected", || {
        browser.text("#live") == "live"
    });
    let spoke = "[data-resolution=\"spoke/contoso\"]";
    assert_eq!(browser.attribute(spoke, "data-kind"), "public");
    assert_eq!(
        browser.attribute("[data-resolution=\"hub/contoso\"]", "data-kind"),
        "private"
    );

    // A wrong password first: the page says so and nothing changes.
    let link =
        format!("button[data-action=\"link\"][data-zone=\"{ZONE}\"][data-network=\"spoke\"]");
    browser.click(&link);
    browser.type_into("#password-input", "not-it");
    browser.click("#password-ok");
    eventually(Duration::from_secs(30), "the wrong password shown", || {
        browser.text("#message").contains("wrong control password")
    });
    assert_eq!(browser.attribute(spoke, "data-kind"), "public");

    // Then the right one: spoke now resolves the private endpoint, on the page and in the feed.
    browser.click(&link);
    browser.type_into("#password-input", "s3cret");
    browser.click("#password-ok");
    eventually(Duration::from_secs(30), "spoke resolves privately", || {
        browser.attribute(spoke, "data-kind") == "private"
    });
    assert!(
        browser.text(spoke).contains("pe-hub"),
        "{}",
        browser.text(spoke)
    );
    eventually(
        Duration::from_secs(30),
        "the change in the event feed",
        || browser.text("#feed").contains("spoke"),
    );
    browser.find(&format!(
        "button[data-action=\"unlink\"][data-zone=\"{ZONE}\"][data-network=\"spoke\"]"
    ));
    assert_eq!(up.resolution("spoke", "contoso"), "private");

    // A client in spoke: its DNS answer (now the private endpoint) appears in the feed, tagged
    // spoke, and the network filter hides it. (Its connection is dropped, silently: the quickstart
    // does not peer spoke with hub.)
    let mut probe = redlink();
    probe
        .args([
            "probe",
            "--network",
            "spoke",
            "contoso.redis.cache.windows.net:6379",
        ])
        .arg("--state-file")
        .arg(&up.state);
    let out = bounded(probe, Duration::from_secs(60));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("answered 127.") && said.contains("outcome: timeout"),
        "{said}"
    );
    eventually(
        Duration::from_secs(30),
        "spoke's DNS answer and connection in the feed",
        || {
            let feed = browser.text("#feed");
            feed.contains("[spoke] DNS A contoso.redis.cache.windows.net")
                && feed.contains("pe-hub")
        },
    );
    browser.script(
        "const s = document.querySelector('#filter-network'); s.value = 'hub'; s.dispatchEvent(new Event('change')); return null",
    );
    assert!(
        !browser.text("#feed").contains("[spoke]"),
        "{}",
        browser.text("#feed")
    );
    browser.script(
        "const s = document.querySelector('#filter-network'); s.value = ''; s.dispatchEvent(new Event('change')); return null",
    );
    assert!(browser.text("#feed").contains("[spoke]"));

    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
    if let Ok(path) = std::env::var("REDLINK_SCREENSHOT") {
        std::fs::write(&path, &png).expect("writes the screenshot");
    }
}
