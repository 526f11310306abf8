//! Helpers for the runtime's integration tests: start a world in-process (each test's world claims
//! its own address block by probing, so tests run in parallel), query its resolvers with hickory,
//! talk to its endpoints with redis-rs and tokio-rustls.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use redlink_runtime::{RunningWorld, UpOptions};
use redlink_world::Scenario;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A state file path unique to this process and `tag`.
pub fn state_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("redlink-rt-{}-{tag}.json", std::process::id()))
}

/// Parses a test scenario.
pub fn scenario(tag: &str, toml: &str) -> Scenario {
    Scenario::parse(&format!("{tag}.toml"), toml).unwrap_or_else(|e| panic!("{e}"))
}

/// Starts `scenario` with its state file at [`state_path`]`(tag)`.
pub async fn up(scenario: &Scenario, tag: &str) -> RunningWorld {
    let options = UpOptions {
        state_file: Some(state_path(tag)),
        ..UpOptions::default()
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        RunningWorld::start(scenario, options),
    )
    .await
    .expect("the world starts in time")
    .unwrap_or_else(|e| panic!("the world starts: {e}"))
}

/// The address of private endpoint `name`.
pub fn pe(world: &RunningWorld, name: &str) -> IpAddr {
    IpAddr::V4(
        world
            .world()
            .private_endpoint(name)
            .expect("endpoint exists")
            .address,
    )
}

/// The public address of cache `name`.
pub fn public(world: &RunningWorld, name: &str) -> IpAddr {
    IpAddr::V4(
        world
            .world()
            .cache(name)
            .expect("cache exists")
            .public_address,
    )
}

fn resolver(addr: SocketAddr, tcp: bool) -> Resolver<TokioRuntimeProvider> {
    let mut conn = if tcp {
        ConnectionConfig::tcp()
    } else {
        ConnectionConfig::udp()
    };
    conn.port = addr.port();
    let ns = NameServerConfig::new(addr.ip(), true, vec![conn]);
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    let opts = builder.options_mut();
    opts.cache_size = 0;
    opts.attempts = 1;
    opts.timeout = Duration::from_secs(3);
    opts.use_hosts_file = ResolveHosts::Never;
    builder.build().expect("resolver builds")
}

/// What a network's resolver answers for `name` (A): records as "name TYPE data", or "NXDOMAIN".
pub async fn lookup(world: &RunningWorld, network: &str, name: &str, tcp: bool) -> Vec<String> {
    let addr = world.resolver(network).expect("network has a resolver");
    match resolver(addr, tcp).lookup(name, RecordType::A).await {
        Ok(l) => l
            .answers()
            .iter()
            .map(|r| match &r.data {
                RData::A(a) => format!("{} A {}", r.name, a.0),
                RData::CNAME(c) => format!("{} CNAME {}", r.name, c.0),
                other => format!("{} {other:?}", r.name),
            })
            .collect(),
        Err(e) if e.is_nx_domain() => vec!["NXDOMAIN".to_owned()],
        Err(e) => panic!("lookup of {name} from {network}: {e}"),
    }
}

/// The final address a network's resolver gives for `name`.
pub async fn address_of(world: &RunningWorld, network: &str, name: &str) -> Option<IpAddr> {
    lookup(world, network, name, false)
        .await
        .last()
        .and_then(|l| l.rsplit(' ').next().and_then(|a| a.parse().ok()))
}

/// `dig +short` through a network's resolver, if dig is installed.
pub fn dig(world: &RunningWorld, network: &str, name: &str) -> Option<Vec<String>> {
    let addr = world.resolver(network)?;
    let out = std::process::Command::new("dig")
        .args([
            &format!("@{}", addr.ip()),
            "-p",
            &addr.port().to_string(),
            "+short",
            "+time=2",
            "+tries=1",
            name,
        ])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

/// A redis-rs connection to `ip:port`: 5 s to connect, 30 s per reply (the redis crate's defaults,
/// 1 s and 500 ms, are too short on a loaded 2-core machine).
pub async fn redis_conn(
    ip: IpAddr,
    port: u16,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{}/", SocketAddr::new(ip, port)))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(30)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// PING over plain TCP with redis-rs.
pub async fn ping(ip: IpAddr, port: u16) -> redis::RedisResult<String> {
    let mut c = redis_conn(ip, port).await?;
    redis::cmd("PING").query_async(&mut c).await
}

/// A TLS client that trusts only the world's CA.
pub fn tls_connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connects to `ip:port` and does a TLS handshake verifying `server_name` (what a client that
/// connects to a resolved address but verifies the host name it asked for does).
pub async fn tls_connect(
    ca_pem: &str,
    ip: IpAddr,
    port: u16,
    server_name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect((ip, port)).await?;
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    tokio::time::timeout(
        Duration::from_secs(5),
        tls_connector(ca_pem).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

/// Sends one command as RESP and reads one reply line (enough for simple replies and short bulks).
pub async fn command<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("reply in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Asserts that a connection to `ip:port` is refused, quickly.
pub fn assert_refused(ip: IpAddr, port: u16) {
    let started = std::time::Instant::now();
    let err =
        std::net::TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(2))
            .expect_err("the connection must be refused");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{ip}:{port}: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused after {:?}",
        started.elapsed()
    );
}

/// Asserts that a connection to `ip:port` is not completed within 1.5 s (a dropped SYN).
pub fn assert_dropped(ip: IpAddr, port: u16) {
    let started = std::time::Instant::now();
    let err = std::net::TcpStream::connect_timeout(
        &SocketAddr::new(ip, port),
        Duration::from_millis(1500),
    )
    .expect_err("a dropped connection must not complete");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::TimedOut,
        "{ip}:{port}: {err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1400));
}
