//! The refuse primitive: an address:port held by a TCP socket bound with `SO_REUSEPORT` that never
//! listens. A SYN to it meets no listener, so the client gets a real RST (ECONNREFUSED at once); the
//! bound socket keeps every other process from taking the address meanwhile; and a second
//! `SO_REUSEPORT` socket of ours can still bind the same address and listen when the verdict is
//! route ([`crate::PolicyListener`]).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// A reserved, non-listening address:port. Dropping it releases the address.
#[derive(Debug)]
pub struct Reservation {
    socket: Socket,
    addr: SocketAddr,
}

impl Reservation {
    /// Reserves `addr` (port 0 picks a free port).
    ///
    /// First checks that nobody holds the address: a probe socket without `SO_REUSEPORT` (but with
    /// `SO_REUSEADDR`, so connections of an earlier run lingering in TIME_WAIT do not count) must be
    /// able to bind it. Without that check, another world of the same user could share the address
    /// through `SO_REUSEPORT`. Then binds the reservation itself with `SO_REUSEPORT` only.
    pub fn claim(addr: SocketAddr) -> io::Result<Reservation> {
        if addr.port() != 0 {
            let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            probe.set_reuse_address(true)?;
            probe.bind(&SockAddr::from(addr))?;
            drop(probe);
        }
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_port(true)?;
        socket.bind(&SockAddr::from(addr))?;
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("reserved socket has no IP address"))?;
        Ok(Reservation { socket, addr })
    }

    /// The reserved address (with the port chosen, if 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the reservation socket is still bound where it was (a sanity check for tests).
    pub fn is_bound(&self) -> bool {
        self.socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .is_some_and(|a| a == self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpStream};

    #[test]
    fn a_reservation_refuses_and_excludes_others() {
        let r = Reservation::claim(SocketAddr::from((Ipv4Addr::new(127, 231, 0, 1), 0)))
            .expect("reserve");
        assert!(r.is_bound());
        let err = TcpStream::connect(r.addr()).expect_err("nothing listens");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        // Another world (a second claim) cannot take it, even with SO_REUSEPORT.
        let err = Reservation::claim(r.addr()).expect_err("already reserved");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // Neither can a plain listener.
        assert!(std::net::TcpListener::bind(r.addr()).is_err());
    }
}
