//! Toxiproxy's `limit_data`: the first `bytes` bytes pass, then this direction closes (an orderly
//! end: the reader sees EOF, not a reset). Compare [`super::ResetAfter`].

use tokio::sync::mpsc;

use super::{Chunk, Item, Toxic};

/// Closes after a number of bytes.
#[derive(Debug)]
pub struct LimitData {
    limit: u64,
}

impl LimitData {
    /// Lets `bytes` bytes through, then closes.
    pub fn new(bytes: u64) -> LimitData {
        LimitData { limit: bytes }
    }
}

#[async_trait::async_trait]
impl Toxic for LimitData {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        let mut passed: u64 = 0;
        while passed < self.limit {
            let Some(item) = input.recv().await else {
                return;
            };
            let Item::Data(chunk) = item else {
                let _ = output.send(item).await;
                return;
            };
            let room = self.limit - passed;
            let mut data = chunk.data;
            if data.len() as u64 > room {
                data.truncate(usize::try_from(room).unwrap_or(usize::MAX));
            }
            passed += data.len() as u64;
            if output
                .send(Item::Data(Chunk { data, at: chunk.at }))
                .await
                .is_err()
            {
                return;
            }
        }
        // Returning drops the output: the direction ends with a close.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_limit_then_closes() {
        let (tx, rx) = mpsc::channel(4);
        let (out_tx, mut out) = mpsc::channel(4);
        let task = tokio::spawn(Box::new(LimitData::new(5)).run(rx, out_tx));
        for text in ["abc", "defg", "hij"] {
            let _ = tx
                .send(Item::Data(Chunk {
                    data: bytes::Bytes::from(text),
                    at: std::time::Instant::now(),
                }))
                .await;
        }
        let mut got = Vec::new();
        while let Some(item) = out.recv().await {
            match item {
                Item::Data(c) => got.extend_from_slice(&c.data),
                Item::Reset => panic!("limit_data closes, it does not reset"),
            }
        }
        assert_eq!(got, b"abcde");
        let _ = task.await;
    }
}
