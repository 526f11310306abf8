//! The control API's listener and accept loop. Connections are counted: past
//! [`ControlLimits::max_connections`] the new connection is told `-ERR max number of clients
//! reached` and closed at once, as redis-server does past `maxclients`, so idle or hostile control
//! clients hold a bounded number of file descriptors and the world's engines, edge and DNS keep
//! theirs. An accept that fails (out of file descriptors) is retried after a pause rather than in a
//! busy loop.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use redlink_engine::session::MAX_CLIENTS;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tracing::debug;

use super::session;
use super::{ControlLimits, ControlOptions};
use crate::error::RuntimeError;
use crate::running::RunningWorld;

/// A running control API.
#[derive(Debug)]
pub struct ControlServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The control API's listening socket, bound before the world starts so that the first state file
/// already names it ([`crate::UpOptions::control`]).
#[derive(Debug)]
pub struct ControlListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl ControlListener {
    /// Binds `addr` (loopback only; `None` = `127.0.0.1` on an ephemeral port).
    pub async fn bind(addr: Option<SocketAddr>) -> Result<ControlListener, RuntimeError> {
        let wanted = addr.unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        if !wanted.ip().is_loopback() {
            return Err(RuntimeError::ControlAddress(wanted));
        }
        let bind_error = |source| RuntimeError::Control {
            address: wanted,
            source,
        };
        let listener = TcpListener::bind(wanted).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(ControlListener { listener, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `world` (with AUTH when `password` is given) within `limits`. The caller records
    /// the address (and password) in the state file ([`crate::UpOptions::control`] or
    /// [`RunningWorld::set_control`]).
    pub fn serve(
        self,
        world: Arc<RunningWorld>,
        password: Option<String>,
        limits: ControlLimits,
    ) -> ControlServer {
        let (stop, stopped) = oneshot::channel();
        let password: Option<Arc<str>> = password.map(Arc::from);
        let task = tokio::spawn(accept_loop(self.listener, world, password, limits, stopped));
        ControlServer {
            addr: self.addr,
            stop,
            task,
        }
    }
}

impl ControlServer {
    /// Listens on `options.addr` (loopback only), serves `world`, and records the address and
    /// password in the world's state file.
    pub async fn start(
        world: Arc<RunningWorld>,
        options: ControlOptions,
    ) -> Result<ControlServer, RuntimeError> {
        let listener = ControlListener::bind(options.addr).await?;
        world
            .set_control(Some(listener.addr()), options.password.clone())
            .await?;
        Ok(listener.serve(world, options.password, options.limits))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and ends every control connection (their references to the world are
    /// dropped when this returns).
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Tells a connection over the limit why it is closed (without waiting on a client that does not
/// read: the reply fits a fresh socket's buffer), then closes it.
fn refuse(stream: TcpStream, peer: SocketAddr) {
    let reply = format!("-{MAX_CLIENTS}\r\n");
    if let Err(e) = stream.try_write(reply.as_bytes()) {
        debug!(%peer, "control connection over the limit: {e}");
    }
    drop(stream);
}

async fn accept_loop(
    listener: TcpListener,
    world: Arc<RunningWorld>,
    password: Option<Arc<str>>,
    limits: ControlLimits,
    mut stopped: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        debug!(%peer, max = limits.max_connections, "control connection refused: limit reached");
                        refuse(stream, peer);
                        continue;
                    };
                    let world = world.clone();
                    let password = password.clone();
                    conns.spawn(serve_one(stream, peer, world, password, limits, slot));
                }
                Err(e) => {
                    // Out of file descriptors, typically: wait for some to be released.
                    debug!("control accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    conns.shutdown().await;
}

async fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    world: Arc<RunningWorld>,
    password: Option<Arc<str>>,
    limits: ControlLimits,
    _slot: OwnedSemaphorePermit,
) {
    if let Err(e) = session::serve(stream, &world, password.as_deref(), &limits).await {
        debug!(%peer, "control connection ended: {e}");
    }
}
