//! Query events: what each resolver answered and why, for the evidence stream.

use std::net::SocketAddr;
use std::sync::Arc;

use redlink_world::Resolution;

/// One answered query.
#[derive(Clone, Debug)]
pub struct QueryEvent {
    /// The network whose resolver answered.
    pub network: Arc<str>,
    /// The client's address.
    pub client: SocketAddr,
    /// "udp" or "tcp".
    pub protocol: &'static str,
    /// The record type asked, as hickory names it (`A`, `AAAA`…).
    pub qtype: String,
    /// The answer and its explanation (`resolution.qname` is the normalized question).
    pub resolution: Arc<Resolution>,
}
