//! Compiling an `[[expect]]` table into an [`Expectation`]: the checks that need the world at the
//! expectation's point of the timeline (networks, endpoints and caches that exist then), one
//! function per part of the table. [`crate::timeline::compile`] calls [`expectation`] for the
//! top-level expectations and after each step's changes.

use std::net::Ipv4Addr;
use std::ops::Range;

use toml::Spanned;

use super::{
    ClientSource, Destination, Expectation, ExpectationKind, ExpectationSpec, ExpectedAnswer,
    KeyValue, Target, Timing,
};
use crate::address::is_loopback;
use crate::endpoint::{EndpointId, PUBLIC_ENDPOINT};
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::model::World;
use crate::names::{is_dns_name, normalize_name};
use crate::text::ScenarioText;

use ScenarioErrorKind::{Invalid, UnknownReference};

/// Validates one expectation table `x` against `world` (the world at its point of the timeline).
pub fn expectation(
    src: &ScenarioText,
    world: &World,
    x: &Spanned<ExpectationSpec>,
) -> Result<Expectation, ScenarioError> {
    let e = x.get_ref();
    let whole = x.span();
    let from = e.from.get_ref();
    if world.network(from).is_none() {
        return Err(src.error(
            &e.from.span(),
            UnknownReference,
            format!("an expectation names network {from}, which the scenario does not declare"),
        ));
    }
    let source = client_source(src, world, e)?;
    let table = Table {
        src,
        e,
        whole: &whole,
        kind_name: kind_name(src, e, &whole)?,
    };
    let kind = if let Some(host) = &e.resolve {
        table.resolve(world, host)?
    } else {
        table.connection(world)?
    };
    let label = e
        .name
        .clone()
        .unwrap_or_else(|| Expectation::describe(from, &source, &kind));
    Ok(Expectation {
        label,
        position: src.position(&whole),
        from: from.clone(),
        source,
        kind,
    })
}

/// The address the client binds: `from`'s client address, or `source` (host, a network, 127/8).
fn client_source(
    src: &ScenarioText,
    world: &World,
    e: &ExpectationSpec,
) -> Result<ClientSource, ScenarioError> {
    let Some(s) = &e.source else {
        return Ok(ClientSource::Network(e.from.get_ref().clone()));
    };
    let v = s.get_ref();
    if v == "host" {
        return Ok(ClientSource::Host);
    }
    if world.network(v).is_some() {
        return Ok(ClientSource::Network(v.clone()));
    }
    let Ok(a) = v.parse::<Ipv4Addr>() else {
        return Err(src.error(
            &s.span(),
            UnknownReference,
            format!(
                "source {v:?} is neither \"host\", a network of the scenario, nor a 127/8 address"
            ),
        ));
    };
    if !is_loopback(a) {
        return Err(src.error(
            &s.span(),
            ScenarioErrorKind::Address,
            format!("source {a} is outside 127.0.0.0/8: the checker's clients stay on loopback"),
        ));
    }
    Ok(ClientSource::Address(a))
}

/// The one thing the table checks (`resolve`, `connect`, `auth`, `command`, `set` or `get`).
fn kind_name(
    src: &ScenarioText,
    e: &ExpectationSpec,
    whole: &Range<usize>,
) -> Result<&'static str, ScenarioError> {
    let kinds: Vec<&'static str> = [
        ("resolve", e.resolve.is_some()),
        ("connect", e.connect.is_some()),
        ("auth", e.auth.is_some()),
        ("command", e.command.is_some()),
        ("set", e.set.is_some()),
        ("get", e.get.is_some()),
        ("open_connection", e.open_connection.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, present)| present.then_some(k))
    .collect();
    match kinds.as_slice() {
        [one] => Ok(*one),
        [] => Err(src.error(
            whole,
            Invalid,
            "an expectation needs one of `resolve`, `connect`, `auth`, `command`, `set`, `get` or `open_connection`",
        )),
        many => Err(src.error(
            whole,
            Invalid,
            format!(
                "an expectation checks one thing, but this one has {}: split it",
                many.join(", ")
            ),
        )),
    }
}

/// One table being compiled, with what its errors need.
struct Table<'a> {
    src: &'a ScenarioText,
    e: &'a ExpectationSpec,
    whole: &'a Range<usize>,
    kind_name: &'static str,
}

impl Table<'_> {
    fn invalid(&self, message: impl Into<String>) -> ScenarioError {
        self.src.error(self.whole, Invalid, message)
    }

    /// `field` must be absent from this kind of expectation.
    fn not_with(&self, present: bool, field: &str) -> Result<(), ScenarioError> {
        if present {
            Err(self.invalid(format!(
                "`{field}` does not go with a `{}` expectation",
                self.kind_name
            )))
        } else {
            Ok(())
        }
    }

    /// `resolve = HOST` with `answer` (and, in the original form, `endpoint`).
    fn resolve(
        &self,
        world: &World,
        host: &Spanned<String>,
    ) -> Result<ExpectationKind, ScenarioError> {
        let e = self.e;
        check_host(self.src, host)?;
        for (present, field) in [
            (e.port.is_some(), "port"),
            (e.tls.is_some(), "tls"),
            (e.password.is_some(), "password"),
            (e.user.is_some(), "user"),
            (e.timeout.is_some(), "timeout"),
            (e.hold.is_some(), "hold"),
            (e.cluster, "cluster"),
            (e.host.is_some(), "host"),
            (e.cache.is_some(), "cache"),
            (e.reply.is_some(), "reply"),
            (e.within.is_some(), "within"),
            (e.slower_than.is_some(), "slower_than"),
        ] {
            self.not_with(present, field)?;
        }
        let Some(answer) = &e.answer else {
            return Err(self.invalid(
                "a resolve expectation needs `answer`: private, public, nxdomain, refused or a private endpoint's name",
            ));
        };
        let mut wanted = answer.get_ref().clone();
        if let Some(ep) = &e.endpoint {
            // The original form: answer = "private", endpoint = "pe-hub".
            if wanted != ExpectedAnswer::Private {
                return Err(self.src.error(
                    &ep.span(),
                    Invalid,
                    "`endpoint` goes with answer = \"private\" in a resolve expectation",
                ));
            }
            wanted = ExpectedAnswer::Endpoint(ep.get_ref().clone());
        }
        if let ExpectedAnswer::Address(a) = &wanted
            && !is_loopback(*a)
        {
            return Err(self.src.error(
                &answer.span(),
                ScenarioErrorKind::Address,
                format!(
                    "answer {a} is outside 127.0.0.0/8: every simulated address is a loopback alias"
                ),
            ));
        }
        if let ExpectedAnswer::Endpoint(name) = &wanted
            && world.private_endpoint(name).is_none()
        {
            let span = e
                .endpoint
                .as_ref()
                .map_or_else(|| answer.span(), Spanned::span);
            return Err(self.src.error(
                &span,
                UnknownReference,
                format!(
                    "answer {name:?} is neither private, public, nxdomain, refused, unowned, an address nor a private endpoint of the scenario at this point"
                ),
            ));
        }
        Ok(ExpectationKind::Resolve {
            host: normalize_name(host.get_ref()),
            answer: wanted,
        })
    }

    /// `connect`, `auth`, `command`, `set` or `get`: a target, then what to send.
    fn connection(&self, world: &World) -> Result<ExpectationKind, ScenarioError> {
        let e = self.e;
        self.not_with(e.answer.is_some(), "answer")?;
        let target = target(self.src, world, e, self.whole)?;
        if let Some(result) = &e.open_connection {
            self.not_with(e.cluster, "cluster")?;
            for (present, field) in [
                (e.password.is_some(), "password"),
                (e.user.is_some(), "user"),
                (e.reply.is_some(), "reply"),
                (e.hold.is_some(), "hold"),
                (e.within.is_some(), "within"),
                (e.slower_than.is_some(), "slower_than"),
            ] {
                self.not_with(present, field)?;
            }
            return Ok(ExpectationKind::OpenConnection {
                target,
                result: *result.get_ref(),
            });
        }
        if e.cluster && (e.connect.is_some() || e.auth.is_some()) {
            return Err(self.invalid(
                "`cluster = true` follows a command's redirections: give `command`, `get` or `set`, not `connect`/`auth`",
            ));
        }
        if let Some(result) = &e.connect {
            for (present, field) in [
                (e.password.is_some(), "password"),
                (e.user.is_some(), "user"),
                (e.reply.is_some(), "reply"),
            ] {
                self.not_with(present, field)?;
            }
            return Ok(ExpectationKind::Connect {
                target,
                result: *result.get_ref(),
            });
        }
        if let Some(result) = &e.auth {
            self.not_with(e.reply.is_some(), "reply")?;
            return Ok(ExpectationKind::Auth {
                target,
                user: e.user.clone(),
                password: e.password.clone(),
                result: *result.get_ref(),
            });
        }
        let (args, reply) = self.command()?;
        Ok(ExpectationKind::Command {
            target,
            user: e.user.clone(),
            password: e.password.clone(),
            args,
            reply,
        })
    }

    /// The command and the reply wanted: `command` + `reply`, or `set`/`get` spelled out.
    fn command(&self) -> Result<(Vec<String>, String), ScenarioError> {
        let e = self.e;
        if let Some(cmd) = &e.command {
            let args = cmd.get_ref().args();
            if args.is_empty() {
                return Err(self.src.error(&cmd.span(), Invalid, "the command is empty"));
            }
            let Some(reply) = &e.reply else {
                return Err(self.invalid(
                    "a command expectation needs `reply` (e.g. \"OK\", \"PONG\", \"(nil)\", \"ERR max number of clients reached\")",
                ));
            };
            return Ok((args, reply.clone()));
        }
        self.not_with(e.reply.is_some(), "reply")?;
        let set = e.set.as_ref().map(Spanned::get_ref);
        let get = e.get.as_ref().map(Spanned::get_ref);
        match (set, get) {
            (Some(KeyValue { key, value }), None) => {
                let Some(value) = value else {
                    return Err(
                        self.invalid("`set` needs a value: set = { key = \"k\", value = \"v\" }")
                    );
                };
                Ok((
                    vec!["SET".to_owned(), key.clone(), value.clone()],
                    "OK".to_owned(),
                ))
            }
            (None, Some(KeyValue { key, value })) => Ok((
                vec!["GET".to_owned(), key.clone()],
                value.clone().unwrap_or_else(|| "(nil)".to_owned()),
            )),
            _ => Err(self.invalid("an expectation needs one of `set` and `get`")),
        }
    }
}

fn check_host(src: &ScenarioText, host: &Spanned<String>) -> Result<(), ScenarioError> {
    if is_dns_name(&normalize_name(host.get_ref())) {
        Ok(())
    } else {
        Err(src.error(
            &host.span(),
            Invalid,
            format!("{:?} is not a valid DNS name", host.get_ref()),
        ))
    }
}

/// The connection target of a connect/auth/command expectation.
fn target(
    src: &ScenarioText,
    world: &World,
    e: &ExpectationSpec,
    whole: &Range<usize>,
) -> Result<Target, ScenarioError> {
    let destination = destination(src, world, e, whole)?;
    if e.hold == Some(0) {
        return Err(src.error(whole, Invalid, "hold = 0 holds nothing: leave it out"));
    }
    let timing = Timing {
        within: e.within.as_ref().map(|w| w.get_ref().0),
        slower_than: e.slower_than.as_ref().map(|s| s.get_ref().0),
    };
    if let (Some(w), Some(s)) = (&e.within, &e.slower_than)
        && s.get_ref().0 >= w.get_ref().0
    {
        return Err(src.error(
            &s.span(),
            Invalid,
            format!(
                "slower_than ({:?}) must be less than within ({:?}): nothing can take both",
                s.get_ref().0,
                w.get_ref().0
            ),
        ));
    }
    Ok(Target {
        destination,
        port: e.port,
        tls: e.tls,
        timeout: e.timeout.map(|t| t.0),
        hold: e.hold.unwrap_or(0),
        timing,
        cluster: e.cluster,
    })
}

/// Where to connect: `host`, `endpoint` (private by name, or `public` + `cache`), or the only cache.
fn destination(
    src: &ScenarioText,
    world: &World,
    e: &ExpectationSpec,
    whole: &Range<usize>,
) -> Result<Destination, ScenarioError> {
    let cache_only_with_public =
        || src.error(whole, Invalid, "`cache` goes with endpoint = \"public\"");
    match (&e.host, &e.endpoint) {
        (Some(_), Some(ep)) => Err(src.error(
            &ep.span(),
            Invalid,
            "give `host` or `endpoint`, not both",
        )),
        (Some(h), None) => {
            check_host(src, h)?;
            if e.cache.is_some() {
                return Err(cache_only_with_public());
            }
            Ok(Destination::Host(normalize_name(h.get_ref())))
        }
        (None, Some(ep)) if ep.get_ref() == PUBLIC_ENDPOINT => {
            let cache = public_cache(src, world, e, ep)?;
            Ok(Destination::Endpoint(EndpointId::Public { cache }))
        }
        (None, Some(ep)) => {
            let name = ep.get_ref();
            if world.private_endpoint(name).is_none() {
                return Err(src.error(
                    &ep.span(),
                    UnknownReference,
                    format!(
                        "an expectation names private endpoint {name}, which does not exist at this point of the scenario"
                    ),
                ));
            }
            if e.cache.is_some() {
                return Err(cache_only_with_public());
            }
            Ok(Destination::Endpoint(EndpointId::Private {
                endpoint: name.clone(),
            }))
        }
        (None, None) => match world.caches.as_slice() {
            [only] => Ok(Destination::Host(only.host_name())),
            _ => Err(src.error(
                whole,
                Invalid,
                "say where to connect: `host` (a host name) or `endpoint` (an endpoint's name); only a world with one cache has a default",
            )),
        },
    }
}

/// The cache of `endpoint = "public"`: `cache`, or the world's only cache.
fn public_cache(
    src: &ScenarioText,
    world: &World,
    e: &ExpectationSpec,
    ep: &Spanned<String>,
) -> Result<String, ScenarioError> {
    match (&e.cache, world.caches.as_slice()) {
        (Some(c), _) => {
            if world.cache(c.get_ref()).is_none() {
                return Err(src.error(
                    &c.span(),
                    UnknownReference,
                    format!("cache {} does not exist", c.get_ref()),
                ));
            }
            Ok(c.get_ref().clone())
        }
        (None, [only]) => Ok(only.name.clone()),
        (None, _) => Err(src.error(
            &ep.span(),
            Invalid,
            "endpoint = \"public\" needs `cache` when the world has several caches (or none)",
        )),
    }
}
