//! DUMP and RESTORE: a key's value as Redis's serialized payload ([`crate::rdb`]), so values move
//! between redlink and redis-server (RESTORE accepts what redis-server 7 DUMPs and vice versa).

use super::{CmdResult, Command, Ctx, Error, cmd, err, flag::*, int_arg, is};
use crate::rdb;

/// DUMP and RESTORE.
pub static COMMANDS: &[Command] = &[
    cmd(
        "dump",
        2,
        READONLY,
        (1, 1, 1),
        "generic",
        "2.6.0",
        "Returns a serialized representation of the value stored at a key.",
        dump,
    ),
    cmd(
        "restore",
        -4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "generic",
        "2.6.0",
        "Creates a key from the serialized representation of a value.",
        restore,
    ),
];

fn dump(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut l = ctx.lock(args[1]);
    let payload = l.get(args[1]).map(rdb::dump);
    ctx.account(payload.is_some(), &l);
    drop(l);
    match payload {
        Some(Some(p)) => ctx.out.bulk(&p),
        Some(None) => {
            return Err(Error::from(
                "ERR redlink cannot DUMP stream keys yet (Redis's stream serialization is not implemented)",
            ));
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency], checked in
/// redis-server's order: options, TTL, an existing key, then the payload. IDLETIME and FREQ are
/// validated; redlink keeps no per-key idle time or frequency to set.
fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, payload) = (args[1], args[3]);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (false, false);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "REPLACE") {
            replace = true;
        } else if is(args[i], "ABSTTL") {
            absttl = true;
        } else if is(args[i], "IDLETIME") && more && !freq {
            if int_arg(args[i + 1])? < 0 {
                return Err(Error::from("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = true;
            i += 1;
        } else if is(args[i], "FREQ") && more && !idle {
            let f = int_arg(args[i + 1])?;
            if !(0..=255).contains(&f) {
                return Err(Error::from(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = true;
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
    }
    drop(l);
    ctx.out.ok();
    Ok(())
}
