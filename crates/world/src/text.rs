//! The text of a scenario file with its name and line index: what every check needs to point an
//! error at `file:line:column`. Validation, world building and timeline compiling take this instead
//! of the whole [`crate::Scenario`], so they do not depend on the module that assembles them.

use std::ops::Range;

use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::location::{LineIndex, Position};

/// A scenario file's name and text, indexed by line.
#[derive(Clone, Debug)]
pub struct ScenarioText {
    file: String,
    text: String,
    lines: LineIndex,
}

impl ScenarioText {
    /// `text`, named `file` in errors.
    pub fn new(file: &str, text: &str) -> ScenarioText {
        ScenarioText {
            file: file.to_owned(),
            text: text.to_owned(),
            lines: LineIndex::new(text),
        }
    }

    /// The file name given to the parser.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The position of byte range `span` in the file.
    pub fn position(&self, span: &Range<usize>) -> Position {
        self.lines.position(&self.text, span.start)
    }

    /// An error pointing at `span`.
    pub fn error(
        &self,
        span: &Range<usize>,
        kind: ScenarioErrorKind,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.clone(),
            position: Some(self.position(span)),
            kind,
            message: message.into(),
        }
    }
}
