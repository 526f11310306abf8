//! Properties of `verdict` over random changes to a world: route exactly when the cache runs, the
//! port is served, the endpoint is an Approved private endpoint or a public endpoint with public
//! network access Enabled, and the source may reach it (the host always; a network when it is the
//! endpoint's own or a peered one); a stopped cache never routes, a non-Approved endpoint never
//! routes; and a verdict never depends on anything but its own endpoint's cache.

use proptest::prelude::*;
use redlink_world::{
    AddressPlan, ConnectionState, EndpointId, PublicNetworkAccess, Scenario, Source, Verdict,
    World, WorldError, verdict,
};

const SCENARIO: &str = r#"
[[network]]
name = "hub"
[[network]]
name = "spoke"
[[network]]
name = "dmz"
peered_with = ["hub"]
[[cache]]
name = "contoso"
non_tls_port = true
[[cache]]
name = "orders"
flavour = "managed-redis"
region = "eastus"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[private_endpoint]]
name = "pe-spoke"
network = "spoke"
cache = "contoso"
state = "Pending"
[[private_endpoint]]
name = "pe-orders"
network = "hub"
cache = "orders"
"#;

const STATES: [ConnectionState; 4] = [
    ConnectionState::Pending,
    ConnectionState::Approved,
    ConnectionState::Rejected,
    ConnectionState::Disconnected,
];
const ENDPOINTS: [&str; 3] = ["pe-hub", "pe-spoke", "pe-orders"];
const CACHES: [&str; 2] = ["contoso", "orders"];
const PORTS: [u16; 4] = [6379, 6380, 10000, 6390];

#[derive(Clone, Debug)]
enum Change {
    State(usize, usize),
    Public(usize, bool),
    Running(usize, bool),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..3usize, 0..4usize).prop_map(|(e, s)| Change::State(e, s)),
        (0..2usize, any::<bool>()).prop_map(|(c, on)| Change::Public(c, on)),
        (0..2usize, any::<bool>()).prop_map(|(c, on)| Change::Running(c, on)),
    ]
}

fn base() -> World {
    let s = Scenario::parse("verdicts.toml", SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    World::build(&s, &AddressPlan::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn apply(world: &mut World, c: &Change) {
    let r = match *c {
        Change::State(e, s) => world
            .set_endpoint_state(ENDPOINTS[e], STATES[s])
            .map(|_| ()),
        Change::Public(c, on) => world.set_public_access(
            CACHES[c],
            if on {
                PublicNetworkAccess::Enabled
            } else {
                PublicNetworkAccess::Disabled
            },
            None,
        ),
        Change::Running(c, on) => world.set_cache_running(CACHES[c], on).map(|_| ()),
    };
    match r {
        // Azure refuses to approve a Rejected or Disconnected connection; the world stays as it was.
        Err(WorldError::Refused { .. }) => {
            assert!(
                matches!(*c, Change::State(_, 1)),
                "only approvals are refused"
            );
        }
        other => other.unwrap_or_else(|e| panic!("{e}")),
    }
}

proptest! {
    #[test]
    fn route_exactly_when_the_model_says_so(changes in prop::collection::vec(change(), 0..12)) {
        let mut world = base();
        for c in &changes {
            apply(&mut world, c);
        }
        for e in world.endpoints() {
            let cache = world.cache(&e.cache).expect("cache");
            for source in Source::all(&world) {
                for port in PORTS {
                    let (v, why) = verdict(&world, &e.id, port, &source);
                    let open = match &e.id {
                        EndpointId::Private { .. } => e.state == Some(ConnectionState::Approved),
                        EndpointId::Public { .. } => {
                            cache.public_network_access == PublicNetworkAccess::Enabled
                        }
                    };
                    // The scenario has no `host`: the host is on the internet.
                    let reachable = match (&source, &e.network) {
                        (_, None) => true,
                        (Source::Host, Some(_)) => false,
                        (Source::Network(from), Some(to)) => {
                            from == to || world.network(from).is_some_and(|n| n.peered_with.contains(to))
                        }
                    };
                    let expected = cache.running && e.ports.contains(&port) && open && reachable;
                    prop_assert_eq!(v == Verdict::Route, expected, "{} port {} from {}: {}", e.id, port, source, why);
                    prop_assert!(why.contains(v.consequence()) || v == Verdict::Route, "{}", why);
                    if !cache.running {
                        prop_assert_eq!(v, Verdict::Refuse);
                    }
                    if e.state.is_some_and(|s| s != ConnectionState::Approved) {
                        prop_assert_ne!(v, Verdict::Route);
                    }
                }
            }
        }
    }

    #[test]
    fn a_change_to_one_cache_leaves_the_others_verdicts_alone(
        changes in prop::collection::vec(change(), 0..12),
    ) {
        let mut world = base();
        for c in &changes {
            apply(&mut world, c);
        }
        let before = world.clone();
        world.set_cache_running("orders", false).expect("orders");
        world.set_public_access("orders", PublicNetworkAccess::Enabled, None).expect("orders");
        for e in before.endpoints().into_iter().filter(|e| e.cache == "contoso") {
            for source in Source::all(&before) {
                for port in PORTS {
                    prop_assert_eq!(
                        verdict(&before, &e.id, port, &source).0,
                        verdict(&world, &e.id, port, &source).0
                    );
                }
            }
        }
    }
}

/// (source network, destination, port, deny?, deny_as) of a random network rule.
type RuleSpec = (Option<usize>, Option<usize>, Option<usize>, bool, usize);

fn rule() -> impl Strategy<Value = RuleSpec> {
    (
        prop::option::of(0..3usize),
        prop::option::of(0..5usize),
        prop::option::of(0..4usize),
        any::<bool>(),
        0..3usize,
    )
}

proptest! {
    #[test]
    fn verdicts_hold_their_invariants_with_rules_and_firewalls(
        changes in prop::collection::vec(change(), 0..12),
        rules in prop::collection::vec(rule(), 0..6),
        firewall in prop::collection::vec((0..2usize, 0..255u8), 0..3),
    ) {
        use redlink_world::{DenyAs, FirewallRule, NetworkRule, RuleAction};
        let mut world = base();
        for c in &changes {
            apply(&mut world, c);
        }
        let networks = ["hub", "spoke", "dmz"];
        let destinations = ["pe-hub", "pe-spoke", "pe-orders", "contoso", "orders"];
        for (i, (src, dst, port, deny, how)) in rules.iter().enumerate() {
            let deny_as = [DenyAs::Drop, DenyAs::Reset, DenyAs::Blackhole][*how];
            world.add_rule(NetworkRule {
                name: format!("r{i}"),
                priority: 100 + u16::try_from(i).expect("few"),
                source: src.map(|s| networks[s].to_owned()),
                destination: dst.map(|d| destinations[d].to_owned()),
                port: port.map(|p| PORTS[p]),
                action: if *deny { RuleAction::Deny } else { RuleAction::Allow },
                deny_as,
            }).expect("rule");
        }
        for (i, (cache, host)) in firewall.iter().enumerate() {
            let a = std::net::Ipv4Addr::new(127, 11, *host, 1);
            world.add_firewall_rule(CACHES[*cache], FirewallRule { name: format!("f{i}"), start: a, end: a }).expect("firewall");
        }
        for e in world.endpoints() {
            let cache = world.cache(&e.cache).expect("cache").clone();
            for source in Source::all(&world) {
                for port in PORTS {
                    let (v, why) = verdict(&world, &e.id, port, &source);
                    prop_assert!(!why.is_empty());
                    if !cache.running || !e.ports.contains(&port) {
                        prop_assert_eq!(v, Verdict::Refuse, "{}", why);
                    }
                    if e.state.is_some_and(|s| s != ConnectionState::Approved) {
                        prop_assert_ne!(v, Verdict::Route, "{}", why);
                    }
                    // Refusal is never per source: the host and every network agree on it.
                    let host = verdict(&world, &e.id, port, &Source::Host).0;
                    if v == Verdict::Refuse && source != Source::Host {
                        let only_rules = world.network_rules.iter().any(|r| r.deny_as == DenyAs::Refuse);
                        prop_assert!(host == Verdict::Refuse || only_rules, "{}", why);
                    }
                }
            }
        }
    }
}
