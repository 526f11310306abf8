//! Cache tiers and nodes in scenarios: `sku` (Basic by default: one node), `high_availability`
//! (managed-redis, on by default), `replication`; bad combinations are refused with
//! file:line:column; failovers swap the primary and are refused for single-node caches.

use redlink_world::change::MaintenanceChange;
use redlink_world::{AddressPlan, Change, NodeRole, Scenario, Sku, World};

fn world(toml: &str) -> World {
    let s = Scenario::parse("nodes.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    World::build(&s, &AddressPlan::block(0).expect("block 0")).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(toml: &str) -> String {
    match Scenario::parse("nodes.toml", toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn tiers_decide_the_nodes() {
    let w = world(
        r#"
[[cache]]
name = "basic"
[[cache]]
name = "standard"
sku = "Standard"
replication = { latency_ms = 250 }
[[cache]]
name = "amr"
flavour = "managed-redis"
region = "westeurope"
[[cache]]
name = "amr-single"
flavour = "managed-redis"
region = "westeurope"
high_availability = false
"#,
    );
    let nodes = |n: &str| w.cache(n).map(|c| c.nodes.count);
    assert_eq!(w.cache("basic").map(|c| c.sku), Some(Sku::Basic));
    assert_eq!(nodes("basic"), Some(1));
    assert_eq!(nodes("standard"), Some(2));
    assert_eq!(
        w.cache("standard").map(|c| c.replication.latency_ms),
        Some(250)
    );
    assert_eq!(nodes("amr"), Some(2));
    assert_eq!(nodes("amr-single"), Some(1));
}

#[test]
fn bad_tiers_are_refused_where_they_are_written() {
    let e = refused("[[cache]]\nname = \"c\"\nsku = \"Gold\"\n");
    assert!(e.starts_with("nodes.toml:3:7"), "{e}");
    assert!(e.contains("Basic, Standard, Premium"), "{e}");
    let e = refused(
        "[[cache]]\nname = \"c\"\nflavour = \"managed-redis\"\nregion = \"westeurope\"\nsku = \"Standard\"\n",
    );
    assert!(e.starts_with("nodes.toml:5:7"), "{e}");
    let e = refused("[[cache]]\nname = \"c\"\nhigh_availability = true\n");
    assert!(e.starts_with("nodes.toml:3:21"), "{e}");
    assert!(e.contains("Azure Managed Redis's setting"), "{e}");
    let e = refused("[[cache]]\nname = \"c\"\nreplication = { latency_ms = 5 }\n");
    assert!(e.starts_with("nodes.toml:3:15"), "{e}");
    assert!(e.contains("needs a replica"), "{e}");
}

#[test]
fn failover_swaps_roles_and_single_nodes_refuse() {
    let mut w = world("[[cache]]\nname = \"s\"\nsku = \"Premium\"\n[[cache]]\nname = \"b\"\n");
    let said = Change::Failover("s".into())
        .apply(&mut w)
        .expect("fails over");
    assert!(said.contains("node 1"), "{said}");
    assert_eq!(w.cache("s").map(|c| c.nodes.primary), Some(1));
    let before = w.clone();
    let e = Change::Failover("b".into())
        .apply(&mut w)
        .expect_err("Basic");
    assert!(
        e.to_string().contains("is Basic (one node, no replica)"),
        "{e}"
    );
    let m = Change::Maintenance(MaintenanceChange {
        cache: "s".into(),
        node: NodeRole::Primary,
    });
    m.apply(&mut w).expect("maintenance");
    let e = m.apply(&mut w).expect_err("one at a time");
    assert!(e.to_string().contains("already running"), "{e}");
    let e = Change::Failover("s".into())
        .apply(&mut w)
        .expect_err("waits");
    assert!(e.to_string().contains("maintenance"), "{e}");
    assert_eq!(before.cache("b"), w.cache("b"));
}
