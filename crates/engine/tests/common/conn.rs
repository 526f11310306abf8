//! A raw RESP connection for tests that must see exactly what the server sends, in order (Pub/Sub
//! messages between replies, several clients interleaved step by step): values parsed as they
//! arrive, nothing decoded away.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A RESP value, as far as these tests need one.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Str(Vec<u8>),
    Int(i64),
    Err(String),
    Nil,
    Arr(Vec<V>),
}

/// Parse one value from `b`; `None` when it is incomplete. Returns the value and its length.
pub fn parse(b: &[u8]) -> Option<(V, usize)> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&b[1..line_end]).ok()?;
    let rest = line_end + 2;
    match b[0] {
        b'+' => Some((V::Str(line.as_bytes().to_vec()), rest)),
        b'-' => Some((V::Err(line.to_string()), rest)),
        b':' => Some((V::Int(line.parse().ok()?), rest)),
        b'_' => Some((V::Nil, rest)),
        b',' | b'#' => Some((V::Str(line.as_bytes().to_vec()), rest)),
        b'$' | b'=' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((V::Nil, rest));
            }
            let end = rest + n as usize;
            (b.len() >= end + 2).then(|| (V::Str(b[rest..end].to_vec()), end + 2))
        }
        b'*' | b'>' | b'~' | b'%' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((V::Nil, rest));
            }
            let n = if b[0] == b'%' { n * 2 } else { n };
            let mut items = Vec::new();
            let mut at = rest;
            for _ in 0..n {
                let (v, len) = parse(&b[at..])?;
                items.push(v);
                at += len;
            }
            Some((V::Arr(items), at))
        }
        _ => panic!("unexpected RESP type {:?}", b[0] as char),
    }
}

/// A raw RESP connection.
pub struct Conn {
    pub s: TcpStream,
    pub buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        Conn {
            s: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, args: &[Vec<u8>]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.s.write_all(&out).await.expect("write");
    }

    /// The next value (waits up to 10 s: a loaded machine is slow, but the value must come).
    pub async fn read(&mut self) -> V {
        loop {
            if let Some((v, n)) = parse(&self.buf) {
                self.buf.drain(..n);
                return v;
            }
            let mut chunk = [0u8; 16384];
            let n = tokio::time::timeout(Duration::from_secs(10), self.s.read(&mut chunk))
                .await
                .expect("a reply within 10 s")
                .expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub async fn call(&mut self, args: &[&str]) -> V {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.send(&args).await;
        self.read().await
    }
}

/// The text of a string value (or the debug form of another value).
pub fn text(v: &V) -> String {
    match v {
        V::Str(s) => String::from_utf8_lossy(s).into_owned(),
        other => format!("{other:?}"),
    }
}

/// A simple-string or bulk value.
pub fn s(v: &str) -> V {
    V::Str(v.as_bytes().to_vec())
}

/// An error value.
pub fn err(v: &str) -> V {
    V::Err(v.to_string())
}
