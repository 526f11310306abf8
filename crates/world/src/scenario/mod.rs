//! Scenarios: a scenario file parsed ([`file`](mod@file): the TOML tables), validated table by table
//! ([`validate`]), its world built ([`build`], through [`World::build`]) and its expectations and
//! timeline compiled on that world ([`crate::timeline::compile`]). A [`Scenario`] is a file that
//! passed all of it. The file format is described in [`file`](mod@file).

pub mod build;
pub mod file;
pub mod validate;

use std::ops::Range;
use std::path::Path;

pub use file::{
    CacheSpec, DnsZoneSpec, FirewallRuleSpec, ForwarderSpec, HostSpec, LinkSpec, NetworkRuleSpec,
    NetworkSpec, PrivateEndpointSpec, RecordSpec, ScenarioFile, UserSpec,
};
pub use validate::check_acl_rule;

use crate::address::AddressPlan;
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::expect::Expectation;
use crate::location::Position;
use crate::model::World;
use crate::text::ScenarioText;
use crate::timeline::{self, Step};

/// A parsed and validated scenario file.
#[derive(Clone, Debug)]
pub struct Scenario {
    source: ScenarioText,
    /// The file's content.
    pub spec: ScenarioFile,
    /// The top-level expectations, validated.
    expectations: Vec<Expectation>,
    /// The timeline, validated.
    steps: Vec<Step>,
}

impl Scenario {
    /// Reads and parses the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            position: None,
            kind: ScenarioErrorKind::Io,
            message: format!("cannot read the scenario: {e}"),
        })?;
        Scenario::parse(&file, &text)
    }

    /// Parses and validates `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let spec: ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError {
            file: file.to_owned(),
            position: e.span().map(|s| Position::of_span(text, &s)),
            kind: ScenarioErrorKind::Syntax,
            message: e.message().trim_end().to_owned(),
        })?;
        let mut scenario = Scenario {
            source: ScenarioText::new(file, text),
            spec,
            expectations: Vec::new(),
            steps: Vec::new(),
        };
        validate::validate(&scenario.source, &scenario.spec)?;
        let s = &scenario.spec;
        if !s.expectations.is_empty() || !s.steps.is_empty() {
            let world = World::build(&scenario, &AddressPlan::default())?;
            let (expectations, steps) =
                timeline::compile(&scenario.source, world, &s.expectations, &s.steps)?;
            scenario.expectations = expectations;
            scenario.steps = steps;
        }
        Ok(scenario)
    }

    /// The file name given to the parser.
    pub fn file(&self) -> &str {
        self.source.file()
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        self.source.text()
    }

    /// The file's name and text, for errors pointing into it.
    pub fn source(&self) -> &ScenarioText {
        &self.source
    }

    /// The top-level expectations (checked against the initial world), in file order.
    pub fn expectations(&self) -> impl Iterator<Item = &Expectation> {
        self.expectations.iter()
    }

    /// The timeline steps, in file order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every expectation: the top-level ones, then each step's.
    pub fn expectation_count(&self) -> usize {
        self.expectations.len()
            + self
                .steps
                .iter()
                .map(|s| s.expectations.len())
                .sum::<usize>()
    }

    /// The position of byte range `span` in the file.
    pub fn position(&self, span: &Range<usize>) -> Position {
        self.source.position(span)
    }

    /// An error pointing at `span`.
    pub fn error(
        &self,
        span: &Range<usize>,
        kind: ScenarioErrorKind,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.source.error(span, kind, message)
    }
}

impl World {
    /// Builds the world `scenario` describes, allocating unpinned addresses from `plan` (the
    /// defaults Azure applies: see [`build`]).
    pub fn build(scenario: &Scenario, plan: &AddressPlan) -> Result<World, ScenarioError> {
        build::world(&scenario.source, &scenario.spec, plan)
    }
}
