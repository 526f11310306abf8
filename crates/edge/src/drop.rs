//! The drop primitive: a listener with an accept queue of length 0 whose one slot is taken by a
//! connection from the listener's own address that is never accepted. Every further SYN finds the
//! queue full and is discarded by the kernel, unanswered: the client's connect times out (a real SYN
//! timeout, retried by the client's kernel). Closing it brings the address back to refusing (the
//! reservation stays). Verified on this kernel as root and as an ordinary uid.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::socket::listening_socket;

/// How long the filler connection may take (it is local: immediate in practice).
const FILLER_TIMEOUT: Duration = Duration::from_secs(1);

/// An address:port whose SYNs go unanswered.
#[derive(Debug)]
pub struct DropListener {
    addr: SocketAddr,
    _listener: Socket,
    _filler: TcpStream,
}

impl DropListener {
    /// Starts dropping connections to `addr` (already reserved by this process).
    pub fn open(addr: SocketAddr) -> io::Result<DropListener> {
        let listener = listening_socket(addr, 0)?;
        let filler = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // From the endpoint's own address, so no other address's ports are used.
        filler.bind(&SockAddr::from(SocketAddr::new(addr.ip(), 0)))?;
        filler.connect_timeout(&SockAddr::from(addr), FILLER_TIMEOUT)?;
        Ok(DropListener {
            addr,
            _listener: listener,
            _filler: filler.into(),
        })
    }

    /// The address it drops.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
