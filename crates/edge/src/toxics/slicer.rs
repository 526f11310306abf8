//! Slicer: every chunk is cut into pieces of about `avg_size` bytes (± a quarter), passed on
//! `delay` apart, as a slow or fragmenting network would deliver them.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Chunk, Item, Rng, Toxic};

/// Cuts chunks into small, spaced pieces.
#[derive(Debug)]
pub struct Slicer {
    avg_size: usize,
    delay: Duration,
}

impl Slicer {
    /// Pieces of about `avg_size` bytes (at least 1), `delay` apart.
    pub fn new(avg_size: usize, delay: Duration) -> Slicer {
        Slicer {
            avg_size: avg_size.max(1),
            delay,
        }
    }
}

#[async_trait::async_trait]
impl Toxic for Slicer {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        let mut rng = Rng::new();
        let variation = (self.avg_size / 4) as u64;
        while let Some(item) = input.recv().await {
            let Item::Data(chunk) = item else {
                if output.send(item).await.is_err() {
                    return;
                }
                continue;
            };
            let mut data = chunk.data;
            while !data.is_empty() {
                let size = (self.avg_size as u64 + rng.below_or_eq(2 * variation))
                    .saturating_sub(variation)
                    .max(1);
                let size = usize::try_from(size).unwrap_or(usize::MAX).min(data.len());
                let piece = Item::Data(Chunk {
                    data: data.split_to(size),
                    at: chunk.at,
                });
                if output.send(piece).await.is_err() {
                    return;
                }
                if !data.is_empty() && !self.delay.is_zero() {
                    tokio::time::sleep(self.delay).await;
                }
            }
        }
    }
}
