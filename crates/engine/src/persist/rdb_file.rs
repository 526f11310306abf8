//! A whole RDB file as redis-server 7.0 writes and reads it (RDB version 10): the `REDIS0010` header,
//! AUX fields, function libraries (`FUNCTION2`), then per database `SELECTDB` + `RESIZEDB` and its keys
//! (`EXPIRETIME_MS` before a volatile key), `EOF` and the CRC-64 of everything before it (0 with
//! `rdbchecksum no`). Values go through the object codec DUMP/RESTORE use ([`crate::rdb`]); this
//! module only adds the file's framing, so there is one encoder of Redis's object format.
//!
//! Loading accepts RDB versions 1–11 (what redis-server 2.x–7.2 write), skips keys already expired
//! (as a master does), refuses module data it cannot have, and names the byte offset of anything it
//! refuses.

use std::io::{self, Read, Write};
use std::path::Path;

use crate::Engine;
use crate::rdb::{
    self, RdbError, Reader, crc64_update, object_type, put_len, put_object_body, put_str,
};
use crate::store::{Blob, Value};

/// The RDB version written in the header (redis-server 7.0's).
pub const FILE_RDB_VERSION: u16 = 10;
/// The newest RDB version loaded (redis-server 7.2's).
pub const MAX_LOAD_VERSION: u16 = 11;

const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION_PRE_GA: u8 = 246;
const OPCODE_MODULE_AUX: u8 = 247;
const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_EXPIRETIME: u8 = 253;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;

/// How a file is written (`rdbcompression`, `rdbchecksum`, and whether it is an AOF preamble).
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// `rdbcompression yes`: LZF-compress strings longer than 20 bytes.
    pub compression: bool,
    /// `rdbchecksum yes`: a CRC-64 trailer (else 0, which readers skip checking).
    pub checksum: bool,
    /// The `aof-base` AUX field: this RDB is the base of a multi-part AOF.
    pub aof_base: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: true,
            checksum: true,
            aof_base: false,
        }
    }
}

impl WriteOptions {
    /// The options the engine's configuration asks for.
    pub fn from_config(c: &crate::Config) -> Self {
        WriteOptions {
            compression: c.get("rdbcompression") != Some("no"),
            checksum: c.get("rdbchecksum") != Some("no"),
            aof_base: false,
        }
    }
}

/// Writes one RDB file in order: [`new`](Self::new) (header and AUX fields), [`function`](Self::function)
/// per library, then per non-empty database [`select_db`](Self::select_db) and an
/// [`entry`](Self::entry) per key, then [`finish`](Self::finish). Output is buffered and the checksum
/// kept running, so a file of any size streams through a small buffer.
pub struct Writer<W: Write> {
    out: W,
    buf: Vec<u8>,
    crc: u64,
    opts: WriteOptions,
    keys: u64,
}

const FLUSH_AT: usize = 64 * 1024;

impl<W: Write> Writer<W> {
    /// Start a file: `REDIS0010` and the AUX fields redis-server 7.0 writes.
    pub fn new(out: W, opts: WriteOptions) -> io::Result<Self> {
        let mut w = Writer {
            out,
            buf: Vec::with_capacity(FLUSH_AT * 2),
            crc: 0,
            opts,
            keys: 0,
        };
        w.buf
            .extend_from_slice(format!("REDIS{FILE_RDB_VERSION:04}").as_bytes());
        // The file's creation time is a fact about the file, not the engine's behaviour: wall time.
        let ctime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let used = crate::alloc::used_memory();
        w.aux(
            b"redis-ver",
            crate::commands::connection::REDIS_VERSION.as_bytes(),
        );
        w.aux(b"redis-bits", b"64");
        w.aux(b"ctime", ctime.to_string().as_bytes());
        w.aux(b"used-mem", used.to_string().as_bytes());
        w.aux(b"aof-base", if opts.aof_base { b"1" } else { b"0" });
        w.maybe_flush()?;
        Ok(w)
    }

    fn aux(&mut self, key: &[u8], value: &[u8]) {
        self.buf.push(OPCODE_AUX);
        put_str(&mut self.buf, key, false);
        put_str(&mut self.buf, value, false);
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.opts.checksum {
            self.crc = crc64_update(self.crc, &self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// A function library (its code, as FUNCTION LOAD took it).
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.push(OPCODE_FUNCTION2);
        put_str(&mut self.buf, code, self.opts.compression);
        self.maybe_flush()
    }

    /// Start database `db`, which holds `keys` keys of which `expires` have an expiry.
    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> io::Result<()> {
        self.buf.push(OPCODE_SELECTDB);
        put_len(&mut self.buf, db as u64);
        self.buf.push(OPCODE_RESIZEDB);
        put_len(&mut self.buf, keys as u64);
        put_len(&mut self.buf, expires as u64);
        self.maybe_flush()
    }

    /// One key of the current database; `expire` is unix ms, 0 for none.
    pub fn entry(&mut self, key: &[u8], value: &Value, expire: u64) -> io::Result<()> {
        if expire != 0 {
            self.buf.push(OPCODE_EXPIRETIME_MS);
            self.buf.extend_from_slice(&expire.to_le_bytes());
        }
        // The key goes between the type byte and the value body.
        self.buf.push(object_type(value));
        put_str(&mut self.buf, key, self.opts.compression);
        put_object_body(&mut self.buf, value, self.opts.compression);
        self.keys += 1;
        self.maybe_flush()
    }

    /// Keys written so far.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// `EOF`, the checksum, and flush; returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.push(OPCODE_EOF);
        self.flush_buf()?;
        let crc = if self.opts.checksum { self.crc } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// The file's RDB version.
    pub rdb_version: u16,
    /// Keys loaded.
    pub keys_loaded: u64,
    /// Keys skipped because they had expired (INFO's `rdb_last_load_keys_expired`).
    pub keys_expired: u64,
    /// Function libraries loaded.
    pub functions: u64,
    /// AUX fields, in file order.
    pub aux: Vec<(String, String)>,
}

/// Why a file was refused: where (file and byte offset) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Bad RDB file {file} at byte offset {offset}: {what}")]
pub struct LoadError {
    /// The file's name (`-` for a stream of unknown origin).
    pub file: String,
    /// Offset of the first byte of what was refused.
    pub offset: u64,
    /// What was wrong, in Redis's words where Redis has them.
    pub what: String,
}

fn object_error(e: RdbError) -> String {
    match e {
        RdbError::Module => {
            "The RDB file contains module data I can't load: no matching module".into()
        }
        RdbError::Unsupported => {
            "a zipmap-encoded hash (Redis < 2.6), which redlink does not load".into()
        }
        _ => "bad object encoding (truncated or corrupt value)".into(),
    }
}

/// Load an RDB file's keys and functions into `engine` (adding to what it holds; callers empty it
/// first when they replace the dataset).
pub fn load_file(engine: &Engine, path: &Path) -> Result<LoadStats, LoadError> {
    load_file_merging(engine, path, false)
}

/// [`load_file`], replacing keys already present when `merge`.
pub fn load_file_merging(
    engine: &Engine,
    path: &Path,
    merge: bool,
) -> Result<LoadStats, LoadError> {
    let file = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| LoadError {
        file: file.clone(),
        offset: 0,
        what: format!("cannot read: {e}"),
    })?;
    load_bytes_merging(engine, &data, merge).map_err(|(offset, what)| LoadError {
        file,
        offset,
        what,
    })
}

/// Load an RDB stream's keys and functions into `engine`.
pub fn load(engine: &Engine, input: &mut impl Read) -> Result<LoadStats, LoadError> {
    let mut data = Vec::new();
    input.read_to_end(&mut data).map_err(|e| LoadError {
        file: "-".into(),
        offset: 0,
        what: format!("read error: {e}"),
    })?;
    load_bytes(engine, &data).map_err(|(offset, what)| LoadError {
        file: "-".into(),
        offset,
        what,
    })
}

type Fail = (u64, String);

/// Run one read; a failure is reported at the offset where reading stopped (the start of the item
/// for values redlink cannot hold at all).
fn at<'a, T>(
    r: &mut Reader<'a>,
    start: usize,
    read: impl FnOnce(&mut Reader<'a>) -> Result<T, RdbError>,
) -> Result<T, Fail> {
    read(r).map_err(|e| {
        let pos = if matches!(e, RdbError::Module | RdbError::Unsupported) {
            start
        } else {
            r.pos.max(start)
        };
        (pos as u64, object_error(e))
    })
}

/// Parse and load a whole file held in memory (a key already present is an error).
pub fn load_bytes(engine: &Engine, data: &[u8]) -> Result<LoadStats, Fail> {
    load_bytes_merging(engine, data, false)
}

/// Parse and load a whole file held in memory; with `merge` a key already present is replaced
/// (DEBUG RELOAD MERGE) instead of refused.
pub fn load_bytes_merging(engine: &Engine, data: &[u8], merge: bool) -> Result<LoadStats, Fail> {
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return Err((0, "Wrong signature trying to load DB from file".into()));
    }
    let version = std::str::from_utf8(&data[5..9])
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|v| (1..=MAX_LOAD_VERSION).contains(v))
        .ok_or_else(|| {
            (
                5,
                format!(
                    "Can't handle RDB format version {}",
                    String::from_utf8_lossy(&data[5..9])
                ),
            )
        })?;
    let mut stats = LoadStats {
        rdb_version: version,
        ..LoadStats::default()
    };
    let mut r = Reader { data, pos: 9 };
    let store = &engine.store;
    let now = store.now_ms();
    let mut db = 0usize;
    let mut expire = 0u64;
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    loop {
        let start = r.pos;
        let op = at(&mut r, start, |r| r.byte())?;
        match op {
            OPCODE_EOF => {
                if version >= 5 {
                    let sum_at = r.pos;
                    let bytes = at(&mut r, sum_at, |r| r.take(8))?;
                    let expected = u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]));
                    if expected != 0 && rdb::crc64(&data[..sum_at]) != expected {
                        return Err((
                            sum_at as u64,
                            "Wrong RDB checksum expected: (computed checksum differs from the trailer)"
                                .into(),
                        ));
                    }
                }
                if r.pos != data.len() {
                    return Err((
                        r.pos as u64,
                        "unexpected bytes after the end of the RDB".into(),
                    ));
                }
                return Ok(stats);
            }
            OPCODE_SELECTDB => {
                let n = at(&mut r, start, |r| r.len())?;
                db = usize::try_from(n)
                    .ok()
                    .filter(|n| *n < store.databases())
                    .ok_or_else(|| {
                        (
                            start as u64,
                            format!(
                                "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                                store.databases()
                            ),
                        )
                    })?;
            }
            OPCODE_RESIZEDB => {
                at(&mut r, start, |r| r.len())?;
                at(&mut r, start, |r| r.len())?;
            }
            OPCODE_EXPIRETIME_MS => {
                let b = at(&mut r, start, |r| r.take(8))?;
                expire = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            }
            OPCODE_EXPIRETIME => {
                let b = at(&mut r, start, |r| r.take(4))?;
                expire = u64::from(u32::from_le_bytes(b.try_into().unwrap_or([0; 4]))) * 1000;
            }
            OPCODE_IDLE => idle = Some(at(&mut r, start, |r| r.len())?.saturating_mul(1000)),
            OPCODE_FREQ => freq = Some(at(&mut r, start, |r| r.byte())?),
            OPCODE_AUX => {
                let k = at(&mut r, start, |r| r.string())?;
                let v = at(&mut r, start, |r| r.string())?;
                stats.aux.push((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ));
            }
            OPCODE_MODULE_AUX => {
                return Err((
                    start as u64,
                    "The RDB file contains AUX module data I can't load: no matching module".into(),
                ));
            }
            OPCODE_FUNCTION_PRE_GA => {
                return Err((start as u64, "Pre-GA function format not supported".into()));
            }
            OPCODE_FUNCTION2 => {
                let code = at(&mut r, start, |r| r.string())?;
                engine
                    .scripting
                    .function_load(&code, merge)
                    .map_err(|e| (start as u64, format!("Failed loading library: {}", e.0)))?;
                stats.functions += 1;
            }
            _ => {
                // A key: its type byte, the key, then the value body.
                r.pos = start;
                let key: Blob;
                let value = {
                    let kind = at(&mut r, start, |r| r.byte())?;
                    key = at(&mut r, start, |r| r.string())?;
                    at(&mut r, start, |r| rdb::read_object_of(r, kind))?
                };
                if value.is_empty_collection() {
                    return Err((start as u64, "empty keys are not allowed".into()));
                }
                let (exp, i, f) = (expire, idle.take(), freq.take());
                expire = 0;
                if exp != 0 && exp <= now {
                    stats.keys_expired += 1;
                    continue;
                }
                let mut l = store.db(db).lock(&key, now);
                if !merge && l.exists(&key) {
                    return Err((
                        start as u64,
                        format!(
                            "Duplicate key '{}' found in RDB file",
                            String::from_utf8_lossy(&key)
                        ),
                    ));
                }
                l.set(&key, value, exp);
                if i.is_some() || f.is_some() {
                    l.set_access_stats(&key, i, f);
                }
                stats.keys_loaded += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb_save::Image;
    use crate::store::{Stream, StreamId, Table, ZSet};

    fn engine() -> Engine {
        Engine::new(crate::Config::default())
    }

    fn b(s: &str) -> Blob {
        Blob::from_slice(s.as_bytes())
    }

    fn sample(e: &Engine) {
        let now = e.clock().now_ms();
        let db = e.store.db(0);
        db.lock(b"s", now).set(b"s", Value::Str(b("hello")), 0);
        db.lock(b"n", now).set(b"n", Value::Str(b("12345")), 0);
        let long = "abcdefghij".repeat(50);
        db.lock(b"long", now)
            .set(b"long", Value::Str(b(&long)), now + 100_000);
        let list: std::collections::VecDeque<Blob> =
            (0..3000).map(|i| b(&format!("item{i}"))).collect();
        db.lock(b"l", now).set(b"l", Value::List(Box::new(list)), 0);
        let mut h = Table::new();
        h.insert(b"f", b("v"));
        db.lock(b"h", now).set(b"h", Value::Hash(Box::new(h)), 0);
        let mut set = Table::new();
        for i in 0..10 {
            set.insert(i.to_string().as_bytes(), ());
        }
        db.lock(b"set", now)
            .set(b"set", Value::Set(Box::new(set)), 0);
        let mut z = ZSet::new();
        z.insert(b"a", 1.5);
        z.insert(b"b", -2.0);
        db.lock(b"z", now).set(b"z", Value::ZSet(Box::new(z)), 0);
        const LIMITS: (usize, u64) = (
            crate::store::stream::NODE_MAX_BYTES,
            crate::store::stream::NODE_MAX_ENTRIES,
        );
        let mut st = Stream::new();
        for i in 1..=250u64 {
            let v = i.to_string();
            if i % 7 == 0 {
                st.append(StreamId::new(i, 0), &[b"other", v.as_bytes()], LIMITS);
            } else {
                st.append(
                    StreamId::new(i, 0),
                    &[b"f", v.as_bytes(), b"g", b"x"],
                    LIMITS,
                );
            }
        }
        let mut g = crate::store::stream::Group::new(StreamId::new(5, 0), 5);
        g.consumer(b"alice", now);
        g.assign(StreamId::new(3, 0), b"alice", now);
        st.groups.insert(b("grp"), g);
        db.lock(b"st", now)
            .set(b"st", Value::Stream(Box::new(st)), 0);
        e.store
            .db(3)
            .lock(b"other", now)
            .set(b"other", Value::Str(b("db3")), 0);
        e.store
            .db(0)
            .lock(b"gone", now)
            .set(b"gone", Value::Str(b("x")), now - 1);
    }

    fn write(e: &Engine, opts: WriteOptions) -> Vec<u8> {
        let image = {
            let _g = e.store.gate.exclusive();
            Image::cut(e).expect("no snapshot running")
        };
        image.write(&e.store, Vec::new(), opts).expect("write").0
    }

    #[test]
    fn every_type_round_trips_with_and_without_compression() {
        let a = engine();
        sample(&a);
        for compression in [true, false] {
            for checksum in [true, false] {
                let bytes = write(
                    &a,
                    WriteOptions {
                        compression,
                        checksum,
                        aof_base: false,
                    },
                );
                assert_eq!(&bytes[..9], b"REDIS0010");
                let e = engine();
                let stats = load_bytes(&e, &bytes).expect("loads");
                assert_eq!(stats.keys_loaded, 9);
                assert_eq!(stats.keys_expired, 1);
                let now = e.clock().now_ms();
                for key in [&b"s"[..], b"n", b"long", b"l", b"h", b"set", b"z", b"st"] {
                    let want = a.store.db(0).lock(key, now).get(key).cloned();
                    let got = e.store.db(0).lock(key, now).get(key).cloned();
                    match (want, got) {
                        (Some(Value::Stream(w)), Some(Value::Stream(g))) => {
                            let wa: Vec<_> = w.range(StreamId::MIN, StreamId::MAX, false).collect();
                            let ga: Vec<_> = g.range(StreamId::MIN, StreamId::MAX, false).collect();
                            assert_eq!(wa, ga);
                            assert_eq!(w.groups, g.groups);
                            assert_eq!(w.last_id, g.last_id);
                            assert_eq!(w.entries_added, g.entries_added);
                        }
                        (w, g) => assert_eq!(w, g, "{}", String::from_utf8_lossy(key)),
                    }
                }
                assert!(e.store.db(3).lock(b"other", now).exists(b"other"));
                if compression {
                    // The 500-byte repetitive string was LZF-compressed.
                    assert!(bytes.len() < 500 + 3000 * 8, "{}", bytes.len());
                }
            }
        }
    }

    #[test]
    fn corrupt_files_are_refused_with_an_offset() {
        let a = engine();
        sample(&a);
        let bytes = write(&a, WriteOptions::default());
        let mut damaged = bytes.clone();
        let at = damaged.len() / 2;
        damaged[at] ^= 0x55;
        let e = engine();
        let err = load_bytes(&e, &damaged).expect_err("refused");
        assert!(err.0 > 0, "{err:?}");
        let e = engine();
        let err = load_bytes(&e, &bytes[..bytes.len() - 20]).expect_err("truncated");
        assert!(err.0 as usize <= bytes.len(), "{err:?}");
        let e = engine();
        assert_eq!(load_bytes(&e, b"REDIS0012").expect_err("version").0, 5);
        assert_eq!(load_bytes(&e, b"NOTRDB").expect_err("magic").0, 0);
    }

    #[test]
    fn lzf_round_trips() {
        for input in [
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            "the quick brown fox jumps over the lazy dog "
                .repeat(40)
                .into_bytes(),
            (0..5000u32).map(|i| (i * 7 % 251) as u8).collect(),
        ] {
            let mut out = Vec::new();
            rdb::put_str(&mut out, &input, true);
            let mut r = Reader { data: &out, pos: 0 };
            assert_eq!(&r.string().expect("decodes")[..], &input[..]);
        }
    }
}
