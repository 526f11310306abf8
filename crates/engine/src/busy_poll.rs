//! Busy polling between requests: under load, the serving thread stays awake a few microseconds
//! after its last read instead of going to sleep in `epoll_wait` at once.
//!
//! Why: a client's `send` on loopback runs the server side's TCP receive in the client's own
//! context, and when the server thread sleeps, that includes waking it (`try_to_wake_up`, an
//! inter-processor interrupt — a VM exit on a virtual machine). Measured with `perf` on the
//! client (`redis-benchmark -c 50 -P 16 -t get`, 2 vCPUs): the wake-up (`sock_def_readable`) was
//! 6.7% of the client's CPU against a server that sleeps between batches, 2.2% against one that
//! polls, and the client's CPU per request set the rate on that machine (BENCHMARKS.md). A server
//! that is busy anyway (redis-server is busier per request) pays this less often; one that is fast
//! sleeps more and makes its clients pay.
//!
//! How: one task (started by [`BusyPoll::start`]) yields to the scheduler in a loop while reads
//! keep coming — each yield makes tokio's worker poll the I/O driver with a zero timeout, so a
//! request that arrives finds the thread awake — and parks when nothing was read for a window. The window
//! adapts like Linux's `cpuidle-haltpoll` (guest halt polling): when the next read came within the
//! longest window after the server parked, polling longer would have caught it, so the window
//! doubles (from [`GROW_START`] up to the configured maximum); when it came later, the window
//! halves (to zero below [`GROW_START`]). A server with sporadic requests therefore stops polling
//! after a few gaps, and an idle server uses no CPU: the task sleeps until the next read.
//!
//! It runs only where it helps: `redlink serve` with one serving thread (`io-threads 1`, the
//! default), `--busy-poll MICROS` setting the maximum (0 = off; refused where it cannot run).
//! With more serving threads a polling task would keep one worker on the I/O driver and hand
//! every ready connection to the others through cross-thread wake-ups, the cost it is meant to
//! save.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The default longest window, in microseconds (`redlink serve --busy-poll`), where the
/// process may run on more than one core.
pub const DEFAULT_MAX_MICROS: u64 = 50;

/// The longest window when `--busy-poll` is not given: [`DEFAULT_MAX_MICROS`], or 0 (off) when
/// the process may run on one core only (its affinity mask or cgroup CPU quota, as
/// [`std::thread::available_parallelism`] reads them). There the clients share the server's
/// core, and polling only takes time from them: with both pinned to one CPU, `redis-benchmark
/// -c 50 -t get` ran 10% slower with polling, `-c 1` 5% slower.
pub fn default_max_micros() -> u64 {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() >= 2 => DEFAULT_MAX_MICROS,
        _ => 0,
    }
}

/// Where a window that grows starts (haltpoll's `guest_halt_poll_grow_start` is 50 µs of 200).
pub const GROW_START: Duration = Duration::from_micros(4);

/// Reads seen by the connections, and the polling task's sleep.
#[derive(Default)]
pub struct BusyPoll {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every read a connection makes.
    reads: AtomicU64,
    /// The polling task sleeps until the next read ([`BusyPoll::note_read`] wakes it).
    parked: AtomicBool,
    wake: Notify,
    /// How many times the task went to sleep.
    sleeps: AtomicU64,
    /// Whether a polling task was started (once per engine).
    started: AtomicBool,
}

impl BusyPoll {
    /// A connection read something (one atomic add; a wake-up only when the task sleeps).
    /// Nothing but a load where no task was started (a world, `io-threads` > 1, an in-process
    /// engine): there several threads serve the engine, and a counter they all bumped would
    /// bounce its cache line between their cores on every read.
    #[inline]
    pub fn note_read(&self) {
        let inner = &*self.inner;
        if !inner.started.load(Ordering::Relaxed) {
            return;
        }
        inner.reads.fetch_add(1, Ordering::SeqCst);
        // SeqCst pairs with the task's store of `parked` then load of `reads`: either this load
        // sees `parked`, or the task sees the new count and does not sleep.
        if inner.parked.load(Ordering::SeqCst) && inner.parked.swap(false, Ordering::SeqCst) {
            inner.wake.notify_one();
        }
    }

    /// Start the polling task on the current tokio runtime, polling at most `max` after the last
    /// read. Nothing happens for a zero `max` or when a task was started already.
    pub fn start(&self, max: Duration) {
        if max.is_zero() || self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.run(max).await });
    }
}

impl Inner {
    /// Poll while reads keep coming, sleep after a quiet window; adapt the window.
    async fn run(&self, max: Duration) {
        let mut window = Duration::ZERO;
        loop {
            let mut seen = self.reads.load(Ordering::Relaxed);
            let mut last_read = Instant::now();
            let mut quiet_polls = 0u32;
            loop {
                // The worker polls the I/O driver (epoll_wait with a zero timeout) before it
                // runs this task again, and runs whatever connection became ready first.
                tokio::task::yield_now().await;
                let reads = self.reads.load(Ordering::Relaxed);
                if reads != seen {
                    seen = reads;
                    quiet_polls = 0;
                    continue;
                }
                // The clock is read on the first quiet poll and every 4th after it (a poll
                // costs a system call, about a microsecond; tokio reads the clock on each too),
                // and the core is offered to any other runnable thread (`sched_yield`): on a
                // machine with more runnable threads than cores, the poll must not keep a
                // client — perhaps the very one it waits for — off the core.
                if quiet_polls.is_multiple_of(4) {
                    if quiet_polls > 0 {
                        std::thread::yield_now();
                    }
                    let now = Instant::now();
                    if quiet_polls == 0 {
                        last_read = now;
                    } else if now.duration_since(last_read) >= window {
                        break;
                    }
                }
                quiet_polls += 1;
                if window.is_zero() {
                    break;
                }
            }
            self.parked.store(true, Ordering::SeqCst);
            if self.reads.load(Ordering::SeqCst) != seen {
                // A read came between the last check and the store: poll on.
                self.parked.store(false, Ordering::SeqCst);
                continue;
            }
            self.sleeps.fetch_add(1, Ordering::Relaxed);
            self.wake.notified().await;
            window = adapt(window, last_read.elapsed(), max);
        }
    }
}

/// The next window after a sleep: `quiet` is how long nothing was read (from the last read to
/// the one that woke the task).
fn adapt(window: Duration, quiet: Duration, max: Duration) -> Duration {
    if quiet <= max {
        (window * 2).clamp(GROW_START.min(max), max)
    } else {
        let half = window / 2;
        if half < GROW_START {
            Duration::ZERO
        } else {
            half
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_grows_on_short_gaps_and_shrinks_on_long_ones() {
        let max = Duration::from_micros(50);
        let us = Duration::from_micros;
        // Short gaps: 0 → 4 → 8 → 16 → 32 → 50 → 50.
        let mut w = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..6 {
            w = adapt(w, us(20), max);
            seen.push(w.as_micros());
        }
        assert_eq!(seen, [4, 8, 16, 32, 50, 50]);
        // Long gaps: 50 → 25 → 12 → 6 → 0 (below the start) → 0.
        let mut seen = Vec::new();
        for _ in 0..5 {
            w = adapt(w, us(5_000), max);
            seen.push(w.as_micros());
        }
        assert_eq!(seen, [25, 12, 6, 0, 0]);
        // A maximum below the start is never exceeded.
        assert_eq!(adapt(Duration::ZERO, us(1), us(2)), us(2));
    }

    /// Until the task went to sleep `n` times in all.
    async fn wait_sleeps(poll: &BusyPoll, n: u64, deadline: Instant) {
        while poll.inner.sleeps.load(Ordering::Relaxed) < n {
            assert!(
                Instant::now() < deadline,
                "the polling task did not sleep {n} times"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_read_wakes_the_parked_task_and_an_idle_one_sleeps() {
        let poll = BusyPoll::default();
        poll.start(Duration::from_micros(50));
        // Nothing read: the task sleeps after its (zero) first window.
        let deadline = Instant::now() + Duration::from_secs(10);
        wait_sleeps(&poll, 1, deadline).await;
        // A read wakes it; with no more reads it sleeps again (the window is at most 50 µs).
        poll.note_read();
        wait_sleeps(&poll, 2, deadline).await;
        poll.note_read();
        wait_sleeps(&poll, 3, deadline).await;
    }
}
