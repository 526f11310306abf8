//! Turning a [`Resolution`] of the world into DNS records: the answer section, and the SOA for the
//! authority section of NXDOMAIN and NODATA replies.

use hickory_proto::ProtoError;
use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use redlink_world::ttl::{PRIVATE_ZONE_SOA, PUBLIC_ZONE_SOA};
use redlink_world::{Authority, QueryType, RecordData, Resolution, ZoneKind};

/// The world's query type for a DNS record type.
pub fn query_type(rt: RecordType) -> QueryType {
    match rt {
        RecordType::A => QueryType::A,
        RecordType::AAAA => QueryType::Aaaa,
        RecordType::CNAME => QueryType::Cname,
        other => QueryType::Other(u16::from(other)),
    }
}

fn fqdn(name: &str) -> Result<Name, ProtoError> {
    let mut n = Name::from_ascii(name)?;
    n.set_fqdn(true);
    Ok(n)
}

/// The answer records of `resolution` (CNAME chain then A records).
pub fn to_records(resolution: &Resolution) -> Result<Vec<Record>, ProtoError> {
    resolution
        .records()
        .iter()
        .map(|r| {
            let data = match &r.data {
                RecordData::A(a) => RData::A(A(*a)),
                RecordData::Cname(target) => RData::CNAME(CNAME(fqdn(target)?)),
            };
            Ok(Record::from_rdata(fqdn(&r.name)?, r.ttl, data))
        })
        .collect()
}

/// The SOA record of the zone an answer came from.
pub fn soa_record(authority: &Authority) -> Result<Record, ProtoError> {
    let p = match authority.kind {
        ZoneKind::Private => PRIVATE_ZONE_SOA,
        ZoneKind::Public => PUBLIC_ZONE_SOA,
    };
    let soa = SOA::new(
        fqdn(p.mname)?,
        fqdn(p.rname)?,
        p.serial,
        p.refresh,
        p.retry,
        p.expire,
        p.minimum,
    );
    Ok(Record::from_rdata(
        fqdn(&authority.zone)?,
        p.ttl,
        RData::SOA(soa),
    ))
}
