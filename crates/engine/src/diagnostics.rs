//! What redis-server records about slow commands: the SLOWLOG (commands that ran longer than
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len`) and the latency
//! monitor (events that took at least `latency-monitor-threshold` milliseconds, 160 samples per event).
//!
//! Every command is timed by the dispatcher ([`crate::commands::run`]); recording costs one relaxed
//! load per command unless the command was slow enough to be kept.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::Config;

/// Arguments kept per slowlog entry (the last one says how many more there were).
const MAX_ARGS: usize = 32;
/// Bytes kept per argument (the rest is summarised).
const MAX_ARG_LEN: usize = 128;
/// Samples kept per latency event.
const LATENCY_SAMPLES: usize = 160;

/// One slow command.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix time (seconds) the command ran at.
    pub time: u64,
    /// How long it ran (microseconds).
    pub micros: u64,
    /// The command and its arguments (trimmed like Redis, secrets redacted).
    pub args: Vec<Vec<u8>>,
    /// The client's address.
    pub peer: String,
    /// The client's name.
    pub name: String,
}

/// One latency sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Unix time (seconds).
    pub time: u64,
    /// Milliseconds.
    pub millis: u64,
}

/// The samples of one latency event.
#[derive(Debug, Default, Clone)]
pub struct EventHistory {
    /// Oldest first, at most 160.
    pub samples: VecDeque<Sample>,
    /// The largest latency seen since the last reset.
    pub max: u64,
}

/// The slowlog and the latency monitor of one engine.
#[derive(Debug)]
pub struct Diagnostics {
    slower_than: AtomicI64,
    max_len: AtomicUsize,
    latency_threshold_ms: AtomicU64,
    next_id: AtomicU64,
    slowlog: Mutex<VecDeque<SlowEntry>>,
    latency: Mutex<BTreeMap<&'static str, EventHistory>>,
}

impl Default for Diagnostics {
    fn default() -> Self {
        Diagnostics {
            slower_than: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
            latency_threshold_ms: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            slowlog: Mutex::new(VecDeque::new()),
            latency: Mutex::new(BTreeMap::new()),
        }
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The arguments as the slowlog keeps them: secrets redacted (AUTH, HELLO AUTH, ACL SETUSER, CONFIG
/// SET of a password), at most 32 arguments of at most 128 bytes each.
fn trimmed(args: &[&[u8]]) -> Vec<Vec<u8>> {
    let name = args.first().copied().unwrap_or_default();
    let redact_from = |i: usize| -> bool {
        if name.eq_ignore_ascii_case(b"auth") {
            return i >= 1;
        }
        if name.eq_ignore_ascii_case(b"hello") {
            // HELLO [protover [AUTH username password] [SETNAME name]]
            return args
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"auth"))
                .is_some_and(|p| i == p + 1 || i == p + 2);
        }
        if name.eq_ignore_ascii_case(b"acl") {
            return args
                .get(1)
                .is_some_and(|s| s.eq_ignore_ascii_case(b"setuser"))
                && i >= 3;
        }
        if name.eq_ignore_ascii_case(b"config") {
            return i >= 3
                && i % 2 == 1
                && args.get(i - 1).is_some_and(|p| {
                    p.eq_ignore_ascii_case(b"requirepass") || p.eq_ignore_ascii_case(b"masterauth")
                });
        }
        false
    };
    let mut out = Vec::with_capacity(args.len().min(MAX_ARGS));
    for (i, a) in args.iter().enumerate() {
        if i == MAX_ARGS - 1 && args.len() > MAX_ARGS {
            out.push(format!("... ({} more arguments)", args.len() - i).into_bytes());
            break;
        }
        if redact_from(i) {
            out.push(b"(redacted)".to_vec());
        } else if a.len() > MAX_ARG_LEN {
            let mut v = a[..MAX_ARG_LEN].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes());
            out.push(v);
        } else {
            out.push(a.to_vec());
        }
    }
    out
}

impl Diagnostics {
    /// Follow the configuration (after any change).
    pub fn configure(&self, config: &Config) {
        let int = |name: &str, default: i64| {
            config
                .get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        self.slower_than
            .store(int("slowlog-log-slower-than", 10_000), Ordering::Relaxed);
        let max_len = usize::try_from(int("slowlog-max-len", 128)).unwrap_or(0);
        self.max_len.store(max_len, Ordering::Relaxed);
        self.slowlog.lock().truncate(max_len);
        let threshold = u64::try_from(int("latency-monitor-threshold", 0)).unwrap_or(0);
        self.latency_threshold_ms
            .store(threshold, Ordering::Relaxed);
    }

    /// Record a command that ran for `took` (cheap unless it was slow enough to be kept).
    #[inline]
    pub fn command_ran(
        &self,
        args: &[&[u8]],
        took: Duration,
        fast: bool,
        client: impl FnOnce() -> (String, String),
    ) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let slower_than = self.slower_than.load(Ordering::Relaxed);
        let threshold = self.latency_threshold_ms.load(Ordering::Relaxed);
        let slow = slower_than >= 0 && micros >= slower_than as u64;
        let latency = threshold > 0 && micros / 1000 >= threshold;
        if !slow && !latency {
            return;
        }
        if latency {
            self.latency_event(if fast { "fast-command" } else { "command" }, micros / 1000);
        }
        if slow {
            self.log_slow(args, micros, client);
        }
    }

    #[cold]
    fn log_slow(&self, args: &[&[u8]], micros: u64, client: impl FnOnce() -> (String, String)) {
        let max_len = self.max_len.load(Ordering::Relaxed);
        if max_len == 0 {
            return;
        }
        let (peer, name) = client();
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time: unix_secs(),
            micros,
            args: trimmed(args),
            peer,
            name,
        };
        let mut log = self.slowlog.lock();
        log.push_front(entry);
        log.truncate(max_len);
    }

    /// Record a latency event of `millis` milliseconds (if the monitor is on and it reaches the
    /// threshold).
    #[cold]
    pub fn latency_event(&self, event: &'static str, millis: u64) {
        let threshold = self.latency_threshold_ms.load(Ordering::Relaxed);
        if threshold == 0 || millis < threshold {
            return;
        }
        let now = unix_secs();
        let mut events = self.latency.lock();
        let history = events.entry(event).or_default();
        history.max = history.max.max(millis);
        // One sample per second: a second sample in the same second keeps the larger value.
        if let Some(last) = history.samples.back_mut()
            && last.time == now
        {
            last.millis = last.millis.max(millis);
            return;
        }
        history.samples.push_back(Sample { time: now, millis });
        if history.samples.len() > LATENCY_SAMPLES {
            history.samples.pop_front();
        }
    }

    /// The newest `count` slowlog entries (all with `None`).
    pub fn slowlog(&self, count: Option<usize>) -> Vec<SlowEntry> {
        let log = self.slowlog.lock();
        log.iter()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// The number of slowlog entries.
    pub fn slowlog_len(&self) -> usize {
        self.slowlog.lock().len()
    }

    /// Empties the slowlog.
    pub fn slowlog_reset(&self) {
        self.slowlog.lock().clear();
    }

    /// Every latency event with its history.
    pub fn latency_events(&self) -> Vec<(&'static str, EventHistory)> {
        self.latency
            .lock()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Forgets the named events (all with an empty list); how many were forgotten.
    pub fn latency_reset(&self, events: &[&[u8]]) -> usize {
        let mut map = self.latency.lock();
        if events.is_empty() {
            let n = map.len();
            map.clear();
            return n;
        }
        let mut n = 0;
        for e in events {
            let key = map.keys().find(|k| k.as_bytes() == *e).copied();
            if let Some(k) = key {
                map.remove(k);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_and_redaction_follow_redis() {
        let big = vec![b'x'; 200];
        let t = trimmed(&[b"SET", b"k", &big]);
        assert_eq!(t[2].len(), 128 + "... (72 more bytes)".len());
        assert!(t[2].ends_with(b"... (72 more bytes)"));
        let many: Vec<&[u8]> = std::iter::repeat_n(&b"a"[..], 40).collect();
        let t = trimmed(&many);
        assert_eq!(t.len(), 32);
        assert_eq!(t[31], b"... (9 more arguments)");
        assert_eq!(
            trimmed(&[b"AUTH", b"u", b"p"])[1..],
            [b"(redacted)".to_vec(), b"(redacted)".to_vec()]
        );
        let h = trimmed(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]);
        assert_eq!(h[3], b"(redacted)");
        assert_eq!(h[4], b"(redacted)");
        assert_eq!(h[6], b"n");
    }

    #[test]
    fn slowlog_keeps_the_newest_up_to_max_len() {
        let d = Diagnostics::default();
        let mut c = Config::default();
        c.set_startup("slowlog-log-slower-than", "0").ok();
        c.set_startup("slowlog-max-len", "3").ok();
        d.configure(&c);
        for i in 0..5u8 {
            d.command_ran(
                &[b"GET", &[b'0' + i]],
                Duration::from_micros(1),
                false,
                || ("127.0.0.1:1".into(), String::new()),
            );
        }
        let log = d.slowlog(None);
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].args[1], b"4");
        assert_eq!(log[0].id, 4);
        assert_eq!(d.slowlog(Some(1)).len(), 1);
    }

    #[test]
    fn latency_monitor_records_only_above_its_threshold() {
        let d = Diagnostics::default();
        d.latency_event("command", 500);
        assert!(d.latency_events().is_empty(), "off by default");
        let mut c = Config::default();
        c.set_startup("latency-monitor-threshold", "100").ok();
        d.configure(&c);
        d.command_ran(
            &[b"DEBUG"],
            Duration::from_millis(50),
            false,
            Default::default,
        );
        assert!(d.latency_events().is_empty());
        d.command_ran(
            &[b"DEBUG"],
            Duration::from_millis(150),
            false,
            Default::default,
        );
        let events = d.latency_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "command");
        assert_eq!(events[0].1.max, 150);
        assert_eq!(d.latency_reset(&[b"nope"]), 0);
        assert_eq!(d.latency_reset(&[]), 1);
    }
}
