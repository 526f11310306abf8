//! Every resolution case, from a small world per case.

use std::net::Ipv4Addr;

use redlink_world::{
    AddressOwner, AddressPlan, Answer, ConnectionState, Outcome, QueryType, RecordData,
    ResolutionPolicy, Scenario, Step, World, ZoneKind, quickstart, resolve,
};

fn world(toml: &str) -> World {
    let scenario = Scenario::parse("test.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    World::build(&scenario, &AddressPlan::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn qs() -> World {
    World::build(&quickstart(), &AddressPlan::default()).expect("quickstart builds")
}

const HOST: &str = "contoso.redis.cache.windows.net";
const PL: &str = "contoso.privatelink.redis.cache.windows.net";
const ZONE: &str = "privatelink.redis.cache.windows.net";

fn cname(name: &str, target: &str, ttl: u32) -> redlink_world::Record {
    redlink_world::Record {
        name: name.into(),
        ttl,
        data: RecordData::Cname(target.into()),
    }
}

fn a(name: &str, address: Ipv4Addr, ttl: u32) -> redlink_world::Record {
    redlink_world::Record {
        name: name.into(),
        ttl,
        data: RecordData::A(address),
    }
}

#[test]
fn quickstart_addresses_follow_the_design_plan() {
    let w = qs();
    let hub = w.network("hub").expect("hub");
    let spoke = w.network("spoke").expect("spoke");
    assert_eq!(hub.resolver, Ipv4Addr::new(127, 53, 0, 1));
    assert_eq!(spoke.resolver, Ipv4Addr::new(127, 53, 0, 2));
    assert_eq!(hub.client_address, Ipv4Addr::new(127, 11, 1, 1));
    assert_eq!(
        w.private_endpoint("pe-hub").expect("pe").address,
        Ipv4Addr::new(127, 10, 1, 4)
    );
    let c = w.cache("contoso").expect("cache");
    assert_eq!(c.public_address, Ipv4Addr::new(127, 20, 0, 1));
    assert_eq!(c.ports.all(), vec![6379, 6380]);
    assert_eq!(c.host_name(), HOST);
    assert_eq!(
        c.public_network_access,
        redlink_world::PublicNetworkAccess::Disabled
    );
}

#[test]
fn quickstart_expectations_hold() {
    let s = quickstart();
    let w = World::build(&s, &AddressPlan::default()).expect("builds");
    let resolutions: Vec<_> = s
        .expectations()
        .filter(|e| matches!(e.kind, redlink_world::ExpectationKind::Resolve { .. }))
        .collect();
    assert!(resolutions.len() >= 2);
    for e in resolutions {
        e.check_resolution(&w)
            .unwrap_or_else(|why| panic!("{}: {why}", e.label));
    }
}

#[test]
fn linked_zone_gives_the_private_endpoint() {
    let w = qs();
    let r = resolve(&w, "hub", HOST, QueryType::A);
    let pe = Ipv4Addr::new(127, 10, 1, 4);
    assert_eq!(
        r.answer,
        Answer::Records {
            records: vec![cname(HOST, PL, 60), a(PL, pe, 10)],
            authority: redlink_world::Authority {
                zone: ZONE.into(),
                kind: ZoneKind::Private
            },
        }
    );
    assert_eq!(
        r.outcome(&w),
        Outcome::Address {
            address: pe,
            owner: Some(AddressOwner::PrivateEndpoint {
                endpoint: "pe-hub".into(),
                cache: "contoso".into()
            })
        }
    );
    let summary = r.summary();
    assert!(
        summary.contains("hub resolved contoso.redis.cache.windows.net to 127.10.1.4"),
        "{summary}"
    );
    assert!(summary.contains("private endpoint pe-hub"), "{summary}");
    assert!(summary.contains("is linked to hub"), "{summary}");
}

#[test]
fn unlinked_network_gets_the_public_address() {
    let w = qs();
    let r = resolve(
        &w,
        "spoke",
        "Contoso.Redis.Cache.Windows.Net.",
        QueryType::A,
    );
    let public = Ipv4Addr::new(127, 20, 0, 1);
    assert_eq!(r.records(), &[cname(HOST, PL, 60), a(PL, public, 60)]);
    assert_eq!(
        r.summary(),
        "spoke resolved contoso.redis.cache.windows.net to 127.20.0.1, the public address of cache contoso, \
         because zone privatelink.redis.cache.windows.net is not linked to spoke"
    );
    assert!(r.explanation.iter().any(|s| matches!(
        s,
        Step::ZoneNotLinked {
            zone_exists: true,
            ..
        }
    )));
}

#[test]
fn linked_zone_without_the_record_is_nxdomain() {
    let mut w = qs();
    w.remove_record(ZONE, "contoso", None)
        .expect("record exists");
    let r = resolve(&w, "hub", HOST, QueryType::A);
    match &r.answer {
        Answer::NxDomain { records, authority } => {
            assert_eq!(records, &vec![cname(HOST, PL, 60)]);
            assert_eq!(authority.zone, ZONE);
        }
        other => panic!("expected NXDOMAIN, got {other:?}"),
    }
    assert_eq!(r.outcome(&w), Outcome::NxDomain);
    assert!(
        r.summary()
            .contains("has no record for contoso.privatelink.redis.cache.windows.net"),
        "{}",
        r.summary()
    );
}

#[test]
fn nxdomain_redirect_falls_back_to_public() {
    let mut w = qs();
    w.remove_record(ZONE, "contoso", None)
        .expect("record exists");
    w.set_resolution_policy(ZONE, "hub", ResolutionPolicy::NxDomainRedirect)
        .expect("linked");
    let r = resolve(&w, "hub", HOST, QueryType::A);
    assert_eq!(r.addresses(), vec![Ipv4Addr::new(127, 20, 0, 1)]);
    assert!(
        r.explanation
            .iter()
            .any(|s| matches!(s, Step::NxDomainRedirect { .. }))
    );
    assert!(r.summary().contains("NxDomainRedirect"), "{}", r.summary());
}

#[test]
fn forwarder_stale_answer_wins() {
    let w = world(
        r#"
        [[network]]
        name = "hub"
        [[network]]
        name = "spoke"
        [network.dns_forwarder]
        name = "old-dns"
        answers = { "contoso.redis.cache.windows.net" = "127.10.1.9" }
        [[cache]]
        name = "contoso"
        [[private_endpoint]]
        name = "pe-hub"
        network = "hub"
        cache = "contoso"
        [[dns_zone]]
        name = "privatelink.redis.cache.windows.net"
        links = [{ network = "hub" }, { network = "spoke" }]
        "#,
    );
    let r = resolve(&w, "spoke", HOST, QueryType::A);
    assert_eq!(r.records(), &[a(HOST, Ipv4Addr::new(127, 10, 1, 9), 300)]);
    assert_eq!(
        r.outcome(&w),
        Outcome::Address {
            address: Ipv4Addr::new(127, 10, 1, 9),
            owner: None
        }
    );
    let s = r.summary();
    assert!(s.contains("custom DNS forwarder old-dns"), "{s}");
    assert!(s.contains("stale"), "{s}");
    // Other names go on to Azure DNS of the network itself (spoke is linked here).
    let r = resolve(&w, "spoke", PL, QueryType::A);
    assert_eq!(r.addresses(), vec![Ipv4Addr::new(127, 10, 1, 4)]);
    assert!(matches!(r.explanation[0], Step::Forwarded { .. }));
}

#[test]
fn forwarder_forwards_to_the_hub_view() {
    let w = world(
        r#"
        [[network]]
        name = "hub"
        [[network]]
        name = "spoke"
        dns_forwarder = { name = "hub-dns", forwards_to = "hub" }
        [[cache]]
        name = "contoso"
        [[private_endpoint]]
        name = "pe-hub"
        network = "hub"
        cache = "contoso"
        [[dns_zone]]
        name = "privatelink.redis.cache.windows.net"
        links = [{ network = "hub" }]
        "#,
    );
    let r = resolve(&w, "spoke", HOST, QueryType::A);
    assert_eq!(r.addresses(), vec![Ipv4Addr::new(127, 10, 1, 4)]);
    assert!(
        r.explanation_lines()
            .iter()
            .any(|l| l.contains("hub's zone links apply")),
        "{:?}",
        r.explanation_lines()
    );
}

#[test]
fn managed_redis_names() {
    let w = world(
        r#"
        [[network]]
        name = "app"
        [[network]]
        name = "other"
        [[cache]]
        name = "orders"
        flavour = "managed-redis"
        region = "westeurope"
        [[private_endpoint]]
        name = "pe-orders"
        network = "app"
        cache = "orders"
        [[dns_zone]]
        name = "privatelink.redis.azure.net"
        links = [{ network = "app" }]
        "#,
    );
    let c = w.cache("orders").expect("cache");
    assert_eq!(c.host_name(), "orders.westeurope.redis.azure.net");
    assert_eq!(c.ports.all(), vec![10000]);
    assert_eq!(
        w.private_endpoint("pe-orders").expect("pe").group_id,
        "redisEnterprise"
    );
    let r = resolve(&w, "app", "orders.westeurope.redis.azure.net", QueryType::A);
    assert_eq!(
        r.records(),
        &[
            cname(
                "orders.westeurope.redis.azure.net",
                "orders.westeurope.privatelink.redis.azure.net",
                60
            ),
            a(
                "orders.westeurope.privatelink.redis.azure.net",
                Ipv4Addr::new(127, 10, 1, 4),
                10
            ),
        ]
    );
    let r = resolve(
        &w,
        "other",
        "orders.westeurope.redis.azure.net",
        QueryType::A,
    );
    assert_eq!(r.addresses(), vec![c.public_address]);
    // A wrong region is not a cache.
    let r = resolve(&w, "app", "orders.eastus.redis.azure.net", QueryType::A);
    assert!(matches!(r.answer, Answer::NxDomain { .. }), "{r:?}");
}

#[test]
fn no_private_endpoint_means_no_privatelink_cname() {
    let w = world(
        r#"
        [[network]]
        name = "n"
        [[cache]]
        name = "plain"
        "#,
    );
    let r = resolve(&w, "n", "plain.redis.cache.windows.net", QueryType::A);
    assert_eq!(
        r.records(),
        &[a(
            "plain.redis.cache.windows.net",
            Ipv4Addr::new(127, 20, 0, 1),
            60
        )]
    );
    assert!(
        r.summary().contains("has no private endpoint"),
        "{}",
        r.summary()
    );
    assert_eq!(
        w.cache("plain").expect("cache").public_network_access,
        redlink_world::PublicNetworkAccess::Enabled
    );
}

#[test]
fn other_types_get_nodata_after_the_chain() {
    let w = qs();
    let r = resolve(&w, "hub", HOST, QueryType::Aaaa);
    match &r.answer {
        Answer::Records { records, authority } => {
            assert_eq!(records, &vec![cname(HOST, PL, 60)]);
            assert_eq!(authority.zone, ZONE);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.outcome(&w), Outcome::NoData);
    let r = resolve(&w, "hub", HOST, QueryType::Cname);
    assert_eq!(r.records(), &[cname(HOST, PL, 60)]);
}

#[test]
fn unknown_names_and_networks() {
    let w = qs();
    let r = resolve(&w, "hub", "example.com", QueryType::A);
    assert_eq!(r.answer, Answer::Refused);
    assert!(matches!(r.explanation[0], Step::OutsideSimulation { .. }));
    let r = resolve(&w, "hub", "nosuch.redis.cache.windows.net", QueryType::A);
    assert!(
        matches!(&r.answer, Answer::NxDomain { authority, .. } if authority.zone == "redis.cache.windows.net")
    );
    let r = resolve(&w, "nowhere", HOST, QueryType::A);
    assert_eq!(r.answer, Answer::Refused);
    let r = resolve(&w, "hub", ZONE, QueryType::A);
    assert_eq!(r.outcome(&w), Outcome::NoData);
}

#[test]
fn declared_record_wins_over_registration_and_stale_records_are_named() {
    let w = world(
        r#"
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
        records = [{ name = "contoso", address = "127.10.1.200" }]
        links = [{ network = "hub" }]
        "#,
    );
    let r = resolve(&w, "hub", HOST, QueryType::A);
    assert_eq!(r.addresses(), vec![Ipv4Addr::new(127, 10, 1, 200)]);
    assert!(r.summary().contains("stale"), "{}", r.summary());
}

#[test]
fn pending_endpoint_still_creates_the_cname() {
    let mut w = qs();
    w.set_endpoint_state("pe-hub", ConnectionState::Pending)
        .expect("exists");
    let r = resolve(&w, "spoke", HOST, QueryType::A);
    assert_eq!(r.records()[0], cname(HOST, PL, 60));
}

#[test]
fn mutations_take_effect_and_check_references() {
    let mut w = qs();
    w.link_zone(ZONE, "spoke", None, ResolutionPolicy::Default)
        .expect("links");
    assert_eq!(
        resolve(&w, "spoke", HOST, QueryType::A).addresses(),
        vec![Ipv4Addr::new(127, 10, 1, 4)]
    );
    assert!(
        w.link_zone(ZONE, "spoke", None, ResolutionPolicy::Default)
            .is_err()
    );
    w.unlink_zone(ZONE, "hub").expect("unlinks");
    assert_eq!(
        resolve(&w, "hub", HOST, QueryType::A).addresses(),
        vec![Ipv4Addr::new(127, 20, 0, 1)]
    );
    assert!(w.unlink_zone(ZONE, "hub").is_err());
    assert!(
        w.link_zone(ZONE, "nowhere", None, ResolutionPolicy::Default)
            .is_err()
    );
    assert!(
        w.add_record(ZONE, "x", Ipv4Addr::new(10, 0, 0, 4), None)
            .is_err()
    );
    w.add_record(
        ZONE,
        "x.privatelink.redis.cache.windows.net",
        Ipv4Addr::new(127, 10, 1, 5),
        Some(30),
    )
    .expect("adds");
    assert_eq!(
        w.dns_zone(ZONE).expect("zone").records_named("x").count(),
        1
    );
    assert!(
        w.set_forwarder_answer("hub", HOST, Some(Ipv4Addr::new(127, 1, 1, 1)), None)
            .is_err()
    );
    w.set_forwarder(
        "hub",
        Some(redlink_world::Forwarder {
            name: "dns".into(),
            forwards_to: None,
            answers: Default::default(),
            forward: Vec::new(),
        }),
    )
    .expect("sets");
    w.set_forwarder_answer("hub", HOST, Some(Ipv4Addr::new(127, 1, 1, 1)), None)
        .expect("sets");
    assert_eq!(
        resolve(&w, "hub", HOST, QueryType::A).addresses(),
        vec![Ipv4Addr::new(127, 1, 1, 1)]
    );
    assert_eq!(w.set_cache_running("contoso", false), Ok(true));
    assert!(
        w.set_endpoint_state("nope", ConnectionState::Approved)
            .is_err()
    );
}
