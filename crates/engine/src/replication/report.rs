//! ROLE and INFO replication: what clients and sentinels-like tools read about the replication
//! state, with Redis 7.0's field names, order and types (replication.c `roleCommand`, server.c
//! `genRedisInfoString`).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{LinkState, Role};
use crate::Engine;
use crate::commands::{CmdResult, Ctx};

/// `ROLE`.
pub fn role(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let engine = ctx.engine;
    match engine.role() {
        Role::Primary { replicas } => {
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(engine.repl_offset() as i64);
            ctx.out.array(replicas.len());
            for r in replicas {
                ctx.out.array(3);
                ctx.out.bulk(r.ip.as_bytes());
                ctx.out.bulk(r.port.to_string().as_bytes());
                ctx.out.bulk(r.offset.to_string().as_bytes());
            }
        }
        Role::Replica { host, port, link } => {
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(host.as_bytes());
            ctx.out.int(port as i64);
            ctx.out.bulk(link.word().as_bytes());
            let offset = if link == LinkState::Connected {
                engine.repl_offset() as i64
            } else {
                -1
            };
            ctx.out.int(offset);
        }
    }
    Ok(())
}

/// The `# Replication` section of INFO (`cfg` is the configuration, already read-locked).
pub fn info(engine: &Engine, cfg: &crate::Config, out: &mut String) {
    let repl = &engine.replication;
    let now = crate::replication::link_ms();
    out.push_str("# Replication\r\n");
    let role = engine.role();
    let offset = engine.repl_offset();
    match &role {
        Role::Primary { .. } => out.push_str("role:master\r\n"),
        Role::Replica { host, port, link } => {
            let status = super::link_status(engine).unwrap_or_default();
            let up = *link == LinkState::Connected;
            let last_io = status.last_io_ms.load(Ordering::Relaxed);
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\n\
                 master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n\
                 slave_read_repl_offset:{}\r\nslave_repl_offset:{offset}\r\n",
                if up { "up" } else { "down" },
                if up && last_io > 0 {
                    (now.saturating_sub(last_io) / 1000) as i64
                } else {
                    -1
                },
                (*link == LinkState::Sync) as u8,
                status.read_offset.load(Ordering::Relaxed).max(offset),
            );
            if *link == LinkState::Sync {
                let total = status.sync_total.load(Ordering::Relaxed);
                let read = status.sync_read.load(Ordering::Relaxed);
                let perc = if total > 0 {
                    read as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{read}\r\n\
                     master_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\n\
                     master_sync_last_io_seconds_ago:{}\r\n",
                    if total > 0 { total as i64 } else { -1 },
                    total.saturating_sub(read),
                    now.saturating_sub(last_io) / 1000,
                );
            }
            if !up {
                let since = status.down_since_ms.load(Ordering::Relaxed);
                let _ = write!(
                    out,
                    "master_link_down_since_seconds:{}\r\n",
                    if since == 0 {
                        -1
                    } else {
                        (now.saturating_sub(since) / 1000) as i64
                    }
                );
            }
            let _ = write!(
                out,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                cfg.number("replica-priority"),
                (cfg.get("replica-read-only") == Some("yes")) as u8,
                (cfg.get("replica-announced") == Some("yes")) as u8,
            );
        }
    }
    let replicas = super::primary::summaries(engine);
    let _ = write!(out, "connected_slaves:{}\r\n", replicas.len());
    let (min_write, max_lag) = (
        cfg.number("min-replicas-to-write"),
        cfg.number("min-replicas-max-lag"),
    );
    if min_write > 0 && max_lag > 0 {
        let good = replicas
            .iter()
            .filter(|r| r.state == "online" && r.lag as i64 <= max_lag)
            .count();
        let _ = write!(out, "min_slaves_good_slaves:{good}\r\n");
    }
    for (i, r) in replicas.iter().enumerate() {
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip, r.port, r.state, r.offset, r.lag
        );
    }
    let (replid, replid2, second) = repl.ids();
    let active = repl.backlog.active();
    let (start, histlen) = repl.backlog.span();
    let _ = write!(
        out,
        "master_failover_state:no-failover\r\nmaster_replid:{replid}\r\nmaster_replid2:{replid2}\r\n\
         master_repl_offset:{offset}\r\nsecond_repl_offset:{second}\r\nrepl_backlog_active:{}\r\n\
         repl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        active as u8,
        cfg.number("repl-backlog-size"),
        if active { start + 1 } else { 0 },
        if active { histlen } else { 0 },
    );
}
