//! The little RESP2 the checker speaks: encoding a command, decoding one reply, and rendering a reply
//! as text to compare with an expectation (`OK`, `PONG`, `ERR max number of clients reached`, `5`,
//! `(nil)`).

use std::fmt;

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR …`, without the dash.
    Error(String),
    /// `:5`.
    Integer(i64),
    /// `$3\r\nabc` (None: `$-1`, nil).
    Bulk(Option<Vec<u8>>),
    /// `*2…` (None: `*-1`, nil).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The error text, if the reply is an error.
    pub fn error(&self) -> Option<&str> {
        match self {
            Reply::Error(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(s) | Reply::Error(s) => f.write_str(s),
            Reply::Integer(n) => write!(f, "{n}"),
            Reply::Bulk(Some(b)) => f.write_str(&String::from_utf8_lossy(b)),
            Reply::Bulk(None) | Reply::Array(None) => f.write_str("(nil)"),
            Reply::Array(Some(items)) if items.is_empty() => f.write_str("(empty array)"),
            Reply::Array(Some(items)) => {
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
pub fn encode(args: &[String]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Why bytes are not a RESP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotResp;

fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[..end], end + 2))
}

fn number(bytes: &[u8]) -> Result<i64, NotResp> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(NotResp)
}

/// Decodes one reply from the start of `buf`: `Ok(None)` when more bytes are needed.
pub fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>, NotResp> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    if !matches!(tag, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(NotResp);
    }
    let Some((head, used)) = line(&buf[1..]) else {
        return Ok(None);
    };
    let used = used + 1;
    let text = || String::from_utf8_lossy(head).into_owned();
    Ok(Some(match tag {
        b'+' => (Reply::Simple(text()), used),
        b'-' => (Reply::Error(text()), used),
        b':' => (Reply::Integer(number(head)?), used),
        b'$' => {
            let n = number(head)?;
            if n < 0 {
                return Ok(Some((Reply::Bulk(None), used)));
            }
            let n = usize::try_from(n).map_err(|_| NotResp)?;
            if buf.len() < used + n + 2 {
                return Ok(None);
            }
            (
                Reply::Bulk(Some(buf[used..used + n].to_vec())),
                used + n + 2,
            )
        }
        _ => {
            let n = number(head)?;
            if n < 0 {
                return Ok(Some((Reply::Array(None), used)));
            }
            let mut items = Vec::new();
            let mut at = used;
            for _ in 0..n {
                match decode(&buf[at..])? {
                    Some((item, k)) => {
                        items.push(item);
                        at += k;
                    }
                    None => return Ok(None),
                }
            }
            (Reply::Array(Some(items)), at)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_renders() {
        let cases: [(&[u8], &str); 6] = [
            (b"+PONG\r\n", "PONG"),
            (
                b"-ERR max number of clients reached\r\n",
                "ERR max number of clients reached",
            ),
            (b":5\r\n", "5"),
            (b"$2\r\nv1\r\n", "v1"),
            (b"$-1\r\n", "(nil)"),
            (b"*2\r\n$1\r\na\r\n:1\r\n", "1) a\n2) 1"),
        ];
        for (bytes, text) in cases {
            let (reply, used) = decode(bytes).expect("RESP").expect("complete");
            assert_eq!(used, bytes.len());
            assert_eq!(reply.to_string(), text);
        }
        assert_eq!(decode(b"$5\r\nab"), Ok(None));
        assert_eq!(decode(b"\x15\x03\x03\x00\x02"), Err(NotResp));
        assert_eq!(
            encode(&["GET".to_owned(), "k".to_owned()]),
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
    }
}
