//! The listening sockets of the edge: a second `SO_REUSEPORT` socket on an address:port the
//! [`crate::Reservation`] holds, so opening and closing listeners never lets the address go.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// A non-blocking listening socket on `addr` (reserved by this process) with accept queue `backlog`.
pub fn listening_socket(addr: SocketAddr, backlog: i32) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_port(true)?;
    // Accepted connections inherit SO_REUSEADDR, and so do their TIME_WAIT entries after the server
    // closes first: the next world's probe (see `Reservation::claim`) can then bind over them.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(backlog)?;
    Ok(socket)
}
