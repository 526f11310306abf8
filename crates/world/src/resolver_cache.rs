//! What a caching resolver remembers: a network whose `dns_cache` is on keeps each name's answer
//! (a CNAME, A records, or a negative answer) for its TTL — negative answers (NXDOMAIN, NODATA) for
//! the SOA minimum of the zone that gave them ([`crate::ttl`]) — and answers from that memory
//! until it expires, whatever the world has become meanwhile. That is how "the spoke kept
//! resolving the public address for a while after the link was created" happens in Azure.
//!
//! Time is given by the caller in milliseconds (the process's one clock, `redlink-clock`), so
//! this stays pure data: [`resolve_cached`] is [`crate::resolve()`] with each name of the CNAME
//! chain looked up in the cache first. A cached answer is returned with its remaining TTL and a
//! [`Step::Cached`] before the steps that explained it when it was cached. REFUSED is never cached.

use std::collections::HashMap;

use crate::model::{Network, World};
use crate::resolve::{Lookup, QueryType, Resolution, Step, ZoneKind, lookup, resolve_with};
use crate::ttl;

/// Most names one resolver remembers; past it, expired entries go, then everything.
pub const CACHE_LIMIT: usize = 4096;

#[derive(Clone, Debug)]
struct Entry {
    lookup: Lookup,
    steps: Vec<Step>,
    stored_ms: u64,
    ttl_s: u32,
}

impl Entry {
    fn expires_ms(&self) -> u64 {
        self.stored_ms
            .saturating_add(u64::from(self.ttl_s).saturating_mul(1000))
    }
}

/// One resolver's cache: name → the answer it got and when.
#[derive(Clone, Debug, Default)]
pub struct ResolverCache {
    entries: HashMap<String, Entry>,
}

/// A resolution from the cache, and until when the same query gets the same answer (the next
/// time a remaining TTL ticks down or an entry expires), for memoising the encoded response.
#[derive(Clone, Debug)]
pub struct CachedResolution {
    /// The answer and its explanation.
    pub resolution: Resolution,
    /// Clock time (ms) until which the same query answers the same; `None` = as long as the world
    /// does not change (nothing was cached).
    pub stable_until_ms: Option<u64>,
}

impl ResolverCache {
    /// An empty cache.
    pub fn new() -> ResolverCache {
        ResolverCache::default()
    }

    /// How many names are cached (expired ones included until they are replaced).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn insert(&mut self, name: &str, entry: Entry, now_ms: u64) {
        if self.entries.len() >= CACHE_LIMIT && !self.entries.contains_key(name) {
            self.entries.retain(|_, e| e.expires_ms() > now_ms);
            if self.entries.len() >= CACHE_LIMIT {
                self.entries.clear();
            }
        }
        self.entries.insert(name.to_owned(), entry);
    }
}

/// The TTL a lookup is cached for: its records' TTL, or its zone's SOA minimum for a negative
/// answer; `None` for REFUSED (not cached).
fn ttl_of(l: &Lookup) -> Option<u32> {
    let negative = |kind: ZoneKind| match kind {
        ZoneKind::Private => ttl::PRIVATE_ZONE_SOA.minimum,
        ZoneKind::Public => ttl::PUBLIC_ZONE_SOA.minimum,
    };
    match l {
        Lookup::Addresses(_, ttl, _) | Lookup::Cname(_, ttl, _) => Some(*ttl),
        Lookup::NoData(a) | Lookup::NxDomain(a) => Some(negative(a.kind)),
        Lookup::Refused => None,
    }
}

fn with_ttl(l: &Lookup, ttl: u32) -> Lookup {
    match l {
        Lookup::Addresses(a, _, z) => Lookup::Addresses(a.clone(), ttl, z.clone()),
        Lookup::Cname(t, _, z) => Lookup::Cname(t.clone(), ttl, z.clone()),
        other => other.clone(),
    }
}

/// Resolves `qname` as `network`'s resolver does at clock time `now_ms`: from `cache` while an
/// answer is fresh, else from the world (and, when `store` and the network caches, remembering the
/// answer). Without `dns_cache` on the network this is exactly [`crate::resolve()`]. `store = false`
/// peeks: it explains what the resolver would answer without changing its cache.
pub fn resolve_cached(
    world: &World,
    network: &str,
    qname: &str,
    qtype: QueryType,
    cache: &mut ResolverCache,
    now_ms: u64,
    store: bool,
) -> CachedResolution {
    let caching = world.network(network).is_some_and(|n| n.dns_cache);
    if !caching {
        return CachedResolution {
            resolution: crate::resolve(world, network, qname, qtype),
            stable_until_ms: None,
        };
    }
    let mut stable_until: Option<u64> = None;
    let mut until = |t: u64| stable_until = Some(stable_until.map_or(t, |s| s.min(t)));
    let mut look = |world: &World, net: &Network, name: &str, steps: &mut Vec<Step>| -> Lookup {
        if let Some(e) = cache.entries.get(name)
            && e.expires_ms() > now_ms
        {
            let age_ms = now_ms.saturating_sub(e.stored_ms);
            let age_s = age_ms / 1000;
            let remaining_s = e
                .ttl_s
                .saturating_sub(u32::try_from(age_s).unwrap_or(u32::MAX));
            // The remaining TTL ticks down at the next whole second of age.
            until(e.stored_ms.saturating_add((age_s + 1).saturating_mul(1000)));
            steps.push(Step::Cached {
                network: net.name.clone(),
                name: name.to_owned(),
                age_s,
                remaining_s,
            });
            steps.extend(e.steps.iter().cloned());
            return with_ttl(&e.lookup, remaining_s);
        }
        let mut fresh = Vec::new();
        let found = lookup(world, net, name, &mut fresh);
        if let Some(ttl_s) = ttl_of(&found)
            && ttl_s > 0
        {
            until(now_ms.saturating_add(1000));
            if store {
                cache.insert(
                    name,
                    Entry {
                        lookup: found.clone(),
                        steps: fresh.clone(),
                        stored_ms: now_ms,
                        ttl_s,
                    },
                    now_ms,
                );
            }
        }
        steps.extend(fresh);
        found
    };
    let resolution = resolve_with(world, network, qname, qtype, &mut look);
    CachedResolution {
        resolution,
        stable_until_ms: stable_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, Outcome, Scenario};

    const WORLD: &str = r#"
dns_cache = true
[[network]]
name = "hub"
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
"#;

    fn owner(world: &World, r: &Resolution) -> String {
        match r.outcome(world) {
            Outcome::Address { owner: Some(o), .. } => o.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_cached_public_answer_outlives_the_link_until_its_ttl() {
        let scenario = Scenario::parse("t.toml", WORLD).expect("parses");
        let mut world = World::build(&scenario, &crate::AddressPlan::default()).expect("builds");
        let mut cache = ResolverCache::new();
        let host = "contoso.redis.cache.windows.net";
        let t0 = 1_000_000;
        let r = resolve_cached(&world, "hub", host, QueryType::A, &mut cache, t0, true);
        assert_eq!(
            owner(&world, &r.resolution),
            "the public endpoint of cache contoso"
        );
        Change::Link(crate::change::LinkChange {
            zone: "privatelink.redis.cache.windows.net".into(),
            network: "hub".into(),
            name: None,
            resolution_policy: Default::default(),
        })
        .apply(&mut world)
        .expect("link");
        // 59 s later: still the cached public answer, with 1 s of TTL left and the reason.
        let r = resolve_cached(
            &world,
            "hub",
            host,
            QueryType::A,
            &mut cache,
            t0 + 59_000,
            true,
        );
        assert_eq!(
            owner(&world, &r.resolution),
            "the public endpoint of cache contoso"
        );
        assert!(
            r.resolution.summary().contains("DNS cache"),
            "{}",
            r.resolution.summary()
        );
        assert!(r.resolution.records().iter().all(|rec| rec.ttl == 1));
        assert_eq!(r.stable_until_ms, Some(t0 + 60_000));
        // At 60 s the public CNAME and A expire: the zone answers now.
        let r = resolve_cached(
            &world,
            "hub",
            host,
            QueryType::A,
            &mut cache,
            t0 + 60_000,
            true,
        );
        assert_eq!(
            owner(&world, &r.resolution),
            "private endpoint pe-hub of cache contoso"
        );
        // The uncached world says the same at once.
        let plain = crate::resolve(&world, "hub", host, QueryType::A);
        assert_eq!(
            owner(&world, &plain),
            "private endpoint pe-hub of cache contoso"
        );
    }

    #[test]
    fn negative_answers_are_cached_for_the_soa_minimum_and_peeking_stores_nothing() {
        let scenario = Scenario::parse("t.toml", &WORLD.replace(
            "name = \"privatelink.redis.cache.windows.net\"",
            "name = \"privatelink.redis.cache.windows.net\"\nauto_register = false\nlinks = [{ network = \"hub\" }]",
        ))
        .expect("parses");
        let mut world = World::build(&scenario, &crate::AddressPlan::default()).expect("builds");
        let mut cache = ResolverCache::new();
        let host = "contoso.privatelink.redis.cache.windows.net";
        let peek = resolve_cached(&world, "hub", host, QueryType::A, &mut cache, 0, false);
        assert_eq!(peek.resolution.outcome(&world), Outcome::NxDomain);
        assert!(cache.is_empty(), "a peek stores nothing");
        resolve_cached(&world, "hub", host, QueryType::A, &mut cache, 0, true);
        Change::AddRecord(crate::change::RecordChange {
            zone: "privatelink.redis.cache.windows.net".into(),
            name: "contoso".into(),
            address: None,
            endpoint: Some("pe-hub".into()),
            ttl: None,
        })
        .apply(&mut world)
        .expect("record");
        let minimum = u64::from(ttl::PRIVATE_ZONE_SOA.minimum) * 1000;
        let r = resolve_cached(
            &world,
            "hub",
            host,
            QueryType::A,
            &mut cache,
            minimum - 1,
            true,
        );
        assert_eq!(
            r.resolution.outcome(&world),
            Outcome::NxDomain,
            "negative answer cached"
        );
        let r = resolve_cached(&world, "hub", host, QueryType::A, &mut cache, minimum, true);
        assert_eq!(
            owner(&world, &r.resolution),
            "private endpoint pe-hub of cache contoso"
        );
    }

    #[test]
    fn without_dns_cache_it_is_plain_resolution() {
        let scenario =
            Scenario::parse("t.toml", &WORLD.replace("dns_cache = true", "")).expect("parses");
        let world = World::build(&scenario, &crate::AddressPlan::default()).expect("builds");
        let mut cache = ResolverCache::new();
        let r = resolve_cached(
            &world,
            "hub",
            "contoso.redis.cache.windows.net",
            QueryType::A,
            &mut cache,
            0,
            true,
        );
        assert!(cache.is_empty());
        assert_eq!(r.stable_until_ms, None);
    }
}
