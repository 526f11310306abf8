//! A cache engine's direct loopback listener (`127.0.0.1:PORT`, plain text), next to its endpoints:
//! the same in-process hand-off without the edge's policy, so benchmarks can compare a routed
//! endpoint with the engine itself in one run. Only started when
//! [`crate::UpOptions::direct_engines`] asks for it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};

use redlink_engine::{ConnContext, Engine};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A direct listener; dropping it stops accepting.
pub struct DirectListener {
    addr: SocketAddr,
    task: JoinHandle<()>,
    /// The engine new connections go to (replaced when the cache reboots).
    engine: Arc<RwLock<Engine>>,
}

impl DirectListener {
    /// Listens on 127.0.0.1 (a free port) and hands every connection to `engine`.
    pub async fn open(engine: Engine) -> io::Result<DirectListener> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let engine = Arc::new(RwLock::new(engine));
        let current = engine.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let ctx = ConnContext {
                    peer,
                    local: addr,
                    tls: false,
                    endpoint: None,
                    announce: None,
                };
                let engine = match current.read() {
                    Ok(e) => e.clone(),
                    Err(poisoned) => poisoned.into_inner().clone(),
                };
                tokio::spawn(async move { engine.accept_stream(stream, ctx).await });
            }
        });
        Ok(DirectListener { addr, task, engine })
    }

    /// Hands new connections to `engine` from now on (after a reboot).
    pub fn set_engine(&self, engine: Engine) {
        match self.engine.write() {
            Ok(mut e) => *e = engine,
            Err(poisoned) => *poisoned.into_inner() = engine,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DirectListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
