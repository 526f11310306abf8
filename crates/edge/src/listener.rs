//! The route primitive: a listening `SO_REUSEPORT` socket on a reserved address:port whose accepted
//! streams are handed in-process to a cache's engine ([`Engine::accept_stream`]), with a
//! [`ConnContext`] saying which endpoint they came through and whether the port speaks TLS (the
//! engine terminates TLS with the cache's certificate). Closing it brings the address back to
//! refusing, since the reservation stays.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use redlink_engine::{ConnContext, Engine};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// The accept queue length of a routing listener.
pub const LISTEN_BACKLOG: i32 = 1024;

/// Pause after an accept error (e.g. out of file descriptors) before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// An open routing listener and its accept loop.
#[derive(Debug)]
pub struct RouteListener {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

fn listening_socket(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_port(true)?;
    // Accepted connections inherit SO_REUSEADDR, and so do their TIME_WAIT entries after the server
    // closes first: the next world's probe (see `Reservation::claim`) can then bind over them.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

impl RouteListener {
    /// Listens on `addr` (already reserved by this process) and hands each accepted stream to
    /// `engine`, as coming through endpoint `endpoint` on a TLS port when `tls`. Must be called
    /// inside a tokio runtime.
    pub fn open(
        addr: SocketAddr,
        engine: Engine,
        endpoint: String,
        tls: bool,
    ) -> io::Result<RouteListener> {
        let listener = listening_socket(addr)?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, stopped, engine, endpoint, tls));
        Ok(RouteListener { addr, stop, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes the listening socket; returns once it is closed, so a connection
    /// attempted afterwards is refused. Connections already handed over keep running.
    pub async fn close(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await
            && e.is_panic()
        {
            warn!(addr = %self.addr, "the accept loop panicked: {e}");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    mut stopped: oneshot::Receiver<()>,
    engine: Engine,
    endpoint: String,
    tls: bool,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let local = match stream.local_addr() {
                    Ok(a) => a,
                    Err(e) => {
                        debug!(%peer, "accepted connection vanished: {e}");
                        continue;
                    }
                };
                let ctx = ConnContext {
                    peer,
                    local,
                    tls,
                    endpoint: Some(endpoint.clone()),
                };
                let engine = engine.clone();
                tokio::spawn(async move { engine.accept_stream(stream, ctx).await });
            }
            Err(e) => {
                warn!(endpoint = %endpoint, "accept failed: {e}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    // Dropping the listener here closes the socket; the reservation keeps the address.
}
