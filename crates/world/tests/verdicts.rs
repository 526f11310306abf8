//! Properties of `verdict` over random changes to a world: route exactly when the cache runs, the
//! port is served, and the endpoint is an Approved private endpoint or a public endpoint with public
//! network access Enabled; and a verdict never depends on anything but its own endpoint's cache.

use proptest::prelude::*;
use redlink_world::{
    AddressPlan, ConnectionState, EndpointId, PublicNetworkAccess, Scenario, Verdict, World,
    verdict,
};

const SCENARIO: &str = r#"
[[network]]
name = "hub"
[[network]]
name = "spoke"
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
    r.unwrap_or_else(|e| panic!("{e}"));
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
            for port in PORTS {
                let (v, why) = verdict(&world, &e.id, port);
                let open = match &e.id {
                    EndpointId::Private { .. } => e.state == Some(ConnectionState::Approved),
                    EndpointId::Public { .. } => {
                        cache.public_network_access == PublicNetworkAccess::Enabled
                    }
                };
                let expected = cache.running && e.ports.contains(&port) && open;
                prop_assert_eq!(v == Verdict::Route, expected, "{} port {}: {}", e.id, port, why);
                prop_assert!(why.starts_with(v.as_str()), "{}", why);
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
            for port in PORTS {
                prop_assert_eq!(verdict(&before, &e.id, port).0, verdict(&world, &e.id, port).0);
            }
        }
    }
}
