//! Timeout: nothing gets through; the connection is reset `timeout` after it opened (with a timeout
//! of 0 it is held, silently, until the client gives up).

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Item, Toxic};

/// Swallows everything, then resets.
#[derive(Debug)]
pub struct Timeout {
    timeout: Duration,
}

impl Timeout {
    /// Resets after `timeout`; zero holds forever.
    pub fn new(timeout: Duration) -> Timeout {
        Timeout { timeout }
    }
}

#[async_trait::async_trait]
impl Toxic for Timeout {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        let swallow = async { while input.recv().await.is_some() {} };
        if self.timeout.is_zero() {
            swallow.await;
            return;
        }
        let timer = tokio::time::sleep(self.timeout);
        tokio::pin!(timer);
        tokio::select! {
            _ = &mut timer => {}
            _ = swallow => timer.await,
        }
        let _ = output.send(Item::Reset).await;
    }
}
