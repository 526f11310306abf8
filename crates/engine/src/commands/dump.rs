//! DUMP and RESTORE: a key's value as Redis's serialized payload ([`crate::rdb`]), so values move
//! between redlink and redis-server (RESTORE accepts what redis-server 7 DUMPs and vice versa).

use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is};
use crate::rdb;

/// DUMP and RESTORE.
pub static HANDLERS: &[(&str, Handler)] = &[("dump", dump), ("restore", restore)];

fn dump(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let payload = l.get(args[1]).map(rdb::dump);
    ctx.account(payload.is_some(), &l);
    drop(l);
    match payload {
        Some(p) => ctx.out.bulk(&p),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`,
/// checked in redis-server's order: options, TTL, an existing key, then the payload. IDLETIME and FREQ set the
/// key's eviction metadata (OBJECT IDLETIME / OBJECT FREQ report them).
fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, payload) = (args[1], args[3]);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "REPLACE") {
            replace = true;
        } else if is(args[i], "ABSTTL") {
            absttl = true;
        } else if is(args[i], "IDLETIME") && more && freq.is_none() {
            let seconds = int_arg(args[i + 1])?;
            if seconds < 0 {
                return Err(Error::from("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some((seconds as u64).saturating_mul(1000));
            i += 1;
        } else if is(args[i], "FREQ") && more && idle.is_none() {
            let f = int_arg(args[i + 1])?;
            if !(0..=255).contains(&f) {
                return Err(Error::from(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(f as u8);
            i += 1;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    let ttl = int_arg(args[2])?;
    if ttl < 0 {
        return Err(Error::from("ERR Invalid TTL value, must be >= 0"));
    }
    let mut l = ctx.lock(key);
    if !replace && l.exists(key) {
        return Err(Error::from("BUSYKEY Target key name already exists."));
    }
    let value = rdb::restore(payload).map_err(|e| Error::from(e.message()))?;
    let expire = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => ctx.now.saturating_add(t as u64),
    };
    if expire != 0 && expire <= ctx.now {
        // Already expired: the key ends up absent (an existing one is replaced by nothing).
        l.remove(key);
    } else {
        l.set(key, value, expire);
        if idle.is_some() || freq.is_some() {
            l.set_access_stats(key, idle, freq);
        }
    }
    drop(l);
    ctx.out.ok();
    Ok(())
}
