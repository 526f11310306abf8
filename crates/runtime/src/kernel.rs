//! Evidence of the verdicts the kernel carries out. A refusal (no listener: the kernel answers the
//! SYN with an RST) and a drop (a full backlog-0 queue, or a BPF filter: the SYN is discarded)
//! never reach the edge, so without this module they appear in no event and no count — exactly the
//! failures a user investigates. Where the process may open a packet socket on the loopback
//! (`AF_PACKET`, which needs `CAP_NET_RAW` in the network namespace's user namespace: as root, or
//! inside `redlink exec`'s namespaces, where redlink is root of its own user namespace), every
//! incoming SYN (without ACK) to an endpoint address:port whose verdict for that source is refuse
//! or drop is published as a connection event (source, destination, verdict, reason) on the
//! edge's event channel, so `ctl events`, `up --events`, `SUBSCRIBE redlink:events` and the
//! counts see it. A SYN retransmitted for the same connection is reported once. Where the socket
//! cannot be opened, [`KernelEvidence::Unobservable`] says why (in the state file, `ctl status`
//! and once at the start of every event stream).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redlink_edge::{ConnectionEvent, ConnectionEvents};
use redlink_world::{Source, Verdict, World};
use tokio::sync::watch;

/// Whether refusals and drops are observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelEvidence {
    /// Observed with a packet socket on the loopback.
    Observed,
    /// Not observable, and why.
    Unobservable(String),
}

impl KernelEvidence {
    /// One sentence for users.
    pub fn describe(&self) -> String {
        match self {
            KernelEvidence::Observed => "refused and dropped connections are observed on the loopback (a packet socket) and published as connection events".to_owned(),
            KernelEvidence::Unobservable(why) => format!(
                "refused and dropped connections are carried out by the kernel and are not observed here ({why}): they appear in no event and no count; each port's verdict says who is refused or dropped, and why (run as root, or inside `redlink exec`, to observe them)"
            ),
        }
    }
}

/// How long a connection's SYN retransmissions are recognised (Linux retries for about 2 min).
const RETRIES_FOR: Duration = Duration::from_secs(130);

/// A running packet watcher; stops when dropped.
#[derive(Debug)]
pub struct KernelWatch {
    stop: Arc<AtomicBool>,
}

impl Drop for KernelWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Starts watching the loopback for SYNs the kernel refuses or drops for `world`, publishing them
/// on `events`; or says why it cannot.
pub fn watch(
    world: watch::Receiver<Arc<World>>,
    events: ConnectionEvents,
) -> (Option<KernelWatch>, KernelEvidence) {
    let socket = match capture::open() {
        Ok(s) => s,
        Err(e) => {
            return (
                None,
                KernelEvidence::Unobservable(format!("no packet socket on lo: {e}")),
            );
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("redlink-kernel-evidence".into())
        .spawn(move || {
            let mut seen: HashMap<(SocketAddrV4, SocketAddrV4), Instant> = HashMap::new();
            let mut buf = vec![0u8; 65536];
            while !stopped.load(Ordering::Acquire) {
                let Some((src, dst)) = capture::next_syn(&socket, &mut buf) else {
                    continue;
                };
                let now = Instant::now();
                if seen.len() > 4096 {
                    seen.retain(|_, t| now.duration_since(*t) < RETRIES_FOR);
                }
                if seen
                    .get(&(src, dst))
                    .is_some_and(|t| now.duration_since(*t) < RETRIES_FOR)
                {
                    continue;
                }
                let current = world.borrow().clone();
                if let Some(event) = judge(&current, src, dst) {
                    seen.insert((src, dst), now);
                    let _ = events.send(event);
                }
            }
        });
    match spawned {
        Ok(_) => (Some(KernelWatch { stop }), KernelEvidence::Observed),
        Err(e) => (
            None,
            KernelEvidence::Unobservable(format!("cannot start the watcher: {e}")),
        ),
    }
}

/// The event for a SYN from `src` to `dst`, when `dst` is an endpoint port whose verdict for that
/// source is carried out by the kernel (refuse or drop).
fn judge(world: &World, src: SocketAddrV4, dst: SocketAddrV4) -> Option<ConnectionEvent> {
    let endpoint = world
        .endpoints()
        .into_iter()
        .find(|e| e.address == *dst.ip() && e.ports.contains(&dst.port()))?;
    let source = Source::of_address(world, *src.ip());
    let (verdict, reason) = redlink_world::verdict(world, &endpoint.id, dst.port(), &source);
    matches!(verdict, Verdict::Refuse | Verdict::Drop).then(|| ConnectionEvent {
        endpoint: endpoint.id.name().to_owned(),
        address: SocketAddr::V4(dst),
        peer: SocketAddr::V4(src),
        source,
        verdict,
        reason,
    })
}

/// The packet socket (Linux).
mod capture {
    use super::*;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const ETH_P_IP: u16 = 0x0800;

    /// `AF_PACKET, SOCK_DGRAM` for IPv4 on `lo`, with a 200 ms receive timeout (so the watcher
    /// notices it should stop).
    pub fn open() -> io::Result<OwnedFd> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_IP.to_be()),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned by nobody else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a NUL-terminated interface name.
        let index = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: sockaddr_ll is plain data; zeroed is valid before the fields are set.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_IP.to_be();
        addr.sll_ifindex = i32::try_from(index).unwrap_or(0);
        // SAFETY: a valid sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        syn_filter(&socket)?;
        // Outgoing copies are never wanted (the incoming copy of each SYN is): ignoring them
        // spares the kernel cloning every packet sent on the loopback for this socket. Older
        // kernels (before 4.20) lack the option; the filter discards those copies there.
        let one: libc::c_int = 1;
        // SAFETY: a plain integer option value that outlives the call.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                (&raw const one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: a valid timeval of the size given.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        Ok(socket)
    }

    /// Attaches a classic BPF program that lets through incoming (`PACKET_HOST`) IPv4 TCP SYNs
    /// without ACK only, truncated to their headers. Without it every packet on the loopback —
    /// each request and reply of every client, proxy hop and backend — is cloned into this
    /// socket, and the watcher thread reads them all: about a fifth of the CPU a proxied request
    /// cost (BENCHMARKS.md, backend proxy). With it the kernel runs a dozen instructions per
    /// packet and queues nothing but SYNs. The program sees the IPv4 header at offset 0 (a
    /// `SOCK_DGRAM` packet socket).
    fn syn_filter(socket: &OwnedFd) -> io::Result<()> {
        const LD_W_ABS: u16 = 0x20;
        const LD_H_ABS: u16 = 0x28;
        const LD_B_ABS: u16 = 0x30;
        const LD_B_IND: u16 = 0x50;
        const LDX_B_MSH: u16 = 0xb1;
        const ALU_AND_K: u16 = 0x54;
        const JEQ_K: u16 = 0x15;
        const JSET_K: u16 = 0x45;
        const RET_K: u16 = 0x06;
        /// `SKF_AD_OFF + SKF_AD_PKTTYPE`: the packet's type (host, outgoing, …).
        const PKTTYPE: u32 = (-0x1000i32 + 4) as u32;
        /// Enough of a packet for the longest IPv4 header (60) and the TCP ports and flags.
        const HEADERS: u32 = 128;
        let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        // Jumps count instructions after the next one; every failed test jumps to the last
        // instruction (discard).
        let mut program = [
            ins(LD_W_ABS, 0, 0, PKTTYPE),
            ins(JEQ_K, 0, 9, u32::from(libc::PACKET_HOST)),
            ins(LD_B_ABS, 0, 0, 9), // protocol
            ins(JEQ_K, 0, 7, 6),    // TCP
            ins(LD_H_ABS, 0, 0, 6), // flags and fragment offset
            ins(JSET_K, 5, 0, 0x1fff),
            ins(LDX_B_MSH, 0, 0, 0),    // X = header length
            ins(LD_B_IND, 0, 0, 13),    // TCP flags
            ins(ALU_AND_K, 0, 0, 0x12), // SYN | ACK
            ins(JEQ_K, 0, 1, 0x02),     // SYN alone
            ins(RET_K, 0, 0, HEADERS),
            ins(RET_K, 0, 0, 0),
        ];
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies it.
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

    /// The next incoming SYN (no ACK) as (source, destination), or `None` (timeout, another
    /// packet).
    pub fn next_syn(socket: &OwnedFd, buf: &mut [u8]) -> Option<(SocketAddrV4, SocketAddrV4)> {
        // SAFETY: sockaddr_ll is plain data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: buf and from are live and sized as given.
        let n = unsafe {
            libc::recvfrom(
                socket.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut from).cast(),
                &mut len,
            )
        };
        // Loopback packets show twice (outgoing and incoming): take the incoming copy.
        if n <= 0 || from.sll_pkttype != libc::PACKET_HOST {
            return None;
        }
        parse_syn(buf.get(..usize::try_from(n).ok()?)?)
    }

    /// An IPv4 TCP segment with SYN and without ACK: (source, destination).
    pub fn parse_syn(ip: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4)> {
        let first = *ip.first()?;
        if first >> 4 != 4 || *ip.get(9)? != 6 {
            return None;
        }
        let header = usize::from(first & 0x0f) * 4;
        let tcp = ip.get(header..)?;
        let flags = *tcp.get(13)?;
        let (syn, ack) = (flags & 0x02 != 0, flags & 0x10 != 0);
        if !syn || ack {
            return None;
        }
        let addr = |at: usize| -> Option<Ipv4Addr> {
            let b = ip.get(at..at + 4)?;
            Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        let port = |at: usize| -> Option<u16> {
            let b = tcp.get(at..at + 2)?;
            Some(u16::from_be_bytes([b[0], b[1]]))
        };
        Some((
            SocketAddrV4::new(addr(12)?, port(0)?),
            SocketAddrV4::new(addr(16)?, port(2)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::capture::{open, parse_syn};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    /// The packet socket's filter: a connection's data and ACKs never reach it, its SYN does.
    #[test]
    fn only_syns_reach_the_packet_socket() {
        let socket = match open() {
            Ok(s) => s,
            // Without CAP_NET_RAW there is no packet socket to filter (the state file says so).
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return,
            Err(e) => panic!("packet socket: {e}"),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        for _ in 0..10 {
            client.write_all(&[b'x'; 1000]).expect("write");
            let mut got = [0u8; 1000];
            server.read_exact(&mut got).expect("read");
        }
        let mut buf = [0u8; 2048];
        let mut syns = 0;
        loop {
            // SAFETY: buf is live and sized as given.
            let n = unsafe {
                libc::recv(
                    socket.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            let Ok(n) = usize::try_from(n) else { break };
            // Truncated to the headers, and a SYN (other tests' connections may add theirs).
            assert!(n <= 128, "{n} bytes of a packet passed the filter");
            assert!(
                parse_syn(&buf[..n]).is_some(),
                "a packet that is no SYN passed"
            );
            syns += 1;
        }
        assert!(syns >= 1, "this test's SYN did not pass the filter");
    }

    #[test]
    fn syns_are_told_from_other_segments() {
        // IPv4 header (20 bytes) 127.11.2.1 → 127.10.1.4, TCP 40000 → 6379.
        let mut p = vec![
            0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 127, 11, 2, 1, 127, 10, 1, 4,
        ];
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&6379u16.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x02; // SYN
        p.extend_from_slice(&tcp);
        let (src, dst) = parse_syn(&p).expect("a SYN");
        assert_eq!(src.to_string(), "127.11.2.1:40000");
        assert_eq!(dst.to_string(), "127.10.1.4:6379");
        p[20 + 13] = 0x12; // SYN-ACK
        assert!(parse_syn(&p).is_none());
        assert!(parse_syn(&p[..30]).is_none());
    }
}
