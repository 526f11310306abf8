//! Commands switched off for one engine, the way redis.conf's `rename-command NAME ""` switches
//! them off in redis-server: the command is gone, so clients get the unknown-command error (also
//! while queueing in MULTI, which then aborts EXEC), and scripts get "Unknown Redis command called
//! from script". `redlink serve` disables nothing; the runtime disables what Azure disables on its
//! managed caches (see docs/azure-disabled-commands.md), so a client of a simulated cache cannot,
//! for example, SHUTDOWN the cache.
//!
//! The check costs one relaxed load while nothing is disabled.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

/// The set of disabled command names (lower case).
#[derive(Default)]
pub struct Disabled {
    any: AtomicBool,
    names: RwLock<Vec<String>>,
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
        let any = !list.is_empty();
        *self.names.write() = list;
        self.any.store(any, Ordering::Release);
    }

    /// Whether the command named `name` (lower case, as in the command table) is disabled.
    #[inline]
    pub fn contains(&self, name: &str) -> bool {
        self.any.load(Ordering::Acquire) && self.names.read().iter().any(|n| n == name)
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
