//! Asking a network's simulated resolver, the way a client in that network would: hickory pointed
//! at that resolver only (never the system's resolver, no hosts file, no cache), following a CNAME
//! whose target has no answer in the same reply, to tell NXDOMAIN from NODATA.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};

/// What a DNS lookup through a simulated resolver gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The chain's A address (first), with the records as text.
    Address(Ipv4Addr, Vec<String>),
    /// NXDOMAIN (records of the chain before it, as text).
    NxDomain(Vec<String>),
    /// REFUSED.
    Refused,
    /// No A record (NODATA).
    NoData(Vec<String>),
    /// No answer (timeout, network error).
    Failed(String),
}

impl Lookup {
    /// One line: "A 127.10.1.4 (x CNAME y; y A 127.10.1.4)".
    pub fn describe(&self) -> String {
        let chain = |r: &[String]| {
            if r.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.join("; "))
            }
        };
        match self {
            Lookup::Address(a, r) => format!("{a}{}", chain(r)),
            Lookup::NxDomain(r) => format!("NXDOMAIN{}", chain(r)),
            Lookup::Refused => "REFUSED".to_owned(),
            Lookup::NoData(r) => format!("no A record (NODATA){}", chain(r)),
            Lookup::Failed(e) => format!("no answer: {e}"),
        }
    }

    /// The records of the chain, as text (`name CNAME target`, `name A address`).
    pub fn records(&self) -> &[String] {
        match self {
            Lookup::Address(_, r) | Lookup::NxDomain(r) | Lookup::NoData(r) => r,
            Lookup::Refused | Lookup::Failed(_) => &[],
        }
    }
}

fn resolver(server: SocketAddr, timeout: Duration) -> Option<Resolver<TokioRuntimeProvider>> {
    let mut conn = ConnectionConfig::udp();
    conn.port = server.port();
    let ns = NameServerConfig::new(server.ip(), true, vec![conn]);
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    let opts = builder.options_mut();
    opts.cache_size = 0;
    opts.attempts = 2;
    opts.timeout = timeout;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.ndots = 0;
    builder.build().ok()
}

/// Asks the resolver at `server` for the A records of `name` (following a CNAME whose target has no
/// answer in the same reply, to tell NXDOMAIN from NODATA).
pub async fn lookup(server: SocketAddr, name: &str, timeout: Duration) -> Lookup {
    let Some(r) = resolver(server, timeout) else {
        return Lookup::Failed("cannot build a resolver".to_owned());
    };
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let mut records = Vec::new();
    let mut qname = fqdn;
    for _ in 0..8 {
        match r.lookup(qname.as_str(), RecordType::A).await {
            Ok(l) => {
                let mut last_cname = None;
                let mut address = None;
                for rec in l.answers() {
                    match &rec.data {
                        RData::A(a) => {
                            records.push(format!("{} A {}", rec.name, a.0));
                            address.get_or_insert(a.0);
                        }
                        RData::CNAME(c) => {
                            records.push(format!("{} CNAME {}", rec.name, c.0));
                            last_cname = Some(c.0.to_string());
                        }
                        other => records.push(format!("{} {}", rec.name, other.record_type())),
                    }
                }
                match (address, last_cname) {
                    (Some(a), _) => return Lookup::Address(a, records),
                    (None, Some(target)) if target != qname => qname = target,
                    _ => return Lookup::NoData(records),
                }
            }
            Err(e) if e.is_nx_domain() => return Lookup::NxDomain(records),
            Err(e) if e.is_no_records_found() => return Lookup::NoData(records),
            Err(e) => {
                let text = e.to_string();
                if text.contains(&ResponseCode::Refused.to_string()) {
                    return Lookup::Refused;
                }
                return Lookup::Failed(text);
            }
        }
    }
    Lookup::Failed("the CNAME chain is too long".to_owned())
}
