//! The request handler of one network's resolver: it knows its network, reads the current world,
//! resolves, and answers (echoing EDNS).
//!
//! Answers are memoised per (name, type) for the world they were computed from: resolution with its
//! explanation and the record conversion run once per world version, not once per query. The memo
//! is dropped whenever the world changes and is bounded, so random names cannot grow it.
//!
//! A network with `dns_cache` resolves through its [`ResolverCache`] on the view's clock
//! ([`redlink_clock::Clock`]): answers stay what they were for their TTL even when the world changes.
//! Such an answer is memoised only until its remaining TTL ticks (`stable_until_ms`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use redlink_clock::Clock;
use redlink_world::{Answer, QueryType, Resolution, ResolverCache, World, resolve_cached};
use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use crate::event::QueryEvent;
use crate::records::{query_type, soa_record, to_records};

/// Answers queries as the resolver of one network sees the world.
pub struct ViewHandler {
    network: Arc<str>,
    world: watch::Receiver<Arc<World>>,
    events: broadcast::Sender<QueryEvent>,
    memo: Mutex<Memo>,
    clock: Clock,
    cache: Mutex<ResolverCache>,
}

/// Largest UDP response, whatever EDNS payload size the client offers: 1232 bytes, what
/// authoritative servers use since DNS Flag Day 2020 (no IP fragmentation). A larger answer is
/// truncated with TC set, so a real client retries over TCP, and a spoofed query (the victim's
/// address as source) cannot make the resolver send much more than it received.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Largest number of memoised answers before the memo starts over.
const MEMO_LIMIT: usize = 4096;

/// Answers computed for one world.
struct Memo {
    world: Option<Arc<World>>,
    answers: HashMap<(String, u16), Arc<Computed>>,
}

/// One computed answer: the response code, records and the resolution that explains them.
struct Computed {
    code: ResponseCode,
    answers: Vec<Record>,
    soa: Option<Record>,
    resolution: Arc<Resolution>,
    /// Clock time until which this answer stays the same (`None`: while the world does).
    stable_until_ms: Option<u64>,
}

impl ViewHandler {
    /// A handler for `network`, reading `world`, publishing to `events`, on real time.
    pub fn new(
        network: Arc<str>,
        world: watch::Receiver<Arc<World>>,
        events: broadcast::Sender<QueryEvent>,
    ) -> Self {
        Self::with_clock(network, world, events, Clock::real())
    }

    /// A handler whose DNS cache (for a network with `dns_cache`) reads `clock`.
    pub fn with_clock(
        network: Arc<str>,
        world: watch::Receiver<Arc<World>>,
        events: broadcast::Sender<QueryEvent>,
        clock: Clock,
    ) -> Self {
        ViewHandler {
            network,
            world,
            events,
            memo: Mutex::new(Memo {
                world: None,
                answers: HashMap::new(),
            }),
            clock,
            cache: Mutex::new(ResolverCache::new()),
        }
    }

    /// What this resolver would answer for `qname` now (its cache included), without asking it:
    /// the explanation of an answer a client just got.
    pub fn peek(&self, qname: &str, qtype: QueryType) -> Resolution {
        let world = self.world();
        let now = self.clock.now_ms();
        match self.cache.lock() {
            Ok(mut cache) => {
                resolve_cached(&world, &self.network, qname, qtype, &mut cache, now, false)
                    .resolution
            }
            Err(_) => redlink_world::resolve(&world, &self.network, qname, qtype),
        }
    }

    /// The clock time now.
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}

/// Whether an answer stable until `until` still holds at `now`.
pub(crate) fn still_holds(until: Option<u64>, now: u64) -> bool {
    until.is_none_or(|t| now < t)
}

fn failed(request: &Request, code: ResponseCode) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = code;
    Header {
        metadata,
        counts: HeaderCounts::default(),
    }
    .into()
}

impl ViewHandler {
    /// Resolve `qname` in the current world and convert the answer to DNS records.
    fn compute(
        &self,
        world: &World,
        qtype: hickory_proto::rr::RecordType,
        qname: &str,
    ) -> Result<Computed, String> {
        let now = self.clock.now_ms();
        let cached = match self.cache.lock() {
            Ok(mut cache) => resolve_cached(
                world,
                &self.network,
                qname,
                query_type(qtype),
                &mut cache,
                now,
                true,
            ),
            Err(_) => return Err("the resolver's cache is poisoned".to_owned()),
        };
        let stable_until_ms = cached.stable_until_ms;
        let resolution = cached.resolution;
        debug!(network = %self.network, "{}", resolution.summary());
        let answers = to_records(&resolution).map_err(|e| e.to_string())?;
        let (code, soa) = match &resolution.answer {
            Answer::Refused => (ResponseCode::Refused, None),
            Answer::NxDomain { authority, .. } => {
                (ResponseCode::NXDomain, soa_record(authority).ok())
            }
            Answer::Records { authority, .. } => {
                // NODATA: no record of the type asked (the CNAME chain alone does not answer an A query).
                let nodata = !answers.iter().any(|r| r.record_type() == qtype);
                let soa = if nodata {
                    soa_record(authority).ok()
                } else {
                    None
                };
                (ResponseCode::NoError, soa)
            }
        };
        Ok(Computed {
            code,
            answers,
            soa,
            resolution: Arc::new(resolution),
            stable_until_ms,
        })
    }

    async fn send_code<R: ResponseHandler>(
        &self,
        request: &Request,
        edns: Option<&Edns>,
        code: ResponseCode,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = edns {
            builder.edns(e);
        }
        let mut response = builder.error_msg(&request.metadata, code);
        response.metadata_mut().recursion_available = true;
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                warn!(network = %self.network, "cannot send DNS response: {e}");
                failed(request, ResponseCode::ServFail)
            }
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for ViewHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let (info, answered) = self.respond(request, response_handle).await;
        if let Some(answered) = answered {
            self.emit(request.src(), request.protocol(), answered);
        }
        info
    }
}

/// What a query was answered from: the query type and the resolution that explains the answer (for
/// query events).
#[derive(Clone)]
pub(crate) struct Answered {
    pub(crate) qtype: hickory_proto::rr::RecordType,
    pub(crate) resolution: Arc<Resolution>,
    /// Clock time until which the same query gets the same response (`None`: while the world
    /// does not change).
    pub(crate) stable_until_ms: Option<u64>,
}

impl ViewHandler {
    /// Publishes a query event, if anyone listens.
    pub(crate) fn emit(
        &self,
        client: std::net::SocketAddr,
        protocol: Protocol,
        answered: Answered,
    ) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(QueryEvent {
                network: self.network.clone(),
                client,
                protocol: match protocol {
                    Protocol::Tcp => "tcp",
                    _ => "udp",
                },
                qtype: answered.qtype.to_string(),
                resolution: answered.resolution,
            });
        }
    }

    /// The world this view currently answers from.
    pub(crate) fn world(&self) -> Arc<World> {
        self.world.borrow().clone()
    }

    /// Answers `request` through `response_handle`; says what the answer came from when it was a
    /// resolution (not an error such as FORMERR or NOTIMP).
    pub(crate) async fn respond<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> (ResponseInfo, Option<Answered>) {
        // EDNS: answer with version 0 when the client used EDNS. The payload size is the client's,
        // capped at MAX_UDP_PAYLOAD: it sizes UDP responses (TCP ones are never cut).
        let mut resp_edns = Edns::new();
        let edns = match request.edns.as_ref() {
            Some(req) => {
                resp_edns.set_max_payload(req.max_payload().clamp(512, MAX_UDP_PAYLOAD));
                resp_edns.set_version(0);
                if req.version() > 0 {
                    let info = self
                        .send_code(
                            request,
                            Some(&resp_edns),
                            ResponseCode::BADVERS,
                            response_handle,
                        )
                        .await;
                    return (info, None);
                }
                Some(&resp_edns)
            }
            None => None,
        };
        if request.metadata.message_type != MessageType::Query
            || request.metadata.op_code != OpCode::Query
        {
            return (
                self.send_code(request, edns, ResponseCode::NotImp, response_handle)
                    .await,
                None,
            );
        }
        let query = match request.queries.queries() {
            [q] => q,
            _ => {
                return (
                    self.send_code(request, edns, ResponseCode::FormErr, response_handle)
                        .await,
                    None,
                );
            }
        };
        if query.query_class() != DNSClass::IN {
            return (
                self.send_code(request, edns, ResponseCode::Refused, response_handle)
                    .await,
                None,
            );
        }

        let world = self.world();
        let qname = query.name().to_string().to_ascii_lowercase();
        let key = (qname, u16::from(query.query_type()));
        let memoised = self.memo.lock().ok().and_then(|memo| {
            let same_world = memo.world.as_ref().is_some_and(|w| Arc::ptr_eq(w, &world));
            same_world
                .then(|| memo.answers.get(&key).cloned())
                .flatten()
                .filter(|c| still_holds(c.stable_until_ms, self.clock.now_ms()))
        });
        let computed = match memoised {
            Some(c) => c,
            None => match self.compute(&world, query.query_type(), &key.0) {
                Ok(c) => {
                    let c = Arc::new(c);
                    if let Ok(mut memo) = self.memo.lock() {
                        if !memo.world.as_ref().is_some_and(|w| Arc::ptr_eq(w, &world))
                            || memo.answers.len() >= MEMO_LIMIT
                        {
                            memo.answers.clear();
                            memo.world = Some(world.clone());
                        }
                        memo.answers.insert(key, c.clone());
                    }
                    c
                }
                Err(e) => {
                    warn!(network = %self.network, "cannot encode the answer for {}: {e}", key.0);
                    return (
                        self.send_code(request, edns, ResponseCode::ServFail, response_handle)
                            .await,
                        None,
                    );
                }
            },
        };
        let (code, answers, soa) = (computed.code, &computed.answers, &computed.soa);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = code;
        metadata.recursion_available = true;
        metadata.authoritative = false;
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = edns {
            builder.edns(e);
        }
        let response = builder.build(
            metadata,
            answers.iter(),
            std::iter::empty(),
            soa.iter(),
            std::iter::empty(),
        );
        let info = match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                warn!(network = %self.network, "cannot send DNS response: {e}");
                failed(request, ResponseCode::ServFail)
            }
        };
        (
            info,
            Some(Answered {
                qtype: query.query_type(),
                resolution: computed.resolution.clone(),
                stable_until_ms: computed.stable_until_ms,
            }),
        )
    }
}

/// The same view shared between hickory's TCP server and the UDP fast path ([`crate::udp`]).
#[derive(Clone)]
pub(crate) struct SharedView(pub(crate) Arc<ViewHandler>);

#[async_trait::async_trait]
impl RequestHandler for SharedView {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.0
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}
