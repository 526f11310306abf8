//! CLUSTER, ASKING, READONLY, READWRITE and MIGRATE: cluster mode's commands as redis-server
//! 7.0.15 answers them, over the engine's [`Membership`] in a shared
//! [`ClusterTopology`](crate::cluster::ClusterTopology). Without cluster mode they answer "cluster
//! support disabled" (MIGRATE works in both). Subcommands that would need a cluster bus redlink
//! does not have (MEET, FORGET, RESET, REPLICATE, SAVECONFIG, SET-CONFIG-EPOCH) are refused with an
//! error saying so, never `+OK`.

use super::{CmdResult, Ctx, Error, Handler, int_arg, is};
use crate::cluster::migrate::{self, parse_migrate};
use crate::cluster::redirect::address_for;
use crate::cluster::{Membership, SLOTS, key_slot};

/// The cluster family.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("cluster", cluster),
    ("asking", asking),
    ("readonly", readonly),
    ("readwrite", readwrite),
    ("migrate", migrate_cmd),
];

/// Redis's answer outside cluster mode.
pub const DISABLED: &str = "ERR This instance has cluster support disabled";

fn membership(ctx: &Ctx) -> Result<Membership, Error> {
    ctx.engine
        .cluster
        .get()
        .cloned()
        .ok_or(Error::from(DISABLED))
}

fn asking(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    membership(ctx)?;
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

fn readonly(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    membership(ctx)?;
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    membership(ctx)?;
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}

/// A slot argument (SETSLOT, ADDSLOTS, DELSLOTS...: Redis's `getSlotOrReply`).
fn slot_arg(a: &[u8]) -> Result<u16, Error> {
    crate::protocol::parse_i64(a)
        .filter(|s| (0..SLOTS as i64).contains(s))
        .map(|s| s as u16)
        .ok_or(Error::from(crate::cluster::topology::INVALID_SLOT))
}

/// A node-id argument that must name a known node.
fn node_arg(m: &Membership, a: &[u8], unknown: &str) -> Result<usize, Error> {
    m.topology.index_of(a).ok_or_else(|| {
        Error::msg(format!(
            "ERR {unknown} {}",
            String::from_utf8_lossy(&a[..a.len().min(128)])
        ))
    })
}

fn keys_in_slot(ctx: &Ctx, slot: u16, limit: usize) -> Vec<crate::store::Blob> {
    migrate::keys_in_db_slots(ctx.engine, ctx.client.db, &[slot], limit)
}

/// Slot ranges of ADDSLOTSRANGE / DELSLOTSRANGE.
fn range_args(args: &[&[u8]], name: &str) -> Result<Vec<u16>, Error> {
    if args.len() % 2 == 1 {
        return Err(super::arity_error(name));
    }
    let mut slots = Vec::new();
    for pair in args[2..].chunks(2) {
        let (start, end) = (slot_arg(pair[0])?, slot_arg(pair[1])?);
        if start > end {
            return Err(Error::msg(format!(
                "ERR start slot number {start} is greater than end slot number {end}"
            )));
        }
        slots.extend(start..=end);
    }
    Ok(slots)
}

fn cluster(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let m = membership(ctx)?;
    if sub == "help" {
        ctx.out.help(HELP);
        return Ok(());
    }
    let t = m.topology.clone();
    let me = m.node;
    match sub.as_str() {
        "myid" => {
            let id = t.node(me).map(|n| n.id).unwrap_or_default();
            ctx.out.bulk(id.as_bytes());
        }
        "keyslot" => ctx.out.int(key_slot(args[2]) as i64),
        "countkeysinslot" => {
            let slot = int_arg(args[2])?;
            if !(0..SLOTS as i64).contains(&slot) {
                return Err(Error::from("ERR Invalid slot"));
            }
            let db = ctx.engine.store.db(ctx.client.db);
            let n = match db.slot_index() {
                Some(index) => index.count(slot as u16),
                None => keys_in_slot(ctx, slot as u16, usize::MAX).len(),
            };
            ctx.out.int(n as i64);
        }
        "getkeysinslot" => {
            let slot = int_arg(args[2])?;
            let count = int_arg(args[3])?;
            if !(0..SLOTS as i64).contains(&slot) || count < 0 {
                return Err(Error::from("ERR Invalid slot or number of keys"));
            }
            let keys = keys_in_slot(ctx, slot as u16, count as usize);
            ctx.out.array(keys.len());
            for k in keys {
                ctx.out.bulk(&k);
            }
        }
        "info" => {
            let text = info_text(&m);
            ctx.out.verbatim(text.as_bytes());
        }
        "slots" => slots_reply(ctx, &m),
        "shards" => shards_reply(ctx, &m),
        "nodes" => {
            let text = nodes_text(ctx, &m);
            ctx.out.verbatim(text.as_bytes());
        }
        "links" => links_reply(ctx, &m),
        "setslot" => setslot(ctx, &m, args)?,
        "addslots" | "addslotsrange" | "delslots" | "delslotsrange" => {
            let slots = if sub.ends_with("range") {
                range_args(args, &format!("cluster|{sub}"))?
            } else {
                args[2..]
                    .iter()
                    .map(|a| slot_arg(a))
                    .collect::<Result<Vec<u16>, Error>>()?
            };
            let adding = sub.starts_with("add");
            let mut seen = std::collections::HashSet::new();
            for &s in &slots {
                if adding && t.owner(s).is_some() {
                    return Err(Error::msg(format!("ERR Slot {s} is already busy")));
                }
                if !adding && t.owner(s).is_none() {
                    return Err(Error::msg(format!("ERR Slot {s} is already unassigned")));
                }
                if !seen.insert(s) {
                    return Err(Error::msg(format!("ERR Slot {s} specified multiple times")));
                }
            }
            for s in slots {
                if adding {
                    // A slot this node was importing becomes its own (Redis clears the state).
                    t.set_stable(me, s);
                    t.set_owner(s, Some(me));
                } else {
                    t.set_owner(s, None);
                }
            }
            t.slots_changed();
            ctx.out.ok();
        }
        "flushslots" => {
            if !ctx.db().is_empty() {
                return Err(Error::from(
                    "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.",
                ));
            }
            for (start, end) in t.ranges_of(me) {
                for s in start..=end {
                    t.set_owner(s, None);
                }
            }
            t.slots_changed();
            ctx.out.ok();
        }
        "bumpepoch" => {
            let e = t.bump_epoch(me);
            ctx.out.simple(&format!("BUMPED {e}"));
        }
        "set-config-epoch" => {
            int_arg(args[2])?;
            return Err(Error::from(
                "ERR The user can assign a config epoch only when the node does not know any other node.",
            ));
        }
        "failover" => {
            use crate::cluster::failover::{self, Mode};
            let mode = match args.get(2) {
                None => Mode::Manual,
                Some(a) if is(a, "FORCE") => Mode::Force,
                Some(a) if is(a, "TAKEOVER") => Mode::Takeover,
                Some(_) => return Err(crate::commands::err::SYNTAX),
            };
            failover::check(&t, me, mode).map_err(Error::from)?;
            // Redis answers at once and fails over from its cron; here a thread does it (it
            // waits for the replica and takes the keyspace gates, so never on a client's task).
            let topology = t.clone();
            // Replication links are tasks of the engine's runtime.
            let runtime = tokio::runtime::Handle::try_current()
                .map_err(|_| Error::from("ERR cannot start the failover outside a runtime"))?;
            let spawned = std::thread::Builder::new()
                .name("cluster-failover".into())
                .spawn(move || {
                    let _runtime = runtime.enter();
                    if let Err(e) = failover::fail_over(&topology, me, mode) {
                        tracing::warn!("CLUSTER FAILOVER on node {me}: {e}");
                    }
                });
            if let Err(e) = spawned {
                return Err(Error::msg(format!("ERR cannot start the failover: {e}")));
            }
            ctx.out.ok();
        }
        "replicas" | "slaves" => {
            let n = node_arg(&m, args[2], "Unknown node")?;
            if t.primary_of(n).is_some() {
                return Err(Error::from("ERR The specified node is not a master"));
            }
            let replicas = t.replicas_of(n);
            ctx.out.array(replicas.len());
            for r in replicas {
                let line = node_line(ctx, &m, r);
                ctx.out.bulk(line.as_bytes());
            }
        }
        "count-failure-reports" => {
            node_arg(&m, args[2], "Unknown node")?;
            ctx.out.int(0);
        }
        "replicate" => {
            let n = node_arg(&m, args[2], "Unknown node")?;
            if n == me {
                return Err(Error::from("ERR Can't replicate myself"));
            }
            if !t.ranges_of(me).is_empty() || !ctx.db().is_empty() {
                return Err(Error::from(
                    "ERR To set a master the node must be empty and without assigned slots.",
                ));
            }
            return Err(not_here("REPLICATE"));
        }
        "forget" => {
            let n = node_arg(&m, args[2], "Unknown node")?;
            if n == me {
                return Err(Error::from("ERR I tried hard but I can't forget myself..."));
            }
            return Err(not_here("FORGET"));
        }
        "reset" => {
            if args.len() == 3 && !is(args[2], "HARD") && !is(args[2], "SOFT") {
                return Err(crate::commands::err::SYNTAX);
            }
            if !ctx.db().is_empty() {
                return Err(Error::from(
                    "ERR CLUSTER RESET can't be called with master nodes containing keys",
                ));
            }
            return Err(not_here("RESET"));
        }
        "meet" => return Err(not_here("MEET")),
        "saveconfig" => {
            return Err(Error::from(
                "ERR error saving the cluster node config: redlink keeps the cluster configuration in memory (there is no nodes.conf)",
            ));
        }
        // The dispatcher resolved the subcommand and checked its arity.
        _ => return Err(super::unknown_subcommand("cluster", args[1])),
    }
    Ok(())
}

/// A subcommand that needs the cluster bus: refused, saying why.
fn not_here(sub: &str) -> Error {
    Error::msg(format!(
        "ERR CLUSTER {sub} is not supported by redlink: a redlink cluster's nodes and their roles are fixed by `redlink serve --cluster N` or by the world (see docs/cluster.md)"
    ))
}

fn setslot(ctx: &mut Ctx, m: &Membership, args: &[&[u8]]) -> CmdResult {
    let t = &m.topology;
    let me = m.node;
    let slot = slot_arg(args[2])?;
    let action = args[3];
    let bad = || {
        Error::from("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
    };
    if is(action, "STABLE") {
        if args.len() != 4 {
            return Err(bad());
        }
        t.set_stable(me, slot);
    } else if is(action, "MIGRATING") || is(action, "IMPORTING") || is(action, "NODE") {
        if args.len() != 5 {
            return Err(bad());
        }
        if is(action, "NODE") {
            let n = node_arg(m, args[4], "Unknown node")?;
            if t.owner(slot) == Some(me) && n != me && !keys_in_slot(ctx, slot, 1).is_empty() {
                return Err(Error::msg(format!(
                    "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                )));
            }
            t.set_node(me, slot, n).map_err(Error::msg)?;
        } else {
            let n = node_arg(m, args[4], "I don't know about node")?;
            let r = if is(action, "MIGRATING") {
                t.set_migrating(me, slot, n)
            } else {
                t.set_importing(me, slot, n)
            };
            r.map_err(Error::msg)?;
        }
    } else {
        return Err(bad());
    }
    ctx.out.ok();
    Ok(())
}

/// CLUSTER INFO's text.
pub fn info_text(m: &Membership) -> String {
    let t = &m.topology;
    let nodes = t.nodes();
    let known = nodes.iter().filter(|n| !n.forgotten).count();
    let size = (0..nodes.len())
        .filter(|&i| !nodes[i].forgotten && !t.ranges_of(i).is_empty())
        .count();
    let my_epoch = t.shown_epoch(m.node);
    format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\ncluster_known_nodes:{known}\r\ncluster_size:{size}\r\n\
         cluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\ncluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        if t.state_ok() { "ok" } else { "fail" },
        t.assigned_slots(),
        t.assigned_slots(),
        t.current_epoch(),
    )
}

fn slots_reply(ctx: &mut Ctx, m: &Membership) {
    let t = &m.topology;
    let mut ranges: Vec<(u16, u16, usize)> = Vec::new();
    for (i, n) in t.nodes().iter().enumerate() {
        if !n.forgotten {
            ranges.extend(t.ranges_of(i).into_iter().map(|(a, b)| (a, b, i)));
        }
    }
    ranges.sort_unstable();
    let nodes = t.nodes();
    ctx.out.array(ranges.len());
    for (start, end, node) in ranges {
        // The primary, then its replicas (redis-server lists those not failed).
        let serving: Vec<usize> = std::iter::once(node)
            .chain(
                t.replicas_of(node)
                    .into_iter()
                    .filter(|&r| t.engine(r).is_some()),
            )
            .collect();
        ctx.out.array(2 + serving.len());
        ctx.out.int(start as i64);
        ctx.out.int(end as i64);
        for n in serving {
            let (host, port) = address_for(ctx, m, n);
            ctx.out.array(4);
            ctx.out.bulk(host.as_bytes());
            ctx.out.int(port as i64);
            ctx.out.bulk(nodes[n].id.as_bytes());
            ctx.out.map(0);
        }
    }
}

fn shards_reply(ctx: &mut Ctx, m: &Membership) {
    let t = &m.topology;
    let nodes = t.nodes();
    // One shard per primary: the primary, then its replicas.
    let primaries: Vec<usize> = (0..nodes.len())
        .filter(|&i| !nodes[i].forgotten && nodes[i].replica_of.is_none())
        .collect();
    ctx.out.array(primaries.len());
    for p in primaries {
        let ranges = t.ranges_of(p);
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        ctx.out.array(ranges.len() * 2);
        for (a, b) in ranges {
            ctx.out.int(a as i64);
            ctx.out.int(b as i64);
        }
        ctx.out.bulk(b"nodes");
        let members: Vec<usize> = std::iter::once(p).chain(t.replicas_of(p)).collect();
        ctx.out.array(members.len());
        for i in members {
            shard_node(ctx, t, &nodes, i);
        }
    }
}

/// One node's map in `CLUSTER SHARDS`.
fn shard_node(
    ctx: &mut Ctx,
    t: &crate::cluster::ClusterTopology,
    nodes: &[crate::cluster::topology::Node],
    i: usize,
) {
    let conn = &ctx.client.handle.ctx;
    let plain = conn
        .announce
        .as_ref()
        .and_then(|a| a.address(i, false))
        .or_else(|| t.own_address(i, false))
        .unwrap_or_default();
    let tls = (nodes[i].spec.tls_port != 0).then(|| {
        conn.announce
            .as_ref()
            .and_then(|a| a.address(i, true))
            .or_else(|| t.own_address(i, true))
            .unwrap_or_default()
    });
    let fields = 7 + tls.is_some() as usize - (plain.1 == 0) as usize;
    ctx.out.map(fields);
    ctx.out.bulk(b"id");
    ctx.out.bulk(nodes[i].id.as_bytes());
    if plain.1 != 0 {
        ctx.out.bulk(b"port");
        ctx.out.int(plain.1 as i64);
    }
    if let Some((_, p)) = &tls {
        ctx.out.bulk(b"tls-port");
        ctx.out.int(*p as i64);
    }
    let host = if plain.1 != 0 {
        plain.0.clone()
    } else {
        tls.clone().unwrap_or_default().0
    };
    let role = if nodes[i].replica_of.is_some() {
        "replica"
    } else {
        "master"
    };
    for (k, v) in [
        ("ip", &host),
        ("endpoint", &host),
        ("role", &role.to_string()),
    ] {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    let engine = t.engine(i);
    ctx.out.bulk(b"replication-offset");
    ctx.out
        .int(engine.as_ref().map_or(0, |e| e.repl_offset()) as i64);
    ctx.out.bulk(b"health");
    ctx.out
        .bulk(if engine.is_some() { b"online" } else { b"fail" });
}

/// CLUSTER NODES' text, addresses as this connection is told them.
pub fn nodes_text(ctx: &Ctx, m: &Membership) -> String {
    let mut text = String::new();
    for (i, n) in m.topology.nodes().iter().enumerate() {
        if n.forgotten {
            continue;
        }
        text.push_str(&node_line(ctx, m, i));
        text.push('\n');
    }
    text
}

/// One node's line of `CLUSTER NODES` (and `CLUSTER REPLICAS`), without the newline: a replica
/// names its primary and shows the primary's config epoch; a node whose engine is not running
/// is `fail` and `disconnected`, as peers see a dead node.
fn node_line(ctx: &Ctx, m: &Membership, i: usize) -> String {
    let t = &m.topology;
    let Some(n) = t.node(i) else {
        return String::new();
    };
    let now = ctx.engine.clock().now_ms();
    let (host, port) = address_for(ctx, m, i);
    let mut flags = String::new();
    if i == m.node {
        flags.push_str("myself,");
    }
    flags.push_str(if n.replica_of.is_some() {
        "slave"
    } else {
        "master"
    });
    let running = i == m.node || t.engine(i).is_some();
    if !running {
        flags.push_str(",fail");
    }
    let primary = n
        .replica_of
        .and_then(|p| t.node(p))
        .map_or_else(|| "-".to_string(), |p| p.id);
    let pong = if i == m.node { 0 } else { now };
    let link = if running { "connected" } else { "disconnected" };
    let mut text = format!(
        "{} {host}:{port}@{} {flags} {primary} 0 {pong} {} {link}",
        n.id,
        u32::from(port) + 10000,
        t.shown_epoch(i)
    );
    for (a, b) in t.ranges_of(i) {
        if a == b {
            text.push_str(&format!(" {a}"));
        } else {
            text.push_str(&format!(" {a}-{b}"));
        }
    }
    if i == m.node {
        for (slot, other, migrating) in t.transitions_of(i) {
            let id = t.node(other).map(|n| n.id).unwrap_or_default();
            let arrow = if migrating { "->-" } else { "-<-" };
            text.push_str(&format!(" [{slot}{arrow}{id}]"));
        }
    }
    text
}

fn links_reply(ctx: &mut Ctx, m: &Membership) {
    let t = &m.topology;
    let nodes = t.nodes();
    let others: Vec<usize> = (0..nodes.len())
        .filter(|&i| i != m.node && !nodes[i].forgotten)
        .collect();
    let created = ctx.engine.started.elapsed().as_millis() as u64;
    let created = ctx.engine.clock().now_ms().saturating_sub(created);
    ctx.out.array(others.len() * 2);
    for i in others {
        for direction in ["to", "from"] {
            ctx.out.map(6);
            ctx.out.bulk(b"direction");
            ctx.out.bulk(direction.as_bytes());
            ctx.out.bulk(b"node");
            ctx.out.bulk(nodes[i].id.as_bytes());
            ctx.out.bulk(b"create-time");
            ctx.out.int(created as i64);
            ctx.out.bulk(b"events");
            ctx.out.bulk(b"r");
            ctx.out.bulk(b"send-buffer-allocated");
            ctx.out.int(0);
            ctx.out.bulk(b"send-buffer-used");
            ctx.out.int(0);
        }
    }
}

/// MIGRATE: the keys go to `host:port` (loopback only) as DUMP payloads restored there; deleted
/// here unless COPY. `+NOKEY` when none of the keys exists.
fn migrate_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let req = parse_migrate(args).map_err(Error::from)?;
    let mut entries = Vec::new();
    {
        let now = ctx.now;
        for key in &req.keys {
            let mut l = ctx.lock(key);
            let Some(expire) = l.expire_of(key) else {
                continue;
            };
            let Some(value) = l.get(key) else {
                continue;
            };
            let ttl = if expire == 0 {
                0
            } else {
                expire.saturating_sub(now).max(1)
            };
            entries.push((key.to_vec(), crate::rdb::dump(value), ttl));
        }
    }
    if entries.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let asking = ctx.engine.cluster.get().is_some();
    // Blocking I/O (bounded by the timeout), as redis-server's MIGRATE blocks: off the async
    // worker's queue so the tasks queued behind this one (the target may be in this process) run.
    let send = || migrate::send(&req, &entries, asking);
    let verdicts = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(send)
        }
        _ => send(),
    }
    .map_err(Error::msg)?;
    let mut first_error = None;
    for ((key, _, _), verdict) in entries.iter().zip(&verdicts) {
        match verdict {
            Some(e) => {
                first_error.get_or_insert_with(|| e.clone());
            }
            None if !req.copy => {
                let mut l = ctx.lock(key);
                if l.remove(key).is_some() {
                    ctx.notify(crate::notify::class::GENERIC, "del", key);
                }
            }
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(Error::msg(format!(
            "ERR Target instance replied with error: {e}"
        ))),
        None => {
            ctx.out.ok();
            Ok(())
        }
    }
}

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
];
