//! Glob-style pattern matching with Redis's rules (`stringmatchlen`), used by KEYS, SCAN MATCH,
//! CONFIG GET and, later, PSUBSCRIBE: `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes.

/// Whether `s` matches `pattern`.
pub fn matches(pattern: &[u8], s: &[u8]) -> bool {
    match_inner(pattern, s, 0)
}

fn match_inner(mut p: &[u8], mut s: &[u8], depth: u32) -> bool {
    // Redis bounds recursion on `*` the same way; pathological patterns simply fail to match.
    if depth > 1000 {
        return false;
    }
    while let Some(&pc) = p.first() {
        match pc {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if match_inner(&p[1..], &s[i..], depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                let Some(&c) = s.first() else {
                    return false;
                };
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    match p.first() {
                        None => break,
                        Some(b'\\') if p.len() >= 2 => {
                            p = &p[1..];
                            if p[0] == c {
                                matched = true;
                            }
                        }
                        Some(b']') => break,
                        Some(&start) if p.len() >= 3 && p[1] == b'-' => {
                            let (mut lo, mut hi) = (start, p[2]);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            p = &p[2..];
                            if c >= lo && c <= hi {
                                matched = true;
                            }
                        }
                        Some(&other) => {
                            if other == c {
                                matched = true;
                            }
                        }
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unterminated class: Redis treats the pattern as ended.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.first() != Some(&p[0]) {
                    return false;
                }
                s = &s[1..];
            }
            other => {
                if s.first() != Some(&other) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

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
}
