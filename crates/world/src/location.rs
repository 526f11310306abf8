//! Source locations: turning the byte offsets that TOML spans carry into the `line:column` positions
//! that error messages show. A [`LineIndex`] answers each position with a binary search, so placing
//! every step and expectation of a long file costs O(n log n), not a rescan of the text per item.

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

/// Where each line of a text starts, built once per text.
#[derive(Clone, Debug, Default)]
pub struct LineIndex {
    /// Byte offset of each line's first byte (the first is 0).
    starts: Vec<usize>,
    /// Whether each line is ASCII (then a column is a byte difference, not a character count).
    ascii: Vec<bool>,
}

impl LineIndex {
    /// Indexes the lines of `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let ascii = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = starts.get(i + 1).copied().unwrap_or(text.len());
                text.as_bytes()
                    .get(start..end)
                    .is_some_and(<[u8]>::is_ascii)
            })
            .collect();
        LineIndex { starts, ascii }
    }

    /// The position of byte `offset` in `text` (the text this index was built from), with the same
    /// answer as [`Position::of_offset`].
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        // Lines starting at or before `offset`: the last of them holds it.
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = if self.ascii.get(line - 1).copied().unwrap_or(false) {
            offset - start
        } else {
            text.get(start..offset).map_or(0, |s| s.chars().count())
        };
        Position {
            line,
            column: column + 1,
        }
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

    proptest::proptest! {
        #[test]
        fn the_line_index_agrees_with_the_scan(text in "[a\né=\r]{0,40}", offset in 0usize..50) {
            let index = LineIndex::new(&text);
            proptest::prop_assert_eq!(index.position(&text, offset), Position::of_offset(&text, offset));
        }
    }
}
