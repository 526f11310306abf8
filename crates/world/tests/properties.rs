//! Properties of resolution over random worlds (generated as scenario files, so parsing and building
//! are exercised too).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use proptest::prelude::*;
use redlink_world::{AddressOwner, AddressPlan, Outcome, QueryType, Scenario, World, resolve};

const NETWORKS: [&str; 4] = ["hub", "spoke", "dmz", "lab"];
const CACHES: [&str; 3] = ["contoso", "fabrikam", "orders"];
const ZONES: [&str; 3] = [
    "privatelink.redis.cache.windows.net",
    "privatelink.redis.azure.net",
    "corp.internal",
];
const STATES: [&str; 4] = ["Pending", "Approved", "Rejected", "Disconnected"];

/// (zone, links as (network, NxDomainRedirect?), records as (cache, host number))
type ZoneSpec = (usize, Vec<(usize, bool)>, Vec<(usize, u8)>);
/// (network, forwards_to, answers as (cache, host number))
type ForwarderSpec = (usize, Option<usize>, Vec<(usize, u8)>);

#[derive(Clone, Debug)]
struct Spec {
    networks: usize,
    caches: Vec<bool>,                     // managed-redis?
    endpoints: Vec<(usize, usize, usize)>, // network, cache, state
    zones: Vec<ZoneSpec>,
    forwarders: Vec<ForwarderSpec>,
    block: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (1..=4usize, prop::collection::vec(any::<bool>(), 1..=3)).prop_flat_map(|(networks, caches)| {
        let nc = caches.len();
        (
            Just(networks),
            Just(caches),
            prop::collection::vec((0..networks, 0..nc, 0..4usize), 0..5),
            prop::collection::btree_map(
                0..3usize,
                (
                    prop::collection::btree_map(0..networks, any::<bool>(), 0..=networks),
                    prop::collection::vec((0..nc, 4..250u8), 0..3),
                ),
                0..=3,
            ),
            prop::collection::btree_map(
                0..networks,
                (
                    prop::option::of(0..networks),
                    prop::collection::vec((0..nc, 1..250u8), 0..3),
                ),
                0..=2,
            ),
            0..AddressPlan::BLOCKS,
        )
            .prop_map(
                |(networks, caches, endpoints, zones, forwarders, block)| Spec {
                    networks,
                    caches,
                    endpoints,
                    zones: zones
                        .into_iter()
                        .map(|(z, (l, r))| (z, l.into_iter().collect(), r))
                        .collect(),
                    forwarders: forwarders
                        .into_iter()
                        .map(|(n, (t, a))| (n, t, a))
                        .collect(),
                    block,
                },
            )
    })
}

fn host(spec: &Spec, cache: usize) -> String {
    if spec.caches[cache] {
        format!("{}.westeurope.redis.azure.net", CACHES[cache])
    } else {
        format!("{}.redis.cache.windows.net", CACHES[cache])
    }
}

fn render(spec: &Spec) -> String {
    let mut t = String::new();
    for (n, name) in NETWORKS.iter().enumerate().take(spec.networks) {
        let _ = writeln!(t, "[[network]]\nname = \"{name}\"");
        if let Some((_, to, answers)) = spec.forwarders.iter().find(|f| f.0 == n) {
            let _ = writeln!(t, "[network.dns_forwarder]");
            if let Some(to) = to {
                let _ = writeln!(t, "forwards_to = \"{}\"", NETWORKS[*to]);
            }
            let _ = writeln!(t, "[network.dns_forwarder.answers]");
            let mut seen = std::collections::HashSet::new();
            for (c, h) in answers {
                if seen.insert(*c) {
                    let _ = writeln!(t, "\"{}\" = \"127.99.0.{h}\"", host(spec, *c));
                }
            }
        }
    }
    for (i, managed) in spec.caches.iter().enumerate() {
        let _ = writeln!(t, "[[cache]]\nname = \"{}\"", CACHES[i]);
        if *managed {
            let _ = writeln!(t, "flavour = \"managed-redis\"\nregion = \"westeurope\"");
        }
    }
    for (i, (n, c, s)) in spec.endpoints.iter().enumerate() {
        let _ = writeln!(
            t,
            "[[private_endpoint]]\nname = \"pe{i}\"\nnetwork = \"{}\"\ncache = \"{}\"\nstate = \"{}\"",
            NETWORKS[*n], CACHES[*c], STATES[*s]
        );
    }
    for (z, links, records) in &spec.zones {
        let _ = writeln!(t, "[[dns_zone]]\nname = \"{}\"", ZONES[*z]);
        for (n, redirect) in links {
            // Azure allows NxDomainRedirect on links to privatelink zones only.
            let policy = if *redirect && ZONES[*z].starts_with("privatelink.") {
                "NxDomainRedirect"
            } else {
                "Default"
            };
            let _ = writeln!(
                t,
                "[[dns_zone.links]]\nnetwork = \"{}\"\nresolution_policy = \"{policy}\"",
                NETWORKS[*n]
            );
        }
        for (c, h) in records {
            let name = if spec.caches[*c] {
                format!("{}.westeurope", CACHES[*c])
            } else {
                CACHES[*c].to_owned()
            };
            let _ = writeln!(
                t,
                "[[dns_zone.records]]\nname = \"{name}\"\naddress = \"127.10.1.{h}\""
            );
        }
    }
    t
}

fn build(spec: &Spec) -> World {
    let text = render(spec);
    let scenario = Scenario::parse("random.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let plan = AddressPlan::block(spec.block).expect("block in range");
    World::build(&scenario, &plan).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn private_zone_of(world: &World, cache: &str) -> String {
    world
        .cache(cache)
        .expect("cache")
        .flavour
        .private_zone()
        .to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A network without a forwarder whose linked privatelink zone holds the cache's record gets
    /// exactly that record's addresses, whatever else is public.
    #[test]
    fn linked_zone_with_the_record_wins(spec in spec()) {
        let world = build(&spec);
        for net in &world.networks {
            if net.forwarder.is_some() { continue; }
            for cache in &world.caches {
                if world.endpoints_of(&cache.name).next().is_none() { continue; }
                let zone_name = private_zone_of(&world, &cache.name);
                let Some(zone) = world.dns_zone(&zone_name) else { continue };
                if zone.link_to(&net.name).is_none() { continue; }
                let want: Vec<Ipv4Addr> = zone.records_named(&cache.relative_name()).map(|r| r.address).collect();
                if want.is_empty() { continue; }
                let r = resolve(&world, &net.name, &cache.host_name(), QueryType::A);
                prop_assert_eq!(r.addresses(), want, "{}", r.summary());
            }
        }
    }

    /// After a network's link to a privatelink zone is removed, no cache name of that zone resolves
    /// to a private endpoint from it (unless a forwarder answers with one).
    #[test]
    fn removing_a_link_never_yields_a_private_address(spec in spec()) {
        let mut world = build(&spec);
        let linked: Vec<(String, String)> = world
            .dns_zones
            .iter()
            .flat_map(|z| z.links.iter().map(move |l| (z.name.clone(), l.network.clone())))
            .collect();
        for (zone, network) in linked {
            world.unlink_zone(&zone, &network).expect("was linked");
            if world.network(&network).expect("network").forwarder.is_some() { continue; }
            for cache in world.caches.clone() {
                if private_zone_of(&world, &cache.name) != zone { continue; }
                let r = resolve(&world, &network, &cache.host_name(), QueryType::A);
                let private = matches!(r.outcome(&world), Outcome::Address { owner: Some(AddressOwner::PrivateEndpoint { .. }), .. });
                prop_assert!(!private, "{}", r.summary());
                prop_assert!(r.addresses().iter().all(|a| a.octets()[1] != 10), "{}", r.summary());
            }
        }
    }

    /// Whatever the world and the name, every answered address is a loopback alias, the CNAME chain
    /// is short, and the explanation is not empty.
    #[test]
    fn resolution_stays_in_loopback(spec in spec(), extra in "[a-z0-9.-]{0,40}", qtype in 0..4u8) {
        let world = build(&spec);
        let qtype = match qtype { 0 => QueryType::A, 1 => QueryType::Aaaa, 2 => QueryType::Cname, _ => QueryType::Other(16) };
        let mut names: Vec<String> = world.caches.iter().flat_map(|c| [c.host_name(), c.privatelink_host_name()]).collect();
        names.push(extra.clone());
        names.push(format!("{extra}.redis.cache.windows.net"));
        names.push(format!("{extra}.privatelink.redis.azure.net"));
        names.push(format!("{extra}.corp.internal"));
        for net in NETWORKS.iter().take(spec.networks).chain(["nowhere"].iter()) {
            for name in &names {
                let r = resolve(&world, net, name, qtype);
                prop_assert!(r.addresses().iter().all(|a| a.octets()[0] == 127), "{:?}", r);
                prop_assert!(r.records().len() <= redlink_world::resolve::MAX_CHAIN + 2);
                prop_assert!(!r.explanation.is_empty());
                let _ = r.summary();
            }
        }
    }

    /// Random text never panics the parser, and whatever parses builds and resolves without panicking.
    #[test]
    fn random_files_never_panic(text in r#"(\[\[(network|cache|dns_zone|private_endpoint|expect)\]\]\n|name = "[a-z]{1,3}"\n|(network|cache|from|resolve) = "[a-z.]{0,8}"\n|address = "12[0-9]\.[0-9]{1,3}\.0\.[0-9]"\n|links = \[\{ network = "[a-z]{1,3}" \}\]\n|[a-z_]{1,8} = [0-9"\[\{]{0,3}\n){0,14}"#) {
        if let Ok(scenario) = Scenario::parse("fuzz.toml", &text)
            && let Ok(world) = World::build(&scenario, &AddressPlan::default())
        {
            for net in &world.networks {
                for cache in &world.caches {
                    let _ = resolve(&world, &net.name, &cache.host_name(), QueryType::A).summary();
                }
            }
        }
    }

    /// Random worlds always build, and random mutations leave them resolvable.
    #[test]
    fn random_mutations_never_panic(spec in spec(), ops in prop::collection::vec((0..6u8, 0..4usize, 0..3usize, 0..3usize), 0..12)) {
        let mut world = build(&spec);
        for (op, n, c, z) in ops {
            let net = NETWORKS[n];
            let zone = ZONES[z];
            let cache = CACHES[c];
            let _ = match op {
                0 => world.link_zone(zone, net, None, redlink_world::ResolutionPolicy::Default),
                1 => world.unlink_zone(zone, net).map(|_| ()),
                2 => world.remove_record(zone, cache, None).map(|_| ()),
                3 => world.add_record(zone, cache, Ipv4Addr::new(127, 10, 9, 9), None),
                4 => world.set_forwarder_answer(net, &format!("{cache}.redis.cache.windows.net"), Some(Ipv4Addr::new(127, 9, 9, 9)), None),
                _ => world.set_cache_running(cache, false).map(|_| ()),
            };
            for net in &world.networks {
                for cache in &world.caches {
                    let r = resolve(&world, &net.name, &cache.host_name(), QueryType::A);
                    prop_assert!(r.addresses().iter().all(|a| a.octets()[0] == 127));
                }
            }
        }
    }
}
