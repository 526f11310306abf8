//! The wire protocol: reading client requests and writing replies.
//!
//! Requests are parsed by a small resumable reader that mirrors redis-server's own
//! (`processMultibulkBuffer` / `processInlineBuffer`): it validates every header *before* buffering
//! data, so hostile input cannot make memory grow without bound, it enforces the unauthenticated
//! limits, and it produces Redis's exact `Protocol error: ...` texts. It never recurses (a generic RESP
//! decoder would recurse on `*1\r\n*1\r\n...` and can be driven into a stack overflow), and it hands
//! out arguments as ranges into the read buffer so the hot path copies nothing.
//!
//! Replies are written by [`Out`], the equivalent of Redis's `addReply*` family, in RESP2 or RESP3
//! depending on the connection's protocol; scalar frames are encoded by the `redis-protocol` crate.

use bytes::BytesMut;
use redis_protocol::resp2::encode::extend_encode_borrowed as resp2_encode;
use redis_protocol::resp2::types::BorrowedFrame as Resp2Frame;

/// A command's arguments, borrowed from the read buffer (inline up to 8).
pub type ArgVec<'a> = smallvec::SmallVec<[&'a [u8]; 8]>;

/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline request or header line.
pub const INLINE_MAX_SIZE: usize = 64 * 1024;
/// Largest multibulk count an unauthenticated client may send.
pub const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// Largest bulk an unauthenticated client may send.
pub const UNAUTH_MAX_BULK: i64 = 16384;

/// A protocol error: the text is sent as `-ERR <text>` and the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: impl Into<String>) -> Self {
        ProtocolError(format!("Protocol error: {}", msg.into()))
    }
}

/// Limits that apply while parsing, taken from the client's state and the server config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Whether the unauthenticated limits apply (auth required and not yet authenticated).
    pub unauthenticated: bool,
    /// `proto-max-bulk-len`.
    pub max_bulk: i64,
}

/// What one call to [`RequestParser::parse`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete command; its arguments are in [`RequestParser::args`]. `consumed` bytes were used.
    Command { consumed: usize },
    /// Bytes that carry no command (an empty inline line, `*0`, `*-1`): skip them.
    Skip { consumed: usize },
    /// More input is needed; `hint` is how many bytes at least the frame needs in total, if known.
    Incomplete { hint: usize },
}

#[derive(Debug, Default)]
struct Multibulk {
    /// Arguments announced by the `*N` header.
    argc: usize,
    /// Offset (from the frame start) of the next element header.
    pos: usize,
}

/// Where the arguments of the last parsed command are.
#[derive(Debug)]
enum ArgStore {
    /// Ranges into the frame (multibulk).
    Ranges,
    /// Owned, unescaped inline arguments.
    Inline,
}

/// Resumable request reader: feed it the unconsumed input from the start of the current frame.
#[derive(Debug)]
pub struct RequestParser {
    pending: Option<Multibulk>,
    ranges: Vec<(usize, usize)>,
    inline: Vec<Vec<u8>>,
    store: ArgStore,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser {
            pending: None,
            ranges: Vec::with_capacity(8),
            inline: Vec::new(),
            store: ArgStore::Ranges,
        }
    }
}

fn find_cr(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)
        .and_then(|s| s.iter().position(|&b| b == b'\r'))
        .map(|p| p + from)
}

/// Parse a decimal integer the way Redis's `string2ll` does (no spaces, no '+', no leading zeros).
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

impl RequestParser {
    /// Parse the next frame from `buf` (which starts at the current frame).
    pub fn parse(&mut self, buf: &[u8], limits: Limits) -> Result<Frame, ProtocolError> {
        if self.pending.is_none() {
            match buf.first() {
                None => return Ok(Frame::Incomplete { hint: 0 }),
                Some(b'*') => {}
                Some(_) => return self.parse_inline(buf),
            }
            let Some(cr) = find_cr(buf, 0) else {
                if buf.len() > INLINE_MAX_SIZE {
                    return Err(ProtocolError::new("too big mbulk count string"));
                }
                return Ok(Frame::Incomplete { hint: 0 });
            };
            if cr + 1 >= buf.len() {
                return Ok(Frame::Incomplete { hint: cr + 2 });
            }
            let n = match parse_i64(&buf[1..cr]) {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Err(ProtocolError::new("invalid multibulk length")),
            };
            if n > UNAUTH_MAX_MULTIBULK && limits.unauthenticated {
                return Err(ProtocolError::new("unauthenticated multibulk length"));
            }
            if n <= 0 {
                return Ok(Frame::Skip { consumed: cr + 2 });
            }
            self.ranges.clear();
            self.pending = Some(Multibulk {
                argc: n as usize,
                pos: cr + 2,
            });
        }
        self.parse_elements(buf, limits)
    }

    fn parse_elements(&mut self, buf: &[u8], limits: Limits) -> Result<Frame, ProtocolError> {
        let Some(mb) = self.pending.as_mut() else {
            return Ok(Frame::Incomplete { hint: 0 });
        };
        while self.ranges.len() < mb.argc {
            let pos = mb.pos;
            let Some(cr) = find_cr(buf, pos) else {
                if buf.len() - pos > INLINE_MAX_SIZE {
                    return Err(ProtocolError::new("too big bulk count string"));
                }
                return Ok(Frame::Incomplete { hint: 0 });
            };
            if cr + 1 >= buf.len() {
                return Ok(Frame::Incomplete { hint: cr + 2 });
            }
            if buf[pos] != b'$' {
                return Err(ProtocolError(format!(
                    "Protocol error: expected '$', got '{}'",
                    buf[pos] as char
                )));
            }
            let len = match parse_i64(&buf[pos + 1..cr]) {
                Some(n) if n >= 0 && n <= limits.max_bulk => n,
                _ => return Err(ProtocolError::new("invalid bulk length")),
            };
            if len > UNAUTH_MAX_BULK && limits.unauthenticated {
                return Err(ProtocolError::new("unauthenticated bulk length"));
            }
            let start = cr + 2;
            let end = start + len as usize;
            if end + 2 > buf.len() {
                return Ok(Frame::Incomplete { hint: end + 2 });
            }
            self.ranges.push((start, end));
            mb.pos = end + 2;
        }
        let consumed = mb.pos;
        self.pending = None;
        self.store = ArgStore::Ranges;
        Ok(Frame::Command { consumed })
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Frame, ProtocolError> {
        // Redis finds the end of an inline request with strchr(), which stops at a NUL byte: a NUL
        // before the newline hides it, and the request waits for more input until it is too big.
        let end = buf.iter().position(|&b| b == b'\n' || b == 0);
        let Some(nl) = end.filter(|&i| buf[i] == b'\n') else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(Frame::Incomplete { hint: 0 });
        };
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let args =
            split_args(line).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        if args.is_empty() {
            return Ok(Frame::Skip { consumed: nl + 1 });
        }
        self.inline = args;
        self.store = ArgStore::Inline;
        Ok(Frame::Command { consumed: nl + 1 })
    }

    /// The arguments of the command last returned by [`parse`](Self::parse); `frame` is the same
    /// buffer that was passed to it.
    pub fn args<'a>(&'a self, frame: &'a [u8], into: &mut ArgVec<'a>) {
        into.clear();
        match self.store {
            ArgStore::Ranges => into.extend(self.ranges.iter().map(|&(s, e)| &frame[s..e])),
            ArgStore::Inline => into.extend(self.inline.iter().map(|a| a.as_slice())),
        }
    }

    /// Whether a multibulk frame is partially read.
    pub fn in_frame(&self) -> bool {
        self.pending.is_some()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Split an inline request line like Redis's `sdssplitargs`: whitespace separated, with "double
/// quotes" (escapes `\n \r \t \b \a \\ \" \xHH`) and 'single quotes' (escape `\'`). Returns `None` on
/// unbalanced quotes or a closing quote not followed by a space.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    let hi = hex_val(line[i + 2]).unwrap_or(0);
                    let lo = hex_val(line[i + 3]).unwrap_or(0);
                    cur.push(hi * 16 + lo);
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 1;
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    // The same set the outer loop skips, so every pass consumes input.
                    c if c.is_ascii_whitespace() => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

/// Format a double the way Redis replies with one (`%.17g`-like shortest round trip, `inf`, `-inf`,
/// `nan`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest representation that round-trips, in scientific form: "1.2345e6".
    let sci = format!("{d:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-5..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{d}")
}

/// The reply writer: Redis's `addReply*` family for one connection.
#[derive(Debug)]
pub struct Out {
    /// Encoded replies waiting to be written.
    pub buf: BytesMut,
    /// Whether the connection speaks RESP3.
    pub resp3: bool,
    /// While the client's replies are silenced (CLIENT REPLY OFF|SKIP): where the pushes written
    /// meanwhile lie in `buf` (start, end), so [`Out::keep_pushes_since`] keeps only them.
    pub push_spans: Option<Vec<(usize, usize)>>,
}

impl Out {
    /// An empty writer.
    pub fn new(resp3: bool) -> Self {
        Out {
            buf: BytesMut::with_capacity(16 * 1024),
            resp3,
            push_spans: None,
        }
    }

    fn frame(&mut self, f: &Resp2Frame) {
        // Encoding a well-formed borrowed frame into a growable buffer cannot fail.
        let _ = resp2_encode(&mut self.buf, f, false);
    }

    fn header(&mut self, prefix: u8, n: usize) {
        let mut digits = itoa::Buffer::new();
        self.buf.extend_from_slice(&[prefix]);
        self.buf.extend_from_slice(digits.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple (status) string.
    pub fn simple(&mut self, s: &str) {
        self.frame(&Resp2Frame::SimpleString(s.as_bytes()));
    }

    /// An error reply; `msg` starts with the code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        // Error replies are a single line: newlines would break the protocol (Redis replaces them too).
        if msg.contains(['\r', '\n']) {
            let clean = msg.replace(['\r', '\n'], " ");
            self.frame(&Resp2Frame::Error(&clean));
        } else {
            self.frame(&Resp2Frame::Error(msg));
        }
    }

    /// An error reply from raw bytes (Redis echoes client bytes as they are); CR and LF become
    /// spaces, as Redis maps them.
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.reserve(msg.len() + 3);
        self.buf.extend_from_slice(b"-");
        // Runs between CR/LF bytes are copied whole (an echoed unknown command can be long).
        for (i, run) in msg.split(|&b| b == b'\r' || b == b'\n').enumerate() {
            if i > 0 {
                self.buf.extend_from_slice(b" ");
            }
            self.buf.extend_from_slice(run);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer.
    #[inline]
    pub fn int(&mut self, i: i64) {
        // Written here rather than by the generic frame encoder, which sizes every frame
        // before writing it: integers and bulks are most replies.
        let mut digits = itoa::Buffer::new();
        let d = digits.format(i).as_bytes();
        self.buf.reserve(d.len() + 3);
        self.buf.extend_from_slice(b":");
        self.buf.extend_from_slice(d);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string.
    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        let mut digits = itoa::Buffer::new();
        let d = digits.format(b.len()).as_bytes();
        self.buf.reserve(b.len() + d.len() + 5);
        self.buf.extend_from_slice(b"$");
        self.buf.extend_from_slice(d);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A null bulk (RESP2 `$-1`, RESP3 `_`).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.frame(&Resp2Frame::Null);
        }
    }

    /// A null array (RESP2 `*-1`, RESP3 `_`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// An optional bulk string.
    pub fn opt_bulk(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => self.bulk(b),
            None => self.null(),
        }
    }

    /// The header of an array of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// The header of a map of `n` pairs (a flat array of 2n elements in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n);
        } else {
            self.header(b'*', n * 2);
        }
    }

    /// The header of a set of `n` elements (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n);
    }

    /// The header of an out-of-band push of `n` elements (an array in RESP2).
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n);
    }

    /// Where a push (a Pub/Sub or tracking message, written whole before [`Out::push_end`]) starts.
    pub fn push_begin(&self) -> usize {
        self.buf.len()
    }

    /// The push started at `start` is complete: it survives silenced replies.
    pub fn push_end(&mut self, start: usize) {
        let end = self.buf.len();
        if let Some(spans) = self.push_spans.as_mut() {
            spans.push((start, end));
        }
    }

    /// Drop what was written since `start` except the pushes recorded meanwhile (a silenced
    /// client's reply; Redis's `prepareClientToWrite` lets only `CLIENT_PUSHING` output through).
    pub fn keep_pushes_since(&mut self, start: usize) {
        let spans = self.push_spans.take().unwrap_or_default();
        let len = self.buf.len();
        let mut to = start.min(len);
        for (a, b) in spans {
            if a >= to && a <= b && b <= len {
                self.buf.copy_within(a..b, to);
                to += b - a;
            }
        }
        self.buf.truncate(to);
    }

    /// A double (a bulk string in RESP2).
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3 {
            self.buf.extend_from_slice(b",");
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (integer 1/0 in RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A verbatim text string (a bulk string in RESP2), as INFO and CLIENT INFO send.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A HELP reply: one status line per entry.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for l in lines {
            self.simple(l);
        }
    }

    /// Bytes already encoded (e.g. a reply captured for EXEC).
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHED: Limits = Limits {
        unauthenticated: false,
        max_bulk: 512 * 1024 * 1024,
    };

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::default();
        let mut off = 0;
        let mut cmds = Vec::new();
        loop {
            match p.parse(&input[off..], AUTHED)? {
                Frame::Command { consumed } => {
                    let mut v = ArgVec::new();
                    p.args(&input[off..], &mut v);
                    cmds.push(v.iter().map(|a| a.to_vec()).collect());
                    off += consumed;
                }
                Frame::Skip { consumed } => off += consumed,
                Frame::Incomplete { .. } => return Ok(cmds),
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\\n\"\r\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        assert_eq!(cmds[2][2], b"b c\n".to_vec());
    }

    #[test]
    fn resumes_across_reads() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::default();
        for cut in 0..full.len() {
            assert!(matches!(
                p.parse(&full[..cut], AUTHED).unwrap(),
                Frame::Incomplete { .. }
            ));
        }
        assert_eq!(
            p.parse(full, AUTHED).unwrap(),
            Frame::Command {
                consumed: full.len()
            }
        );
    }

    #[test]
    fn redis_error_texts() {
        let err = |b: &[u8]| parse_all(b).unwrap_err().0;
        assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(
            err(b"*1\r\n:1\r\n"),
            "Protocol error: expected '$', got ':'"
        );
        assert_eq!(err(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            err(b"set a \"b\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
        let unauth = Limits {
            unauthenticated: true,
            ..AUTHED
        };
        let mut p = RequestParser::default();
        assert_eq!(
            p.parse(b"*11\r\n", unauth).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        let mut p = RequestParser::default();
        assert_eq!(
            p.parse(b"*1\r\n$16385\r\n", unauth).unwrap_err().0,
            "Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn inline_nul_hides_the_newline_like_strchr() {
        // redis-server 7.0.15 answers nothing to "ECHO a\0b c\r\n" or "\0PING\r\nPING\r\n".
        assert_eq!(
            parse_all(b"ECHO a\0b c\r\nPING\r\n").unwrap(),
            Vec::<Vec<Vec<u8>>>::new()
        );
        assert_eq!(
            parse_all(b"\0PING\r\nPING\r\n").unwrap(),
            Vec::<Vec<Vec<u8>>>::new()
        );
        // ...until the inline limit is passed.
        let mut big = b"PING\0".to_vec();
        big.resize(INLINE_MAX_SIZE + 1, b'x');
        big.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_all(&big).unwrap_err().0,
            "Protocol error: too big inline request"
        );
        // After the newline a NUL belongs to the next request.
        assert_eq!(
            parse_all(b"PING\r\n\0").unwrap(),
            vec![vec![b"PING".to_vec()]]
        );
    }

    #[test]
    fn inline_with_nul_and_form_feed() {
        assert_eq!(
            split_args(b"a\0b \x0cc").unwrap(),
            vec![b"a\0b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(0.1), "0.1");
    }
}
