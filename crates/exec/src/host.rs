//! Sockets of the host's network namespace for a process that has left it.
//!
//! A socket belongs to the network namespace it was created in, whatever namespace the process
//! that uses it is in later: `bind`, `connect` and `sendto` act there. An `exec` that joins a world
//! running on the host (`redlink up`) enters a network namespace of its own (so the command's
//! resolver can be on port 53 and nothing leaves), yet must reach the world's resolvers and
//! endpoints on the host's loopback. [`HostSockets::fork`] therefore forks, before
//! [`crate::enter_world_namespaces`], a tiny helper that stays in the host's namespaces and hands
//! out fresh, unconnected sockets over a Unix socket pair (`SCM_RIGHTS`), one per request; the
//! caller binds and connects them itself. The helper makes sockets and nothing else (no address
//! ever comes from the namespace), exits when the caller closes its end or dies
//! (`PR_SET_PDEATHSIG`), and keeps none of the caller's output open.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// What kind of socket to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostSocketKind {
    /// `AF_INET, SOCK_STREAM`.
    Tcp,
    /// `AF_INET, SOCK_DGRAM`.
    Udp,
}

impl HostSocketKind {
    fn byte(self) -> u8 {
        match self {
            HostSocketKind::Tcp => b't',
            HostSocketKind::Udp => b'u',
        }
    }
}

/// The caller's end of the helper (see the module doc).
#[derive(Debug)]
pub struct HostSockets {
    channel: Mutex<OwnedFd>,
    helper: libc::pid_t,
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

impl HostSockets {
    /// Forks the helper. Call it while the process is single-threaded and still in the host's
    /// namespaces (before [`crate::enter_world_namespaces`]).
    #[cfg(target_os = "linux")]
    pub fn fork() -> io::Result<HostSockets> {
        let mut pair = [0 as RawFd; 2];
        // SAFETY: `pair` has room for the two descriptors socketpair writes.
        check(unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                pair.as_mut_ptr(),
            )
        })?;
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (ours, theirs) =
            unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the caller is single-threaded (documented precondition); the child only calls
        // async-signal-safe functions and leaves with _exit.
        let pid = check(unsafe { libc::fork() })?;
        if pid == 0 {
            drop(ours);
            helper(theirs.as_raw_fd(), parent);
        }
        drop(theirs);
        Ok(HostSockets {
            channel: Mutex::new(ours),
            helper: pid,
        })
    }

    /// Not Linux.
    #[cfg(not(target_os = "linux"))]
    pub fn fork() -> io::Result<HostSockets> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "host sockets need Linux",
        ))
    }

    /// A fresh socket of the host's network namespace (close-on-exec, blocking).
    pub fn socket(&self, kind: HostSocketKind) -> io::Result<OwnedFd> {
        let channel = self
            .channel
            .lock()
            .map_err(|_| io::Error::other("host socket channel poisoned"))?;
        let fd = channel.as_raw_fd();
        let request = [kind.byte()];
        // SAFETY: sending one byte from a live buffer.
        check(
            unsafe { libc::send(fd, request.as_ptr().cast(), 1, libc::MSG_NOSIGNAL) }
                as libc::c_int,
        )?;
        receive_fd(fd)
    }

    /// The helper's pid.
    pub fn helper_pid(&self) -> u32 {
        self.helper.unsigned_abs()
    }
}

impl Drop for HostSockets {
    fn drop(&mut self) {
        // Closing our end makes the helper exit; reap it.
        if let Ok(channel) = self.channel.get_mut() {
            // SAFETY: shutting down a descriptor we own.
            unsafe { libc::shutdown(channel.as_raw_fd(), libc::SHUT_RDWR) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(self.helper, &mut status, 0) };
    }
}

/// Space for one descriptor in a control message.
#[repr(C)]
union ControlBuffer {
    buf: [u8; 64],
    _align: libc::cmsghdr,
}

fn receive_fd(channel: RawFd) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = ControlBuffer { buf: [0; 64] };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: taking the address of the union's buffer.
    msg.msg_control = unsafe { control.buf.as_mut_ptr() }.cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    // SAFETY: msg points at live buffers sized as declared.
    let n =
        check(unsafe { libc::recvmsg(channel, &mut msg, libc::MSG_CMSG_CLOEXEC) } as libc::c_int)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the host socket helper exited",
        ));
    }
    if byte[0] != 0 {
        // The helper's socket() failed: the byte is its errno.
        return Err(io::Error::from_raw_os_error(i32::from(byte[0])));
    }
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR/CMSG_DATA walk its control buffer.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::other(
                "the host socket helper sent no descriptor",
            ));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The helper's loop: one request byte in, one socket out (or its errno as the byte).
#[cfg(target_os = "linux")]
fn helper(channel: RawFd, parent: libc::pid_t) -> ! {
    // SAFETY: only async-signal-safe calls follow (prctl, open, dup2, socket, sendmsg, close,
    // _exit), on descriptors this process owns.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        // Keep none of the caller's stdin/stdout/stderr open (a reader waiting for EOF on
        // redlink's output must not wait for the helper).
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
        }
        loop {
            let mut request = [0u8; 1];
            let n = libc::recv(channel, request.as_mut_ptr().cast(), 1, 0);
            if n <= 0 {
                libc::_exit(0);
            }
            let kind = match request[0] {
                b't' => libc::SOCK_STREAM,
                _ => libc::SOCK_DGRAM,
            };
            let fd = libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0);
            // 0 with a descriptor, else socket()'s errno.
            let mut byte = [if fd < 0 {
                u8::try_from(*libc::__errno_location())
                    .unwrap_or(u8::MAX)
                    .max(1)
            } else {
                0
            }];
            let mut iov = libc::iovec {
                iov_base: byte.as_mut_ptr().cast(),
                iov_len: 1,
            };
            let mut control = ControlBuffer { buf: [0; 64] };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            if fd >= 0 {
                msg.msg_control = control.buf.as_mut_ptr().cast();
                let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
                msg.msg_controllen = space;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
            }
            let sent = libc::sendmsg(channel, &msg, libc::MSG_NOSIGNAL);
            if fd >= 0 {
                libc::close(fd);
            }
            if sent < 0 {
                libc::_exit(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_hands_out_sockets_of_its_namespace() {
        // Forking from a multi-threaded test binary is safe here: the child calls only
        // async-signal-safe functions.
        let Ok(host) = HostSockets::fork() else {
            return;
        };
        let tcp = host.socket(HostSocketKind::Tcp).expect("tcp socket");
        let udp = host.socket(HostSocketKind::Udp).expect("udp socket");
        assert_ne!(tcp.as_raw_fd(), udp.as_raw_fd());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let addr = listener.local_addr().expect("addr");
        let stream = std::net::TcpStream::from(tcp);
        drop(stream);
        let connected = socket_connect(host.socket(HostSocketKind::Tcp).expect("tcp"), addr);
        assert!(connected.is_ok(), "{connected:?}");
    }

    fn socket_connect(fd: OwnedFd, addr: std::net::SocketAddr) -> io::Result<()> {
        let std::net::SocketAddr::V4(v4) = addr else {
            return Err(io::Error::other("v4 only"));
        };
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: a valid sockaddr_in of the size given.
        check(unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&sin as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            )
        })
        .map(|_| ())
    }
}
