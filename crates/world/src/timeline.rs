//! The timeline: `[[step]]` entries that change the world in order, each carrying expectations.
//! [`StepSpec`] and [`Change`] are the file's format (serde, spans); [`compile`] validates a whole
//! scenario's expectations and steps by replaying the timeline once on the world built from the
//! file, so that every mistake (a change naming a missing zone, an expectation naming an endpoint
//! that does not exist at that point) is reported with its file:line:column; [`Step`] is the
//! result. Each expectation table is compiled by [`crate::expect::compile`].
//!
//! ```toml
//! [[step]]
//! name = "approve the endpoint"     # required
//! at = "5s"                         # optional: offset from the start, for `redlink up` pacing
//! change = [
//!   { approve = "pe-hub" },
//!   { link = { zone = "privatelink.redis.cache.windows.net", network = "spoke" } },
//! ]
//! [[step.expect]]
//! from = "spoke"
//! resolve = "contoso.redis.cache.windows.net"
//! answer = "pe-hub"
//! ```

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{ScenarioError, ScenarioErrorKind, WorldError};
use crate::expect::{self, Expectation, ExpectationSpec, Offset};
use crate::location::Position;
use crate::model::{
    BlockedAction, ConnectionState, DenyAs, NetworkRule, PublicNetworkAccess, ResolutionPolicy,
    RuleAction, World,
};
use crate::text::ScenarioText;
use crate::toxic::{Toxic, ToxicSpec};

/// One `[[step]]` table as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The step's name.
    pub name: Spanned<String>,
    /// Offset from the start of the timeline (for `redlink up` pacing).
    #[serde(default)]
    pub at: Option<Spanned<Offset>>,
    /// Free text shown when the step runs.
    #[serde(default)]
    pub description: Option<String>,
    /// The changes, applied in order.
    #[serde(default, rename = "change")]
    pub changes: Vec<Spanned<Change>>,
    /// What must hold after the changes.
    #[serde(default, rename = "expect")]
    pub expectations: Vec<Spanned<ExpectationSpec>>,
}

/// `{ zone, network }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneNetwork {
    /// The zone.
    pub zone: String,
    /// The network.
    pub network: String,
}

/// `link = { zone, network, name?, resolution_policy? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkChange {
    /// The zone.
    pub zone: String,
    /// The network.
    pub network: String,
    /// The link's name (default `NETWORK-link`).
    #[serde(default)]
    pub name: Option<String>,
    /// Its resolution policy.
    #[serde(default)]
    pub resolution_policy: ResolutionPolicy,
}

/// `resolution_policy = { zone, network, policy }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    /// The zone.
    pub zone: String,
    /// The linked network.
    pub network: String,
    /// The new policy.
    pub policy: ResolutionPolicy,
}

/// `add_record = { zone, name, address | endpoint, ttl? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordChange {
    /// The zone.
    pub zone: String,
    /// The record name, relative to the zone (or the full name).
    pub name: String,
    /// A literal 127/8 address.
    #[serde(default)]
    pub address: Option<Ipv4Addr>,
    /// The address of this private endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// TTL.
    #[serde(default)]
    pub ttl: Option<u32>,
}

/// `remove_record = { zone, name, address? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRef {
    /// The zone.
    pub zone: String,
    /// The record name.
    pub name: String,
    /// Only the record with this address (default: every record of the name).
    #[serde(default)]
    pub address: Option<Ipv4Addr>,
}

/// `endpoint_state = { endpoint, state }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// The private endpoint.
    pub endpoint: String,
    /// Its new state.
    pub state: ConnectionState,
}

/// `create_endpoint = { name, network, cache, state?, register_in? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Its name.
    pub name: String,
    /// Its network.
    pub network: String,
    /// Its cache.
    pub cache: String,
    /// Its state (default Pending: a connection request to another owner's cache).
    #[serde(default = "pending")]
    pub state: ConnectionState,
    /// The zone its DNS zone group registers the cache's A record in.
    #[serde(default)]
    pub register_in: Option<String>,
}

fn pending() -> ConnectionState {
    ConnectionState::Pending
}

/// `public_access = { cache, access, blocked_action? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessChange {
    /// The cache.
    pub cache: String,
    /// Enabled or Disabled.
    pub access: PublicNetworkAccess,
    /// What blocked clients see.
    #[serde(default)]
    pub blocked_action: Option<BlockedAction>,
}

/// `add_rule = { name, priority, source?, destination?, port?, action, deny_as? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleChange {
    /// Unique name.
    pub name: String,
    /// 100–4096.
    pub priority: u16,
    /// Source network.
    #[serde(default)]
    pub source: Option<String>,
    /// Destination endpoint or cache.
    #[serde(default)]
    pub destination: Option<String>,
    /// Port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Allow or deny.
    pub action: RuleAction,
    /// How a deny fails.
    #[serde(default)]
    pub deny_as: DenyAs,
}

/// `config = { cache, requirepass?, maxclients? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigChange {
    /// The cache.
    pub cache: String,
    /// New password (`""` = none).
    #[serde(default)]
    pub requirepass: Option<String>,
    /// New client limit.
    #[serde(default)]
    pub maxclients: Option<u32>,
}

/// `forwarder_answer = { network, name, address | endpoint | remove = true, ttl? }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwarderAnswerChange {
    /// The network whose forwarder changes.
    pub network: String,
    /// The host name.
    pub name: String,
    /// A literal 127/8 address.
    #[serde(default)]
    pub address: Option<Ipv4Addr>,
    /// The address of this private endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Remove the static answer.
    #[serde(default)]
    pub remove: bool,
    /// TTL.
    #[serde(default)]
    pub ttl: Option<u32>,
}

/// One change of a step: a table with one key naming the change.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Link a private DNS zone to a network.
    Link(LinkChange),
    /// Remove a zone's link to a network.
    Unlink(ZoneNetwork),
    /// Change a link's resolution policy.
    ResolutionPolicy(PolicyChange),
    /// Create an empty private DNS zone.
    AddZone(String),
    /// Delete a private DNS zone (records and links with it).
    RemoveZone(String),
    /// Add an A record.
    AddRecord(RecordChange),
    /// Remove the A records of a name.
    RemoveRecord(RecordRef),
    /// Set a private endpoint's state to Approved.
    Approve(String),
    /// Set a private endpoint's state to Rejected.
    Reject(String),
    /// Set a private endpoint's state to Disconnected.
    Disconnect(String),
    /// Set a private endpoint's state.
    EndpointState(StateChange),
    /// Create a private endpoint.
    CreateEndpoint(NewEndpoint),
    /// Delete a private endpoint.
    DeleteEndpoint(String),
    /// Set a cache's public network access.
    PublicAccess(PublicAccessChange),
    /// Add a network rule.
    AddRule(RuleChange),
    /// Remove a network rule.
    RemoveRule(String),
    /// Stop a cache.
    Stop(String),
    /// Start a cache.
    Start(String),
    /// Change a cache's requirepass / maxclients (pushed to its engine).
    Config(ConfigChange),
    /// Set or remove a forwarder's static answer.
    ForwarderAnswer(ForwarderAnswerChange),
    /// Add a toxic (the same keys as a `[[toxic]]` table).
    AddToxic(ToxicSpec),
    /// Remove a toxic.
    RemoveToxic(String),
}

fn endpoint_address(world: &World, endpoint: &str) -> Result<Ipv4Addr, WorldError> {
    world
        .private_endpoint(endpoint)
        .map(|e| e.address)
        .ok_or_else(|| WorldError::UnknownEndpoint(endpoint.to_owned()))
}

fn one_address(
    world: &World,
    address: Option<Ipv4Addr>,
    endpoint: Option<&str>,
    what: &str,
) -> Result<Ipv4Addr, WorldError> {
    match (address, endpoint) {
        (Some(a), None) => Ok(a),
        (None, Some(e)) => endpoint_address(world, e),
        _ => Err(WorldError::Invalid(format!(
            "{what} needs exactly one of `address` and `endpoint`"
        ))),
    }
}

impl Change {
    /// Applies the change to `world` (completely, or not at all with an error) and says what it did.
    pub fn apply(&self, world: &mut World) -> Result<String, WorldError> {
        Ok(match self {
            Change::Link(l) => {
                world.link_zone(&l.zone, &l.network, l.name.as_deref(), l.resolution_policy)?;
                format!("linked zone {} to network {}", l.zone, l.network)
            }
            Change::Unlink(u) => {
                let link = world.unlink_zone(&u.zone, &u.network)?;
                format!(
                    "unlinked zone {} from network {} (link {})",
                    u.zone, u.network, link.name
                )
            }
            Change::ResolutionPolicy(p) => {
                world.set_resolution_policy(&p.zone, &p.network, p.policy)?;
                format!(
                    "set the resolution policy of zone {}'s link to {} to {}",
                    p.zone, p.network, p.policy
                )
            }
            Change::AddZone(z) => {
                world.add_zone(z)?;
                format!("created private DNS zone {z}")
            }
            Change::RemoveZone(z) => {
                let removed = world.remove_zone(z)?;
                format!(
                    "deleted private DNS zone {z} ({} records, {} links)",
                    removed.records.len(),
                    removed.links.len()
                )
            }
            Change::AddRecord(r) => {
                let address = one_address(world, r.address, r.endpoint.as_deref(), "add_record")?;
                world.add_record(&r.zone, &r.name, address, r.ttl)?;
                match &r.endpoint {
                    Some(e) => format!(
                        "added A record {} → {address} ({e}) to zone {}",
                        r.name, r.zone
                    ),
                    None => format!("added A record {} → {address} to zone {}", r.name, r.zone),
                }
            }
            Change::RemoveRecord(r) => {
                let removed = world.remove_record(&r.zone, &r.name, r.address)?;
                format!(
                    "removed {} A record(s) {} from zone {}",
                    removed.len(),
                    r.name,
                    r.zone
                )
            }
            Change::Approve(e) => set_state(world, e, ConnectionState::Approved)?,
            Change::Reject(e) => set_state(world, e, ConnectionState::Rejected)?,
            Change::Disconnect(e) => set_state(world, e, ConnectionState::Disconnected)?,
            Change::EndpointState(s) => set_state(world, &s.endpoint, s.state)?,
            Change::CreateEndpoint(e) => {
                let address = world.add_private_endpoint(
                    &e.name,
                    &e.network,
                    &e.cache,
                    e.state,
                    None,
                    e.register_in.as_deref(),
                )?;
                let registered = e
                    .register_in
                    .as_ref()
                    .map(|z| format!(", registered in zone {z}"))
                    .unwrap_or_default();
                format!(
                    "created private endpoint {} in {} for cache {} at {address} ({}){registered}",
                    e.name, e.network, e.cache, e.state
                )
            }
            Change::DeleteEndpoint(e) => {
                world.remove_private_endpoint(e)?;
                format!("deleted private endpoint {e}")
            }
            Change::PublicAccess(p) => {
                world.set_public_access(&p.cache, p.access, p.blocked_action)?;
                let blocked = world
                    .cache(&p.cache)
                    .map(|c| c.public_blocked_action.to_string())
                    .unwrap_or_default();
                match p.access {
                    PublicNetworkAccess::Enabled => {
                        format!("enabled public network access of cache {}", p.cache)
                    }
                    PublicNetworkAccess::Disabled => format!(
                        "disabled public network access of cache {} (blocked clients: {blocked})",
                        p.cache
                    ),
                }
            }
            Change::AddRule(r) => {
                world.add_rule(NetworkRule {
                    name: r.name.clone(),
                    priority: r.priority,
                    source: r.source.clone(),
                    destination: r.destination.clone(),
                    port: r.port,
                    action: r.action,
                    deny_as: r.deny_as,
                })?;
                format!("added network rule {}", r.name)
            }
            Change::RemoveRule(r) => {
                world.remove_rule(r)?;
                format!("removed network rule {r}")
            }
            Change::Stop(c) => {
                world.set_cache_running(c, false)?;
                format!("stopped cache {c}")
            }
            Change::Start(c) => {
                world.set_cache_running(c, true)?;
                format!("started cache {c}")
            }
            Change::Config(c) => {
                if c.requirepass.is_none() && c.maxclients.is_none() {
                    return Err(WorldError::Invalid(
                        "config needs requirepass or maxclients".to_owned(),
                    ));
                }
                let mut done = Vec::new();
                if let Some(n) = c.maxclients {
                    world.set_maxclients(&c.cache, n)?;
                    done.push(format!("maxclients {n}"));
                }
                if let Some(p) = &c.requirepass {
                    world.set_requirepass(&c.cache, Some(p))?;
                    done.push(if p.is_empty() {
                        "no requirepass".to_owned()
                    } else {
                        "a new requirepass".to_owned()
                    });
                }
                format!("set {} on cache {}", done.join(" and "), c.cache)
            }
            Change::AddToxic(t) => {
                let toxic = Toxic {
                    name: t.name.get_ref().clone(),
                    endpoint: t.endpoint.as_ref().map(|e| e.get_ref().clone()),
                    network: t.network.as_ref().map(|n| n.get_ref().clone()),
                    kind: t.toxic_kind().map_err(WorldError::Invalid)?,
                    direction: t.direction,
                };
                let text = toxic.to_string();
                world.add_toxic(toxic)?;
                format!("added toxic {text}")
            }
            Change::RemoveToxic(name) => {
                let removed = world.remove_toxic(name)?;
                format!("removed toxic {removed}")
            }
            Change::ForwarderAnswer(f) => {
                if f.remove {
                    if f.address.is_some() || f.endpoint.is_some() {
                        return Err(WorldError::Invalid(
                            "forwarder_answer: `remove` goes without `address` and `endpoint`"
                                .to_owned(),
                        ));
                    }
                    world.set_forwarder_answer(&f.network, &f.name, None, None)?;
                    format!("removed {}'s forwarder answer for {}", f.network, f.name)
                } else {
                    let address =
                        one_address(world, f.address, f.endpoint.as_deref(), "forwarder_answer")?;
                    world.set_forwarder_answer(&f.network, &f.name, Some(address), f.ttl)?;
                    format!(
                        "{}'s forwarder now answers {} with {address}{}",
                        f.network,
                        f.name,
                        f.endpoint
                            .as_ref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    )
                }
            }
        })
    }

    /// The engine settings this change pushes to a cache's engine: `(cache, [(name, value)])`.
    pub fn engine_settings(&self) -> Option<(&str, Vec<(&'static str, String)>)> {
        let Change::Config(c) = self else {
            return None;
        };
        let mut out = Vec::new();
        if let Some(n) = c.maxclients {
            out.push(("maxclients", n.to_string()));
        }
        if let Some(p) = &c.requirepass {
            out.push(("requirepass", p.clone()));
        }
        Some((&c.cache, out))
    }
}

fn set_state(
    world: &mut World,
    endpoint: &str,
    state: ConnectionState,
) -> Result<String, WorldError> {
    let before = world.set_endpoint_state(endpoint, state)?;
    Ok(format!("private endpoint {endpoint}: {before} → {state}"))
}

/// A change with its place in the file.
#[derive(Clone, Debug)]
pub struct PlacedChange {
    /// The change.
    pub change: Change,
    /// Where it is written.
    pub position: Position,
}

/// A validated timeline step.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its name.
    pub name: String,
    /// Its offset from the start, if given.
    pub at: Option<Duration>,
    /// Free text.
    pub description: Option<String>,
    /// Where the step is written.
    pub position: Position,
    /// The changes, in order.
    pub changes: Vec<PlacedChange>,
    /// What must hold after them.
    pub expectations: Vec<Expectation>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} (at {at:?})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Validates the expectations and steps of a scenario by replaying its timeline on `world` (the
/// world built from the file): the top-level expectations against it, then each step's changes in
/// order and its expectations against the world at that point. One pass, each item placed once.
pub fn compile(
    src: &ScenarioText,
    mut world: World,
    initial: &[Spanned<ExpectationSpec>],
    steps: &[Spanned<StepSpec>],
) -> Result<(Vec<Expectation>, Vec<Step>), ScenarioError> {
    let initial = initial
        .iter()
        .map(|x| expect::compile::expectation(src, &world, x))
        .collect::<Result<Vec<_>, _>>()?;
    let mut compiled = Vec::with_capacity(steps.len());
    let mut last_at = Duration::ZERO;
    let mut names = HashSet::new();
    for st in steps {
        let spec = st.get_ref();
        let name = spec.name.get_ref();
        if !names.insert(name.as_str()) {
            return Err(src.error(
                &spec.name.span(),
                ScenarioErrorKind::Duplicate,
                format!("duplicate step name {name:?}"),
            ));
        }
        if let Some(at) = &spec.at {
            last_at = step_offset(src, name, at, last_at)?;
        }
        compiled.push(step(src, &mut world, st)?);
    }
    Ok((initial, compiled))
}

/// A step's `at`, which may not come before the previous step's.
fn step_offset(
    src: &ScenarioText,
    name: &str,
    at: &Spanned<Offset>,
    last_at: Duration,
) -> Result<Duration, ScenarioError> {
    let Offset(d) = *at.get_ref();
    if d < last_at {
        return Err(src.error(
            &at.span(),
            ScenarioErrorKind::Invalid,
            format!(
                "step {name:?} is at {d:?}, before the previous step ({last_at:?}): steps run in file order"
            ),
        ));
    }
    Ok(d)
}

/// One step: its changes applied to `world` in order, then its expectations checked against it.
fn step(
    src: &ScenarioText,
    world: &mut World,
    st: &Spanned<StepSpec>,
) -> Result<Step, ScenarioError> {
    let spec = st.get_ref();
    let name = spec.name.get_ref();
    let mut changes = Vec::with_capacity(spec.changes.len());
    for c in &spec.changes {
        c.get_ref().apply(world).map_err(|e| {
            src.error(
                &c.span(),
                ScenarioErrorKind::Invalid,
                format!("step {name:?}: this change does not apply: {e}"),
            )
        })?;
        changes.push(PlacedChange {
            change: c.get_ref().clone(),
            position: src.position(&c.span()),
        });
    }
    if spec.changes.is_empty() && spec.expectations.is_empty() {
        return Err(src.error(
            &st.span(),
            ScenarioErrorKind::Invalid,
            format!(
                "step {name:?} has neither changes (`change = [...]`) nor expectations (`[[step.expect]]`)"
            ),
        ));
    }
    let expectations = spec
        .expectations
        .iter()
        .map(|x| expect::compile::expectation(src, world, x))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Step {
        name: name.clone(),
        at: spec.at.as_ref().map(|a| a.get_ref().0),
        description: spec.description.clone(),
        position: src.position(&st.span()),
        changes,
        expectations,
    })
}
