//! One client connection: read requests, run commands, write replies, until the client leaves, is
//! killed, idles past `timeout`, or the engine shuts down.
//!
//! Pipelining falls out of the loop's shape: every complete request in the read buffer is executed
//! before the accumulated replies are written with one write.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{Admission, Client, ClientHandle};
use crate::commands::{Ctx, execute};
use crate::protocol::{ArgVec, Frame, Limits, Out, RequestParser};
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
    let mut out = Out::new(false);
    let mut parser = RequestParser::default();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut shutdown = engine.shutdown_receiver();
    loop {
        if handle.killed.load(Ordering::Acquire) || *shutdown.borrow() {
            break;
        }
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        let timeout = engine.hot.timeout.load(Ordering::Relaxed);
        let idle = tokio::time::sleep(if timeout > 0 {
            Duration::from_secs(timeout)
        } else {
            Duration::from_secs(86400 * 365)
        });
        let read = tokio::select! {
            biased;
            _ = handle.kill.notified() => break,
            _ = shutdown.changed() => break,
            r = stream.read_buf(&mut rbuf) => r,
            _ = idle, if timeout > 0 => break,
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        engine
            .stats
            .net_input_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        let close = process(&engine, &mut client, &mut parser, &mut rbuf, &mut out);
        client.flush_stats(&engine);
        handle.last_interaction.store(
            handle.created.elapsed().as_millis() as u64,
            Ordering::Relaxed,
        );
        if !out.buf.is_empty() {
            engine
                .stats
                .net_output_bytes
                .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
            if stream.write_all(&out.buf).await.is_err() || stream.flush().await.is_err() {
                break;
            }
            out.buf.clear();
            // Do not keep a huge buffer around after one big reply.
            if out.buf.capacity() > 1024 * 1024 {
                out.buf = BytesMut::with_capacity(READ_CHUNK);
            }
        }
        if close {
            break;
        }
    }
    let _ = stream.shutdown().await;
    drop(registration);
}

/// Execute every complete request in `rbuf`; returns whether the connection must close.
fn process(
    engine: &Engine,
    client: &mut Client,
    parser: &mut RequestParser,
    rbuf: &mut BytesMut,
    out: &mut Out,
) -> bool {
    let now = crate::store::now_ms();
    let max_bulk = engine.hot.max_bulk.load(Ordering::Relaxed);
    let mut off = 0;
    let mut close = false;
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
                let mut ctx = Ctx {
                    engine,
                    client,
                    out,
                    now,
                    in_exec: false,
                };
                execute(&mut ctx, &args);
                off += consumed;
                if client.close_after_reply {
                    close = true;
                    break;
                }
            }
            Ok(Frame::Skip { consumed }) => off += consumed,
            Ok(Frame::Incomplete { hint }) => {
                let have = rbuf.len() - off;
                if hint > have {
                    let want = (hint - have).min(MAX_RESERVE);
                    rbuf.reserve(want + off);
                }
                break;
            }
            Err(e) => {
                out.error(&format!("ERR {}", e.0));
                close = true;
                break;
            }
        }
    }
    rbuf.advance(off);
    if let Some(name) = client.last_cmd.take() {
        client.handle.info.lock().last_cmd = name.to_string();
    }
    if rbuf.len() > engine.hot.qbuf_limit.load(Ordering::Relaxed) {
        tracing::warn!(
            client = client.handle.id,
            "closing client that reached max query buffer length"
        );
        close = true;
    }
    close
}
