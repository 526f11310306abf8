//! The replica's side: a task that connects to the primary, performs redis-server 7.0's handshake
//! (PING, AUTH with `masteruser`/`masterauth`, REPLCONF listening-port and capa eof/psync2, PSYNC),
//! loads the RDB of a full synchronisation (`$len` or the diskless `$EOF:<mark>` form) in place of
//! the dataset, then applies the stream as the master client and acknowledges every second.
//!
//! Why the stream is applied this way: each command goes through `commands::execute` like any
//! client's (so every data type and script effect behaves as on the primary), with the keyspace
//! gate held exclusively around the batch, and its bytes are relayed verbatim into this engine's
//! feed: the AOF and this replica's own replicas get the primary's stream, and the replication
//! offset stays the primary's, so after `REPLICAOF NO ONE` siblings continue with PSYNC.
//!
//! A broken link (closed, `CLIENT KILL TYPE master`, silent past `repl-timeout`) is retried every
//! second with `PSYNC replid offset+1`, which the primary answers with `+CONTINUE` while its
//! backlog still holds the gap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::LinkState;
use crate::Engine;
use crate::client::{Client, kind};
use crate::commands::{Ctx, execute, is};
use crate::protocol::{ArgVec, Frame, Limits, Out, RequestParser};

/// What INFO and ROLE read about the link.
#[derive(Debug, Default)]
pub struct Status {
    state: AtomicU8,
    /// Unix ms of the last byte received from the primary.
    pub last_io_ms: AtomicU64,
    /// Unix ms the link went down (0: never up yet).
    pub down_since_ms: AtomicU64,
    /// Stream bytes read (processed or not).
    pub read_offset: AtomicU64,
    /// RDB bytes announced and read so far while a full synchronisation runs.
    pub sync_total: AtomicU64,
    /// RDB bytes read so far.
    pub sync_read: AtomicU64,
    /// Full synchronisations completed.
    pub full_syncs: AtomicU64,
    /// Partial resynchronisations accepted.
    pub partial_syncs: AtomicU64,
    stopped: AtomicBool,
}

impl Status {
    /// The link's state.
    pub fn state(&self) -> LinkState {
        match self.state.load(Ordering::Relaxed) {
            1 => LinkState::Connecting,
            2 => LinkState::Sync,
            3 => LinkState::Connected,
            _ => LinkState::Connect,
        }
    }

    /// Whether the stream is being applied.
    pub fn is_connected(&self) -> bool {
        self.state() == LinkState::Connected
    }

    fn set(&self, s: LinkState) {
        let v = match s {
            LinkState::Connect => 0,
            LinkState::Connecting => 1,
            LinkState::Sync => 2,
            LinkState::Connected => 3,
        };
        let was = self.state.swap(v, Ordering::Relaxed);
        if was == 3 && v != 3 {
            self.down_since_ms
                .store(crate::replication::link_ms(), Ordering::Relaxed);
        }
    }
}

/// A running link (owned by the engine's replication state).
pub struct Link {
    /// The primary's host as given.
    pub host: String,
    /// The primary's port.
    pub port: u16,
    /// What INFO and ROLE read.
    pub status: Arc<Status>,
    stop: Arc<tokio::sync::Notify>,
}

impl Link {
    /// Start following `addr` (already checked to be loopback).
    pub fn start(engine: &Engine, host: String, port: u16, addr: SocketAddr) -> Link {
        let status = Arc::new(Status::default());
        let stop = Arc::new(tokio::sync::Notify::new());
        tracing::info!("Connecting to MASTER {host}:{port}");
        let task = Task {
            engine: engine.clone(),
            addr,
            status: status.clone(),
            stop: stop.clone(),
            pending: parking_lot::Mutex::new(None),
        };
        tokio::spawn(task.run());
        Link {
            host,
            port,
            status,
            stop,
        }
    }

    /// The link's state.
    pub fn state(&self) -> LinkState {
        self.status.state()
    }

    /// Stop the task (its connection closes).
    pub fn stop(&self) {
        self.status.stopped.store(true, Ordering::Release);
        self.stop.notify_one();
        self.stop.notify_waiters();
    }
}

struct Task {
    engine: Engine,
    addr: SocketAddr,
    status: Arc<Status>,
    stop: Arc<tokio::sync::Notify>,
    /// The id a `+FULLRESYNC` announced, until the RDB that follows is loaded.
    pending: parking_lot::Mutex<Option<String>>,
}

/// Why a link attempt ended.
#[derive(Debug)]
enum End {
    /// Stop requested (REPLICAOF NO ONE / another primary / shutdown).
    Stopped,
    /// Try again in a second.
    Retry(String),
}

impl From<std::io::Error> for End {
    fn from(e: std::io::Error) -> End {
        End::Retry(e.to_string())
    }
}

type Io = TcpStream;

impl Task {
    async fn run(self) {
        let mut shutdown = self.engine.shutdown_receiver();
        loop {
            if self.stopped() || *shutdown.borrow() {
                break;
            }
            let stop = self.stop.clone();
            let attempt = tokio::select! {
                r = self.attempt() => r,
                _ = stop.notified() => End::Stopped,
                _ = shutdown.changed() => End::Stopped,
            };
            self.status.set(LinkState::Connect);
            self.engine
                .replication
                .configure(&self.engine.config.read());
            match attempt {
                End::Stopped => break,
                End::Retry(why) => {
                    tracing::warn!(master = %self.addr, "Replication link: {why}; retrying in 1 second");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = self.stop.notified() => break,
                _ = shutdown.changed() => break,
            }
        }
    }

    fn stopped(&self) -> bool {
        self.status.stopped.load(Ordering::Acquire)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(
            self.engine
                .config
                .read()
                .number("repl-timeout")
                .clamp(1, 3600) as u64,
        )
    }

    async fn attempt(&self) -> End {
        self.status.set(LinkState::Connecting);
        let timeout = self.timeout();
        let mut io = match tokio::time::timeout(timeout, TcpStream::connect(self.addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return End::Retry(format!("Error condition on socket for SYNC: {e}")),
            Err(_) => return End::Retry("Timeout connecting to the MASTER...".into()),
        };
        let _ = io.set_nodelay(true);
        tracing::info!("MASTER <-> REPLICA sync started");
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let (continued, offset) = match self.handshake(&mut io, &mut buf).await {
            Ok(r) => r,
            Err(e) => return e,
        };
        let offset = if continued {
            offset
        } else {
            match self.receive_rdb(&mut io, &mut buf, offset).await {
                Ok(()) => offset,
                Err(e) => return e,
            }
        };
        self.status.set(LinkState::Connected);
        self.engine
            .replication
            .configure(&self.engine.config.read());
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
        self.apply(&mut io, &mut buf, offset).await
    }

    /// Send one command and read its one-line reply.
    async fn call(&self, io: &mut Io, buf: &mut BytesMut, argv: &[&[u8]]) -> Result<String, End> {
        let mut req = Vec::new();
        crate::propagate::encode(&mut req, argv);
        io.write_all(&req).await?;
        self.line(io, buf).await
    }

    /// Read one reply line (without CRLF), skipping the primary's newline keepalives.
    async fn line(&self, io: &mut Io, buf: &mut BytesMut) -> Result<String, End> {
        let timeout = self.timeout();
        loop {
            while buf.first() == Some(&b'\n') {
                buf.advance(1);
            }
            if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&buf[..p]).into_owned();
                buf.advance(p + 2);
                return Ok(line);
            }
            if buf.len() > 64 * 1024 {
                return Err(End::Retry(
                    "the primary sent a line longer than 64 KB during the handshake".into(),
                ));
            }
            match tokio::time::timeout(timeout, io.read_buf(buf)).await {
                Ok(Ok(0)) => return Err(End::Retry("the primary closed the connection".into())),
                Ok(Ok(_)) => {
                    self.status
                        .last_io_ms
                        .store(crate::replication::link_ms(), Ordering::Relaxed);
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(End::Retry("Timeout reading from the MASTER".into())),
            }
        }
    }

    /// PING, AUTH, REPLCONF, PSYNC. Returns whether the primary continues (partial) and the
    /// offset the stream starts at.
    async fn handshake(&self, io: &mut Io, buf: &mut BytesMut) -> Result<(bool, u64), End> {
        let pong = self.call(io, buf, &[b"PING"]).await?;
        // Redis accepts an authentication error here: AUTH follows.
        if pong.starts_with('-')
            && !pong.starts_with("-NOAUTH")
            && !pong.starts_with("-NOPERM")
            && !pong.starts_with("-ERR operation not permitted")
        {
            return Err(End::Retry(format!(
                "Error reply to PING from master: '{pong}'"
            )));
        }
        let (auth, user, port, announce_ip) = {
            let c = self.engine.config.read();
            let announced = c.number("replica-announce-port");
            (
                c.get("masterauth").unwrap_or("").to_string(),
                c.get("masteruser").unwrap_or("").to_string(),
                if announced > 0 {
                    announced
                } else {
                    c.port() as i64
                },
                c.get("replica-announce-ip").unwrap_or("").to_string(),
            )
        };
        if !auth.is_empty() {
            let reply = if user.is_empty() {
                self.call(io, buf, &[b"AUTH", auth.as_bytes()]).await?
            } else {
                self.call(io, buf, &[b"AUTH", user.as_bytes(), auth.as_bytes()])
                    .await?
            };
            if reply.starts_with('-') {
                return Err(End::Retry(format!(
                    "Unable to AUTH to MASTER: {}",
                    reply.trim_start_matches('-')
                )));
            }
        }
        let port = port.to_string();
        let r = self
            .call(io, buf, &[b"REPLCONF", b"listening-port", port.as_bytes()])
            .await?;
        if r.starts_with('-') {
            tracing::info!(
                "(Non critical) Master does not understand REPLCONF listening-port: {r}"
            );
        }
        if !announce_ip.is_empty() {
            let _ = self
                .call(
                    io,
                    buf,
                    &[b"REPLCONF", b"ip-address", announce_ip.as_bytes()],
                )
                .await?;
        }
        let r = self
            .call(io, buf, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
            .await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
        }
        let repl = &self.engine.replication;
        let (replid, _, _) = repl.ids();
        let mine = repl.backlog.end();
        let had_history = self.status.full_syncs.load(Ordering::Relaxed) > 0
            || self.status.partial_syncs.load(Ordering::Relaxed) > 0
            || repl.backlog.active();
        let psync_offset = (mine + 1).to_string();
        let (id, off): (&[u8], &[u8]) = if had_history {
            (replid.as_bytes(), psync_offset.as_bytes())
        } else {
            (b"?", b"-1")
        };
        tracing::info!(
            "Trying a partial resynchronization (request {}:{}).",
            String::from_utf8_lossy(id),
            String::from_utf8_lossy(off)
        );
        let reply = self.call(io, buf, &[b"PSYNC", id, off]).await?;
        if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
            let mut parts = rest.split_whitespace();
            let (Some(new_id), Some(offset)) = (parts.next(), parts.next()) else {
                return Err(End::Retry(format!("Bad FULLRESYNC reply: '{reply}'")));
            };
            let Ok(offset) = offset.parse::<u64>() else {
                return Err(End::Retry(format!("Bad FULLRESYNC offset: '{reply}'")));
            };
            if new_id.len() != 40 {
                return Err(End::Retry(format!(
                    "Bad FULLRESYNC replication id: '{reply}'"
                )));
            }
            tracing::info!("Full resync from master: {new_id}:{offset}");
            self.pending_id(new_id);
            return Ok((false, offset));
        }
        if let Some(rest) = reply.strip_prefix("+CONTINUE") {
            let new_id = rest.trim();
            tracing::info!("Successful partial resynchronization with master.");
            if !new_id.is_empty() && new_id != replid {
                // The primary's history goes on under a new id: ours becomes the second one.
                let mut ids = repl.ids.lock();
                ids.replid2 = std::mem::replace(&mut ids.replid, new_id.to_string());
                ids.second_offset = mine as i64 + 1;
                drop(ids);
                // Our replicas must reconnect to learn the new id.
                super::primary::disconnect_replicas(&self.engine);
            }
            self.status.partial_syncs.fetch_add(1, Ordering::Relaxed);
            return Ok((true, mine));
        }
        Err(End::Retry(format!(
            "Unexpected reply to PSYNC from master: '{reply}'"
        )))
    }

    /// Remember the id a full synchronisation announced (taken when the RDB is loaded).
    fn pending_id(&self, id: &str) {
        *self.pending.lock() = Some(id.to_string());
    }

    /// One read of the RDB transfer into `buf` (the link's last I/O time kept, as for any read).
    async fn read_rdb_chunk(
        &self,
        io: &mut Io,
        buf: &mut BytesMut,
        timeout: Duration,
    ) -> Result<(), End> {
        match tokio::time::timeout(timeout, io.read_buf(buf)).await {
            Ok(Ok(0)) => Err(End::Retry(
                "the primary closed the connection during the RDB transfer".into(),
            )),
            Ok(Ok(_)) => {
                self.status
                    .last_io_ms
                    .store(crate::replication::link_ms(), Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(End::Retry("Timeout receiving bulk data from MASTER".into())),
        }
    }

    /// Read the RDB (`$len` or `$EOF:<mark>`) and load it in place of the dataset.
    async fn receive_rdb(&self, io: &mut Io, buf: &mut BytesMut, offset: u64) -> Result<(), End> {
        self.status.set(LinkState::Sync);
        let header = self.line(io, buf).await?;
        let Some(size) = header.strip_prefix('$') else {
            return Err(End::Retry(format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                &header[..header.len().min(64)]
            )));
        };
        let timeout = self.timeout();
        let data = if let Some(mark) = size.strip_prefix("EOF:") {
            let mark = mark.as_bytes().to_vec();
            if mark.len() != 40 {
                return Err(End::Retry(format!("Bad EOF mark from MASTER: '{header}'")));
            }
            loop {
                if buf.len() >= 40 && buf[buf.len() - 40..] == mark[..] {
                    let mut data = buf.split().to_vec();
                    data.truncate(data.len() - 40);
                    break data;
                }
                self.status
                    .sync_read
                    .store(buf.len() as u64, Ordering::Relaxed);
                buf.reserve(1 << 20);
                self.read_rdb_chunk(io, buf, timeout).await?;
            }
        } else {
            let Some(len) = size.parse::<u64>().ok().filter(|l| *l <= 1 << 40) else {
                return Err(End::Retry(format!(
                    "Bad RDB length from MASTER: '{header}'"
                )));
            };
            self.status.sync_total.store(len, Ordering::Relaxed);
            let len = len as usize;
            while buf.len() < len {
                self.status
                    .sync_read
                    .store(buf.len() as u64, Ordering::Relaxed);
                buf.reserve((len - buf.len()).min(16 << 20));
                self.read_rdb_chunk(io, buf, timeout).await?;
            }
            buf.split_to(len).to_vec()
        };
        tracing::info!(
            bytes = data.len(),
            "MASTER <-> REPLICA sync: Flushing old data and loading the DB in memory"
        );
        let engine = self.engine.clone();
        let new_id = self.pending.lock().take();
        let loaded = tokio::task::spawn_blocking(move || {
            let _gate = engine.store.gate.exclusive();
            engine.store.flush_all();
            let _ = engine.scripting.function_flush();
            let r = crate::persist::rdb_file::load_bytes(&engine, &data);
            let repl = &engine.replication;
            if let Some(id) = new_id {
                let mut ids = repl.ids.lock();
                ids.replid = id;
                ids.replid2 = "0".repeat(40);
                ids.second_offset = -1;
            }
            repl.backlog.reset(offset);
            engine.store.feed.reselect();
            r
        })
        .await
        .map_err(|e| End::Retry(format!("loading the RDB failed: {e}")))?;
        self.status.sync_total.store(0, Ordering::Relaxed);
        self.status.sync_read.store(0, Ordering::Relaxed);
        // Our own replicas had the old history: they resynchronise.
        super::primary::disconnect_replicas(&self.engine);
        match loaded {
            Ok(stats) => {
                self.status.full_syncs.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    keys = stats.keys_loaded,
                    "MASTER <-> REPLICA sync: Finished loading the RDB"
                );
                Ok(())
            }
            Err((at, what)) => Err(End::Retry(format!(
                "Failed trying to load the MASTER synchronization DB from socket: byte offset {at}: {what}"
            ))),
        }
    }

    /// Apply the stream, acknowledging every second, until the link breaks.
    async fn apply(&self, io: &mut Io, buf: &mut BytesMut, mut offset: u64) -> End {
        let engine = &self.engine;
        let addr = self.addr;
        let handle = engine.clients.register(crate::ConnContext {
            peer: addr,
            local: io.local_addr().unwrap_or(addr),
            tls: false,
            endpoint: None,
            announce: None,
        });
        handle.kind.store(kind::MASTER, Ordering::Relaxed);
        struct Unregister<'a>(&'a Engine, u64);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                self.0.clients.unregister(self.1);
            }
        }
        let _unregister = Unregister(engine, handle.id);
        let mut client = Client::new(handle.clone(), true);
        let mut parser = RequestParser::default();
        let mut out = Out::new(false);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let timeout = self.timeout();
        let mut last_io = tokio::time::Instant::now();
        loop {
            self.status
                .read_offset
                .store(offset + buf.len() as u64, Ordering::Relaxed);
            let (processed, ack_now) = match self.run_batch(&mut client, &mut parser, buf, &mut out)
            {
                Ok(r) => r,
                Err(e) => return e,
            };
            offset += processed;
            if ack_now && let Err(e) = ack(io, offset).await {
                return e.into();
            }
            tokio::select! {
                biased;
                _ = handle.kill.notified() => return End::Retry("the master client was killed (CLIENT KILL)".into()),
                r = io.read_buf(buf) => match r {
                    Ok(0) => return End::Retry("the primary closed the connection".into()),
                    Err(e) => return e.into(),
                    Ok(n) => {
                        last_io = tokio::time::Instant::now();
                        self.status.last_io_ms.store(crate::replication::link_ms(), Ordering::Relaxed);
                        engine.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                },
                _ = tick.tick() => {
                    if last_io.elapsed() > timeout {
                        return End::Retry("MASTER timeout: no data nor PING received".into());
                    }
                    if let Err(e) = ack(io, offset).await {
                        return e.into();
                    }
                }
            }
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(16 * 1024);
            }
        }
    }

    /// Execute the whole commands in `buf` as the master client (the gate held exclusively, so a
    /// snapshot for our own replicas never falls between a command and its relay). Returns the
    /// bytes consumed and whether `REPLCONF GETACK` asked for an acknowledgement.
    fn run_batch(
        &self,
        client: &mut Client,
        parser: &mut RequestParser,
        buf: &mut BytesMut,
        out: &mut Out,
    ) -> Result<(u64, bool), End> {
        let engine = &self.engine;
        if self.stopped() {
            return Err(End::Stopped);
        }
        let limits = Limits {
            unauthenticated: false,
            max_bulk: engine.hot.max_bulk.load(Ordering::Relaxed),
        };
        let mut off = 0;
        let mut getack = false;
        let mut gate = None;
        loop {
            match parser.parse(&buf[off..], limits) {
                Ok(Frame::Command { consumed }) => {
                    let frame = &buf[off..off + consumed];
                    let mut args = ArgVec::new();
                    parser.args(frame, &mut args);
                    if args.is_empty() {
                        off += consumed;
                        continue;
                    }
                    let name = args[0];
                    let replica_only = is(name, "ping")
                        || is(name, "replconf")
                        || is(name, "publish")
                        || is(name, "spublish");
                    if is(name, "replconf") {
                        getack |= args.get(1).is_some_and(|a| is(a, "getack"));
                    } else if !is(name, "ping") {
                        if gate.is_none() {
                            gate = Some((
                                engine.store.gate.exclusive(),
                                crate::propagate::ApplyingMaster::enter(),
                            ));
                            // Promoted (or pointed elsewhere) meanwhile: apply nothing more.
                            if self.stopped() {
                                return Err(End::Stopped);
                            }
                        }
                        let mut ctx = Ctx {
                            engine,
                            client,
                            out,
                            now: engine.clock().now_ms(),
                            in_exec: true,
                            retry: false,
                        };
                        execute(&mut ctx, &args);
                        client.block = None;
                        client.close_after_reply = false;
                        if out.buf.first() == Some(&b'-') {
                            tracing::warn!(
                                "== CRITICAL == This replica is applying a command from its master that failed: {}",
                                String::from_utf8_lossy(&out.buf[..out.buf.len().min(200)])
                                    .trim_end()
                            );
                        }
                        out.buf.clear();
                    }
                    engine.store.feed.relay(frame, !replica_only);
                    off += consumed;
                }
                Ok(Frame::Skip { consumed }) => {
                    engine.store.feed.relay(&buf[off..off + consumed], false);
                    off += consumed;
                }
                Ok(Frame::Incomplete { .. }) => break,
                Err(e) => {
                    return Err(End::Retry(format!(
                        "protocol error in the primary's stream: {}",
                        e.0
                    )));
                }
            }
        }
        drop(gate);
        client.flush_stats(engine);
        buf.advance(off);
        Ok((off as u64, getack))
    }
}

/// `REPLCONF ACK <offset>`.
async fn ack(io: &mut Io, offset: u64) -> std::io::Result<()> {
    let mut req = Vec::new();
    let n = offset.to_string();
    crate::propagate::encode(&mut req, &[b"REPLCONF".as_slice(), b"ACK", n.as_bytes()]);
    io.write_all(&req).await
}
