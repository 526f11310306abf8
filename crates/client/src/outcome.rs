//! One name for each way a client's connection can end badly, so `redlink probe` and the scenario
//! checker call the same event the same thing. The names are the scenario files' `connect = "…"`
//! words (`redlink_world::ConnectResult`; the scenario crate's tests hold the two together) plus
//! `unreachable` and `error`, which no expectation asks for.
//!
//! How an OS error (Linux errno, through [`std::io::ErrorKind`]) is named, and why:
//!
//! | errno / kind | name | why |
//! | --- | --- | --- |
//! | `ECONNREFUSED` (`ConnectionRefused`) | `refused` | an RST answered the SYN: nothing listens (the edge's reservation) |
//! | `ECONNRESET` (`ConnectionReset`) | `reset` | an RST ended an established connection (SO_LINGER 0, a reset toxic) |
//! | `EPIPE` (`BrokenPipe`) | `reset` | Linux reports an RST that arrives after the peer's FIN (CLOSE_WAIT) as EPIPE, and a write on a connection an RST already ended fails with it: either way an RST ended it, not an orderly close |
//! | `ECONNABORTED` (`ConnectionAborted`) | `reset` | the local stack aborted the connection (Linux's `tcp_abort` sends an RST and reports ECONNABORTED): torn down, not closed |
//! | end of stream (`UnexpectedEof`, a read of 0 bytes) | `closed` | the peer's FIN: an orderly close, no error |
//! | `ETIMEDOUT` (`TimedOut`), or the connect timer | `timeout` | the SYN (or retransmissions) went unanswered |
//! | `EHOSTUNREACH`, `ENETUNREACH`, `ENETDOWN` | `unreachable` | no route to the address |
//! | anything else (`EADDRNOTAVAIL` binding the source…) | `error` | not a connection outcome: a setup problem |
//!
//! The client's own timers and the layers above the socket add: `no-reply` (connected, but no TLS
//! handshake answer or no reply in time: a blackhole), `tls-error` (the handshake failed, or a TLS
//! record answered a plain-text request).

use std::fmt;
use std::io;

/// How a connection attempt or an exchange ended badly: the one vocabulary of probe and checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// ECONNREFUSED: nothing listens.
    Refused,
    /// The connect did not complete in time, or ETIMEDOUT.
    Timeout,
    /// An RST ended the connection (ECONNRESET, EPIPE, ECONNABORTED).
    Reset,
    /// The other side closed the connection (orderly) without answering.
    Closed,
    /// EHOSTUNREACH / ENETUNREACH / ENETDOWN.
    Unreachable,
    /// Connected, but no TLS handshake answer or no reply in time.
    NoReply,
    /// The TLS handshake failed, or the other side speaks TLS to a plain-text client.
    Tls,
    /// Anything else (a source address that cannot be bound, bytes that are not RESP…).
    Error,
}

impl Failure {
    /// The one classification of an OS error (see the module documentation for why each).
    pub fn of_io(e: &io::Error) -> Failure {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Failure::Refused,
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => Failure::Reset,
            K::UnexpectedEof => Failure::Closed,
            K::TimedOut => Failure::Timeout,
            K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown => Failure::Unreachable,
            _ => Failure::Error,
        }
    }

    /// The name (`refused`, `reset`…): the expectation vocabulary's word where it has one.
    pub const fn as_str(self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::Timeout => "timeout",
            Failure::Reset => "reset",
            Failure::Closed => "closed",
            Failure::Unreachable => "unreachable",
            Failure::NoReply => "no-reply",
            Failure::Tls => "tls-error",
            Failure::Error => "error",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed client step: its name, what happened in words, and the OS error number if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    /// The classification.
    pub failure: Failure,
    /// What happened (the OS error's text, or the client's own words).
    pub message: String,
    /// The OS error number, when an OS error ended the step.
    pub errno: Option<i32>,
}

impl ClientError {
    /// An OS error, classified.
    pub fn io(e: &io::Error) -> ClientError {
        ClientError {
            failure: Failure::of_io(e),
            message: e.to_string(),
            errno: e.raw_os_error(),
        }
    }

    /// A failure the client names itself (a timer, a protocol problem).
    pub fn new(failure: Failure, message: impl Into<String>) -> ClientError {
        ClientError {
            failure,
            message: message.into(),
            errno: None,
        }
    }

    /// The symbolic name of the OS error (`ECONNREFUSED`…), if any.
    pub fn errno_name(&self) -> Option<&'static str> {
        self.errno.and_then(errno_name)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.failure)
    }
}

impl std::error::Error for ClientError {}

/// The symbolic name of the errno values a client meets.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EPIPE => "EPIPE",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETDOWN => "ENETDOWN",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ENOTCONN => "ENOTCONN",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every errno a TCP client meets has exactly one name, the one the module documents.
    #[test]
    fn every_errno_has_one_name() {
        let table = [
            (libc::ECONNREFUSED, "refused"),
            (libc::ECONNRESET, "reset"),
            (libc::EPIPE, "reset"),
            (libc::ECONNABORTED, "reset"),
            (libc::ETIMEDOUT, "timeout"),
            (libc::EHOSTUNREACH, "unreachable"),
            (libc::ENETUNREACH, "unreachable"),
            (libc::ENETDOWN, "unreachable"),
            (libc::EADDRNOTAVAIL, "error"),
            (libc::EADDRINUSE, "error"),
            (libc::ENOTCONN, "error"),
            (libc::EACCES, "error"),
        ];
        for (errno, name) in table {
            let e = ClientError::io(&io::Error::from_raw_os_error(errno));
            assert_eq!(e.failure.as_str(), name, "errno {errno}");
            assert_eq!(e.errno, Some(errno));
            if errno != libc::EACCES {
                assert!(
                    e.errno_name().is_some(),
                    "errno {errno} has a symbolic name"
                );
            }
        }
        assert_eq!(errno_name(libc::EPIPE), Some("EPIPE"));
        assert_eq!(errno_name(0), None);
    }

    /// Errors without an errno (tokio's, rustls's, the client's own) are named by their kind.
    #[test]
    fn every_kind_has_one_name() {
        use io::ErrorKind as K;
        let table = [
            (K::ConnectionRefused, Failure::Refused),
            (K::ConnectionReset, Failure::Reset),
            (K::BrokenPipe, Failure::Reset),
            (K::ConnectionAborted, Failure::Reset),
            (K::UnexpectedEof, Failure::Closed),
            (K::TimedOut, Failure::Timeout),
            (K::HostUnreachable, Failure::Unreachable),
            (K::NetworkUnreachable, Failure::Unreachable),
            (K::NetworkDown, Failure::Unreachable),
            (K::InvalidData, Failure::Error),
            (K::AddrNotAvailable, Failure::Error),
            (K::WouldBlock, Failure::Error),
            (K::Other, Failure::Error),
        ];
        for (kind, failure) in table {
            assert_eq!(Failure::of_io(&io::Error::from(kind)), failure, "{kind:?}");
            assert_eq!(
                Failure::of_io(&io::Error::new(kind, "with a message")),
                failure,
                "{kind:?} with a message"
            );
        }
    }

    #[test]
    fn names_are_the_expectation_words() {
        let all = [
            Failure::Refused,
            Failure::Timeout,
            Failure::Reset,
            Failure::Closed,
            Failure::Unreachable,
            Failure::NoReply,
            Failure::Tls,
            Failure::Error,
        ];
        let names: Vec<&str> = all.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "refused",
                "timeout",
                "reset",
                "closed",
                "unreachable",
                "no-reply",
                "tls-error",
                "error"
            ]
        );
    }
}
