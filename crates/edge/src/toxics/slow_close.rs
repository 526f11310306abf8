//! Toxiproxy's `slow_close`: everything passes; when this direction's stream ends, the close is
//! held back for `delay` (a reset passes at once).

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Item, Toxic};

/// Delays the close.
#[derive(Debug)]
pub struct SlowClose {
    delay: Duration,
}

impl SlowClose {
    /// Holds the close back for `delay`.
    pub fn new(delay: Duration) -> SlowClose {
        SlowClose { delay }
    }
}

#[async_trait::async_trait]
impl Toxic for SlowClose {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        while let Some(item) = input.recv().await {
            let reset = matches!(item, Item::Reset);
            if output.send(item).await.is_err() || reset {
                return;
            }
        }
        tokio::time::sleep(self.delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_close_waits() {
        let (tx, rx) = mpsc::channel(4);
        let (out_tx, mut out) = mpsc::channel(4);
        let started = std::time::Instant::now();
        let task =
            tokio::spawn(Box::new(SlowClose::new(Duration::from_millis(150))).run(rx, out_tx));
        drop(tx);
        assert!(out.recv().await.is_none());
        // At least the delay (a loaded machine may take longer, never shorter).
        assert!(started.elapsed() >= Duration::from_millis(150));
        let _ = task.await;
    }
}
