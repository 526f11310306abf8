//! Latency: every chunk is passed on `latency ± jitter` after it arrived (chunks keep their order;
//! a chunk never overtakes the one before it).

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Item, Rng, Toxic};

/// Adds a delay to every chunk.
#[derive(Debug)]
pub struct Latency {
    latency: Duration,
    jitter: Duration,
}

impl Latency {
    /// `latency` ± `jitter` (uniform).
    pub fn new(latency: Duration, jitter: Duration) -> Latency {
        Latency { latency, jitter }
    }
}

#[async_trait::async_trait]
impl Toxic for Latency {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        let mut rng = Rng::new();
        let jitter = u64::try_from(self.jitter.as_micros()).unwrap_or(u64::MAX / 4);
        while let Some(item) = input.recv().await {
            if let Item::Data(chunk) = &item {
                let offset = rng.below_or_eq(jitter.saturating_mul(2));
                let delay = (self.latency + Duration::from_micros(offset))
                    .saturating_sub(Duration::from_micros(jitter));
                tokio::time::sleep_until((chunk.at + delay).into()).await;
            }
            if output.send(item).await.is_err() {
                return;
            }
        }
    }
}
