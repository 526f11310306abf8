//! The timeline: `[[step]]` entries that change the world in order, each carrying expectations.
//! [`StepSpec`] is the file's format (serde, spans; its changes are [`Change`]s, see
//! [`crate::change`]); [`compile`] validates a whole
//! scenario's expectations and steps by replaying the timeline on a world built from the file, so
//! that every mistake (a change naming a missing zone, an expectation naming an endpoint that does
//! not exist at that point) is reported with its file:line:column; [`Step`] is the result.
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

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::Expectation;
use crate::address::{AddressPlan, is_loopback};
pub use crate::change::Change;
use crate::endpoint::{EndpointId, PUBLIC_ENDPOINT};
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::expect::{
    ClientSource, Destination, ExpectationKind, ExpectationSpec, ExpectedAnswer, KeyValue, Offset,
    Target,
};
use crate::location::Position;
use crate::model::World;
use crate::scenario::{Scenario, is_dns_name, normalize_name};

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

/// Validates the expectations and steps of `scenario` by replaying the timeline on its world (built
/// in the default address plan): the top-level expectations and the steps, typed.
pub fn compile(scenario: &Scenario) -> Result<(Vec<Expectation>, Vec<Step>), ScenarioError> {
    let s = &scenario.spec;
    if s.expectations.is_empty() && s.steps.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut world = World::build(scenario, &AddressPlan::default())?;
    let initial = s
        .expectations
        .iter()
        .map(|x| expectation(scenario, &world, x))
        .collect::<Result<Vec<_>, _>>()?;
    let mut steps = Vec::with_capacity(s.steps.len());
    let mut last_at = Duration::ZERO;
    let mut names = std::collections::HashSet::new();
    for st in &s.steps {
        let spec = st.get_ref();
        let name = spec.name.get_ref();
        if !names.insert(name.clone()) {
            return Err(scenario.error(
                &spec.name.span(),
                ScenarioErrorKind::Duplicate,
                format!("duplicate step name {name:?}"),
            ));
        }
        if let Some(at) = &spec.at {
            let Offset(d) = *at.get_ref();
            if d < last_at {
                return Err(scenario.error(
                    &at.span(),
                    ScenarioErrorKind::Invalid,
                    format!(
                        "step {name:?} is at {d:?}, before the previous step ({last_at:?}): steps run in file order"
                    ),
                ));
            }
            last_at = d;
        }
        let mut changes = Vec::with_capacity(spec.changes.len());
        for c in &spec.changes {
            c.get_ref().apply(&mut world).map_err(|e| {
                scenario.error(
                    &c.span(),
                    ScenarioErrorKind::Invalid,
                    format!("step {name:?}: this change does not apply: {e}"),
                )
            })?;
            changes.push(PlacedChange {
                change: c.get_ref().clone(),
                position: scenario.position(&c.span()),
            });
        }
        if spec.changes.is_empty() && spec.expectations.is_empty() {
            return Err(scenario.error(
                &st.span(),
                ScenarioErrorKind::Invalid,
                format!("step {name:?} has neither changes (`change = [...]`) nor expectations (`[[step.expect]]`)"),
            ));
        }
        let expectations = spec
            .expectations
            .iter()
            .map(|x| expectation(scenario, &world, x))
            .collect::<Result<Vec<_>, _>>()?;
        steps.push(Step {
            name: name.clone(),
            at: spec.at.as_ref().map(|a| a.get_ref().0),
            description: spec.description.clone(),
            position: scenario.position(&st.span()),
            changes,
            expectations,
        });
    }
    Ok((initial, steps))
}

/// Validates one expectation table against the world at its point of the timeline.
fn expectation(
    scenario: &Scenario,
    world: &World,
    x: &Spanned<ExpectationSpec>,
) -> Result<Expectation, ScenarioError> {
    use ScenarioErrorKind::{Invalid, UnknownReference};
    let e = x.get_ref();
    let at = |span: &Range<usize>, kind, msg: String| scenario.error(span, kind, msg);
    let whole = x.span();
    let from = e.from.get_ref();
    if world.network(from).is_none() {
        return Err(at(
            &e.from.span(),
            UnknownReference,
            format!("an expectation names network {from}, which the scenario does not declare"),
        ));
    }
    let source = match &e.source {
        None => ClientSource::Network(from.clone()),
        Some(s) => {
            let v = s.get_ref();
            if v == "host" {
                ClientSource::Host
            } else if world.network(v).is_some() {
                ClientSource::Network(v.clone())
            } else if let Ok(a) = v.parse::<Ipv4Addr>() {
                if !is_loopback(a) {
                    return Err(at(
                        &s.span(),
                        ScenarioErrorKind::Address,
                        format!(
                            "source {a} is outside 127.0.0.0/8: the checker's clients stay on loopback"
                        ),
                    ));
                }
                ClientSource::Address(a)
            } else {
                return Err(at(
                    &s.span(),
                    UnknownReference,
                    format!(
                        "source {v:?} is neither \"host\", a network of the scenario, nor a 127/8 address"
                    ),
                ));
            }
        }
    };

    let kinds: Vec<&str> = [
        ("resolve", e.resolve.is_some()),
        ("connect", e.connect.is_some()),
        ("auth", e.auth.is_some()),
        ("command", e.command.is_some()),
        ("set", e.set.is_some()),
        ("get", e.get.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, present)| present.then_some(k))
    .collect();
    let kind_name = match kinds.as_slice() {
        [one] => *one,
        [] => {
            return Err(at(&whole, Invalid, "an expectation needs one of `resolve`, `connect`, `auth`, `command`, `set` or `get`".to_owned()));
        }
        many => {
            return Err(at(
                &whole,
                Invalid,
                format!(
                    "an expectation checks one thing, but this one has {}: split it",
                    many.join(", ")
                ),
            ));
        }
    };
    let not_with = |present: bool, field: &str| -> Result<(), ScenarioError> {
        if present {
            Err(at(
                &whole,
                Invalid,
                format!("`{field}` does not go with a `{kind_name}` expectation"),
            ))
        } else {
            Ok(())
        }
    };

    let kind = if let Some(host) = &e.resolve {
        check_host(scenario, host)?;
        for (present, field) in [
            (e.port.is_some(), "port"),
            (e.tls.is_some(), "tls"),
            (e.password.is_some(), "password"),
            (e.user.is_some(), "user"),
            (e.timeout.is_some(), "timeout"),
            (e.hold.is_some(), "hold"),
            (e.host.is_some(), "host"),
            (e.cache.is_some(), "cache"),
            (e.reply.is_some(), "reply"),
        ] {
            not_with(present, field)?;
        }
        let Some(answer) = &e.answer else {
            return Err(at(&whole, Invalid, "a resolve expectation needs `answer`: private, public, nxdomain, refused or a private endpoint's name".to_owned()));
        };
        let mut wanted = answer.get_ref().clone();
        if let Some(ep) = &e.endpoint {
            // The original form: answer = "private", endpoint = "pe-hub".
            if wanted != ExpectedAnswer::Private {
                return Err(at(
                    &ep.span(),
                    Invalid,
                    "`endpoint` goes with answer = \"private\" in a resolve expectation".to_owned(),
                ));
            }
            wanted = ExpectedAnswer::Endpoint(ep.get_ref().clone());
        }
        if let ExpectedAnswer::Endpoint(name) = &wanted
            && world.private_endpoint(name).is_none()
        {
            let span = e
                .endpoint
                .as_ref()
                .map_or_else(|| answer.span(), Spanned::span);
            return Err(at(
                &span,
                UnknownReference,
                format!(
                    "answer {name:?} is neither private, public, nxdomain, refused nor a private endpoint of the scenario at this point"
                ),
            ));
        }
        ExpectationKind::Resolve {
            host: normalize_name(host.get_ref()),
            answer: wanted,
        }
    } else {
        not_with(e.answer.is_some(), "answer")?;
        let target = target(scenario, world, e, &whole)?;
        if let Some(result) = &e.connect {
            for (present, field) in [
                (e.password.is_some(), "password"),
                (e.user.is_some(), "user"),
                (e.reply.is_some(), "reply"),
            ] {
                not_with(present, field)?;
            }
            ExpectationKind::Connect {
                target,
                result: *result.get_ref(),
            }
        } else if let Some(result) = &e.auth {
            not_with(e.reply.is_some(), "reply")?;
            ExpectationKind::Auth {
                target,
                user: e.user.clone(),
                password: e.password.clone(),
                result: *result.get_ref(),
            }
        } else {
            let (args, reply) = if let Some(cmd) = &e.command {
                let args = cmd.get_ref().args();
                if args.is_empty() {
                    return Err(at(&cmd.span(), Invalid, "the command is empty".to_owned()));
                }
                let Some(reply) = &e.reply else {
                    return Err(at(&whole, Invalid, "a command expectation needs `reply` (e.g. \"OK\", \"PONG\", \"(nil)\", \"ERR max number of clients reached\")".to_owned()));
                };
                (args, reply.clone())
            } else {
                not_with(e.reply.is_some(), "reply")?;
                let set = e.set.as_ref().map(Spanned::get_ref);
                let get = e.get.as_ref().map(Spanned::get_ref);
                match (set, get) {
                    (Some(KeyValue { key, value }), None) => {
                        let Some(value) = value else {
                            return Err(at(
                                &whole,
                                Invalid,
                                "`set` needs a value: set = { key = \"k\", value = \"v\" }"
                                    .to_owned(),
                            ));
                        };
                        (
                            vec!["SET".to_owned(), key.clone(), value.clone()],
                            "OK".to_owned(),
                        )
                    }
                    (None, Some(KeyValue { key, value })) => (
                        vec!["GET".to_owned(), key.clone()],
                        value.clone().unwrap_or_else(|| "(nil)".to_owned()),
                    ),
                    _ => {
                        return Err(at(
                            &whole,
                            Invalid,
                            "an expectation needs one of `set` and `get`".to_owned(),
                        ));
                    }
                }
            };
            ExpectationKind::Command {
                target,
                user: e.user.clone(),
                password: e.password.clone(),
                args,
                reply,
            }
        }
    };
    let label = e
        .name
        .clone()
        .unwrap_or_else(|| Expectation::describe(from, &source, &kind));
    Ok(Expectation {
        label,
        position: scenario.position(&whole),
        from: from.clone(),
        source,
        kind,
    })
}

fn check_host(scenario: &Scenario, host: &Spanned<String>) -> Result<(), ScenarioError> {
    if is_dns_name(&normalize_name(host.get_ref())) {
        Ok(())
    } else {
        Err(scenario.error(
            &host.span(),
            ScenarioErrorKind::Invalid,
            format!("{:?} is not a valid DNS name", host.get_ref()),
        ))
    }
}

/// The connection target of a connect/auth/command expectation.
fn target(
    scenario: &Scenario,
    world: &World,
    e: &ExpectationSpec,
    whole: &Range<usize>,
) -> Result<Target, ScenarioError> {
    use ScenarioErrorKind::{Invalid, UnknownReference};
    let destination = match (&e.host, &e.endpoint) {
        (Some(_), Some(ep)) => {
            return Err(scenario.error(
                &ep.span(),
                Invalid,
                "give `host` or `endpoint`, not both".to_owned(),
            ));
        }
        (Some(h), None) => {
            check_host(scenario, h)?;
            if e.cache.is_some() {
                return Err(scenario.error(
                    whole,
                    Invalid,
                    "`cache` goes with endpoint = \"public\"".to_owned(),
                ));
            }
            Destination::Host(normalize_name(h.get_ref()))
        }
        (None, Some(ep)) => {
            let name = ep.get_ref();
            if name == PUBLIC_ENDPOINT {
                let cache = match (&e.cache, world.caches.as_slice()) {
                    (Some(c), _) => {
                        if world.cache(c.get_ref()).is_none() {
                            return Err(scenario.error(
                                &c.span(),
                                UnknownReference,
                                format!("cache {} does not exist", c.get_ref()),
                            ));
                        }
                        c.get_ref().clone()
                    }
                    (None, [only]) => only.name.clone(),
                    (None, _) => {
                        return Err(scenario.error(&ep.span(), Invalid, "endpoint = \"public\" needs `cache` when the world has several caches (or none)".to_owned()));
                    }
                };
                Destination::Endpoint(EndpointId::Public { cache })
            } else {
                if world.private_endpoint(name).is_none() {
                    return Err(scenario.error(&ep.span(), UnknownReference, format!("an expectation names private endpoint {name}, which does not exist at this point of the scenario")));
                }
                if e.cache.is_some() {
                    return Err(scenario.error(
                        whole,
                        Invalid,
                        "`cache` goes with endpoint = \"public\"".to_owned(),
                    ));
                }
                Destination::Endpoint(EndpointId::Private {
                    endpoint: name.clone(),
                })
            }
        }
        (None, None) => match world.caches.as_slice() {
            [only] => Destination::Host(only.host_name()),
            _ => {
                return Err(scenario.error(whole, Invalid, "say where to connect: `host` (a host name) or `endpoint` (an endpoint's name); only a world with one cache has a default".to_owned()));
            }
        },
    };
    if e.hold == Some(0) {
        return Err(scenario.error(
            whole,
            Invalid,
            "hold = 0 holds nothing: leave it out".to_owned(),
        ));
    }
    Ok(Target {
        destination,
        port: e.port,
        tls: e.tls,
        timeout: e.timeout.map(|t| t.0),
        hold: e.hold.unwrap_or(0),
    })
}
