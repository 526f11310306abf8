//! A cache engine's direct loopback listener (`127.0.0.1:PORT`, plain text), next to its endpoints:
//! the same in-process hand-off without the edge's policy, so benchmarks can compare a routed
//! endpoint with the engine itself in one run. Only started when
//! [`crate::UpOptions::direct_engines`] asks for it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use redlink_engine::{ConnContext, Engine};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A direct listener; dropping it stops accepting.
#[derive(Debug)]
pub struct DirectListener {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DirectListener {
    /// Listens on 127.0.0.1 (a free port) and hands every connection to `engine`.
    pub async fn open(engine: Engine) -> io::Result<DirectListener> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let ctx = ConnContext {
                    peer,
                    local: addr,
                    tls: false,
                    endpoint: None,
                };
                let engine = engine.clone();
                tokio::spawn(async move { engine.accept_stream(stream, ctx).await });
            }
        });
        Ok(DirectListener { addr, task })
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
