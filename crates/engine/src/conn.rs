//! One client connection: read requests, run commands, write replies, until the client leaves, is
//! killed, idles past `timeout`, or the engine shuts down.
//!
//! Pipelining falls out of the loop's shape: every complete request in the read buffer is executed
//! before the accumulated replies are written with one write.
//!
//! Memory bounds per client (Redis's client limits):
//! - Input: the read buffer holds at most one partial request beyond what was executed; past
//!   `client-query-buffer-limit` unparsed bytes the client is closed (`process`). Bulk lengths are
//!   validated against `proto-max-bulk-len` before anything is buffered for them.
//! - Output of ordinary (`normal` class) clients: replies of one batch accumulate in `out`, then the
//!   loop awaits the write of the whole batch and reads nothing more until it completed. A client that
//!   does not read its replies therefore stops being served once the socket buffers fill: its pending
//!   output is at most one batch (the replies to at most one read buffer of requests), not an
//!   unbounded queue as in Redis, which is why `normal 0 0 0` (no limit) is safe here. A configured
//!   `normal` hard limit is still enforced on that batch (a single huge reply such as `KEYS *` or
//!   `LRANGE` of a big list) before it is written.
//! - Pub/Sub and MONITOR output is produced by other clients, so it is queued in a mailbox whose
//!   size `client-output-buffer-limit` bounds (`pubsub` class for subscribers, see `pubsub.rs`).
//! - `timeout`: a client idle (nothing read or written) for that many seconds is closed, except
//!   subscribers, MONITOR clients and clients blocked in BLPOP and friends (which only wait in
//!   `wait_blocked`, where the idle timer does not run), as in Redis's `clientsCronHandleTimeout`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{Admission, Client, ClientHandle};
use tokio::sync::Notify;

use crate::commands::{Ctx, execute, write_timeout_reply};
use crate::protocol::{ArgVec, Frame, Limits, Out, RequestParser};
use crate::scripting::BusyCheck;
use crate::{ConnContext, Engine};

const READ_CHUNK: usize = 16 * 1024;
/// Largest single reservation made ahead of a big bulk argument.
const MAX_RESERVE: usize = 8 * 1024 * 1024;

struct Registration<'a> {
    engine: &'a Engine,
    handle: Arc<ClientHandle>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let id = self.handle.id;
        self.engine.pubsub.unregister_client(id);
        if self.engine.tracking.active() {
            self.engine
                .tracking
                .disable(id, true, &self.engine.store.events);
        }
        self.engine.clients.unregister(self.handle.id);
    }
}

/// Serve one connection to the end. `admission` is the connection's place among `maxclients`.
pub async fn run<S>(engine: Engine, mut stream: S, ctx: ConnContext, admission: Admission)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let _admission = admission;
    let handle = engine.clients.register(ctx);
    let registration = Registration {
        engine: &engine,
        handle: handle.clone(),
    };
    let auth_required = engine.hot.auth_required.load(Ordering::Relaxed);
    let mut client = Client::new(handle.clone(), !auth_required);
    let Some(mut inbox) = client.inbox.take() else {
        return;
    };
    engine
        .pubsub
        .register_client(handle.id, client.mailbox.clone());
    let mut out = Out::new(false);
    let mut parser = RequestParser::default();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut shutdown = engine.shutdown_receiver();
    // What the idle wait below watches besides the socket and the mailbox, made once for the
    // connection: a waiter registered once stays registered from request to request, where
    // futures made anew in every pass would each join and leave a waiter list (a lock each)
    // per request; and each is polled again only once it may have fired ([`Gate`]). Only a
    // change of `timeout` (rare) re-arms its future.
    let kill = handle.kill.notified();
    tokio::pin!(kill);
    let mut kill_gate = Gate::default();
    let stop = changed(engine.shutdown_receiver());
    tokio::pin!(stop);
    let mut stop_gate = Gate::default();
    let stop_probe = engine.shutdown_receiver();
    let timeout_changed = changed(engine.hot.timeout_changed.subscribe());
    tokio::pin!(timeout_changed);
    let mut timeout_gate = Gate::default();
    let mut timeout_probe = engine.hot.timeout_changed.subscribe();
    let clock = engine.clock().clone();
    let mut last_activity = clock.now_ms();
    'conn: loop {
        if handle.killed.load(Ordering::Acquire) || *shutdown.borrow() {
            break;
        }
        // Run what is buffered; a blocking command waits here, then the rest of the pipeline runs.
        let mut close = false;
        let batch = crate::diagnostics::stopwatch::start();
        loop {
            match process(&engine, &mut client, &mut parser, &mut rbuf, &mut out) {
                Outcome::Done => break,
                Outcome::Close => {
                    close = true;
                    break;
                }
                Outcome::Paused(until) => {
                    if flush(&engine, &mut stream, &mut out).await.is_err() {
                        break 'conn;
                    }
                    tokio::select! {
                        _ = clock.sleep_until(until) => {}
                        _ = engine.pause.ended.notified() => {}
                        _ = &mut kill => break 'conn,
                        _ = &mut stop => break 'conn,
                    }
                }
                Outcome::ScriptBusy(max) => {
                    if flush(&engine, &mut stream, &mut out).await.is_err() {
                        break 'conn;
                    }
                    tokio::select! {
                        _ = engine.scripting.wait_idle(Some(max)) => {}
                        _ = &mut kill => break 'conn,
                        _ = &mut stop => break 'conn,
                    }
                }
                Outcome::Replication => {
                    if flush(&engine, &mut stream, &mut out).await.is_err() {
                        break 'conn;
                    }
                    // PSYNC/SYNC: the connection now carries the replication stream.
                    if let Some(request) = client.repl.sync.take() {
                        crate::replication::primary::serve(
                            &engine,
                            &mut stream,
                            &mut client,
                            &mut rbuf,
                            request,
                        )
                        .await;
                        break 'conn;
                    }
                    if let Some(w) = client.repl.wait.take() {
                        tokio::select! {
                            n = crate::replication::primary::wait_for_acks(&engine, w.target, w.replicas, w.deadline) => {
                                out.int(n as i64);
                            }
                            _ = &mut kill => break 'conn,
                            _ = &mut stop => break 'conn,
                        }
                    }
                }
                Outcome::Blocked(args) => {
                    if flush(&engine, &mut stream, &mut out).await.is_err() {
                        break 'conn;
                    }
                    let ended = wait_blocked(
                        &engine,
                        &mut client,
                        &mut out,
                        &mut stream,
                        &mut rbuf,
                        &mut shutdown,
                        args,
                    )
                    .await;
                    if ended {
                        break 'conn;
                    }
                }
            }
        }
        client.flush_stats(&engine);
        let obuf_hard = engine.hot.normal_obuf_hard.load(Ordering::Relaxed);
        if obuf_hard > 0 && out.buf.len() > obuf_hard && client.subscriptions() == 0 {
            tracing::warn!(
                client = handle.id,
                pending = out.buf.len(),
                "Client scheduled to be closed ASAP for overcoming of output buffer limits."
            );
            break;
        }
        // The batch's clock read stands for its end unless the batch took long (a blocking
        // command, a slow script) or the clock is manual (DEBUG CLOCK may have moved it).
        let ended = if clock.is_manual() || batch.elapsed_micros() >= 1000 {
            clock.now_ms()
        } else {
            last_activity
        };
        handle.last_interaction.store(ended, Ordering::Relaxed);
        if flush(&engine, &mut stream, &mut out).await.is_err() || close {
            break;
        }
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        // Redis does not apply `timeout` to subscribers and MONITOR clients.
        let timeout = match engine.hot.timeout.load(Ordering::Relaxed) {
            t if t > 0 && client.subscriptions() == 0 && !client.monitor => t,
            _ => 0,
        };
        let idle =
            clock.sleep_until(last_activity.saturating_add(timeout.max(1).saturating_mul(1000)));
        tokio::select! {
            biased;
            _ = kill_gate.wait(kill.as_mut(), || handle.killed.load(Ordering::Acquire)) => break,
            _ = stop_gate.wait(stop.as_mut(), || stop_probe.has_changed().unwrap_or(true)) => break,
            Some(msg) = inbox.recv_when_queued() => {
                last_activity = clock.now_ms();
                deliver(&client, &msg, &mut out);
                // Drain what is already queued, up to a few megabytes per write.
                while out.buf.len() < 4 * 1024 * 1024 && let Some(more) = inbox.try_recv() {
                    deliver(&client, &more, &mut out);
                }
            }
            // One read takes at most what the buffer has room for: a read chunk, or the rest of a
            // big argument reserved by `process`.
            r = stream.read_buf(&mut rbuf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    last_activity = clock.now_ms();
                    client.read_at = Some(last_activity);
                    engine.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    engine.busy_poll.note_read();
                }
            },
            _ = idle, if timeout > 0 => {
                tracing::debug!(client = handle.id, "Closing idle client");
                break;
            }
            // CONFIG SET timeout: re-arm with the new value (an already idle client may be due).
            rx = timeout_gate.wait(
                timeout_changed.as_mut(),
                || timeout_probe.has_changed().unwrap_or(true),
            ) => {
                timeout_probe.borrow_and_update();
                timeout_changed.set(changed(rx));
                timeout_gate = Gate::default();
            }
        }
    }
    client.release(&engine);
    let _ = stream.shutdown().await;
    drop(registration);
}

/// Polls a waiter future again only when it may have fired (`due`), or when the task's waker
/// changed: a tokio `Notified` keeps the waker of its first poll, and each later poll takes its
/// waiter list's lock — once per request for a connection's idle wait, otherwise.
#[derive(Default)]
struct Gate {
    /// The waker the future was last polled with.
    waker: Option<std::task::Waker>,
}

impl Gate {
    fn wait<'a, F: std::future::Future>(
        &'a mut self,
        mut fut: std::pin::Pin<&'a mut F>,
        due: impl Fn() -> bool + 'a,
    ) -> impl std::future::Future<Output = F::Output> + 'a {
        std::future::poll_fn(move |cx| {
            if !due() && self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                return std::task::Poll::Pending;
            }
            self.waker = Some(cx.waker().clone());
            fut.as_mut().poll(cx)
        })
    }
}

/// Resolves with the receiver once its value changes (never, once the sender is gone).
async fn changed<T>(mut rx: tokio::sync::watch::Receiver<T>) -> tokio::sync::watch::Receiver<T> {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
    rx
}

/// Write the pending replies.
async fn flush<S>(engine: &Engine, stream: &mut S, out: &mut Out) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    if out.buf.is_empty() {
        return Ok(());
    }
    // The writes these replies acknowledge reach the AOF first (fsynced with appendfsync always).
    if !engine.aof.before_reply_async().await {
        out.buf.clear();
        return Err(std::io::Error::other("the AOF could not be written"));
    }
    engine
        .stats
        .net_output_bytes
        .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
    stream.write_all(&out.buf).await?;
    stream.flush().await?;
    out.buf.clear();
    // Do not keep a huge buffer around after one big reply.
    if out.buf.capacity() > 1024 * 1024 {
        out.buf = BytesMut::with_capacity(READ_CHUNK);
    }
    Ok(())
}

/// Wait until a blocked command can proceed, times out, or the client goes away; retries the command
/// each time one of its keys changes. Returns whether the connection must close.
async fn wait_blocked<S>(
    engine: &Engine,
    client: &mut Client,
    out: &mut Out,
    stream: &mut S,
    rbuf: &mut BytesMut,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    args: Vec<Vec<u8>>,
) -> bool
where
    S: AsyncRead + Unpin,
{
    let Some(request) = client.block.take() else {
        return false;
    };
    let db = client.db;
    let id = client.handle.id;
    let notify = Arc::new(Notify::new());
    let keys: Vec<&[u8]> = request.keys.iter().map(|k| k.as_slice()).collect();
    engine.store.events.block(db, &keys, id, &notify);
    engine.stats.blocked_clients.fetch_add(1, Ordering::Relaxed);
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    let mut closed = false;
    let silenced_from = out.buf.len();
    // Whether the retry below follows a wake-up (the first attempt follows the registration).
    let mut woken = false;
    client.handle.unblock.store(0, Ordering::Release);
    client.handle.blocked.store(true, Ordering::Release);
    'retry: loop {
        // A retry that keeps being woken must still let other tasks run.
        tokio::task::consume_budget().await;
        // Registered first, then retried: a push between the first attempt and the registration
        // cannot be missed.
        // Never wait on the keyspace gate while another client's script holds it.
        if engine.scripting.check(client.handle.id) != BusyCheck::Free {
            tokio::select! {
                biased;
                _ = client.handle.kill.notified() => { closed = true; break 'retry; }
                _ = shutdown.changed() => { closed = true; break 'retry; }
                _ = engine.scripting.wait_idle(None) => {}
            }
        }
        // A retry starts a new measurement (the time spent blocked is not the command's).
        client.clock = None;
        let mut ctx = Ctx {
            engine,
            client,
            out,
            now: engine.clock().now_ms(),
            in_exec: false,
            retry: true,
        };
        execute_silenced(&mut ctx, &argv);
        if ctx.client.block.take().is_none() {
            break;
        }
        if request.relay && woken {
            // Nothing for this reader: let the next one in line check.
            engine.store.events.pass_on(db, &request.keys, id);
        }
        loop {
            let deadline = request.deadline;
            tokio::select! {
                biased;
                _ = client.handle.kill.notified() => { closed = true; break 'retry; }
                _ = shutdown.changed() => { closed = true; break 'retry; }
                // CLIENT UNBLOCK and a role change come before a key's wake-up that arrives with
                // them (a replica's full sync touches every key).
                _ = client.handle.wake.notified() => {
                    match client.handle.unblock.swap(0, Ordering::AcqRel) {
                        1 => write_timeout_reply(out, request.on_timeout),
                        2 => out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
                        crate::client::UNBLOCK_ROLE_CHANGE => out.error(crate::client::UNBLOCKED_ROLE_CHANGE),
                        _ => continue,
                    }
                    break 'retry;
                }
                _ = notify.notified() => {
                    woken = true;
                    continue 'retry;
                }
                _ = engine.clock().sleep_until(deadline.unwrap_or(0)), if deadline.is_some() => {
                    write_timeout_reply(out, request.on_timeout);
                    break 'retry;
                }
                // Keep reading so a client that leaves is noticed; its next commands wait in the buffer.
                r = stream.read_buf(rbuf) => match r {
                    Ok(0) | Err(_) => { closed = true; break 'retry; }
                    Ok(_) if rbuf.len() > engine.hot.qbuf_limit.load(Ordering::Relaxed) => {
                        tracing::warn!(
                            client = id,
                            "Closing client that reached max query buffer length"
                        );
                        closed = true;
                        break 'retry;
                    }
                    Ok(_) => continue,
                },
            }
        }
    }
    if client.reply_off || client.reply_skip {
        // The timeout or CLIENT UNBLOCK reply of a silenced client (no pushes among them).
        out.buf.truncate(silenced_from.min(out.buf.len()));
    }
    end_of_reply(client);
    client.handle.blocked.store(false, Ordering::Release);
    engine.stats.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    engine.store.events.unblock(db, &request.keys, id);
    closed
}

/// Write a mailbox message: Pub/Sub and tracking messages always (pushes in Redis), MONITOR lines
/// only while the client's replies are not silenced (Redis adds them as plain replies).
fn deliver(client: &Client, msg: &crate::pubsub::Push, out: &mut Out) {
    if matches!(msg, crate::pubsub::Push::Monitor(_)) && (client.reply_off || client.reply_skip) {
        return;
    }
    msg.encode(out);
}

/// Run one command, dropping its reply while the client silenced its replies (CLIENT REPLY
/// OFF|SKIP), pushes excepted, as Redis's `prepareClientToWrite` does. The silencing in force
/// after the command decides: CLIENT REPLY ON's own +OK goes out. A SKIP ends with the reply it
/// dropped (Redis's `resetClient`), which for a blocked command is its eventual reply.
fn execute_silenced(ctx: &mut Ctx, args: &[&[u8]]) {
    let silenced = ctx.client.reply_off || ctx.client.reply_skip;
    let start = ctx.out.buf.len();
    if silenced {
        ctx.out.push_spans = Some(Vec::new());
    }
    execute(ctx, args);
    if ctx.client.reply_off || ctx.client.reply_skip {
        ctx.out.keep_pushes_since(start);
    } else {
        ctx.out.push_spans = None;
    }
    if ctx.client.block.is_none() {
        end_of_reply(ctx.client);
    }
}

/// A command's reply is complete: a SKIP in effect ends, a SKIP just given takes effect.
fn end_of_reply(client: &mut Client) {
    client.reply_skip = std::mem::take(&mut client.reply_skip_next);
}

/// What processing the buffered input led to.
pub enum Outcome {
    /// Every complete request ran.
    Done,
    /// The connection must close after the pending replies.
    Close,
    /// A blocking command (these arguments) waits for its keys.
    Blocked(Vec<Vec<u8>>),
    /// CLIENT PAUSE holds the next command until this time (unix ms); it stays in the buffer.
    Paused(u64),
    /// Another client's script runs: the next command (left in the buffer) waits at most this long.
    ScriptBusy(Duration),
    /// PSYNC/SYNC or WAIT: the connection acts on `client.repl` before anything else.
    Replication,
}

/// Commands that go ahead at once while another client's script runs, before it is busy: those
/// that must not wait for it (its end would make them pointless or late).
fn allowed_while_busy(args: &[&[u8]]) -> bool {
    use crate::commands::is;
    match args.first() {
        Some(name) if is(name, "shutdown") || is(name, "auth") || is(name, "hello") => true,
        Some(name) if is(name, "script") => args.get(1).is_some_and(|s| is(s, "kill")),
        Some(name) if is(name, "function") => {
            args.get(1).is_some_and(|s| is(s, "kill") || is(s, "stats"))
        }
        _ => false,
    }
}

/// Commands Redis serves while a script is busy: the table's `allow_busy` ones (MULTI, DISCARD,
/// WATCH, UNWATCH, QUIT, RESET, AUTH, HELLO, SHUTDOWN, SCRIPT KILL, FUNCTION KILL and STATS), so
/// a pipelined transaction cannot lose its MULTI to `-BUSY` and then run half of its commands.
/// Only those that do not wait for the keyspace gate the script holds (REPLCONF does).
fn served_while_busy(args: &[&[u8]]) -> bool {
    use crate::spec::flag;
    crate::commands::lookup_call(args)
        .is_some_and(|c| c.flags & flag::ALLOW_BUSY != 0 && c.flags & flag::CONNECTION != 0)
}

/// Execute every complete request in `rbuf` (consumed from it) and append the replies to `out`:
/// one pass of the connection loop between a read and a write. Public so the engine's benches
/// measure this very code rather than a copy of it.
pub fn process(
    engine: &Engine,
    client: &mut Client,
    parser: &mut RequestParser,
    rbuf: &mut BytesMut,
    out: &mut Out,
) -> Outcome {
    let clock = engine.clock();
    let mut now = client.read_at.take().unwrap_or_else(|| clock.now_ms());
    client.clock = None;
    let max_bulk = engine.hot.max_bulk.load(Ordering::Relaxed);
    let mut off = 0;
    let mut want = 0;
    let mut outcome = Outcome::Done;
    loop {
        let limits = Limits {
            unauthenticated: !client.authenticated
                && engine.hot.auth_required.load(Ordering::Relaxed),
            max_bulk,
        };
        match parser.parse(&rbuf[off..], limits) {
            Ok(Frame::Command { consumed }) => {
                let frame = &rbuf[off..off + consumed];
                let mut args = ArgVec::new();
                parser.args(frame, &mut args);
                if engine.pause.active(clock)
                    && let Some(until) = crate::commands::lookup_call(&args)
                        .and_then(|cmd| engine.pause.holds(cmd.flags, clock.now_ms()))
                {
                    // Left unconsumed: it runs when the pause ends.
                    outcome = Outcome::Paused(until);
                    break;
                }
                match engine.scripting.check(client.handle.id) {
                    BusyCheck::Free => {}
                    _ if allowed_while_busy(&args) => {}
                    BusyCheck::Busy if served_while_busy(&args) => {}
                    BusyCheck::Wait(_) if engine.scripting.spin_until_free(client.handle.id) => {}
                    BusyCheck::Wait(max) => {
                        // Left unconsumed: it runs when the script ends (or BUSY past the limit).
                        outcome = Outcome::ScriptBusy(max);
                        break;
                    }
                    BusyCheck::Busy => {
                        client.pending_stats.errors += 1;
                        if let Some(cmd) = crate::commands::lookup_call(&args) {
                            engine.cmdstats.rejected(cmd.spec);
                        }
                        let exec = args.first().is_some_and(|a| crate::commands::is(a, "exec"));
                        if exec {
                            // Redis's rejectCommand: a refused EXEC discards the transaction.
                            crate::commands::transactions::discard_transaction(engine, client);
                            let e = crate::commands::transactions::exec_abort(
                                engine.scripting.busy_text(),
                            );
                            engine.stats.count_error_kind(e.0.as_bytes());
                            out.error(&e.0);
                        } else {
                            client.multi_error |= client.multi.is_some();
                            engine.stats.count_error_kind(b"BUSY");
                            out.error(engine.scripting.busy_text());
                        }
                        off += consumed;
                        continue;
                    }
                }
                let mut ctx = Ctx {
                    engine,
                    client,
                    out,
                    now,
                    in_exec: false,
                    retry: false,
                };
                execute_silenced(&mut ctx, &args);
                off += consumed;
                if clock.is_manual() {
                    // A manual clock moves only when told (DEBUG CLOCK in this very pipeline, say):
                    // the next command sees the move; a real clock is read once per batch.
                    now = clock.now_ms();
                }
                if let Some(req) = client.block.as_mut() {
                    let run_again = req
                        .rewrite
                        .take()
                        .unwrap_or_else(|| args.iter().map(|a| a.to_vec()).collect());
                    outcome = Outcome::Blocked(run_again);
                    break;
                }
                if client.close_after_reply {
                    outcome = Outcome::Close;
                    break;
                }
                if client.repl.pending() {
                    outcome = Outcome::Replication;
                    break;
                }
            }
            Ok(Frame::Skip { consumed }) => off += consumed,
            Ok(Frame::Incomplete { hint }) => {
                let have = rbuf.len() - off;
                if hint > have {
                    want = (hint - have).min(MAX_RESERVE);
                }
                break;
            }
            Err(e) => {
                out.error(&format!("ERR {}", e.0));
                outcome = Outcome::Close;
                break;
            }
        }
    }
    rbuf.advance(off);
    // Reserve for the rest of a big argument only after the consumed bytes are gone: reserving
    // `want + off` on the unadvanced buffer would double its capacity again and again under a fast
    // pipeline. An empty buffer that grew for a big argument is given back (Redis's querybuf resize).
    if want > 0 {
        rbuf.reserve(want);
    } else if rbuf.is_empty() && rbuf.capacity() > 4 * READ_CHUNK {
        *rbuf = BytesMut::with_capacity(READ_CHUNK);
    }
    if let Some(name) = client.last_cmd.take()
        && !std::ptr::eq(name, client.published_cmd)
    {
        client.published_cmd = name;
        client.handle.info.lock().last_cmd = name;
    }
    if rbuf.len() > engine.hot.qbuf_limit.load(Ordering::Relaxed) {
        tracing::warn!(
            client = client.handle.id,
            "Closing client that reached max query buffer length"
        );
        outcome = Outcome::Close;
    }
    outcome
}
