//! A chained hash table with Redis's reverse-binary SCAN cursor.
//!
//! Why not `HashMap`: SCAN must return every key that is present for the whole scan, even when the
//! table grows or shrinks between calls. Redis gets that from power-of-two bucket tables whose cursor
//! counts in reverse-binary order (`dictScan`): a bucket's children after a resize always come after
//! it in that order. An open-addressing table (hashbrown) moves entries between probe positions and
//! cannot give that guarantee. Each node also carries its expiry, so a key is stored once.
//!
//! The key's storage is a parameter: the keyspace keeps its keys in the compact [`Key`] (a node
//! of 72 bytes: see its module for why that count), the collections' member tables in [`Blob`].

use std::ops::Deref;

use super::{Blob, Key};

/// What a node keeps its key in: anything that derefs to the bytes and can be made from them.
pub trait KeyBytes: Deref<Target = [u8]> {
    /// Storage holding a copy of `bytes`.
    fn from_slice(bytes: &[u8]) -> Self;
}

impl KeyBytes for Blob {
    fn from_slice(bytes: &[u8]) -> Self {
        Blob::from_slice(bytes)
    }
}

impl KeyBytes for Key {
    fn from_slice(bytes: &[u8]) -> Self {
        Key::from_slice(bytes)
    }
}

/// One key in the table.
#[derive(Debug, Clone)]
pub struct Node<V, K = Blob> {
    /// The key bytes.
    pub key: K,
    /// The value.
    pub value: V,
    /// Absolute expiry in unix milliseconds; 0 means persistent.
    pub expire: u64,
    /// Last access, unix milliseconds truncated to 32 bits (compare with `wrapping_sub`): the LRU
    /// clock of `maxmemory-policy *-lru`, and the decay reference of the LFU counter.
    pub lru: u32,
    /// Logarithmic access frequency counter for `*-lfu` (Redis's 8-bit Morris counter).
    pub lfu: u8,
    /// The most compact encoding OBJECT ENCODING may report for the value from now on
    /// ([`crate::store::Value::encoding_from`]): Redis never converts a value back. Reset when the
    /// value is replaced. (It fits in the node's padding.)
    pub floor: u8,
    next: Option<Box<Node<V, K>>>,
}

/// The table. The caller supplies the key's hash to every call (the keyspace hashes once per key and
/// uses the high bits for its shard, the low bits here).
#[derive(Debug, Clone)]
pub struct Dict<V, K = Blob> {
    table: Vec<Option<Box<Node<V, K>>>>,
    len: usize,
    volatile: usize,
}

impl<V, K> Default for Dict<V, K> {
    fn default() -> Self {
        Dict {
            table: Vec::new(),
            len: 0,
            volatile: 0,
        }
    }
}

const MIN_SIZE: usize = 4;
/// Redis's `LFU_INIT_VAL`: a new key starts with this counter so it is not evicted at once.
pub const LFU_INIT_VAL: u8 = 5;

impl<V, K: KeyBytes> Dict<V, K> {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of keys with an expiry.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.table.len()
    }

    fn mask(&self) -> u64 {
        (self.table.len() as u64).wrapping_sub(1)
    }

    /// Find a key.
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Node<V, K>> {
        if self.table.is_empty() {
            return None;
        }
        let mut cur = self.table[(hash & self.mask()) as usize].as_deref();
        while let Some(n) = cur {
            if *n.key == *key {
                return Some(n);
            }
            cur = n.next.as_deref();
        }
        None
    }

    /// Find a key for update.
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Node<V, K>> {
        if self.table.is_empty() {
            return None;
        }
        let idx = (hash & self.mask()) as usize;
        let mut cur = self.table[idx].as_deref_mut();
        while let Some(n) = cur {
            if *n.key == *key {
                return Some(n);
            }
            cur = n.next.as_deref_mut();
        }
        None
    }

    /// Set the expiry of a node found with [`get_mut`](Self::get_mut), keeping the volatile count.
    pub fn set_expire(&mut self, hash: u64, key: &[u8], expire: u64) -> bool {
        let Some(n) = self.get_mut(hash, key) else {
            return false;
        };
        let was = n.expire != 0;
        n.expire = expire;
        let is = expire != 0;
        match (was, is) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        true
    }

    /// Insert a new key or replace an existing one (value and expiry). `rehash` recomputes the hash
    /// of a stored key when the table resizes. `lru` is the access clock to record (a replaced key
    /// keeps its LFU counter, like Redis's `dbOverwrite`). Returns the previous value.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: V,
        expire: u64,
        lru: u32,
        rehash: impl Fn(&[u8]) -> u64,
    ) -> Option<V> {
        if let Some(n) = self.get_mut(hash, key) {
            let was = n.expire != 0;
            n.expire = expire;
            n.lru = lru;
            n.floor = 0;
            let old = std::mem::replace(&mut n.value, value);
            match (was, expire != 0) {
                (false, true) => self.volatile += 1,
                (true, false) => self.volatile -= 1,
                _ => {}
            }
            return Some(old);
        }
        if self.len >= self.table.len() {
            let size = (self.table.len() * 2).max(MIN_SIZE);
            self.resize(size, &rehash);
        }
        let idx = (hash & self.mask()) as usize;
        let next = self.table[idx].take();
        self.table[idx] = Some(Box::new(Node {
            key: K::from_slice(key),
            value,
            expire,
            lru,
            lfu: LFU_INIT_VAL,
            floor: 0,
            next,
        }));
        self.len += 1;
        if expire != 0 {
            self.volatile += 1;
        }
        None
    }

    /// Remove a key, returning its node.
    pub fn remove(
        &mut self,
        hash: u64,
        key: &[u8],
        rehash: impl Fn(&[u8]) -> u64,
    ) -> Option<Box<Node<V, K>>> {
        if self.table.is_empty() {
            return None;
        }
        let idx = (hash & self.mask()) as usize;
        let mut link = &mut self.table[idx];
        loop {
            match link {
                None => return None,
                Some(n) if *n.key == *key => {
                    let mut node = link.take()?;
                    *link = node.next.take();
                    self.len -= 1;
                    if node.expire != 0 {
                        self.volatile -= 1;
                    }
                    self.maybe_shrink(&rehash);
                    return Some(node);
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn maybe_shrink(&mut self, rehash: &impl Fn(&[u8]) -> u64) {
        if self.table.len() > MIN_SIZE && self.len * 8 < self.table.len() {
            let size = self.len.next_power_of_two().max(MIN_SIZE);
            self.resize(size, rehash);
        }
    }

    fn resize(&mut self, size: usize, rehash: &impl Fn(&[u8]) -> u64) {
        let old = std::mem::take(&mut self.table);
        self.table = Vec::with_capacity(size);
        self.table.resize_with(size, || None);
        let mask = (size - 1) as u64;
        for mut bucket in old {
            while let Some(mut node) = bucket {
                bucket = node.next.take();
                let idx = (rehash(&node.key) & mask) as usize;
                node.next = self.table[idx].take();
                self.table[idx] = Some(node);
            }
        }
    }

    /// Drop every key.
    pub fn clear(&mut self) {
        // Unlink chains iteratively so long chains cannot overflow the stack on drop.
        for bucket in self.table.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
        self.table = Vec::new();
        self.len = 0;
        self.volatile = 0;
    }

    /// Visit the bucket at `cursor` and return the next cursor (0 when the scan is complete).
    /// Every key present for the whole scan is visited at least once, across resizes.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&Node<V, K>)) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let mask = self.mask();
        let mut cur = self.table[(cursor & mask) as usize].as_deref();
        while let Some(n) = cur {
            visit(n);
            cur = n.next.as_deref();
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }

    /// Visit the nodes of bucket `idx % buckets` (eviction sampling).
    pub fn bucket_nodes(&self, idx: usize, mut visit: impl FnMut(&Node<V, K>)) {
        if self.table.is_empty() {
            return;
        }
        let mut cur = self.table[idx % self.table.len()].as_deref();
        while let Some(n) = cur {
            visit(n);
            cur = n.next.as_deref();
        }
    }

    /// Keys in bucket `idx % buckets` (for sampling and active expiry).
    pub fn bucket_keys(&self, idx: usize, into: &mut Vec<(Blob, u64)>) {
        if self.table.is_empty() {
            return;
        }
        let mut cur = self.table[idx % self.table.len()].as_deref();
        while let Some(n) = cur {
            into.push((Blob::from_slice(&n.key), n.expire));
            cur = n.next.as_deref();
        }
    }

    /// The nodes chained in bucket `idx` (modulo the table size).
    pub fn chain(&self, idx: usize) -> impl Iterator<Item = &Node<V, K>> {
        let mut cur = if self.table.is_empty() {
            None
        } else {
            self.table[idx % self.table.len()].as_deref()
        };
        std::iter::from_fn(move || {
            let n = cur?;
            cur = n.next.as_deref();
            Some(n)
        })
    }

    /// Iterate over every node.
    pub fn iter(&self) -> impl Iterator<Item = &Node<V, K>> {
        self.table.iter().flat_map(|b| {
            let mut cur = b.as_deref();
            std::iter::from_fn(move || {
                let n = cur?;
                cur = n.next.as_deref();
                Some(n)
            })
        })
    }
}

impl<V, K> Drop for Dict<V, K> {
    fn drop(&mut self) {
        // Unlink chains iteratively so long chains cannot overflow the stack on drop.
        for bucket in self.table.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn h(k: &[u8]) -> u64 {
        use std::hash::Hasher;
        let mut f = std::hash::DefaultHasher::new();
        f.write(k);
        f.finish()
    }

    #[test]
    fn insert_get_remove() {
        let mut d: Dict<u32> = Dict::default();
        for i in 0..1000u32 {
            let k = i.to_string();
            assert!(
                d.insert(h(k.as_bytes()), k.as_bytes(), i, 0, 0, h)
                    .is_none()
            );
        }
        assert_eq!(d.len(), 1000);
        assert_eq!(d.get(h(b"7"), b"7").map(|n| n.value), Some(7));
        for i in 0..990u32 {
            let k = i.to_string();
            assert!(d.remove(h(k.as_bytes()), k.as_bytes(), h).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 16);
        assert_eq!(d.get(h(b"995"), b"995").map(|n| n.value), Some(995));
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d: Dict<u32> = Dict::default();
        for i in 0..500u32 {
            let k = format!("stable{i}");
            d.insert(h(k.as_bytes()), k.as_bytes(), i, 0, 0, h);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = d.scan(cursor, |n| {
                seen.insert(n.key.to_vec());
            });
            // Grow and shrink the table while scanning.
            step += 1;
            if step.is_multiple_of(3) {
                for j in 0..200u32 {
                    let k = format!("churn{step}-{j}");
                    d.insert(h(k.as_bytes()), k.as_bytes(), j, 0, 0, h);
                }
            } else if step % 3 == 1 {
                let churn: Vec<Vec<u8>> = d
                    .iter()
                    .filter(|n| n.key.starts_with(b"churn"))
                    .map(|n| n.key.to_vec())
                    .collect();
                for k in churn {
                    d.remove(h(&k), &k, h);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500u32 {
            assert!(seen.contains(format!("stable{i}").as_bytes()), "missed {i}");
        }
    }
}
