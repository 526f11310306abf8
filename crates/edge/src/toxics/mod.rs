//! Toxics on a routed path (Toxiproxy's model): each toxic is one small type behind the [`Toxic`]
//! trait, a stage that moves [`Item`]s from an input channel to an output channel (delaying,
//! slicing, throttling them, or ending the connection with a reset). A connection with toxics is
//! handed to the engine as one end of an in-memory duplex; [`pump`] moves bytes between the client's
//! TCP stream and that duplex, through the upstream chain (client → cache) and the downstream chain
//! (cache → client). A connection without toxics is handed over directly (no pump, no copy).
//!
//! Toxics are fixed per connection when it is accepted: adding or removing one in the world affects
//! connections opened afterwards.

mod bandwidth;
mod latency;
mod limit_data;
mod reset_after;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redlink_world::{ToxicDirection, ToxicKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use bandwidth::Bandwidth;
pub use latency::Latency;
pub use limit_data::LimitData;
pub use reset_after::ResetAfter;
pub use reset_peer::ResetPeer;
pub use slicer::Slicer;
pub use slow_close::SlowClose;
pub use timeout::Timeout;

use crate::conn::Cut;
use crate::reset::arm_reset;

/// Bytes read from a side at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Items buffered between two stages.
const STAGE_QUEUE: usize = 16;
/// The in-memory duplex's buffer between the pump and the engine.
pub const DUPLEX_BUFFER: usize = 64 * 1024;

/// Bytes that arrived together, and when they arrived.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// The bytes.
    pub data: Bytes,
    /// When they were read from their side.
    pub at: Instant,
}

/// What flows between stages.
#[derive(Clone, Debug)]
pub enum Item {
    /// Bytes to pass on.
    Data(Chunk),
    /// Reset the connection once everything before this item is written.
    Reset,
}

/// One toxic: a stage between two channels. It ends by returning (closing its output: the end of
/// the stream is passed on) and must pass [`Item::Reset`] on unchanged.
#[async_trait::async_trait]
pub trait Toxic: Send + std::fmt::Debug {
    /// Moves items from `input` to `output` until `input` ends or `output` is gone.
    async fn run(self: Box<Self>, input: mpsc::Receiver<Item>, output: mpsc::Sender<Item>);
}

/// The stage for one declared toxic.
pub fn stage(kind: &ToxicKind) -> Box<dyn Toxic> {
    match *kind {
        ToxicKind::Latency {
            latency_ms,
            jitter_ms,
        } => Box::new(Latency::new(
            Duration::from_millis(latency_ms),
            Duration::from_millis(jitter_ms),
        )),
        ToxicKind::Bandwidth { rate_kbps } => Box::new(Bandwidth::new(rate_kbps)),
        ToxicKind::Slicer { avg_size, delay_us } => Box::new(Slicer::new(
            usize::try_from(avg_size).unwrap_or(usize::MAX),
            Duration::from_micros(delay_us),
        )),
        ToxicKind::ResetAfter { bytes } => Box::new(ResetAfter::new(bytes)),
        ToxicKind::Timeout { timeout_ms } => {
            Box::new(Timeout::new(Duration::from_millis(timeout_ms)))
        }
        ToxicKind::LimitData { bytes } => Box::new(LimitData::new(bytes)),
        ToxicKind::SlowClose { delay_ms } => {
            Box::new(SlowClose::new(Duration::from_millis(delay_ms)))
        }
        ToxicKind::ResetPeer { timeout_ms } => {
            Box::new(ResetPeer::new(Duration::from_millis(timeout_ms)))
        }
    }
}

/// The two chains of a connection.
#[derive(Debug, Default)]
pub struct Chains {
    /// Client → cache.
    pub upstream: Vec<Box<dyn Toxic>>,
    /// Cache → client.
    pub downstream: Vec<Box<dyn Toxic>>,
}

impl Chains {
    /// The chains for `toxics`, in order.
    pub fn build<'a>(toxics: impl IntoIterator<Item = &'a redlink_world::Toxic>) -> Chains {
        let mut chains = Chains::default();
        for t in toxics {
            let s = stage(&t.kind);
            match t.direction {
                ToxicDirection::Upstream => chains.upstream.push(s),
                ToxicDirection::Downstream => chains.downstream.push(s),
            }
        }
        chains
    }

    /// Whether both chains are empty.
    pub fn is_empty(&self) -> bool {
        self.upstream.is_empty() && self.downstream.is_empty()
    }
}

/// How a direction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Closed,
    Reset,
}

/// Moves bytes from `reader` to `writer` through `chain`; `before_reset` runs before a reset ends
/// the direction (dropping a TCP write half sends a FIN, so the RST must be armed first).
async fn direction<R, W>(
    mut reader: R,
    mut writer: W,
    chain: Vec<Box<dyn Toxic>>,
    before_reset: &(dyn Fn() + Sync),
) -> End
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send,
{
    let mut tasks = JoinSet::new();
    let (tx, mut rx) = mpsc::channel::<Item>(STAGE_QUEUE);
    tasks.spawn(async move {
        loop {
            let mut buf = BytesMut::with_capacity(READ_CHUNK);
            match reader.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let chunk = Chunk {
                        data: buf.freeze(),
                        at: Instant::now(),
                    };
                    if tx.send(Item::Data(chunk)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    for toxic in chain {
        let (next_tx, next_rx) = mpsc::channel(STAGE_QUEUE);
        tasks.spawn(toxic.run(rx, next_tx));
        rx = next_rx;
    }
    while let Some(item) = rx.recv().await {
        match item {
            Item::Data(chunk) => {
                if writer.write_all(&chunk.data).await.is_err() {
                    return End::Closed;
                }
            }
            Item::Reset => {
                before_reset();
                return End::Reset;
            }
        }
    }
    let _ = writer.shutdown().await;
    End::Closed
}

/// Serves a routed connection with toxics: bytes go between `client` and `engine_side` (the other
/// end is handed to the engine) through `chains`, until both directions end, a toxic resets the
/// connection, or `cut` fires. A reset closes the client's socket with `SO_LINGER 0` (an RST) and
/// closes the duplex (the engine sees the end of its stream).
pub async fn pump(client: TcpStream, engine_side: DuplexStream, chains: Chains, cut: &Cut) {
    let linger = socket2::SockRef::from(&client).try_clone().ok();
    let arm = || {
        if let Some(socket) = &linger {
            arm_reset(socket);
        }
    };
    // Not `into_split`: dropping an `OwnedWriteHalf` sends a FIN, which would turn a reset into an
    // orderly close; the halves of `io::split` close nothing until both are gone.
    let (client_read, client_write) = tokio::io::split(client);
    let (engine_read, engine_write) = tokio::io::split(engine_side);
    let up = direction(client_read, engine_write, chains.upstream, &arm);
    let down = direction(engine_read, client_write, chains.downstream, &arm);
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    let mut reset = false;
    while !(up_done && down_done) {
        tokio::select! {
            _ = cut.cut_off() => {
                reset = true;
                break;
            }
            end = &mut up, if !up_done => {
                up_done = true;
                reset = end == End::Reset;
            }
            end = &mut down, if !down_done => {
                down_done = true;
                reset = end == End::Reset;
            }
        }
        if reset {
            break;
        }
    }
    if reset {
        arm();
    }
    // Dropping `up` and `down` aborts their stages and closes both sides.
}

/// A small pseudo-random generator for jitter and slice sizes (no cryptographic use).
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Rng(seed | 1)
    }

    /// Uniform in `0..=max`.
    pub(crate) fn below_or_eq(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if max == u64::MAX {
            self.0
        } else {
            self.0 % (max + 1)
        }
    }
}
