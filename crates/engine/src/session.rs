//! What every RESP server of the workspace shares with the engine's own connections, so that a
//! second server (a running world's control API) reads requests and guards itself exactly as the
//! engine and redis-server do instead of keeping a copy: [`Requests`] buffers one connection's
//! input and hands out complete requests through the engine's [`RequestParser`] (its limits, its
//! `Protocol error` texts, a query buffer bound), refusing cross-protocol requests (`POST`,
//! `Host:`, [`is_cross_protocol`]) by closing the connection without a reply; and the error texts
//! clients match on ([`NOAUTH`], [`WRONGPASS`], …).

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::protocol::{ArgVec, Frame, Limits, ProtocolError, RequestParser};

/// `-NOAUTH` before AUTH succeeded.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// A failed AUTH.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// AUTH on a server without a password.
pub const AUTH_WITHOUT_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
/// HELLO before authentication, without its AUTH option.
pub const NOAUTH_HELLO: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
/// A connection over the client limit (then closed).
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
/// What redis-server logs when it closes a connection that sent `POST` or `Host:`.
pub const CROSS_PROTOCOL_WARNING: &str = "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.";

/// Whether a command name is one of the HTTP request lines redis-server treats as an attack
/// (`securityWarningCommand`): a browser made to post to a loopback port sends `POST / HTTP/1.1`
/// and `Host: …` lines first, which the inline protocol would otherwise read as commands.
pub fn is_cross_protocol(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// The error text of a command in subscribed mode (RESP2) other than the allowed ones.
pub fn subscribed_mode_error(name: &str) -> String {
    format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        name.to_ascii_lowercase()
    )
}

/// The error text of a command called with the wrong number of arguments.
pub fn arity_error(name: &str) -> String {
    format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    )
}

/// Why [`Requests`] says the connection must close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// Malformed input: send `-ERR <text>`, then close.
    Protocol(ProtocolError),
    /// `POST` or `Host:`: close at once, dropping pending replies, answering nothing.
    CrossProtocol,
    /// More unparsed input than the query buffer limit: close.
    QueryBufferLimit,
}

/// How much a single read may take.
const READ_CHUNK: usize = 16 * 1024;

/// One connection's buffered input and request parser.
#[derive(Debug)]
pub struct Requests {
    parser: RequestParser,
    buf: BytesMut,
    /// Bytes of `buf` used by the request handed out last (dropped on the next call).
    consumed: usize,
    query_limit: usize,
}

impl Requests {
    /// A reader that closes the connection past `query_limit` unparsed bytes (Redis's
    /// `client-query-buffer-limit`).
    pub fn new(query_limit: usize) -> Requests {
        Requests {
            parser: RequestParser::default(),
            buf: BytesMut::with_capacity(READ_CHUNK),
            consumed: 0,
            query_limit,
        }
    }

    /// Reads what the stream has (at most a chunk); `Ok(0)` at the end of the stream.
    pub async fn read_from<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> std::io::Result<usize> {
        self.drop_consumed();
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        stream.read_buf(&mut self.buf).await
    }

    /// Whether input is buffered that no request has used yet.
    pub fn has_input(&self) -> bool {
        self.buf.len() > self.consumed
    }

    fn drop_consumed(&mut self) {
        self.buf.advance(self.consumed);
        self.consumed = 0;
    }

    /// The next complete request (its arguments, borrowed), `Ok(None)` when more input is needed,
    /// or why the connection must close.
    pub fn next(&mut self, limits: Limits) -> Result<Option<ArgVec<'_>>, Close> {
        self.drop_consumed();
        loop {
            match self.parser.parse(&self.buf[self.consumed..], limits) {
                Ok(Frame::Command { consumed }) => {
                    let start = self.consumed;
                    self.consumed += consumed;
                    let mut args = ArgVec::new();
                    self.parser
                        .args(&self.buf[start..start + consumed], &mut args);
                    if args.first().is_some_and(|name| is_cross_protocol(name)) {
                        return Err(Close::CrossProtocol);
                    }
                    return Ok(Some(args));
                }
                Ok(Frame::Skip { consumed }) => self.consumed += consumed,
                Ok(Frame::Incomplete { .. }) => {
                    if self.buf.len() - self.consumed > self.query_limit {
                        return Err(Close::QueryBufferLimit);
                    }
                    return Ok(None);
                }
                Err(e) => return Err(Close::Protocol(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        unauthenticated: false,
        max_bulk: 512 * 1024 * 1024,
    };

    fn feed(r: &mut Requests, bytes: &[u8]) {
        r.drop_consumed();
        r.buf.extend_from_slice(bytes);
    }

    fn all(r: &mut Requests) -> Result<Vec<Vec<String>>, Close> {
        let mut out = Vec::new();
        while let Some(args) = r.next(LIMITS)? {
            out.push(
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
            );
        }
        Ok(out)
    }

    #[test]
    fn pipelined_and_split_requests_come_out_whole() {
        let mut r = Requests::new(1 << 20);
        feed(&mut r, b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$4\r\nEC");
        assert_eq!(
            all(&mut r),
            Ok(vec![vec!["PING".into()], vec!["ECHO".into(), "hi".into()]])
        );
        feed(&mut r, b"HO\r\n$2\r\nyo\r\n");
        assert_eq!(all(&mut r), Ok(vec![vec!["ECHO".into(), "yo".into()]]));
        assert!(!r.has_input());
    }

    #[test]
    fn http_request_lines_close_the_connection() {
        for req in [
            &b"POST / HTTP/1.1\r\n"[..],
            b"Host: 127.0.0.1:6379\r\n",
            b"*2\r\n$4\r\npost\r\n$1\r\n/\r\n",
        ] {
            let mut r = Requests::new(1 << 20);
            feed(&mut r, req);
            assert_eq!(all(&mut r), Err(Close::CrossProtocol), "{req:?}");
        }
    }

    #[test]
    fn protocol_errors_and_the_query_limit_close() {
        let mut r = Requests::new(1 << 20);
        feed(&mut r, b"*1\r\n$x\r\n");
        assert!(matches!(all(&mut r), Err(Close::Protocol(_))));
        let mut r = Requests::new(16);
        feed(&mut r, b"*2\r\n$100\r\nabcdefghijklmnopqrstuvwxyz");
        assert_eq!(all(&mut r), Err(Close::QueryBufferLimit));
    }
}
