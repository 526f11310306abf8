//! The primary's side: REPLCONF, PSYNC/SYNC (a full synchronisation from a copy-on-write snapshot
//! or a partial one from the backlog), the attached replica's connection (stream out, `REPLCONF
//! ACK` in), the primary's PING every `repl-ping-replica-period`, and WAIT.
//!
//! Why the connection is taken over: after PSYNC, Redis turns the client into a replica whose
//! socket carries the stream; here the command handler only records the request
//! ([`super::ClientRepl`]) and the connection task (`conn`) hands its stream to [`serve`] once the
//! batch's replies are written, as it does for a blocked command.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::backlog::Lost;
use super::{ReplicaSummary, ensure_backlog};
use crate::Engine;
use crate::client::{Client, kind};
use crate::commands::{CmdResult, Ctx, Error, err, int_arg, is};
use crate::persist::rdb_file::WriteOptions;
use crate::persist::rdb_save::Image;
use crate::protocol::{ArgVec, Frame, Limits, RequestParser};

/// What PSYNC or SYNC asked for.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// `PSYNC replid offset` (`None`: the old SYNC, always a full synchronisation without reply
    /// line).
    pub psync: Option<(String, i64)>,
}

/// What WAIT waits for.
#[derive(Debug, Clone)]
pub struct WaitRequest {
    /// The offset replicas must have acknowledged.
    pub target: u64,
    /// How many replicas.
    pub replicas: usize,
    /// When to give up (`None`: never).
    pub deadline: Option<tokio::time::Instant>,
}

/// States of an attached replica (INFO's words).
const WAIT_BGSAVE: u8 = 0;
const SEND_BULK: u8 = 1;
const ONLINE: u8 = 2;

/// One attached replica.
#[derive(Debug)]
pub struct Attached {
    /// Its client id.
    pub id: u64,
    ip: String,
    port: u16,
    state: AtomicU8,
    /// The offset it acknowledged.
    pub ack_offset: AtomicU64,
    /// Unix ms of its last acknowledgement.
    pub ack_ms: AtomicU64,
    handle: Arc<crate::client::ClientHandle>,
}

impl Attached {
    fn summary(&self, now_ms: u64) -> ReplicaSummary {
        ReplicaSummary {
            ip: self.ip.clone(),
            port: self.port,
            state: match self.state.load(Ordering::Relaxed) {
                WAIT_BGSAVE => "wait_bgsave",
                SEND_BULK => "send_bulk",
                _ => "online",
            },
            offset: self.ack_offset.load(Ordering::Relaxed),
            lag: now_ms.saturating_sub(self.ack_ms.load(Ordering::Relaxed)) / 1000,
        }
    }
}

/// The attached replicas, in attachment order.
pub fn summaries(engine: &Engine) -> Vec<ReplicaSummary> {
    let now = crate::replication::link_ms();
    engine
        .replication
        .attached
        .lock()
        .iter()
        .map(|a| a.summary(now))
        .collect()
}

/// Close every attached replica's connection.
pub fn disconnect_replicas(engine: &Engine) {
    for a in engine.replication.attached.lock().iter() {
        a.handle.kill();
    }
}

/// Replicas that acknowledged `target`.
fn acked(engine: &Engine, target: u64) -> usize {
    engine
        .replication
        .attached
        .lock()
        .iter()
        .filter(|a| {
            a.state.load(Ordering::Relaxed) == ONLINE
                && a.ack_offset.load(Ordering::Relaxed) >= target
        })
        .count()
}

/// Whether at least `min-replicas-to-write` replicas are online with a lag of at most
/// `min-replicas-max-lag` seconds (Redis's `refreshGoodSlavesCount`).
pub fn enough_good_replicas(engine: &Engine) -> bool {
    let (min, max_lag) = {
        let c = engine.config.read();
        (
            c.number("min-replicas-to-write").max(0) as usize,
            c.number("min-replicas-max-lag").max(0) as u64,
        )
    };
    let now = crate::replication::link_ms();
    let good = engine
        .replication
        .attached
        .lock()
        .iter()
        .filter(|a| {
            a.state.load(Ordering::Relaxed) == ONLINE
                && now.saturating_sub(a.ack_ms.load(Ordering::Relaxed)) / 1000 <= max_lag
        })
        .count();
    good >= min
}

/// `REPLCONF option value ...`, as Redis 7.0's replconfCommand answers a client.
pub fn replconf(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(err::SYNTAX);
    }
    for pair in args[1..].chunks(2) {
        let (opt, value) = (pair[0], pair[1]);
        if is(opt, "listening-port") {
            let port = int_arg(value)?;
            ctx.client.repl.listening_port = Some(port.clamp(0, 65535) as u16);
        } else if is(opt, "ip-address") {
            let ip = String::from_utf8_lossy(value).into_owned();
            if ip.len() >= 46 {
                return Err(Error::msg(format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    ip.len()
                )));
            }
            ctx.client.repl.ip_address = Some(ip);
        } else if is(opt, "capa") {
            if is(value, "eof") {
                ctx.client.repl.capa_eof = true;
            } else if is(value, "psync2") {
                ctx.client.repl.capa_psync2 = true;
            }
        } else if is(opt, "ack") || is(opt, "fack") {
            // Acknowledgements travel on a replica's stream connection ([`serve`]); from an
            // ordinary client Redis ignores them without a reply.
            if ctx.client.handle.kind.load(Ordering::Relaxed) != kind::REPLICA {
                return Ok(());
            }
        } else if is(opt, "getack") {
            // Only a primary asks its replica (the link applies it, see `replica`); ignored here.
            return Ok(());
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
            // Accepted by Redis for redis-cli --rdb; redlink streams whole syncs only.
            return Err(Error::msg(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        } else {
            return Err(Error::msg(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    ctx.out.ok();
    Ok(())
}

/// `PSYNC replid offset` and `SYNC`: recorded; the connection serves the replica after the batch.
pub fn psync(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.client.handle.kind.load(Ordering::Relaxed) == kind::REPLICA {
        // Redis ignores SYNC/PSYNC from a client that already is a replica.
        return Ok(());
    }
    if super::link_status(ctx.engine).is_some_and(|s| !s.is_connected()) {
        return Err(Error::from(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    let psync = if is(args[0], "psync") {
        if args.len() != 3 {
            return Err(crate::commands::arity_error("psync"));
        }
        let offset = crate::protocol::parse_i64(args[2]).unwrap_or(-1);
        Some((String::from_utf8_lossy(args[1]).into_owned(), offset))
    } else {
        None
    };
    ctx.client.repl.sync = Some(SyncRequest { psync });
    Ok(())
}

/// `WAIT numreplicas timeout`: inside MULTI or with nothing to wait for, answered at once;
/// otherwise the connection waits ([`wait_for_acks`]).
pub fn wait(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if super::link_status(ctx.engine).is_some() {
        return Err(Error::from(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let n = int_arg(args[1])?;
    let t = int_arg(args[2])?;
    if t < 0 {
        return Err(Error::from("ERR timeout is negative"));
    }
    let target = ctx.engine.repl_offset();
    let have = acked(ctx.engine, target);
    if ctx.in_exec || have as i64 >= n {
        ctx.out.int(have as i64);
        return Ok(());
    }
    ctx.client.repl.wait = Some(WaitRequest {
        target,
        replicas: n.max(0) as usize,
        deadline: (t > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(t as u64)),
    });
    Ok(())
}

/// Ask every replica for an acknowledgement (`REPLCONF GETACK *` on the stream).
pub fn request_acks(engine: &Engine) {
    engine
        .store
        .feed
        .publish_to_replicas(&[b"REPLCONF".as_slice(), b"GETACK", b"*"]);
}

/// Wait until `n` replicas acknowledged `target` or the deadline passed; the number that did.
pub async fn wait_for_acks(
    engine: &Engine,
    target: u64,
    n: usize,
    deadline: Option<tokio::time::Instant>,
) -> usize {
    let mut asked = false;
    loop {
        let notified = engine.replication.acked.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let have = acked(engine, target);
        if have >= n {
            return have;
        }
        if !asked {
            request_acks(engine);
            asked = true;
        }
        let until =
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(until) => return acked(engine, target),
            // Ask again now and then (a replica that reconnected has not seen the first GETACK).
            _ = tokio::time::sleep(Duration::from_secs(1)) => asked = false,
        }
    }
}

/// Start the primary's PING to its replicas every `repl-ping-replica-period` (once per engine).
fn start_pinger(engine: &Engine) {
    if engine.replication.pinger.swap(true, Ordering::AcqRel) {
        return;
    }
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut shutdown = engine.shutdown_receiver();
        loop {
            let period = engine
                .config
                .read()
                .number("repl-ping-replica-period")
                .max(1) as u64;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(period)) => {}
                _ = shutdown.changed() => return,
            }
            if !engine.replication.attached.lock().is_empty() && !engine.store.feed.relaying() {
                engine.store.feed.publish_to_replicas(&[b"PING".as_slice()]);
            }
        }
    });
}

/// Removes the replica from the attached list however its connection ends.
struct Registration<'a> {
    engine: &'a Engine,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let r = &self.engine.replication;
        r.attached.lock().retain(|a| a.id != self.id);
        r.backlog.remove_reader(self.id);
        r.acked.notify_waiters();
    }
}

/// Serve a replica on `stream` after its PSYNC/SYNC: the reply line, the RDB of a full
/// synchronisation, then the stream until either side closes.
pub async fn serve<S>(
    engine: &Engine,
    stream: &mut S,
    client: &mut Client,
    rbuf: &mut BytesMut,
    request: SyncRequest,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let handle = client.handle.clone();
    let id = handle.id;
    handle.kind.store(kind::REPLICA, Ordering::Relaxed);
    let ip = client
        .repl
        .ip_address
        .clone()
        .unwrap_or_else(|| handle.ctx.peer.ip().to_string());
    let attached = Arc::new(Attached {
        id,
        ip,
        port: client.repl.listening_port.unwrap_or(0),
        state: AtomicU8::new(WAIT_BGSAVE),
        ack_offset: AtomicU64::new(0),
        ack_ms: AtomicU64::new(crate::replication::link_ms()),
        handle: handle.clone(),
    });
    engine.replication.attached.lock().push(attached.clone());
    let _registration = Registration { engine, id };
    start_pinger(engine);
    let (replid, _, _) = engine.replication.ids();
    let partial = request
        .psync
        .as_ref()
        .and_then(|(asked, offset)| continue_from(engine, asked, *offset));
    // Redis counts a refused PSYNC (not `PSYNC ? -1`, not SYNC) as `sync_partial_err`.
    if partial.is_none()
        && let Some((asked, _)) = &request.psync
        && asked != "?"
    {
        engine
            .replication
            .sync_partial_err
            .fetch_add(1, Ordering::Relaxed);
    }
    let offset = match partial {
        Some(from) => {
            engine
                .replication
                .sync_partial_ok
                .fetch_add(1, Ordering::Relaxed);
            engine.replication.backlog.set_reader(id, from);
            let line = if client.repl.capa_psync2 {
                format!("+CONTINUE {replid}\r\n")
            } else {
                "+CONTINUE\r\n".to_string()
            };
            tracing::info!(
                replica = %handle.ctx.peer,
                "Partial resynchronization request accepted. Sending {} bytes of backlog starting from offset {}.",
                engine.repl_offset() - from,
                from + 1
            );
            if stream.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            attached.state.store(ONLINE, Ordering::Relaxed);
            from
        }
        None => match full_sync(engine, stream, id, request.psync.is_some(), &attached).await {
            Some(offset) => offset,
            None => return,
        },
    };
    stream_to(engine, stream, client, rbuf, &attached, offset).await;
    tracing::info!(replica = %handle.ctx.peer, "Connection with replica lost.");
}

/// The offset a partial resynchronisation starts from, if `replid`/`psync_offset` (the replica's
/// offset + 1) continue this history and the backlog still holds it.
fn continue_from(engine: &Engine, asked: &str, psync_offset: i64) -> Option<u64> {
    let (replid, replid2, second) = engine.replication.ids();
    let known = asked == replid || (asked == replid2 && psync_offset <= second);
    if !known || psync_offset < 1 || !engine.replication.backlog.active() {
        return None;
    }
    let from = psync_offset as u64 - 1;
    engine.replication.backlog.holds_from(from).then_some(from)
}

/// Cut a snapshot at a stream offset, send `+FULLRESYNC` and the RDB; the offset the stream
/// continues from.
async fn full_sync<S>(
    engine: &Engine,
    stream: &mut S,
    id: u64,
    psync: bool,
    attached: &Attached,
) -> Option<u64>
where
    S: AsyncWrite + Unpin,
{
    let started = std::time::Instant::now();
    engine.replication.sync_full.fetch_add(1, Ordering::Relaxed);
    let worker = engine.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = tokio::task::spawn_blocking(move || {
        let gate = worker.store.gate.exclusive();
        ensure_backlog(&worker);
        // The stream after the snapshot starts with SELECT.
        worker.store.feed.reselect();
        let offset = worker.replication.backlog.end();
        worker.replication.backlog.set_reader(id, offset);
        let (replid, _, _) = worker.replication.ids();
        let _ = tx.send((replid, offset));
        let opts = WriteOptions::from_config(&worker.config.read());
        // One snapshot at a time: while a BGSAVE or an AOF rewrite runs, the live keyspace is
        // written with the gate held (clients wait, as with SAVE).
        match Image::cut(&worker) {
            Some(image) => {
                drop(gate);
                image.write(&worker.store, Vec::new(), opts)
            }
            None => Image::live(&worker).write(&worker.store, Vec::new(), opts),
        }
    });
    let (replid, offset) = rx.await.ok()?;
    tracing::info!(
        "Starting BGSAVE for SYNC with target: replicas sockets (redlink: copy-on-write snapshot at offset {offset})"
    );
    if psync {
        let line = format!("+FULLRESYNC {replid} {offset}\r\n");
        stream.write_all(line.as_bytes()).await.ok()?;
        stream.flush().await.ok()?;
    }
    let (rdb, keys) = match job.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::warn!("Can't write the RDB for a replica: {e}");
            return None;
        }
        Err(_) => return None,
    };
    attached.state.store(SEND_BULK, Ordering::Relaxed);
    stream
        .write_all(format!("${}\r\n", rdb.len()).as_bytes())
        .await
        .ok()?;
    stream.write_all(&rdb).await.ok()?;
    stream.flush().await.ok()?;
    engine
        .stats
        .net_output_bytes
        .fetch_add(rdb.len() as u64, Ordering::Relaxed);
    tracing::info!(
        keys,
        bytes = rdb.len(),
        ms = started.elapsed().as_millis() as u64,
        "Synchronization with replica succeeded"
    );
    attached.state.store(ONLINE, Ordering::Relaxed);
    Some(offset)
}

/// Send the stream from `offset` and read the replica's acknowledgements until the connection
/// ends, the replica is killed, falls out of the backlog, or stays silent past `repl-timeout`.
async fn stream_to<S>(
    engine: &Engine,
    stream: &mut S,
    client: &mut Client,
    rbuf: &mut BytesMut,
    attached: &Attached,
    mut offset: u64,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let backlog = &engine.replication.backlog;
    let mut grown = backlog.subscribe();
    let mut shutdown = engine.shutdown_receiver();
    let mut parser = RequestParser::default();
    let handle = client.handle.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        if handle.killed.load(Ordering::Acquire) || *shutdown.borrow() {
            return;
        }
        grown.borrow_and_update();
        loop {
            match backlog.read(offset, 1 << 20) {
                Ok(bytes) if bytes.is_empty() => break,
                Ok(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                    offset += bytes.len() as u64;
                    backlog.set_reader(attached.id, offset);
                    engine
                        .stats
                        .net_output_bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                Err(Lost) => {
                    tracing::warn!(
                        replica = %handle.ctx.peer,
                        "Client scheduled to be closed ASAP for overcoming of output buffer limits (replica fell out of the backlog)."
                    );
                    return;
                }
            }
        }
        if stream.flush().await.is_err() {
            return;
        }
        tokio::select! {
            biased;
            _ = handle.kill.notified() => return,
            _ = shutdown.changed() => return,
            r = grown.changed() => if r.is_err() { return },
            r = stream.read_buf(rbuf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    engine.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    if !read_acks(engine, &mut parser, rbuf, attached) {
                        return;
                    }
                }
            },
            _ = tick.tick() => {
                let timeout = engine.config.read().number("repl-timeout").max(1) as u64 * 1000;
                if crate::replication::link_ms().saturating_sub(attached.ack_ms.load(Ordering::Relaxed)) > timeout {
                    tracing::warn!(replica = %handle.ctx.peer, "Disconnecting timedout replica");
                    return;
                }
            }
        }
    }
}

/// Apply what the replica sent (`REPLCONF ACK offset [FACK offset]`; anything else is ignored);
/// `false` on a protocol error.
fn read_acks(
    engine: &Engine,
    parser: &mut RequestParser,
    rbuf: &mut BytesMut,
    attached: &Attached,
) -> bool {
    use bytes::Buf;
    let limits = Limits {
        unauthenticated: false,
        max_bulk: 1 << 20,
    };
    let mut off = 0;
    loop {
        match parser.parse(&rbuf[off..], limits) {
            Ok(Frame::Command { consumed }) => {
                let frame = &rbuf[off..off + consumed];
                let mut args = ArgVec::new();
                parser.args(frame, &mut args);
                if args.len() >= 3
                    && is(args[0], "replconf")
                    && is(args[1], "ack")
                    && let Some(n) = crate::protocol::parse_i64(args[2])
                {
                    attached
                        .ack_offset
                        .fetch_max(n.max(0) as u64, Ordering::Relaxed);
                    attached
                        .ack_ms
                        .store(crate::replication::link_ms(), Ordering::Relaxed);
                    attached.state.store(ONLINE, Ordering::Relaxed);
                    engine.replication.acked.notify_waiters();
                }
                off += consumed;
            }
            Ok(Frame::Skip { consumed }) => off += consumed,
            Ok(Frame::Incomplete { .. }) => break,
            Err(_) => return false,
        }
    }
    rbuf.advance(off);
    true
}
