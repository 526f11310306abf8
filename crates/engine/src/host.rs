//! Settings that act on the host process rather than on the keyspace: redis-server applies
//! `oom-score-adj` / `oom-score-adj-values` to its own process (the kernel's OOM killer then
//! prefers it, or spares it), and so does redlink, through `/proc/self/oom_score_adj`. Process-wide:
//! `redlink serve` runs one engine; world engines keep the default `no`, which leaves it alone.

use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::config::Config;

/// The score the process had before redlink first changed it (restored by `oom-score-adj no`).
static BASE: OnceLock<i64> = OnceLock::new();
/// Whether redlink has changed the score.
static CHANGED: Mutex<bool> = Mutex::new(false);

const PATH: &str = "/proc/self/oom_score_adj";

fn read() -> Result<i64, String> {
    std::fs::read_to_string(PATH)
        .map_err(|e| format!("cannot read {PATH}: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("cannot parse {PATH}: {e}"))
}

/// Apply `oom-score-adj` and `oom-score-adj-values` like Redis's `setOOMScoreAdj` for a primary
/// (the first of the three values): `absolute` sets it, `relative`/`yes` adds it to the score the
/// process started with, `no` restores that score if redlink changed it. Clamped to -1000..=1000.
pub fn apply_oom_score_adj(config: &Config) -> Result<(), String> {
    let mode = config.get("oom-score-adj").unwrap_or("no");
    let value: i64 = config
        .get("oom-score-adj-values")
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut changed = CHANGED.lock();
    if mode == "no" && !*changed {
        return Ok(());
    }
    let base = match BASE.get() {
        Some(b) => *b,
        None => *BASE.get_or_init(|| read().unwrap_or(0)),
    };
    let target = match mode {
        "no" => base,
        "absolute" => value,
        _ => base + value,
    }
    .clamp(-1000, 1000);
    std::fs::write(PATH, target.to_string())
        .map_err(|e| format!("Failed to set current oom_score_adj ({e})"))?;
    *changed = mode != "no";
    Ok(())
}
