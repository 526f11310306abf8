//! One world's control port must not starve its data path (issue 15, item 9): `redlink up` under
//! `ulimit -n 400` with 450 idle connections held open on its control port still answers on its
//! cache endpoint and its resolvers (UDP and TCP); the control API serves at most its limit (the
//! others are told `-ERR max number of clients reached` and closed, so the process's descriptor
//! count stays far below the limit), and serves again once connections leave.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOST: &str = "contoso.redis.cache.windows.net";

fn wait_for_state(path: &Path, child: &mut Child) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && json["control"].is_string()
        {
            return json;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("redlink up exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("no state file at {}", path.display());
}

/// A DNS query for `name` A (RD set).
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The answer count of a NOERROR response to `id`, or why not.
fn answers(id: u16, response: &[u8]) -> Result<u16, String> {
    if response.len() < 12 || response[..2] != id.to_be_bytes() {
        return Err(format!("not a response to {id}: {response:?}"));
    }
    let rcode = response[3] & 0x0f;
    if rcode != 0 {
        return Err(format!("rcode {rcode}"));
    }
    Ok(u16::from_be_bytes([response[6], response[7]]))
}

fn dns_udp(resolver: SocketAddr, id: u16) -> Result<u16, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    socket
        .send_to(&query(id, HOST), resolver)
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1500];
    let n = socket.recv(&mut buf).map_err(|e| e.to_string())?;
    answers(id, &buf[..n])
}

fn dns_tcp(resolver: SocketAddr, id: u16) -> Result<u16, String> {
    let mut s =
        TcpStream::connect_timeout(&resolver, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    let q = query(id, HOST);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).map_err(|e| e.to_string())?;
    answers(id, &buf)
}

fn redis_ping(addr: SocketAddr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn open_fds(pid: u64) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn idle_control_connections_do_not_take_the_cache_and_dns_down_under_a_low_fd_limit() {
    let state: PathBuf = std::env::temp_dir().join(format!(
        "redlink-cli-control-fds-{}.json",
        std::process::id()
    ));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 400 && exec \"$0\" up --for 120s --state-file \"$1\"")
        .arg(env!("CARGO_BIN_EXE_redlink"))
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redlink up starts");
    let json = wait_for_state(&state, &mut child);
    let pid = json["pid"].as_u64().expect("pid");
    let control: SocketAddr = json["control"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .expect("control address");
    let resolver: SocketAddr = json["networks"]["hub"]["resolver"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("hub resolver");
    let pe_hub = json["caches"]["contoso"]["endpoints"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "pe-hub"))
        .and_then(|e| e["address"].as_str())
        .expect("pe-hub address");
    let data: SocketAddr = format!("{pe_hub}:6379").parse().expect("address");
    assert_eq!(redis_ping(data).as_deref(), Ok("+PONG\r\n"));

    // 450 idle connections on the control port (more than the process may open).
    let mut held = Vec::new();
    for _ in 0..450 {
        let s = TcpStream::connect_timeout(&control, Duration::from_secs(5)).expect("connects");
        s.set_nonblocking(true).expect("nonblocking");
        held.push(s);
    }
    // Past the limit, connections are told why and closed.
    let mut told = vec![false; held.len()];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut refused = 0;
    while refused < 450 - 64 && Instant::now() < deadline {
        for (s, told) in held.iter_mut().zip(told.iter_mut()) {
            let mut buf = [0u8; 64];
            if !*told
                && let Ok(n) = s.read(&mut buf)
                && &buf[..n] == b"-ERR max number of clients reached\r\n"
            {
                *told = true;
                refused += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        refused >= 450 - 64,
        "at most 64 control connections are served ({refused} refused)"
    );
    let fds = open_fds(pid);
    assert!(
        fds < 200,
        "the world holds {fds} descriptors with 450 control clients"
    );

    // The data path and DNS still answer.
    assert_eq!(redis_ping(data).as_deref(), Ok("+PONG\r\n"));
    assert!(dns_udp(resolver, 0x1234).is_ok_and(|n| n >= 1));
    assert!(dns_tcp(resolver, 0x4321).is_ok_and(|n| n >= 1));

    // Once the idle clients leave, the control API serves again (`ctl` reads the password from
    // the state file).
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_redlink"))
            .args(["ctl", "--state-file"])
            .arg(&state)
            .args(["redis", "show", "--name", "contoso"])
            .output()
            .expect("ctl runs");
        if out.status.success() {
            let redis: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(redis["hostName"], HOST);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ctl never got through: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&state);
}
