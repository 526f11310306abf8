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
    scenario_with(name, backend, "")
}

/// The test world with `extra` TOML after the cache's table (`[[cache.user]]`…).
fn scenario_with(name: &str, backend: &str, extra: &str) -> PathBuf {
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
{extra}
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
        if let Some(server) = user_server_on(port, args) {
            return server;
        }
    }
    panic!("redis-server did not start");
}

/// A redis-server on `port`, or `None` when it could not take the port.
fn user_server_on(port: u16, args: &[&str]) -> Option<UserServer> {
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
            return None; // the port was taken meanwhile
        }
        if TcpStream::connect(server.address).is_ok() {
            return Some(server);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// What `redis-cli PING` at `endpoint` prints (stdout and stderr).
fn ping_through(endpoint: SocketAddr) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", &endpoint.ip().to_string(), "-p", "6379"])
        .args(["-a", "s3cret", "--no-auth-warning", "PING"]);
    let out = bounded(cmd, Duration::from_secs(20));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits (up to 30 s) until `redis-cli PING` through `endpoint` prints something containing `want`.
fn await_ping(endpoint: SocketAddr, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let said = ping_through(endpoint);
        if said.contains(want) {
            return said;
        }
        assert!(Instant::now() < deadline, "never {want:?}; last: {said}");
        std::thread::sleep(Duration::from_millis(100));
    }
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
    // What would act on the unused embedded engine is refused, never reported done.
    let state_file = up.state.to_string_lossy().into_owned();
    let dir = temp("started-export");
    std::fs::create_dir_all(&dir).expect("export dir");
    let dir_arg = dir.to_string_lossy().into_owned();
    for args in [
        vec![
            "force-reboot",
            "--name",
            "contoso",
            "--reboot-type",
            "AllNodes",
        ],
        vec![
            "update",
            "--name",
            "contoso",
            "--set",
            "redisConfiguration.maxclients=50",
        ],
        vec![
            "export",
            "--name",
            "contoso",
            "--prefix",
            "x",
            "--container",
            &dir_arg,
        ],
    ] {
        let out = redlink()
            .args(["ctl", "--state-file", &state_file, "redis"])
            .args(&args)
            .output()
            .expect("ctl runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted: {said}");
        assert!(
            said.contains("a cache with a backend is not simulated"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(
        redis_cli(endpoint, &["CONFIG", "GET", "maxclients"]),
        "maxclients\n77",
        "the backend keeps the world's maxclients"
    );
    let _ = std::fs::remove_dir_all(&dir);
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

/// `redlink ctl --state-file STATE ARGS…`'s stdout; fails the test when it fails.
fn ctl(state: &Path, args: &[&str]) -> String {
    let mut cmd = redlink();
    cmd.arg("ctl").arg("--state-file").arg(state).args(args);
    let out = bounded(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "ctl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A started backend is proxied over its private Unix socket (no TCP/IP on the hop, docs/backends.md):
/// the backend sees a Unix-socket client, in a directory only this user may enter that goes
/// with the world; TLS at the endpoint, toxics and resets on change work on that hop as on TCP.
#[test]
fn a_started_backend_is_proxied_over_its_unix_socket() {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    if !have("redis-server") || !have("redis-cli") {
        eprintln!("skipping: redis-server and redis-cli are needed");
        return;
    }
    let file = scenario(
        "unix-hop",
        r#"{ command = ["redis-server", "--save", ""] }"#,
    );
    let (up, endpoint, state) = up(&file, "unix-hop");
    // redis-server says `flags=U` and the socket as `laddr` for a Unix-socket client.
    let hop_of = |info: &str| -> PathBuf {
        assert!(
            info.contains(" flags=U "),
            "not a Unix-socket client: {info}"
        );
        let laddr = info
            .split_whitespace()
            .find_map(|f| f.strip_prefix("laddr="))
            .expect("laddr in CLIENT INFO");
        PathBuf::from(laddr.strip_suffix(":0").unwrap_or(laddr))
    };
    let socket = hop_of(&redis_cli(endpoint, &["CLIENT", "INFO"]));
    assert!(socket.ends_with("redis.sock"), "{}", socket.display());
    let dir = socket.parent().expect("the socket's directory").to_owned();
    let mode = std::fs::metadata(&dir)
        .expect("the socket's directory")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    assert_eq!(
        state["caches"]["contoso"]["backend"]
            .as_str()
            .map(|b| b.starts_with("127.0.0.1:")),
        Some(true),
        "the state file still names the backend's TCP address: {state}"
    );

    // TLS at the endpoint (the world's certificate), then the same hop.
    let ca = state["ca"]
        .as_str()
        .expect("the world's CA in the state file");
    let mut cmd = Command::new("redis-cli");
    cmd.args([
        "-h",
        &endpoint.ip().to_string(),
        "-p",
        "6380",
        "--tls",
        "--cacert",
        ca,
    ])
    .args(["--sni", "contoso.redis.cache.windows.net"])
    .args(["-a", "s3cret", "--no-auth-warning", "CLIENT", "INFO"]);
    let out = bounded(cmd, Duration::from_secs(20));
    assert_eq!(
        hop_of(&String::from_utf8_lossy(&out.stdout)),
        socket,
        "{out:?}"
    );

    // A toxic on the path: replies come 400 ms late, over the same hop.
    ctl(
        &up.state,
        &[
            "toxic",
            "add",
            "--name",
            "slow",
            "--type",
            "latency",
            "-a",
            "latency=400",
            "--endpoint",
            "pe-hub",
        ],
    );
    let started = Instant::now();
    assert_eq!(hop_of(&redis_cli(endpoint, &["CLIENT", "INFO"])), socket);
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "the latency toxic did not apply: {:?}",
        started.elapsed()
    );
    ctl(&up.state, &["toxic", "remove", "--name", "slow"]);

    // A change that denies the path cuts an open connection both ways: the client is reset and
    // the backend loses its side of the hop.
    let mut conn = TcpStream::connect(endpoint).expect("connects through pe-hub");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    conn.write_all(b"AUTH s3cret\r\nCLIENT ID\r\n")
        .expect("writes");
    let mut said = Vec::new();
    let mut buf = [0u8; 256];
    while !said.ends_with(b"\r\n") || !said.starts_with(b"+OK\r\n:") {
        let n = conn.read(&mut buf).expect("the backend answers");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&said));
        said.extend_from_slice(&buf[..n]);
    }
    let id = String::from_utf8_lossy(&said[6..]).trim().to_owned();
    let info = redis_cli(endpoint, &["INFO", "server"]);
    let port: u16 = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("tcp_port:"))
        .and_then(|p| p.parse().ok())
        .expect("the backend's port in INFO");
    let backend = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(redis_cli(backend, &["CLIENT", "LIST", "ID", &id]).contains(&format!("id={id} ")));
    ctl(
        &up.state,
        &[
            "network",
            "private-endpoint-connection",
            "reject",
            "--name",
            "pe-hub",
        ],
    );
    match conn.read(&mut buf) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        Ok(n) => panic!("read {n} bytes instead of a reset"),
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !redis_cli(backend, &["CLIENT", "LIST", "ID", &id]).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the backend kept its side of the cut connection"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    drop(up);
    assert!(!dir.exists(), "{} outlived the world", dir.display());
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
    // A backend that is down: the endpoint refuses, as a stopped cache's does (a connection
    // accepted before the health check noticed is reset), and probe and ctl status say why.
    let port = server.address.port();
    drop(server);
    let said = await_ping(endpoint, "Connection refused");
    assert!(!said.contains("PONG"), "{said}");
    let down = format!("backend 127.0.0.1:{port} unreachable: Connection refused");
    // The state file follows the edge: await its rewrite.
    let said_by = |args: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut cmd = redlink();
            cmd.args(args);
            let out = bounded(cmd, Duration::from_secs(30));
            let said = String::from_utf8_lossy(&out.stdout).into_owned();
            if said.contains(&down) || Instant::now() > deadline {
                return said;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let state_file = up.state.to_string_lossy().into_owned();
    let probed = said_by(&[
        "probe",
        "--network",
        "hub",
        "--state-file",
        &state_file,
        &endpoint.to_string(),
    ]);
    assert!(probed.contains(&down), "probe: {probed}");
    let status = said_by(&["ctl", "--state-file", &state_file, "status", "-o", "json"]);
    assert!(status.contains(&down), "ctl status: {status}");
    // It comes back on the same port: the endpoint routes again.
    let Some(_again) = user_server_on(port, &["--requirepass", "s3cret"]) else {
        eprintln!("port {port} was taken meanwhile: the return of the backend is not checked");
        let _ = std::fs::remove_file(file);
        return;
    };
    await_ping(endpoint, "PONG");
    drop(up);
    let _ = std::fs::remove_file(file);
}

/// A server the user runs may name its Unix socket next to its address: the proxy's hop is then
/// that socket (the address stays for checks and the state file); a socket that is missing or
/// another server's fails `up` naming the cache.
#[test]
fn user_run_backend_may_name_its_unix_socket() {
    if !have("redis-server") || !have("redis-cli") {
        eprintln!("skipping: redis-server and redis-cli are needed");
        return;
    }
    let dir = temp("user-socket");
    std::fs::create_dir_all(&dir).expect("socket dir");
    let socket = dir.join("redis.sock");
    let socket_arg = socket.to_string_lossy().into_owned();
    let server = user_server(&[
        "--requirepass",
        "s3cret",
        "--maxclients",
        "77",
        "--unixsocket",
        &socket_arg,
        "--unixsocketperm",
        "700",
    ]);
    let backend = |socket: &Path| {
        format!(
            "{{ address = \"{}\", socket = \"{}\" }}",
            server.address,
            socket.display()
        )
    };
    let file = scenario("user-socket", &backend(&socket));
    let (up, endpoint, state) = up(&file, "user-socket");
    assert_eq!(
        state["caches"]["contoso"]["backend"],
        server.address.to_string()
    );
    let info = redis_cli(endpoint, &["CLIENT", "INFO"]);
    assert!(info.contains(" flags=U "), "not over the socket: {info}");
    assert!(info.contains(&format!("laddr={socket_arg}:0")), "{info}");
    clients_reach_backend(endpoint);
    drop(up);
    let _ = std::fs::remove_file(file);

    let missing = dir.join("missing.sock");
    let err = up_fails("socket-missing", &backend(&missing));
    assert!(err.contains("cache contoso"), "{err}");
    assert!(
        err.contains(&format!("backend socket {} unreachable", missing.display())),
        "{err}"
    );
    let other_socket = dir.join("other.sock");
    let other_arg = other_socket.to_string_lossy().into_owned();
    let _other = user_server(&["--requirepass", "s3cret", "--unixsocket", &other_arg]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !other_socket.exists() {
        assert!(Instant::now() < deadline, "the other server has no socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = up_fails("socket-other", &backend(&other_socket));
    assert!(err.contains("cache contoso"), "{err}");
    assert!(
        err.contains(&format!("is not {}'s", server.address)),
        "{err}"
    );
    let err = up_fails("socket-alone", r#"{ socket = "/tmp/redis.sock" }"#);
    assert!(err.contains("give address"), "{err}");
    let err = up_fails(
        "socket-tls",
        &format!(
            "{{ address = \"{}\", socket = \"{socket_arg}\", tls = true }}",
            server.address
        ),
    );
    assert!(err.contains("cannot carry tls"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

fn up_fails(name: &str, backend: &str) -> String {
    up_fails_with(name, backend, "")
}

fn up_fails_with(name: &str, backend: &str, extra: &str) -> String {
    let file = scenario_with(name, backend, extra);
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

    // Cluster backends' own bad input: tests/cli_backend_cluster.rs.
    let err = up_fails("cluster", r#"{ cluster = [] }"#);
    assert!(err.contains("backend cluster is empty"), "{err}");

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

/// A CA and a certificate for 127.0.0.1 and localhost signed by it, as PEM files in `dir`:
/// (ca.pem, cert.pem, key.pem).
fn tls_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("a directory for the certificates");
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "backend test CA");
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("a server key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params");
    let cert = params
        .signed_by(&key, &issuer)
        .expect("the server certificate");
    let files = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&files.0, ca.pem()).expect("writes ca.pem");
    std::fs::write(&files.1, cert.pem()).expect("writes cert.pem");
    std::fs::write(&files.2, key.serialize_pem()).expect("writes key.pem");
    (files.0, files.1, files.2)
}

#[test]
fn tls_backend_is_reached_over_tls_verifying_the_named_ca() {
    if !have("redis-server") || !have("redis-cli") {
        eprintln!("skipping: redis-server and redis-cli are needed");
        return;
    }
    let dir = temp("tls-certs");
    let (ca, cert, key) = tls_files(&dir);
    let (other_ca, _, _) = tls_files(&dir.join("other"));
    // Debian's redis-server is built with TLS: a TLS-only server (its plain port off).
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new("redis-server");
    child
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .args([
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--requirepass",
            "s3cret",
        ])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--tls-ca-cert-file")
        .arg(&ca)
        .args(["--tls-auth-clients", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = UserServer {
        child: child.spawn().expect("redis-server starts"),
        address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(server.address).is_err() {
        assert!(
            Instant::now() < deadline,
            "the TLS redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let backend = format!(
        "{{ address = \"{}\", tls = true, ca_file = \"{}\" }}",
        server.address,
        ca.display()
    );
    let file = scenario("tls", &backend);
    let (world, endpoint, _) = up(&file, "tls");
    // Plain at the endpoint, TLS on the hop: the backend answers with its own TLS port.
    assert_eq!(redis_cli(endpoint, &["SET", "over", "tls"]), "OK");
    assert_eq!(redis_cli(endpoint, &["GET", "over"]), "tls");
    let tls_port = redis_cli(endpoint, &["CONFIG", "GET", "tls-port"]);
    assert!(tls_port.ends_with(&port.to_string()), "{tls_port}");
    drop(world);
    let _ = std::fs::remove_file(file);

    // A CA the backend's certificate does not chain to: refused at `up`, naming the cache.
    let wrong = format!(
        "{{ address = \"{}\", tls = true, ca_file = \"{}\" }}",
        server.address,
        other_ca.display()
    );
    let err = up_fails("tls-wrong-ca", &wrong);
    assert!(err.contains("cache contoso"), "{err}");
    assert!(
        err.contains("TLS handshake with the backend failed"),
        "{err}"
    );
    // A name the certificate does not cover.
    let wrong = format!(
        "{{ address = \"{}\", tls = true, ca_file = \"{}\", server_name = \"contoso.example\" }}",
        server.address,
        ca.display()
    );
    let err = up_fails("tls-wrong-name", &wrong);
    assert!(
        err.contains("TLS handshake with the backend failed"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

const APP_USER: &str = r#"
[[cache.user]]
name = "app"
password = "app-pass"
rules = "~* +@all"
"#;

#[test]
fn world_users_are_passed_to_a_started_backend_and_checked_on_a_user_run_one() {
    if !have("redis-server") || !have("redis-cli") {
        eprintln!("skipping: redis-server and redis-cli are needed");
        return;
    }
    let file = scenario_with(
        "users",
        r#"{ command = ["redis-server", "--save", ""] }"#,
        APP_USER,
    );
    let (world, endpoint, _) = up(&file, "users");
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", &endpoint.ip().to_string(), "-p", "6379"])
        .args(["--user", "app", "--pass", "app-pass", "--no-auth-warning"])
        .args(["ACL", "WHOAMI"]);
    let out = bounded(cmd, Duration::from_secs(20));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "app");
    drop(world);
    let _ = std::fs::remove_file(file);

    // A user-run backend without the world's user: refused at `up`, saying which user and how.
    let server = user_server(&["--requirepass", "s3cret", "--maxclients", "77"]);
    let err = up_fails_with(
        "users-missing",
        &format!("{{ address = \"{}\" }}", server.address),
        APP_USER,
    );
    assert!(err.contains("cache contoso"), "{err}");
    assert!(err.contains("[[cache.user]] app"), "{err}");
    assert!(err.contains("WRONGPASS"), "{err}");
    // With the user created there, it starts.
    let mut create = Command::new("redis-cli");
    create
        .args(["-p", &server.address.port().to_string()])
        .args(["-a", "s3cret", "--no-auth-warning"])
        .args(["ACL", "SETUSER", "app", "on", ">app-pass", "~*", "+@all"]);
    bounded(create, Duration::from_secs(20));
    let file = scenario_with(
        "users-present",
        &format!("{{ address = \"{}\" }}", server.address),
        APP_USER,
    );
    let (world, endpoint, _) = up(&file, "users-present");
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", &endpoint.ip().to_string(), "-p", "6379"])
        .args(["--user", "app", "--pass", "app-pass", "--no-auth-warning"])
        .args(["ACL", "WHOAMI"]);
    let out = bounded(cmd, Duration::from_secs(20));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "app");
    drop(world);
    let _ = std::fs::remove_file(file);
}
