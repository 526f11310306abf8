//! The request handler of one network's resolver: it knows its network, reads the current world,
//! resolves, and answers (echoing EDNS).

use std::sync::Arc;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use redlink_world::{Answer, World, resolve};
use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use crate::event::QueryEvent;
use crate::records::{query_type, soa_record, to_records};

/// Answers queries as the resolver of one network sees the world.
pub struct ViewHandler {
    network: Arc<str>,
    world: watch::Receiver<Arc<World>>,
    events: broadcast::Sender<QueryEvent>,
}

impl ViewHandler {
    /// A handler for `network`, reading `world`, publishing to `events`.
    pub fn new(
        network: Arc<str>,
        world: watch::Receiver<Arc<World>>,
        events: broadcast::Sender<QueryEvent>,
    ) -> Self {
        ViewHandler {
            network,
            world,
            events,
        }
    }
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
        mut response_handle: R,
    ) -> ResponseInfo {
        // EDNS: answer with version 0 when the client used EDNS.
        let mut resp_edns = Edns::new();
        let edns = match request.edns.as_ref() {
            Some(req) => {
                resp_edns.set_max_payload(req.max_payload().max(512));
                resp_edns.set_version(0);
                if req.version() > 0 {
                    return self
                        .send_code(
                            request,
                            Some(&resp_edns),
                            ResponseCode::BADVERS,
                            response_handle,
                        )
                        .await;
                }
                Some(&resp_edns)
            }
            None => None,
        };
        if request.metadata.message_type != MessageType::Query
            || request.metadata.op_code != OpCode::Query
        {
            return self
                .send_code(request, edns, ResponseCode::NotImp, response_handle)
                .await;
        }
        let query = match request.queries.queries() {
            [q] => q,
            _ => {
                return self
                    .send_code(request, edns, ResponseCode::FormErr, response_handle)
                    .await;
            }
        };
        if query.query_class() != DNSClass::IN {
            return self
                .send_code(request, edns, ResponseCode::Refused, response_handle)
                .await;
        }

        let world = self.world.borrow().clone();
        let qname = query.name().to_string();
        let resolution = resolve(
            &world,
            &self.network,
            &qname,
            query_type(query.query_type()),
        );
        debug!(network = %self.network, "{}", resolution.summary());

        let (code, answers, soa): (ResponseCode, Vec<Record>, Option<Record>) = {
            let answers = match to_records(&resolution) {
                Ok(a) => a,
                Err(e) => {
                    warn!(network = %self.network, "cannot encode the answer for {qname}: {e}");
                    return self
                        .send_code(request, edns, ResponseCode::ServFail, response_handle)
                        .await;
                }
            };
            match &resolution.answer {
                Answer::Refused => (ResponseCode::Refused, answers, None),
                Answer::NxDomain { authority, .. } => {
                    (ResponseCode::NXDomain, answers, soa_record(authority).ok())
                }
                Answer::Records { authority, .. } => {
                    // NODATA: no record of the type asked (the CNAME chain alone does not answer an A query).
                    let nodata = !answers
                        .iter()
                        .any(|r| r.record_type() == query.query_type());
                    let soa = if nodata {
                        soa_record(authority).ok()
                    } else {
                        None
                    };
                    (ResponseCode::NoError, answers, soa)
                }
            }
        };

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

        if self.events.receiver_count() > 0 {
            let _ = self.events.send(QueryEvent {
                network: self.network.clone(),
                client: request.src(),
                protocol: match request.protocol() {
                    Protocol::Tcp => "tcp",
                    _ => "udp",
                },
                qtype: query.query_type().to_string(),
                resolution: Arc::new(resolution),
            });
        }
        info
    }
}
