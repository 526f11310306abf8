//! What scenarios can say beyond the basics (issue 17): records naming an endpoint, conditional
//! forwarding per zone, one-sided peering, and the changes of firewall rules, peering, forwarder
//! targets, the non-TLS port and the minimum TLS version — each on the pure model, with the errors
//! a bad file or change gets.

use redlink_world::change::{
    FirewallRuleChange, FirewallRuleRef, ForwarderChange, NonTlsPortChange, PeeringChange,
    TlsVersionChange,
};
use redlink_world::{
    AddressPlan, Change, EndpointId, ForwardRule, Outcome, PeeringState, QueryType, Scenario,
    Source, Verdict, World, resolve, verdict,
};

const HOST: &str = "contoso.redis.cache.windows.net";
const ZONE: &str = "privatelink.redis.cache.windows.net";

fn world(toml: &str) -> World {
    let s = Scenario::parse("t.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    World::build(&s, &AddressPlan::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn error(toml: &str) -> String {
    Scenario::parse("t.toml", toml)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("parses, but should not:\n{toml}"))
}

fn answer(w: &World, network: &str) -> String {
    match resolve(w, network, HOST, QueryType::A).outcome(w) {
        Outcome::Address { owner: Some(o), .. } => o.to_string(),
        other => format!("{other:?}"),
    }
}

fn private(w: &World, from: &str, ep: &str) -> (Verdict, String) {
    verdict(
        w,
        &EndpointId::Private {
            endpoint: ep.into(),
        },
        6380,
        &Source::Network(from.into()),
    )
}

const HUB: &str = r#"
[[network]]
name = "hub"
[[network]]
name = "spoke"
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
"#;

#[test]
fn a_zone_record_can_name_an_endpoint() {
    let w = world(&format!(
        "{HUB}[[dns_zone]]\nname = \"{ZONE}\"\nauto_register = false\nrecords = [{{ name = \"contoso\", endpoint = \"pe-hub\" }}]\nlinks = [{{ network = \"hub\" }}]\n"
    ));
    assert_eq!(
        answer(&w, "hub"),
        "private endpoint pe-hub of cache contoso"
    );
    let both = error(&format!(
        "{HUB}[[dns_zone]]\nname = \"{ZONE}\"\nrecords = [{{ name = \"contoso\", endpoint = \"pe-hub\", address = \"127.10.1.9\" }}]\n"
    ));
    assert!(
        both.starts_with("t.toml:") && both.contains("exactly one of `address` and `endpoint`"),
        "{both}"
    );
    let unknown = error(&format!(
        "{HUB}[[dns_zone]]\nname = \"{ZONE}\"\nrecords = [{{ name = \"contoso\", endpoint = \"pe-nowhere\" }}]\n"
    ));
    assert!(unknown.contains("private endpoint pe-nowhere"), "{unknown}");
}

const ONPREM: &str = r#"
[[network]]
name = "hub"
[[network]]
name = "onprem"
peered_with = ["hub"]
[network.dns_forwarder]
forward = [{ zone = "privatelink.redis.cache.windows.net", to = "hub" }, { zone = ".", to = "internet" }]
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }, { network = "onprem" }]
"#;

#[test]
fn conditional_forwarding_picks_the_longest_zone_and_internet_skips_private_zones() {
    let mut w = world(ONPREM);
    assert_eq!(
        answer(&w, "onprem"),
        "private endpoint pe-hub of cache contoso"
    );
    let r = resolve(&w, "onprem", HOST, QueryType::A);
    let text = r.explanation_lines().join("\n");
    assert!(text.contains("conditional forwarding rule for . sends contoso.redis.cache.windows.net to internet DNS"), "{text}");
    assert!(
        text.contains("rule for privatelink.redis.cache.windows.net sends"),
        "{text}"
    );
    // Everything to the internet: onprem's own zone link does not apply.
    Change::Forwarder(ForwarderChange {
        network: "onprem".into(),
        name: None,
        forwards_to: None,
        forward: vec![ForwardRule {
            zone: ".".into(),
            to: "internet".into(),
        }],
    })
    .apply(&mut w)
    .expect("applies");
    assert_eq!(answer(&w, "onprem"), "the public endpoint of cache contoso");
    assert!(
        resolve(&w, "onprem", HOST, QueryType::A)
            .summary()
            .contains("internet DNS")
    );
    // No rules at all: the default target (its own Azure DNS, linked) answers.
    Change::Forwarder(ForwarderChange {
        network: "onprem".into(),
        name: Some("dns2".into()),
        forwards_to: None,
        forward: Vec::new(),
    })
    .apply(&mut w)
    .expect("applies");
    assert_eq!(
        answer(&w, "onprem"),
        "private endpoint pe-hub of cache contoso"
    );
    assert_eq!(
        w.network("onprem")
            .and_then(|n| n.forwarder.as_ref())
            .map(|f| f.name.as_str()),
        Some("dns2")
    );
    // Bad targets are refused, the world unchanged.
    for (forward, says) in [
        (
            vec![ForwardRule {
                zone: ".".into(),
                to: "nowhere".into(),
            }],
            "no network named nowhere",
        ),
        (
            vec![ForwardRule {
                zone: "bad name!".into(),
                to: "hub".into(),
            }],
            "not a valid zone name",
        ),
        (
            vec![
                ForwardRule {
                    zone: "a.example".into(),
                    to: "hub".into(),
                },
                ForwardRule {
                    zone: "A.example.".into(),
                    to: "hub".into(),
                },
            ],
            "forwarded twice",
        ),
    ] {
        let before = w.clone();
        let err = Change::Forwarder(ForwarderChange {
            network: "onprem".into(),
            name: None,
            forwards_to: None,
            forward,
        })
        .apply(&mut w)
        .expect_err("refused");
        assert!(err.to_string().contains(says), "{err}");
        assert_eq!(w, before);
    }
    let bad = error(&ONPREM.replace("to = \"hub\" }, { zone", "to = \"nowhere\" }, { zone"));
    assert!(
        bad.contains("names network nowhere") && bad.contains("\"internet\""),
        "{bad}"
    );
}

#[test]
fn peering_is_two_sided_initiated_connected_disconnected() {
    let zone = format!(
        "[[dns_zone]]\nname = \"{ZONE}\"\nlinks = [{{ network = \"hub\" }}, {{ network = \"spoke\" }}]\n"
    );
    let mut w = world(&format!(
        "{}{zone}",
        HUB.replace(
            "name = \"spoke\"",
            "name = \"spoke\"\ninitiated_peerings = [\"hub\"]"
        )
    ));
    let state = |w: &World, a: &str, b: &str| w.network(a).and_then(|n| n.peering_state(b));
    assert_eq!(state(&w, "spoke", "hub"), Some(PeeringState::Initiated));
    assert_eq!(state(&w, "hub", "spoke"), None);
    let (v, why) = private(&w, "spoke", "pe-hub");
    assert_eq!(v, Verdict::Drop);
    assert!(why.contains("spoke's peering to hub is Initiated"), "{why}");
    let peer = |a: &str, b: &str| PeeringChange {
        network: a.into(),
        remote: b.into(),
        name: None,
    };
    let said = Change::Peer(peer("hub", "spoke"))
        .apply(&mut w)
        .expect("peers");
    assert!(said.contains("Connected"), "{said}");
    assert_eq!(private(&w, "spoke", "pe-hub").0, Verdict::Route);
    let err = Change::Peer(peer("hub", "spoke"))
        .apply(&mut w)
        .expect_err("exists");
    assert!(
        err.to_string()
            .contains("already has a peering to spoke (Connected)"),
        "{err}"
    );
    let said = Change::Unpeer(peer("hub", "spoke"))
        .apply(&mut w)
        .expect("unpeers");
    assert!(said.contains("spoke's side is now Disconnected"), "{said}");
    assert_eq!(state(&w, "spoke", "hub"), Some(PeeringState::Disconnected));
    let (v, why) = private(&w, "spoke", "pe-hub");
    assert_eq!(v, Verdict::Drop);
    assert!(why.contains("Disconnected"), "{why}");
    // A Disconnected side must be deleted before it can be created again (Azure).
    let err = Change::Peer(peer("spoke", "hub"))
        .apply(&mut w)
        .expect_err("disconnected");
    assert!(
        err.to_string()
            .contains("delete it, then create both sides again"),
        "{err}"
    );
    let err = Change::Unpeer(peer("hub", "spoke"))
        .apply(&mut w)
        .expect_err("no side");
    assert!(
        err.to_string()
            .contains("network hub has no peering to spoke"),
        "{err}"
    );
    assert!(Change::Peer(peer("hub", "hub")).apply(&mut w).is_err());
    // A side created with a name keeps it; the name is unique among the network's sides.
    let named = |name: &str| PeeringChange {
        name: Some(name.into()),
        ..peer("hub", "spoke")
    };
    Change::Peer(named("hub-spoke"))
        .apply(&mut w)
        .expect("peers");
    let hub = w.network("hub").expect("hub");
    assert_eq!(hub.peering_name("spoke"), "hub-spoke");
    assert_eq!(
        w.network("spoke").expect("spoke").peering_name("hub"),
        "spoke-to-hub"
    );
    Change::Unpeer(peer("hub", "spoke"))
        .apply(&mut w)
        .expect("unpeers");
    assert!(Change::Peer(named("bad name")).apply(&mut w).is_err());
    assert!(Change::Peer(peer("hub", "nowhere")).apply(&mut w).is_err());
    // A file with both sides declared as initiated is Connected.
    let both = world(
        &HUB.replace(
            "name = \"spoke\"",
            "name = \"spoke\"\ninitiated_peerings = [\"hub\"]",
        )
        .replacen(
            "name = \"hub\"",
            "name = \"hub\"\ninitiated_peerings = [\"spoke\"]",
            1,
        ),
    );
    assert_eq!(state(&both, "spoke", "hub"), Some(PeeringState::Connected));
    let dup = error(&HUB.replace(
        "name = \"spoke\"",
        "name = \"spoke\"\npeered_with = [\"hub\"]\ninitiated_peerings = [\"hub\"]",
    ));
    assert!(
        dup.contains("in both peered_with and initiated_peerings"),
        "{dup}"
    );
}

#[test]
fn firewall_rules_change_what_the_public_endpoint_admits() {
    let mut w = world(
        r#"
[[network]]
name = "office"
[[cache]]
name = "contoso"
firewall_rules = [{ name = "nobody", start = "127.99.0.1", end = "127.99.0.1" }]
"#,
    );
    let office = w.network("office").expect("office").client_address;
    let public = EndpointId::Public {
        cache: "contoso".into(),
    };
    let from = Source::Network("office".into());
    assert_ne!(verdict(&w, &public, 6380, &from).0, Verdict::Route);
    Change::AddFirewallRule(FirewallRuleChange {
        cache: "contoso".into(),
        name: "office".into(),
        start: office,
        end: office,
    })
    .apply(&mut w)
    .expect("adds");
    assert_eq!(verdict(&w, &public, 6380, &from).0, Verdict::Route);
    let dup = Change::AddFirewallRule(FirewallRuleChange {
        cache: "contoso".into(),
        name: "office".into(),
        start: office,
        end: office,
    })
    .apply(&mut w)
    .expect_err("duplicate");
    assert!(dup.to_string().contains("already exists"), "{dup}");
    Change::RemoveFirewallRule(FirewallRuleRef {
        cache: "contoso".into(),
        name: "office".into(),
    })
    .apply(&mut w)
    .expect("removes");
    assert_ne!(verdict(&w, &public, 6380, &from).0, Verdict::Route);
    let missing = Change::RemoveFirewallRule(FirewallRuleRef {
        cache: "contoso".into(),
        name: "office".into(),
    })
    .apply(&mut w)
    .expect_err("gone");
    assert!(
        missing
            .to_string()
            .contains("no firewall rule named office"),
        "{missing}"
    );
}

#[test]
fn the_non_tls_port_and_minimum_tls_version_change() {
    let mut w = world(HUB);
    let ports = |w: &World| w.cache("contoso").expect("cache").ports.all();
    assert_eq!(ports(&w), vec![6380]);
    let port = |enabled| {
        Change::NonTlsPort(NonTlsPortChange {
            cache: "contoso".into(),
            enabled,
        })
    };
    let said = port(true).apply(&mut w).expect("enables");
    assert!(said.contains("non-TLS port 6379"), "{said}");
    assert_eq!(ports(&w), vec![6379, 6380]);
    let pe = w
        .endpoint(&EndpointId::Private {
            endpoint: "pe-hub".into(),
        })
        .expect("pe-hub");
    assert!(
        pe.ports.contains(&6379),
        "the endpoints serve the new port: {:?}",
        pe.ports
    );
    port(false).apply(&mut w).expect("disables");
    assert_eq!(ports(&w), vec![6380]);
    let tls = |v: &str| {
        Change::MinimumTlsVersion(TlsVersionChange {
            cache: "contoso".into(),
            version: v.into(),
        })
    };
    tls("1.2").apply(&mut w).expect("1.2 is Azure's minimum");
    for old in ["1.0", "1.1"] {
        let err = tls(old).apply(&mut w).expect_err("retired");
        assert!(
            err.to_string().contains("TLS 1.0 and 1.1 were retired"),
            "{err}"
        );
    }
    assert!(tls("1.3").apply(&mut w).is_err());
    assert_eq!(
        w.cache("contoso").expect("cache").minimum_tls_version,
        "1.2"
    );
}

const TWO_ZONES: &str = r#"
[[network]]
name = "hub"
[[network]]
name = "partner"
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[private_endpoint]]
name = "pe-partner"
network = "partner"
cache = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
resource_group = "hub-rg"
auto_register = false
records = [{ name = "contoso", endpoint = "pe-hub" }]
links = [{ network = "hub" }]
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
resource_group = "partner-rg"
auto_register = false
records = [{ name = "contoso", endpoint = "pe-partner" }]
links = [{ network = "partner" }]
"#;

#[test]
fn zones_of_one_name_in_different_resource_groups_answer_their_own_networks() {
    let mut w = world(TWO_ZONES);
    assert_eq!(
        answer(&w, "hub"),
        "private endpoint pe-hub of cache contoso"
    );
    assert_eq!(
        answer(&w, "partner"),
        "private endpoint pe-partner of cache contoso"
    );
    let why = resolve(&w, "partner", HOST, QueryType::A)
        .explanation_lines()
        .join("\n");
    assert!(why.contains("(resource group partner-rg)"), "{why}");
    // A change names one of them as RESOURCE_GROUP/NAME; the bare name is ambiguous.
    let unlink = |zone: &str| {
        Change::Unlink(redlink_world::change::ZoneNetwork {
            zone: zone.into(),
            network: "partner".into(),
        })
    };
    let err = unlink(ZONE).apply(&mut w).expect_err("ambiguous");
    assert!(
        err.to_string().contains("name one as RESOURCE_GROUP/"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("resource group hub-rg, resource group partner-rg"),
        "{err}"
    );
    assert!(
        unlink(&format!("hub-rg/{ZONE}")).apply(&mut w).is_err(),
        "partner is not linked to hub-rg's zone"
    );
    unlink(&format!("partner-rg/{ZONE}"))
        .apply(&mut w)
        .expect("unlinks");
    assert_eq!(
        answer(&w, "partner"),
        "the public endpoint of cache contoso"
    );
    // A network links to one zone of a name: hub's zone then partner's is refused.
    let link = |zone: &str, network: &str| {
        Change::Link(redlink_world::change::LinkChange {
            zone: zone.into(),
            network: network.into(),
            name: None,
            resolution_policy: Default::default(),
        })
    };
    link(&format!("hub-rg/{ZONE}"), "partner")
        .apply(&mut w)
        .expect("links");
    assert_eq!(
        answer(&w, "partner"),
        "private endpoint pe-hub of cache contoso"
    );
    let err = link(&format!("partner-rg/{ZONE}"), "partner")
        .apply(&mut w)
        .expect_err("one zone of a name");
    assert!(
        err.to_string().contains("already linked to a zone named"),
        "{err}"
    );
    // Zones are created and deleted by reference too.
    Change::AddZone(format!("third-rg/{ZONE}"))
        .apply(&mut w)
        .expect("creates");
    assert!(
        Change::AddZone(format!("third-rg/{ZONE}"))
            .apply(&mut w)
            .is_err(),
        "duplicate"
    );
    Change::RemoveZone(format!("third-rg/{ZONE}"))
        .apply(&mut w)
        .expect("deletes");

    // File errors: a second zone of the name without a resource group; a network linked to both.
    let no_group = error(&TWO_ZONES.replacen("resource_group = \"hub-rg\"\n", "", 1));
    assert!(
        no_group.contains("give each a resource_group"),
        "{no_group}"
    );
    let both = error(&TWO_ZONES.replace(
        "links = [{ network = \"partner\" }]",
        "links = [{ network = \"hub\" }]",
    ));
    assert!(
        both.contains("can be linked to one private zone of a given name"),
        "{both}"
    );
}
