//! The UDP side of one network's resolver, with a fast path for repeated questions.
//!
//! hickory's own UDP loop spawns a task and re-parses and re-encodes every datagram. Here one task
//! reads the socket and answers in place: a datagram whose bytes after the 2-byte ID are the same as
//! an earlier one's, asked of the same world version, gets that earlier response with the ID patched
//! (the answer is a pure function of the request bytes and the world). Anything else goes through
//! [`ViewHandler::respond`] exactly like a TCP query, and its encoded response is remembered.
//! The cache is dropped whenever the world changes and is bounded, so random queries cannot grow it;
//! an answer from a caching resolver is reused only while its remaining TTL is unchanged.
//!
//! The loop runs on a thread of its own with a current-thread runtime: the thread waiting in
//! `epoll_wait` is the one that answers, so a lone query costs no hand-off between threads.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use redlink_world::World;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::handler::{Answered, MAX_UDP_PAYLOAD, ViewHandler, still_holds};

/// Largest datagram read (EDNS allows up to 65535; queries are far smaller).
const MAX_DATAGRAM: usize = 4096;
/// Largest number of remembered responses before the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// A remembered response: its bytes after the ID, and what it was answered from.
struct Cached {
    tail: Box<[u8]>,
    answered: Option<Answered>,
}

/// Responses remembered for one world version, keyed by the request's bytes after the ID.
struct ResponseCache {
    world: Option<Arc<World>>,
    entries: HashMap<Box<[u8]>, Cached>,
}

impl ResponseCache {
    /// The entry for `key`, if it was computed for `world`.
    fn get(&mut self, world: &Arc<World>, key: &[u8]) -> Option<&Cached> {
        if !self.world.as_ref().is_some_and(|w| Arc::ptr_eq(w, world)) {
            self.entries.clear();
            self.world = Some(world.clone());
            return None;
        }
        self.entries.get(key)
    }

    /// Remembers `cached` for `key` under `world` (the world read before answering: if the world
    /// changed meanwhile, the next lookup sees a newer version and drops the entry).
    fn put(&mut self, world: Arc<World>, key: &[u8], cached: Cached) {
        if !self.world.as_ref().is_some_and(|w| Arc::ptr_eq(w, &world))
            || self.entries.len() >= CACHE_LIMIT
        {
            self.entries.clear();
            self.world = Some(world);
        }
        self.entries.insert(key.into(), cached);
    }
}

/// A [`ResponseHandler`] that encodes the response (with UDP's size limit) and keeps the bytes.
#[derive(Clone, Default)]
struct Capture {
    bytes: Arc<Mutex<Option<Vec<u8>>>>,
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        // The response's EDNS payload size (the client's, capped at MAX_UDP_PAYLOAD by the
        // handler), else RFC 1035's 512 bytes; a response that does not fit is truncated (TC set).
        let max = response
            .edns()
            .map_or(512, |e| e.max_payload().clamp(512, MAX_UDP_PAYLOAD));
        let id = response.metadata().id;
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(e) => {
                warn!("cannot encode a DNS response: {e}");
                bytes.clear();
                let header = error_header(id, OpCode::Query, false, ResponseCode::ServFail);
                let mut encoder = BinEncoder::new(&mut bytes);
                header.emit(&mut encoder)?;
                ResponseInfo::from(header)
            }
        };
        if let Ok(mut slot) = self.bytes.lock() {
            *slot = Some(bytes);
        }
        Ok(info)
    }
}

/// A header-only response with `code`.
fn error_header(id: u16, op_code: OpCode, recursion_desired: bool, code: ResponseCode) -> Header {
    let mut metadata = Metadata::new(id, MessageType::Response, op_code);
    metadata.recursion_desired = recursion_desired;
    metadata.response_code = code;
    Header {
        metadata,
        counts: HeaderCounts::default(),
    }
}

/// The UDP loop of one view, on its own thread.
pub(crate) struct UdpServer {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl UdpServer {
    /// Starts answering on `socket` (bound by the caller) on a new thread named after `network`.
    pub(crate) fn start(
        network: &str,
        socket: UdpSocket,
        handler: Arc<ViewHandler>,
    ) -> io::Result<UdpServer> {
        let socket = socket.into_std()?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("dns-udp-{network}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()?;
                rt.block_on(async move {
                    let socket = UdpSocket::from_std(socket)?;
                    tokio::select! {
                        r = serve(socket, handler) => r,
                        _ = stopped => Ok(()),
                    }
                })
            })?;
        Ok(UdpServer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the loop and waits for its thread; the loop's error, if it had failed.
    pub(crate) async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(io::Error::other("the UDP thread panicked")),
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

impl Drop for UdpServer {
    /// A dropped server stops its loop (the thread ends by itself).
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Answers datagrams on `socket` until the socket fails for good.
async fn serve(socket: UdpSocket, handler: Arc<ViewHandler>) -> io::Result<()> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut cache = ResponseCache {
        world: None,
        entries: HashMap::new(),
    };
    let mut out = Vec::with_capacity(512);
    loop {
        let (len, src) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) if is_transient(&e) => continue,
            Err(e) => return Err(e),
        };
        // Not a DNS message, a response (reflection), or a source that cannot be answered.
        if len < 12 || buf[2] & 0x80 != 0 || src.port() == 0 || src.ip().is_unspecified() {
            continue;
        }
        let request = &buf[..len];
        let world = handler.world();
        out.clear();
        out.extend_from_slice(&request[..2]);
        if let Some(hit) = cache.get(&world, &request[2..]).filter(|hit| {
            still_holds(
                hit.answered.as_ref().and_then(|a| a.stable_until_ms),
                handler.now_ms(),
            )
        }) {
            out.extend_from_slice(&hit.tail);
            send(&socket, &out, src).await;
            if let Some(answered) = &hit.answered {
                handler.emit(src, Protocol::Udp, answered.clone());
            }
            continue;
        }
        let (response, answered) = slow_path(&handler, request, src).await;
        let Some(response) = response else { continue };
        send(&socket, &response, src).await;
        if let Some(answered) = &answered {
            handler.emit(src, Protocol::Udp, answered.clone());
        }
        if response.len() >= 2 {
            cache.put(
                world,
                &request[2..],
                Cached {
                    tail: response[2..].into(),
                    answered,
                },
            );
        }
    }
}

/// Parses the request and answers it through the view's handler; a request whose header parses but
/// whose body does not gets FORMERR (as hickory's server does).
async fn slow_path(
    handler: &ViewHandler,
    request: &[u8],
    src: SocketAddr,
) -> (Option<Vec<u8>>, Option<Answered>) {
    match Request::from_bytes(request.to_vec(), src, Protocol::Udp) {
        Ok(parsed) => {
            let capture = Capture::default();
            let (_, answered) = handler.respond(&parsed, capture.clone()).await;
            let bytes = capture.bytes.lock().ok().and_then(|mut b| b.take());
            (bytes, answered)
        }
        Err(e) => {
            debug!("malformed DNS query from {src}: {e}");
            let id = u16::from_be_bytes([request[0], request[1]]);
            let op_code = OpCode::from_u8((request[2] >> 3) & 0x0f);
            let header = error_header(id, op_code, request[2] & 1 != 0, ResponseCode::FormErr);
            let mut bytes = Vec::with_capacity(12);
            let mut encoder = BinEncoder::new(&mut bytes);
            match header.emit(&mut encoder) {
                Ok(()) => (Some(bytes), None),
                Err(_) => (None, None),
            }
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to).await {
        debug!("cannot send a DNS response to {to}: {e}");
    }
}

/// Errors a UDP socket reports for one datagram (e.g. an ICMP port unreachable from an earlier
/// send), after which it keeps working.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
