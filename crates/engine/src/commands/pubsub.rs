//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.

use super::{CmdResult, Ctx, Error, Handler};
use crate::pubsub::Kind;
use crate::store::Blob;

/// Pub/Sub commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("ssubscribe", ssubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub", pubsub),
];

fn set_of<'a>(ctx: &'a mut Ctx, kind: Kind) -> &'a mut std::collections::HashSet<Blob> {
    match kind {
        Kind::Channel => &mut ctx.client.channels,
        Kind::Pattern => &mut ctx.client.patterns,
        Kind::Shard => &mut ctx.client.shard_channels,
    }
}

fn names(kind: Kind) -> (&'static [u8], &'static [u8]) {
    match kind {
        Kind::Channel => (b"subscribe", b"unsubscribe"),
        Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

fn confirm(ctx: &mut Ctx, kind: Kind, what: &[u8], name: Option<&[u8]>) {
    let count = if kind == Kind::Shard {
        ctx.client.shard_channels.len()
    } else {
        ctx.client.channels.len() + ctx.client.patterns.len()
    };
    // A push in Redis (`addReplyPubsubSubscribed`): it goes out even with CLIENT REPLY OFF.
    let start = ctx.out.push_begin();
    ctx.out.push(3);
    ctx.out.bulk(what);
    ctx.out.opt_bulk(name);
    ctx.out.int(count as i64);
    ctx.out.push_end(start);
}

fn subscribe_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    if ctx.in_exec {
        return Err(Error::msg(format!(
            "ERR {} isn't allowed for a DENY BLOCKING client",
            String::from_utf8_lossy(args[0]).to_ascii_uppercase()
        )));
    }
    let id = ctx.client.handle.id;
    for name in &args[1..] {
        ctx.engine
            .pubsub
            .subscribe(kind, name, id, &ctx.client.mailbox.clone());
        set_of(ctx, kind).insert(Blob::from_slice(name));
        ctx.client.sync_subscriptions();
        confirm(ctx, kind, names(kind).0, Some(name));
    }
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    let id = ctx.client.handle.id;
    let targets: Vec<Blob> = if args.len() > 1 {
        args[1..].iter().map(|a| Blob::from_slice(a)).collect()
    } else {
        set_of(ctx, kind).iter().cloned().collect()
    };
    if targets.is_empty() {
        confirm(ctx, kind, names(kind).1, None);
        return Ok(());
    }
    for name in targets {
        ctx.engine.pubsub.unsubscribe(kind, &name, id);
        set_of(ctx, kind).remove(&name);
        ctx.client.sync_subscriptions();
        confirm(ctx, kind, names(kind).1, Some(&name));
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel)
}

fn unsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern)
}

fn punsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Shard)
}

fn sunsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard)
}

fn publish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = ctx.engine.pubsub.publish(args[1], args[2]);
    // Propagated to replicas (not to the AOF), after a SELECT of the client's database and in
    // its transaction's order, as Redis does.
    ctx.engine.store.feed.replicate(ctx.client.db, &args[..3]);
    // Cluster mode (Redis 7.0): a message goes to the subscribers of every node; the reply counts
    // this node's.
    if let Some(m) = ctx.engine.cluster.get() {
        for other in m.topology.engines() {
            if !std::sync::Arc::ptr_eq(&other.pubsub, &ctx.engine.pubsub) {
                other.pubsub.publish(args[1], args[2]);
            }
        }
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = ctx.engine.pubsub.spublish(args[1], args[2]);
    ctx.engine.store.feed.replicate(ctx.client.db, &args[..3]);
    ctx.out.int(n as i64);
    Ok(())
}

fn pubsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "channels" | "shardchannels" if args.len() <= 3 => {
            let kind = if sub == "channels" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            let list = ctx.engine.pubsub.names(kind, args.get(2).copied());
            ctx.out.array(list.len());
            for c in list {
                ctx.out.bulk(&c);
            }
        }
        "numsub" | "shardnumsub" => {
            let kind = if sub == "numsub" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            // A flat array even in RESP3, as Redis replies.
            ctx.out.array((args.len() - 2) * 2);
            for c in &args[2..] {
                ctx.out.bulk(c);
                ctx.out.int(ctx.engine.pubsub.count(kind, c) as i64);
            }
        }
        "numpat" => ctx.out.int(ctx.engine.pubsub.patterns() as i64),
        "help" => {
            let lines = [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Print this help.",
            ];
            ctx.out.help(&lines);
        }
        // Past the arity the dispatcher checked: Redis's own check of the optional pattern.
        "channels" | "shardchannels" => {
            return Err(super::subcommand_syntax_error("pubsub", args[1]));
        }
        _ => return Err(super::unknown_subcommand("pubsub", args[1])),
    }
    Ok(())
}
