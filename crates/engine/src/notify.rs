//! Keyspace notifications (`notify-keyspace-events`), as Redis's `notify.c`: a command, the expiry
//! of a key, an eviction or a read of a missing key publishes `__keyspace@<db>__:<key>` (message:
//! the event name) and `__keyevent@<db>__:<event>` (message: the key) through the engine's Pub/Sub,
//! for the classes the option enables. With notifications off (the default) every call site costs one
//! relaxed atomic load.
//!
//! The event names each command emits are Redis 7.0's; `crates/engine/tests/notifications.rs`
//! replays `tests/data/notifications-7.0.15.json` (recorded from redis-server 7.0.15) against redlink.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use crate::pubsub::Registry;

/// The classes and channels of `notify-keyspace-events` (Redis's `NOTIFY_*` bits).
pub mod class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: a key expired.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: a key was evicted.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: a read found no key (not part of `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module events (redlink has no modules; accepted like Redis).
    pub const MODULE: u32 = 1 << 12;
    /// `n`: a key was added (not part of `A`).
    pub const NEW: u32 = 1 << 13;
    /// `A`: alias for `g$lshzxetd`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The flag letters in the order Redis prints them (without `A`, `K`, `E`, `m`).
const LETTERS: [(char, u32); 11] = [
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('d', class::MODULE),
    ('n', class::NEW),
];

/// Redis's error for a letter outside the alphabet (CONFIG SET wraps it).
pub const INVALID: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// Parse the option's value (Redis's `keyspaceEventsStringToFlags`).
pub fn parse(value: &str) -> Result<u32, String> {
    let mut flags = 0;
    for c in value.chars() {
        flags |= match c {
            'A' => class::ALL,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            'm' => class::KEY_MISS,
            _ => LETTERS
                .iter()
                .find(|(l, _)| *l == c)
                .map(|(_, f)| *f)
                .ok_or_else(|| INVALID.to_string())?,
        };
    }
    Ok(flags)
}

/// The option's value as CONFIG GET shows it (Redis's `keyspaceEventsFlagsToString`): `A` when
/// every class of `A` is on (and then, as in Redis 7.0, `n` is not shown although it stays on),
/// else the letters, then `K`, `E`, `m`.
pub fn to_text(flags: u32) -> String {
    let mut s = String::new();
    if flags & class::ALL == class::ALL {
        s.push('A');
    } else {
        s.extend(
            LETTERS
                .iter()
                .filter(|(_, f)| flags & f != 0)
                .map(|(l, _)| *l),
        );
    }
    for (l, f) in [
        ('K', class::KEYSPACE),
        ('E', class::KEYEVENT),
        ('m', class::KEY_MISS),
    ] {
        if flags & f != 0 {
            s.push(l);
        }
    }
    s
}

/// The engine's notifier: the enabled classes, and where notifications go.
#[derive(Debug, Default)]
pub struct Notifier {
    flags: AtomicU32,
    pubsub: OnceLock<Arc<Registry>>,
}

impl Notifier {
    /// Deliver through `pubsub` (set once, when the engine is built).
    pub fn attach(&self, pubsub: Arc<Registry>) {
        let _ = self.pubsub.set(pubsub);
    }

    /// Enable exactly these classes and channels.
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// The enabled classes and channels.
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Whether events of `class` are published (one relaxed load).
    #[inline]
    pub fn wants(&self, class: u32) -> bool {
        self.flags.load(Ordering::Relaxed) & class != 0
    }

    /// Redis's `notifyKeyspaceEvent`: publish `event` on `key` of database `db` if `class` is
    /// enabled (one relaxed load otherwise).
    #[inline]
    pub fn emit(&self, class: u32, event: &str, key: &[u8], db: usize) {
        let flags = self.flags.load(Ordering::Relaxed);
        if flags & class != 0 {
            self.publish(flags, event, key, db);
        }
    }

    #[cold]
    fn publish(&self, flags: u32, event: &str, key: &[u8], db: usize) {
        let Some(pubsub) = self.pubsub.get() else {
            return;
        };
        if flags & class::KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            pubsub.publish(&channel, event.as_bytes());
        }
        if flags & class::KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}");
            pubsub.publish(channel.as_bytes(), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_like_redis() {
        for (given, shown) in [
            ("KEA", "AKE"),
            ("AnKEm", "AKEm"),
            ("g$lshzxetdnKE", "AKE"),
            ("gg", "g"),
            ("", ""),
            ("Kx", "xK"),
            ("Elgn", "glnE"),
            ("m", "m"),
        ] {
            assert_eq!(to_text(parse(given).unwrap()), shown, "{given}");
        }
        assert_eq!(parse("Kq").unwrap_err(), INVALID);
        assert!(parse("AnKE").unwrap() & class::NEW != 0);
    }
}
