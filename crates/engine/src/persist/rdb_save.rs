//! SAVE, BGSAVE and the `save` schedule: when the dataset is written to `dir/dbfilename`, and what
//! INFO persistence, LASTSAVE and MISCONF report about it.
//!
//! SAVE writes the keyspace in place while its caller holds the gate exclusively (clients wait, as
//! with redis-server's SAVE). BGSAVE cuts a [`Snapshot`] (the gate held exclusively for a few
//! microseconds) and writes it on a thread of its own while clients carry on (copy-on-write per
//! shard, see [`crate::store::snapshot`]). Either
//! writes `temp-<pid>.rdb` in `dir`, fsyncs it, renames it over `dbfilename` and fsyncs the directory,
//! so a crash leaves the old file or the new one, never half of one.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use super::rdb_file::{WriteOptions, Writer};
use crate::Engine;
use crate::store::snapshot::Snapshot;
use crate::store::{SHARDS, Store};

/// redis-server's MISCONF refusal of writes after a failed background save.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Seconds between retries of a failed scheduled BGSAVE (Redis's `CONFIG_BGSAVE_RETRY_DELAY`).
const RETRY_DELAY_SECS: u64 = 5;

/// What redis-server's INFO persistence reports about RDB saves, and the schedule's state.
#[derive(Debug)]
pub struct RdbState {
    /// Loading a file at start (INFO `loading`).
    pub loading: AtomicBool,
    /// Unix seconds of the last successful save (LASTSAVE); the start time before any.
    lastsave: AtomicU64,
    /// The change counter's value the last successful save covered.
    dirty_saved: AtomicU64,
    /// Whether the last background save succeeded.
    last_bgsave_ok: AtomicBool,
    /// Seconds the last background save took (-1: none yet).
    last_bgsave_secs: AtomicI64,
    /// Unix ms the running background save started (0: none).
    bgsave_started_ms: AtomicU64,
    /// BGSAVE SCHEDULE waiting for the running snapshot to end.
    scheduled: AtomicBool,
    /// Unix seconds of the last background save attempt (failed attempts retry after 5 s).
    last_attempt: AtomicU64,
    /// Successful saves (INFO `rdb_saves`).
    saves: AtomicU64,
    /// Keys loaded and skipped as expired by the last load.
    pub last_load_keys_loaded: AtomicU64,
    /// Keys skipped as expired by the last load.
    pub last_load_keys_expired: AtomicU64,
}

impl RdbState {
    /// Start LASTSAVE at `clock`'s time (a new engine on a manual clock).
    pub fn restamp(&self, clock: &crate::store::Clock) {
        self.lastsave
            .store(clock.now_ms() / 1000, Ordering::Relaxed);
    }
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            loading: AtomicBool::new(false),
            // Wall time here; `Engine::with_clock` restamps it with the engine's clock.
            lastsave: AtomicU64::new(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            ),
            dirty_saved: AtomicU64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            bgsave_started_ms: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
            last_attempt: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
        }
    }
}

/// A snapshot of the keyspace and the function libraries at one instant.
pub struct Image {
    /// `None`: the live keyspace, read in place by a writer that holds the gate exclusively
    /// throughout (SAVE while another snapshot, an AOF rewrite's, runs).
    snapshot: Option<Snapshot>,
    functions: Vec<Arc<[u8]>>,
    /// The change counter at the instant.
    dirty: u64,
}

impl Image {
    /// Cut an image; the caller holds the store's gate exclusively. `None` while another snapshot
    /// (a BGSAVE, an AOF rewrite) runs.
    pub fn cut(engine: &Engine) -> Option<Image> {
        let snapshot = engine.store.begin_snapshot()?;
        Some(Image {
            snapshot: Some(snapshot),
            functions: engine.scripting.function_codes().unwrap_or_default(),
            dirty: engine.store.events.dirty(),
        })
    }

    /// The live keyspace, for a writer that holds the gate exclusively until it is done (SAVE).
    pub fn live(engine: &Engine) -> Image {
        Image {
            snapshot: None,
            functions: engine.scripting.function_codes().unwrap_or_default(),
            dirty: engine.store.events.dirty(),
        }
    }

    /// Write the image as an RDB file to `out` (this is also an AOF base / preamble with
    /// `opts.aof_base`). Returns the sink and the number of keys written.
    pub fn write<W: Write>(
        self,
        store: &Store,
        out: W,
        opts: WriteOptions,
    ) -> io::Result<(W, u64)> {
        let mut w = Writer::new(out, opts)?;
        for code in &self.functions {
            w.function(code)?;
        }
        let Some(snapshot) = self.snapshot else {
            for db in 0..store.databases() {
                let db = store.db(db);
                let (keys, expires) = (db.len(), db.volatile());
                if keys == 0 {
                    continue;
                }
                w.select_db(db.index(), keys, expires)?;
                let mut failed = Ok(());
                db.lock_all(store.now_ms()).for_each_live(|n| {
                    if failed.is_ok() {
                        failed = w.entry(&n.key, &n.value, n.expire);
                    }
                });
                failed?;
            }
            let keys = w.keys();
            return Ok((w.finish()?, keys));
        };
        for (db, &(keys, expires)) in snapshot.sizes.iter().enumerate() {
            if keys == 0 {
                continue;
            }
            w.select_db(db, keys, expires)?;
            for shard in 0..SHARDS {
                let dict = snapshot.take_shard(store, db, shard);
                for n in dict.iter() {
                    w.entry(&n.key, &n.value, n.expire)?;
                }
            }
        }
        let keys = w.keys();
        Ok((w.finish()?, keys))
    }
}

/// Where saves go: `dir/dbfilename`.
pub fn rdb_path(engine: &Engine) -> PathBuf {
    let c = engine.config.read();
    Path::new(c.get("dir").unwrap_or(".")).join(c.get("dbfilename").unwrap_or("dump.rdb"))
}

/// Whether `save` has any save point (Redis's `saveparamslen > 0`).
pub fn has_save_points(engine: &Engine) -> bool {
    !save_points(engine.config.read().get("save").unwrap_or("")).is_empty()
}

/// The `save` option's (seconds, changes) pairs.
pub fn save_points(value: &str) -> Vec<(u64, u64)> {
    let words: Vec<u64> = value
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    words.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Write `image` to `path` through `temp-<pid>.rdb` in the same directory, with fsyncs.
fn write_file(engine: &Engine, image: Image, path: &Path) -> Result<u64, String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let opts = WriteOptions::from_config(&engine.config.read());
    let file = std::fs::File::create(&tmp).map_err(|e| {
        let root = std::fs::canonicalize(dir)
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| dir.display().to_string());
        format!(
            "Failed opening the temp RDB file {} (in server root dir {root}) for saving: {e}",
            tmp.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        )
    })?;
    let written = (|| -> io::Result<u64> {
        let (out, keys) =
            image.write(&engine.store, BufWriter::with_capacity(1 << 20, file), opts)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(keys)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("Write error saving DB on disk: {e}")
    })
}

/// Record a successful save that covered the changes up to `dirty`.
fn saved(engine: &Engine, dirty: u64) {
    let rdb = &engine.rdb;
    rdb.dirty_saved.store(dirty, Ordering::Relaxed);
    rdb.lastsave
        .store(engine.clock().now_ms() / 1000, Ordering::Relaxed);
    rdb.saves.fetch_add(1, Ordering::Relaxed);
}

/// SAVE (and SHUTDOWN's, FLUSHALL's and DEBUG RELOAD's saves): write the dataset now; the caller
/// holds the gate exclusively, so nothing changes meanwhile. Redis's errors: a running BGSAVE, or
/// the reason the file could not be written.
pub fn save(engine: &Engine) -> Result<(), String> {
    if engine.rdb.bgsave_started_ms.load(Ordering::Acquire) != 0 {
        return Err("Background save already in progress".into());
    }
    // The caller holds the gate until the file is written: read the keyspace in place, no copy
    // (a running AOF rewrite's snapshot still captures each shard before this reads it).
    let image = Image::live(engine);
    let dirty = image.dirty;
    let path = rdb_path(engine);
    match write_file(engine, image, &path) {
        Ok(keys) => {
            tracing::info!("DB saved on disk ({keys} keys, {})", path.display());
            saved(engine, dirty);
            engine.rdb.last_bgsave_ok.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            tracing::warn!("{e}");
            Err(e)
        }
    }
}

/// Why BGSAVE did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BgsaveRefused {
    /// A background save is running.
    InProgress,
    /// Another snapshot (an AOF rewrite) is running.
    OtherChild,
}

/// BGSAVE: cut a snapshot (the caller holds the gate exclusively) and write it on a thread.
pub fn bgsave(engine: &Engine) -> Result<(), BgsaveRefused> {
    let rdb = &engine.rdb;
    if rdb.bgsave_started_ms.load(Ordering::Acquire) != 0 {
        return Err(BgsaveRefused::InProgress);
    }
    let image = Image::cut(engine).ok_or(BgsaveRefused::OtherChild)?;
    let started = engine.clock().now_ms();
    rdb.bgsave_started_ms.store(started, Ordering::Release);
    rdb.last_attempt.store(started / 1000, Ordering::Relaxed);
    let engine = engine.clone();
    let spawned = std::thread::Builder::new()
        .name("redlink-bgsave".into())
        .spawn(move || {
            let clock = Instant::now();
            let dirty = image.dirty;
            let path = rdb_path(&engine);
            let result = write_file(&engine, image, &path);
            let rdb = &engine.rdb;
            match &result {
                Ok(keys) => {
                    tracing::info!("Background saving terminated with success ({keys} keys)");
                    saved(&engine, dirty);
                }
                Err(e) => tracing::warn!("Background saving error: {e}"),
            }
            rdb.last_bgsave_ok.store(result.is_ok(), Ordering::Relaxed);
            rdb.last_bgsave_secs
                .store(clock.elapsed().as_secs() as i64, Ordering::Relaxed);
            rdb.bgsave_started_ms.store(0, Ordering::Release);
        });
    if spawned.is_err() {
        // No thread: the snapshot was dropped with the closure.
        rdb.bgsave_started_ms.store(0, Ordering::Release);
        rdb.last_bgsave_ok.store(false, Ordering::Relaxed);
    }
    Ok(())
}

/// BGSAVE SCHEDULE while another snapshot runs: start one as soon as it ends.
pub fn schedule(engine: &Engine) {
    engine.rdb.scheduled.store(true, Ordering::Relaxed);
}

/// Whether a background save is running.
pub fn bgsave_in_progress(engine: &Engine) -> bool {
    engine.rdb.bgsave_started_ms.load(Ordering::Acquire) != 0
}

/// Changes since the last successful save (INFO `rdb_changes_since_last_save`).
pub fn changes_since_save(engine: &Engine) -> u64 {
    engine
        .store
        .events
        .dirty()
        .saturating_sub(engine.rdb.dirty_saved.load(Ordering::Relaxed))
}

/// LASTSAVE: unix seconds of the last successful save.
pub fn lastsave(engine: &Engine) -> u64 {
    engine.rdb.lastsave.load(Ordering::Relaxed)
}

/// Whether writes are refused with [`MISCONF`]: the last background save failed, save points are
/// configured and `stop-writes-on-bgsave-error` is on (Redis's `writeCommandsDeniedByDiskError`).
pub fn writes_refused(engine: &Engine) -> bool {
    if engine.rdb.last_bgsave_ok.load(Ordering::Relaxed) {
        return false;
    }
    let c = engine.config.read();
    c.get("stop-writes-on-bgsave-error") == Some("yes")
        && !save_points(c.get("save").unwrap_or("")).is_empty()
}

/// The `save` schedule, run from the engine's cron: a scheduled BGSAVE once nothing else runs,
/// else a BGSAVE when a save point's seconds and changes are both reached (after a failure, not
/// before 5 seconds have passed), as redis-server's `serverCron` does.
pub fn cron(engine: &Engine) {
    let rdb = &engine.rdb;
    if engine.store.snapshot_running() || rdb.bgsave_started_ms.load(Ordering::Acquire) != 0 {
        return;
    }
    let now = engine.clock().now_ms() / 1000;
    let due = if rdb.scheduled.load(Ordering::Relaxed) {
        true
    } else {
        let changes = changes_since_save(engine);
        let since = now.saturating_sub(rdb.lastsave.load(Ordering::Relaxed));
        let retry_ok = rdb.last_bgsave_ok.load(Ordering::Relaxed)
            || now.saturating_sub(rdb.last_attempt.load(Ordering::Relaxed)) > RETRY_DELAY_SECS;
        let points = save_points(engine.config.read().get("save").unwrap_or(""));
        retry_ok
            && points
                .iter()
                .any(|&(secs, min_changes)| changes >= min_changes && since > secs)
    };
    if !due {
        return;
    }
    let started = {
        let _gate = engine.store.gate.exclusive();
        bgsave(engine)
    };
    if started.is_ok() {
        rdb.scheduled.store(false, Ordering::Relaxed);
    }
}

/// The INFO persistence lines about RDB (Redis 7.0's fields and order, up to the AOF ones).
pub fn info_lines(engine: &Engine, out: &mut String) {
    use std::fmt::Write as _;
    let rdb = &engine.rdb;
    let started = rdb.bgsave_started_ms.load(Ordering::Acquire);
    let current = if started == 0 {
        -1
    } else {
        (engine.clock().now_ms().saturating_sub(started) / 1000) as i64
    };
    let _ = write!(
        out,
        "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n\
         current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n\
         current_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\n\
         rdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\n\
         rdb_current_bgsave_time_sec:{current}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\n\
         rdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        rdb.loading.load(Ordering::Relaxed) as u8,
        changes_since_save(engine),
        (started != 0) as u8,
        lastsave(engine),
        if rdb.last_bgsave_ok.load(Ordering::Relaxed) {
            "ok"
        } else {
            "err"
        },
        rdb.last_bgsave_secs.load(Ordering::Relaxed),
        rdb.saves.load(Ordering::Relaxed),
        rdb.last_load_keys_expired.load(Ordering::Relaxed),
        rdb.last_load_keys_loaded.load(Ordering::Relaxed),
    );
}

/// Load `dir/dbfilename` if it exists (at start): `Ok(None)` when there is no file.
pub fn load_at_start(
    engine: &Engine,
) -> Result<Option<super::rdb_file::LoadStats>, super::rdb_file::LoadError> {
    let path = rdb_path(engine);
    if !path.exists() {
        return Ok(None);
    }
    engine.rdb.loading.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let result = super::rdb_file::load_file(engine, &path);
    engine.rdb.loading.store(false, Ordering::Relaxed);
    let stats = result?;
    engine
        .rdb
        .last_load_keys_loaded
        .store(stats.keys_loaded, Ordering::Relaxed);
    engine
        .rdb
        .last_load_keys_expired
        .store(stats.keys_expired, Ordering::Relaxed);
    // What was just loaded is on disk already.
    engine
        .rdb
        .dirty_saved
        .store(engine.store.events.dirty(), Ordering::Relaxed);
    tracing::info!(
        "DB loaded from disk: {:.3} seconds ({} keys, {} expired skipped)",
        started.elapsed().as_secs_f64(),
        stats.keys_loaded,
        stats.keys_expired
    );
    Ok(Some(stats))
}

/// Save before shutting down (SHUTDOWN, SIGTERM/SIGINT): with `save` always, with `nosave` never,
/// else when save points are configured. A running BGSAVE finishes first (redis-server kills its
/// child and saves again; here the thread cannot be killed, so its file is simply superseded).
pub fn shutdown_save(engine: &Engine, save: bool, nosave: bool) -> Result<(), String> {
    if nosave || (!save && !has_save_points(engine)) {
        return Ok(());
    }
    while bgsave_in_progress(engine) || engine.store.snapshot_running() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _gate = engine.store.gate.exclusive();
    self::save(engine)
}

/// DEBUG RELOAD: save (unless NOSAVE), empty the dataset (unless NOFLUSH/MERGE), load the file
/// (MERGE: its keys replace existing ones); the caller holds the gate exclusively. Errors are
/// Redis's texts.
pub fn reload(engine: &Engine, save: bool, flush: bool, merge: bool) -> Result<(), String> {
    if save && let Err(e) = self::save(engine) {
        tracing::warn!("DEBUG RELOAD could not save: {e}");
        return Err("ERR".into());
    }
    if flush {
        engine.store.flush_all();
        let _ = engine.scripting.function_flush();
    }
    let path = rdb_path(engine);
    match super::rdb_file::load_file_merging(engine, &path, merge) {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!("{e}");
            Err("ERR Error trying to load the RDB dump, check server logs.".into())
        }
    }
}
