//! A caching resolver (`dns_cache = true`) on a manual clock, queried over UDP and TCP: answers
//! stay what they were for their TTL after the world changes, the TTL in responses counts down,
//! and advancing the clock past it brings the new answer — with no real waiting.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use redlink_clock::Clock;
use redlink_dns::DnsViews;
use redlink_world::{AddressPlan, Change, Scenario, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const WORLD: &str = r#"
[[network]]
name = "hub"
[[network]]
name = "spoke"
dns_cache = true
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

/// One raw A query; the answer's (last A address, its TTL).
async fn ask(addr: SocketAddr, tcp: bool) -> (Ipv4Addr, u32) {
    let mut msg = Message::new(7, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(
        Name::from_ascii("contoso.redis.cache.windows.net.").expect("name"),
        RecordType::A,
    ));
    let bytes = msg.to_vec().expect("encodes");
    let reply = tokio::time::timeout(Duration::from_secs(5), async {
        if tcp {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let len = u16::try_from(bytes.len()).expect("short");
            s.write_all(&len.to_be_bytes()).await.expect("write");
            s.write_all(&bytes).await.expect("write");
            let n = usize::from(s.read_u16().await.expect("length"));
            let mut buf = vec![0u8; n];
            s.read_exact(&mut buf).await.expect("read");
            buf
        } else {
            let sock = tokio::net::UdpSocket::bind((addr.ip(), 0))
                .await
                .expect("socket");
            sock.send_to(&bytes, addr).await.expect("send");
            let mut buf = vec![0u8; 4096];
            let n = sock.recv(&mut buf).await.expect("recv");
            buf.truncate(n);
            buf
        }
    })
    .await
    .expect("answered in time");
    let reply = Message::from_vec(&reply).expect("parses");
    reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some((a.0, r.ttl)),
            _ => None,
        })
        .next_back()
        .expect("an A record")
}

#[tokio::test]
async fn a_cached_answer_lasts_its_ttl_on_the_manual_clock() {
    let scenario = Scenario::parse("t.toml", WORLD).expect("parses");
    let world = World::build(&scenario, &AddressPlan::default()).expect("builds");
    let public = world.cache("contoso").expect("cache").public_address;
    let private = world.private_endpoint("pe-hub").expect("pe").address;
    let bindings = vec![
        ("hub".to_owned(), SocketAddr::from(([127, 153, 160, 1], 0))),
        (
            "spoke".to_owned(),
            SocketAddr::from(([127, 153, 160, 2], 0)),
        ),
    ];
    let (tx, rx) = watch::channel(Arc::new(world));
    let clock = Clock::manual_at(1_000_000);
    let views = DnsViews::start_with_clock(rx, bindings, clock.clone())
        .await
        .expect("views start");
    let spoke = views.local_addr("spoke").expect("spoke");
    let hub = views.local_addr("hub").expect("hub");

    assert_eq!(
        ask(spoke, false).await,
        (public, 60),
        "fresh public answer, full TTL"
    );
    let mut linked = (**tx.borrow()).clone();
    Change::Link(redlink_world::change::LinkChange {
        zone: "privatelink.redis.cache.windows.net".into(),
        network: "spoke".into(),
        name: None,
        resolution_policy: Default::default(),
    })
    .apply(&mut linked)
    .expect("link");
    tx.send_replace(Arc::new(linked));

    for tcp in [false, true] {
        assert_eq!(
            ask(spoke, tcp).await,
            (public, 60),
            "still cached (tcp {tcp})"
        );
    }
    clock.advance(Duration::from_secs(45)).expect("manual");
    for tcp in [false, true] {
        assert_eq!(
            ask(spoke, tcp).await,
            (public, 15),
            "TTL counts down (tcp {tcp})"
        );
    }
    let peek = views
        .peek(
            "spoke",
            "contoso.redis.cache.windows.net",
            redlink_world::QueryType::A,
        )
        .expect("spoke has a resolver");
    assert!(peek.summary().contains("DNS cache"), "{}", peek.summary());
    clock.advance(Duration::from_secs(15)).expect("manual");
    assert_eq!(
        ask(spoke, false).await,
        (private, 10),
        "expired: the zone answers, TTL 10"
    );
    // hub does not cache: it always answers from the current world.
    assert_eq!(ask(hub, false).await, (private, 10));
    views.shutdown().await.expect("stops");
}
