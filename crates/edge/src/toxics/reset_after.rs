//! Reset after N bytes: the first `bytes` bytes pass, then the connection is reset (the client gets
//! ECONNRESET; the engine sees its stream end).

use tokio::sync::mpsc;

use super::{Chunk, Item, Toxic};

/// Resets the connection after a number of bytes.
#[derive(Debug)]
pub struct ResetAfter {
    limit: u64,
}

impl ResetAfter {
    /// Lets `bytes` bytes through, then resets.
    pub fn new(bytes: u64) -> ResetAfter {
        ResetAfter { limit: bytes }
    }
}

#[async_trait::async_trait]
impl Toxic for ResetAfter {
    async fn run(self: Box<Self>, mut input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>) {
        let mut passed: u64 = 0;
        while let Some(item) = input.recv().await {
            let Item::Data(chunk) = item else {
                let _ = output.send(item).await;
                return;
            };
            let room = self.limit - passed;
            let len = chunk.data.len() as u64;
            if len < room {
                passed += len;
                if output.send(Item::Data(chunk)).await.is_err() {
                    return;
                }
                continue;
            }
            let mut data = chunk.data;
            let head = data.split_to(usize::try_from(room).unwrap_or(usize::MAX));
            if !head.is_empty() {
                let _ = output
                    .send(Item::Data(Chunk {
                        data: head,
                        at: chunk.at,
                    }))
                    .await;
            }
            let _ = output.send(Item::Reset).await;
            return;
        }
    }
}
