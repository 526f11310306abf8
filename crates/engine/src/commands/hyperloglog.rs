//! HyperLogLog: PFADD, PFCOUNT, PFMERGE.
//!
//! Values are strings in Redis's own layout: a 16-byte header (`HYLL`, encoding, 3 unused bytes, the
//! cached cardinality little-endian with the top bit of the last byte meaning "stale") followed by
//! 16384 six-bit registers. redlink always writes the dense encoding and reads both dense and sparse
//! ones. Elements are hashed with MurmurHash64A (seed `0xadc83b19`) and counted with Redis's
//! estimator (Ertl's improved raw estimator), so estimates match redis-server's.

use super::{CmdResult, Ctx, Error, Handler, err};
use crate::notify::class;
use crate::store::{Blob, Locked, Value};

/// HyperLogLog commands.
pub static HANDLERS: &[(&str, Handler)] =
    &[("pfadd", pfadd), ("pfcount", pfcount), ("pfmerge", pfmerge)];

const P: u32 = 14;
const REGISTERS: usize = 1 << P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
const Q: usize = 64 - P as usize;
const HEADER: usize = 16;
const DENSE_SIZE: usize = HEADER + (REGISTERS * BITS).div_ceil(8);
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const INVALID_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

/// MurmurHash64A as in Redis's hyperloglog.c (little-endian reads).
pub fn murmurhash64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let len = key.len();
    let mut h: u64 = seed ^ (len as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register index and the run length of an element (Redis's `hllPatLen`).
fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmurhash64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Dense registers, one byte each while we work on them.
struct Regs(Box<[u8; REGISTERS]>);

impl Regs {
    fn new() -> Regs {
        Regs(Box::new([0u8; REGISTERS]))
    }

    /// Decode a stored HLL string (dense or sparse); `None` if it is not one.
    fn decode(s: &[u8]) -> Option<Regs> {
        if s.len() < HEADER || &s[..4] != b"HYLL" {
            return None;
        }
        let mut r = Regs::new();
        match s[4] {
            0 => {
                if s.len() != DENSE_SIZE {
                    return None;
                }
                let p = &s[HEADER..];
                for (i, reg) in r.0.iter_mut().enumerate() {
                    let byte = i * BITS / 8;
                    let fb = (i * BITS) & 7;
                    let b0 = p[byte] as u16;
                    let b1 = p.get(byte + 1).copied().unwrap_or(0) as u16;
                    *reg = (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u16) as u8;
                }
            }
            1 => {
                let mut idx = 0usize;
                let mut p = HEADER;
                while p < s.len() {
                    let b = s[p];
                    if b & 0xc0 == 0 {
                        idx += (b & 0x3f) as usize + 1;
                        p += 1;
                    } else if b & 0xc0 == 0x40 {
                        let next = *s.get(p + 1)? as usize;
                        idx += (((b & 0x3f) as usize) << 8 | next) + 1;
                        p += 2;
                    } else {
                        let val = ((b >> 2) & 0x1f) + 1;
                        let run = (b & 3) as usize + 1;
                        for _ in 0..run {
                            *r.0.get_mut(idx)? = val;
                            idx += 1;
                        }
                        p += 1;
                    }
                }
                if idx != REGISTERS {
                    return None;
                }
            }
            _ => return None,
        }
        Some(r)
    }

    /// Encode as a dense HLL string with the cached cardinality marked stale.
    fn encode(&self) -> Blob {
        let mut out = Blob::from_elem(0, DENSE_SIZE);
        out[..4].copy_from_slice(b"HYLL");
        out[15] = 0x80;
        let p = &mut out[HEADER..];
        for (i, &v) in self.0.iter().enumerate() {
            let byte = i * BITS / 8;
            let fb = (i * BITS) & 7;
            let v = v as u16;
            let lo = (v << fb) as u8;
            p[byte] |= lo;
            if fb > 2 && byte + 1 < p.len() {
                p[byte + 1] |= (v >> (8 - fb)) as u8;
            }
        }
        out
    }

    fn add(&mut self, ele: &[u8]) -> bool {
        let (i, count) = pat_len(ele);
        if self.0[i] < count {
            self.0[i] = count;
            true
        } else {
            false
        }
    }

    fn merge(&mut self, other: &Regs) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = (*a).max(*b);
        }
    }

    /// Redis's `hllCount`.
    fn count(&self) -> u64 {
        let m = REGISTERS as f64;
        let mut histo = [0u32; 64];
        for &r in self.0.iter() {
            histo[r as usize] += 1;
        }
        let mut z = m * tau((m - histo[Q + 1] as f64) / m);
        for j in (1..=Q).rev() {
            z += histo[j] as f64;
            z *= 0.5;
        }
        z += m * sigma(histo[0] as f64 / m);
        (ALPHA_INF * m * m / z).round() as u64
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The registers at `key`: `Ok(None)` when missing, errors for other types or invalid strings.
fn load(l: &mut Locked, key: &[u8]) -> Result<Option<Regs>, Error> {
    match l.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Regs::decode(s).map(Some).ok_or(Error::from(INVALID_HLL)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn pfadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut l = ctx.lock(key);
    let (mut regs, mut changed) = match load(&mut l, key)? {
        Some(r) => (r, false),
        None => (Regs::new(), true),
    };
    for e in &args[2..] {
        changed |= regs.add(e);
    }
    if changed {
        l.set_keep_ttl(key, Value::Str(regs.encode()));
        ctx.notify(class::STRING, "pfadd", key);
    }
    ctx.out.int(changed as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
    let mut l = ctx.lock_keys(keys);
    if keys.len() == 1 {
        let key = keys[0];
        // Use the cached cardinality when it is fresh, refresh it otherwise (like Redis).
        if let Some(Value::Str(s)) = l.get(key)
            && s.len() >= HEADER
            && &s[..4] == b"HYLL"
            && s[15] & 0x80 == 0
        {
            let mut card = [0u8; 8];
            card.copy_from_slice(&s[8..16]);
            ctx.out.int(u64::from_le_bytes(card) as i64);
            return Ok(());
        }
        let Some(regs) = load(&mut l, key)? else {
            ctx.out.int(0);
            return Ok(());
        };
        let n = regs.count();
        if let Some(Value::Str(s)) = l.get_mut(key)
            && s.len() >= HEADER
        {
            s[8..16].copy_from_slice(&n.to_le_bytes());
        }
        ctx.out.int(n as i64);
        return Ok(());
    }
    let mut acc = Regs::new();
    for k in keys {
        if let Some(r) = load(&mut l, k)? {
            acc.merge(&r);
        }
    }
    ctx.out.int(acc.count() as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
    let mut l = ctx.lock_keys(keys);
    let mut acc = Regs::new();
    for k in keys {
        if let Some(r) = load(&mut l, k)? {
            acc.merge(&r);
        }
    }
    l.set_keep_ttl(args[1], Value::Str(acc.encode()));
    ctx.notify(class::STRING, "pfadd", args[1]);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_roundtrip_and_estimate() {
        let mut r = Regs::new();
        for i in 0..10_000u32 {
            r.add(format!("e{i}").as_bytes());
        }
        let enc = r.encode();
        assert_eq!(enc.len(), DENSE_SIZE);
        let back = Regs::decode(&enc).unwrap();
        assert!(r.0.iter().eq(back.0.iter()));
        let n = back.count() as f64;
        assert!((n - 10_000.0).abs() / 10_000.0 < 0.02, "estimate {n}");
        assert_eq!(Regs::new().count(), 0);
    }
}
