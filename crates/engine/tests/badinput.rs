//! Bad input against a running server (in-process, ephemeral port, raw TCP): each case asserts the
//! exact bytes redis-server 7.0.15 sends back (every expected reply below was captured from a real
//! redis-server 7.0.15 with the same input) and whether it closes the connection, and then that the
//! server still serves other clients.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{read_some, resp, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the server did with one input: the bytes it sent and whether it closed the connection.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    reply: Vec<u8>,
    closed: bool,
}

/// Send `input` on a fresh connection; read until the server closes or stays quiet for `quiet`.
async fn exchange(addr: SocketAddr, input: &[u8], quiet: Duration) -> Seen {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    // The server may close before reading everything (a protocol error): ignore write errors.
    let _ = s.write_all(input).await;
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(quiet, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Seen {
                    reply,
                    closed: true,
                };
            }
            Ok(Ok(n)) => reply.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Seen {
                    reply,
                    closed: false,
                };
            }
        }
    }
}

/// A new client is served at once: PING, SET and GET over a fresh connection.
async fn still_serves(addr: SocketAddr) {
    let mut s = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut input = resp(&["PING"]);
    input.extend(resp(&["SET", "alive", "yes"]));
    input.extend(resp(&["GET", "alive"]));
    s.write_all(&input).await.expect("write");
    let want = b"+PONG\r\n+OK\r\n$3\r\nyes\r\n";
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut got))
        .await
        .expect("reply in time")
        .expect("read");
    assert_eq!(got, want);
}

fn seen(reply: &[u8], closed: bool) -> Seen {
    Seen {
        reply: reply.to_vec(),
        closed,
    }
}

const INVALID_BULK: &[u8] = b"-ERR Protocol error: invalid bulk length\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn protocol_errors_match_redis() {
    let (_server, addr) = start("127.0.3.1", &[]);
    let big_inline = vec![b'A'; 70 * 1024];
    let mut big_count = b"*".to_vec();
    big_count.extend(std::iter::repeat_n(b'1', 70 * 1024));
    let mut big_bulk_count = b"*1\r\n$".to_vec();
    big_bulk_count.extend(std::iter::repeat_n(b'1', 70 * 1024));
    let cases: Vec<(&str, Vec<u8>, Seen)> = vec![
        (
            "invalid multibulk length",
            b"*x\r\n".to_vec(),
            seen(b"-ERR Protocol error: invalid multibulk length\r\n", true),
        ),
        (
            "multibulk length over INT_MAX",
            b"*2147483648\r\n".to_vec(),
            seen(b"-ERR Protocol error: invalid multibulk length\r\n", true),
        ),
        (
            "negative multibulk length is skipped",
            b"*-5\r\nPING\r\n".to_vec(),
            seen(b"+PONG\r\n", false),
        ),
        (
            "invalid bulk length",
            b"*1\r\n$x\r\n".to_vec(),
            seen(INVALID_BULK, true),
        ),
        (
            "negative bulk length",
            b"*1\r\n$-1\r\n".to_vec(),
            seen(INVALID_BULK, true),
        ),
        (
            "bulk larger than proto-max-bulk-len (512mb)",
            b"*1\r\n$536870913\r\n".to_vec(),
            seen(INVALID_BULK, true),
        ),
        (
            "a bulk of exactly proto-max-bulk-len waits for its data",
            b"*2\r\n$3\r\nGET\r\n$536870912\r\n".to_vec(),
            seen(b"", false),
        ),
        (
            "element that is not a bulk",
            b"*1\r\n:1\r\n".to_vec(),
            seen(b"-ERR Protocol error: expected '$', got ':'\r\n", true),
        ),
        (
            "unbalanced quotes in inline",
            b"SET a \"b\r\n".to_vec(),
            seen(
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
                true,
            ),
        ),
        (
            "closing quote not followed by a space",
            b"SET a \"b\"c\r\n".to_vec(),
            seen(
                b"-ERR Protocol error: unbalanced quotes in request\r\n",
                true,
            ),
        ),
        (
            "too big inline request",
            big_inline,
            seen(b"-ERR Protocol error: too big inline request\r\n", true),
        ),
        (
            "too big multibulk count",
            big_count,
            seen(b"-ERR Protocol error: too big mbulk count string\r\n", true),
        ),
        (
            "too big bulk count",
            big_bulk_count,
            seen(b"-ERR Protocol error: too big bulk count string\r\n", true),
        ),
        (
            "empty lines are skipped",
            b"\r\n\r\nPING\r\n".to_vec(),
            seen(b"+PONG\r\n", false),
        ),
        (
            "LF-only inline requests",
            b"PING\nPING\n".to_vec(),
            seen(b"+PONG\r\n+PONG\r\n", false),
        ),
        (
            "MSET with an odd argument count",
            b"*2\r\n$4\r\nMSET\r\n$1\r\na\r\n".to_vec(),
            seen(
                b"-ERR wrong number of arguments for 'mset' command\r\n",
                false,
            ),
        ),
    ];
    for (name, input, want) in cases {
        let got = exchange(addr, &input, Duration::from_millis(300)).await;
        assert_eq!(got, want, "{name}");
        still_serves(addr).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_bulk_limit_and_unauthenticated_limits() {
    let (_server, addr) = start(
        "127.0.3.2",
        &[("proto-max-bulk-len", "1mb"), ("requirepass", "pw")],
    );
    let auth = resp(&["AUTH", "pw"]);
    // One byte over the configured limit.
    let mut over = auth.clone();
    over.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
    let got = exchange(addr, &over, Duration::from_millis(300)).await;
    let mut want = b"+OK\r\n".to_vec();
    want.extend_from_slice(INVALID_BULK);
    assert_eq!(got, seen(&want, true));
    // Exactly the limit is served.
    let mut at = auth.clone();
    at.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$1048576\r\n");
    at.extend(std::iter::repeat_n(b'x', 1 << 20));
    at.extend_from_slice(b"\r\n");
    let got = exchange(addr, &at, Duration::from_millis(500)).await;
    assert!(!got.closed);
    assert!(got.reply.starts_with(b"+OK\r\n$1048576\r\nxxx"));
    assert_eq!(
        got.reply.len(),
        b"+OK\r\n$1048576\r\n".len() + (1 << 20) + 2
    );
    // Before AUTH: Redis's unauthenticated limits.
    for (input, want) in [
        (
            &b"*11\r\n"[..],
            seen(
                b"-ERR Protocol error: unauthenticated multibulk length\r\n",
                true,
            ),
        ),
        (
            &b"*1\r\n$16385\r\n"[..],
            seen(
                b"-ERR Protocol error: unauthenticated bulk length\r\n",
                true,
            ),
        ),
        (&b"*1\r\n$16384\r\n"[..], seen(b"", false)),
        (
            &b"GET k\r\n"[..],
            seen(b"-NOAUTH Authentication required.\r\n", false),
        ),
    ] {
        assert_eq!(
            exchange(addr, input, Duration::from_millis(300)).await,
            want
        );
    }
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&auth).await.unwrap();
    s.write_all(&resp(&["PING"])).await.unwrap();
    assert_eq!(
        read_some(&mut s, Duration::from_millis(300)).await,
        b"+OK\r\n+PONG\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_and_non_array_requests_match_redis() {
    let (_server, addr) = start("127.0.3.3", &[]);
    let every_byte: Vec<u8> = (0..=255u8).collect();
    let cases: Vec<(&str, Vec<u8>, Seen)> = vec![
        // Redis finds an inline request's end with strchr(): the NUL at byte 0 hides the newline, so
        // the request waits for more input (until it passes the 64 KiB inline limit).
        ("every byte value once", every_byte, seen(b"", false)),
        ("NUL before the newline", b"\0PING\r\nPING\r\n".to_vec(), seen(b"", false)),
        ("NUL inside an argument", b"ECHO a\0b c\r\n".to_vec(), seen(b"", false)),
        (
            "non-UTF-8 inline command: raw bytes echoed",
            b"\xff\xfe\x80 \xc3\x28\r\n".to_vec(),
            seen(
                b"-ERR unknown command '\xff\xfe\x80', with args beginning with: '\xc3(' \r\n",
                false,
            ),
        ),
        (
            "non-UTF-8 multibulk command",
            b"*2\r\n$2\r\n\xff\xfe\r\n$1\r\n\x80\r\n".to_vec(),
            seen(
                b"-ERR unknown command '\xff\xfe', with args beginning with: '\x80' \r\n",
                false,
            ),
        ),
        (
            "NUL in multibulk arguments ends them in the error text (C %s)",
            b"*3\r\n$3\r\nX\0Y\r\n$3\r\na\0b\r\n$1\r\nc\r\n".to_vec(),
            seen(
                b"-ERR unknown command 'X', with args beginning with: 'a' 'c' \r\n",
                false,
            ),
        ),
        (
            "CR and LF in the error text become spaces",
            b"*2\r\n$3\r\na\r\n\r\n$3\r\nb\nc\r\n".to_vec(),
            seen(
                b"-ERR unknown command 'a  ', with args beginning with: 'b c' \r\n",
                false,
            ),
        ),
        (
            "RESP3 attribute as a request",
            b"|1\r\n+a\r\n+b\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
            seen(
                b"-ERR unknown command '|1', with args beginning with: \r\n-ERR unknown command '+a', with args beginning with: \r\n-ERR unknown command '+b', with args beginning with: \r\n+PONG\r\n",
                false,
            ),
        ),
        (
            "RESP3 map as a request",
            b"%1\r\n+a\r\n+b\r\n".to_vec(),
            seen(
                b"-ERR unknown command '%1', with args beginning with: \r\n-ERR unknown command '+a', with args beginning with: \r\n-ERR unknown command '+b', with args beginning with: \r\n",
                false,
            ),
        ),
        (
            "simple string as a request",
            b"+PING\r\n".to_vec(),
            seen(
                b"-ERR unknown command '+PING', with args beginning with: \r\n",
                false,
            ),
        ),
        (
            "integer as a request",
            b":1\r\n".to_vec(),
            seen(
                b"-ERR unknown command ':1', with args beginning with: \r\n",
                false,
            ),
        ),
        (
            "bare bulk string as a request",
            b"$4\r\nPING\r\n".to_vec(),
            seen(
                b"-ERR unknown command '$4', with args beginning with: \r\n+PONG\r\n",
                false,
            ),
        ),
        (
            "HTTP GET: the Host: line closes the connection, pending replies dropped",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            seen(b"", true),
        ),
        (
            "HTTP POST",
            b"POST / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            seen(b"", true),
        ),
        (
            "POST inside MULTI still closes",
            b"MULTI\r\nPOST\r\n".to_vec(),
            seen(b"", true),
        ),
    ];
    for (name, input, want) in cases {
        let got = exchange(addr, &input, Duration::from_millis(300)).await;
        assert_eq!(got, want, "{name}");
        still_serves(addr).await;
    }
    // Replies already written before the HTTP line are delivered; later ones are not.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PING\r\n").await.unwrap();
    let mut pong = [0u8; 7];
    s.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"+PONG\r\n");
    s.write_all(b"ECHO a\r\nhost: x\r\nPING\r\n").await.unwrap();
    assert!(common::closed(&mut s, Duration::from_secs(2)).await);
    // Long names and argument lists are cut like Redis's %.128s / 128-byte argument list.
    let mut long = vec![b'A'; 300];
    long.push(b' ');
    long.extend(std::iter::repeat_n(b'B', 300));
    long.extend_from_slice(b"\r\n");
    let mut want = b"-ERR unknown command '".to_vec();
    want.extend(std::iter::repeat_n(b'A', 128));
    want.extend_from_slice(b"', with args beginning with: '");
    want.extend(std::iter::repeat_n(b'B', 128));
    want.extend_from_slice(b"' \r\n");
    assert_eq!(
        exchange(addr, &long, Duration::from_millis(300)).await,
        seen(&want, false)
    );
    let mut many = b"X ".to_vec();
    for _ in 0..100 {
        many.extend_from_slice(b"abcdefghij ");
    }
    many.extend_from_slice(b"\r\n");
    let mut want = b"-ERR unknown command 'X', with args beginning with: ".to_vec();
    for _ in 0..10 {
        want.extend_from_slice(b"'abcdefghij' ");
    }
    want.extend_from_slice(b"\r\n");
    assert_eq!(
        exchange(addr, &many, Duration::from_millis(300)).await,
        seen(&want, false)
    );
    // A NUL-hidden inline request errors once it passes the inline limit, like Redis.
    let mut hidden = b"PING\0".to_vec();
    hidden.resize(70 * 1024, b'x');
    assert_eq!(
        exchange(addr, &hidden, Duration::from_millis(300)).await,
        seen(b"-ERR Protocol error: too big inline request\r\n", true)
    );
    still_serves(addr).await;
}

/// The number of connected clients, from INFO clients (the asking connection included).
async fn connected_clients(addr: SocketAddr) -> usize {
    common::info_field(addr, "clients", "connected_clients")
        .await
        .parse()
        .expect("connected_clients is a number")
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_commands_then_disconnect() {
    let (_server, addr) = start("127.0.3.4", &[]);
    let partials: Vec<Vec<u8>> = vec![
        b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nval".to_vec(),
        b"*3\r\n$3\r\nSET\r\n$4\r\nhalf".to_vec(),
        b"*3\r\n$3\r\nSET\r\n$4".to_vec(),
        b"*3\r\n$3\r\nSE".to_vec(),
        b"*3\r".to_vec(),
        b"*".to_vec(),
        b"SET half inline".to_vec(),
        b"SET half \"unterminated".to_vec(),
        // A big bulk announced, a little of it sent.
        [
            &b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10000000\r\n"[..],
            &[b'v'; 100_000][..],
        ]
        .concat(),
    ];
    for round in 0..10 {
        let mut held = Vec::new();
        for p in &partials {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(p).await.unwrap();
            held.push(s);
        }
        if round % 2 == 0 {
            // Half of the rounds: reset instead of a clean close.
            for s in &held {
                let _ = s.set_zero_linger();
            }
        }
        drop(held);
    }
    still_serves(addr).await;
    // No half-sent SET ran, and every connection was cleaned up.
    let got = exchange(addr, &resp(&["EXISTS", "half"]), Duration::from_millis(200)).await;
    assert_eq!(got, seen(b":0\r\n", false));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let n = connected_clients(addr).await;
        if n == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} clients still connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_arguments() {
    let (_server, addr) = start("127.0.3.5", &[]);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let name = |i: usize| format!("key:{i:05}").into_bytes();
    // MSET with 10,000 arguments (5,000 pairs).
    let mut mset = vec![b"MSET".to_vec()];
    for i in 0..5000 {
        mset.push(name(i));
        mset.push(format!("v{i}").into_bytes());
    }
    let mut sadd = vec![b"SADD".to_vec(), b"big:set".to_vec()];
    sadd.extend((0..10_000).map(|i| format!("m{i}").into_bytes()));
    let mut mget = vec![b"MGET".to_vec()];
    mget.extend((0..10_000).map(name));
    let mut del = vec![b"DEL".to_vec()];
    del.extend((0..10_000).map(name));
    let mut input = multibulk(&mset);
    input.extend(multibulk(&sadd));
    input.extend(multibulk(&mget));
    input.extend(resp(&["SCARD", "big:set"]));
    input.extend(multibulk(&del));
    input.extend(resp(&["DBSIZE"]));
    s.write_all(&input).await.unwrap();
    let mut want = b"+OK\r\n:10000\r\n*10000\r\n".to_vec();
    for i in 0..10_000 {
        if i < 5000 {
            let v = format!("v{i}");
            want.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
        } else {
            want.extend_from_slice(b"$-1\r\n");
        }
    }
    want.extend_from_slice(b":10000\r\n:5000\r\n:1\r\n");
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
        .await
        .expect("replies in time")
        .unwrap();
    assert_eq!(got, want);
    // The same 10,000 arguments inline (one 60 KB line, under the 64 KiB inline limit).
    let mut inline = b"SADD inline:set".to_vec();
    for i in 0..10_000 {
        inline.extend_from_slice(format!(" {i}").as_bytes());
    }
    inline.extend_from_slice(b"\r\n");
    assert!(inline.len() < 64 * 1024);
    assert_eq!(
        exchange(addr, &inline, Duration::from_millis(500)).await,
        seen(b":10000\r\n", false)
    );
    still_serves(addr).await;
}

/// The first TLS flight a rustls client sends (its ClientHello).
fn client_hello(ca_pem: &[u8], name: &str) -> Vec<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let mut rd = std::io::BufReader::new(ca_pem);
    for cert in rustls_pemfile(&mut rd) {
        roots.add(cert).expect("CA certificate");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).expect("name");
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), server_name).expect("client connection");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("write_tls");
    }
    out
}

/// The certificates of a PEM bundle (DER), without an extra dependency.
fn rustls_pemfile(
    rd: &mut impl std::io::BufRead,
) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    let mut text = Vec::new();
    let _ = rd.read_to_end(&mut text);
    rustls::pki_types::CertificateDer::pem_slice_iter(&text)
        .filter_map(Result::ok)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_port_garbage_and_cross_protocol() {
    let ip = "127.0.3.6";
    let t = common::start_tls(ip, "badinput-tls", true, &[]);
    let plain_addr = t.plain.expect("plain listener");
    let tls_addr = t.tls;
    let ca = t.ca.clone();
    let tls_client = common::tls_client(tls_addr, &ca);
    let tls_still_serves = || async {
        let mut c = common::connect_with(&tls_client)
            .await
            .expect("TLS connect");
        let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
        assert_eq!(pong, "PONG");
    };
    // Garbage on the TLS port: not a TLS record. The handshake fails at once and the connection
    // closes; no RESP reply ever leaves (rustls sends a TLS alert record, 0x15; OpenSSL in
    // redis-server resets). Deterministic pseudo-random bytes.
    let mut x: u32 = 0x9e37_79b9;
    let garbage: Vec<u8> = (0..2000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    for (name, input) in [
        ("plaintext PING on the TLS port", b"PING\r\n".to_vec()),
        (
            "plaintext multibulk on the TLS port",
            resp(&["SET", "k", "v"]),
        ),
        ("binary garbage on the TLS port", garbage.clone()),
        (
            "a TLS record header with a bogus handshake",
            b"\x16\x03\x01\x00\x05hello".to_vec(),
        ),
    ] {
        let got = exchange(tls_addr, &input, Duration::from_secs(3)).await;
        assert!(got.closed, "{name}: closed");
        assert!(
            got.reply.is_empty() || got.reply[0] == 0x15,
            "{name}: nothing but a TLS alert: {:?}",
            got.reply
        );
        tls_still_serves().await;
        still_serves(plain_addr).await;
    }
    // A truncated ClientHello: the server waits for the rest (bounded by its handshake timeout)
    // and serves everybody else meanwhile.
    let hello = client_hello(&ca, ip);
    assert_eq!(hello[0], 0x16, "a TLS handshake record");
    let mut partial = TcpStream::connect(tls_addr).await.unwrap();
    partial.write_all(&hello[..hello.len() / 2]).await.unwrap();
    tls_still_serves().await;
    drop(partial);
    // A real ClientHello on the plain port: read as an inline request, like redis-server. Its
    // record header has a NUL before any newline, so (as with strchr in Redis) nothing is
    // answered; the client gives up and the server keeps serving.
    let first = |b: u8| hello.iter().position(|&c| c == b).unwrap_or(usize::MAX);
    assert!(first(0) < first(b'\n'), "NUL first: {:?}", &hello[..8]);
    let got = exchange(plain_addr, &hello, Duration::from_millis(500)).await;
    assert_eq!(got, seen(b"", false));
    still_serves(plain_addr).await;
    // The full TLS client against the plain port fails cleanly.
    let wrong = common::tls_client(plain_addr, &ca);
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        wrong.get_multiplexed_async_connection(),
    )
    .await;
    assert!(
        !matches!(r, Ok(Ok(_))),
        "a TLS client on the plain port fails"
    );
    still_serves(plain_addr).await;
    tls_still_serves().await;
}
