//! Reboots, import and export in a world (`redlink up` + `redlink ctl`), against redis-server
//! 7.0.15's own files: `ctl redis import` of a dump.rdb redis-server wrote, `ctl redis
//! force-reboot` (open connections see the close; a persisted cache comes back with its last
//! snapshot, writes after it lost; a cache without persistence comes back empty), `ctl redis
//! export` loaded by redis-server, and bad input (unknown cache, reboot type, missing and corrupt
//! files: a clear error, exit 2, the world unchanged).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::bounded;

const LIMIT: Duration = Duration::from_secs(60);

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

fn installed(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("note: skipping: {tool} is not installed (.ci/run installs redis-server)");
    }
    ok
}

/// Kills the child on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SCENARIO: &str = r#"
name = "reboot-test"

[[cache]]
name = "contoso"
non_tls_port = true
public_network_access = "Enabled"
persistence = { rdb = "15m" }

[[cache]]
name = "fabrikam"
non_tls_port = true
public_network_access = "Enabled"
"#;

fn ctl(state: &Path, args: &[&str]) -> Output {
    let mut c = redlink();
    c.arg("ctl").arg("--state-file").arg(state).args(args);
    bounded(c, LIMIT)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

/// The public endpoint's plain address of `cache`, from the state file.
fn public_addr(state: &Path, cache: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state).expect("state file")).expect("JSON");
    let endpoints = json["caches"][cache]["endpoints"]
        .as_array()
        .expect("endpoints");
    let public = endpoints
        .iter()
        .find(|e| e["kind"] == "public")
        .expect("a public endpoint");
    public["address"].as_str().expect("address").to_owned()
}

fn cli(host: &str, args: &[&str]) -> String {
    let mut c = Command::new("redis-cli");
    c.args(["-h", host, "-p", "6379"]).args(args);
    ok(&bounded(c, LIMIT)).trim().to_owned()
}

fn wait_for_control(state: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(state)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && json["control"].is_string()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("redlink up exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no control address in {}", state.display());
}

/// Runs redis-server 7.0.15 on a unix socket only, in `dir` with `dbfilename`, until dropped.
fn redis_server(dir: &Path, dbfilename: &str) -> (Proc, PathBuf) {
    let socket = dir.join("redis.sock");
    let child = Command::new("redis-server")
        .args(["--port", "0", "--save", "", "--appendonly", "no"])
        .arg("--unixsocket")
        .arg(&socket)
        .arg("--dir")
        .arg(dir)
        .args(["--dbfilename", dbfilename])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "redis-server did not start");
        let out = Command::new("redis-cli")
            .arg("-s")
            .arg(&socket)
            .arg("PING")
            .output()
            .expect("redis-cli");
        if String::from_utf8_lossy(&out.stdout).trim() == "PONG" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (proc, socket)
}

fn sock_cli(socket: &Path, args: &[&str]) -> String {
    let mut c = Command::new("redis-cli");
    c.arg("-s").arg(socket).args(args);
    ok(&bounded(c, LIMIT)).trim().to_owned()
}

/// A plain connection that answered PING; true when the server then closed it.
fn sees_close(mut conn: TcpStream) -> bool {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    match conn.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    }
}

fn open_pinged(host: &str) -> TcpStream {
    let mut conn = TcpStream::connect((host, 6379)).expect("connects");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    conn.write_all(b"PING\r\n").expect("writes");
    let mut buf = [0u8; 7];
    conn.read_exact(&mut buf).expect("PONG");
    assert_eq!(&buf, b"+PONG\r\n");
    conn
}

#[test]
fn reboot_import_and_export_behave_as_azure() {
    if !installed("redis-server") || !installed("redis-cli") {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("redlink-reboot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("source")).expect("dirs");
    std::fs::create_dir_all(tmp.join("exports")).expect("dirs");
    let scenario = tmp.join("world.toml");
    std::fs::write(&scenario, SCENARIO).expect("scenario");
    let state = tmp.join("state.json");

    // redis-server 7.0.15 writes the file to import.
    {
        let (_server, socket) = redis_server(&tmp.join("source"), "dump.rdb");
        sock_cli(&socket, &["SET", "imported", "from-redis-server"]);
        sock_cli(&socket, &["RPUSH", "list", "a", "b", "c"]);
        sock_cli(&socket, &["HSET", "hash", "f", "v"]);
        assert_eq!(sock_cli(&socket, &["SAVE"]), "OK");
    }
    let dump = tmp.join("source/dump.rdb");

    let mut up = redlink()
        .arg("up")
        .arg(&scenario)
        .args(["--for", "120s", "--state-file"])
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    wait_for_control(&state, &mut up);
    let up = Proc(up);
    let show: serde_json::Value =
        serde_json::from_str(&ok(&ctl(&state, &["redis", "show", "--name", "contoso"])))
            .expect("az JSON");
    assert_eq!(show["redisConfiguration"]["rdb-backup-enabled"], "true");
    assert_eq!(show["redisConfiguration"]["rdb-backup-frequency"], "15");
    let contoso = public_addr(&state, "contoso");
    let fabrikam = public_addr(&state, "fabrikam");
    let dump_arg = dump.to_str().expect("utf-8 path");

    // Import replaces the data, and closes open connections (the cache restarts with the file).
    cli(&contoso, &["SET", "old", "gone"]);
    let before_import = open_pinged(&contoso);
    ok(&ctl(
        &state,
        &["redis", "import", "--name", "contoso", "--files", dump_arg],
    ));
    assert!(sees_close(before_import), "import closes open connections");
    ok(&ctl(
        &state,
        &["redis", "import", "--name", "fabrikam", "--files", dump_arg],
    ));
    assert_eq!(cli(&contoso, &["GET", "imported"]), "from-redis-server");
    assert_eq!(cli(&contoso, &["LRANGE", "list", "0", "-1"]), "a\nb\nc");
    assert_eq!(cli(&contoso, &["EXISTS", "old"]), "0");
    assert_eq!(cli(&fabrikam, &["HGET", "hash", "f"]), "v");

    // Written after the last snapshot (the import's): lost at the reboot even with persistence.
    cli(&contoso, &["SET", "after-snapshot", "x"]);
    let open = open_pinged(&contoso);
    let out = ok(&ctl(
        &state,
        &[
            "redis",
            "force-reboot",
            "--name",
            "contoso",
            "--reboot-type",
            "AllNodes",
        ],
    ));
    let reply: serde_json::Value = serde_json::from_str(&out).expect("az JSON");
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.contains("rebooted cache contoso")),
        "{out}"
    );
    assert!(sees_close(open), "a reboot closes open connections");
    assert_eq!(cli(&contoso, &["GET", "imported"]), "from-redis-server");
    assert_eq!(cli(&contoso, &["EXISTS", "after-snapshot"]), "0");

    // Without persistence, a reboot loses everything.
    ok(&ctl(
        &state,
        &[
            "redis",
            "force-reboot",
            "--name",
            "fabrikam",
            "--reboot-type",
            "allnodes",
        ],
    ));
    assert_eq!(cli(&fabrikam, &["DBSIZE"]), "0");

    // Export: redis-server 7.0.15 loads the file.
    cli(&contoso, &["SET", "exported", "yes"]);
    let exports = tmp.join("exports");
    ok(&ctl(
        &state,
        &[
            "redis",
            "export",
            "--name",
            "contoso",
            "--prefix",
            "backup",
            "--container",
            exports.to_str().expect("utf-8"),
        ],
    ));
    {
        let (_server, socket) = redis_server(&exports, "backup");
        assert_eq!(sock_cli(&socket, &["GET", "exported"]), "yes");
        assert_eq!(sock_cli(&socket, &["GET", "imported"]), "from-redis-server");
        assert_eq!(sock_cli(&socket, &["LRANGE", "list", "0", "-1"]), "a\nb\nc");
    }

    // Bad input: a clear error, exit 2, the world unchanged.
    refused(
        &ctl(
            &state,
            &[
                "redis",
                "force-reboot",
                "--name",
                "nope",
                "--reboot-type",
                "AllNodes",
            ],
        ),
        "no cache named nope",
    );
    refused(
        &ctl(
            &state,
            &[
                "redis",
                "force-reboot",
                "--name",
                "contoso",
                "--reboot-type",
                "PrimaryNode",
            ],
        ),
        "needs a replica",
    );
    refused(
        &ctl(
            &state,
            &[
                "redis",
                "force-reboot",
                "--name",
                "contoso",
                "--reboot-type",
                "Both",
            ],
        ),
        "is not one of AllNodes",
    );
    let missing = tmp.join("missing.rdb");
    refused(
        &ctl(
            &state,
            &[
                "redis",
                "import",
                "--name",
                "contoso",
                "--files",
                missing.to_str().expect("utf-8"),
            ],
        ),
        "missing.rdb: No such file",
    );
    let corrupt = tmp.join("corrupt.rdb");
    let mut bytes = std::fs::read(&dump).expect("dump");
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, &bytes).expect("corrupt file");
    refused(
        &ctl(
            &state,
            &[
                "redis",
                "import",
                "--name",
                "contoso",
                "--files",
                corrupt.to_str().expect("utf-8"),
            ],
        ),
        "import refused, the cache is unchanged: Bad RDB file at byte offset",
    );
    refused(
        &ctl(
            &state,
            &["redis", "import", "--name", "nope", "--files", dump_arg],
        ),
        "no cache named nope",
    );
    refused(
        &ctl(
            &state,
            &[
                "redis",
                "export",
                "--name",
                "contoso",
                "--prefix",
                "../escape",
                "--container",
                exports.to_str().expect("utf-8"),
            ],
        ),
        "--prefix",
    );
    assert_eq!(cli(&contoso, &["GET", "exported"]), "yes");

    drop(up);
    let _ = std::fs::remove_dir_all(&tmp);
}
