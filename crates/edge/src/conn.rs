//! Open connections of an endpoint port, so that a change of the world can reset the ones whose
//! path became denied.
//!
//! Each accepted connection that stays open (routed or blackholed) gets a [`Cut`]. Cutting it:
//! - a routed stream is wrapped in a [`CutStream`]: its next read or write fails with
//!   `ConnectionReset` (a pending one is woken), the engine ends the connection and drops the
//!   stream, and the `CutStream` arms `SO_LINGER 0` first, so the client gets a real RST (not a
//!   FIN); the engine's client is also killed through its `ClientHandle` (found by peer address and
//!   endpoint) in case it is blocked in a command that does not read (BLPOP…);
//! - a toxic pump or a blackhole watches [`Cut::cut_off`], arms `SO_LINGER 0` and closes.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use redlink_engine::Engine;
use redlink_world::{Source, Verdict};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::reset::arm_reset;

/// A one-way signal: "reset this connection".
#[derive(Debug, Default)]
pub struct Cut {
    flag: AtomicBool,
    read: AtomicWaker,
    write: AtomicWaker,
    notify: Notify,
}

impl Cut {
    /// Fires the signal (idempotent).
    pub fn cut(&self) {
        self.flag.store(true, Ordering::Release);
        self.read.wake();
        self.write.wake();
        self.notify.notify_waiters();
    }

    /// Whether it fired.
    pub fn is_cut(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Resolves once the signal fires.
    pub async fn cut_off(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cut() {
                return;
            }
            notified.await;
        }
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "the path to the endpoint became denied",
    )
}

/// A routed TCP stream that fails (and resets the client) once its [`Cut`] fires.
#[derive(Debug)]
pub struct CutStream {
    inner: TcpStream,
    cut: Arc<Cut>,
}

impl CutStream {
    /// Wraps `inner`.
    pub fn new(inner: TcpStream, cut: Arc<Cut>) -> CutStream {
        CutStream { inner, cut }
    }
}

impl Drop for CutStream {
    fn drop(&mut self) {
        if self.cut.is_cut() {
            arm_reset(&self.inner);
        }
    }
}

impl AsyncRead for CutStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => {
                this.cut.read.register(cx.waker());
                if this.cut.is_cut() {
                    return Poll::Ready(Err(cut_error()));
                }
                Poll::Pending
            }
            ready => ready,
        }
    }
}

impl AsyncWrite for CutStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Pending => {
                this.cut.write.register(cx.waker());
                if this.cut.is_cut() {
                    return Poll::Ready(Err(cut_error()));
                }
                Poll::Pending
            }
            ready => ready,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// One open connection.
struct OpenConn {
    source: Source,
    action: Verdict,
    toxics: usize,
    peer: SocketAddr,
    engine: Option<Engine>,
    cut: Arc<Cut>,
}

/// The open connections of one endpoint port.
#[derive(Default)]
pub struct OpenConns {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, OpenConn>>,
}

impl std::fmt::Debug for OpenConns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenConns({})", self.len())
    }
}

/// Removes its connection from the registry when dropped (the connection ended).
#[derive(Debug)]
pub struct Registered {
    conns: Arc<OpenConns>,
    id: u64,
    /// The connection's cut signal.
    pub cut: Arc<Cut>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut m) = self.conns.conns.lock() {
            m.remove(&self.id);
        }
    }
}

impl OpenConns {
    /// Registers a connection from `peer` (source `source`) that got `action`; `toxics` counts the
    /// toxics it passes through; `engine` is its cache's engine when routed.
    pub fn register(
        self: &Arc<Self>,
        source: Source,
        action: Verdict,
        toxics: usize,
        peer: SocketAddr,
        engine: Option<Engine>,
    ) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Cut::default());
        if let Ok(mut m) = self.conns.lock() {
            m.insert(
                id,
                OpenConn {
                    source,
                    action,
                    toxics,
                    peer,
                    engine,
                    cut: cut.clone(),
                },
            );
        }
        Registered {
            conns: self.clone(),
            id,
            cut,
        }
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.conns.lock().map_or(0, |m| m.len())
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resets every connection for which `keep(source, action)` is false; `endpoint` names the
    /// endpoint in the engine's connection contexts. Returns how many were reset.
    pub fn reset_where(&self, endpoint: &str, keep: impl Fn(&Source, Verdict) -> bool) -> usize {
        let Ok(m) = self.conns.lock() else {
            return 0;
        };
        let mut n = 0;
        for c in m.values().filter(|c| !keep(&c.source, c.action)) {
            c.cut.cut();
            if let Some(engine) = &c.engine {
                engine
                    .clients
                    .all()
                    .iter()
                    .filter(|h| h.ctx.peer == c.peer && h.ctx.endpoint.as_deref() == Some(endpoint))
                    .for_each(|h| h.kill());
            }
            n += 1;
        }
        n
    }

    /// Resets every connection whose peer `keep` does not accept (a failover closes a cache's
    /// connections: all of them, or all but those handed off by a maintenance notification).
    pub fn reset_peers(&self, endpoint: &str, keep: impl Fn(SocketAddr) -> bool) -> usize {
        let Ok(m) = self.conns.lock() else {
            return 0;
        };
        let mut n = 0;
        for c in m.values().filter(|c| !keep(c.peer)) {
            c.cut.cut();
            if let Some(engine) = &c.engine {
                engine
                    .clients
                    .all()
                    .iter()
                    .filter(|h| h.ctx.peer == c.peer && h.ctx.endpoint.as_deref() == Some(endpoint))
                    .for_each(|h| h.kill());
            }
            n += 1;
        }
        n
    }

    /// How many toxics the connection from `peer` passes through, if it is open (for tests).
    pub fn toxics_of(&self, peer: SocketAddr) -> Option<usize> {
        self.conns
            .lock()
            .ok()?
            .values()
            .find(|c| c.peer == peer)
            .map(|c| c.toxics)
    }
}
