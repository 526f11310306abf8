//! The append-only file, as Redis 7.0 writes it: a directory (`appenddirname`, default
//! `appendonlydir`) holding a base file (`appendonly.aof.1.base.rdb` with the RDB preamble, or
//! `.base.aof`), incremental files (`appendonly.aof.1.incr.aof`) and the manifest listing them.
//!
//! Why it is shaped this way: the AOF is one consumer of the propagation feed
//! ([`crate::propagate`]): the feed's bytes are appended to an in-memory buffer as commands run,
//! and written to the open incremental file before the replies of those commands leave
//! ([`Aof::before_reply`], called by the connection before each write to its socket), so an
//! acknowledged write is in the kernel's page cache (survives `kill -9`); with
//! `appendfsync always` it is also fsynced first (the durability promise: group commit, one fsync
//! for every write pending at that moment), with `everysec` a thread of the AOF fsyncs once a
//! second, with `no` the kernel decides.
//!
//! A rewrite (BGREWRITEAOF, `auto-aof-rewrite-*`, `CONFIG SET appendonly yes`) holds the keyspace
//! gate exclusively for an instant to cut a snapshot and open a new incremental file (later writes
//! go there), then writes the new base on a thread of its own and swaps the manifest: the old base
//! and incremental files become history and are deleted. Loading at start reads the manifest, the
//! base, then the incremental files ([`load`]).

pub mod load;
pub mod manifest;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::Engine;
use manifest::{Entry, Kind, Manifest};

/// `appendfsync` values.
const FSYNC_NO: u8 = 0;
const FSYNC_EVERYSEC: u8 = 1;
const FSYNC_ALWAYS: u8 = 2;

/// The AOF state of one engine.
#[derive(Default)]
pub struct Aof {
    /// `appendonly` is in effect (the sink reads the feed).
    on: AtomicBool,
    fsync: AtomicU8,
    no_fsync_on_rewrite: AtomicBool,
    sink: Arc<Sink>,
    /// Feed offset written to the incremental file, and fsynced.
    written: AtomicU64,
    synced: AtomicU64,
    files: Mutex<Option<Files>>,
    write_failed: AtomicBool,
    rewriting: AtomicBool,
    status: Mutex<Status>,
    cron_stop: Mutex<Option<Arc<AtomicBool>>>,
    /// `appendfsync always`: connections waiting for an fsync ask the fsync thread
    /// (`sync_wanted`) and are woken (`synced_notify`) when it is done.
    sync_wanted: Mutex<bool>,
    sync_cv: parking_lot::Condvar,
    synced_notify: tokio::sync::Notify,
}

impl std::fmt::Debug for Aof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aof")
            .field("on", &self.on.load(Ordering::Relaxed))
            .finish()
    }
}

/// The feed's consumer: bytes waiting to be written.
#[derive(Default)]
struct Sink {
    buf: Mutex<SinkBuf>,
    /// The feed offset of the last bytes appended.
    appended: AtomicU64,
    timestamps: AtomicBool,
    /// The engine's clock (`#TS` annotations), set when the sink first subscribes to the feed.
    clock: std::sync::OnceLock<crate::store::Clock>,
}

#[derive(Default)]
struct SinkBuf {
    bytes: Vec<u8>,
    offset: u64,
    last_ts: u64,
}

impl crate::propagate::Consumer for Sink {
    fn append(&self, bytes: &[u8], offset: u64) {
        let mut b = self.buf.lock();
        if self.timestamps.load(Ordering::Relaxed) {
            // aof-timestamp-enabled: Redis's `#TS:<unix seconds>` annotation when the second changes.
            let secs = self.clock.get().map_or(0, |c| c.now_ms() / 1000);
            if secs != b.last_ts {
                b.last_ts = secs;
                let line = format!("#TS:{secs}\r\n");
                b.bytes.extend_from_slice(line.as_bytes());
            }
        }
        b.bytes.extend_from_slice(bytes);
        b.offset = offset;
        self.appended.store(offset, Ordering::Release);
    }
}

/// The open AOF directory.
struct Files {
    dir: PathBuf,
    prefix: String,
    manifest: Manifest,
    incr: File,
    /// Size of the open incremental file, and of the files before it (base and older incrs).
    incr_size: u64,
    before_size: u64,
    /// Written since the last fsync.
    unsynced: bool,
    feed_id: u64,
}

impl Files {
    fn current_size(&self) -> u64 {
        self.before_size + self.incr_size
    }
}

/// What INFO persistence reports.
struct Status {
    write_error: Option<String>,
    last_rewrite_failed: bool,
    rewrites: u64,
    consecutive_failures: u64,
    last_rewrite_secs: i64,
    rewrite_started: Option<Instant>,
    /// Size of the AOF right after the last rewrite (or load): `aof_base_size`.
    base_size: u64,
    delayed_fsync: u64,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            write_error: None,
            last_rewrite_failed: false,
            rewrites: 0,
            consecutive_failures: 0,
            last_rewrite_secs: -1,
            rewrite_started: None,
            base_size: 0,
            delayed_fsync: 0,
        }
    }
}

/// Why BGREWRITEAOF did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum RewriteRefused {
    /// One is running.
    InProgress,
}

impl Aof {
    /// Whether `appendonly` is in effect.
    pub fn enabled(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// The error of the last failed write or fsync of the AOF, while it lasts (writes are then
    /// refused with MISCONF, as in Redis). One relaxed load when there is none.
    pub fn write_error(&self) -> Option<String> {
        if !self.write_failed.load(Ordering::Relaxed) {
            return None;
        }
        self.status.lock().write_error.clone()
    }

    fn set_write_error(&self, e: Option<&io::Error>) {
        let mut s = self.status.lock();
        // strerror's words, as Redis reports them (without Rust's "(os error N)").
        s.write_error = e.map(|e| {
            let t = e.to_string();
            t.split(" (os error").next().unwrap_or(&t).to_string()
        });
        self.write_failed
            .store(s.write_error.is_some(), Ordering::Relaxed);
    }

    /// Whether a rewrite runs.
    pub fn rewriting(&self) -> bool {
        self.rewriting.load(Ordering::Relaxed)
    }

    /// Before replies go out: write what the feed appended (and fsync it with `appendfsync
    /// always`), so that an acknowledged write is in the file. One relaxed load when the AOF is off.
    ///
    /// False when, with `appendfsync always`, the writes could not be made durable: the replies
    /// must not go out (Redis exits in that case; the caller closes the connection instead).
    #[inline]
    pub fn before_reply(&self) -> bool {
        if !self.on.load(Ordering::Relaxed) {
            return true;
        }
        self.catch_up(self.fsync.load(Ordering::Relaxed) == FSYNC_ALWAYS)
    }

    /// [`before_reply`](Self::before_reply) for a connection task: with `appendfsync always` it
    /// waits, without blocking its thread, for the AOF's fsync thread, which covers every write
    /// pending when it starts (group commit across connections, like Redis's one fsync per event
    /// loop iteration).
    pub async fn before_reply_async(&self) -> bool {
        if !self.on.load(Ordering::Relaxed) {
            return true;
        }
        if self.fsync.load(Ordering::Relaxed) != FSYNC_ALWAYS
            || self.cron_stop.lock().is_none()
            || (self.no_fsync_on_rewrite.load(Ordering::Relaxed) && self.rewriting())
        {
            return self.before_reply();
        }
        let target = self.sink.appended.load(Ordering::Acquire);
        loop {
            let notified = std::pin::pin!(self.synced_notify.notified());
            let mut notified = notified;
            notified.as_mut().enable();
            if self.synced.load(Ordering::Acquire) >= target {
                return true;
            }
            if !self.on.load(Ordering::Relaxed) {
                return self.before_reply();
            }
            if self.write_error().is_some() {
                // Retried once here; still failing: the replies are withheld.
                return self.before_reply();
            }
            {
                *self.sync_wanted.lock() = true;
                self.sync_cv.notify_one();
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    #[cold]
    fn catch_up(&self, sync: bool) -> bool {
        let appended = self.sink.appended.load(Ordering::Acquire);
        let done = if sync { &self.synced } else { &self.written };
        if done.load(Ordering::Acquire) >= appended {
            return true;
        }
        let mut files = self.files.lock();
        if let Some(f) = files.as_mut() {
            self.drain(f, sync);
        }
        if sync && self.synced.load(Ordering::Acquire) < appended && self.write_error().is_some() {
            tracing::warn!(
                "Can't recover from AOF write error when the AOF fsync policy is 'always': the replies are withheld and the connection closed"
            );
            return false;
        }
        true
    }

    /// Write the buffered bytes to the incremental file; fsync when `sync`. Called with the files
    /// lock held: concurrent callers wait and find their bytes written (group commit).
    fn drain(&self, f: &mut Files, sync: bool) {
        let (bytes, offset) = {
            let mut b = self.sink.buf.lock();
            (std::mem::take(&mut b.bytes), b.offset)
        };
        if !bytes.is_empty() {
            match f.incr.write_all(&bytes) {
                Ok(()) => {
                    f.incr_size += bytes.len() as u64;
                    f.unsynced = true;
                    self.written.store(offset, Ordering::Release);
                    if self.write_failed.load(Ordering::Relaxed) {
                        self.set_write_error(None);
                        tracing::warn!("AOF write error looks solved, Redis can write again.");
                    }
                }
                Err(e) => {
                    tracing::warn!("Error writing to the AOF file: {e}");
                    self.set_write_error(Some(&e));
                    // Kept for the next attempt, ahead of what came since.
                    let mut b = self.sink.buf.lock();
                    let later = std::mem::replace(&mut b.bytes, bytes);
                    b.bytes.extend_from_slice(&later);
                    return;
                }
            }
        } else {
            self.written.store(offset, Ordering::Release);
        }
        if sync && f.unsynced {
            if self.no_fsync_on_rewrite.load(Ordering::Relaxed) && self.rewriting() {
                self.status.lock().delayed_fsync += 1;
                return;
            }
            match f.incr.sync_data() {
                Ok(()) => {
                    f.unsynced = false;
                    self.synced.store(offset, Ordering::Release);
                }
                Err(e) => {
                    tracing::warn!("Can't fsync the AOF file: {e}");
                    self.set_write_error(Some(&e));
                }
            }
        } else if !f.unsynced {
            self.synced.store(offset, Ordering::Release);
        }
    }

    /// Write and fsync everything pending (SHUTDOWN, appendonly no).
    pub fn flush_all(&self) {
        let mut files = self.files.lock();
        if let Some(f) = files.as_mut() {
            self.drain(f, true);
            if f.unsynced {
                let _ = f.incr.sync_data();
                f.unsynced = false;
            }
        }
    }

    /// Copy the AOF settings out of the configuration (at start and after CONFIG SET).
    pub fn configure(&self, c: &crate::Config) {
        let fsync = match c.get("appendfsync") {
            Some("always") => FSYNC_ALWAYS,
            Some("no") => FSYNC_NO,
            _ => FSYNC_EVERYSEC,
        };
        self.fsync.store(fsync, Ordering::Relaxed);
        self.no_fsync_on_rewrite.store(
            c.get("no-appendfsync-on-rewrite") == Some("yes"),
            Ordering::Relaxed,
        );
        self.sink.timestamps.store(
            c.get("aof-timestamp-enabled") == Some("yes"),
            Ordering::Relaxed,
        );
    }

    /// INFO persistence's `aof_*` lines (Redis 7.0's names and order).
    pub fn info(&self) -> String {
        // Lock order: files, then the sink's buffer or the status (as `drain`).
        let enabled = self.enabled();
        let current = self.files.lock().as_ref().map_or(0, |f| f.current_size());
        let pending = self.sink.buf.lock().bytes.len();
        let s = self.status.lock();
        let mut out = format!(
            "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:0\r\n\
             aof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\n\
             aof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\n\
             aof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n\
             module_fork_last_cow_size:0\r\n",
            enabled as u8,
            self.rewriting() as u8,
            s.last_rewrite_secs,
            s.rewrite_started
                .map_or(-1, |t| t.elapsed().as_secs() as i64),
            if s.last_rewrite_failed { "err" } else { "ok" },
            s.rewrites,
            s.consecutive_failures,
            if s.write_error.is_some() { "err" } else { "ok" },
        );
        if enabled {
            out.push_str(&format!(
                "aof_current_size:{current}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\n\
                 aof_buffer_length:{pending}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:{}\r\n",
                s.base_size, s.delayed_fsync
            ));
        }
        out
    }
}

/// Where the AOF of this configuration lives: `dir/appenddirname`, and the file name prefix.
fn location(c: &crate::Config) -> (PathBuf, String) {
    let dir = PathBuf::from(c.get("dir").unwrap_or("."));
    let sub = c.get("appenddirname").unwrap_or("appendonlydir");
    let prefix = c
        .get("appendfilename")
        .unwrap_or("appendonly.aof")
        .to_string();
    (dir.join(sub), prefix)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write the manifest atomically (temp file, fsync, rename, fsync the directory).
fn write_manifest(dir: &Path, prefix: &str, m: &Manifest) -> io::Result<()> {
    let tmp = dir.join(format!("temp-{}", manifest::manifest_name(prefix)));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(m.render().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(manifest::manifest_name(prefix)))?;
    sync_dir(dir);
    Ok(())
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Load the AOF at start when `appendonly yes` (creating an empty one when there is none), then
/// append to it. Returns whether the dataset came from the AOF (the RDB file is then not loaded,
/// as in Redis). The error names the file and byte offset of what could not be loaded.
pub fn start(engine: &Engine) -> Result<bool, String> {
    let config = engine.config.read().clone();
    engine.aof.configure(&config);
    if config.get("appendonly") != Some("yes") {
        return Ok(false);
    }
    let (dir, prefix) = location(&config);
    let truncate_ok = config.get("aof-load-truncated") != Some("no");
    let manifest_path = dir.join(manifest::manifest_name(&prefix));
    let legacy = dir
        .parent()
        .map(|d| d.join(&prefix))
        .filter(|p| p.is_file());
    if !manifest_path.exists() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't open the append-only dir {}: {e}", dir.display()))?;
        if let Some(old) = legacy {
            // A single-file AOF of Redis < 7: moved into the directory as the base, as Redis does.
            std::fs::rename(&old, dir.join(&prefix))
                .map_err(|e| format!("Can't move {} into {}: {e}", old.display(), dir.display()))?;
            let m = Manifest {
                base: Some(Entry {
                    name: prefix.clone(),
                    seq: 1,
                    kind: Kind::Base,
                }),
                ..Manifest::default()
            };
            write_manifest(&dir, &prefix, &m)
                .map_err(|e| format!("Can't write {}: {e}", manifest_path.display()))?;
            tracing::info!("Successfully migrated an old-style AOF into the AOF directory");
        } else {
            // A fresh AOF: the base written from the (empty) dataset, as Redis 7.0 does on start.
            enable(engine)?;
            return Ok(false);
        }
    }
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("Can't read {}: {e}", manifest_path.display()))?;
    let mut m =
        Manifest::parse(&text).map_err(|e| format!("{e} in {}", manifest_path.display()))?;
    let mut replayer = load::Replayer::new(engine);
    let result = load_files(engine, &mut replayer, &dir, &m, truncate_ok);
    replayer.finish(engine);
    result?;
    let before: u64 = m
        .base
        .iter()
        .chain(m.incrs.iter())
        .map(|e| file_size(&dir.join(&e.name)))
        .sum();
    // Append to the last incremental file (a new one when there is none).
    let last = match m.incrs.last() {
        Some(e) => e.clone(),
        None => {
            let e = Entry {
                name: manifest::incr_name(&prefix, m.next_incr_seq()),
                seq: m.next_incr_seq(),
                kind: Kind::Incr,
            };
            m.incrs.push(e.clone());
            write_manifest(&dir, &prefix, &m)
                .map_err(|e| format!("Can't write {}: {e}", manifest_path.display()))?;
            e
        }
    };
    let path = dir.join(&last.name);
    let incr = open_append(&path).map_err(|e| format!("Can't open {}: {e}", path.display()))?;
    let incr_size = file_size(&path);
    engine.aof.status.lock().base_size = before;
    engine.aof.sink.clock.get_or_init(|| engine.clock().clone());
    let feed_id = engine.store.feed.subscribe(engine.aof.sink.clone());
    *engine.aof.files.lock() = Some(Files {
        dir,
        prefix,
        manifest: m,
        incr,
        incr_size,
        before_size: before - incr_size,
        unsynced: false,
        feed_id,
    });
    engine.aof.on.store(true, Ordering::Relaxed);
    spawn_cron(engine);
    Ok(true)
}

/// Replay the base and incremental files of `m` in order.
fn load_files(
    engine: &Engine,
    replayer: &mut load::Replayer,
    dir: &Path,
    m: &Manifest,
    truncate_ok: bool,
) -> Result<(), String> {
    let files: Vec<&Entry> = m.base.iter().chain(m.incrs.iter()).collect();
    let count = files.len();
    for (i, e) in files.into_iter().enumerate() {
        let path = dir.join(&e.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            // Redis tolerates a missing empty incremental file only; everything else is fatal.
            Err(err) => {
                return Err(format!(
                    "The AOF file {} doesn't exist: {err}",
                    path.display()
                ));
            }
        };
        if data.starts_with(b"REDIS") {
            load_rdb_base(engine, &data, &path)?;
            continue;
        }
        match replayer.replay(engine, &data, 0, &path)? {
            load::End::Clean => {}
            load::End::Truncated(at) if i + 1 == count && truncate_ok => {
                tracing::warn!(
                    "!!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because aof-load-truncated is enabled; truncated to {at} bytes",
                    path.display()
                );
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(at))
                    .map_err(|err| {
                        format!("Error truncating the AOF file {}: {err}", path.display())
                    })?;
            }
            load::End::Truncated(at) => {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} at byte offset {at}: the file was truncated{}",
                    path.display(),
                    if i + 1 == count {
                        " (aof-load-truncated is no)"
                    } else {
                        ", and it is not the last file of the AOF"
                    }
                ));
            }
        }
    }
    Ok(())
}

/// An RDB base (the preamble), read with the RDB file codec ([`crate::persist::rdb_file`]).
fn load_rdb_base(engine: &Engine, data: &[u8], path: &Path) -> Result<(), String> {
    crate::persist::rdb_file::load_bytes(engine, data)
        .map(|_| ())
        .map_err(|(offset, what)| {
            format!(
                "Bad file format reading the append only file {} at byte offset {offset}: {what}",
                path.display()
            )
        })
}

/// Turn the AOF on at run time (`CONFIG SET appendonly yes`) or at a fresh start: a rewrite that
/// creates the base, after which writes are appended.
fn enable(engine: &Engine) -> Result<(), String> {
    if engine.aof.enabled() {
        return Ok(());
    }
    rewrite(engine, true).map_err(|e| format!("{e:?}"))
}

/// `CONFIG SET appendonly yes|no` (and the other AOF settings) took effect in the configuration.
pub fn apply_config(engine: &Engine) -> Result<(), String> {
    let c = engine.config.read().clone();
    engine.aof.configure(&c);
    let want = c.get("appendonly") == Some("yes");
    if want && !engine.aof.enabled() && !engine.aof.rewriting() {
        start_rewrite(engine, true)
            .map_err(|_| "Unable to turn on AOF. Check server logs.".to_string())?;
    } else if !want && engine.aof.enabled() {
        disable(engine);
    }
    Ok(())
}

/// Stop appending (`CONFIG SET appendonly no`): flush, fsync and close; the files stay.
fn disable(engine: &Engine) {
    let aof = &engine.aof;
    let mut files = aof.files.lock();
    if let Some(mut f) = files.take() {
        aof.drain(&mut f, true);
        let _ = f.incr.sync_data();
        engine.store.feed.unsubscribe(f.feed_id);
    }
    aof.on.store(false, Ordering::Relaxed);
    aof.sink.buf.lock().bytes.clear();
    if let Some(stop) = aof.cron_stop.lock().take() {
        stop.store(true, Ordering::Relaxed);
    }
}

/// BGREWRITEAOF: start a rewrite in the background.
pub fn bgrewrite(engine: &Engine) -> Result<(), RewriteRefused> {
    start_rewrite(engine, false)
}

fn start_rewrite(engine: &Engine, enabling: bool) -> Result<(), RewriteRefused> {
    if engine.aof.rewriting.swap(true, Ordering::AcqRel) {
        return Err(RewriteRefused::InProgress);
    }
    engine.aof.status.lock().rewrite_started = Some(Instant::now());
    let worker = engine.clone();
    if let Err(e) = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let _ = run_rewrite(&worker, enabling, true);
        })
    {
        tracing::warn!("Can't start the AOF rewrite: {e}");
        engine.aof.rewriting.store(false, Ordering::Release);
        engine.aof.status.lock().rewrite_started = None;
        return Err(RewriteRefused::InProgress);
    }
    Ok(())
}

/// A rewrite in the calling thread (start of a fresh AOF; like Redis's, not counted in
/// `aof_rewrites`).
fn rewrite(engine: &Engine, enabling: bool) -> Result<(), String> {
    if engine.aof.rewriting.swap(true, Ordering::AcqRel) {
        return Err("Background append only file rewriting already in progress".into());
    }
    engine.aof.status.lock().rewrite_started = Some(Instant::now());
    run_rewrite(engine, enabling, false)
}

use rewrite::Snapshot;

/// Copy the dataset (the caller holds the gate exclusively).
fn cut(engine: &Engine) -> Snapshot {
    let now = engine.clock().now_ms();
    let dbs = (0..engine.store.databases())
        .map(|i| {
            let locked = engine.store.db(i).lock_all(now);
            let mut keys = Vec::new();
            locked.for_each_live(|n| keys.push((n.key.to_vec(), n.value.clone(), n.expire)));
            keys
        })
        .collect();
    Snapshot {
        dbs,
        functions: engine.scripting.function_codes().unwrap_or_default(),
    }
}

/// A writer that fsyncs every 4 MB (`aof-rewrite-incremental-fsync yes`).
struct IncrementalSync {
    file: File,
    since: usize,
    every: Option<usize>,
}

impl Write for IncrementalSync {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.file.write(b)?;
        self.since += n;
        if let Some(every) = self.every
            && self.since >= every
        {
            self.file.sync_data()?;
            self.since = 0;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn run_rewrite(engine: &Engine, enabling: bool, background: bool) -> Result<(), String> {
    let result = rewrite_steps(engine, enabling);
    let aof = &engine.aof;
    {
        let mut s = aof.status.lock();
        s.last_rewrite_secs = s
            .rewrite_started
            .take()
            .map_or(-1, |t| t.elapsed().as_secs() as i64);
        match &result {
            Ok(()) => {
                s.rewrites += background as u64;
                s.consecutive_failures = 0;
                s.last_rewrite_failed = false;
            }
            Err(e) => {
                tracing::warn!("Background AOF rewrite failed: {e}");
                s.consecutive_failures += 1;
                s.last_rewrite_failed = true;
            }
        }
    }
    aof.rewriting.store(false, Ordering::Release);
    result
}

fn rewrite_steps(engine: &Engine, enabling: bool) -> Result<(), String> {
    let aof = &engine.aof;
    let config = engine.config.read().clone();
    let preamble = config.get("aof-use-rdb-preamble") != Some("no");
    // aof-disable-auto-gc yes: replaced files stay, listed as history.
    let keep_history = config.get("aof-disable-auto-gc") == Some("yes");
    let rdb_options = crate::persist::rdb_file::WriteOptions {
        aof_base: true,
        ..crate::persist::rdb_file::WriteOptions::from_config(&config)
    };
    let incremental = config.get("aof-rewrite-incremental-fsync") != Some("no");
    // 1. Under the gate: the snapshot, and a new incremental file for everything after it.
    let (snap, dir, prefix, first_new) = {
        let _gate = engine.store.gate.exclusive();
        let mut files = aof.files.lock();
        let (dir, prefix) = match files.as_ref() {
            Some(f) => (f.dir.clone(), f.prefix.clone()),
            None => location(&config),
        };
        if files.is_none() && !enabling {
            return Err("AOF is off".into());
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
        // The manifest the new incremental file joins: the open one, or what is on disk.
        let mut m = match files.as_ref() {
            Some(f) => f.manifest.clone(),
            None => std::fs::read_to_string(dir.join(manifest::manifest_name(&prefix)))
                .ok()
                .and_then(|t| Manifest::parse(&t).ok())
                .unwrap_or_default(),
        };
        let seq = m.next_incr_seq();
        let entry = Entry {
            name: manifest::incr_name(&prefix, seq),
            seq,
            kind: Kind::Incr,
        };
        let path = dir.join(&entry.name);
        let incr = open_append(&path).map_err(|e| format!("Can't open {}: {e}", path.display()))?;
        m.incrs.push(entry.clone());
        write_manifest(&dir, &prefix, &m).map_err(|e| format!("Can't write the manifest: {e}"))?;
        match files.as_mut() {
            Some(f) => {
                aof.drain(f, true);
                if f.unsynced {
                    let _ = f.incr.sync_data();
                }
                f.before_size += f.incr_size;
                f.incr = incr;
                f.incr_size = 0;
                f.unsynced = false;
                f.manifest = m;
                engine.store.feed.reselect();
            }
            None => {
                aof.sink.clock.get_or_init(|| engine.clock().clone());
                let feed_id = engine.store.feed.subscribe(aof.sink.clone());
                let before = m
                    .base
                    .iter()
                    .chain(m.incrs.iter())
                    .map(|e| file_size(&dir.join(&e.name)))
                    .sum();
                *files = Some(Files {
                    dir: dir.clone(),
                    prefix: prefix.clone(),
                    manifest: m,
                    incr,
                    incr_size: 0,
                    before_size: before,
                    unsynced: false,
                    feed_id,
                });
                aof.written
                    .store(engine.store.feed.offset(), Ordering::Release);
                aof.synced
                    .store(engine.store.feed.offset(), Ordering::Release);
                aof.on.store(true, Ordering::Relaxed);
                spawn_cron(engine);
            }
        }
        // With the preamble, a copy-on-write snapshot when none runs (a BGSAVE's may); otherwise
        // a copy of the dataset.
        let image = if preamble {
            crate::persist::rdb_save::Image::cut(engine)
        } else {
            None
        };
        let snap = match image {
            Some(image) => Base::Image(image),
            None => Base::Copy(cut(engine)),
        };
        (snap, dir, prefix, seq)
    };
    // 2. The new base, on this thread, clients carrying on.
    let base_seq = {
        let files = aof.files.lock();
        files.as_ref().map_or(1, |f| f.manifest.next_base_seq())
    };
    let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let written = (|| -> io::Result<()> {
        let file = File::create(&tmp)?;
        let mut w = IncrementalSync {
            file,
            since: 0,
            every: incremental.then_some(4 * 1024 * 1024),
        };
        let mut buffered = io::BufWriter::with_capacity(256 * 1024, &mut w);
        match snap {
            Base::Image(image) => {
                image.write(&engine.store, &mut buffered, rdb_options)?;
            }
            Base::Copy(snap) if preamble => write_rdb_copy(&snap, &mut buffered, rdb_options)?,
            Base::Copy(snap) => rewrite::write_commands(&snap, &mut buffered)?,
        }
        buffered.flush()?;
        drop(buffered);
        w.file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("Error writing the AOF base {}: {e}", tmp.display()));
    }
    let base_name = manifest::base_name(&prefix, base_seq, preamble);
    let base_path = dir.join(&base_name);
    std::fs::rename(&tmp, &base_path).map_err(|e| format!("Can't rename the AOF base: {e}"))?;
    // 3. The manifest swap: the new base and the incremental files from the new one on; the rest
    // becomes history and is deleted.
    let mut files = aof.files.lock();
    let Some(f) = files.as_mut() else {
        // Turned off meanwhile: the files stay as they are.
        return Ok(());
    };
    let mut m = f.manifest.clone();
    let mut history: Vec<Entry> = std::mem::take(&mut m.history);
    if let Some(old) = m.base.take() {
        history.push(Entry {
            kind: Kind::History,
            ..old
        });
    }
    let (old, new): (Vec<Entry>, Vec<Entry>) = m.incrs.into_iter().partition(|e| e.seq < first_new);
    history.extend(old.into_iter().map(|e| Entry {
        kind: Kind::History,
        ..e
    }));
    m.incrs = new;
    m.base = Some(Entry {
        name: base_name,
        seq: base_seq,
        kind: Kind::Base,
    });
    m.history = history;
    write_manifest(&dir, &prefix, &m).map_err(|e| format!("Can't write the manifest: {e}"))?;
    if !keep_history {
        for h in std::mem::take(&mut m.history) {
            if h.name != m.base.as_ref().map_or("", |b| b.name.as_str()) {
                let _ = std::fs::remove_file(dir.join(&h.name));
            }
        }
        write_manifest(&dir, &prefix, &m).map_err(|e| format!("Can't write the manifest: {e}"))?;
    }
    let base_size = file_size(&base_path);
    let incr_before: u64 = m.incrs[..m.incrs.len().saturating_sub(1)]
        .iter()
        .map(|e| file_size(&dir.join(&e.name)))
        .sum();
    f.before_size = base_size + incr_before;
    f.manifest = m;
    aof.status.lock().base_size = f.current_size();
    tracing::info!("Background AOF rewrite finished successfully");
    Ok(())
}

/// What a new base is written from.
enum Base {
    /// A copy-on-write snapshot (RDB preamble).
    Image(crate::persist::rdb_save::Image),
    /// A copy of the dataset.
    Copy(Snapshot),
}

/// A copy of the dataset as an RDB file (the preamble while a BGSAVE holds the snapshot).
fn write_rdb_copy(
    snap: &Snapshot,
    out: &mut impl Write,
    opts: crate::persist::rdb_file::WriteOptions,
) -> io::Result<()> {
    let mut w = crate::persist::rdb_file::Writer::new(out, opts)?;
    for code in &snap.functions {
        w.function(code)?;
    }
    for (db, keys) in snap.dbs.iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        let expires = keys.iter().filter(|(_, _, e)| *e != 0).count();
        w.select_db(db, keys.len(), expires)?;
        for (key, value, expire) in keys {
            w.entry(key, value, *expire)?;
        }
    }
    w.finish()?;
    Ok(())
}

/// The AOF's own clock (while it is on): `appendfsync everysec`, writing what no reply flushed,
/// and `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`.
fn spawn_cron(engine: &Engine) {
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(old) = engine.aof.cron_stop.lock().replace(stop.clone()) {
        old.store(true, Ordering::Relaxed);
    }
    let weak = Arc::downgrade(&engine.0);
    let (fsync_stop, fsync_weak) = (stop.clone(), weak.clone());
    let _ = std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || {
            loop {
                let Some(shared) = fsync_weak.upgrade() else {
                    return;
                };
                let aof = &shared.aof;
                {
                    let mut wanted = aof.sync_wanted.lock();
                    if !*wanted {
                        aof.sync_cv
                            .wait_for(&mut wanted, Duration::from_millis(100));
                    }
                    if !std::mem::take(&mut *wanted) {
                        if fsync_stop.load(Ordering::Relaxed) {
                            return;
                        }
                        continue;
                    }
                }
                {
                    let mut files = aof.files.lock();
                    if let Some(f) = files.as_mut() {
                        aof.drain(f, true);
                    }
                }
                aof.synced_notify.notify_waiters();
                if fsync_stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        });
    let _ = std::thread::Builder::new()
        .name("aof-cron".into())
        .spawn(move || {
            let mut last_sync = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(100));
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                let engine = Engine(shared);
                if engine.is_shutting_down() {
                    engine.aof.flush_all();
                    return;
                }
                let aof = &engine.aof;
                let everysec = aof.fsync.load(Ordering::Relaxed) == FSYNC_EVERYSEC;
                let sync = everysec && last_sync.elapsed() >= Duration::from_secs(1);
                if sync {
                    last_sync = Instant::now();
                }
                let size = {
                    let mut files = aof.files.lock();
                    let Some(f) = files.as_mut() else {
                        continue;
                    };
                    aof.drain(f, sync);
                    f.current_size()
                };
                auto_rewrite(&engine, size);
            }
        });
}

/// Redis's `auto-aof-rewrite-percentage`: rewrite once the AOF grew by that percentage over its
/// size after the last rewrite, and is at least `auto-aof-rewrite-min-size`.
fn auto_rewrite(engine: &Engine, size: u64) {
    let aof = &engine.aof;
    if aof.rewriting() {
        return;
    }
    let (perc, min) = {
        let c = engine.config.read();
        (
            c.get("auto-aof-rewrite-percentage")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0),
            c.get("auto-aof-rewrite-min-size")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0),
        )
    };
    if perc == 0 || size < min {
        return;
    }
    let base = aof.status.lock().base_size.max(1);
    let growth = (size * 100 / base).saturating_sub(100);
    if growth >= perc {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        let _ = start_rewrite(engine, false);
    }
}
