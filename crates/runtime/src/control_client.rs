//! A small blocking RESP client for the control API (what `redlink ctl` speaks): sends commands as
//! multibulk requests and reads RESP2/RESP3 replies into [`Value`]s with timeouts, over a plain
//! `std::net::TcpStream`. Encoding and decoding (with its depth and size limits) are
//! `redlink_client::resp`'s, the same reader the probe and the checker use; only the blocking
//! socket loop is here.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use redlink_client::resp::{self, ReplyReader};

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

/// A decoded reply: the one RESP reader of redlink's clients (`redlink_client::resp`).
pub use redlink_client::resp::Value;

/// A connection to a control API.
pub struct ControlClient {
    addr: SocketAddr,
    stream: TcpStream,
    replies: ReplyReader,
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
        Ok(ControlClient {
            addr,
            stream,
            replies: ReplyReader::new(),
        })
    }

    /// Sets the timeout for each reply (`None`: wait forever, for `events --follow`).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<(), ControlClientError> {
        self.stream
            .set_read_timeout(timeout)
            .map_err(|source| ControlClientError::Io {
                addr: self.addr,
                source,
            })
    }

    /// Sends one command.
    pub fn send(&mut self, args: &[&str]) -> Result<(), ControlClientError> {
        self.stream
            .write_all(&resp::encode(args))
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
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.replies.next_reply() {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => {
                    return Err(ControlClientError::Protocol {
                        addr,
                        message: e.to_string(),
                    });
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ControlClientError::Io {
                        addr,
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the control API closed the connection",
                        ),
                    });
                }
                Ok(n) => self.replies.feed(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(ControlClientError::Io { addr, source }),
            }
        }
    }
}
