//! The dispatcher's cluster check, Redis's `getNodeByQuery`: every key of the command (of every
//! queued command for EXEC) must hash to one slot this node serves. Otherwise the client is told
//! where to go (`-MOVED`, `-ASK`) or why not (`-CROSSSLOT`, `-TRYAGAIN`, `-CLUSTERDOWN`), with
//! redis-server 7.0.15's texts. Node addresses come from the connection's
//! [`ClusterAnnounce`](super::ClusterAnnounce) when it has one.

use super::{Membership, key_slot};
use crate::commands::{Command, Ctx, Error, flag, lookup_call};

/// `-CROSSSLOT`.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// A slot nobody serves.
pub const UNBOUND: &str = "CLUSTERDOWN Hash slot not served";
/// The cluster is down (a slot unserved with full coverage required).
pub const DOWN: &str = "CLUSTERDOWN The cluster is down";
/// The cluster is down, reads allowed.
pub const DOWN_READONLY: &str = "CLUSTERDOWN The cluster is down and only accepts read commands";
/// A multi-key command while its slot migrates and only some keys are here.
pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

/// The commands whose channel arguments are routed like keys (sharded Pub/Sub).
fn shard_channels<'a>(cmd: &Command, args: &[&'a [u8]]) -> Option<Vec<&'a [u8]>> {
    match cmd.name {
        "spublish" => Some(args.get(1).map(|c| vec![*c]).unwrap_or_default()),
        "ssubscribe" | "sunsubscribe" => Some(args[1..].to_vec()),
        _ => None,
    }
}

/// Whether the check applies to a command at all: commands with keys (or movable keys), the
/// sharded Pub/Sub ones, and EXEC.
#[inline]
pub fn applies(cmd: &Command) -> bool {
    cmd.flags & (flag::MOVABLEKEYS | flag::RUNS_QUEUE) != 0
        || !cmd.key_specs.is_empty()
        || matches!(cmd.name, "spublish" | "ssubscribe" | "sunsubscribe")
}

/// Where node `node` is for this connection: the announce map's answer, else the node's own.
pub fn address_for(ctx: &Ctx, m: &Membership, node: usize) -> (String, u16) {
    let conn = &ctx.client.handle.ctx;
    conn.announce
        .as_ref()
        .and_then(|a| a.address(node, conn.tls))
        .or_else(|| m.topology.own_address(node, conn.tls))
        .unwrap_or_else(|| ("?".to_string(), 0))
}

/// Check a command against the cluster; `Ok` when this node serves it. `asking` is the client's
/// ASKING flag as the command sees it.
pub fn route(
    ctx: &Ctx,
    m: &Membership,
    cmd: &'static Command,
    args: &[&[u8]],
    asking: bool,
) -> Result<(), Error> {
    // EXEC checks the queued commands as one request.
    let queued: Vec<(&'static Command, Vec<&[u8]>)>;
    let calls: Vec<(&'static Command, &[&[u8]])> = if cmd.flags & flag::RUNS_QUEUE != 0 {
        let Some(queue) = ctx.client.multi.as_ref() else {
            return Ok(());
        };
        queued = queue
            .iter()
            .filter_map(|q| {
                let a: Vec<&[u8]> = q.iter().map(|x| x.as_slice()).collect();
                lookup_call(&a).map(|c| (c, a))
            })
            .collect();
        queued.iter().map(|(c, a)| (*c, a.as_slice())).collect()
    } else {
        vec![(cmd, args)]
    };
    let topology = &m.topology;
    let me = m.node;
    // A blocked client re-checked after a slot moved: a cluster that is down unblocks it at once
    // (Redis's clusterRedirectBlockedClientIfNeeded), even when reads are allowed.
    if ctx.retry && !topology.state_ok() {
        return Err(Error::from(DOWN));
    }
    let mut first: Option<(u16, Option<usize>)> = None;
    let (mut migrating_to, mut importing) = (None, false);
    let (mut missing, mut existing, mut keys_seen, mut writes) = (0usize, 0usize, 0usize, false);
    let mut pubsub_shard = false;
    for (c, a) in &calls {
        let keys: Vec<&[u8]> = match shard_channels(c, a) {
            Some(ch) => {
                pubsub_shard = true;
                ch
            }
            None => c.keys(a).iter().map(|k| a[k.pos]).collect(),
        };
        if !keys.is_empty() && c.flags & flag::WRITE != 0 {
            writes = true;
        }
        for key in keys {
            keys_seen += 1;
            let slot = key_slot(key);
            match first {
                None => {
                    let (owner, to, imports) = topology.slot_state(me, slot);
                    let Some(owner) = owner else {
                        return Err(Error::from(UNBOUND));
                    };
                    (migrating_to, importing) = (to, imports);
                    first = Some((slot, Some(owner)));
                }
                Some((s, _)) if s != slot => return Err(Error::from(CROSSSLOT)),
                Some(_) => {}
            }
            if (migrating_to.is_some() || importing) && !pubsub_shard {
                if ctx.db().lock(key, ctx.now).exists(key) {
                    existing += 1;
                } else {
                    missing += 1;
                }
            }
        }
    }
    let Some((slot, Some(owner))) = first else {
        return Ok(());
    };
    if !topology.state_ok() {
        let reads_ok = topology
            .allow_reads_when_down
            .load(std::sync::atomic::Ordering::Relaxed);
        if pubsub_shard || !reads_ok {
            return Err(Error::from(DOWN));
        }
        if writes {
            return Err(Error::from(DOWN_READONLY));
        }
    }
    // MIGRATE itself runs on the node that migrates the slot.
    if (migrating_to.is_some() || importing) && cmd.name == "migrate" {
        return Ok(());
    }
    // A blocked client re-checked while its slot migrates away stays (Redis redirects blocked
    // clients only once another node owns the slot).
    if let Some(to) = migrating_to
        && missing > 0
        && !ctx.retry
    {
        if existing > 0 {
            return Err(Error::from(TRYAGAIN));
        }
        let (host, port) = address_for(ctx, m, to);
        return Err(Error::msg(format!("ASK {slot} {host}:{port}")));
    }
    if importing && asking {
        if keys_seen > 1 && missing > 0 {
            return Err(Error::from(TRYAGAIN));
        }
        return Ok(());
    }
    // A replica serves reads of its primary's slots to READONLY clients (and sharded Pub/Sub).
    if owner != me
        && (ctx.client.readonly || pubsub_shard)
        && !writes
        && topology.primary_of(me) == Some(owner)
    {
        return Ok(());
    }
    if owner != me {
        let (host, port) = address_for(ctx, m, owner);
        return Err(Error::msg(format!("MOVED {slot} {host}:{port}")));
    }
    Ok(())
}
