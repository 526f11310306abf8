//! Per-source drop: a classic BPF socket filter (`SO_ATTACH_FILTER`) on a listening socket that
//! loads the IPv4 source address of each packet (`SKF_NET_OFF + 12`) and returns 0 (discard) for
//! denied sources, so the kernel never answers their SYNs while every other source connects.
//!
//! The kernel here refuses `SO_ATTACH_FILTER` to an ordinary uid outside a user namespace (EPERM);
//! root, and an ordinary uid inside the user namespace `redlink exec` creates, may attach it.
//! [`SourceFilter::attach`] returns the OS error, and the caller falls back to reset-after-accept.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

/// `SKF_NET_OFF`: negative offsets from here address the network header.
const SKF_NET_OFF: i32 = -0x10_0000;
/// Offset of the source address in the IPv4 header.
const IPV4_SOURCE: i32 = 12;
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
/// "Keep the whole packet".
const ACCEPT: u32 = u32::MAX;
const DISCARD: u32 = 0;

/// Which sources the filter discards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceFilter {
    /// Discard packets from these addresses; accept everyone else.
    Deny(Vec<Ipv4Addr>),
    /// Accept packets from these addresses only.
    AllowOnly(Vec<Ipv4Addr>),
}

impl SourceFilter {
    /// The classic BPF program.
    fn program(&self) -> io::Result<Vec<libc::sock_filter>> {
        let (listed, on_match, otherwise) = match self {
            SourceFilter::Deny(a) => (a, DISCARD, ACCEPT),
            SourceFilter::AllowOnly(a) => (a, ACCEPT, DISCARD),
        };
        let n = listed.len();
        if n > 250 {
            return Err(io::Error::other("too many sources for one socket filter"));
        }
        let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        let mut prog = Vec::with_capacity(n + 3);
        prog.push(ins(BPF_LD_W_ABS, 0, 0, (SKF_NET_OFF + IPV4_SOURCE) as u32));
        for (i, a) in listed.iter().enumerate() {
            // Jump to the final "on match" return: n - i instructions ahead.
            let jt = u8::try_from(n - i).map_err(io::Error::other)?;
            prog.push(ins(BPF_JMP_JEQ_K, jt, 0, u32::from(*a)));
        }
        prog.push(ins(BPF_RET_K, 0, 0, otherwise));
        prog.push(ins(BPF_RET_K, 0, 0, on_match));
        Ok(prog)
    }

    /// Attaches the filter to `socket` (replacing any earlier one).
    pub fn attach(&self, socket: &impl AsRawFd) -> io::Result<()> {
        let mut prog = self.program()?;
        let fprog = libc::sock_fprog {
            len: u16::try_from(prog.len()).map_err(io::Error::other)?,
            filter: prog.as_mut_ptr(),
        };
        // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies the program.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&raw const fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Removes any filter from `socket` (no filter attached is not an error).
    pub fn detach(socket: &impl AsRawFd) -> io::Result<()> {
        let zero: libc::c_int = 0;
        // SAFETY: a plain integer option value that outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_DETACH_FILTER,
                (&raw const zero).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let err = io::Error::last_os_error();
        if rc == 0 || err.raw_os_error() == Some(libc::ENOENT) {
            Ok(())
        } else {
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_jumps_to_the_match_return() {
        let f = SourceFilter::Deny(vec![
            Ipv4Addr::new(127, 11, 2, 1),
            Ipv4Addr::new(127, 11, 3, 1),
        ]);
        let p = f.program().expect("program");
        assert_eq!(p.len(), 5);
        assert_eq!(p[1].k, 0x7f0b_0201);
        assert_eq!(usize::from(p[1].jt) + 2, 4);
        assert_eq!(usize::from(p[2].jt) + 3, 4);
        assert_eq!(p[3].k, ACCEPT);
        assert_eq!(p[4].k, DISCARD);
    }
}
