//! Moving keys between nodes. Two ways, both Redis's semantics:
//! - [`ClusterTopology::migrate_slots`]: the engine API a world's live reshard uses. For each slot:
//!   SETSLOT IMPORTING on the target, MIGRATING on the source, keys moved in batches (each key
//!   atomically: taken out of the source under its shard lock and put into the target before that
//!   lock is released, so no client sees it in neither or both), then SETSLOT NODE. Between
//!   batches clients get `-ASK` for keys already moved and `-MOVED` once the slot is done.
//! - MIGRATE (the command, [`send`]): a real client connection to `host:port` (loopback
//!   only) sending AUTH/AUTH2, SELECT and (ASKING +) RESTORE with DUMP payloads, as redis-server
//!   does, deleting the keys here unless COPY.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::slot::key_slot;
use super::topology::ClusterTopology;
use crate::Engine;
use crate::notify::class;
use crate::propagate::Op;
use crate::store::Blob;

/// How a live migration proceeds.
#[derive(Debug, Clone, Copy)]
pub struct MigrationPace {
    /// Keys moved per batch (each batch holds the two engines' gates shared only while it runs).
    pub batch: usize,
    /// Pause after each batch (lets clients run, and see `-ASK`, mid-move).
    pub pause: Duration,
}

impl Default for MigrationPace {
    fn default() -> Self {
        MigrationPace {
            batch: 100,
            pause: Duration::ZERO,
        }
    }
}

/// What a migration did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Slots now served by the target.
    pub slots: usize,
    /// Keys moved.
    pub keys: usize,
}

impl ClusterTopology {
    /// Move `slots` from node `from` to node `to` live (both engines attached), as
    /// `redis-cli --cluster reshard` does with SETSLOT and MIGRATE. Only one migration runs at a
    /// time per topology. Blocking: call it from a blocking thread (or [`Self::migrate_slots_async`]).
    pub fn migrate_slots(
        &self,
        from: usize,
        to: usize,
        slots: &[u16],
        pace: MigrationPace,
    ) -> Result<MigrationReport, String> {
        let _one_at_a_time = self.migration_lock.lock();
        let source = self
            .engine(from)
            .ok_or_else(|| format!("node {from} has no running engine"))?;
        let target = self
            .engine(to)
            .ok_or_else(|| format!("node {to} has no running engine"))?;
        if from == to {
            return Err("the source and the target are the same node".into());
        }
        let mut report = MigrationReport::default();
        for &slot in slots {
            if self.owner(slot) != Some(from) {
                return Err(format!("slot {slot} is not served by node {from}"));
            }
        }
        for &slot in slots {
            self.set_importing(to, slot, from)
                .map_err(|e| e.trim_start_matches("ERR ").to_string())?;
            self.set_migrating(from, slot, to)
                .map_err(|e| e.trim_start_matches("ERR ").to_string())?;
            let keys = keys_in_slots(&source, &[slot], usize::MAX);
            for batch in keys.chunks(pace.batch.max(1)) {
                report.keys += move_keys(&source, &target, batch);
                if !pace.pause.is_zero() {
                    std::thread::sleep(pace.pause);
                }
            }
            self.set_node(to, slot, to)?;
            report.slots += 1;
        }
        Ok(report)
    }

    /// [`Self::migrate_slots`] on a blocking thread.
    pub async fn migrate_slots_async(
        self: &std::sync::Arc<Self>,
        from: usize,
        to: usize,
        slots: Vec<u16>,
        pace: MigrationPace,
    ) -> Result<MigrationReport, String> {
        let t = self.clone();
        tokio::task::spawn_blocking(move || t.migrate_slots(from, to, &slots, pace))
            .await
            .map_err(|e| format!("migration task failed: {e}"))?
    }
}

/// Up to `limit` live keys of database 0 in these slots (SCAN over the keyspace).
pub fn keys_in_slots(engine: &Engine, slots: &[u16], limit: usize) -> Vec<Blob> {
    keys_in_db_slots(engine, 0, slots, limit)
}

/// Up to `limit` live keys of database `db` in these slots.
pub fn keys_in_db_slots(engine: &Engine, db: usize, slots: &[u16], limit: usize) -> Vec<Blob> {
    let db = engine.store.db(db);
    // A cluster node keeps the keys of each slot (`slot_index`): no scan.
    if let Some(index) = db.slot_index() {
        let mut keys = Vec::new();
        for &slot in slots {
            if keys.len() >= limit {
                break;
            }
            keys.extend(index.keys(slot, limit - keys.len()));
        }
        return keys;
    }
    let now = engine.clock().now_ms();
    let (mut cursor, mut page, mut keys) = (0u64, Vec::new(), Vec::new());
    loop {
        page.clear();
        cursor = db.scan(cursor, 1000, now, &mut page);
        for (k, _) in page.drain(..) {
            if slots.contains(&key_slot(&k)) && keys.len() < limit {
                keys.push(k);
            }
        }
        if cursor == 0 || keys.len() >= limit {
            return keys;
        }
    }
}

/// Move these keys (database 0) from `source` to `target`, each atomically; returns how many moved
/// (a key deleted or expired meanwhile is skipped).
fn move_keys(source: &Engine, target: &Engine, keys: &[Blob]) -> usize {
    // No command of the source is between its slot check and its end while keys move (taken
    // before the gates: a command holding the fence may be waiting for a gate).
    let _fence = source.cluster.get().map(|m| m.fence.write());
    let _source_gate = source.store.gate.shared(0);
    let _target_gate = target.store.gate.shared(0);
    let now = source.clock().now_ms();
    let (sdb, tdb) = (source.store.db(0), target.store.db(0));
    let mut moved = 0;
    for key in keys {
        let mut s = sdb.lock(key, now);
        let Some(expire) = s.expire_of(key) else {
            continue;
        };
        let Some(value) = s.remove(key) else {
            continue;
        };
        let payload = target.store.feed.active().then(|| crate::rdb::dump(&value));
        let mut t = tdb.lock(key, now);
        t.set(key, value, expire);
        t.notify(class::GENERIC, "restore", key);
        drop(t);
        if let Some(payload) = payload {
            let ttl = expire.to_string();
            let mut argv: Vec<Vec<u8>> = vec![
                b"RESTORE".to_vec(),
                key.to_vec(),
                ttl.into_bytes(),
                payload,
                b"REPLACE".to_vec(),
            ];
            if expire != 0 {
                argv.push(b"ABSTTL".to_vec());
            }
            target.store.feed.publish(&[Op {
                db: 0,
                argv,
                replicas_only: false,
            }]);
        }
        source.store.feed.deleted(0, key);
        s.notify(class::GENERIC, "del", key);
        moved += 1;
    }
    moved
}

/// redis-server's MIGRATE errors.
pub const IOERR: &str = "IOERR error or timeout connecting to the client";

/// Parsed MIGRATE arguments.
#[derive(Debug, Default)]
pub struct MigrateRequest<'a> {
    /// Destination host and port.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// Destination database.
    pub db: i64,
    /// Timeout in milliseconds.
    pub timeout_ms: u64,
    /// Keep the keys here.
    pub copy: bool,
    /// Replace existing keys there.
    pub replace: bool,
    /// AUTH / AUTH2 arguments.
    pub auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    /// The keys.
    pub keys: Vec<&'a [u8]>,
}

/// Parse `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
/// [AUTH2 username password] [KEYS key ...]` with Redis's checks and texts.
pub fn parse_migrate<'a>(args: &[&'a [u8]]) -> Result<MigrateRequest<'a>, &'static str> {
    use crate::commands::is;
    let mut r = MigrateRequest::default();
    let mut first_key = 3;
    let mut num_keys = 1;
    let mut i = 6;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(args[i], "COPY") {
            r.copy = true;
        } else if is(args[i], "REPLACE") {
            r.replace = true;
        } else if is(args[i], "AUTH") {
            if more == 0 {
                return Err("ERR syntax error");
            }
            i += 1;
            r.auth = Some((None, args[i]));
        } else if is(args[i], "AUTH2") {
            if more < 2 {
                return Err("ERR syntax error");
            }
            r.auth = Some((Some(args[i + 1]), args[i + 2]));
            i += 2;
        } else if is(args[i], "KEYS") {
            if !args[3].is_empty() {
                return Err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                );
            }
            first_key = i + 1;
            num_keys = args.len() - i - 1;
            break;
        } else {
            return Err("ERR syntax error");
        }
        i += 1;
    }
    let timeout =
        crate::protocol::parse_i64(args[5]).ok_or("ERR value is not an integer or out of range")?;
    let db = crate::protocol::parse_i64(args[4])
        .filter(|d| i32::try_from(*d).is_ok())
        .ok_or("ERR value is not an integer or out of range")?;
    r.timeout_ms = if timeout <= 0 { 1000 } else { timeout as u64 };
    r.db = db;
    r.host = String::from_utf8_lossy(args[1]).into_owned();
    r.port = crate::protocol::parse_i64(args[2])
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(0);
    r.keys = args[first_key..first_key + num_keys].to_vec();
    Ok(r)
}

/// Resolve a MIGRATE destination: loopback only (redlink never opens connections elsewhere).
fn loopback_destination(host: &str, port: u16) -> Option<SocketAddr> {
    let ip: IpAddr = match host.parse() {
        Ok(ip) => ip,
        Err(_) if host.eq_ignore_ascii_case("localhost") => IpAddr::from([127, 0, 0, 1]),
        Err(_) => return None,
    };
    if !ip.is_loopback() || port == 0 {
        return None;
    }
    (ip, port).to_socket_addrs().ok()?.next()
}

/// One MIGRATE: dumps of `entries` (key, payload, ttl ms or 0) sent to the destination. `Ok` with
/// the target's verdict per key (`None` = restored, `Some(error)` = the target's error text).
pub fn send(
    req: &MigrateRequest,
    entries: &[(Vec<u8>, Vec<u8>, u64)],
    asking: bool,
) -> Result<Vec<Option<String>>, String> {
    let addr = loopback_destination(&req.host, req.port).ok_or_else(|| IOERR.to_string())?;
    let timeout = Duration::from_millis(req.timeout_ms);
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|_| IOERR.to_string())?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut expected = Vec::new(); // what each reply is for: None = preamble, Some(i) = key i
    match req.auth {
        Some((None, pass)) => crate::propagate::encode(&mut buf, &[b"AUTH".as_slice(), pass]),
        Some((Some(user), pass)) => {
            crate::propagate::encode(&mut buf, &[b"AUTH".as_slice(), user, pass])
        }
        None => {}
    }
    if req.auth.is_some() {
        expected.push(None);
    }
    let db = req.db.to_string();
    crate::propagate::encode(&mut buf, &[b"SELECT".as_slice(), db.as_bytes()]);
    expected.push(None);
    for (i, (key, payload, ttl)) in entries.iter().enumerate() {
        if asking {
            crate::propagate::encode(&mut buf, &[b"ASKING".as_slice()]);
            expected.push(None);
        }
        let ttl = ttl.to_string();
        let mut argv: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
        if req.replace {
            argv.push(b"REPLACE");
        }
        crate::propagate::encode(&mut buf, &argv);
        expected.push(Some(i));
    }
    let mut writer = stream.try_clone().map_err(|_| IOERR.to_string())?;
    writer.write_all(&buf).map_err(|_| IOERR.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut verdicts = vec![None; entries.len()];
    for what in expected {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => {
                return Err("IOERR error or timeout reading to target instance".to_string());
            }
            Ok(_) => {}
        }
        let line = line.trim_end();
        let error = line.strip_prefix('-').map(str::to_string);
        match (what, error) {
            (None, Some(e)) => return Err(format!("ERR Target instance replied with error: {e}")),
            (Some(i), Some(e)) => verdicts[i] = Some(e),
            _ => {}
        }
    }
    Ok(verdicts)
}
