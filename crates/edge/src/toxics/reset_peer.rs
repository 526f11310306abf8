//! Toxiproxy's `reset_peer`: the connection stays quiet until the first bytes arrive in this
//! direction; they are swallowed and the connection is reset `timeout` later (at once for 0).

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Item, Toxic};

/// Resets after the first bytes.
#[derive(Debug)]
pub struct ResetPeer {
    timeout: Duration,
}

impl ResetPeer {
    /// Resets `timeout` after the first bytes.
    pub fn new(timeout: Duration) -> ResetPeer {
        ResetPeer { timeout }
    }
}

#[async_trait::async_trait]
impl Toxic for ResetPeer {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        if input.recv().await.is_none() {
            return;
        }
        tokio::time::sleep(self.timeout).await;
        let _ = output.send(Item::Reset).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_bytes_bring_a_reset() {
        let (tx, rx) = mpsc::channel(4);
        let (out_tx, mut out) = mpsc::channel(4);
        let task = tokio::spawn(Box::new(ResetPeer::new(Duration::ZERO)).run(rx, out_tx));
        let _ = tx
            .send(Item::Data(super::super::Chunk {
                data: bytes::Bytes::from_static(b"PING\r\n"),
                at: std::time::Instant::now(),
            }))
            .await;
        assert!(matches!(out.recv().await, Some(Item::Reset)));
        let _ = task.await;
    }
}
