//! Bandwidth: bytes are passed on no faster than `rate` KB/s, in pieces of about 10 ms worth.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Chunk, Item, Toxic};

/// Limits throughput.
#[derive(Debug)]
pub struct Bandwidth {
    bytes_per_second: u64,
}

impl Bandwidth {
    /// `rate_kbps` kilobytes (1000 bytes) per second, at least 1.
    pub fn new(rate_kbps: u64) -> Bandwidth {
        Bandwidth {
            bytes_per_second: rate_kbps.max(1).saturating_mul(1000),
        }
    }
}

#[async_trait::async_trait]
impl Toxic for Bandwidth {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        let piece = usize::try_from(self.bytes_per_second / 100)
            .unwrap_or(usize::MAX)
            .max(1);
        while let Some(item) = input.recv().await {
            let Item::Data(chunk) = item else {
                if output.send(item).await.is_err() {
                    return;
                }
                continue;
            };
            let mut data = chunk.data;
            while !data.is_empty() {
                let part = data.split_to(piece.min(data.len()));
                let wait = Duration::from_micros(
                    (part.len() as u64).saturating_mul(1_000_000) / self.bytes_per_second,
                );
                let out = Item::Data(Chunk {
                    data: part,
                    at: chunk.at,
                });
                if output.send(out).await.is_err() {
                    return;
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}
