//! The one RESP reader of redlink's clients (the checker, `redlink probe`, and the control client
//! `redlink ctl` speaks): encoding a command as a multibulk request, decoding one reply — RESP2
//! and RESP3 (maps flattened, attributes skipped, pushes as arrays) — from the bytes read so far,
//! with limits on nesting and sizes so a hostile server cannot exhaust memory or the stack, and
//! rendering a reply as text to compare with an expectation (`OK`, `PONG`, `5`, `(nil)`).
//!
//! The decoder works on a byte buffer ([`ReplyReader`]), so the async clients and the blocking
//! control client share it.

use std::fmt;

/// Replies nested deeper than this are rejected.
pub const MAX_DEPTH: usize = 32;
/// Bulk strings longer than this are rejected.
pub const MAX_BULK: usize = 256 << 20;
/// A header line (and a simple string or error) longer than this is rejected.
pub const MAX_LINE: usize = 64 * 1024;

/// One decoded reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `+OK`.
    Status(String),
    /// `-ERR …` (and RESP3 blob errors `!`), without the dash.
    Error(String),
    /// `:5`.
    Int(i64),
    /// `$3\r\nabc` (and RESP3 verbatim strings, without their `txt:` prefix).
    Bulk(Vec<u8>),
    /// `$-1`, `*-1`, `_`.
    Nil,
    /// `*…`, `~…` (set), `>…` (push), and RESP3 maps flattened (key, value, key, value…).
    Array(Vec<Value>),
    /// `#t` / `#f`, `,1.5` (double), `(123` (big number), as the text after the type byte.
    Text(String),
}

impl Value {
    /// The value as text (status, bulk, integer…).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Status(s) | Value::Text(s) => Some(s.clone()),
            Value::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// The error text, if the reply is an error.
    pub fn error(&self) -> Option<&str> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The reply as it came on the wire's first line: `+PONG`, `-NOAUTH …`, `:5`; other replies as
    /// [`Display`](fmt::Display) renders them.
    pub fn wire_text(&self) -> String {
        match self {
            Value::Status(s) => format!("+{s}"),
            Value::Error(e) => format!("-{e}"),
            Value::Int(n) => format!(":{n}"),
            other => other.to_string(),
        }
    }
}

/// As redis-cli shows a reply, without the type hints: `OK`, `ERR …`, `5`, `(nil)`,
/// `1) a\n2) 1`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Status(s) | Value::Error(s) | Value::Text(s) => f.write_str(s),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bulk(b) => f.write_str(&String::from_utf8_lossy(b)),
            Value::Nil => f.write_str("(nil)"),
            Value::Array(items) if items.is_empty() => f.write_str("(empty array)"),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{}) {item}", i + 1)?;
                }
                Ok(())
            }
        }
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode<S: AsRef<[u8]>>(args: &[S]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Why bytes are not a RESP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotResp(pub String);

impl fmt::Display for NotResp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotResp {}

fn not_resp(message: impl Into<String>) -> NotResp {
    NotResp(message.into())
}

/// The line at the start of `buf` (without CRLF) and the bytes it takes, `None` if incomplete.
fn line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, NotResp> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end > MAX_LINE => Err(not_resp("a line is too long")),
        Some(end) => Ok(Some((&buf[..end], end + 2))),
        None if buf.len() > MAX_LINE => Err(not_resp("a line is too long")),
        None => Ok(None),
    }
}

fn number(bytes: &[u8]) -> Result<i64, NotResp> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| not_resp(format!("bad number {:?}", String::from_utf8_lossy(bytes))))
}

/// Decodes one reply from the start of `buf`: `Ok(None)` when more bytes are needed, else the reply
/// and how many bytes it took.
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, NotResp> {
    decode_at(buf, 0)
}

fn decode_at(buf: &[u8], depth: usize) -> Result<Option<(Value, usize)>, NotResp> {
    if depth > MAX_DEPTH {
        return Err(not_resp("the reply is nested too deeply"));
    }
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    if !matches!(
        tag,
        b'+' | b'-'
            | b':'
            | b'_'
            | b'#'
            | b','
            | b'('
            | b'$'
            | b'='
            | b'!'
            | b'*'
            | b'~'
            | b'>'
            | b'%'
            | b'|'
    ) {
        return Err(not_resp(format!("unknown reply type {:?}", tag as char)));
    }
    let Some((head, used)) = line(&buf[1..])? else {
        return Ok(None);
    };
    let used = used + 1;
    let text = || String::from_utf8_lossy(head).into_owned();
    Ok(Some(match tag {
        b'+' => (Value::Status(text()), used),
        b'-' => (Value::Error(text()), used),
        b':' => (Value::Int(number(head)?), used),
        b'_' => (Value::Nil, used),
        b'#' | b',' | b'(' => (Value::Text(text()), used),
        b'$' | b'=' | b'!' => {
            let n = number(head)?;
            if n < 0 {
                return Ok(Some((Value::Nil, used)));
            }
            let n = usize::try_from(n).map_err(|_| not_resp("bad length"))?;
            if n > MAX_BULK {
                return Err(not_resp("bulk string too long"));
            }
            if buf.len() < used + n + 2 {
                return Ok(None);
            }
            if &buf[used + n..used + n + 2] != b"\r\n" {
                return Err(not_resp("a bulk string does not end with CRLF"));
            }
            let mut data = buf[used..used + n].to_vec();
            let value = match tag {
                b'!' => Value::Error(String::from_utf8_lossy(&data).into_owned()),
                b'=' => {
                    if data.len() >= 4 {
                        data.drain(..4);
                    }
                    Value::Bulk(data)
                }
                _ => Value::Bulk(data),
            };
            (value, used + n + 2)
        }
        _ => {
            let n = number(head)?;
            if n < 0 {
                return Ok(Some((Value::Nil, used)));
            }
            let n = usize::try_from(n).map_err(|_| not_resp("bad length"))?;
            let n = if matches!(tag, b'%' | b'|') {
                n.checked_mul(2).ok_or_else(|| not_resp("bad length"))?
            } else {
                n
            };
            let mut items = Vec::with_capacity(n.min(1024));
            let mut at = used;
            for _ in 0..n {
                match decode_at(&buf[at..], depth + 1)? {
                    Some((item, k)) => {
                        items.push(item);
                        at += k;
                    }
                    None => return Ok(None),
                }
            }
            if tag == b'|' {
                // An attribute precedes the real reply.
                return match decode_at(&buf[at..], depth)? {
                    Some((value, k)) => Ok(Some((value, at + k))),
                    None => Ok(None),
                };
            }
            (Value::Array(items), at)
        }
    }))
}

/// Bytes read so far, and the replies in them: feed what the socket gave, take replies out.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
}

impl ReplyReader {
    /// An empty reader.
    pub fn new() -> ReplyReader {
        ReplyReader::default()
    }

    /// Adds bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete reply, `Ok(None)` if more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Value>, NotResp> {
        match decode(&self.buf)? {
            Some((value, used)) => {
                self.buf.drain(..used);
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }

    /// The bytes not yet taken as replies.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<Value>, NotResp> {
        decode(bytes).map(|r| {
            r.map(|(v, used)| {
                assert_eq!(used, bytes.len(), "{bytes:?}");
                v
            })
        })
    }

    #[test]
    fn decodes_and_renders_resp2() {
        let cases: [(&[u8], &str); 8] = [
            (b"+PONG\r\n", "PONG"),
            (
                b"-ERR max number of clients reached\r\n",
                "ERR max number of clients reached",
            ),
            (b":5\r\n", "5"),
            (b"$2\r\nv1\r\n", "v1"),
            (b"$-1\r\n", "(nil)"),
            (b"*-1\r\n", "(nil)"),
            (b"*0\r\n", "(empty array)"),
            (b"*2\r\n$1\r\na\r\n:1\r\n", "1) a\n2) 1"),
        ];
        for (bytes, text) in cases {
            let reply = parse(bytes).expect("RESP").expect("complete");
            assert_eq!(reply.to_string(), text);
        }
        assert_eq!(decode(b"$5\r\nab"), Ok(None));
        assert_eq!(decode(b"*2\r\n:1\r\n"), Ok(None));
        assert_eq!(decode(b"+PON"), Ok(None));
        assert!(decode(b"\x15\x03\x03\x00\x02").is_err());
        assert!(decode(b"$2\r\nabcd").is_err());
        assert!(decode(b":x\r\n").is_err());
        assert_eq!(
            encode(&["GET", "k"]),
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()
        );
        assert_eq!(
            Value::Error("NOAUTH Authentication required.".into()).wire_text(),
            "-NOAUTH Authentication required."
        );
        assert_eq!(Value::Status("PONG".into()).wire_text(), "+PONG");
    }

    #[test]
    fn decodes_resp3() {
        assert_eq!(parse(b"_\r\n"), Ok(Some(Value::Nil)));
        assert_eq!(
            parse(b"*2\r\n$1\r\na\r\n>1\r\n:1\r\n"),
            Ok(Some(Value::Array(vec![
                Value::Bulk(b"a".to_vec()),
                Value::Array(vec![Value::Int(1)])
            ])))
        );
        assert_eq!(
            parse(b"%1\r\n$1\r\nk\r\n#t\r\n"),
            Ok(Some(Value::Array(vec![
                Value::Bulk(b"k".to_vec()),
                Value::Text("t".into())
            ])))
        );
        assert_eq!(
            parse(b"=7\r\ntxt:abc\r\n"),
            Ok(Some(Value::Bulk(b"abc".to_vec())))
        );
        assert_eq!(
            parse(b"!3\r\nERR\r\n"),
            Ok(Some(Value::Error("ERR".into())))
        );
        assert_eq!(parse(b"|1\r\n+a\r\n:1\r\n:7\r\n"), Ok(Some(Value::Int(7))));
        assert!(decode(b"?\r\n").is_err());
    }

    #[test]
    fn limits_reject_hostile_replies() {
        let deep = "*1\r\n".repeat(100);
        assert!(decode(deep.as_bytes()).is_err());
        let big = format!("${}\r\n", MAX_BULK + 1);
        assert!(decode(big.as_bytes()).is_err());
        let long = vec![b'+'; MAX_LINE + 10];
        assert!(decode(&long).is_err());
    }

    #[test]
    fn reader_takes_replies_one_by_one() {
        let mut r = ReplyReader::new();
        r.feed(b"+OK\r\n:1");
        assert_eq!(r.next_reply(), Ok(Some(Value::Status("OK".into()))));
        assert_eq!(r.next_reply(), Ok(None));
        r.feed(b"\r\n");
        assert_eq!(r.next_reply(), Ok(Some(Value::Int(1))));
        assert!(r.pending().is_empty());
    }
}
