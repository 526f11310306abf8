//! A transcription of redis-server 7.0.15's recursive `stringmatchlen` (util.c), the reference the
//! glob matcher is tested (tests/glob.rs) and fuzzed (fuzz/fuzz_targets/glob.rs) against. Shared by
//! path so the two cannot drift.

/// Redis 7.0.15's `stringmatchlen_impl`, transcribed: C pointer + length become a slice + offset,
/// reads past the end see the NUL terminator sds strings have, `char` is signed (x86-64), and
/// `tolower` is the C locale's. Kept literal, recursion and all: only for small inputs.
pub fn reference(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip = false;
    impl_(pattern, 0, string, 0, nocase, &mut skip, 0)
}

fn at(b: &[u8], i: usize) -> i32 {
    i32::from(b.get(i).copied().unwrap_or(0) as i8)
}

fn lower(c: i32) -> i32 {
    if (65..=90).contains(&c) { c + 32 } else { c }
}

fn impl_(
    p: &[u8],
    mut pi: usize,
    s: &[u8],
    mut si: usize,
    nocase: bool,
    skip: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    let mut plen = p.len() as isize - pi as isize;
    let mut slen = s.len() as isize - si as isize;
    while plen > 0 && slen > 0 {
        match at(p, pi) as u8 {
            b'*' => {
                while plen > 0 && at(p, pi + 1) == i32::from(b'*') {
                    pi += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while slen > 0 {
                    if impl_(p, pi + 1, s, si, nocase, skip, nesting + 1) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                    si += 1;
                    slen -= 1;
                }
                *skip = true;
                return false;
            }
            b'?' => {
                si += 1;
                slen -= 1;
            }
            b'[' => {
                pi += 1;
                plen -= 1;
                let not = at(p, pi) == i32::from(b'^');
                if not {
                    pi += 1;
                    plen -= 1;
                }
                let mut m = false;
                loop {
                    if at(p, pi) == i32::from(b'\\') && plen >= 2 {
                        pi += 1;
                        plen -= 1;
                        if at(p, pi) == at(s, si) {
                            m = true;
                        }
                    } else if at(p, pi) == i32::from(b']') {
                        break;
                    } else if plen == 0 {
                        pi -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(p, pi + 1) == i32::from(b'-') {
                        let (mut start, mut end, mut c) = (at(p, pi), at(p, pi + 2), at(s, si));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower(start);
                            end = lower(end);
                            c = lower(c);
                        }
                        pi += 2;
                        plen -= 2;
                        if c >= start && c <= end {
                            m = true;
                        }
                    } else if !nocase {
                        if at(p, pi) == at(s, si) {
                            m = true;
                        }
                    } else if lower(at(p, pi)) == lower(at(s, si)) {
                        m = true;
                    }
                    pi += 1;
                    plen -= 1;
                }
                if not {
                    m = !m;
                }
                if !m {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
            other => {
                if other == b'\\' && plen >= 2 {
                    pi += 1;
                    plen -= 1;
                }
                let (a, b) = (at(p, pi), at(s, si));
                let equal = if nocase { lower(a) == lower(b) } else { a == b };
                if !equal {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
        }
        pi += 1;
        plen -= 1;
        if slen == 0 {
            while at(p, pi) == i32::from(b'*') && plen > 0 {
                pi += 1;
                plen -= 1;
            }
            break;
        }
    }
    plen == 0 && slen == 0
}
