//! Slowloris: thousands of clients that each sent half a command and then nothing do not starve new
//! clients; past maxclients the next one gets Redis's error; once the slow clients leave, the
//! engine is back to the legitimate ones. `REDLINK_SLOWLORIS_CONNS` sets the number of idle
//! connections (2,500 by default; `benches/soak.sh` runs 8,000). Figures print with `--nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::{resp, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slowloris_does_not_starve_new_clients() {
    let idle = env_usize("REDLINK_SLOWLORIS_CONNS", 2500);
    let legit = 50;
    let maxclients = idle + legit;
    let (server, addr) = start("127.0.3.21", &[("maxclients", &maxclients.to_string())]);
    let engine = server.engine().clone();
    let started = Instant::now();
    // Thousands of clients that each sent half a command and then nothing.
    let mut slow = Vec::with_capacity(idle);
    for chunk in 0..idle.div_ceil(100) {
        let n = 100.min(idle - chunk * 100);
        let batch = futures_util::future::join_all((0..n).map(|i| async move {
            let mut s = TcpStream::connect(addr).await.expect("slowloris connect");
            let half: &[u8] = match i % 3 {
                0 => b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nva",
                1 => b"SET slow inline-without-newline",
                _ => b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$1000000\r\nxxxx",
            };
            s.write_all(half).await.expect("slowloris write");
            s
        }))
        .await;
        slow.extend(batch);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.clients.count() < idle {
        assert!(
            Instant::now() < deadline,
            "{} of {idle}",
            engine.clients.count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let opened = started.elapsed();
    // New clients are served promptly, up to maxclients.
    let mut held = Vec::new();
    let mut latencies = Vec::new();
    for i in 0..legit {
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).await.unwrap();
        let key = format!("legit:{i}");
        let mut input = resp(&["SET", &key, "v"]);
        input.extend(resp(&["GET", &key]));
        s.write_all(&input).await.unwrap();
        let want = b"+OK\r\n$1\r\nv\r\n";
        let mut got = vec![0u8; want.len()];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut got))
            .await
            .expect("served in time")
            .unwrap();
        assert_eq!(got, want);
        latencies.push(t.elapsed());
        held.push(s);
    }
    // One more is over maxclients: Redis's error.
    let mut over = TcpStream::connect(addr).await.unwrap();
    let out = common::read_some(&mut over, Duration::from_millis(500)).await;
    assert_eq!(out, b"-ERR max number of clients reached\r\n");
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    assert!(worst < Duration::from_secs(1), "worst latency {worst:?}");
    // The slow clients leave; the server is back to the legitimate ones.
    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.clients.count() > legit {
        assert!(
            Instant::now() < deadline,
            "{} clients left",
            engine.clients.count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = TcpStream::connect(addr).await.unwrap();
    again.write_all(b"PING\r\n").await.unwrap();
    let mut pong = [0u8; 7];
    again.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"+PONG\r\n");
    eprintln!(
        "slowloris: {idle} idle half-sent connections opened in {opened:.2?}; {legit} new clients served \
         (SET+GET) with median {median:.2?}, worst {worst:?}; client {} rejected with maxclients {maxclients}",
        maxclients + 1
    );
}
