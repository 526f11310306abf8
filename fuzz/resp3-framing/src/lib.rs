//! A framing-only RESP3 checker: where does the first complete, well-formed value of a buffer end?
//!
//! The fuzz harness decodes every reply with redis-protocol as its oracle. That decoder builds
//! hash sets and maps, so it refuses sets whose members and maps whose keys are aggregates
//! (`Invalid hash key`) — which is what `COMMAND`/`COMMAND INFO` send after `HELLO 3`, exactly as
//! redis-server 7.0.15 does (key specs: `~1\r\n%3\r\n$5\r\nflags...`). This crate checks the bytes
//! only: types, lengths, CRLFs and nesting, never the values' meaning beyond their lexical form.
//!
//! What it accepts (RESP3, <https://github.com/redis/redis-specifications>):
//!
//! | type | form |
//! | --- | --- |
//! | `+` simple string, `-` simple error | any bytes but CR and LF, then CRLF |
//! | `:` integer | optional `-`/`+`, digits, within `i64` |
//! | `(` big number | optional `-`/`+`, digits |
//! | `,` double | `[+-]digits[.digits][(e/E)[+-]digits]`, `inf`, `-inf`, `nan` (also `+inf`, `-nan`) |
//! | `#` boolean | `t` or `f` |
//! | `_` null | empty line |
//! | `$` blob string, `!` blob error, `=` verbatim string | length, CRLF, that many bytes, CRLF; `$-1` is a null; a verbatim string starts with a 3-byte format and `:` |
//! | `*` array, `~` set, `>` push | count, CRLF, that many values; `*-1` is a null |
//! | `%` map | count, CRLF, twice that many values |
//! | `\|` attribute | like a map, then the value it is attached to (the attribute is not a value of its own) |
//!
//! Lengths and counts are canonical decimals (no sign, no leading zero) that fit a `usize`;
//! streamed strings and aggregates (`$?`, `*?`, ...) are refused. The walk is iterative (a stack of
//! pending counts on the heap), so nesting depth is bounded only by the input's size.
//!
//! Errors name the byte offset and what is wrong; an input that stops before its value is complete
//! gives an error starting with `truncated`.

/// The byte length of the one complete, well-formed RESP3 value at the start of `buf` (bytes after
/// it are ignored).
pub fn frame_len(buf: &[u8]) -> Result<usize, String> {
    walk(buf, true)
}

/// The same for RESP2: only `+ - : $ *` (with `$-1` and `*-1` nulls).
pub fn frame_len_resp2(buf: &[u8]) -> Result<usize, String> {
    walk(buf, false)
}

/// Whether an error of [`frame_len`] means the input ended too early (rather than being malformed).
pub fn is_truncated(err: &str) -> bool {
    err.starts_with("truncated")
}

/// An aggregate whose elements are still being read.
struct Level {
    /// Values still to read.
    remaining: usize,
    /// An attribute: once complete, the next value is the one it is attached to (so its completion
    /// does not count as a value of the enclosing aggregate).
    attribute: bool,
}

/// What one header (type byte and its line, plus a blob's payload) turned out to be.
enum Item {
    /// A complete value.
    Value,
    /// An aggregate of this many values (already doubled for maps and attributes).
    Aggregate { values: usize, attribute: bool },
}

fn walk(buf: &[u8], resp3: bool) -> Result<usize, String> {
    let mut pos = 0;
    let mut stack: Vec<Level> = Vec::new();
    loop {
        let (item, next) = read_item(buf, pos, resp3)?;
        pos = next;
        match item {
            Item::Aggregate {
                values: 0,
                attribute: true,
            } => continue,
            Item::Aggregate {
                values: 0,
                attribute: false,
            } => {}
            Item::Aggregate { values, attribute } => {
                stack.push(Level {
                    remaining: values,
                    attribute,
                });
                continue;
            }
            Item::Value => {}
        }
        // One value is complete: count it in the enclosing aggregates, closing those it fills.
        loop {
            let Some(level) = stack.last_mut() else {
                return Ok(pos);
            };
            level.remaining -= 1;
            if level.remaining > 0 {
                break;
            }
            let attribute = level.attribute;
            stack.pop();
            if attribute {
                // The attributed value comes next; it is the one the enclosing level counts.
                break;
            }
        }
    }
}

fn truncated(pos: usize, what: &str) -> String {
    format!("truncated at offset {pos}: {what}")
}

fn bad(pos: usize, what: impl std::fmt::Display) -> String {
    format!("offset {pos}: {what}")
}

/// The line starting at `start` (up to, not including, its CRLF) and the offset after the CRLF.
/// The line may hold neither CR nor LF.
fn line(buf: &[u8], start: usize, type_pos: usize) -> Result<(&[u8], usize), String> {
    let rest = buf.get(start..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        None => Err(truncated(
            buf.len(),
            &format!("the line of the value at offset {type_pos} has no CRLF"),
        )),
        Some(i) if rest[i] == b'\n' => Err(bad(start + i, "LF without CR")),
        Some(i) => match rest.get(i + 1) {
            None => Err(truncated(buf.len(), "CR without its LF")),
            Some(b'\n') => Ok((&rest[..i], start + i + 2)),
            Some(&b) => Err(bad(
                start + i + 1,
                format!("CR followed by 0x{b:02x}, not LF"),
            )),
        },
    }
}

/// A canonical length or count: digits, no sign, no leading zero, fitting a `usize`.
fn length(digits: &[u8], pos: usize) -> Result<usize, String> {
    if digits.is_empty() {
        return Err(bad(pos, "empty length"));
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return Err(bad(pos, "length with a leading zero"));
    }
    let mut n: usize = 0;
    for (i, &d) in digits.iter().enumerate() {
        if !d.is_ascii_digit() {
            return Err(bad(pos + i, format!("length holds 0x{d:02x}, not a digit")));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d - b'0')))
            .ok_or_else(|| {
                bad(
                    pos,
                    format!("length {} overflows", String::from_utf8_lossy(digits)),
                )
            })?;
    }
    Ok(n)
}

/// `[+-]digits` (at least one digit).
fn signed_digits(s: &[u8]) -> bool {
    let s = s
        .strip_prefix(b"-")
        .or_else(|| s.strip_prefix(b"+"))
        .unwrap_or(s);
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// A RESP3 double: `[+-]digits[.digits][(e|E)[+-]digits]`, `inf`, `-inf`, `nan`.
fn double(s: &[u8]) -> bool {
    let unsigned = s
        .strip_prefix(b"-")
        .or_else(|| s.strip_prefix(b"+"))
        .unwrap_or(s);
    if unsigned == b"inf" || unsigned == b"nan" {
        return true;
    }
    let (mantissa, exponent) = match unsigned.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    digits(int)
        && frac.is_none_or(digits)
        && exponent.is_none_or(|e| {
            let e = e
                .strip_prefix(b"-")
                .or_else(|| e.strip_prefix(b"+"))
                .unwrap_or(e);
            digits(e)
        })
}

/// Read the header at `pos` (and a blob's payload); the item and the offset after it.
fn read_item(buf: &[u8], pos: usize, resp3: bool) -> Result<(Item, usize), String> {
    let Some(&kind) = buf.get(pos) else {
        return Err(truncated(pos, "expected a value's type byte"));
    };
    let resp3_only = matches!(
        kind,
        b'(' | b',' | b'#' | b'_' | b'!' | b'=' | b'~' | b'>' | b'%' | b'|'
    );
    if resp3_only && !resp3 {
        return Err(bad(pos, format!("type '{}' is RESP3 only", kind as char)));
    }
    let (text, next) = match kind {
        b'+' | b'-' | b':' | b'(' | b',' | b'#' | b'_' | b'$' | b'!' | b'=' | b'*' | b'~'
        | b'>' | b'%' | b'|' => line(buf, pos + 1, pos)?,
        b'?' => return Err(bad(pos, "streamed RESP3 types are not supported")),
        _ => return Err(bad(pos, format!("unknown type byte 0x{kind:02x}"))),
    };
    let text_pos = pos + 1;
    let what = kind as char;
    match kind {
        b'+' | b'-' => Ok((Item::Value, next)),
        b':' => {
            let ok = signed_digits(text)
                && std::str::from_utf8(text).is_ok_and(|s| s.parse::<i64>().is_ok());
            if ok {
                Ok((Item::Value, next))
            } else {
                Err(bad(
                    text_pos,
                    format!(
                        "integer {:?} is not a 64-bit signed decimal",
                        String::from_utf8_lossy(text)
                    ),
                ))
            }
        }
        b'(' => {
            if signed_digits(text) {
                Ok((Item::Value, next))
            } else {
                Err(bad(
                    text_pos,
                    format!(
                        "big number {:?} is not a signed decimal",
                        String::from_utf8_lossy(text)
                    ),
                ))
            }
        }
        b',' => {
            if double(text) {
                Ok((Item::Value, next))
            } else {
                Err(bad(
                    text_pos,
                    format!("double {:?} is malformed", String::from_utf8_lossy(text)),
                ))
            }
        }
        b'#' => match text {
            b"t" | b"f" => Ok((Item::Value, next)),
            _ => Err(bad(
                text_pos,
                format!(
                    "boolean {:?} is neither t nor f",
                    String::from_utf8_lossy(text)
                ),
            )),
        },
        b'_' => {
            if text.is_empty() {
                Ok((Item::Value, next))
            } else {
                Err(bad(text_pos, "null with a payload"))
            }
        }
        b'$' | b'!' | b'=' => {
            if text == b"-1" && kind == b'$' {
                return Ok((Item::Value, next));
            }
            if text == b"?" {
                return Err(bad(pos, "streamed strings are not supported"));
            }
            let len = length(text, text_pos)?;
            let end = next
                .checked_add(len)
                .and_then(|e| e.checked_add(2))
                .ok_or_else(|| bad(text_pos, format!("length {len} overflows")))?;
            if end > buf.len() {
                return Err(truncated(
                    buf.len(),
                    &format!(
                        "'{what}' at offset {pos} needs {len} bytes and CRLF from offset {next}"
                    ),
                ));
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(bad(
                    end - 2,
                    format!("the {len} bytes of '{what}' at offset {pos} are not followed by CRLF"),
                ));
            }
            if kind == b'=' {
                let data = &buf[next..end - 2];
                if len < 4 || data[3] != b':' || !data[..3].iter().all(u8::is_ascii_alphanumeric) {
                    return Err(bad(
                        next,
                        "verbatim string does not start with a 3-character format and ':'",
                    ));
                }
            }
            Ok((Item::Value, end))
        }
        _ => {
            // b'*' | b'~' | b'>' | b'%' | b'|'
            if text == b"-1" && kind == b'*' {
                return Ok((Item::Value, next));
            }
            if text == b"?" {
                return Err(bad(pos, "streamed aggregates are not supported"));
            }
            let count = length(text, text_pos)?;
            let paired = matches!(kind, b'%' | b'|');
            let values = if paired {
                count
                    .checked_mul(2)
                    .ok_or_else(|| bad(text_pos, format!("'{what}' count {count} overflows")))?
            } else {
                count
            };
            // Every value takes at least 3 bytes (`_\r\n`, `+\r\n`): refuse early what cannot fit.
            let left = buf.len() - next;
            if values > left / 3 {
                return Err(truncated(
                    buf.len(),
                    &format!(
                        "'{what}' at offset {pos} announces {values} values, {left} bytes remain"
                    ),
                ));
            }
            Ok((
                Item::Aggregate {
                    values,
                    attribute: kind == b'|',
                },
                next,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `COMMAND INFO get` after `HELLO 3`, in the shape redis-server 7.0.15 sends: flags, ACL
    /// categories and tips are sets; the key specs are a set of maps (with a nested map and a set
    /// inside); subcommands an empty set.
    const COMMAND_INFO_GET: &[u8] = b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n\
:1\r\n:1\r\n:1\r\n~2\r\n+@read\r\n+@string\r\n~0\r\n\
~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n\
$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n\
$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n\
%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n\
~0\r\n";

    /// The spec's attribute example: a map attribute attached to an array.
    const ATTRIBUTE: &[u8] =
        b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n\
*2\r\n:2039123\r\n:9543892\r\n";

    fn ok(buf: &[u8]) {
        assert_eq!(
            frame_len(buf),
            Ok(buf.len()),
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }

    fn refused(buf: &[u8], needle: &str) {
        match frame_len(buf) {
            Ok(n) => panic!("accepted {n} bytes of {:?}", String::from_utf8_lossy(buf)),
            Err(e) => assert!(
                e.contains(needle),
                "{:?}: {e}",
                String::from_utf8_lossy(buf)
            ),
        }
    }

    #[test]
    fn scalars() {
        for v in [
            &b"+OK\r\n"[..],
            b"+\r\n",
            b"-ERR unknown command '\xdb'\r\n",
            b":0\r\n",
            b":-9223372036854775808\r\n",
            b":+12\r\n",
            b"(3492890328409238509324850943850943825024385\r\n",
            b"(-1\r\n",
            b"#t\r\n",
            b"#f\r\n",
            b"_\r\n",
            b"$0\r\n\r\n",
            b"$5\r\nhe\r\no\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"!21\r\nSYNTAX invalid syntax\r\n",
            b"=15\r\ntxt:Some string\r\n",
            b"=4\r\nmkd:\r\n",
        ] {
            ok(v);
        }
    }

    #[test]
    fn doubles() {
        for v in [
            "1.23", "inf", "-inf", "nan", "-0", "0", "3", "1.5e+20", "1e-06", "-2.5E10", "+inf",
        ] {
            ok(format!(",{v}\r\n").as_bytes());
        }
        for v in [
            "", "1.2.3", "abc", "1e", "e5", ".5", "1.", "infinity", "- 1", "1e+",
        ] {
            refused(format!(",{v}\r\n").as_bytes(), "double");
        }
    }

    #[test]
    fn command_info_set_of_maps() {
        ok(COMMAND_INFO_GET);
        // The first value only: what follows it is the next reply.
        let mut two = COMMAND_INFO_GET.to_vec();
        two.extend_from_slice(b"+OK\r\n");
        assert_eq!(frame_len(&two), Ok(COMMAND_INFO_GET.len()));
        // A set holding aggregates is what redis-protocol refuses; framing accepts it.
        ok(b"~2\r\n%1\r\n+a\r\n:1\r\n*2\r\n+x\r\n~1\r\n%0\r\n");
        ok(b"%1\r\n*1\r\n+k\r\n~1\r\n*0\r\n");
    }

    #[test]
    fn attributes() {
        ok(ATTRIBUTE);
        // Inside an aggregate the attribute is not an element of its own.
        ok(b"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n");
        ok(b"|0\r\n+OK\r\n");
        // Attribute on attribute, then the value.
        ok(b"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n_\r\n");
        // An attribute with no value after it is incomplete, at the top level and inside.
        refused(b"|1\r\n+a\r\n+b\r\n", "truncated");
        refused(b"*1\r\n|1\r\n+a\r\n+b\r\n", "truncated");
        assert_eq!(frame_len(b"*1\r\n|0\r\n:1\r\n:2\r\n"), Ok(12));
    }

    #[test]
    fn every_prefix_is_truncated() {
        for v in [
            COMMAND_INFO_GET,
            ATTRIBUTE,
            b"=15\r\ntxt:Some string\r\n",
            b"$-1\r\n",
        ] {
            for cut in 0..v.len() {
                let e = frame_len(&v[..cut]).expect_err("a strict prefix is incomplete");
                assert!(is_truncated(&e), "prefix {cut}: {e}");
            }
        }
    }

    #[test]
    fn bad_crlf() {
        refused(b"+OK\n", "offset 3: LF without CR");
        refused(b"+OK\rX\n", "offset 4: CR followed by 0x58");
        refused(b"$3\r\nabcX\r", "offset 7");
        refused(b"$3\r\nabc\n\r", "not followed by CRLF");
        refused(b"*1\r\n:1\r\r", "CR followed by 0x0d");
        refused(b"$3\n\rabc\r\n", "LF without CR");
        refused(b"_x\r\n", "null with a payload");
        // A short blob: its CRLF is not where the length says.
        refused(b"$2\r\nabc\r\n", "offset 6");
    }

    #[test]
    fn lengths() {
        refused(b"$99999999999999999999999\r\n", "overflows");
        refused(b"*18446744073709551616\r\n", "overflows");
        refused(b"%9223372036854775808\r\n", "overflows");
        refused(b"|9223372036854775808\r\n", "overflows");
        refused(b"$18446744073709551615\r\n", "overflows");
        refused(b"$-2\r\n", "not a digit");
        refused(b"~-1\r\n", "not a digit");
        refused(b"%-1\r\n", "not a digit");
        refused(b"!-1\r\n", "not a digit");
        refused(b"$+3\r\nabc\r\n", "not a digit");
        refused(b"$03\r\nabc\r\n", "leading zero");
        refused(b"*\r\n", "empty length");
        // A count that cannot fit in what remains is truncated at once.
        refused(b"*1000000000\r\n:1\r\n", "truncated");
        refused(b"$?\r\n;4\r\nHell\r\n;0\r\n", "streamed");
        refused(b"*?\r\n:1\r\n.\r\n", "streamed");
    }

    #[test]
    fn malformed_values() {
        refused(b"#x\r\n", "boolean");
        refused(b"#true\r\n", "boolean");
        refused(b":9223372036854775808\r\n", "integer");
        refused(b":1a\r\n", "integer");
        refused(b":\r\n", "integer");
        refused(b"(12a\r\n", "big number");
        refused(b"=3\r\ntxt\r\n", "verbatim");
        refused(b"=5\r\ntxtx:\r\n", "verbatim");
        refused(b"@1\r\n", "unknown type byte 0x40");
        refused(b"", "truncated at offset 0");
        refused(b"*2\r\n:1\r\nX\r\n", "offset 8: unknown type byte");
    }

    #[test]
    fn resp2_subset() {
        assert_eq!(frame_len_resp2(b"*2\r\n$-1\r\n-ERR x\r\n"), Ok(17));
        assert_eq!(frame_len_resp2(b"*-1\r\n"), Ok(5));
        for v in [
            &b"%0\r\n"[..],
            b"_\r\n",
            b"*1\r\n#t\r\n",
            b",1\r\n",
            b"~0\r\n",
            b">0\r\n",
        ] {
            let e = frame_len_resp2(v).expect_err("RESP3 only");
            assert!(e.contains("RESP3 only"), "{e}");
        }
    }

    #[test]
    fn deep_nesting() {
        let depth = 200_000;
        let mut v = b"*1\r\n".repeat(depth);
        v.extend_from_slice(b":1\r\n");
        ok(&v);
        let mut m = b"%1\r\n+k\r\n".repeat(depth);
        m.extend_from_slice(b"_\r\n");
        ok(&m);
        // The same without its innermost value: incomplete, not a crash.
        let e = frame_len(&v[..v.len() - 4]).expect_err("incomplete");
        assert!(is_truncated(&e), "{e}");
    }

    /// Where redis-protocol's RESP3 decoder accepts a value, both agree on its length.
    #[test]
    fn agrees_with_redis_protocol() {
        let cases: &[&[u8]] = &[
            b"+OK\r\n",
            b":-12\r\n",
            b"$5\r\nhello\r\n",
            b"_\r\n",
            b"#t\r\n",
            b",1.5e+20\r\n",
            b",inf\r\n",
            b"(12345678901234567890\r\n",
            b"!3\r\nERR\r\n",
            b"=7\r\ntxt:abc\r\n",
            b"*3\r\n:1\r\n*1\r\n+a\r\n%1\r\n+k\r\n$1\r\nv\r\n",
            b"~2\r\n+a\r\n+b\r\n",
            b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
            ATTRIBUTE,
            b"*2\r\n:1\r\n:2\r\n+trailing\r\n",
        ];
        for &c in cases {
            let (_, used) = redis_protocol::resp3::decode::complete::decode(c)
                .unwrap_or_else(|e| panic!("{e:?}: {:?}", String::from_utf8_lossy(c)))
                .expect("complete");
            assert_eq!(frame_len(c), Ok(used), "{:?}", String::from_utf8_lossy(c));
        }
        // The reply this crate exists for: redis-protocol refuses it, framing accepts it.
        assert!(redis_protocol::resp3::decode::complete::decode(COMMAND_INFO_GET).is_err());
        ok(COMMAND_INFO_GET);
        let (_, used) = redis_protocol::resp2::decode::decode(b"*2\r\n$-1\r\n:3\r\n")
            .expect("decodes")
            .expect("complete");
        assert_eq!(frame_len_resp2(b"*2\r\n$-1\r\n:3\r\n"), Ok(used));
    }
}
