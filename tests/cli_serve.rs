//! `redlink serve` as a process, driven by redis-cli (installed by `.ci/run`): startup output,
//! config files, redis-server style options, TLS with --tls-auto, SIGTERM and SHUTDOWN.

#[path = "../crates/engine/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn redlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redlink"))
}

/// Start `redlink serve ARGS` and wait for its "Ready to accept connections" lines.
fn spawn_serve(args: &[&str], ready_lines: usize) -> (Child, Vec<String>) {
    let mut child = redlink()
        .arg("serve")
        .args(args)
        // No save points: nothing written to (or loaded from) the working directory.
        .args(["--save", ""])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redlink");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines
        .iter()
        .filter(|l: &&String| l.starts_with("Ready"))
        .count()
        < ready_lines
    {
        assert!(Instant::now() < deadline, "serve did not start: {lines:?}");
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("serve exited early: {lines:?}");
        }
        lines.push(line.trim_end().to_string());
    }
    (child, lines)
}

/// Whether redis-cli runs here; prints why the test skips when it does not.
fn redis_cli_installed() -> bool {
    let ok = Command::new("redis-cli")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "note: skipping: redis-cli is not installed (apt-get install redis-tools; .ci/run does it)"
        );
    }
    ok
}

fn redis_cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli is installed (apt-get install redis-tools; .ci/run does it)");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn redis_cli_smoke() {
    if !redis_cli_installed() {
        return;
    }
    let ip = "127.0.2.1";
    let port = common::free_port(ip).to_string();
    let (mut child, lines) = spawn_serve(
        &[
            "--port",
            &port,
            "--bind",
            ip,
            "--requirepass",
            "s3cret",
            "--maxclients",
            "100",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        1,
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("Ready to accept connections tcp on {ip}:{port}").as_str())
    );
    let cli = |args: &[&str]| {
        let mut all = vec!["-h", ip, "-p", &port, "--no-auth-warning", "-a", "s3cret"];
        all.extend_from_slice(args);
        redis_cli(&all)
    };
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "greeting", "hello world"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello world");
    assert_eq!(cli(&["INCRBY", "n", "41"]), "41");
    assert_eq!(cli(&["CONFIG", "GET", "maxclients"]), "maxclients\n100");
    assert_eq!(
        redis_cli(&["-h", ip, "-p", &port, "GET", "greeting"]),
        "NOAUTH Authentication required."
    );
    // redis-cli's RESP3 mode.
    assert_eq!(cli(&["-3", "GET", "greeting"]), "hello world");
    // SIGTERM stops the server gracefully.
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn config_file_and_shutdown() {
    if !redis_cli_installed() {
        return;
    }
    let ip = "127.0.2.2";
    let port = common::free_port(ip);
    let dir = std::env::temp_dir().join(format!("redlink-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!("# test config\nport {port}\nbind {ip}\nmaxclients 7\nsave \"\"\nappendonly no\n"),
    )
    .unwrap();
    let (mut child, _) = spawn_serve(&[conf.to_str().unwrap()], 1);
    let p = port.to_string();
    assert_eq!(
        redis_cli(&["-h", ip, "-p", &p, "CONFIG", "GET", "maxclients"]),
        "maxclients\n7"
    );
    let _ = redis_cli(&["-h", ip, "-p", &p, "SHUTDOWN", "NOSAVE"]);
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("exits after SHUTDOWN");
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_are_reported() {
    let out = redlink()
        .args(["serve", "--maxclients", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maxclients") && err.contains("integer"),
        "{err}"
    );
    let out = redlink()
        .args(["serve", "/nonexistent/redis.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/redis.conf"));
    let out = redlink()
        .args(["serve", "--busy-poll", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "command line: option --busy-poll: \"lots\" is not a number of microseconds (0 to 1000000)"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Where it cannot run (more than one serving thread, a cluster) it is refused, not ignored.
    for args in [
        &["--io-threads", "2", "--busy-poll", "20"][..],
        &["--cluster", "3", "--busy-poll", "20"][..],
    ] {
        let out = redlink().arg("serve").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("option --busy-poll: busy polling needs one serving thread"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A port in use names the address.
    let ip = "127.0.2.3";
    let holder = std::net::TcpListener::bind((ip, 0)).unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let out = redlink()
        .args(["serve", "--bind", ip, "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{ip}:{port}")) && err.contains("in use"),
        "{err}"
    );
}

#[test]
fn tls_auto_with_redis_cli() {
    if !redis_cli_installed() {
        return;
    }
    let ip = "127.0.2.4";
    let tls_port = common::free_port(ip).to_string();
    let dir = std::env::temp_dir().join(format!("redlink-tlsauto-{}", std::process::id()));
    let (mut child, lines) = spawn_serve(
        &[
            "--port",
            "0",
            "--bind",
            ip,
            "--tls-port",
            &tls_port,
            "--tls-auto",
            dir.to_str().unwrap(),
            "--tls-hostname",
            ip,
        ],
        1,
    );
    assert!(
        lines.iter().any(|l| l.starts_with("TLS certificates: ca=")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("Ready to accept connections tls on {ip}:{tls_port}")),
        "{lines:?}"
    );
    for f in ["ca.crt", "server.crt", "server.key"] {
        assert!(dir.join(f).exists(), "{f} written");
    }
    let ca = dir.join("ca.crt");
    let pong = redis_cli(&[
        "-h",
        ip,
        "-p",
        &tls_port,
        "--tls",
        "--cacert",
        ca.to_str().unwrap(),
        "PING",
    ]);
    assert_eq!(pong, "PONG");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A SIGTERM sent the moment "Ready to accept connections" is printed stops the server cleanly
/// (exit 0, like redis-server): the handler is registered before the announcement, so there is no
/// window in which the default action kills the process. Several rounds, each on a free port.
#[test]
fn sigterm_right_after_ready_is_a_clean_stop() {
    for round in 0..5 {
        let port = common::free_port("127.0.79.1").to_string();
        let (mut child, _) = spawn_serve(&["--port", &port, "--bind", "127.0.79.1"], 1);
        let pid = child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits after SIGTERM");
        assert!(status.success(), "round {round}: {status:?}");
    }
}

/// CPU time (user + system) the process has used, from /proc/PID/stat, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name (which may hold spaces): state is the 3rd field, utime the
    // 14th and stime the 15th.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn busy_polling_serves_and_stops_when_the_clients_do() {
    let ip = "127.0.2.5";
    for poll in ["50", "0"] {
        let port = common::free_port(ip).to_string();
        let (mut child, _) = spawn_serve(&["--port", &port, "--bind", ip, "--busy-poll", poll], 1);
        // A burst of request/reply round trips: short gaps, so the polling window grows.
        let mut conn = std::net::TcpStream::connect((ip, port.parse::<u16>().unwrap())).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        use std::io::{Read, Write};
        let mut reply = [0u8; 10];
        for i in 0..3000 {
            let set = format!(
                "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{i}\r\n",
                i.to_string().len()
            );
            conn.write_all(set.as_bytes()).unwrap();
            conn.read_exact(&mut reply[..5]).unwrap();
            assert_eq!(&reply[..5], b"+OK\r\n", "--busy-poll {poll}: reply {i}");
        }
        conn.write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap();
        conn.read_exact(&mut reply[..10]).unwrap();
        assert_eq!(&reply[..10], b"$4\r\n2999\r\n", "--busy-poll {poll}");
        // The client stays connected but sends nothing: the server goes back to sleep. A
        // server still polling would use a whole core: 1 s of CPU in this second.
        std::thread::sleep(Duration::from_millis(200));
        let before = cpu_ticks(child.id());
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_ticks(child.id()) - before;
        let elapsed = start.elapsed();
        // Clock ticks are 1/100 s on Linux (USER_HZ).
        assert!(
            used * 10 < elapsed.as_millis() as u64 / 4,
            "--busy-poll {poll}: an idle server used {used} ticks of CPU in {elapsed:?}"
        );
        drop(conn);
        let _ = child.kill();
        let _ = child.wait();
    }
}
