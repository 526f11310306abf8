//! Source locations: turning the byte offsets that TOML spans carry into the `line:column` positions
//! that error messages show.

use std::fmt;
use std::ops::Range;

/// A 1-based line and column (columns count characters, not bytes) in a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`. Offsets past the end map to the end of the text;
    /// offsets inside a multi-byte character map to that character.
    pub fn of_offset(text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or_else(|| {
            // Not on a char boundary: back up to the start of the character.
            let mut start = offset;
            while start > 0 && !text.is_char_boundary(start) {
                start -= 1;
            }
            &text[..start]
        });
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column }
    }

    /// The position where `span` starts in `text`.
    pub fn of_span(text: &str, span: &Range<usize>) -> Position {
        Position::of_offset(text, span.start)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let text = "a = 1\nbé = 2\n\nc = 3";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 4),
            Position { line: 1, column: 5 }
        );
        assert_eq!(
            Position::of_offset(text, 6),
            Position { line: 2, column: 1 }
        );
        // 'é' is two bytes: the '=' after "bé " is byte 10 but column 4.
        assert_eq!(
            Position::of_offset(text, 10),
            Position { line: 2, column: 4 }
        );
        assert_eq!(
            Position::of_offset(text, 15),
            Position { line: 4, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 999),
            Position { line: 4, column: 6 }
        );
        // Inside the two-byte character.
        assert_eq!(
            Position::of_offset(text, 8),
            Position { line: 2, column: 2 }
        );
    }
}
