//! Commands switched off for one engine, the way redis.conf's `rename-command NAME ""` switches
//! them off in redis-server: the command is gone, so clients get the unknown-command error (also
//! while queueing in MULTI, which then aborts EXEC), and scripts get "Unknown Redis command called
//! from script". `redlink serve` disables nothing; the runtime disables what Azure disables on its
//! managed caches (see docs/azure-disabled-commands.md), so a client of a simulated cache cannot,
//! for example, SHUTDOWN the cache.
//!
//! The check is one relaxed load of a 256-bit filter (hashed names) for almost every command; only
//! a name whose bit is set takes the read lock and compares names.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::{ClientHandle, kind};

/// The endpoint name (`ConnContext::endpoint`) of the runtime's own replication link between a
/// cache's nodes: the replica's PSYNC and REPLCONF reach the primary there, although clients of
/// the cache cannot run them (Azure disables them).
pub const REPLICATION_LINK: &str = "(replication link)";

/// Whether `client` may run disabled commands: the replication link's two ends (a replica attached
/// through [`REPLICATION_LINK`], and a replica's master client applying the primary's stream,
/// which may hold SELECT or SWAPDB), never a client of the cache.
pub fn exempt(client: &ClientHandle) -> bool {
    client.kind.load(Ordering::Relaxed) == kind::MASTER
        || client.ctx.endpoint.as_deref() == Some(REPLICATION_LINK)
}

use parking_lot::RwLock;

/// The set of disabled command names (lower case).
#[derive(Default)]
pub struct Disabled {
    /// Bit `h % 256` set for each disabled name's hash `h`.
    filter: [AtomicU64; 4],
    names: RwLock<Vec<String>>,
}

/// FNV-1a of `name`, folded to a word index and a bit.
fn slot(name: &str) -> (usize, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (((h >> 6) & 3) as usize, 1u64 << (h & 63))
}

impl Disabled {
    /// Replaces the set with `names` (any case; names the engine does not know are kept too, and
    /// stay unknown).
    pub fn set<S: AsRef<str>>(&self, names: &[S]) {
        let mut list: Vec<String> = names
            .iter()
            .map(|n| n.as_ref().to_ascii_lowercase())
            .collect();
        list.sort();
        list.dedup();
        let mut filter = [0u64; 4];
        for n in &list {
            let (word, bit) = slot(n);
            filter[word] |= bit;
        }
        let mut names = self.names.write();
        *names = list;
        for (f, bits) in self.filter.iter().zip(filter) {
            f.store(bits, Ordering::Release);
        }
    }

    /// Whether the command named `name` (lower case, as in the command table) is disabled.
    #[inline]
    pub fn contains(&self, name: &str) -> bool {
        let (word, bit) = slot(name);
        self.filter[word].load(Ordering::Acquire) & bit != 0
            && self.names.read().iter().any(|n| n == name)
    }

    /// The disabled names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.names.read().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_in_lower_case() {
        let d = Disabled::default();
        assert!(!d.contains("shutdown"));
        d.set(&["SHUTDOWN", "Config", "config"]);
        assert!(d.contains("shutdown") && d.contains("config"));
        assert!(!d.contains("get"));
        assert_eq!(d.names(), vec!["config", "shutdown"]);
        d.set::<&str>(&[]);
        assert!(!d.contains("shutdown"));
    }
}
