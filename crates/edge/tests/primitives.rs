//! Each primitive with plain sockets: the errno class and timing a client sees (refused < 1 s, a
//! dropped connect not completed within 1.5 s, a reset at the first read, a blackhole that never
//! answers), a route to a real engine, per-source decisions on one address, the reset of open
//! connections when a path becomes denied, toxics, and the rootless socket-filter fallback (this
//! test binary re-runs one test as uid 65534 through `setpriv`, since root hides EPERM).
//!
//! Every test uses its own loopback addresses (127.240.T.x), so tests run in parallel.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use redlink_edge::{EndpointId, EndpointPort, PortKey, PortPlan, Source, SourceVerdict, Verdict};
use redlink_engine::{Config, Engine};
use redlink_world::{Toxic, ToxicDirection, ToxicKind};

const PORT: u16 = 6400;

fn addr(test: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 240, test, host)
}

/// The client address of network `n` in test `test`.
fn client(test: u8, n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 241, test, n)
}

fn source(s: Source, address: Ipv4Addr, v: Verdict, toxics: Vec<Toxic>) -> SourceVerdict {
    SourceVerdict {
        reason: format!("test says {v}"),
        source: s,
        address,
        verdict: v,
        action: v,
        toxics,
    }
}

/// A plan where the host gets `host` and network `net-N` (client address `client(test, N)`) gets
/// `nets[N-1]`.
fn plan(test: u8, host: Verdict, nets: &[Verdict], engine: Option<&Engine>) -> PortPlan {
    let mut sources = vec![source(
        Source::Host,
        redlink_world::HOST_ADDRESS,
        host,
        vec![],
    )];
    for (i, v) in nets.iter().enumerate() {
        let n = u8::try_from(i + 1).expect("few networks");
        sources.push(source(
            Source::Network(format!("net-{n}")),
            client(test, n),
            *v,
            vec![],
        ));
    }
    PortPlan::from_sources(sources, engine.cloned())
}

fn engine() -> Engine {
    Engine::new(Config::default())
}

async fn port(test: u8) -> EndpointPort {
    let key = PortKey {
        endpoint: EndpointId::Private {
            endpoint: format!("pe-{test}"),
        },
        address: addr(test, 4),
        port: PORT,
    };
    EndpointPort::reserve(key, "contoso", false).expect("reserve")
}

/// Connects from `from` to `to` (blocking std socket, bounded by `timeout`).
fn connect_from(from: Ipv4Addr, to: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.bind(&SocketAddr::from((from, 0)).into())?;
    s.connect_timeout(&to.into(), timeout)?;
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    Ok(s)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

fn ping(s: &mut TcpStream) -> io::Result<String> {
    s.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
    }
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn assert_refused_fast(from: Ipv4Addr, to: SocketAddr) {
    let t = Instant::now();
    let err = connect_from(from, to, Duration::from_secs(2)).expect_err("refused");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

fn assert_dropped(from: Ipv4Addr, to: SocketAddr) {
    let t = Instant::now();
    let r = connect_from(from, to, Duration::from_millis(1500));
    let err = r.expect_err("a dropped SYN does not connect");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ),
        "{err}"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
}

/// A reset shows at the first read or write (or, when the RST wins the race with the end of the
/// handshake, at connect already: still ECONNRESET).
fn assert_reset_at_first_read(from: Ipv4Addr, to: SocketAddr) {
    let err = match connect_from(from, to, Duration::from_secs(2)) {
        Ok(mut s) => ping(&mut s).expect_err("reset at the first exchange"),
        Err(e) => e,
    };
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_drop_reset_blackhole_and_route() {
    let mut p = port(1).await;
    let to = p.key().socket_addr();
    let e = engine();
    let host = Ipv4Addr::LOCALHOST;

    // Not opened yet: refused.
    blocking(move || assert_refused_fast(host, to)).await;

    p.apply(plan(1, Verdict::Drop, &[], Some(&e)))
        .await
        .expect("drop");
    blocking(move || assert_dropped(host, to)).await;

    p.apply(plan(1, Verdict::Reset, &[], Some(&e)))
        .await
        .expect("reset");
    blocking(move || assert_reset_at_first_read(host, to)).await;

    p.apply(plan(1, Verdict::Blackhole, &[], Some(&e)))
        .await
        .expect("blackhole");
    blocking(move || {
        let mut s = connect_from(host, to, Duration::from_secs(2)).expect("blackhole accepts");
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let err = ping(&mut s).expect_err("never answered");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err}"
        );
    })
    .await;

    p.apply(plan(1, Verdict::Route, &[], Some(&e)))
        .await
        .expect("route");
    blocking(move || {
        let mut s = connect_from(host, to, Duration::from_secs(2)).expect("route");
        assert_eq!(ping(&mut s).expect("PING"), "+PONG\r\n");
    })
    .await;

    p.apply(plan(1, Verdict::Refuse, &[], Some(&e)))
        .await
        .expect("refuse");
    blocking(move || assert_refused_fast(host, to)).await;
    assert!(p.is_reserved());
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_get_their_own_verdicts_on_one_address() {
    let mut p = port(2).await;
    let to = p.key().socket_addr();
    let e = engine();
    // host routed, net-1 routed, net-2 dropped, net-3 reset, net-4 refused (→ reset after accept).
    p.apply(plan(
        2,
        Verdict::Route,
        &[
            Verdict::Route,
            Verdict::Drop,
            Verdict::Reset,
            Verdict::Refuse,
        ],
        Some(&e),
    ))
    .await
    .expect("plan");
    let net2 = p
        .plan()
        .for_source(&Source::Network("net-2".into()))
        .expect("net-2")
        .clone();
    let net4 = p
        .plan()
        .for_source(&Source::Network("net-4".into()))
        .expect("net-4")
        .clone();
    assert_eq!(net4.action, Verdict::Reset);
    assert!(net4.reason.contains("cannot be limited"), "{}", net4.reason);
    blocking(move || {
        for from in [Ipv4Addr::LOCALHOST, client(2, 1)] {
            let mut s = connect_from(from, to, Duration::from_secs(2)).expect("routed");
            assert_eq!(ping(&mut s).expect("PING"), "+PONG\r\n");
        }
        match net2.action {
            // Root, or a user namespace: the socket filter discards net-2's SYNs.
            Verdict::Drop => assert_dropped(client(2, 2), to),
            // An ordinary uid: reset after accept, and the reason says so.
            _ => {
                assert!(net2.reason.contains("socket filter"), "{}", net2.reason);
                assert_reset_at_first_read(client(2, 2), to);
            }
        }
        assert_reset_at_first_read(client(2, 3), to);
        assert_reset_at_first_read(client(2, 4), to);
    })
    .await;
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_becomes_denied_resets_open_connections() {
    let mut p = port(3).await;
    let to = p.key().socket_addr();
    let e = engine();
    p.apply(plan(3, Verdict::Route, &[Verdict::Route], Some(&e)))
        .await
        .expect("route");
    let (mut host_conn, mut net_conn) = blocking(move || {
        let mut a = connect_from(Ipv4Addr::LOCALHOST, to, Duration::from_secs(2)).expect("a");
        let mut b = connect_from(client(3, 1), to, Duration::from_secs(2)).expect("b");
        assert_eq!(ping(&mut a).expect("PING"), "+PONG\r\n");
        assert_eq!(ping(&mut b).expect("PING"), "+PONG\r\n");
        (a, b)
    })
    .await;
    // Only net-1's path becomes denied: its connection is reset, the host's stays.
    p.apply(plan(3, Verdict::Route, &[Verdict::Drop], Some(&e)))
        .await
        .expect("deny net-1");
    (host_conn, net_conn) = blocking(move || {
        let mut buf = [0u8; 16];
        let err = net_conn.read(&mut buf).expect_err("reset, not EOF");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        assert_eq!(ping(&mut host_conn).expect("still routed"), "+PONG\r\n");
        (host_conn, net_conn)
    })
    .await;
    drop(net_conn);
    // Route → refuse: the host's open connection is reset too, and new ones are refused.
    p.apply(plan(3, Verdict::Refuse, &[Verdict::Refuse], Some(&e)))
        .await
        .expect("refuse");
    blocking(move || {
        let mut buf = [0u8; 16];
        let err = host_conn.read(&mut buf).expect_err("reset");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        assert_refused_fast(Ipv4Addr::LOCALHOST, to);
    })
    .await;
    let t = Instant::now();
    while !p.open_connections().is_empty() && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(p.open_connections().len(), 0);
    p.close().await;
}

fn toxic(kind: ToxicKind, direction: ToxicDirection) -> Toxic {
    Toxic {
        name: "t".into(),
        endpoint: None,
        network: None,
        kind,
        direction,
        toxicity: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_delay_slice_and_reset_routed_connections() {
    let mut p = port(4).await;
    let to = p.key().socket_addr();
    let e = engine();
    let route_with = |toxics: Vec<Toxic>| {
        PortPlan::from_sources(
            vec![source(
                Source::Host,
                redlink_world::HOST_ADDRESS,
                Verdict::Route,
                toxics,
            )],
            Some(e.clone()),
        )
    };
    // Latency 150 ms each way: a PING takes at least 300 ms.
    p.apply(route_with(vec![
        toxic(
            ToxicKind::Latency {
                latency_ms: 150,
                jitter_ms: 0,
            },
            ToxicDirection::Upstream,
        ),
        toxic(
            ToxicKind::Latency {
                latency_ms: 150,
                jitter_ms: 0,
            },
            ToxicDirection::Downstream,
        ),
    ]))
    .await
    .expect("latency");
    blocking(move || {
        let mut s = connect_from(Ipv4Addr::LOCALHOST, to, Duration::from_secs(2)).expect("c");
        let t = Instant::now();
        assert_eq!(ping(&mut s).expect("PING"), "+PONG\r\n");
        let rtt = t.elapsed();
        assert!(rtt >= Duration::from_millis(300), "{rtt:?}");
        assert!(rtt < Duration::from_millis(1500), "{rtt:?}");
    })
    .await;

    // Slicer + bandwidth: the reply still arrives whole.
    p.apply(route_with(vec![
        toxic(
            ToxicKind::Slicer {
                avg_size: 2,
                delay_us: 1000,
            },
            ToxicDirection::Downstream,
        ),
        toxic(
            ToxicKind::Bandwidth { rate_kbps: 100 },
            ToxicDirection::Downstream,
        ),
    ]))
    .await
    .expect("slicer");
    blocking(move || {
        let mut s = connect_from(Ipv4Addr::LOCALHOST, to, Duration::from_secs(2)).expect("c");
        s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while got.len() < 7 {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"+PONG\r\n");
    })
    .await;

    // Reset after 3 bytes downstream: "+PO", then ECONNRESET.
    p.apply(route_with(vec![toxic(
        ToxicKind::ResetAfter { bytes: 3 },
        ToxicDirection::Downstream,
    )]))
    .await
    .expect("reset_after");
    blocking(move || {
        let mut s = connect_from(Ipv4Addr::LOCALHOST, to, Duration::from_secs(2)).expect("c");
        s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        let err = loop {
            match s.read(&mut buf) {
                Ok(0) => panic!("EOF instead of a reset after {got:?}"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(got, b"+PO");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    })
    .await;

    // Timeout 300 ms: nothing passes, then a reset.
    p.apply(route_with(vec![toxic(
        ToxicKind::Timeout { timeout_ms: 300 },
        ToxicDirection::Upstream,
    )]))
    .await
    .expect("timeout");
    blocking(move || {
        let mut s = connect_from(Ipv4Addr::LOCALHOST, to, Duration::from_secs(2)).expect("c");
        let t = Instant::now();
        let err = ping(&mut s).expect_err("no reply, then reset");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
    })
    .await;
    p.close().await;
}

/// Marks the re-run as the unprivileged one.
const ROOTLESS_ENV: &str = "REDLINK_EDGE_ROOTLESS_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rootless_per_source_drop_falls_back_to_reset() {
    if std::env::var_os(ROOTLESS_ENV).is_some() {
        // The unprivileged run: attaching the filter fails with EPERM.
        let mut p = port(5).await;
        let to = p.key().socket_addr();
        let e = engine();
        p.apply(plan(5, Verdict::Route, &[Verdict::Drop], Some(&e)))
            .await
            .expect("plan");
        let net = p
            .plan()
            .for_source(&Source::Network("net-1".into()))
            .expect("net-1")
            .clone();
        assert_eq!(net.verdict, Verdict::Drop);
        assert_eq!(net.action, Verdict::Reset, "{}", net.reason);
        assert!(net.reason.contains("socket filter"), "{}", net.reason);
        assert!(
            net.reason.contains("Operation not permitted"),
            "{}",
            net.reason
        );
        blocking(move || {
            assert_reset_at_first_read(client(5, 1), to);
            let mut s = connect_from(Ipv4Addr::LOCALHOST, to, Duration::from_secs(2)).expect("h");
            assert_eq!(ping(&mut s).expect("PING"), "+PONG\r\n");
        })
        .await;
        p.close().await;
        return;
    }
    let is_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !is_root {
        eprintln!("not root: this run is the unprivileged case already");
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args([
            "rootless_per_source_drop_falls_back_to_reset",
            "--exact",
            "--nocapture",
        ])
        .env(ROOTLESS_ENV, "1")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("setpriv is not available ({e}); skipping the rootless run");
            return;
        }
    };
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "rootless run failed:\n{text}");
    assert!(text.contains("1 passed"), "{text}");
}
