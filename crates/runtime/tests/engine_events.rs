//! The evidence stream carries what clients experience inside a cache's engine: wrong passwords,
//! commands refused before AUTH, and maxclients rejections, with the endpoint they came through.

mod common;

use std::time::Duration;

use redlink_runtime::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCENARIO: &str = r#"
name = "engine-events"
# The tests connect from 127.0.0.1: the host is a jump box in hub.
host = { network = "hub" }

[[network]]
name = "hub"

[[cache]]
name = "locked"
requirepass = "s3cret"
maxclients = 1
non_tls_port = true
public_network_access = "Disabled"

[[private_endpoint]]
name = "pe-locked"
network = "hub"
cache = "locked"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

async fn send(s: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    s.write_all(bytes).await.unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    buf.truncate(n);
    buf
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_failures_and_maxclients_show_in_the_event_stream() {
    let scenario = common::scenario("engine-events", SCENARIO);
    let world = common::up(&scenario, "engine-events").await;
    let mut events = world.events();
    let addr = std::net::SocketAddr::new(common::pe(&world, "pe-locked"), 6379);
    let mut first = TcpStream::connect(addr).await.unwrap();
    assert!(send(&mut first, b"GET k\r\n").await.starts_with(b"-NOAUTH"));
    assert!(
        send(&mut first, b"AUTH nope\r\n")
            .await
            .starts_with(b"-WRONGPASS")
    );
    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0u8; 128];
    let n = tokio::time::timeout(Duration::from_secs(2), second.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(&buf[..n], b"-ERR max number of clients reached\r\n");
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let e = tokio::time::timeout(Duration::from_secs(3), events.next())
            .await
            .expect("an event arrives")
            .expect("the stream is open");
        if let Event::Engine {
            cache,
            kind,
            endpoint,
            reason,
            ..
        } = e
        {
            assert_eq!(cache, "locked");
            assert_eq!(endpoint.as_deref(), Some("pe-locked"));
            assert!(!reason.is_empty());
            kinds.push(kind);
        }
    }
    assert_eq!(kinds, vec!["noauth", "auth_failed", "maxclients"]);
    world.shutdown().await.expect("the world stops");
}
