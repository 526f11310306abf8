//! What redis-server records about slow commands: the SLOWLOG (commands that ran longer than
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len`) and the latency
//! monitor (events that took at least `latency-monitor-threshold` milliseconds, 160 samples per event).
//!
//! Every command is timed by the dispatcher ([`crate::commands::run`]) with [`stopwatch`] (the CPU's
//! time-stamp counter, ~8 ns a read, where two `Instant::now()` per command cost ~65 ns, 40 % of an
//! in-process SET); within a batch the end of one command is the start of the next, so a command
//! costs one read (its parse is counted with it). Recording costs two relaxed loads per command
//! unless the command was slow enough to be kept.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::config::Config;

/// A cheap per-command stopwatch: the time-stamp counter on x86_64 (invariant TSC; a few ns to read)
/// converted to microseconds with a rate measured once per process against the monotonic clock;
/// `Instant` on other architectures.
pub mod stopwatch {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// When a command started.
    #[derive(Debug, Clone, Copy)]
    pub struct Start(u64);

    #[cfg(not(target_arch = "x86_64"))]
    fn base() -> Instant {
        static BASE: OnceLock<Instant> = OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    #[inline]
    fn raw() -> u64 {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: RDTSC has no preconditions; it only reads the time-stamp counter.
            unsafe { core::arch::x86_64::_rdtsc() }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            base().elapsed().as_nanos() as u64
        }
    }

    /// Microseconds per tick as a 32.32 fixed-point number, measured once (2 ms) per process.
    fn micros_per_tick() -> u64 {
        static RATE: OnceLock<u64> = OnceLock::new();
        *RATE.get_or_init(|| {
            let (t0, i0) = (raw(), Instant::now());
            while i0.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            let (ticks, took) = (raw().wrapping_sub(t0).max(1), i0.elapsed());
            u64::try_from((took.as_nanos() << 32) / (u128::from(ticks) * 1000)).unwrap_or(0)
        })
    }

    /// Measure the tick rate now (so the first command does not pay for it).
    pub fn calibrate() {
        micros_per_tick();
    }

    /// Now.
    #[inline]
    pub fn start() -> Start {
        Start(raw())
    }

    impl Start {
        /// Microseconds since `self` (0 if the counter appears to go backwards).
        #[inline]
        pub fn elapsed_micros(self) -> u64 {
            start().micros_since(self)
        }

        /// Microseconds from `earlier` to `self` (0 if the counter appears to go backwards).
        #[inline]
        pub fn micros_since(self, earlier: Start) -> u64 {
            ticks_to_micros(self.ticks_since(earlier))
        }

        /// Ticks from `earlier` to `self` (0 if the counter appears to go backwards).
        #[inline]
        pub fn ticks_since(self, earlier: Start) -> u64 {
            let ticks = self.0.wrapping_sub(earlier.0);
            if ticks > 1 << 62 { 0 } else { ticks }
        }
    }

    /// Ticks as microseconds.
    pub fn ticks_to_micros(ticks: u64) -> u64 {
        ((u128::from(ticks) * u128::from(micros_per_tick())) >> 32) as u64
    }

    /// Microseconds as ticks (saturating).
    pub fn micros_to_ticks(micros: u64) -> u64 {
        let rate = micros_per_tick().max(1);
        u64::try_from((u128::from(micros) << 32) / u128::from(rate)).unwrap_or(u64::MAX)
    }

    impl Start {}
}

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
    /// `slower_than` in stopwatch ticks (`u64::MAX`: off), and the smaller of it and the latency
    /// threshold: the one comparison made for every command.
    slower_than_ticks: AtomicU64,
    record_from_ticks: AtomicU64,
    max_len: AtomicUsize,
    latency_threshold_ms: AtomicU64,
    next_id: AtomicU64,
    slowlog: Mutex<VecDeque<SlowEntry>>,
    latency: Mutex<BTreeMap<&'static str, EventHistory>>,
    /// The engine's clock: the entries' and samples' timestamps.
    clock: crate::store::Clock,
}

impl Default for Diagnostics {
    fn default() -> Self {
        stopwatch::calibrate();
        Diagnostics {
            slower_than: AtomicI64::new(10_000),
            slower_than_ticks: AtomicU64::new(stopwatch::micros_to_ticks(10_000)),
            record_from_ticks: AtomicU64::new(stopwatch::micros_to_ticks(10_000)),
            max_len: AtomicUsize::new(128),
            latency_threshold_ms: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            slowlog: Mutex::new(VecDeque::new()),
            latency: Mutex::new(BTreeMap::new()),
            clock: crate::store::Clock::real(),
        }
    }
}

impl Diagnostics {
    /// An empty slowlog and latency monitor stamped by `clock`.
    pub fn with_clock(clock: crate::store::Clock) -> Diagnostics {
        Diagnostics {
            clock,
            ..Diagnostics::default()
        }
    }

    fn unix_secs(&self) -> u64 {
        self.clock.now_ms() / 1000
    }
}

/// Whether argument `i` of a command is a secret that the slow log and MONITOR show as
/// `(redacted)` (Redis's `redactClientCommandArgument` calls): AUTH's arguments, HELLO's AUTH
/// user and password, every argument of ACL SETUSER, CONFIG SET of a password, MIGRATE's
/// AUTH/AUTH2 credentials.
pub fn is_redacted(args: &[&[u8]], i: usize) -> bool {
    let name = args.first().copied().unwrap_or_default();
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
        // The user's name too (Redis 7.0 redacts every argument of ACL SETUSER).
        return args
            .get(1)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"setuser"))
            && i >= 2;
    }
    if name.eq_ignore_ascii_case(b"migrate") {
        // MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS ...]
        let mut j = 6;
        while j < args.len() && j < i {
            let a = args[j];
            if a.eq_ignore_ascii_case(b"keys") {
                return false;
            }
            if a.eq_ignore_ascii_case(b"auth") {
                if i == j + 1 {
                    return true;
                }
                j += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                if i == j + 1 || i == j + 2 {
                    return true;
                }
                j += 2;
            }
            j += 1;
        }
        return false;
    }
    if name.eq_ignore_ascii_case(b"config") {
        return i >= 3
            && i % 2 == 1
            && args.get(i - 1).is_some_and(|p| {
                p.eq_ignore_ascii_case(b"requirepass") || p.eq_ignore_ascii_case(b"masterauth")
            });
    }
    false
}

/// The arguments as the slowlog keeps them: secrets redacted ([`is_redacted`]), at most 32
/// arguments of at most 128 bytes each.
fn trimmed(args: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(args.len().min(MAX_ARGS));
    for (i, a) in args.iter().enumerate() {
        if i == MAX_ARGS - 1 && args.len() > MAX_ARGS {
            out.push(format!("... ({} more arguments)", args.len() - i).into_bytes());
            break;
        }
        if is_redacted(args, i) {
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
        let slower_than = int("slowlog-log-slower-than", 10_000);
        let slow_ticks = u64::try_from(slower_than).map_or(u64::MAX, stopwatch::micros_to_ticks);
        let latency_ticks = match threshold {
            0 => u64::MAX,
            ms => stopwatch::micros_to_ticks(ms.saturating_mul(1000)),
        };
        self.slower_than_ticks.store(slow_ticks, Ordering::Relaxed);
        self.record_from_ticks
            .store(slow_ticks.min(latency_ticks), Ordering::Relaxed);
    }

    /// Record a command that ran for `ticks` stopwatch ticks (cheap unless it was slow enough to be
    /// kept).
    #[inline]
    /// `flags`: the command's table flags (`fast` names its latency event, `skip_slowlog` keeps it
    /// out of the slow log: EXEC, whose commands are logged one by one).
    pub fn command_ran(
        &self,
        args: &[&[u8]],
        ticks: u64,
        flags: u32,
        client: impl FnOnce() -> (String, String),
    ) {
        // The hot path: one load and one comparison.
        if ticks < self.record_from_ticks.load(Ordering::Relaxed) {
            return;
        }
        self.record(args, stopwatch::ticks_to_micros(ticks), flags, client);
    }

    #[cold]
    fn record(
        &self,
        args: &[&[u8]],
        micros: u64,
        flags: u32,
        client: impl FnOnce() -> (String, String),
    ) {
        use crate::spec::flag;
        let fast = flags & flag::FAST != 0;
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
        if slow && flags & flag::SKIP_SLOWLOG == 0 {
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
            time: self.unix_secs(),
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
        let now = self.unix_secs();
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
    use std::time::Duration;

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
        // redis-server 7.0.15's slowlog entries (tests/unit/slowlog.tcl).
        let r = |v: &[&[u8]]| -> Vec<Vec<u8>> { v.iter().map(|a| a.to_vec()).collect() };
        let red: &[u8] = b"(redacted)";
        assert_eq!(
            trimmed(&[b"acl", b"setuser", b"slowlog test user", b"on", b">pass"]),
            r(&[b"acl", b"setuser", red, red, red])
        );
        assert_eq!(
            trimmed(&[
                b"migrate", b"h", b"1", b"key", b"9", b"5000", b"AUTH", b"pw"
            ]),
            r(&[b"migrate", b"h", b"1", b"key", b"9", b"5000", b"AUTH", red])
        );
        assert_eq!(
            trimmed(&[
                b"migrate", b"h", b"1", b"", b"9", b"5", b"AUTH2", b"u", b"p", b"KEYS", b"k"
            ]),
            r(&[
                b"migrate", b"h", b"1", b"", b"9", b"5", b"AUTH2", red, red, b"KEYS", b"k"
            ])
        );
    }

    #[test]
    fn stopwatch_measures_microseconds() {
        let s = stopwatch::start();
        std::thread::sleep(Duration::from_millis(20));
        let us = s.elapsed_micros();
        assert!((19_000..200_000).contains(&us), "{us}");
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
                stopwatch::micros_to_ticks(1),
                0,
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
            stopwatch::micros_to_ticks(50_000),
            0,
            Default::default,
        );
        assert!(d.latency_events().is_empty());
        d.command_ran(
            &[b"DEBUG"],
            stopwatch::micros_to_ticks(150_000),
            0,
            Default::default,
        );
        let events = d.latency_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "command");
        // Ticks round-trip to microseconds within one (149.999 ms counts as 149).
        assert!(
            (149..=150).contains(&events[0].1.max),
            "{}",
            events[0].1.max
        );
        assert_eq!(d.latency_reset(&[b"nope"]), 0);
        assert_eq!(d.latency_reset(&[]), 1);
    }
}
