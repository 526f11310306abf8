//! The one clock of a redlink process. Everything that reads time for *behaviour* (DNS caches and
//! their TTLs, the scenario timeline; later the engine's expiry, issue 23) reads it from a [`Clock`],
//! so a test can move time instead of waiting for it.
//!
//! A clock is either **real** (wall time, moving by itself: `serve` and `up` by default; `up --speed N`
//! runs it N times faster) or
//! **manual** (starts at wall time and moves only by [`Clock::advance`] / [`Clock::set`]: `check`
//! by default, so a step `at = "10m"` costs nothing). Clones share the same time.
//!
//! Time is milliseconds since the Unix epoch ([`Clock::now_ms`]: one atomic load for a manual
//! clock, one monotonic read for a real one, cheap enough for an engine's hot path). A real clock is
//! monotonic: it is the wall time at creation plus a monotonic elapsed time, so it never goes back
//! when the system clock is stepped.
//!
//! [`Clock::sleep_until`] waits for a clock time: on a real clock a timer, on a manual one until
//! an advance reaches it (at once if it already has), so whatever became due wakes, in order of
//! the times it waits for, when the clock is advanced.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// Why a clock refused to move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClockError {
    /// A real-time clock moves by itself.
    RealTime,
    /// A manual clock never goes backwards.
    Backwards {
        /// The clock's time (ms since the epoch).
        now_ms: u64,
        /// The time asked for.
        asked_ms: u64,
    },
    /// The time asked for does not fit (past year 584 million).
    Overflow,
}

impl fmt::Display for ClockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockError::RealTime => f.write_str(
                "the clock is real time and moves by itself (start with --clock manual to move it)",
            ),
            ClockError::Backwards { now_ms, asked_ms } => write!(
                f,
                "the clock cannot go backwards (it is at {now_ms} ms, {asked_ms} ms was asked)"
            ),
            ClockError::Overflow => f.write_str("the clock time is out of range"),
        }
    }
}

impl std::error::Error for ClockError {}

enum Mode {
    Real {
        /// Wall time at creation, ns since the epoch (ns, so that `now_ms` and `now_us` truncate
        /// once and read the wall clock's millisecond rather than up to 1 ms behind it).
        origin_ns: u64,
        /// The monotonic instant of `origin_ns`.
        origin: Instant,
        /// Clock milliseconds per real millisecond (1 = wall time; `up --speed 4`: 4).
        rate: f64,
    },
    Manual {
        now_ms: AtomicU64,
        /// Tells sleepers each new time.
        moved: watch::Sender<u64>,
    },
}

/// Real or manual time, shared by clones. See the crate documentation.
#[derive(Clone)]
pub struct Clock(Arc<Mode>);

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("manual", &self.is_manual())
            .field("now_ms", &self.now_ms())
            .finish()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::real()
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A monotonic instant and the wall time (ns) at it. The instant is taken *before* the wall clock,
/// so the real clock can only read ahead of the wall clock, never behind it (an expiry set from the
/// wall clock — EXPIREAT, RESTORE ABSTTL — never shows a TTL longer than asked); of a few tries the
/// one with the smallest gap between the two reads is kept, so a thread preempted between them
/// does not leave the clock milliseconds ahead.
fn wall_origin() -> (Instant, u64) {
    let mut best: Option<(Duration, Instant, u64)> = None;
    for _ in 0..5 {
        let before = Instant::now();
        let wall = wall_ns();
        let gap = before.elapsed();
        if best.is_none_or(|(g, ..)| gap < g) {
            best = Some((gap, before, wall));
        }
    }
    match best {
        Some((_, origin, wall)) => (origin, wall),
        None => (Instant::now(), wall_ns()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Clock {
    /// Wall time, moving by itself.
    pub fn real() -> Clock {
        Clock::real_scaled(1.0)
    }

    /// Real time running `rate` times faster than the wall clock from now on (a lab's `up --speed`:
    /// the timeline and DNS TTLs alike). A rate that is not finite and positive is 1.
    pub fn real_scaled(rate: f64) -> Clock {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        let (origin, origin_ns) = wall_origin();
        Clock(Arc::new(Mode::Real {
            origin_ns,
            origin,
            rate,
        }))
    }

    /// Clock milliseconds per real millisecond: the scale of a real clock, 0 for a manual one
    /// (it moves only when told).
    pub fn rate(&self) -> f64 {
        match &*self.0 {
            Mode::Real { rate, .. } => *rate,
            Mode::Manual { .. } => 0.0,
        }
    }

    /// A manual clock starting at the current wall time.
    pub fn manual() -> Clock {
        Clock::manual_at(wall_ms())
    }

    /// A manual clock starting at `ms` since the epoch (deterministic tests).
    pub fn manual_at(ms: u64) -> Clock {
        let (moved, _) = watch::channel(ms);
        Clock(Arc::new(Mode::Manual {
            now_ms: AtomicU64::new(ms),
            moved,
        }))
    }

    /// Whether the clock only moves when told.
    pub fn is_manual(&self) -> bool {
        matches!(*self.0, Mode::Manual { .. })
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match &*self.0 {
            Mode::Real { .. } => self.now_ns() / 1_000_000,
            Mode::Manual { now_ms, .. } => now_ms.load(Ordering::Acquire),
        }
    }

    /// Microseconds since the Unix epoch (TIME's precision): a real clock's microseconds, a manual
    /// clock's milliseconds × 1000.
    pub fn now_us(&self) -> u64 {
        match &*self.0 {
            Mode::Real { .. } => self.now_ns() / 1000,
            Mode::Manual { now_ms, .. } => now_ms.load(Ordering::Acquire).saturating_mul(1000),
        }
    }

    /// A real clock's nanoseconds since the Unix epoch (0 for a manual clock: use `now_ms`).
    fn now_ns(&self) -> u64 {
        match &*self.0 {
            Mode::Real {
                origin_ns,
                origin,
                rate,
            } => {
                let elapsed = if *rate == 1.0 {
                    u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
                } else {
                    // Saturating float-to-int conversion: never panics.
                    (origin.elapsed().as_secs_f64() * 1e9 * rate) as u64
                };
                origin_ns.saturating_add(elapsed)
            }
            Mode::Manual { .. } => 0,
        }
    }

    /// The clock's time as a [`SystemTime`].
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_ms())
    }

    /// Moves a manual clock forward by `by`; returns the new time. Sleepers whose time came wake.
    pub fn advance(&self, by: Duration) -> Result<u64, ClockError> {
        match &*self.0 {
            Mode::Real { .. } => Err(ClockError::RealTime),
            Mode::Manual { now_ms, moved } => {
                let by = u64::try_from(by.as_millis()).map_err(|_| ClockError::Overflow)?;
                let mut new = 0;
                now_ms
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                        new = t.checked_add(by)?;
                        Some(new)
                    })
                    .map_err(|_| ClockError::Overflow)?;
                moved.send_modify(|t| *t = (*t).max(new));
                Ok(new)
            }
        }
    }

    /// Sets a manual clock to `ms` since the epoch (never backwards); returns the new time.
    pub fn set(&self, ms: u64) -> Result<u64, ClockError> {
        match &*self.0 {
            Mode::Real { .. } => Err(ClockError::RealTime),
            Mode::Manual { now_ms, moved } => {
                now_ms
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                        (ms >= t).then_some(ms)
                    })
                    .map_err(|t| ClockError::Backwards {
                        now_ms: t,
                        asked_ms: ms,
                    })?;
                moved.send_modify(|t| *t = (*t).max(ms));
                Ok(ms)
            }
        }
    }

    /// Moves a manual clock to `ms` if it is behind (a no-op when it is already there or past);
    /// returns the clock's time. Used to run a timeline: each step at its `at`.
    pub fn advance_to(&self, ms: u64) -> Result<u64, ClockError> {
        match self.set(ms) {
            Err(ClockError::Backwards { now_ms, .. }) => Ok(now_ms),
            other => other,
        }
    }

    /// Waits until the clock reads at least `ms`.
    pub async fn sleep_until(&self, ms: u64) {
        match &*self.0 {
            Mode::Real {
                origin_ns,
                origin,
                rate,
            } => {
                let ahead_ms =
                    ms.saturating_mul(1_000_000).saturating_sub(*origin_ns) as f64 / 1e6 / rate;
                // Beyond what a Duration holds: a year is as good as forever here.
                let ahead = Duration::try_from_secs_f64(ahead_ms / 1000.0)
                    .unwrap_or(Duration::from_secs(365 * 24 * 3600));
                let due = origin.checked_add(ahead).unwrap_or_else(Instant::now);
                tokio::time::sleep_until(due.into()).await;
            }
            Mode::Manual { moved, .. } => {
                let mut rx = moved.subscribe();
                // The sender lives as long as `self`: wait_for cannot fail while we hold it.
                let _ = rx.wait_for(|t| *t >= ms).await;
            }
        }
    }

    /// Waits for `d` of clock time.
    pub async fn sleep(&self, d: Duration) {
        self.sleep_until(self.now_ms().saturating_add(millis(d)))
            .await;
    }
}

/// Parses a duration as redlink writes them everywhere (scenario `at`, `--for`, `DEBUG CLOCK
/// ADVANCE`, `ctl clock advance`): `500ms`, `30s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 500ms, 30s, 2m or 1h)"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ));
        }
    })
}

/// Writes a duration the way [`parse_duration`] reads it, in the largest unit that is exact
/// (`30m`, `1800001ms`), so it parses back to the same duration.
pub fn format_duration(d: Duration) -> String {
    let ms = millis(d);
    match ms {
        0 => "0s".to_owned(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// Parses a clock time: milliseconds since the Unix epoch (`1767225600000`) or an RFC 3339 date
/// and time (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00+01:00`); returns ms since the epoch.
pub fn parse_time(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map_err(|_| format!("{text:?} is out of range (milliseconds since 1970)"));
    }
    let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            format!(
                "{text:?} is not a time (give milliseconds since 1970 or RFC 3339 like \
                 2026-01-01T00:00:00Z: {e})"
            )
        })?;
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).map_err(|_| format!("{text:?} is before 1970"))
}

/// `ms` since the epoch as RFC 3339 in UTC with milliseconds (`2026-01-01T00:00:00.000Z`).
pub fn format_time(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_parse_and_bad_ones_are_named() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1800s"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        for ms in [
            0, 1, 999, 1000, 1001, 60_000, 90_000, 3_600_000, 5_400_000, 86_400_000,
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{ms} ms");
        }
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
        assert!(
            parse_duration("3 days")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert_eq!(parse_time("1767225600000"), Ok(1_767_225_600_000));
        assert_eq!(parse_time("2026-01-01T00:00:00Z"), Ok(1_767_225_600_000));
        assert_eq!(
            parse_time("2026-01-01T01:00:00+01:00"),
            Ok(1_767_225_600_000)
        );
        assert!(parse_time("yesterday").unwrap_err().contains("not a time"));
        assert!(
            parse_time("1969-12-31T23:59:59Z")
                .unwrap_err()
                .contains("before 1970")
        );
        assert_eq!(format_time(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(format_time(1_767_225_600_250), "2026-01-01T00:00:00.25Z");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual_at(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert_eq!(c.advance(Duration::from_secs(2)), Ok(3_000));
        assert_eq!(c.clone().now_ms(), 3_000, "clones share the time");
        assert_eq!(
            c.set(2_000),
            Err(ClockError::Backwards {
                now_ms: 3_000,
                asked_ms: 2_000
            })
        );
        assert_eq!(c.advance_to(2_500), Ok(3_000));
        assert_eq!(c.advance_to(4_000), Ok(4_000));
        assert_eq!(
            c.advance(Duration::from_millis(u64::MAX)),
            Err(ClockError::Overflow)
        );
        assert_eq!(c.now_ms(), 4_000, "a refused move changes nothing");
    }

    #[test]
    fn real_clock_refuses_to_move_and_is_near_wall_time() {
        let c = Clock::real();
        assert_eq!(c.advance(Duration::from_secs(1)), Err(ClockError::RealTime));
        assert_eq!(c.set(0), Err(ClockError::RealTime));
        let diff = c.now_ms().abs_diff(wall_ms());
        assert!(diff < 60_000, "real clock {diff} ms away from wall time");
        assert!(!c.is_manual());
    }

    #[test]
    fn real_clock_never_reads_behind_the_wall_clock_read_before_it() {
        // An expiry set from the wall clock (EXPIREAT, RESTORE ABSTTL) must never show a TTL a
        // millisecond longer than asked: the clock truncates once, from microseconds.
        let c = Clock::real();
        for _ in 0..2_000 {
            let wall = wall_ms();
            let now = c.now_ms();
            assert!(now >= wall, "clock {now} behind the wall clock {wall}");
        }
    }

    #[tokio::test]
    async fn sleepers_wake_when_an_advance_reaches_them() {
        let c = Clock::manual_at(0);
        let sleeper = {
            let c = c.clone();
            tokio::spawn(async move {
                c.sleep(Duration::from_secs(600)).await;
                c.now_ms()
            })
        };
        tokio::task::yield_now().await;
        c.advance(Duration::from_secs(599)).ok();
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before its time");
        c.advance(Duration::from_secs(1)).ok();
        let woke_at = tokio::time::timeout(Duration::from_secs(10), sleeper)
            .await
            .expect("the sleeper wakes once the clock reaches its time")
            .expect("sleeper task");
        assert_eq!(woke_at, 600_000);
        // Already due: returns at once.
        tokio::time::timeout(Duration::from_secs(10), c.sleep_until(10))
            .await
            .expect("a past time is due at once");
    }

    #[tokio::test]
    async fn a_scaled_clock_runs_faster_and_sleeps_shorter() {
        let c = Clock::real_scaled(50.0);
        assert_eq!(c.rate(), 50.0);
        let (start_ms, start) = (c.now_ms(), Instant::now());
        // 1 s of clock time at 50×: 20 ms of real time.
        c.sleep(Duration::from_secs(1)).await;
        assert!(c.now_ms() - start_ms >= 1000);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(Clock::real_scaled(f64::NAN).rate(), 1.0);
        assert_eq!(Clock::real_scaled(-2.0).rate(), 1.0);
        assert_eq!(Clock::manual().rate(), 0.0);
    }

    #[tokio::test]
    async fn real_sleep_waits_for_real_time() {
        let c = Clock::real();
        let start = Instant::now();
        c.sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
