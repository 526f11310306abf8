//! Clustered caches in the world model: `shards`, `cluster_policy`, `cluster_announce` from the
//! scenario file (and their errors, at file:line:column), the per-node ports every endpoint stands
//! for, their verdicts, and the `scale` change.

use redlink_world::change::ScaleChange;
use redlink_world::{
    AddressPlan, Change, ClusterPolicy, EndpointId, PortScheme, Scenario, Source, Verdict, World,
    verdict,
};

fn world(toml: &str) -> World {
    let scenario = Scenario::parse("test.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    World::build(&scenario, &AddressPlan::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn error(toml: &str) -> String {
    match Scenario::parse("bad.toml", toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

const PREMIUM: &str = r#"
[[network]]
name = "hub"

[[network]]
name = "spoke"
peered_with = ["hub"]

[[cache]]
name = "contoso"
shards = 3
non_tls_port = true

[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"

[[network_rule]]
name = "deny-node-1"
priority = 100
source = "spoke"
destination = "pe-hub"
port = 15001
action = "deny"
deny_as = "drop"
"#;

#[test]
fn a_premium_cluster_has_a_replica_per_shard_numbered_after_its_primary() {
    let w = world(&PREMIUM.replace("shards = 3", "sku = \"Premium\"\nshards = 3"));
    let c = w.cache("contoso").expect("cache");
    assert!(c.nodes.has_replica());
    assert_eq!(c.shard_copies(), 2);
    assert_eq!(c.node_count(), 6);
    // Shard s: primary 15000 + 2s, replica 15001 + 2s (Azure numbers a shard's nodes together).
    assert_eq!(
        c.node_ports()
            .iter()
            .filter_map(|p| p.tls)
            .collect::<Vec<_>>(),
        vec![15000, 15001, 15002, 15003, 15004, 15005]
    );
    assert_eq!(c.node_of_port(13005), Some((5, false)));
    // az's instances: every node, its shard, its own ports, the first of each shard primary.
    let instances = c.instances();
    assert_eq!(instances.len(), 6);
    assert_eq!(
        instances
            .iter()
            .map(|i| (i.shard_id, i.ssl_port, i.non_ssl_port, i.is_primary))
            .collect::<Vec<_>>(),
        vec![
            (Some(0), 15000, Some(13000), true),
            (Some(0), 15001, Some(13001), false),
            (Some(1), 15002, Some(13002), true),
            (Some(1), 15003, Some(13003), false),
            (Some(2), 15004, Some(13004), true),
            (Some(2), 15005, Some(13005), false),
        ]
    );
    // Without a sku, a clustered cache stays primaries only (as before replicas existed).
    let plain = world(PREMIUM);
    assert_eq!(plain.cache("contoso").expect("cache").node_count(), 3);
}

#[test]
fn premium_shards_put_13000_and_15000_plus_n_on_every_endpoint() {
    let w = world(PREMIUM);
    let c = w.cache("contoso").expect("cache");
    assert_eq!(c.port_scheme(), PortScheme::Premium);
    assert_eq!(c.node_count(), 3);
    for e in w.endpoints() {
        assert_eq!(
            e.ports,
            vec![6379, 6380, 13000, 15000, 13001, 15001, 13002, 15002],
            "{}",
            e.id
        );
        assert_eq!(e.tls_ports, vec![6380, 15000, 15001, 15002], "{}", e.id);
    }
    assert_eq!(c.node_of_port(15002), Some((2, true)));
    assert_eq!(c.node_of_port(13000), Some((0, false)));
    assert_eq!(c.node_of_port(6380), None);
    // The world's JSON carries the cluster settings.
    let json = serde_json::to_value(c).expect("json");
    assert_eq!(json["shards"], 3);
}

#[test]
fn a_node_port_gets_the_endpoints_verdicts_and_its_own_rules() {
    let w = world(PREMIUM);
    let pe = EndpointId::Private {
        endpoint: "pe-hub".into(),
    };
    let spoke = Source::Network("spoke".into());
    let hub = Source::Network("hub".into());
    let (v, why) = verdict(&w, &pe, 15001, &spoke);
    assert_eq!(v, Verdict::Drop, "{why}");
    assert!(why.contains("deny-node-1"), "{why}");
    for port in [6380, 15000, 15002, 13001] {
        let (v, why) = verdict(&w, &pe, port, &spoke);
        assert_eq!(v, Verdict::Route, "{port}: {why}");
    }
    let (v, why) = verdict(&w, &pe, 15001, &hub);
    assert_eq!(v, Verdict::Route, "{why}");
    assert!(why.contains("cluster node 1"), "{why}");
    // Public network access is Disabled (the cache has a private endpoint): node ports too.
    let public = EndpointId::Public {
        cache: "contoso".into(),
    };
    let (v, why) = verdict(&w, &public, 15002, &Source::Host);
    assert_ne!(v, Verdict::Route, "{why}");
    // A port past the last node is not served.
    let (v, why) = verdict(&w, &pe, 15003, &hub);
    assert_eq!(v, Verdict::Refuse, "{why}");
    assert!(why.contains("does not serve port 15003"), "{why}");
}

#[test]
fn managed_redis_oss_policy_uses_85xx_and_enterprise_none() {
    let w = world(
        r#"
[[cache]]
name = "orders"
flavour = "managed-redis"
region = "westeurope"
cluster_policy = "OSS"
shards = 2

[[cache]]
name = "carts"
flavour = "managed-redis"
region = "westeurope"

[[cache]]
name = "solo"
flavour = "managed-redis"
region = "westeurope"
cluster_policy = "OSS"
"#,
    );
    let orders = w.cache("orders").expect("orders");
    assert_eq!(orders.cluster_policy, ClusterPolicy::Oss);
    assert_eq!(orders.served_ports(), vec![10000, 8500, 8501]);
    assert_eq!(orders.served_tls_ports(), vec![10000, 8500, 8501]);
    let carts = w.cache("carts").expect("carts");
    assert_eq!(carts.cluster_policy, ClusterPolicy::Enterprise);
    assert_eq!(carts.served_ports(), vec![10000]);
    // OSS policy without a shard count: one shard, one node port.
    assert_eq!(
        w.cache("solo").expect("solo").served_ports(),
        vec![10000, 8500]
    );
}

#[test]
fn an_announced_address_nothing_owns_is_held_as_unowned() {
    let w = world(
        r#"
[[cache]]
name = "contoso"
shards = 2
cluster_announce = "127.99.0.1"
"#,
    );
    assert!(
        w.unowned_addresses()
            .contains(&"127.99.0.1".parse().expect("ip"))
    );
    assert!(w.unowned_ports().contains(&15001));
}

#[test]
fn bad_cluster_settings_are_errors_at_their_place() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[[cache]]\nname = \"contoso\"\nshards = 31\n",
            &["bad.toml:3:", "shards = 31 is out of range", "1 to 30"],
        ),
        (
            "[[cache]]\nname = \"contoso\"\nshards = 0\n",
            &["bad.toml:3:", "shards = 0 is out of range"],
        ),
        (
            "[[cache]]\nname = \"contoso\"\ncluster_policy = \"OSS\"\n",
            &["bad.toml:3:", "cluster_policy is a managed-redis setting"],
        ),
        (
            "[[cache]]\nname = \"o\"\nflavour = \"managed-redis\"\nregion = \"westeurope\"\nshards = 3\n",
            &[
                "bad.toml:5:",
                "Enterprise cluster policy are not simulated",
                "CROSSSLOT",
            ],
        ),
        (
            "[[cache]]\nname = \"o\"\nflavour = \"managed-redis\"\nregion = \"westeurope\"\ncluster_policy = \"OSS\"\nshards = 101\n",
            &["bad.toml:6:", "1 to 100"],
        ),
        (
            "[[cache]]\nname = \"contoso\"\ncluster_announce = \"127.99.0.1\"\n",
            &[
                "bad.toml:3:",
                "cluster_announce needs a cache whose clients follow the cluster",
            ],
        ),
        (
            "[[cache]]\nname = \"contoso\"\nshards = 2\ncluster_announce = \"10.0.0.4\"\n",
            &["bad.toml:4:", "outside 127.0.0.0/8"],
        ),
        (
            "[[cache]]\nname = \"contoso\"\nshards = 2\npersistence = { rdb = \"15m\" }\n",
            &[
                "bad.toml:4:",
                "persistence on a clustered cache is not simulated",
            ],
        ),
        (
            "[[cache]]\nname = \"o\"\nflavour = \"managed-redis\"\nregion = \"westeurope\"\ncluster_policy = \"Sharded\"\n",
            &["bad.toml:5:", "unknown variant"],
        ),
        (
            "[[cache]]\nname = \"contoso\"\nsku = \"Standard\"\nshards = 2\n",
            &[
                "bad.toml:4:",
                "clustering (shards) is available for Premium caches only",
            ],
        ),
        (
            "[[cache]]\nname = \"o\"\nflavour = \"managed-redis\"\nregion = \"westeurope\"\ncluster_policy = \"OSS\"\nshards = 2\nhigh_availability = true\n",
            &[
                "bad.toml:7:",
                "replicas of a clustered Azure Managed Redis cache are not simulated",
            ],
        ),
    ];
    for (toml, needles) in cases {
        let e = error(toml);
        for n in *needles {
            assert!(e.contains(n), "{n:?} not in: {e}");
        }
    }
}

#[test]
fn scale_reshards_premium_clusters_only() {
    let mut w = world(PREMIUM);
    let scale = |cache: &str, shards| {
        Change::Scale(ScaleChange {
            cache: cache.into(),
            shards,
        })
    };
    let done = scale("contoso", 4).apply(&mut w).expect("scales");
    assert!(done.contains("from 3 to 4 shards"), "{done}");
    assert_eq!(w.cache("contoso").expect("cache").node_count(), 4);
    assert!(w.endpoints()[0].ports.contains(&15003));
    for (shards, needle) in [(0, "out of range"), (31, "out of range")] {
        let e = scale("contoso", shards).apply(&mut w).expect_err("refused");
        assert!(e.to_string().contains(needle), "{e}");
    }
    assert_eq!(w.cache("contoso").expect("cache").shards, Some(4));
    let mut plain = world("[[cache]]\nname = \"contoso\"\n");
    let e = scale("contoso", 2).apply(&mut plain).expect_err("refused");
    assert!(e.to_string().contains("is not clustered"), "{e}");
    let mut amr = world(
        "[[cache]]\nname = \"o\"\nflavour = \"managed-redis\"\nregion = \"westeurope\"\ncluster_policy = \"OSS\"\nshards = 2\n",
    );
    let e = scale("o", 3).apply(&mut amr).expect_err("refused");
    assert!(e.to_string().contains("cannot be changed"), "{e}");
}
