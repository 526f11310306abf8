//! The replication backlog: the bytes of the replication stream that attached replicas still have
//! to receive and that a reconnecting replica may resume from (`PSYNC` → `+CONTINUE`).
//!
//! Why one buffer for both: like Redis 7.0's shared replication buffer, the backlog is the only copy
//! of the stream. It is a [`Consumer`] of the engine's propagation feed, so it sees the commands in
//! execution order; each replica's task reads from it at its own offset. It keeps at least
//! `repl-backlog-size` bytes, and more while a replica still needs them, up to the `replica` class's
//! hard `client-output-buffer-limit` behind the newest byte; a replica that falls further behind
//! finds its bytes gone and is disconnected (it will resynchronise), as in Redis.
//!
//! Offsets are the replication offsets of INFO (`master_repl_offset`): the number of stream bytes
//! since the replication history began. The feed's own offset is not used, because the AOF may have
//! read the feed before any replica existed, and a replica adopts its primary's offset.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::propagate::Consumer;

/// The stream buffer (see the module's doc).
pub struct Backlog {
    ring: Mutex<Ring>,
    /// The offset after the newest byte, for the replica tasks waiting for more.
    end: watch::Sender<u64>,
    /// `repl-backlog-size`.
    pub size: AtomicU64,
    /// The `replica` class's hard output buffer limit (0: none).
    pub limit: AtomicU64,
    /// The id of the feed subscription, once subscribed.
    pub(super) feed_id: Mutex<Option<u64>>,
}

impl std::fmt::Debug for Backlog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.ring.lock();
        f.debug_struct("Backlog")
            .field("start", &r.start)
            .field("end", &r.end)
            .finish()
    }
}

#[derive(Default)]
struct Ring {
    chunks: VecDeque<(u64, Bytes)>,
    /// Offset of the oldest byte held.
    start: u64,
    /// Offset after the newest byte.
    end: u64,
    /// Each attached replica's offset (what it has been sent), by client id.
    readers: HashMap<u64, u64>,
}

/// A replica asked for bytes the backlog no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost;

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            ring: Mutex::default(),
            end: watch::channel(0).0,
            size: AtomicU64::new(1024 * 1024),
            limit: AtomicU64::new(256 * 1024 * 1024),
            feed_id: Mutex::new(None),
        }
    }
}

impl Backlog {
    /// The offset after the newest byte (INFO `master_repl_offset`).
    pub fn end(&self) -> u64 {
        self.ring.lock().end
    }

    /// `(first byte offset, bytes held)`: INFO's `repl_backlog_first_byte_offset` is the first + 1.
    pub fn span(&self) -> (u64, u64) {
        let r = self.ring.lock();
        (r.start, r.end - r.start)
    }

    /// Whether the backlog reads the feed (INFO `repl_backlog_active`).
    pub fn active(&self) -> bool {
        self.feed_id.lock().is_some()
    }

    /// Forget the history and continue from `offset` (a replica adopting its primary's offset
    /// after a full synchronisation).
    pub fn reset(&self, offset: u64) {
        let mut r = self.ring.lock();
        r.chunks.clear();
        r.start = offset;
        r.end = offset;
        r.readers.clear();
        drop(r);
        self.end.send_replace(offset);
    }

    /// Whether the bytes from `offset` on are all held (a partial resynchronisation can start
    /// there).
    pub fn holds_from(&self, offset: u64) -> bool {
        let r = self.ring.lock();
        r.start <= offset && offset <= r.end
    }

    /// A receiver that changes whenever bytes are added.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.end.subscribe()
    }

    /// Note that replica `id` has been sent everything before `offset` (the backlog keeps what
    /// follows for it).
    pub fn set_reader(&self, id: u64, offset: u64) {
        self.ring.lock().readers.insert(id, offset);
    }

    /// Replica `id` is gone.
    pub fn remove_reader(&self, id: u64) {
        self.ring.lock().readers.remove(&id);
    }

    /// Up to `max` bytes from `offset` (empty when there is nothing new).
    pub fn read(&self, offset: u64, max: usize) -> Result<Vec<u8>, Lost> {
        let r = self.ring.lock();
        if offset < r.start || offset > r.end {
            return Err(Lost);
        }
        let mut out = Vec::new();
        let first = r
            .chunks
            .partition_point(|(start, b)| start + b.len() as u64 <= offset);
        let mut pos = offset;
        for (start, b) in r.chunks.iter().skip(first) {
            if out.len() >= max {
                break;
            }
            let skip = pos.saturating_sub(*start) as usize;
            let take = (b.len() - skip).min(max - out.len());
            out.extend_from_slice(&b[skip..skip + take]);
            pos += take as u64;
        }
        Ok(out)
    }

    fn trim(&self, r: &mut Ring) {
        let size = self.size.load(Ordering::Relaxed);
        let limit = self.limit.load(Ordering::Relaxed);
        let mut keep = r.end.saturating_sub(size);
        if let Some(&oldest) = r.readers.values().min() {
            let floor = if limit > 0 {
                oldest.max(r.end.saturating_sub(limit))
            } else {
                oldest
            };
            keep = keep.min(floor);
        }
        while let Some((start, b)) = r.chunks.front() {
            if start + b.len() as u64 > keep {
                break;
            }
            r.chunks.pop_front();
        }
        r.start = r.chunks.front().map_or(r.end, |(s, _)| *s);
    }
}

impl Consumer for Backlog {
    fn append(&self, bytes: &[u8], _feed_offset: u64) {
        let mut r = self.ring.lock();
        let at = r.end;
        r.end += bytes.len() as u64;
        r.chunks.push_back((at, Bytes::copy_from_slice(bytes)));
        self.trim(&mut r);
        let end = r.end;
        drop(r);
        self.end.send_replace(end);
    }

    fn replication(&self) -> bool {
        true
    }
}

/// A counter of replicas' acknowledged offsets and when they came.
#[derive(Debug, Default)]
pub struct Ack {
    /// The offset the replica acknowledged (`REPLCONF ACK`).
    pub offset: AtomicU64,
    /// Unix ms of the last acknowledgement.
    pub at_ms: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_chunks_and_trims_to_size() {
        let b = Backlog::default();
        b.size.store(8, Ordering::Relaxed);
        b.append(b"abcd", 0);
        b.append(b"efgh", 0);
        assert_eq!(b.read(2, 100).unwrap(), b"cdefgh");
        assert_eq!(b.read(5, 2).unwrap(), b"fg");
        b.append(b"ijkl", 0);
        assert_eq!(b.span(), (4, 8));
        assert_eq!(b.read(2, 10), Err(Lost));
        assert_eq!(b.read(12, 10).unwrap(), b"");
        // A reader keeps its bytes past the size.
        b.set_reader(1, 4);
        b.append(b"mnop", 0);
        assert_eq!(b.read(4, 100).unwrap(), b"efghijklmnop");
        b.remove_reader(1);
        b.append(b"q", 0);
        assert!(!b.holds_from(4));
        assert!(b.holds_from(13));
    }
}
