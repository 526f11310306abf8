//! INFO's `commandstats`: per command (subcommands by their full name) the calls, the time they
//! took, the calls refused before running and those that answered an error. Redis keeps these for
//! every command it serves, monitoring reads them (`cmdstat_get:calls=...`), and CONFIG RESETSTAT
//! clears them. (Error replies by code, `errorstats`, are [`crate::Stats::count_error_kind`]'s.)
//!
//! One slot of relaxed atomics per command spec ([`crate::spec::Spec::id`]): a command pays two
//! uncontended additions.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::spec::Spec;

#[derive(Default)]
struct Slot {
    calls: AtomicU64,
    micros: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// The counters of one engine.
pub struct CommandStats {
    slots: Box<[Slot]>,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats {
            slots: (0..crate::spec::count()).map(|_| Slot::default()).collect(),
        }
    }
}

impl std::fmt::Debug for CommandStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandStats").finish_non_exhaustive()
    }
}

impl CommandStats {
    /// `cmd` ran for `micros`; `failed`: it answered an error.
    #[inline]
    pub fn ran(&self, cmd: &Spec, micros: u64, failed: bool) {
        if let Some(s) = self.slots.get(cmd.id) {
            s.calls.fetch_add(1, Relaxed);
            s.micros.fetch_add(micros, Relaxed);
            if failed {
                s.failed.fetch_add(1, Relaxed);
            }
        }
    }

    /// `cmd` was refused before it ran (arity, ACL, OOM, a busy script, a redirect...).
    pub fn rejected(&self, cmd: &Spec) {
        if let Some(s) = self.slots.get(cmd.id) {
            s.rejected.fetch_add(1, Relaxed);
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for s in self.slots.iter() {
            for c in [&s.calls, &s.micros, &s.rejected, &s.failed] {
                c.store(0, Relaxed);
            }
        }
    }

    /// The `# Commandstats` section: the commands called or refused at least once, by name.
    pub fn write_commandstats(&self, out: &mut String) {
        out.push_str("# Commandstats\r\n");
        for spec in crate::spec::sorted_with_subcommands() {
            let Some(s) = self.slots.get(spec.id) else {
                continue;
            };
            let (calls, rejected) = (s.calls.load(Relaxed), s.rejected.load(Relaxed));
            if calls == 0 && rejected == 0 {
                continue;
            }
            let micros = s.micros.load(Relaxed);
            let per_call = if calls == 0 {
                0.0
            } else {
                micros as f64 / calls as f64
            };
            let _ = write!(
                out,
                "cmdstat_{}:calls={calls},usec={micros},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={}\r\n",
                spec.name,
                s.failed.load(Relaxed),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_calls_refusals_and_failures() {
        let stats = CommandStats::default();
        let get = crate::spec::find(b"get").expect("get");
        let list = crate::spec::find(b"client|list").expect("client|list");
        stats.ran(get, 3, false);
        stats.ran(get, 5, true);
        stats.rejected(list);
        let mut out = String::new();
        stats.write_commandstats(&mut out);
        assert_eq!(
            out,
            "# Commandstats\r\n\
             cmdstat_client|list:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n\
             cmdstat_get:calls=2,usec=8,usec_per_call=4.00,rejected_calls=0,failed_calls=1\r\n"
        );
        stats.reset();
        let mut out = String::new();
        stats.write_commandstats(&mut out);
        assert_eq!(out, "# Commandstats\r\n");
    }
}
