//! UDP answers are capped as authoritative servers do (issue 15, item 10): at most 1232 bytes
//! whatever EDNS payload the client offers (less if it offers less, 512 without EDNS), truncated
//! with TC set so clients retry over TCP, where the answer stays complete. Before, a 65535-byte
//! EDNS offer against a name with 120 A records made a 57-byte query return a 2 KB answer (36x).
//! Addresses: 127.153.150.x, port 0.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RecordType};
use redlink_dns::{DnsViews, MAX_UDP_PAYLOAD};
use redlink_world::{AddressPlan, Scenario, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const BIG: &str = "contoso.privatelink.redis.cache.windows.net.";
const SMALL: &str = "small.privatelink.redis.cache.windows.net.";
const RECORDS: usize = 120;

/// A world whose `contoso` name in the private zone has 120 A records, resolved on `hub`.
async fn start() -> (DnsViews, SocketAddr, watch::Sender<Arc<World>>) {
    let mut toml = String::from(
        "name = \"big-answer\"\n[[network]]\nname = \"hub\"\n[[cache]]\nname = \"contoso\"\n\
         [[dns_zone]]\nname = \"privatelink.redis.cache.windows.net\"\nauto_register = false\n\
         links = [{ network = \"hub\" }]\nrecords = [\n  { name = \"small\", address = \"127.9.0.1\" },\n",
    );
    for i in 0..RECORDS {
        toml.push_str(&format!(
            "  {{ name = \"contoso\", address = \"127.1.{}.{}\" }},\n",
            i / 200,
            i % 200 + 1
        ));
    }
    toml.push_str("]\n");
    let s = Scenario::parse("big.toml", &toml).unwrap_or_else(|e| panic!("{e}"));
    let world = World::build(&s, &AddressPlan::default()).unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = watch::channel(Arc::new(world));
    let views = DnsViews::start(
        rx,
        vec![(
            "hub".to_string(),
            SocketAddr::from((Ipv4Addr::new(127, 153, 150, 1), 0)),
        )],
    )
    .await
    .expect("views start");
    let addr = views.local_addr("hub").expect("hub resolver");
    (views, addr, tx)
}

fn query(name: &str, edns: Option<u16>) -> Vec<u8> {
    let mut msg = Message::new(777, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(
        Name::from_ascii(name).expect("name"),
        RecordType::A,
    ));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        msg.set_edns(e);
    }
    msg.to_vec().expect("encodes")
}

async fn udp(addr: SocketAddr, q: &[u8]) -> Vec<u8> {
    let sock = tokio::net::UdpSocket::bind((addr.ip(), 0))
        .await
        .expect("client socket");
    sock.send_to(q, addr).await.expect("send");
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
        .await
        .expect("an answer")
        .expect("recv");
    buf.truncate(n);
    buf
}

async fn tcp(addr: SocketAddr, q: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let len = u16::try_from(q.len()).expect("short query");
    s.write_all(&len.to_be_bytes()).await.expect("write");
    s.write_all(q).await.expect("write");
    let n = usize::from(
        tokio::time::timeout(Duration::from_secs(5), s.read_u16())
            .await
            .expect("an answer")
            .expect("length"),
    );
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await.expect("body");
    buf
}

#[tokio::test]
async fn udp_answers_are_capped_and_truncated_tcp_answers_are_whole() {
    let (views, addr, _world) = start().await;
    // (EDNS payload offered, the most the answer may take)
    for (offer, cap) in [
        (Some(65535u16), usize::from(MAX_UDP_PAYLOAD)),
        (Some(4096), 1232),
        (Some(800), 800),
        (Some(100), 512),
        (None, 512),
    ] {
        let q = query(BIG, offer);
        // Twice: the second answer comes from the UDP fast path's cache.
        for round in 0..2 {
            let bytes = udp(addr, &q).await;
            assert!(
                bytes.len() <= cap,
                "offer {offer:?} round {round}: {} bytes > {cap}",
                bytes.len()
            );
            let m = Message::from_vec(&bytes).expect("a well-formed (truncated) message");
            assert!(m.metadata.truncation, "offer {offer:?}: TC set");
            assert!(m.answers.len() < RECORDS, "offer {offer:?}: cut short");
            if let Some(e) = &m.edns {
                assert!(e.max_payload() <= MAX_UDP_PAYLOAD);
            }
        }
    }
    // The amplification bound: answer bytes over query bytes.
    let q = query(BIG, Some(65535));
    let ratio = udp(addr, &q).await.len() as f64 / q.len() as f64;
    assert!(ratio < 25.0, "amplification {ratio:.1}x");
    // TCP gets everything, whatever was offered.
    for offer in [Some(65535u16), Some(512), None] {
        let m = Message::from_vec(&tcp(addr, &query(BIG, offer)).await).expect("message");
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), RECORDS, "offer {offer:?}");
    }
    // Small answers are untouched.
    let m = Message::from_vec(&udp(addr, &query(SMALL, Some(65535))).await).expect("message");
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 1);
    views.shutdown().await.expect("shuts down");
}

/// dig sees TC over UDP (and says it is truncated) and all records over TCP.
#[tokio::test]
async fn dig_sees_tc_over_udp_and_everything_over_tcp() {
    if std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("note: dig is not installed; skipping the dig test (CI installs dnsutils)");
        return;
    }
    let (views, addr, _world) = start().await;
    let dig = move |extra: &'static [&'static str]| {
        let mut cmd = std::process::Command::new("dig");
        cmd.arg(format!("@{}", addr.ip()))
            .args([
                "-p",
                &addr.port().to_string(),
                BIG,
                "A",
                "+time=3",
                "+tries=1",
            ])
            .args(extra);
        async move {
            // dig blocks: run it off the runtime that serves the DNS views.
            let out = tokio::task::spawn_blocking(move || cmd.output())
                .await
                .expect("joins")
                .expect("dig runs");
            String::from_utf8_lossy(&out.stdout).to_string()
        }
    };
    let text = dig(&["+notcp", "+ignore", "+bufsize=65535"]).await;
    let flags = text
        .lines()
        .find(|l| l.contains("flags:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(flags.contains(" tc"), "{text}");
    let text = dig(&["+tcp", "+short"]).await;
    assert_eq!(text.lines().count(), RECORDS, "{text}");
    views.shutdown().await.expect("shuts down");
}
