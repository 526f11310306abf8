//! DNS time-to-live defaults and the SOA values the simulated zones carry, chosen to look like Azure.
//!
//! | record | TTL | why |
//! | --- | --- | --- |
//! | private zone A record (registered by a private endpoint's zone group, or declared without `ttl`) | 10 s | Azure's DNS zone group writes its records with TTL 10 |
//! | public CNAME `NAME.redis.cache.windows.net` → `NAME.privatelink.…` | 60 s | short, as Azure's public records are |
//! | public A record of a cache | 60 s | idem |
//! | custom forwarder static answer (without `ttl`) | 300 s | a typical hand-written entry on a custom DNS server |
//! | SOA of a private zone | 3600 s, negative TTL (minimum) 10 s | Azure private DNS zone SOA (`azureprivatedns.net`, refresh 3600, retry 300, expire 2419200, minimum 10) |
//! | SOA of a public zone | 3600 s, negative TTL 60 s | idem, with a public-zone negative TTL |

/// TTL of a private zone A record when none is given (Azure's zone group default).
pub const PRIVATE_RECORD: u32 = 10;
/// TTL of the public CNAME to the privatelink name.
pub const PUBLIC_CNAME: u32 = 60;
/// TTL of a cache's public A record.
pub const PUBLIC_ADDRESS: u32 = 60;
/// TTL of a custom forwarder's static answer when none is given.
pub const FORWARDER_ANSWER: u32 = 300;

/// The SOA a simulated zone answers with (in the authority section of NXDOMAIN and NODATA replies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoaParams {
    /// TTL of the SOA record itself.
    pub ttl: u32,
    /// Primary name server.
    pub mname: &'static str,
    /// Responsible mailbox, in DNS form.
    pub rname: &'static str,
    /// Serial.
    pub serial: u32,
    /// Refresh.
    pub refresh: i32,
    /// Retry.
    pub retry: i32,
    /// Expire.
    pub expire: i32,
    /// Negative-caching TTL.
    pub minimum: u32,
}

/// SOA values of private DNS zones (as Azure private DNS shows them).
pub const PRIVATE_ZONE_SOA: SoaParams = SoaParams {
    ttl: 3600,
    mname: "azureprivatedns.net",
    rname: "azureprivatedns-host.microsoft.com",
    serial: 1,
    refresh: 3600,
    retry: 300,
    expire: 2_419_200,
    minimum: 10,
};

/// SOA values of the public zones (`redis.cache.windows.net`, `redis.azure.net`).
pub const PUBLIC_ZONE_SOA: SoaParams = SoaParams {
    ttl: 3600,
    mname: "ns1-01.azure-dns.com",
    rname: "azuredns-hostmaster.microsoft.com",
    serial: 1,
    refresh: 3600,
    retry: 300,
    expire: 2_419_200,
    minimum: 60,
};
