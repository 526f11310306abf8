//! A small blocking RESP client for the control API (what `redlink ctl` speaks): sends commands as
//! multibulk requests and reads RESP2/RESP3 replies into [`Value`]s, with a depth limit and
//! timeouts, over a plain `std::net::TcpStream`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Replies nested deeper than this are rejected.
const MAX_DEPTH: usize = 16;
/// Bulk strings longer than this are rejected.
const MAX_BULK: usize = 256 << 20;

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlClientError {
    /// Connecting, reading or writing failed.
    #[error("control API at {addr}: {source}")]
    Io {
        /// The control address.
        addr: SocketAddr,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The server answered with an error.
    #[error("{0}")]
    Server(String),
    /// The reply is not valid RESP.
    #[error("control API at {addr}: bad reply: {message}")]
    Protocol {
        /// The control address.
        addr: SocketAddr,
        /// What is wrong.
        message: String,
    },
}

/// A decoded reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+…`.
    Status(String),
    /// `-…`.
    Error(String),
    /// `:…`.
    Int(i64),
    /// `$…` (and RESP3 verbatim strings).
    Bulk(Vec<u8>),
    /// `$-1`, `*-1`, `_`.
    Nil,
    /// `*…`, `~…`, `>…` (push), and RESP3 maps flattened.
    Array(Vec<Value>),
    /// `#t` / `#f`, `,…` and other scalars as text.
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
}

/// A connection to a control API.
pub struct ControlClient {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl ControlClient {
    /// Connects to `addr` with `timeout` for the connection and each reply.
    pub fn connect(
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<ControlClient, ControlClientError> {
        let io_err = |source| ControlClientError::Io { addr, source };
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(io_err)?;
        stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
        stream.set_write_timeout(Some(timeout)).map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        Ok(ControlClient {
            addr,
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sets the timeout for each reply (`None`: wait forever, for `events --follow`).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<(), ControlClientError> {
        self.writer
            .set_read_timeout(timeout)
            .map_err(|source| ControlClientError::Io {
                addr: self.addr,
                source,
            })
    }

    /// Sends one command.
    pub fn send(&mut self, args: &[&str]) -> Result<(), ControlClientError> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        self.writer
            .write_all(&req)
            .map_err(|source| ControlClientError::Io {
                addr: self.addr,
                source,
            })
    }

    /// Sends one command and reads its reply; an error reply is [`ControlClientError::Server`].
    pub fn call(&mut self, args: &[&str]) -> Result<Value, ControlClientError> {
        self.send(args)?;
        match self.read()? {
            Value::Error(e) => Err(ControlClientError::Server(e)),
            v => Ok(v),
        }
    }

    /// Sends one command and returns its reply as text.
    pub fn call_text(&mut self, args: &[&str]) -> Result<String, ControlClientError> {
        let v = self.call(args)?;
        v.as_text().ok_or_else(|| ControlClientError::Protocol {
            addr: self.addr,
            message: format!("expected a string, got {v:?}"),
        })
    }

    /// Reads one reply (or pushed message).
    pub fn read(&mut self) -> Result<Value, ControlClientError> {
        let addr = self.addr;
        read_value(&mut self.reader, 0).map_err(|source| {
            if source.kind() == io::ErrorKind::InvalidData {
                ControlClientError::Protocol {
                    addr,
                    message: source.to_string(),
                }
            } else {
                ControlClientError::Io { addr, source }
            }
        })
    }
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    r.take(64 * 1024).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the control API closed the connection",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad("a line does not end with CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| bad("a header is not UTF-8"))
}

fn read_value(r: &mut impl BufRead, depth: usize) -> io::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(bad("the reply is nested too deeply"));
    }
    let line = read_line(r)?;
    let Some(kind) = line.chars().next() else {
        return Err(bad("empty line"));
    };
    let rest = &line[kind.len_utf8()..];
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| bad(format!("bad length {rest:?}")))
    };
    Ok(match kind {
        '+' => Value::Status(rest.to_owned()),
        '-' => Value::Error(rest.to_owned()),
        ':' => Value::Int(number()?),
        '_' => Value::Nil,
        '#' | ',' | '(' => Value::Text(rest.to_owned()),
        '$' | '=' | '!' => {
            let n = number()?;
            if n < 0 {
                return Ok(Value::Nil);
            }
            let n = usize::try_from(n).map_err(|_| bad("bad length"))?;
            if n > MAX_BULK {
                return Err(bad("bulk string too long"));
            }
            let mut data = vec![0; n + 2];
            r.read_exact(&mut data)?;
            data.truncate(n);
            if kind == '!' {
                return Ok(Value::Error(String::from_utf8_lossy(&data).into_owned()));
            }
            if kind == '=' && data.len() >= 4 {
                data.drain(..4);
            }
            Value::Bulk(data)
        }
        '*' | '~' | '>' | '%' | '|' => {
            let n = number()?;
            if n < 0 {
                return Ok(Value::Nil);
            }
            let n = usize::try_from(n).map_err(|_| bad("bad length"))?;
            let n = if matches!(kind, '%' | '|') { n * 2 } else { n };
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                items.push(read_value(r, depth + 1)?);
            }
            if kind == '|' {
                // An attribute precedes the real reply.
                return read_value(r, depth);
            }
            Value::Array(items)
        }
        other => return Err(bad(format!("unknown reply type {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> io::Result<Value> {
        read_value(&mut BufReader::new(bytes), 0)
    }

    #[test]
    fn replies() {
        assert_eq!(parse(b"+OK\r\n").ok(), Some(Value::Status("OK".into())));
        assert_eq!(
            parse(b"-ERR no\r\n").ok(),
            Some(Value::Error("ERR no".into()))
        );
        assert_eq!(parse(b":-3\r\n").ok(), Some(Value::Int(-3)));
        assert_eq!(parse(b"$-1\r\n").ok(), Some(Value::Nil));
        assert_eq!(
            parse(b"*2\r\n$1\r\na\r\n>1\r\n:1\r\n").ok(),
            Some(Value::Array(vec![
                Value::Bulk(b"a".to_vec()),
                Value::Array(vec![Value::Int(1)])
            ]))
        );
        assert_eq!(
            parse(b"%1\r\n$1\r\nk\r\n#t\r\n").ok(),
            Some(Value::Array(vec![
                Value::Bulk(b"k".to_vec()),
                Value::Text("t".into())
            ]))
        );
        assert!(parse(b"$5\r\nab").is_err());
        assert!(parse(b"?\r\n").is_err());
        let deep = "*1\r\n".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
