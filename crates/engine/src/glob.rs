//! Glob-style pattern matching with redis-server's exact rules (`stringmatchlen` in Redis 7.0),
//! used by KEYS, SCAN/HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE delivery, PUBSUB CHANNELS, ACL key and
//! channel patterns and CONFIG GET.
//!
//! Why not a straight port: Redis's matcher recurses on every `*`, which is exponential for
//! patterns like `*a*a*a*a*a*ab` (Redis 7 bounds it with its "skip longer matches" give-up; a naive
//! port took seconds per key and stalled every client). Here matching is iterative: greedy with
//! backtracking to the last `*` only, O(pattern × string) in the worst case and allocation-free.
//! Backtracking only to the last star is exact because every token other than `*` consumes
//! exactly one byte.
//!
//! The semantics reproduce redis-server 7.0.15 byte for byte, quirks included:
//! - `?` is any byte, `[...]` a class with ranges (either order), `^` negation and `\` escapes;
//!   `[]` is an empty class; an unterminated `[` takes the rest of the pattern as the class and ends
//!   the pattern; a trailing `\` is a literal backslash.
//! - Range bounds compare as C `char`, which is signed on x86-64 Linux: `[a-\xff]` matches
//!   `\xff` and `\x00`..`a` but not `\x80`; `[\x80-\xff]` matches the high bytes.
//! - The empty string matches only the empty pattern (so `*` does not match `""`; callers that
//!   short-circuit `*` as Redis does, like KEYS and SCAN, keep their shortcut).
//! - A pattern with more than 1000 `*` groups before its end never matches (Redis's nesting
//!   limit against abusive patterns, CVE-2022-36021).
//! - The no-case variant (CONFIG GET here; Redis also uses it for COMMAND LIST FILTERBY PATTERN and
//!   FUNCTION LIST LIBRARYNAME) folds ASCII only, folds range bounds after ordering them, and
//!   compares escaped bytes inside a class case-sensitively, as `stringmatchlen(.., nocase=1)`.

/// Redis's limit on nested `*` (`stringmatchlen_impl`'s `nesting > 1000`).
const MAX_STARS: usize = 1000;

/// Whether `s` matches `pattern` (case-sensitive), as redis-server's `stringmatchlen`.
pub fn matches(pattern: &[u8], s: &[u8]) -> bool {
    matches_with(pattern, s, false)
}

/// Whether `s` matches `pattern` ignoring ASCII case, as `stringmatchlen(.., nocase=1)`.
pub fn matches_nocase(pattern: &[u8], s: &[u8]) -> bool {
    matches_with(pattern, s, true)
}

/// C's `tolower` on a (signed) `char` in the C locale: only `A`..`Z` change.
fn fold(c: i32, nocase: bool) -> i32 {
    if nocase && (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

/// A byte as C's signed `char` (x86-64), widened like Redis's `int c = string[0]`.
fn signed(b: u8) -> i32 {
    i32::from(b as i8)
}

fn matches_with(p: &[u8], s: &[u8], nocase: bool) -> bool {
    // Redis's loop runs only while both remain: an empty string matches only an empty pattern.
    if s.is_empty() {
        return p.is_empty();
    }
    let (mut pi, mut si) = (0usize, 0usize);
    // The last `*` seen: where its tail starts in the pattern and the string offset it was tried at.
    let mut star: Option<(usize, usize)> = None;
    let mut stars = 0usize;
    loop {
        if si == s.len() {
            // The string is consumed: only `*`s may remain.
            while p.get(pi) == Some(&b'*') {
                pi += 1;
            }
            return pi == p.len();
        }
        if p.get(pi) == Some(&b'*') {
            while p.get(pi) == Some(&b'*') {
                pi += 1;
            }
            if pi == p.len() {
                return true;
            }
            stars += 1;
            if stars > MAX_STARS {
                return false;
            }
            star = Some((pi, si));
            continue;
        }
        match step(p, pi, s[si], nocase) {
            Some(next) => {
                pi = next;
                si += 1;
            }
            None => match star {
                // Let the last star swallow one more byte and retry its tail. The tail never
                // matches the empty rest (it starts with a byte-consuming token), which the check
                // at the top of the loop reports.
                Some((tail, at)) => {
                    star = Some((tail, at + 1));
                    pi = tail;
                    si = at + 1;
                }
                None => return false,
            },
        }
    }
}

/// Match the single-byte token at `p[pi]` (not `*`) against `c`: the pattern offset after the
/// token when it matches.
fn step(p: &[u8], pi: usize, c: u8, nocase: bool) -> Option<usize> {
    let &pc = p.get(pi)?;
    match pc {
        b'?' => Some(pi + 1),
        b'[' => {
            let (matched, next) = class(p, pi + 1, c, nocase);
            matched.then_some(next)
        }
        b'\\' if pi + 1 < p.len() => {
            (fold(signed(p[pi + 1]), nocase) == fold(signed(c), nocase)).then_some(pi + 2)
        }
        // A trailing backslash is itself: the literal byte.
        other => (fold(signed(other), nocase) == fold(signed(c), nocase)).then_some(pi + 1),
    }
}

/// A `[...]` class whose body starts at `p[i]`: whether `c` is in it and the offset after it
/// (the pattern's end when the class is unterminated).
fn class(p: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let not = p.get(i) == Some(&b'^');
    if not {
        i += 1;
    }
    let mut matched = false;
    let next = loop {
        let rest = p.len() - i;
        if rest == 0 {
            // Unterminated: the class took the rest of the pattern.
            break p.len();
        }
        if p[i] == b'\\' && rest >= 2 {
            i += 1;
            // Escaped class members compare exactly, even without case (as Redis).
            if p[i] == c {
                matched = true;
            }
        } else if p[i] == b']' {
            break i + 1;
        } else if rest >= 3 && p[i + 1] == b'-' {
            let (mut lo, mut hi) = (signed(p[i]), signed(p[i + 2]));
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let (lo, hi, c) = (fold(lo, nocase), fold(hi, nocase), fold(signed(c), nocase));
            i += 2;
            if lo <= c && c <= hi {
                matched = true;
            }
        } else if fold(signed(p[i]), nocase) == fold(signed(c), nocase) {
            matched = true;
        }
        i += 1;
    };
    (matched != not, next)
}

#[cfg(test)]
mod tests {
    use super::{matches, matches_nocase};

    #[test]
    fn redis_patterns() {
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"key:\\*", b"key:*"));
        assert!(!matches(b"key:\\*", b"key:a"));
        assert!(matches(b"max*", b"maxclients"));
        assert!(!matches(b"a*b", b"acd"));
    }

    /// Quirks checked against redis-server 7.0.15 (SSCAN/KEYS on the same inputs).
    #[test]
    fn redis_quirks() {
        // `*` does not match the empty string; only the empty pattern does.
        assert!(!matches(b"*", b""));
        assert!(!matches(b"**", b""));
        assert!(matches(b"", b""));
        // Signed-char ranges.
        assert!(matches(b"[a-\xff]", b"\xff"));
        assert!(matches(b"[a-\xff]", b"a"));
        assert!(!matches(b"[a-\xff]", b"\x80"));
        assert!(matches(b"[\x80-\xff]", b"\x80"));
        // Unterminated class and trailing backslash.
        assert!(matches(b"a[bc", b"ab"));
        assert!(matches(b"a[bc", b"ac"));
        assert!(!matches(b"a[bc", b"abc"));
        assert!(matches(b"[^", b"x"));
        assert!(!matches(b"[", b"["));
        assert!(matches(b"a\\", b"a\\"));
        assert!(!matches(b"[]a]", b"a]"));
        assert!(matches(b"[]a]", b"]") == matches(b"[]", b"x"));
        // `]` as a range end.
        assert!(matches(b"[a-]", b"_"));
        // No-case folding.
        assert!(matches_nocase(b"MAX*", b"maxclients"));
        assert!(matches_nocase(b"[A-C]x", b"bX"));
        assert!(!matches_nocase(b"[\\A]", b"a"));
        assert!(!matches_nocase(b"[Z-a]", b"_"));
    }

    #[test]
    fn nesting_limit() {
        let s = vec![b'a'; 2000];
        let pat = |n: usize, trailing: bool| {
            let mut p = b"*a".repeat(n);
            if trailing {
                p.push(b'*');
            }
            p
        };
        assert!(matches(&pat(1000, false), &s));
        assert!(matches(&pat(1000, true), &s));
        assert!(!matches(&pat(1001, false), &s));
        assert!(!matches(&pat(1001, true), &s));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let key = vec![b'a'; 200];
        let pat = b"*a*a*a*a*a*a*a*a*a*ab";
        let t = std::time::Instant::now();
        assert!(!matches(pat, &key));
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
