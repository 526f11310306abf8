//! The change vocabulary's wire forms: every [`Change`] variant survives a JSON round trip (what
//! `redlink ctl` sends as `WORLD.CHANGE <json>`) and a TOML round trip (a `[[step]]`'s
//! `change = [...]`), for arbitrary names (quotes, backslashes, non-ASCII) and values; the
//! documented JSON examples parse; unknown keys and malformed values are refused with a message.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use redlink_world::ForwardRule;
use redlink_world::NodeRole;
use redlink_world::RebootNodes;
use redlink_world::change::{
    ConfigChange, FirewallRuleChange, FirewallRuleRef, ForwarderAnswerChange, ForwarderChange,
    LinkChange, NAMES, NewEndpoint, NonTlsPortChange, PeeringChange, PolicyChange,
    PublicAccessChange, RecordChange, RecordRef, RuleChange, StateChange, TlsVersionChange,
    ToxicChange, ZoneNetwork,
};
use redlink_world::change::{MaintenanceChange, ReplicationChange};
use redlink_world::change::{RebootChange, ScaleChange};
use redlink_world::toxic::ToxicDirection;
use redlink_world::toxic::ToxicKindName;
use redlink_world::{
    BlockedAction, Change, ConnectionState, DenyAs, PublicNetworkAccess, ResolutionPolicy,
    RuleAction,
};
use serde::{Deserialize, Serialize};

/// Names: mostly plausible, sometimes anything (JSON and TOML escaping).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z][a-z0-9.-]{0,20}",
        1 => any::<String>(),
    ]
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn address() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn state() -> impl Strategy<Value = ConnectionState> {
    prop_oneof![
        Just(ConnectionState::Pending),
        Just(ConnectionState::Approved),
        Just(ConnectionState::Rejected),
        Just(ConnectionState::Disconnected),
    ]
}

fn policy() -> impl Strategy<Value = ResolutionPolicy> {
    prop_oneof![
        Just(ResolutionPolicy::Default),
        Just(ResolutionPolicy::NxDomainRedirect)
    ]
}

fn toxic() -> impl Strategy<Value = ToxicChange> {
    let kind = prop_oneof![
        Just(ToxicKindName::Latency),
        Just(ToxicKindName::Bandwidth),
        Just(ToxicKindName::Slicer),
        Just(ToxicKindName::ResetAfter),
        Just(ToxicKindName::Timeout),
        Just(ToxicKindName::LimitData),
        Just(ToxicKindName::SlowClose),
        Just(ToxicKindName::ResetPeer),
    ];
    let direction = prop_oneof![
        Just(ToxicDirection::Upstream),
        Just(ToxicDirection::Downstream)
    ];
    // TOML integers are i64: the parameters stay below 2^63.
    let n = || opt(0..i64::MAX as u64);
    (
        (name(), opt(name()), opt(name()), kind, direction),
        (n(), n(), n(), n(), n(), n(), n(), n()),
    )
        .prop_map(
            |(
                (name, endpoint, network, kind, direction),
                (latency_ms, jitter_ms, rate_kbps, avg_size, delay_us, bytes, timeout_ms, delay_ms),
            )| ToxicChange {
                name,
                endpoint,
                network,
                kind,
                direction,
                latency_ms,
                jitter_ms,
                rate_kbps,
                avg_size,
                delay_us,
                bytes,
                timeout_ms,
                delay_ms,
                toxicity: None,
            },
        )
}

/// Every variant of [`Change`] with arbitrary contents.
fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (name(), name(), opt(name()), policy()).prop_map(|(zone, network, name, p)| {
            Change::Link(LinkChange {
                zone,
                network,
                name,
                resolution_policy: p,
            })
        }),
        (name(), name()).prop_map(|(zone, network)| Change::Unlink(ZoneNetwork { zone, network })),
        (name(), name(), policy()).prop_map(|(zone, network, policy)| {
            Change::ResolutionPolicy(PolicyChange {
                zone,
                network,
                policy,
            })
        }),
        name().prop_map(Change::AddZone),
        name().prop_map(Change::RemoveZone),
        (
            name(),
            name(),
            opt(address()),
            opt(name()),
            opt(any::<u32>())
        )
            .prop_map(|(zone, name, address, endpoint, ttl)| Change::AddRecord(
                RecordChange {
                    zone,
                    name,
                    address,
                    endpoint,
                    ttl,
                }
            )),
        (name(), name(), opt(address())).prop_map(|(zone, name, address)| {
            Change::RemoveRecord(RecordRef {
                zone,
                name,
                address,
            })
        }),
        name().prop_map(Change::Approve),
        name().prop_map(Change::Reject),
        name().prop_map(Change::Disconnect),
        (name(), state())
            .prop_map(|(endpoint, state)| Change::EndpointState(StateChange { endpoint, state })),
        (name(), name(), name(), state(), opt(name())).prop_map(
            |(name, network, cache, state, register_in)| Change::CreateEndpoint(NewEndpoint {
                name,
                network,
                cache,
                state,
                register_in,
            })
        ),
        name().prop_map(Change::DeleteEndpoint),
        (
            name(),
            prop_oneof![
                Just(PublicNetworkAccess::Enabled),
                Just(PublicNetworkAccess::Disabled)
            ],
            opt(prop_oneof![
                Just(BlockedAction::Refuse),
                Just(BlockedAction::Drop),
                Just(BlockedAction::Reset),
                Just(BlockedAction::Blackhole),
            ])
        )
            .prop_map(|(cache, access, blocked_action)| {
                Change::PublicAccess(PublicAccessChange {
                    cache,
                    access,
                    blocked_action,
                })
            }),
        (
            (
                name(),
                any::<u16>(),
                opt(name()),
                opt(name()),
                opt(any::<u16>())
            ),
            prop_oneof![Just(RuleAction::Allow), Just(RuleAction::Deny)],
            prop_oneof![
                Just(DenyAs::Drop),
                Just(DenyAs::Refuse),
                Just(DenyAs::Reset),
                Just(DenyAs::Blackhole)
            ],
        )
            .prop_map(
                |((name, priority, source, destination, port), action, deny_as)| {
                    Change::AddRule(RuleChange {
                        name,
                        priority,
                        source,
                        destination,
                        port,
                        action,
                        deny_as,
                    })
                }
            ),
        name().prop_map(Change::RemoveRule),
        name().prop_map(Change::Stop),
        name().prop_map(Change::Start),
        (name(), opt(any::<String>()), opt(any::<u32>())).prop_map(
            |(cache, requirepass, maxclients)| Change::Config(ConfigChange {
                cache,
                requirepass,
                maxclients,
            })
        ),
        (
            name(),
            name(),
            opt(address()),
            opt(name()),
            any::<bool>(),
            opt(any::<u32>())
        )
            .prop_map(|(network, name, address, endpoint, remove, ttl)| {
                Change::ForwarderAnswer(ForwarderAnswerChange {
                    network,
                    name,
                    address,
                    endpoint,
                    remove,
                    ttl,
                })
            }),
        toxic().prop_map(Change::AddToxic),
        name().prop_map(Change::RemoveToxic),
        (name(), name()).prop_map(|(network, remote)| Change::Peer(PeeringChange {
            network,
            remote,
            name: None
        })),
        (name(), name()).prop_map(|(network, remote)| Change::Unpeer(PeeringChange {
            network,
            remote,
            name: None
        })),
        (name(), name(), address(), address()).prop_map(|(cache, name, start, end)| {
            Change::AddFirewallRule(FirewallRuleChange {
                cache,
                name,
                start,
                end,
            })
        }),
        (name(), name())
            .prop_map(|(cache, name)| Change::RemoveFirewallRule(FirewallRuleRef { cache, name })),
        (
            name(),
            opt(name()),
            opt(name()),
            proptest::collection::vec((name(), name()), 0..3)
        )
            .prop_map(|(network, name, forwards_to, rules)| {
                Change::Forwarder(ForwarderChange {
                    network,
                    name,
                    forwards_to,
                    forward: rules
                        .into_iter()
                        .map(|(zone, to)| ForwardRule { zone, to })
                        .collect(),
                })
            }),
        (name(), any::<bool>())
            .prop_map(|(cache, enabled)| Change::NonTlsPort(NonTlsPortChange { cache, enabled })),
        (name(), name()).prop_map(|(cache, version)| {
            Change::MinimumTlsVersion(TlsVersionChange { cache, version })
        }),
        (
            name(),
            prop_oneof![
                Just(RebootNodes::All),
                Just(RebootNodes::Primary),
                Just(RebootNodes::Replica)
            ]
        )
            .prop_map(|(cache, node)| Change::Reboot(RebootChange { cache, node })),
        name().prop_map(Change::Failover),
        (
            name(),
            prop_oneof![Just(NodeRole::Primary), Just(NodeRole::Replica)]
        )
            .prop_map(|(cache, node)| Change::Maintenance(MaintenanceChange { cache, node })),
        (name(), opt(any::<u64>()), opt(any::<bool>())).prop_map(|(cache, latency_ms, cut)| {
            Change::Replication(ReplicationChange {
                cache,
                latency_ms,
                cut,
            })
        }),
        (name(), any::<u16>())
            .prop_map(|(cache, shards)| Change::Scale(ScaleChange { cache, shards })),
        (0u64..10_000_000_000).prop_map(|ms| Change::Advance(redlink_world::expect::Offset(
            std::time::Duration::from_millis(ms)
        ))),
    ]
}

/// How many variants `Change` has (`Change::name` matches every one of them, so a new variant fails to
/// compile there until it is named; [`NAMES`] must then list it, which the examples test checks).
const VARIANTS: usize = 35;

/// A step's `change = [...]`, as TOML.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Changes {
    change: Vec<Change>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_change_round_trips_through_json(c in change()) {
        let json = serde_json::to_string(&c).expect("serializes");
        let back: Change = serde_json::from_str(&json).expect("parses back");
        prop_assert_eq!(&back, &c, "{}", json);
        // One key, the variant's name.
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let keys: Vec<&String> = value.as_object().expect("an object").keys().collect();
        prop_assert_eq!(keys, vec![c.name()]);
        prop_assert!(NAMES.contains(&c.name()), "{} not in NAMES", c.name());
    }

    #[test]
    fn every_change_round_trips_through_toml(c in change()) {
        let wrapped = Changes { change: vec![c] };
        let text = toml::to_string(&wrapped).expect("serializes");
        let back: Changes = toml::from_str(&text).expect("parses back");
        prop_assert_eq!(back, wrapped, "{}", text);
    }
}

/// The examples of `change.rs`'s documentation, one per variant.
const EXAMPLES: &[&str] = &[
    r#"{"approve": "pe-hub"}"#,
    r#"{"reject": "pe-hub"}"#,
    r#"{"disconnect": "pe-hub"}"#,
    r#"{"delete_endpoint": "pe-old"}"#,
    r#"{"endpoint_state": {"endpoint": "pe-hub", "state": "Pending"}}"#,
    r#"{"create_endpoint": {"name": "pe-2", "network": "spoke", "cache": "contoso", "state": "Approved", "register_in": "privatelink.redis.cache.windows.net"}}"#,
    r#"{"add_zone": "privatelink.redis.cache.windows.net"}"#,
    r#"{"remove_zone": "privatelink.redis.cache.windows.net"}"#,
    r#"{"link": {"zone": "z", "network": "spoke", "name": "spoke-link", "resolution_policy": "Default"}}"#,
    r#"{"unlink": {"zone": "z", "network": "spoke"}}"#,
    r#"{"resolution_policy": {"zone": "z", "network": "spoke", "policy": "NxDomainRedirect"}}"#,
    r#"{"add_record": {"zone": "z", "name": "contoso", "address": "127.10.1.4", "ttl": 10}}"#,
    r#"{"remove_record": {"zone": "z", "name": "contoso", "address": "127.10.1.4"}}"#,
    r#"{"public_access": {"cache": "contoso", "access": "Disabled", "blocked_action": "drop"}}"#,
    r#"{"add_rule": {"name": "deny-spoke", "priority": 100, "source": "spoke", "destination": "pe-hub", "port": 6380, "action": "deny", "deny_as": "reset"}}"#,
    r#"{"remove_rule": "deny-spoke"}"#,
    r#"{"stop": "contoso"}"#,
    r#"{"start": "contoso"}"#,
    r#"{"config": {"cache": "contoso", "requirepass": "s3cret", "maxclients": 50}}"#,
    r#"{"reboot": {"cache": "contoso", "node": "all"}}"#,
    r#"{"scale": {"cache": "contoso", "shards": 4}}"#,
    r#"{"forwarder_answer": {"network": "onprem", "name": "contoso.redis.cache.windows.net", "address": "127.10.1.4", "ttl": 60}}"#,
    r#"{"add_toxic": {"name": "slow", "endpoint": "pe-hub", "kind": "latency", "latency_ms": 200}}"#,
    r#"{"remove_toxic": "slow"}"#,
    r#"{"peer": {"network": "spoke", "remote": "hub"}}"#,
    r#"{"unpeer": {"network": "spoke", "remote": "hub"}}"#,
    r#"{"add_firewall_rule": {"cache": "contoso", "name": "office", "start": "127.11.2.1", "end": "127.11.2.1"}}"#,
    r#"{"remove_firewall_rule": {"cache": "contoso", "name": "office"}}"#,
    r#"{"forwarder": {"network": "onprem", "forwards_to": "hub", "forward": [{"zone": "privatelink.redis.cache.windows.net", "to": "hub"}, {"zone": ".", "to": "internet"}]}}"#,
    r#"{"non_tls_port": {"cache": "contoso", "enabled": true}}"#,
    r#"{"minimum_tls_version": {"cache": "contoso", "version": "1.2"}}"#,
    r#"{"failover": "contoso"}"#,
    r#"{"maintenance": {"cache": "contoso", "node": "primary"}}"#,
    r#"{"replication": {"cache": "contoso", "latency_ms": 2000}}"#,
    r#"{"advance": "30m"}"#,
];

#[test]
fn the_documented_examples_parse_and_cover_every_variant() {
    let mut seen = std::collections::BTreeSet::new();
    for e in EXAMPLES {
        let c: Change = serde_json::from_str(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        seen.insert(c.name());
    }
    assert_eq!(seen.len(), VARIANTS, "{seen:?}");
    let mut names: Vec<&str> = NAMES.to_vec();
    names.sort_unstable();
    assert_eq!(names, seen.into_iter().collect::<Vec<_>>(), "change::NAMES");
}

#[test]
fn absent_optional_keys_are_left_out_and_null_is_accepted() {
    let c = Change::Link(LinkChange {
        zone: "z".into(),
        network: "spoke".into(),
        name: None,
        resolution_policy: ResolutionPolicy::Default,
    });
    assert_eq!(
        serde_json::to_string(&c).expect("json"),
        r#"{"link":{"zone":"z","network":"spoke","resolution_policy":"Default"}}"#
    );
    let with_null: Change =
        serde_json::from_str(r#"{"link":{"zone":"z","network":"spoke","name":null}}"#)
            .expect("null for an absent name");
    assert_eq!(with_null, c);
}

#[test]
fn malformed_changes_are_refused_with_the_reason() {
    for (json, says) in [
        (r#"{"approve": 1}"#, "invalid type"),
        (r#"{"aprove": "pe-hub"}"#, "unknown variant"),
        (r#"{"link": {"zone": "z"}}"#, "missing field `network`"),
        (
            r#"{"link": {"zone": "z", "network": "n", "colour": "red"}}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"endpoint_state": {"endpoint": "e", "state": "Sideways"}}"#,
            "unknown variant `Sideways`",
        ),
        (
            r#"{"add_record": {"zone": "z", "name": "n", "address": "300.1.1.1"}}"#,
            "invalid",
        ),
        (r#"{"approve": "a", "reject": "b"}"#, ""),
        (r#""approve""#, ""),
    ] {
        let err = serde_json::from_str::<Change>(json).expect_err(json);
        assert!(err.to_string().contains(says), "{json}: {err}");
    }
}
