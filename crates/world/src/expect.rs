//! What a scenario declares besides the world: `[[expect]]` expectations (checked by `redlink check`)
//! and `[[step]]` timeline entries. Only the resolution expectation is defined so far; steps are kept
//! as opaque TOML tables until the timeline issue defines them, so that the file format has one parser.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::model::{AddressOwner, World};
use crate::resolve::{Outcome, QueryType, resolve};

/// The answer a resolution expectation wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedAnswer {
    /// A private endpoint's address (optionally a given endpoint's: `endpoint = "pe-hub"`).
    Private,
    /// The cache's public address.
    Public,
    /// NXDOMAIN.
    NxDomain,
    /// REFUSED (a name outside the simulated zones).
    Refused,
}

impl fmt::Display for ExpectedAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpectedAnswer::Private => "private",
            ExpectedAnswer::Public => "public",
            ExpectedAnswer::NxDomain => "nxdomain",
            ExpectedAnswer::Refused => "refused",
        })
    }
}

/// One `[[expect]]` table.
///
/// ```toml
/// [[expect]]
/// name = "hub resolves the cache to its private endpoint"   # optional
/// from = "hub"                                     # the network whose resolver is asked
/// resolve = "contoso.redis.cache.windows.net"      # the host name
/// answer = "private"                               # private | public | nxdomain | refused
/// endpoint = "pe-hub"                              # optional, with answer = "private"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// A label for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The network the expectation looks from.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// A host name to resolve.
    #[serde(default)]
    pub resolve: Option<Spanned<String>>,
    /// The answer wanted.
    #[serde(default)]
    pub answer: Option<ExpectedAnswer>,
    /// The private endpoint the answer must be (with `answer = "private"`).
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
}

impl Expectation {
    /// A label: the given name, or one made from the fields.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let from = self.from.as_ref().map_or("?", |f| f.get_ref().as_str());
        let resolve = self.resolve.as_ref().map_or("?", |r| r.get_ref().as_str());
        let answer = self
            .answer
            .map_or_else(|| "?".to_owned(), |a| a.to_string());
        match &self.endpoint {
            Some(e) => format!("from {from} resolve {resolve} → {answer} ({})", e.get_ref()),
            None => format!("from {from} resolve {resolve} → {answer}"),
        }
    }

    /// Checks a resolution expectation against `world`: `Ok(summary)` when met, `Err(why not)`
    /// otherwise. (Expectations of kinds defined later are for the checker to evaluate.)
    pub fn check_resolution(&self, world: &World) -> Result<String, String> {
        let (Some(from), Some(name), Some(answer)) = (&self.from, &self.resolve, self.answer)
        else {
            return Err("not a resolution expectation (needs from, resolve and answer)".to_owned());
        };
        let resolution = resolve(world, from.get_ref(), name.get_ref(), QueryType::A);
        let summary = resolution.summary();
        let met = match (answer, resolution.outcome(world)) {
            (
                ExpectedAnswer::Private,
                Outcome::Address {
                    owner: Some(AddressOwner::PrivateEndpoint { endpoint, .. }),
                    ..
                },
            ) => self
                .endpoint
                .as_ref()
                .is_none_or(|e| *e.get_ref() == endpoint),
            (
                ExpectedAnswer::Public,
                Outcome::Address {
                    owner: Some(AddressOwner::Public { .. }),
                    ..
                },
            ) => true,
            (ExpectedAnswer::NxDomain, Outcome::NxDomain) => true,
            (ExpectedAnswer::Refused, Outcome::Refused) => true,
            _ => false,
        };
        if met {
            Ok(summary)
        } else {
            Err(format!("expected {answer}: {summary}"))
        }
    }
}

/// One `[[step]]` timeline entry, kept as written (with its span) until the timeline is defined.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineStep {
    /// Byte range of the entry in the file.
    pub span: Range<usize>,
    /// The entry's keys and values.
    pub table: toml::Table,
}
