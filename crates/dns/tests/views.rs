//! The resolvers of a world, queried over UDP and TCP with hickory's resolver, raw DNS messages and
//! (when installed) dig. Every test binds its own 127.153.T.x addresses with port 0, so tests run in
//! parallel.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use redlink_dns::{DnsError, DnsViews};
use redlink_world::{AddressPlan, ResolutionPolicy, Scenario, World, quickstart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const HOST: &str = "contoso.redis.cache.windows.net.";
const ZONE: &str = "privatelink.redis.cache.windows.net";

struct Fixture {
    world: watch::Sender<Arc<World>>,
    views: DnsViews,
}

impl Fixture {
    fn addr(&self, network: &str) -> SocketAddr {
        self.views
            .local_addr(network)
            .expect("network has a resolver")
    }
}

/// Starts the views of `world`, network i on 127.153.`t`.(i+1), port 0.
async fn start(world: World, t: u8) -> Fixture {
    let bindings = world
        .networks
        .iter()
        .zip(1u8..)
        .map(|(n, i)| {
            (
                n.name.clone(),
                SocketAddr::from((Ipv4Addr::new(127, 153, t, i), 0)),
            )
        })
        .collect();
    let (tx, rx) = watch::channel(Arc::new(world));
    let views = DnsViews::start(rx, bindings).await.expect("views start");
    Fixture { world: tx, views }
}

fn quickstart_world() -> World {
    World::build(&quickstart(), &AddressPlan::default()).expect("quickstart builds")
}

fn world(toml: &str) -> World {
    let s = Scenario::parse("test.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    World::build(&s, &AddressPlan::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Clone, Copy, Debug)]
enum Proto {
    Udp,
    Tcp,
}

fn resolver(addr: SocketAddr, proto: Proto) -> Resolver<TokioRuntimeProvider> {
    let mut conn = match proto {
        Proto::Udp => ConnectionConfig::udp(),
        Proto::Tcp => ConnectionConfig::tcp(),
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

/// The answer records as "name TYPE data" strings.
async fn lookup(
    addr: SocketAddr,
    proto: Proto,
    name: &str,
) -> Result<Vec<String>, hickory_resolver::net::NetError> {
    let lookup = resolver(addr, proto).lookup(name, RecordType::A).await?;
    Ok(lookup
        .answers()
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => format!("{} A {}", r.name, a.0),
            RData::CNAME(c) => format!("{} CNAME {}", r.name, c.0),
            other => format!("{} {other:?}", r.name),
        })
        .collect())
}

fn chain(target: &str) -> Vec<String> {
    vec![
        format!("{HOST} CNAME contoso.privatelink.redis.cache.windows.net."),
        format!("contoso.privatelink.redis.cache.windows.net. A {target}"),
    ]
}

/// Sends one raw query (UDP or TCP) and returns the response.
async fn raw(addr: SocketAddr, proto: Proto, name: &str, rt: RecordType, edns: bool) -> Message {
    let mut msg = Message::new(4242, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), rt));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        msg.set_edns(e);
    }
    let bytes = msg.to_vec().expect("encodes");
    let reply = tokio::time::timeout(Duration::from_secs(3), async {
        match proto {
            Proto::Udp => {
                let sock = tokio::net::UdpSocket::bind((addr.ip(), 0))
                    .await
                    .expect("client socket");
                sock.send_to(&bytes, addr).await.expect("send");
                let mut buf = vec![0u8; 4096];
                let n = sock.recv(&mut buf).await.expect("recv");
                buf.truncate(n);
                buf
            }
            Proto::Tcp => {
                let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let len = u16::try_from(bytes.len()).expect("short query");
                s.write_all(&len.to_be_bytes()).await.expect("write");
                s.write_all(&bytes).await.expect("write");
                let n = usize::from(s.read_u16().await.expect("length"));
                let mut buf = vec![0u8; n];
                s.read_exact(&mut buf).await.expect("body");
                buf
            }
        }
    })
    .await
    .expect("reply within 3 s");
    Message::from_vec(&reply).expect("decodes")
}

#[tokio::test]
async fn quickstart_private_and_public_over_udp_and_tcp() {
    let f = start(quickstart_world(), 1).await;
    for proto in [Proto::Udp, Proto::Tcp] {
        assert_eq!(
            lookup(f.addr("hub"), proto, HOST)
                .await
                .expect("hub resolves"),
            chain("127.10.1.4"),
            "{proto:?}"
        );
        assert_eq!(
            lookup(f.addr("spoke"), proto, HOST)
                .await
                .expect("spoke resolves"),
            chain("127.20.0.1"),
            "{proto:?}"
        );
    }
    f.views.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn nxdomain_carries_the_zone_soa() {
    let mut w = quickstart_world();
    w.remove_record(ZONE, "contoso", None).expect("record");
    let f = start(w, 2).await;
    for proto in [Proto::Udp, Proto::Tcp] {
        let err = lookup(f.addr("hub"), proto, HOST)
            .await
            .expect_err("NXDOMAIN");
        assert!(err.is_nx_domain(), "{proto:?}: {err}");
        let soa = err.into_soa().expect("SOA in authority");
        assert_eq!(soa.name.to_string(), format!("{ZONE}."));
        let m = raw(f.addr("hub"), proto, HOST, RecordType::A, true).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.answers.len(), 1, "the CNAME is still answered: {m:?}");
        assert_eq!(m.authorities.len(), 1);
    }
    f.views.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn nxdomain_redirect_answers_public() {
    let mut w = quickstart_world();
    w.remove_record(ZONE, "contoso", None).expect("record");
    w.set_resolution_policy(ZONE, "hub", ResolutionPolicy::NxDomainRedirect)
        .expect("linked");
    let f = start(w, 3).await;
    for proto in [Proto::Udp, Proto::Tcp] {
        assert_eq!(
            lookup(f.addr("hub"), proto, HOST).await.expect("resolves"),
            chain("127.20.0.1")
        );
    }
    f.views.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn forwarder_gives_its_stale_answer() {
    let w = world(
        r#"
        [[network]]
        name = "hub"
        [[network]]
        name = "spoke"
        dns_forwarder = { name = "old-dns", forwards_to = "hub", answers = { "contoso.redis.cache.windows.net" = "127.10.1.99" } }
        [[cache]]
        name = "contoso"
        [[private_endpoint]]
        name = "pe-hub"
        network = "hub"
        cache = "contoso"
        [[dns_zone]]
        name = "privatelink.redis.cache.windows.net"
        links = [{ network = "hub" }]
        "#,
    );
    let f = start(w, 4).await;
    for proto in [Proto::Udp, Proto::Tcp] {
        assert_eq!(
            lookup(f.addr("spoke"), proto, HOST)
                .await
                .expect("resolves"),
            vec![format!("{HOST} A 127.10.1.99")]
        );
        // What the table lacks goes to hub's view.
        assert_eq!(
            lookup(
                f.addr("spoke"),
                proto,
                "contoso.privatelink.redis.cache.windows.net."
            )
            .await
            .expect("resolves"),
            vec!["contoso.privatelink.redis.cache.windows.net. A 127.10.1.4".to_owned()]
        );
    }
    f.views.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn live_changes_apply_to_the_next_query() {
    let f = start(quickstart_world(), 5).await;
    assert_eq!(
        lookup(f.addr("spoke"), Proto::Udp, HOST)
            .await
            .expect("public"),
        chain("127.20.0.1")
    );
    f.world.send_modify(|w| {
        let mut next = (**w).clone();
        next.link_zone(ZONE, "spoke", None, ResolutionPolicy::Default)
            .expect("links");
        *w = Arc::new(next);
    });
    assert_eq!(
        lookup(f.addr("spoke"), Proto::Udp, HOST)
            .await
            .expect("private"),
        chain("127.10.1.4")
    );
    f.views.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn refused_nodata_and_edns() {
    let f = start(quickstart_world(), 6).await;
    let hub = f.addr("hub");
    for proto in [Proto::Udp, Proto::Tcp] {
        let m = raw(hub, proto, "example.com.", RecordType::A, true).await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{proto:?}");
        assert!(m.answers.is_empty());
        assert!(m.edns.is_some(), "EDNS echoed on errors too");

        let m = raw(hub, proto, HOST, RecordType::AAAA, true).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1, "CNAME only: {m:?}");
        assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
        assert_eq!(m.authorities.len(), 1);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(m.authorities[0].name.to_string(), format!("{ZONE}."));
        assert!(m.edns.is_some(), "EDNS echoed");

        let m = raw(hub, proto, HOST, RecordType::A, false).await;
        assert!(m.edns.is_none(), "no EDNS when the query had none");
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[0].ttl, 60);
        assert_eq!(m.answers[1].ttl, 10);
        assert!(m.metadata.recursion_available);
        assert_eq!(m.metadata.id, 4242);
    }
    f.views.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn query_events_carry_the_explanation() {
    let f = start(quickstart_world(), 7).await;
    let mut events = f.views.subscribe();
    lookup(f.addr("spoke"), Proto::Tcp, HOST)
        .await
        .expect("resolves");
    let e = tokio::time::timeout(Duration::from_secs(3), events.recv())
        .await
        .expect("event")
        .expect("open");
    assert_eq!(&*e.network, "spoke");
    assert_eq!(e.protocol, "tcp");
    assert_eq!(e.qtype, "A");
    assert!(e.client.ip().is_loopback(), "{}", e.client);
    assert!(
        e.resolution.summary().contains("is not linked to spoke"),
        "{}",
        e.resolution.summary()
    );
    f.views.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn port_in_use_names_the_address_and_the_network() {
    let taken = tokio::net::UdpSocket::bind((Ipv4Addr::new(127, 153, 8, 1), 0))
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr");
    let (_tx, rx) = watch::channel(Arc::new(quickstart_world()));
    let err = match DnsViews::start(rx.clone(), vec![("spoke".into(), addr)]).await {
        Ok(_) => panic!("started on a taken port"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        matches!(err, DnsError::Bind { ref network, .. } if network == "spoke"),
        "{text}"
    );
    assert!(
        text.contains(&addr.to_string())
            && text.contains("network spoke")
            && text.contains("already in use"),
        "{text}"
    );

    let err = DnsViews::start(
        rx,
        vec![("nowhere".into(), SocketAddr::from(([127, 153, 8, 2], 0)))],
    )
    .await;
    assert!(matches!(err, Err(DnsError::UnknownNetwork(ref n)) if n == "nowhere"));
}

#[tokio::test]
async fn dig_sees_the_same_answers() {
    let Ok(out) = std::process::Command::new("dig").arg("-v").output() else {
        eprintln!("note: dig is not installed; skipping the dig test (CI installs dnsutils)");
        return;
    };
    let _ = out;
    let f = start(quickstart_world(), 9).await;
    for (network, want) in [("hub", "127.10.1.4"), ("spoke", "127.20.0.1")] {
        let addr = f.addr(network);
        for tcp in [false, true] {
            let mut cmd = std::process::Command::new("dig");
            cmd.arg(format!("@{}", addr.ip())).args([
                "-p",
                &addr.port().to_string(),
                HOST,
                "+short",
                "+time=3",
                "+tries=1",
            ]);
            if tcp {
                cmd.arg("+tcp");
            }
            // dig blocks: run it off the runtime that serves the DNS views.
            let out = tokio::task::spawn_blocking(move || cmd.output())
                .await
                .expect("joins")
                .expect("dig runs");
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                text.lines().collect::<Vec<_>>(),
                vec!["contoso.privatelink.redis.cache.windows.net.", want],
                "dig from {network} (tcp: {tcp}): {text}"
            );
        }
    }
    f.views.shutdown().await.expect("shuts down");
}

/// Sends raw bytes over UDP and waits up to `wait` for one reply.
async fn udp_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = tokio::net::UdpSocket::bind((addr.ip(), 0))
        .await
        .expect("client socket");
    sock.send_to(bytes, addr).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(wait, sock.recv(&mut buf))
        .await
        .ok()?
        .expect("recv");
    buf.truncate(n);
    Some(buf)
}

fn query_bytes(id: u16, name: &str, rt: RecordType) -> Vec<u8> {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), rt));
    msg.to_vec().expect("encodes")
}

/// Repeated questions are answered from the UDP fast path: each reply carries its own query's ID and
/// the question exactly as asked (mixed case, as resolvers using 0x20 send it), every query still
/// produces an event, and a world change is seen by the next query even for a remembered question.
#[tokio::test]
async fn udp_repeated_questions_keep_ids_case_events_and_follow_changes() {
    let f = start(quickstart_world(), 9).await;
    let spoke = f.addr("spoke");
    let mut events = f.views.subscribe();
    let mixed = "CoNtOsO.rEdIs.CaChE.wInDoWs.NeT.";
    let mut first = None;
    for id in [7u16, 8, 9] {
        let reply = udp_exchange(
            spoke,
            &query_bytes(id, mixed, RecordType::A),
            Duration::from_secs(3),
        )
        .await
        .expect("reply");
        let m = Message::from_vec(&reply).expect("decodes");
        assert_eq!(m.metadata.id, id);
        assert_eq!(
            m.queries[0].name().to_string(),
            mixed,
            "question echoed as asked"
        );
        assert_eq!(m.answers.len(), 2);
        match &first {
            None => first = Some(reply[2..].to_vec()),
            Some(tail) => assert_eq!(&reply[2..], &tail[..], "same answer after the ID"),
        }
        let e = tokio::time::timeout(Duration::from_secs(3), events.recv())
            .await
            .expect("event per query")
            .expect("open");
        assert_eq!(e.protocol, "udp");
        assert!(e.resolution.summary().contains("is not linked to spoke"));
    }
    f.world.send_modify(|w| {
        let mut next = (**w).clone();
        next.link_zone(ZONE, "spoke", None, ResolutionPolicy::Default)
            .expect("links");
        *w = Arc::new(next);
    });
    let reply = udp_exchange(
        spoke,
        &query_bytes(10, mixed, RecordType::A),
        Duration::from_secs(3),
    )
    .await
    .expect("reply");
    let m = Message::from_vec(&reply).expect("decodes");
    match &m.answers[1].data {
        RData::A(a) => assert_eq!(a.0, Ipv4Addr::new(127, 10, 1, 4), "private after the link"),
        other => panic!("expected an A record, got {other:?}"),
    }
    f.views.shutdown().await.expect("shuts down");
}

/// A header announcing a question that is not there gets FORMERR with the query's ID; a datagram
/// shorter than a header or flagged as a response gets nothing; the resolver keeps answering.
#[tokio::test]
async fn udp_malformed_datagrams() {
    let f = start(quickstart_world(), 10).await;
    let hub = f.addr("hub");
    let header_only = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let reply = udp_exchange(hub, &header_only, Duration::from_secs(3))
        .await
        .expect("FORMERR reply");
    assert_eq!(reply.len(), 12);
    assert_eq!(&reply[..2], &[0x12, 0x34]);
    assert_eq!(reply[2] & 0x80, 0x80, "QR set");
    assert_eq!(reply[3] & 0x0f, 1, "FORMERR");
    assert!(
        udp_exchange(hub, &[1, 2, 3], Duration::from_millis(300))
            .await
            .is_none()
    );
    let mut response = query_bytes(5, HOST, RecordType::A);
    response[2] |= 0x80;
    assert!(
        udp_exchange(hub, &response, Duration::from_millis(300))
            .await
            .is_none()
    );
    let m = raw(hub, Proto::Udp, HOST, RecordType::A, true).await;
    assert_eq!(m.answers.len(), 2, "still answering");
    f.views.shutdown().await.expect("shuts down");
}
