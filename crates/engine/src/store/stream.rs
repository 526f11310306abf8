//! The stream value (Redis 5+ `XADD` and friends): entries ordered by ID, consumer groups with their
//! pending entries lists, and the bookkeeping Redis 7.0 reports (entries added, first entry, maximal
//! deleted ID).
//!
//! Redis stores entries in a radix tree of listpack "nodes" of at most `stream-node-max-entries` (100)
//! entries or `stream-node-max-bytes` (4096) bytes. Approximate trimming (`MAXLEN ~`) only ever removes
//! whole nodes, so its results depend on those boundaries; [`Stream`] therefore keeps the node layout
//! (first ID, live and deleted counts, an estimate of the listpack size) next to the entries, which
//! makes `~` trimming, `LIMIT` and `XINFO`'s radix-tree figures behave like Redis's.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::Blob;

/// A stream entry ID: milliseconds and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An ID from its parts.
    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The next ID, `None` after the largest.
    pub fn next(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, `None` before the smallest.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// Whether this is 0-0.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The `<ms>-<seq>` text.
    pub fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }

    /// The 16-byte big-endian key Redis's radix tree sorts by.
    fn key(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

/// `stream-node-max-entries` default.
pub const NODE_MAX_ENTRIES: u64 = 100;
/// `stream-node-max-bytes` default.
pub const NODE_MAX_BYTES: usize = 4096;

/// One listpack node of Redis's layout, as far as trimming and XINFO need it.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    /// Its live entries (usually IDs from its key up; after XSETID moved the last ID back on an
    /// emptied stream, Redis appends smaller IDs to the tail node, so membership is kept explicitly).
    ids: BTreeSet<StreamId>,
    /// Entries marked deleted but still inside the node.
    deleted: u64,
    /// Estimated listpack size in bytes.
    bytes: usize,
    /// The master entry's fields (entries with the same fields are stored without them).
    master_fields: Vec<Blob>,
    /// The last ID ever appended to this node (deleted or not).
    last: StreamId,
}

/// A pending (delivered, not yet acknowledged) entry of a consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    /// The consumer that owns it.
    pub consumer: Blob,
    /// Last delivery (unix ms).
    pub delivery_time: u64,
    /// Number of deliveries.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consumer {
    /// Last time it tried to read or claim (unix ms).
    pub seen_time: u64,
    /// Last time it was given entries, by a read or a claim (unix ms; Redis 7.2's `active-time`).
    pub active_time: Option<u64>,
    /// The IDs it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Last ID delivered to any consumer with `>`.
    pub last_id: StreamId,
    /// Logical read counter (-1 = unknown).
    pub entries_read: i64,
    /// Pending entries list.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name (byte order, like Redis's radix tree).
    pub consumers: BTreeMap<Blob, Consumer>,
}

impl Group {
    /// A group starting after `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created if missing (second value: whether it was created); its seen
    /// time becomes `now`, as Redis's default consumer lookup does.
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self.consumers.entry(Blob::from_slice(name)).or_default();
        c.seen_time = now;
        (c, created)
    }

    /// Remove `id` from the PEL (and its owner's); whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Give the pending entry `id` to `consumer` (which must exist), creating the NACK if needed.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], now: u64) -> &mut Nack {
        let owner = Blob::from_slice(consumer);
        let previous = self.pel.get(&id).map(|n| n.consumer.clone());
        if let Some(prev) = previous.as_ref()
            && prev != &owner
            && let Some(c) = self.consumers.get_mut(prev)
        {
            c.pel.remove(&id);
        }
        if let Some(c) = self.consumers.get_mut(&owner) {
            c.pel.insert(id);
            c.active_time = Some(now);
        }
        let nack = self.pel.entry(id).or_insert_with(|| Nack {
            consumer: owner.clone(),
            delivery_time: now,
            delivery_count: 1,
        });
        nack.consumer = owner;
        nack
    }
}

/// Where a stream's logical read counter cannot be known.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    entries: BTreeMap<StreamId, Box<[Blob]>>,
    nodes: BTreeMap<StreamId, Node>,
    /// The last ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    /// The largest ID ever deleted with XDEL.
    pub max_deleted: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Blob, Group>,
}

/// Size of an integer element in a listpack (encoding plus back-length byte).
fn lp_int_size(v: i64) -> usize {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

/// Size of a string element in a listpack (small integers are stored as integers).
fn lp_str_size(s: &[u8]) -> usize {
    if s.len() <= 20
        && let Some(v) = crate::protocol::parse_i64(s)
    {
        return lp_int_size(v);
    }
    let enc = if s.len() < 64 {
        1 + s.len()
    } else if s.len() < 4096 {
        2 + s.len()
    } else {
        5 + s.len()
    };
    let back = match enc {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    };
    enc + back
}

/// Which trimming XADD/XTRIM asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries with smaller IDs.
    MinId(StreamId),
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Self {
        Stream::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the stream holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of radix-tree keys (listpack nodes).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of radix-tree nodes Redis's `rax` would use for the node keys.
    pub fn rax_nodes(&self) -> usize {
        fn below(keys: &[[u8; 16]], depth: usize) -> usize {
            // `depth` is a materialized position; find where the keys next branch.
            let mut q = depth;
            if keys.len() == 1 {
                q = 16;
            } else {
                while q < 16 && keys.iter().all(|k| k[q] == keys[0][q]) {
                    q += 1;
                }
            }
            (q > depth) as usize + branch(keys, q)
        }
        fn branch(keys: &[[u8; 16]], q: usize) -> usize {
            if q >= 16 {
                return 0;
            }
            let mut n = 0;
            let mut i = 0;
            while i < keys.len() {
                let b = keys[i][q];
                let mut j = i;
                while j < keys.len() && keys[j][q] == b {
                    j += 1;
                }
                n += 1 + below(&keys[i..j], q + 1);
                i = j;
            }
            n
        }
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.key()).collect();
        if keys.is_empty() {
            return 1;
        }
        1 + below(&keys, 0)
    }

    /// The fields and values of an entry.
    pub fn get(&self, id: StreamId) -> Option<&[Blob]> {
        self.entries.get(&id).map(|e| &e[..])
    }

    /// Entries with IDs in `[start, end]`, ascending or descending.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (StreamId, &[Blob])> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let it = self
            .entries
            .range((Bound::Included(start), Bound::Included(end)))
            .map(|(k, v)| (*k, &v[..]));
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// The first entry.
    pub fn first(&self) -> Option<(StreamId, &[Blob])> {
        self.entries.iter().next().map(|(k, v)| (*k, &v[..]))
    }

    /// The last entry.
    pub fn last(&self) -> Option<(StreamId, &[Blob])> {
        self.entries.iter().next_back().map(|(k, v)| (*k, &v[..]))
    }

    /// The last live entry's ID (0-0 when empty).
    pub fn last_valid_id(&self) -> StreamId {
        self.entries.keys().next_back().copied().unwrap_or_default()
    }

    /// The ID `XADD *` would use now.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.next()
        }
    }

    /// Append an entry with `id` (callers checked it is greater than `last_id`). `fields` holds
    /// field, value, field, value... `node_limits`: `stream-node-max-bytes` and
    /// `stream-node-max-entries` (0 = no limit), when a new node starts.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], node_limits: (usize, u64)) {
        let (max_bytes, max_entries) = node_limits;
        let numfields = fields.len() / 2;
        let total: usize = fields.iter().map(|f| f.len()).sum();
        let tail = self.nodes.iter().next_back().and_then(|(k, n)| {
            let full = (max_bytes > 0 && n.bytes + total >= max_bytes)
                || (max_entries > 0 && n.ids.len() as u64 + n.deleted >= max_entries);
            let same = n.master_fields.len() == numfields
                && n.master_fields
                    .iter()
                    .zip(fields.iter().step_by(2))
                    .all(|(a, b)| a.as_slice() == *b);
            (!full).then_some((*k, same))
        });
        let (master, same) = match tail {
            Some(t) => t,
            None => {
                let master_fields: Vec<Blob> = fields
                    .iter()
                    .step_by(2)
                    .map(|f| Blob::from_slice(f))
                    .collect();
                // Header, end byte, the master entry (count, deleted, numfields, fields, 0).
                let bytes = 6
                    + 1
                    + 2
                    + 2
                    + lp_int_size(numfields as i64)
                    + master_fields.iter().map(|f| lp_str_size(f)).sum::<usize>()
                    + 2;
                self.nodes.insert(
                    id,
                    Node {
                        ids: BTreeSet::new(),
                        deleted: 0,
                        bytes,
                        master_fields,
                        last: id,
                    },
                );
                (id, true)
            }
        };
        let node = self.nodes.get_mut(&master);
        if let Some(node) = node {
            let ms_diff = id.ms.wrapping_sub(master.ms) as i64;
            let seq_diff = id.seq.wrapping_sub(master.seq) as i64;
            let mut bytes = 2 + lp_int_size(ms_diff) + lp_int_size(seq_diff);
            let mut lp_count = numfields + 3;
            if !same {
                bytes += lp_int_size(numfields as i64);
                bytes += fields
                    .iter()
                    .step_by(2)
                    .map(|f| lp_str_size(f))
                    .sum::<usize>();
                lp_count += numfields + 1;
            }
            bytes += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| lp_str_size(v))
                .sum::<usize>();
            bytes += lp_int_size(lp_count as i64);
            node.bytes += bytes;
            node.ids.insert(id);
            node.last = id;
        }
        self.entries
            .insert(id, fields.iter().map(|f| Blob::from_slice(f)).collect());
        self.entries_added += 1;
        self.last_id = id;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
    }

    /// The key of the node holding live entry `id`.
    fn node_of(&self, id: StreamId) -> Option<StreamId> {
        let guess = self.nodes.range(..=id).next_back();
        if let Some((k, n)) = guess
            && n.ids.contains(&id)
        {
            return Some(*k);
        }
        self.nodes
            .iter()
            .find(|(_, n)| n.ids.contains(&id))
            .map(|(k, _)| *k)
    }

    /// Remove one entry (XDEL); whether it existed. Updates the first ID and the maximal deleted ID.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if let Some(master) = self.node_of(id)
            && let Some(node) = self.nodes.get_mut(&master)
        {
            node.ids.remove(&id);
            if node.ids.is_empty() {
                self.nodes.remove(&master);
            } else {
                node.deleted += 1;
            }
        }
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        if self.first_id == id || self.entries.is_empty() {
            self.first_id = self.first().map(|(k, _)| k).unwrap_or_default();
        }
        true
    }

    /// Trim like Redis's `streamTrim`: whole nodes first; with `approx` stop at the first node that
    /// cannot go whole; `limit` (0 = none) caps the entries removed (counted in whole nodes).
    /// Returns the number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let Trim::MaxLen(max) = how
                && self.entries.len() as u64 <= max
            {
                break;
            }
            let Some((&master, node)) = self.nodes.iter().next() else {
                break;
            };
            let entries = node.ids.len() as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => (self.entries.len() as u64).saturating_sub(entries) >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove_node {
                if let Some(node) = self.nodes.remove(&master) {
                    for k in node.ids {
                        self.entries.remove(&k);
                    }
                }
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Remove single entries from the head node.
            let ids: Vec<StreamId> = node.ids.iter().copied().collect();
            let mut removed = Vec::new();
            for k in ids {
                let stop = match how {
                    Trim::MaxLen(max) => (self.entries.len() - removed.len()) as u64 <= max,
                    Trim::MinId(min) => k >= min,
                };
                if stop {
                    break;
                }
                removed.push(k);
            }
            if let Some(node) = self.nodes.get_mut(&master) {
                for k in &removed {
                    node.ids.remove(k);
                    self.entries.remove(k);
                }
                node.deleted += removed.len() as u64;
            }
            deleted += removed.len() as u64;
            break;
        }
        self.first_id = self.first().map(|(k, _)| k).unwrap_or_default();
        deleted
    }

    /// Whether an XDEL tombstone may lie in `[start, end]` (Redis's `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId, end: Option<StreamId>) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// The logical position of `id` counted from the first entry ever added, when it can be known
    /// (Redis's `streamEstimateDistanceFromFirstEverEntry`); -1 otherwise.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.entries.is_empty() && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return self.entries_added.saturating_sub(self.entries.len() as u64) as i64;
            } else if id == self.first_id {
                return (self.entries_added.saturating_sub(self.entries.len() as u64) + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (`None` when it cannot be computed).
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(g.last_id, None) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != INVALID_ENTRIES_READ).then(|| self.entries_added as i64 - read)
    }

    /// Record that `group` delivered `id` with `>` (advances its last ID and read counter).
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let tomb = self.range_has_tombstones(id, None);
        let estimate = self.estimate_distance(id);
        let added = self.entries_added;
        if let Some(g) = self.groups.get_mut(group)
            && id > g.last_id
        {
            if g.entries_read != INVALID_ENTRIES_READ && !tomb {
                g.entries_read += 1;
            } else if added != 0 {
                g.entries_read = estimate;
            }
            g.last_id = id;
        }
    }

    /// Approximate memory use in bytes.
    pub fn memory(&self) -> usize {
        let entries: usize = self
            .entries
            .values()
            .map(|e| e.iter().map(|f| f.len() + 2).sum::<usize>() + 24)
            .sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(n, g)| n.len() + 64 + g.pel.len() * 48 + g.consumers.len() * 64)
            .sum();
        128 + entries + groups + self.nodes.len() * 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut Stream, ms: u64, seq: u64) {
        s.append(
            StreamId::new(ms, seq),
            &[b"f", b"v"],
            (NODE_MAX_BYTES, NODE_MAX_ENTRIES),
        );
    }

    #[test]
    fn nodes_split_at_100_entries() {
        let mut s = Stream::new();
        for i in 1..=250 {
            add(&mut s, i, 0);
        }
        assert_eq!(s.node_count(), 3);
        // Approximate trimming removes whole nodes only.
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.len(), 120);
        assert_eq!(s.first_id, StreamId::new(131, 0));
    }

    #[test]
    fn delete_tracks_first_and_max_deleted() {
        let mut s = Stream::new();
        for i in 1..=3 {
            add(&mut s, i, 0);
        }
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(!s.delete(StreamId::new(1, 0)));
        assert_eq!(s.first_id, StreamId::new(2, 0));
        assert_eq!(s.max_deleted, StreamId::new(1, 0));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn ids_below_the_tail_node_after_xsetid() {
        let mut s = Stream::new();
        for i in 1..=3 {
            add(&mut s, i, 0);
        }
        assert!(s.delete(StreamId::new(3, 0)));
        // The node's last ID (3-0, deleted) keeps it: its live entries go one by one.
        assert_eq!(s.trim(Trim::MinId(StreamId::new(3, 0)), false, 0), 2);
        assert!(s.is_empty());
        assert_eq!(s.node_count(), 1);
        // XSETID may move the last ID back on an empty stream; the next entry joins the tail node.
        s.last_id = StreamId::new(0, 5);
        add(&mut s, 0, 6);
        assert_eq!(s.len(), 1);
        assert!(s.delete(StreamId::new(0, 6)));
        add(&mut s, 0, 7);
        assert_eq!(s.trim(Trim::MaxLen(0), false, 0), 1);
        assert!(s.is_empty());
    }

    #[test]
    fn rax_node_counts() {
        let mut s = Stream::new();
        assert_eq!(s.rax_nodes(), 1);
        add(&mut s, 1, 1);
        assert_eq!(s.rax_nodes(), 2);
    }
}
