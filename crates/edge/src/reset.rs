//! The reset primitive: set `SO_LINGER` to 0 and close, so the kernel sends an RST instead of a FIN
//! and the client sees ECONNRESET at its first read or write after a successful connect.

use std::os::fd::AsFd;
use std::time::Duration;

use socket2::SockRef;
use tokio::net::TcpStream;

/// Arms `socket` so that closing it (its last descriptor) sends an RST.
pub fn arm_reset(socket: &impl AsFd) {
    let _ = SockRef::from(socket).set_linger(Some(Duration::ZERO));
}

/// Resets an accepted connection.
pub fn reset(stream: TcpStream) {
    arm_reset(&stream);
    drop(stream);
}
