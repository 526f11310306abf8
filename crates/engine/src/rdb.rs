//! The serialisation DUMP produces and RESTORE reads: one value in Redis's RDB object format, then
//! the RDB version (2 bytes, little endian) and a CRC-64 (Jones, 8 bytes little endian) of
//! everything before it — the same payload redis-server produces, so keys can move between redlink
//! and a real server. The same object codec writes and reads whole RDB files
//! ([`crate::persist::rdb_file`] adds only the file's framing).
//!
//! Reading accepts what Redis 2.6–7.2 write: strings (raw, integer-encoded, LZF-compressed), plain
//! lists, sets, hashes and sorted sets (string or binary scores), intsets, ziplist- and
//! listpack-encoded hashes, sorted sets and lists, listpack sets, quicklists (of ziplists or
//! listpacks), and streams (Redis 5's, 7.0's and 7.2's layouts, consumer groups and PELs included).
//! Writing uses the plain encodings (which every Redis since 2.x loads, and Redis 7's quicklist for
//! lists): strings (integer-encoded when Redis would, LZF-compressed in files with
//! `rdbcompression yes`), lists (quicklist 2 of listpack nodes), sets, hashes, sorted sets with
//! binary scores, and streams in Redis 7.0's layout (`RDB_TYPE_STREAM_LISTPACKS_2`).
//!
//! Nothing here trusts the input: every length is checked against what is left.

use std::collections::VecDeque;

use crate::store::stream::{self, Consumer, Group, Nack, Stream, StreamId};
use crate::store::types::{Table, ZSet};
use crate::store::{Blob, Value};

/// The RDB version written in the footer (Redis 7.2's).
pub const RDB_VERSION: u16 = 11;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_SET_LISTPACK: u8 = 20;
const TYPE_HASH_ZIPMAP: u8 = 9;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;
const TYPE_STREAM_LISTPACKS_3: u8 = 21;
/// Module values (Redis 4+); redlink has no modules, so it cannot load them.
const TYPE_MODULE_PRE_GA: u8 = 6;
const TYPE_MODULE_2: u8 = 7;

/// Quicklist node containers.
const QUICKLIST_PLAIN: u64 = 1;
const QUICKLIST_PACKED: u64 = 2;

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdbError {
    /// Too short, a newer RDB version, or a checksum mismatch.
    VersionOrChecksum,
    /// The object itself does not decode.
    BadFormat,
    /// A module's value (redlink has no modules).
    Module,
    /// An encoding older than Redis 2.6 (zipmap) that redlink does not read.
    Unsupported,
}

impl RdbError {
    /// Redis's error text.
    pub fn message(self) -> &'static str {
        match self {
            RdbError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            RdbError::BadFormat | RdbError::Module | RdbError::Unsupported => "ERR Bad data format",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CRC-64 (Jones polynomial, reflected, as Redis's crc64.c).

const fn crc64_table() -> [u64; 256] {
    // 0xad93d23594c935a9 bit-reversed.
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC64: [u64; 256] = crc64_table();

/// Redis's CRC-64 of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    crc64_update(0, data)
}

/// Continue a CRC-64 over more bytes (`crc64(a ++ b) == crc64_update(crc64(a), b)`).
pub fn crc64_update(crc: u64, data: &[u8]) -> u64 {
    data.iter().fold(crc, |crc, &b| {
        CRC64[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

// ---------------------------------------------------------------------------------------------
// Writing.

pub(crate) fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// A string, integer-encoded when Redis would (a canonical decimal fitting in 32 bits).
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_str(out, s, false);
}

/// A string as Redis's `rdbSaveRawString` writes it: integer-encoded when it can be, else
/// LZF-compressed when `compress` (`rdbcompression yes`), longer than 20 bytes and the compressed
/// form saves at least 4 bytes, else raw.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11
        && let Some(v) = crate::protocol::parse_i64(s)
        && v.to_string().as_bytes() == s
    {
        if let Ok(v) = i8::try_from(v) {
            out.push(0xc0);
            out.push(v as u8);
            return;
        }
        if let Ok(v) = i16::try_from(v) {
            out.push(0xc1);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
        if let Ok(v) = i32::try_from(v) {
            out.push(0xc2);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
    }
    if compress
        && s.len() > 20
        && let Some(packed) = lzf_compress(s)
    {
        out.push(0xc3);
        put_len(out, packed.len() as u64);
        put_len(out, s.len() as u64);
        out.extend_from_slice(&packed);
        return;
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// LZF compression in liblzf's format (what [`lzf_decompress`] and Redis's `lzf_decompress` read);
/// `None` unless the result is at least 4 bytes shorter than the input, as Redis requires.
fn lzf_compress(input: &[u8]) -> Option<Vec<u8>> {
    const HLOG: u32 = 14;
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    let n = input.len();
    let limit = n.checked_sub(4)?;
    let hash = |i: usize| -> usize {
        let v =
            (u32::from(input[i]) << 16) | (u32::from(input[i + 1]) << 8) | u32::from(input[i + 2]);
        (v.wrapping_mul(2_654_435_761) >> (32 - HLOG)) as usize
    };
    let mut table = vec![0usize; 1 << HLOG];
    let mut out = Vec::with_capacity(n);
    // Each literal run starts with a placeholder control byte fixed when the run ends.
    let mut run_start = 0;
    out.push(0);
    let mut run = 0usize;
    let mut ip = 0;
    while ip < n {
        if ip + 2 < n {
            let h = hash(ip);
            let candidate = table[h];
            table[h] = ip + 1;
            if candidate > 0 {
                let r = candidate - 1;
                let dist = ip - r;
                if dist <= MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                    let max = (n - ip).min(MAX_REF);
                    let mut len = 3;
                    while len < max && input[r + len] == input[ip + len] {
                        len += 1;
                    }
                    if run > 0 {
                        out[run_start] = (run - 1) as u8;
                    } else {
                        out.pop();
                    }
                    let (off, l) = (dist - 1, len - 2);
                    if l < 7 {
                        out.push(((l << 5) | (off >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (off >> 8)) as u8);
                        out.push((l - 7) as u8);
                    }
                    out.push((off & 0xff) as u8);
                    ip += len;
                    run_start = out.len();
                    out.push(0);
                    run = 0;
                    if out.len() > limit {
                        return None;
                    }
                    continue;
                }
            }
        }
        out.push(input[ip]);
        run += 1;
        ip += 1;
        if run == 32 {
            out[run_start] = 31;
            run_start = out.len();
            out.push(0);
            run = 0;
        }
        if out.len() > limit + 1 {
            return None;
        }
    }
    if run > 0 {
        out[run_start] = (run - 1) as u8;
    } else {
        out.pop();
    }
    (out.len() <= limit).then_some(out)
}

/// Bytes per quicklist node Redis uses by default.
const LIST_NODE_BYTES: usize = 8192;

/// A listpack under construction (Redis's listpack.c layout): strings as given, integers in the
/// smallest integer encoding (stream nodes are made of those).
struct Listpack {
    bytes: Vec<u8>,
    count: usize,
}

impl Listpack {
    fn new() -> Self {
        Listpack {
            bytes: vec![0u8; 6],
            count: 0,
        }
    }

    /// Append the entry's back-length (its encoded size, readable backwards).
    fn end_entry(&mut self, start: usize) {
        let lp = &mut self.bytes;
        let l = lp.len() - start;
        match l {
            0..=127 => lp.push(l as u8),
            128..=16382 => lp.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]),
            16383..=2097150 => lp.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]),
            2097151..=268435454 => lp.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]),
            _ => lp.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]),
        }
        self.count += 1;
    }

    fn push_str(&mut self, e: &[u8]) {
        let lp = &mut self.bytes;
        let start = lp.len();
        let n = e.len();
        if n < 64 {
            lp.push(0x80 | n as u8);
        } else if n < 4096 {
            lp.push(0xe0 | (n >> 8) as u8);
            lp.push(n as u8);
        } else {
            lp.push(0xf0);
            lp.extend_from_slice(&(n as u32).to_le_bytes());
        }
        lp.extend_from_slice(e);
        self.end_entry(start);
    }

    fn push_int(&mut self, v: i64) {
        let lp = &mut self.bytes;
        let start = lp.len();
        if (0..=127).contains(&v) {
            lp.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            lp.push(0xc0 | (u >> 8) as u8);
            lp.push(u as u8);
        } else if let Ok(v) = i16::try_from(v) {
            lp.push(0xf1);
            lp.extend_from_slice(&v.to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            lp.push(0xf2);
            lp.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(v) {
            lp.push(0xf3);
            lp.extend_from_slice(&v.to_le_bytes());
        } else {
            lp.push(0xf4);
            lp.extend_from_slice(&v.to_le_bytes());
        }
        self.end_entry(start);
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.push(0xff);
        let total = self.bytes.len() as u32;
        self.bytes[..4].copy_from_slice(&total.to_le_bytes());
        // More than 65534 entries: Redis's "unknown" count.
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.bytes[4..6].copy_from_slice(&count.to_le_bytes());
        self.bytes
    }
}

/// A listpack of string entries.
fn put_listpack(entries: &[&[u8]]) -> Vec<u8> {
    let mut lp = Listpack::new();
    for e in entries {
        lp.push_str(e);
    }
    lp.finish()
}

/// The DUMP payload of `value`.
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put_object(&mut out, value, false);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// One value in the RDB object format (its type byte, then its body), the encoder both DUMP and
/// RDB files use; `compress` is `rdbcompression`.
pub(crate) fn put_object(out: &mut Vec<u8>, value: &Value, compress: bool) {
    out.push(object_type(value));
    put_object_body(out, value, compress);
}

/// The RDB type byte redlink writes for `value`.
pub(crate) fn object_type(value: &Value) -> u8 {
    match value {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Set(_) => TYPE_SET,
        Value::Hash(_) => TYPE_HASH,
        Value::ZSet(_) => TYPE_ZSET_2,
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
    }
}

/// The body of `value` after its type byte ([`object_type`]).
pub(crate) fn put_object_body(out: &mut Vec<u8>, value: &Value, compress: bool) {
    match value {
        Value::Stream(s) => put_stream(out, s, compress),
        Value::Str(s) => put_str(out, s, compress),
        Value::List(l) => {
            // A quicklist of packed nodes of at most 8 KB each (`list-max-listpack-size -2`).
            let mut nodes: Vec<Vec<&[u8]>> = Vec::new();
            let mut size = 0;
            for e in l.iter() {
                let cost = e.len() + 11;
                match nodes.last_mut() {
                    Some(node) if size + cost <= LIST_NODE_BYTES => node.push(e),
                    _ => {
                        nodes.push(vec![e]);
                        size = 0;
                    }
                }
                size += cost;
            }
            put_len(out, nodes.len() as u64);
            for node in nodes {
                put_len(out, QUICKLIST_PACKED);
                let lp = put_listpack(&node);
                put_str(out, &lp, compress);
            }
        }
        Value::Set(s) => {
            put_len(out, s.len() as u64);
            for (m, ()) in s.iter() {
                put_str(out, m, compress);
            }
        }
        Value::Hash(h) => {
            put_len(out, h.len() as u64);
            for (f, v) in h.iter() {
                put_str(out, f, compress);
                put_str(out, v, compress);
            }
        }
        Value::ZSet(z) => {
            put_len(out, z.len() as u64);
            // Redis writes the highest score first so that loading inserts at the head.
            for (m, score) in z.iter().rev() {
                put_str(out, m, compress);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
}

/// Stream listpack entry flags (t_stream.c).
const STREAM_ITEM_DELETED: i64 = 1;
const STREAM_ITEM_SAMEFIELDS: i64 = 2;

/// The 16-byte big-endian form of a stream ID (radix-tree keys, PEL entries).
fn raw_id(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// A stream as Redis 7.0 saves it (`RDB_TYPE_STREAM_LISTPACKS_2`): listpack nodes of at most
/// [`stream::NODE_MAX_ENTRIES`] entries / [`stream::NODE_MAX_BYTES`] bytes, each a master entry
/// (count, deleted, master fields) then its entries as ID deltas; the stream's IDs and counters;
/// then consumer groups with their PELs and consumers.
fn put_stream(out: &mut Vec<u8>, s: &Stream, compress: bool) {
    let mut nodes: Vec<Vec<(StreamId, &[Blob])>> = Vec::new();
    let mut bytes = 0usize;
    for (id, fields) in s.range(StreamId::MIN, StreamId::MAX, false) {
        let cost: usize = fields.iter().map(|f| f.len() + 2).sum::<usize>() + 8;
        match nodes.last_mut() {
            Some(node)
                if (node.len() as u64) < stream::NODE_MAX_ENTRIES
                    && bytes + cost < stream::NODE_MAX_BYTES =>
            {
                node.push((id, fields));
                bytes += cost;
            }
            _ => {
                nodes.push(vec![(id, fields)]);
                bytes = cost;
            }
        }
    }
    put_len(out, nodes.len() as u64);
    for node in &nodes {
        let (master, master_entry) = node[0];
        let master_fields: Vec<&[u8]> = master_entry.iter().step_by(2).map(|f| &f[..]).collect();
        let mut lp = Listpack::new();
        lp.push_int(node.len() as i64);
        lp.push_int(0);
        lp.push_int(master_fields.len() as i64);
        for f in &master_fields {
            lp.push_str(f);
        }
        lp.push_int(0);
        for (id, fields) in node {
            let same = fields.len() == master_fields.len() * 2
                && fields
                    .iter()
                    .step_by(2)
                    .zip(&master_fields)
                    .all(|(a, b)| &a[..] == *b);
            lp.push_int(if same { STREAM_ITEM_SAMEFIELDS } else { 0 });
            lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
            lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
            let numfields = fields.len() / 2;
            if same {
                for v in fields.iter().skip(1).step_by(2) {
                    lp.push_str(v);
                }
                lp.push_int(numfields as i64 + 3);
            } else {
                lp.push_int(numfields as i64);
                for f in fields.iter() {
                    lp.push_str(f);
                }
                lp.push_int(2 * numfields as i64 + 4);
            }
        }
        put_str(out, &raw_id(master), compress);
        put_str(out, &lp.finish(), compress);
    }
    put_len(out, s.len() as u64);
    put_len(out, s.last_id.ms);
    put_len(out, s.last_id.seq);
    let first = s.first().map(|(id, _)| id).unwrap_or_default();
    put_len(out, first.ms);
    put_len(out, first.seq);
    put_len(out, s.max_deleted.ms);
    put_len(out, s.max_deleted.seq);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_str(out, name, compress);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&raw_id(*id));
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            put_len(out, nack.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_str(out, cname, compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// A cursor over RDB bytes; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
}

pub(crate) type Res<T> = Result<T, RdbError>;

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(RdbError::BadFormat)?;
        let s = self.data.get(self.pos..end).ok_or(RdbError::BadFormat)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn byte(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    /// A length, or `Err(encoding)` for the special string encodings (11xxxxxx).
    fn len_or_encoding(&mut self) -> Res<Result<u64, u8>> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok(u64::from(first & 0x3f)),
            1 => Ok((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            2 => match first {
                0x80 => Ok(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().map_err(|_| RdbError::BadFormat)?,
                ))),
                0x81 => Ok(u64::from_be_bytes(
                    self.take(8)?.try_into().map_err(|_| RdbError::BadFormat)?,
                )),
                _ => return Err(RdbError::BadFormat),
            },
            _ => Err(first & 0x3f),
        })
    }

    pub(crate) fn len(&mut self) -> Res<u64> {
        self.len_or_encoding()?.map_err(|_| RdbError::BadFormat)
    }

    /// A count of items, bounded by what is left so hostile counts cannot allocate.
    pub(crate) fn count(&mut self, bytes_per_item: usize) -> Res<usize> {
        let n = usize::try_from(self.len()?).map_err(|_| RdbError::BadFormat)?;
        let left = self.data.len() - self.pos;
        if n.saturating_mul(bytes_per_item) > left {
            return Err(RdbError::BadFormat);
        }
        Ok(n)
    }

    pub(crate) fn string(&mut self) -> Res<Blob> {
        match self.len_or_encoding()? {
            Ok(len) => {
                let len = usize::try_from(len).map_err(|_| RdbError::BadFormat)?;
                Ok(Blob::from_slice(self.take(len)?))
            }
            Err(0) => Ok(int_blob(i64::from(self.byte()? as i8))),
            Err(1) => {
                let b = self.take(2)?;
                Ok(int_blob(i64::from(i16::from_le_bytes([b[0], b[1]]))))
            }
            Err(2) => {
                let b = self.take(4)?;
                Ok(int_blob(i64::from(i32::from_le_bytes([
                    b[0], b[1], b[2], b[3],
                ]))))
            }
            Err(3) => {
                let clen = usize::try_from(self.len()?).map_err(|_| RdbError::BadFormat)?;
                let len = usize::try_from(self.len()?).map_err(|_| RdbError::BadFormat)?;
                let compressed = self.take(clen)?;
                lzf_decompress(compressed, len).map(Blob::from_vec)
            }
            Err(_) => Err(RdbError::BadFormat),
        }
    }

    /// A score of the old ZSET type: a length byte (253 NaN, 254 +inf, 255 -inf) then ASCII.
    fn string_double(&mut self) -> Res<f64> {
        match self.byte()? {
            253 => Err(RdbError::BadFormat),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(usize::from(n))?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|v| !v.is_nan())
                    .ok_or(RdbError::BadFormat)
            }
        }
    }

    fn binary_double(&mut self) -> Res<f64> {
        let b = self.take(8)?;
        let v = f64::from_le_bytes(b.try_into().map_err(|_| RdbError::BadFormat)?);
        if v.is_nan() {
            Err(RdbError::BadFormat)
        } else {
            Ok(v)
        }
    }
}

fn int_blob(v: i64) -> Blob {
    Blob::from_slice(v.to_string().as_bytes())
}

/// LZF decompression (liblzf's format, as Redis compresses long strings).
fn lzf_decompress(input: &[u8], len: usize) -> Res<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(len.min(input.len().saturating_mul(64)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(RdbError::BadFormat)?;
            out.extend_from_slice(lit);
            i += run;
        } else {
            // A back reference.
            let mut run = ctrl >> 5;
            if run == 7 {
                run += usize::from(*input.get(i).ok_or(RdbError::BadFormat)?);
                i += 1;
            }
            run += 2;
            let low = usize::from(*input.get(i).ok_or(RdbError::BadFormat)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(back).ok_or(RdbError::BadFormat)?;
            for k in 0..run {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return Err(RdbError::BadFormat);
        }
    }
    if out.len() == len {
        Ok(out)
    } else {
        Err(RdbError::BadFormat)
    }
}

/// The entries of a listpack (integers as decimal strings).
fn listpack(lp: &[u8]) -> Res<Vec<Blob>> {
    let header = lp.get(..6).ok_or(RdbError::BadFormat)?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if total != lp.len() {
        return Err(RdbError::BadFormat);
    }
    let mut out = Vec::new();
    let mut i = 6;
    loop {
        let b = *lp.get(i).ok_or(RdbError::BadFormat)?;
        if b == 0xff {
            break;
        }
        let (entry, encoded_len): (Blob, usize) = if b & 0x80 == 0 {
            (int_blob(i64::from(b & 0x7f)), 1)
        } else if b & 0xc0 == 0x80 {
            let n = usize::from(b & 0x3f);
            let s = lp.get(i + 1..i + 1 + n).ok_or(RdbError::BadFormat)?;
            (Blob::from_slice(s), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let lo = *lp.get(i + 1).ok_or(RdbError::BadFormat)?;
            let raw = (u16::from(b & 0x1f) << 8) | u16::from(lo);
            // 13-bit two's complement.
            let v = ((raw << 3) as i16) >> 3;
            (int_blob(i64::from(v)), 2)
        } else if b & 0xf0 == 0xe0 {
            let lo = *lp.get(i + 1).ok_or(RdbError::BadFormat)?;
            let n = (usize::from(b & 0x0f) << 8) | usize::from(lo);
            let s = lp.get(i + 2..i + 2 + n).ok_or(RdbError::BadFormat)?;
            (Blob::from_slice(s), 2 + n)
        } else {
            let int_bytes = |n: usize| -> Res<i64> {
                let s = lp.get(i + 1..i + 1 + n).ok_or(RdbError::BadFormat)?;
                let mut buf = [0u8; 8];
                buf[..n].copy_from_slice(s);
                let shift = 64 - 8 * n as u32;
                Ok((i64::from_le_bytes(buf) << shift) >> shift)
            };
            match b {
                0xf0 => {
                    let s = lp.get(i + 1..i + 5).ok_or(RdbError::BadFormat)?;
                    let n = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize;
                    let s = lp.get(i + 5..i + 5 + n).ok_or(RdbError::BadFormat)?;
                    (Blob::from_slice(s), 5 + n)
                }
                0xf1 => (int_blob(int_bytes(2)?), 3),
                0xf2 => (int_blob(int_bytes(3)?), 4),
                0xf3 => (int_blob(int_bytes(4)?), 5),
                0xf4 => (int_blob(int_bytes(8)?), 9),
                _ => return Err(RdbError::BadFormat),
            }
        };
        // The entry is followed by its length, written backwards in 1..5 bytes.
        let backlen = match encoded_len {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        i += encoded_len + backlen;
        out.push(entry);
    }
    Ok(out)
}

/// The members of an intset.
fn intset(s: &[u8]) -> Res<Vec<Blob>> {
    let header = s.get(..8).ok_or(RdbError::BadFormat)?;
    let width = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let n = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || s.len() != 8 + width.saturating_mul(n) {
        return Err(RdbError::BadFormat);
    }
    Ok(s[8..]
        .chunks_exact(width)
        .map(|c| {
            let v = match width {
                2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
                4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            };
            int_blob(v)
        })
        .collect())
}

fn pairs(entries: Vec<Blob>) -> Res<Vec<(Blob, Blob)>> {
    if !entries.len().is_multiple_of(2) {
        return Err(RdbError::BadFormat);
    }
    let mut it = entries.into_iter();
    let mut out = Vec::new();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn score_of(b: &[u8]) -> Res<f64> {
    crate::commands::parse_float(b).ok_or(RdbError::BadFormat)
}

fn build_set(members: Vec<Blob>) -> Res<Value> {
    let mut t = Table::new();
    for m in members {
        if t.insert(&m, ()).is_some() {
            return Err(RdbError::BadFormat);
        }
    }
    Ok(Value::Set(Box::new(t)))
}

fn build_hash(pairs: Vec<(Blob, Blob)>) -> Res<Value> {
    let mut t = Table::new();
    for (f, v) in pairs {
        if t.insert(&f, v).is_some() {
            return Err(RdbError::BadFormat);
        }
    }
    Ok(Value::Hash(Box::new(t)))
}

fn build_zset(members: Vec<(Blob, f64)>) -> Res<Value> {
    let mut z = ZSet::new();
    for (m, s) in members {
        if z.insert(&m, s).is_some() {
            return Err(RdbError::BadFormat);
        }
    }
    Ok(Value::ZSet(Box::new(z)))
}

/// The entries of a ziplist (Redis ≤ 6.2's compact encoding; integers as decimal strings).
fn ziplist(zl: &[u8]) -> Res<Vec<Blob>> {
    let header = zl.get(..10).ok_or(RdbError::BadFormat)?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if total != zl.len() || zl.last() != Some(&0xff) {
        return Err(RdbError::BadFormat);
    }
    let mut out = Vec::new();
    let mut i = 10;
    loop {
        let first = *zl.get(i).ok_or(RdbError::BadFormat)?;
        if first == 0xff {
            break;
        }
        // The previous entry's length: 1 byte, or 0xfe and 4 bytes.
        i += if first == 0xfe { 5 } else { 1 };
        let b = *zl.get(i).ok_or(RdbError::BadFormat)?;
        let int_at = |at: usize, n: usize| -> Res<i64> {
            let s = zl.get(at..at + n).ok_or(RdbError::BadFormat)?;
            let mut buf = [0u8; 8];
            buf[..n].copy_from_slice(s);
            let shift = 64 - 8 * n as u32;
            Ok((i64::from_le_bytes(buf) << shift) >> shift)
        };
        let (entry, size) = match b >> 6 {
            0 => {
                let n = usize::from(b & 0x3f);
                (zl.get(i + 1..i + 1 + n), 1 + n)
            }
            1 => {
                let lo = *zl.get(i + 1).ok_or(RdbError::BadFormat)?;
                let n = (usize::from(b & 0x3f) << 8) | usize::from(lo);
                (zl.get(i + 2..i + 2 + n), 2 + n)
            }
            2 => {
                let s = zl.get(i + 1..i + 5).ok_or(RdbError::BadFormat)?;
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                (zl.get(i + 5..i + 5 + n), 5 + n)
            }
            _ => {
                let (v, n) = match b {
                    0xc0 => (int_at(i + 1, 2)?, 2),
                    0xd0 => (int_at(i + 1, 4)?, 4),
                    0xe0 => (int_at(i + 1, 8)?, 8),
                    0xf0 => (int_at(i + 1, 3)?, 3),
                    0xfe => (int_at(i + 1, 1)?, 1),
                    0xf1..=0xfd => (i64::from(b & 0x0f) - 1, 0),
                    _ => return Err(RdbError::BadFormat),
                };
                out.push(int_blob(v));
                i += 1 + n;
                continue;
            }
        };
        out.push(Blob::from_slice(entry.ok_or(RdbError::BadFormat)?));
        i += size;
    }
    Ok(out)
}

fn int_of(b: &[u8]) -> Res<i64> {
    crate::protocol::parse_i64(b).ok_or(RdbError::BadFormat)
}

fn id_of(raw: &[u8]) -> Res<StreamId> {
    let raw: [u8; 16] = raw.try_into().map_err(|_| RdbError::BadFormat)?;
    let ms = u64::from_be_bytes(raw[..8].try_into().map_err(|_| RdbError::BadFormat)?);
    let seq = u64::from_be_bytes(raw[8..].try_into().map_err(|_| RdbError::BadFormat)?);
    Ok(StreamId::new(ms, seq))
}

/// The live entries of one stream listpack node whose master ID is `master`, appended to `s`.
fn read_stream_node(s: &mut Stream, master: StreamId, lp: &[u8]) -> Res<()> {
    let e = listpack(lp)?;
    if e.is_empty() {
        return Err(RdbError::BadFormat);
    }
    let mut it = e.iter();
    let mut next = || it.next().ok_or(RdbError::BadFormat);
    let count = int_of(next()?)?;
    let deleted = int_of(next()?)?;
    let nmaster = usize::try_from(int_of(next()?)?).map_err(|_| RdbError::BadFormat)?;
    if count < 0 || deleted < 0 || nmaster > lp.len() {
        return Err(RdbError::BadFormat);
    }
    let mut master_fields = Vec::with_capacity(nmaster);
    for _ in 0..nmaster {
        master_fields.push(next()?.clone());
    }
    if int_of(next()?)? != 0 {
        return Err(RdbError::BadFormat);
    }
    for _ in 0..count + deleted {
        let flags = int_of(next()?)?;
        let ms = master.ms.wrapping_add(int_of(next()?)? as u64);
        let seq = master.seq.wrapping_add(int_of(next()?)? as u64);
        let mut fields: Vec<&[u8]> = Vec::new();
        if flags & STREAM_ITEM_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push(f);
                fields.push(next()?);
            }
        } else {
            let n = usize::try_from(int_of(next()?)?).map_err(|_| RdbError::BadFormat)?;
            if n > lp.len() {
                return Err(RdbError::BadFormat);
            }
            for _ in 0..2 * n {
                fields.push(next()?);
            }
        }
        next()?; // lp-count
        if flags & STREAM_ITEM_DELETED == 0 {
            let id = StreamId::new(ms, seq);
            if s.last().is_some_and(|(last, _)| last >= id) {
                return Err(RdbError::BadFormat);
            }
            s.append(
                id,
                &fields,
                (
                    crate::store::stream::NODE_MAX_BYTES,
                    crate::store::stream::NODE_MAX_ENTRIES,
                ),
            );
        }
    }
    Ok(())
}

/// A stream of RDB type 15 (Redis 5/6), 19 (7.0) or 21 (7.2).
fn read_stream(r: &mut Reader, kind: u8) -> Res<Value> {
    let mut s = Stream::new();
    let nodes = r.count(2)?;
    for _ in 0..nodes {
        let master = id_of(&r.string()?)?;
        let lp = r.string()?;
        read_stream_node(&mut s, master, &lp)?;
    }
    let length = r.len()?;
    if length != s.len() as u64 {
        return Err(RdbError::BadFormat);
    }
    s.last_id = StreamId::new(r.len()?, r.len()?);
    if kind >= TYPE_STREAM_LISTPACKS_2 {
        let _first = StreamId::new(r.len()?, r.len()?);
        s.max_deleted = StreamId::new(r.len()?, r.len()?);
        s.entries_added = r.len()?;
    } else {
        s.entries_added = length;
    }
    let groups = r.count(1)?;
    for _ in 0..groups {
        let name = r.string()?;
        let last_id = StreamId::new(r.len()?, r.len()?);
        let entries_read = if kind >= TYPE_STREAM_LISTPACKS_2 {
            r.len()? as i64
        } else {
            stream::INVALID_ENTRIES_READ
        };
        let mut g = Group::new(last_id, entries_read);
        let pel = r.count(17)?;
        for _ in 0..pel {
            let id = id_of(r.take(16)?)?;
            let delivery_time =
                u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| RdbError::BadFormat)?);
            let delivery_count = r.len()?;
            g.pel.insert(
                id,
                Nack {
                    consumer: Blob::new(),
                    delivery_time,
                    delivery_count,
                },
            );
        }
        let consumers = r.count(9)?;
        for _ in 0..consumers {
            let cname = r.string()?;
            let seen_time =
                u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| RdbError::BadFormat)?);
            let active_time = if kind >= TYPE_STREAM_LISTPACKS_3 {
                let t = i64::from_le_bytes(r.take(8)?.try_into().map_err(|_| RdbError::BadFormat)?);
                u64::try_from(t).ok()
            } else {
                // Older files have no active time: Redis 7.2's best estimate is the seen time.
                Some(seen_time)
            };
            let mut c = Consumer {
                seen_time,
                active_time,
                pel: Default::default(),
            };
            let owned = r.count(16)?;
            for _ in 0..owned {
                let id = id_of(r.take(16)?)?;
                // Every entry a consumer owns is in the group's PEL, owned by nobody else.
                let nack = g.pel.get_mut(&id).ok_or(RdbError::BadFormat)?;
                if !nack.consumer.is_empty() || !c.pel.insert(id) {
                    return Err(RdbError::BadFormat);
                }
                nack.consumer = cname.clone();
            }
            if g.consumers.insert(cname, c).is_some() {
                return Err(RdbError::BadFormat);
            }
        }
        if g.pel.values().any(|n| n.consumer.is_empty()) {
            return Err(RdbError::BadFormat);
        }
        if s.groups.insert(name, g).is_some() {
            return Err(RdbError::BadFormat);
        }
    }
    Ok(Value::Stream(Box::new(s)))
}

/// Opcode of a function library in an RDB (7.0 GA: the library's code as one string).
const OPCODE_FUNCTION2: u8 = 245;
/// Opcode of 7.0's release candidates' function format, which 7.0 GA refuses.
const OPCODE_FUNCTION_PRE_GA: u8 = 246;
/// RDB version written in FUNCTION DUMP payloads (7.0's, so redis-server 7.0 accepts them).
const FUNCTION_RDB_VERSION: u16 = 10;

/// The FUNCTION DUMP payload of the libraries whose codes are given.
pub fn dump_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        put_string(&mut out, code);
    }
    out.extend_from_slice(&FUNCTION_RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library codes of a FUNCTION RESTORE payload, with Redis 7.0's error texts.
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let bad = RdbError::VersionOrChecksum.message();
    if payload.len() < 10 {
        return Err(bad);
    }
    let body_end = payload.len() - 10;
    let version = u16::from_le_bytes([payload[body_end], payload[body_end + 1]]);
    let crc_at = payload.len() - 8;
    let crc = u64::from_le_bytes(payload[crc_at..].try_into().map_err(|_| bad)?);
    if version > RDB_VERSION || crc64(&payload[..crc_at]) != crc {
        return Err(bad);
    }
    let mut r = Reader {
        data: &payload[..body_end],
        pos: 0,
    };
    let mut codes = Vec::new();
    while r.pos < body_end {
        match r.byte().map_err(|_| bad)? {
            OPCODE_FUNCTION2 => {
                let code = r
                    .string()
                    .map_err(|_| "ERR Failed loading library payload")?;
                codes.push(code.to_vec());
            }
            OPCODE_FUNCTION_PRE_GA => return Err("ERR Pre-GA function format not supported"),
            _ => return Err("ERR given type is not a function"),
        }
    }
    Ok(codes)
}

/// Checks the footer of a DUMP payload (RDB version ≤ ours, CRC-64) and decodes the value.
pub fn restore(payload: &[u8]) -> Result<Value, RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::VersionOrChecksum);
    }
    let body_end = payload.len() - 10;
    let version = u16::from_le_bytes([payload[body_end], payload[body_end + 1]]);
    let crc_at = payload.len() - 8;
    let crc = u64::from_le_bytes(
        payload[crc_at..]
            .try_into()
            .map_err(|_| RdbError::VersionOrChecksum)?,
    );
    if version > RDB_VERSION || crc64(&payload[..crc_at]) != crc {
        return Err(RdbError::VersionOrChecksum);
    }
    let mut r = Reader {
        data: &payload[..body_end],
        pos: 0,
    };
    let value = read_object(&mut r)?;
    if r.pos != body_end {
        return Err(RdbError::BadFormat);
    }
    if value.is_empty_collection() {
        return Err(RdbError::BadFormat);
    }
    Ok(value)
}

/// One value in the RDB object format (type byte, then body).
pub(crate) fn read_object(r: &mut Reader) -> Res<Value> {
    let kind = r.byte()?;
    read_object_of(r, kind)
}

/// The body of a value whose type byte `kind` was read.
pub(crate) fn read_object_of(r: &mut Reader, kind: u8) -> Res<Value> {
    Ok(match kind {
        TYPE_STRING => Value::Str(r.string()?),
        TYPE_LIST => {
            let n = r.count(1)?;
            let mut l = VecDeque::with_capacity(n);
            for _ in 0..n {
                l.push_back(r.string()?);
            }
            Value::List(Box::new(l))
        }
        TYPE_SET => {
            let n = r.count(1)?;
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                members.push(r.string()?);
            }
            build_set(members)?
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count(2)?;
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                let m = r.string()?;
                let s = if kind == TYPE_ZSET {
                    r.string_double()?
                } else {
                    r.binary_double()?
                };
                members.push((m, s));
            }
            build_zset(members)?
        }
        TYPE_HASH => {
            let n = r.count(2)?;
            let mut fields = Vec::with_capacity(n);
            for _ in 0..n {
                fields.push((r.string()?, r.string()?));
            }
            build_hash(fields)?
        }
        TYPE_SET_INTSET => build_set(intset(&r.string()?)?)?,
        TYPE_SET_LISTPACK => build_set(listpack(&r.string()?)?)?,
        TYPE_HASH_LISTPACK => build_hash(pairs(listpack(&r.string()?)?)?)?,
        TYPE_ZSET_LISTPACK => {
            let members = pairs(listpack(&r.string()?)?)?
                .into_iter()
                .map(|(m, s)| Ok((m, score_of(&s)?)))
                .collect::<Res<Vec<_>>>()?;
            build_zset(members)?
        }
        TYPE_LIST_QUICKLIST_2 => {
            let nodes = r.count(2)?;
            let mut l = VecDeque::new();
            for _ in 0..nodes {
                let container = r.len()?;
                let data = r.string()?;
                match container {
                    QUICKLIST_PLAIN => l.push_back(data),
                    QUICKLIST_PACKED => {
                        let entries = listpack(&data)?;
                        if entries.is_empty() {
                            return Err(RdbError::BadFormat);
                        }
                        l.extend(entries);
                    }
                    _ => return Err(RdbError::BadFormat),
                }
            }
            Value::List(Box::new(l))
        }
        TYPE_LIST_ZIPLIST => Value::List(Box::new(ziplist(&r.string()?)?.into())),
        TYPE_LIST_QUICKLIST => {
            let nodes = r.count(2)?;
            let mut l = VecDeque::new();
            for _ in 0..nodes {
                let entries = ziplist(&r.string()?)?;
                if entries.is_empty() {
                    return Err(RdbError::BadFormat);
                }
                l.extend(entries);
            }
            Value::List(Box::new(l))
        }
        TYPE_HASH_ZIPLIST => build_hash(pairs(ziplist(&r.string()?)?)?)?,
        TYPE_ZSET_ZIPLIST => {
            let members = pairs(ziplist(&r.string()?)?)?
                .into_iter()
                .map(|(m, s)| Ok((m, score_of(&s)?)))
                .collect::<Res<Vec<_>>>()?;
            build_zset(members)?
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            read_stream(r, kind)?
        }
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => return Err(RdbError::Module),
        TYPE_HASH_ZIPMAP => return Err(RdbError::Unsupported),
        _ => return Err(RdbError::BadFormat),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump_of(v: &Value) -> Vec<u8> {
        dump(v)
    }

    #[test]
    fn crc64_matches_redis() {
        // Redis's crc64.c test vector.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn function_payloads_round_trip_and_read_redis_7_0s() {
        let codes: [&[u8]; 2] = [b"#!lua name=a\nx", b"#!lua name=b\ny"];
        let payload = dump_functions(codes);
        assert_eq!(
            restore_functions(&payload),
            Ok(codes.iter().map(|c| c.to_vec()).collect())
        );
        assert_eq!(restore_functions(&dump_functions([])), Ok(vec![]));
        // FUNCTION DUMP of redis-server 7.0.15 (its library code LZF-compressed).
        let real = b"\xf5\xc3\x40\x53\x40\xc6\x1f\x23\x21\x6c\x75\x61\x20\x6e\x61\x6d\x65\x3d\x79\x0a\x72\x65\x64\x69\x73\x2e\x72\x65\x67\x69\x73\x74\x65\x72\x5f\x66\x75\x6e\x63\x0a\x74\x69\x6f\x6e\x28\x27\x66\x79\x27\x2c\x20\xe0\x00\x0e\x0d\x29\x20\x72\x65\x74\x75\x72\x6e\x20\x27\x66\x72\x6f\x6d\x20\x0c\x20\x35\x08\x27\x20\x65\x6e\x64\x29\x20\x2d\x2d\xe0\x6a\x02\x01\x2d\x2d\x0a\x00\xb3\x78\x95\xe3\x3f\x60\x69\x3c";
        let want = format!(
            "#!lua name=y\nredis.register_function('fy', function() return 'from redis' end){}",
            " --".repeat(40)
        );
        assert_eq!(restore_functions(real), Ok(vec![want.into_bytes()]));
        let mut damaged = real.to_vec();
        damaged[5] ^= 1;
        assert_eq!(
            restore_functions(&damaged),
            Err("ERR DUMP payload version or checksum are wrong")
        );
        let key = dump_of(&Value::Str(Blob::from_slice(b"v")));
        assert_eq!(
            restore_functions(&key),
            Err("ERR given type is not a function")
        );
    }

    #[test]
    fn a_real_redis_dump_of_a_small_integer_restores() {
        // redis-server 7.0.15: SET a 1, DUMP a.
        let payload = b"\x00\xc0\x01\n\x00&x\xe7\xb6\xd1\x01\x11\xfc";
        match restore(payload) {
            Ok(Value::Str(s)) => assert_eq!(&s[..], b"1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strings_round_trip_with_redis_integer_encoding() {
        for s in [
            &b""[..],
            b"0",
            b"-1",
            b"127",
            b"-129",
            b"40000",
            b"2147483647",
            b"2147483648",
            b"007",
            b"hello",
        ] {
            let d = dump_of(&Value::Str(Blob::from_slice(s)));
            match restore(&d) {
                Ok(Value::Str(back)) => assert_eq!(&back[..], s),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            &dump_of(&Value::Str(Blob::from_slice(b"1")))[..3],
            &[0, 0xc0, 1]
        );
    }

    #[test]
    fn corrupt_payloads_are_refused_not_panicking() {
        let good = dump_of(&Value::Str(Blob::from_slice(b"hello")));
        let mut bad = good.clone();
        bad[2] ^= 1;
        assert_eq!(restore(&bad).err(), Some(RdbError::VersionOrChecksum));
        assert_eq!(restore(&good[..5]).err(), Some(RdbError::VersionOrChecksum));
        // A valid footer around a body that lies about its lengths.
        for body in [
            &[TYPE_LIST, 0x80, 0xff, 0xff, 0xff, 0xff][..],
            &[TYPE_STRING, 0x3f],
            &[99],
            &[TYPE_STRING, 0xc3, 2, 10, 0x1f],
        ] {
            let mut p = body.to_vec();
            p.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            assert_eq!(restore(&p).err(), Some(RdbError::BadFormat), "{body:?}");
        }
    }

    #[test]
    fn lzf_back_references() {
        // "aaaaaaaaaa": literal 'a' then a back reference of length 9 at distance 1.
        let compressed = [0x00, b'a', 0xe0, 0x00, 0x00];
        assert_eq!(lzf_decompress(&compressed, 10).ok(), Some(vec![b'a'; 10]));
        assert!(
            lzf_decompress(&[0x20, 0x05], 3).is_err(),
            "reference before the start"
        );
    }

    fn with_footer(body: &[u8]) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    proptest::proptest! {
        /// Any body with a valid footer decodes or is refused; it never panics or over-allocates.
        #[test]
        fn arbitrary_bodies_never_panic(kind in proptest::prop_oneof![
            proptest::sample::select(vec![0u8, 1, 2, 3, 4, 5, 11, 16, 17, 18, 20]),
            proptest::num::u8::ANY,
        ], body in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut b = vec![kind];
            b.extend_from_slice(&body);
            let _ = restore(&with_footer(&b));
        }

        /// Lists, hashes and sorted sets survive DUMP then RESTORE.
        #[test]
        fn collections_round_trip(items in proptest::collection::vec(
            proptest::collection::vec(proptest::num::u8::ANY, 0..300), 1..60)) {
            let list: VecDeque<Blob> = items.iter().map(|i| Blob::from_slice(i)).collect();
            match restore(&dump_of(&Value::List(Box::new(list.clone())))) {
                Ok(Value::List(back)) => proptest::prop_assert_eq!(*back, list),
                other => proptest::prop_assert!(false, "{:?}", other),
            }
            let mut z = ZSet::new();
            for (n, i) in items.iter().enumerate() {
                z.insert(i, n as f64 / 3.0);
            }
            match restore(&dump_of(&Value::ZSet(Box::new(z.clone())))) {
                Ok(Value::ZSet(back)) => {
                    let a: Vec<_> = back.iter().map(|(m, s)| (m.clone(), s)).collect();
                    let b: Vec<_> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
                    proptest::prop_assert_eq!(a, b);
                }
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }
    }
}
