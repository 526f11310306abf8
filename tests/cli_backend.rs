//! Bring your own Redis (issue 22, docs/backends.md): `redlink up` with a cache whose backend is a
//! redis-server redlink starts, or one the test runs itself on an ephemeral port, reached through
//! a private endpoint with redis-cli, redis-py and the `redis` crate; a started backend stops with
//! the world; bad backends are refused at `up` with exit code 2 naming the cache.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::bounded;

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("redlink-cli-backend-{}-{name}", std::process::id()))
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn scenario(name: &str, backend: &str) -> PathBuf {
    let path = temp(&format!("{name}.toml"));
    let text = format!(
        r#"host = {{ network = "hub" }}   # the tests' clients run on this machine, a jump box in hub
[[network]]
name = "hub"

[[cache]]
name = "contoso"
non_tls_port = true
requirepass = "s3cret"
maxclients = 77
backend = {backend}

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
state = "Approved"
"#
    );
    std::fs::write(&path, text).expect("writes the scenario");
    path
}

/// A running `redlink up`, killed (and its state file removed) on drop.
struct Up {
    child: Child,
    state: PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        // SIGTERM: `up` stops its world (and the backends it started) and exits.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.state);
    }
}

fn up(scenario: &Path, tag: &str) -> (Up, SocketAddr, serde_json::Value) {
    let state = temp(&format!("{tag}-state.json"));
    let child = redlink()
        .arg("up")
        .arg(scenario)
        .arg("--state-file")
        .arg(&state)
        .args(["--for", "120s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let mut up = Up { child, state };
    let deadline = Instant::now() + Duration::from_secs(60);
    let json: serde_json::Value = loop {
        if let Ok(text) = std::fs::read_to_string(&up.state)
            && let Ok(v) = serde_json::from_str(&text)
        {
            break v;
        }
        if let Ok(Some(status)) = up.child.try_wait() {
            panic!("redlink up exited early: {status}");
        }
        assert!(Instant::now() < deadline, "no state file within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let endpoint = json["caches"]["contoso"]["endpoints"]
        .as_array()
        .and_then(|eps| eps.iter().find(|e| e["name"] == "pe-hub"))
        .expect("pe-hub in the state file");
    let address: Ipv4Addr = endpoint["address"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("pe-hub's address");
    (up, SocketAddr::from((address, 6379)), json)
}

fn redis_cli(at: SocketAddr, args: &[&str]) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", &at.ip().to_string(), "-p", &at.port().to_string()])
        .args(["-a", "s3cret", "--no-auth-warning"])
        .args(args);
    let out = bounded(cmd, Duration::from_secs(20));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A redis-server the test runs itself on an ephemeral loopback port (killed on drop).
struct UserServer {
    child: Child,
    address: SocketAddr,
}

impl Drop for UserServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user_server(args: &[&str]) -> UserServer {
    for _ in 0..5 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut server = UserServer {
            child,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            if TcpStream::connect(server.address).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("redis-server did not start");
}

/// redis-cli, redis-py and the `redis` crate all reach the backend through pe-hub.
fn clients_reach_backend(endpoint: SocketAddr) {
    assert_eq!(redis_cli(endpoint, &["SET", "k", "v1"]), "OK");
    assert_eq!(redis_cli(endpoint, &["GET", "k"]), "v1");
    // The embedded engine has CONFIG disabled (as Azure does): an answer proves the backend.
    assert_eq!(
        redis_cli(endpoint, &["CONFIG", "GET", "maxclients"]),
        "maxclients\n77"
    );
    assert!(redis_cli(endpoint, &["INFO", "server"]).contains("redis_version:7."));

    let url = format!("redis://:s3cret@{endpoint}/");
    let client = redis::Client::open(url.as_str()).expect("a client");
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("the redis crate connects through pe-hub");
    let got: String = redis::cmd("GET").arg("k").query(&mut conn).expect("GET");
    assert_eq!(got, "v1");
    let _: () = redis::cmd("SET")
        .arg("k2")
        .arg("from-rust")
        .query(&mut conn)
        .expect("SET");

    let py = Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .is_ok_and(|s| s.success());
    if py {
        let mut cmd = Command::new("python3");
        cmd.args([
            "-c",
            "import sys, redis\n\
             r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), password='s3cret', socket_timeout=10)\n\
             assert r.get('k2') == b'from-rust', r.get('k2')\n\
             print('py-ok')",
            &endpoint.ip().to_string(),
            &endpoint.port().to_string(),
        ]);
        let out = bounded(cmd, Duration::from_secs(30));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("py-ok"),
            "redis-py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("skipping redis-py: python3's redis module is not installed");
    }
}

#[test]
fn started_backend_serves_through_the_private_endpoint_and_stops_with_the_world() {
    if !have("redis-server") || !have("redis-cli") {
        eprintln!("skipping: redis-server and redis-cli are needed");
        return;
    }
    let file = scenario("started", r#"{ command = ["redis-server", "--save", ""] }"#);
    let (up, endpoint, state) = up(&file, "started");
    clients_reach_backend(endpoint);
    let info = redis_cli(endpoint, &["INFO", "server"]);
    let port: u16 = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("tcp_port:"))
        .and_then(|p| p.parse().ok())
        .expect("the backend's port in INFO");
    let backend = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert_eq!(
        state["caches"]["contoso"]["backend"],
        backend.to_string(),
        "the state file names the backend"
    );
    assert!(TcpStream::connect(backend).is_ok());
    drop(up);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(backend).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the started backend outlived the world"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(file);
}

#[test]
fn user_run_backend_serves_through_the_private_endpoint() {
    if !have("redis-server") || !have("redis-cli") {
        eprintln!("skipping: redis-server and redis-cli are needed");
        return;
    }
    let server = user_server(&["--requirepass", "s3cret", "--maxclients", "77"]);
    let mut direct = Command::new("redis-cli");
    direct
        .args(["-p", &server.address.port().to_string()])
        .args(["-a", "s3cret", "--no-auth-warning", "SET", "seeded", "yes"]);
    bounded(direct, Duration::from_secs(20));
    let file = scenario("user", &format!("{{ address = \"{}\" }}", server.address));
    let (up, endpoint, state) = up(&file, "user");
    assert_eq!(
        state["caches"]["contoso"]["backend"],
        server.address.to_string()
    );
    assert_eq!(redis_cli(endpoint, &["GET", "seeded"]), "yes");
    clients_reach_backend(endpoint);
    // A backend that is down: the endpoint resets the connection, as a stopped cache's does.
    drop(server);
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", &endpoint.ip().to_string(), "-p", "6379", "PING"]);
    let out = bounded(cmd, Duration::from_secs(20));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!said.contains("PONG"), "{said}");
    assert!(
        said.contains("reset by peer") || said.contains("Connection reset"),
        "{said}"
    );
    drop(up);
    let _ = std::fs::remove_file(file);
}

fn up_fails(name: &str, backend: &str) -> String {
    let file = scenario(name, backend);
    let mut cmd = redlink();
    cmd.arg("up")
        .arg(&file)
        .arg("--state-file")
        .arg(temp(&format!("{name}-state.json")))
        .args(["--for", "1s"]);
    let out = bounded(cmd, Duration::from_secs(60));
    let _ = std::fs::remove_file(file);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_backends_are_refused_at_up_naming_the_cache() {
    let err = up_fails("remote", r#"{ address = "10.1.2.3:6379" }"#);
    assert!(err.contains("remote.toml:10:"), "file:line:column: {err}");
    assert!(err.contains("not a loopback address"), "{err}");

    let err = up_fails("garbled", r#"{ address = "localhost" }"#);
    assert!(err.contains("is not IP:PORT"), "{err}");

    let err = up_fails(
        "both",
        r#"{ address = "127.0.0.1:1", command = ["redis-server"] }"#,
    );
    assert!(err.contains("both address and command"), "{err}");

    let err = up_fails("cluster", r#"{ cluster = ["127.0.0.1:7000"] }"#);
    assert!(
        err.contains("cluster backends are not supported yet"),
        "{err}"
    );

    let err = up_fails("missing", r#"{ command = ["redlink-no-such-program-22"] }"#);
    assert!(err.contains("cache contoso"), "{err}");
    assert!(err.contains("could not start"), "{err}");

    // Nothing listens on a port just freed: the backend is unreachable.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let err = up_fails(
        "unreachable",
        &format!("{{ address = \"127.0.0.1:{port}\" }}"),
    );
    assert!(err.contains("cache contoso"), "{err}");
    assert!(err.contains("unreachable"), "{err}");

    if have("redis-server") {
        let err = up_fails(
            "exits",
            r#"{ command = ["redis-server", "--no-such-option", "x"] }"#,
        );
        assert!(err.contains("cache contoso"), "{err}");
        assert!(err.contains("exited at once"), "{err}");
    }
}

#[test]
fn the_quickstart_passes_unchanged_with_a_redis_server_behind_it() {
    if !have("redis-server") {
        eprintln!("skipping: redis-server is needed");
        return;
    }
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let mut cmd = redlink();
    cmd.arg("check")
        .arg(&quickstart)
        .args(["--backend", "redis-server"]);
    let out = bounded(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}
