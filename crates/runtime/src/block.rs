//! Claiming an address block ([`redlink_world::AddressPlan::block`]) so two worlds on one machine
//! never collide: a world holds an abstract Unix socket named `redlink/block/B` for as long as it
//! runs (the kernel releases it when the process ends, even on a crash). Abstract sockets belong to
//! the network namespace, so a world inside `exec`'s private namespace has all blocks to itself.
//! Addresses that are taken by something else are found when the world binds them; the caller then
//! moves on to the next block.

use std::io;

/// A claimed address block; dropping it releases the claim.
#[derive(Debug)]
pub struct BlockLock {
    block: u8,
    #[cfg(target_os = "linux")]
    _socket: std::os::unix::net::UnixListener,
}

impl BlockLock {
    /// Claims block `block`; `Ok(None)` when another world holds it.
    pub fn try_claim(block: u8) -> io::Result<Option<BlockLock>> {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            use std::os::unix::net::{SocketAddr, UnixListener};
            let addr = SocketAddr::from_abstract_name(format!("redlink/block/{block}"))?;
            match UnixListener::bind_addr(&addr) {
                Ok(socket) => Ok(Some(BlockLock {
                    block,
                    _socket: socket,
                })),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(None),
                Err(e) => Err(e),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(Some(BlockLock { block }))
        }
    }

    /// The block claimed.
    pub fn block(&self) -> u8 {
        self.block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_claimed_once() {
        // A block far from the ones other tests use first.
        let b = 117;
        let first = BlockLock::try_claim(b).expect("claim").expect("free");
        assert_eq!(first.block(), b);
        assert!(BlockLock::try_claim(b).expect("claim").is_none());
        drop(first);
        assert!(BlockLock::try_claim(b).expect("claim").is_some());
    }
}
