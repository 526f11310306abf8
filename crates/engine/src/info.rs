//! The text of INFO: Redis's sections and field names, filled from the engine's state.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::Engine;
use crate::commands::connection::REDIS_VERSION;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Resident set size of this process in bytes (0 where unknown).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// Physical memory of the machine in bytes (0 where unknown).
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Bytes as Redis's `bytesToHuman` prints them.
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Render the requested sections (`[]` = default, `all`, `everything`, or names). `all` and
/// `everything` add `commandstats` to the default ones (Redis's `latencystats` is not kept).
pub fn render(engine: &Engine, sections: &[String]) -> String {
    let wanted: Vec<&str> = if sections.iter().any(|s| s == "all" || s == "everything") {
        DEFAULT
            .iter()
            .flat_map(|s| match *s {
                "errorstats" => vec!["commandstats", "errorstats"],
                s => vec![s],
            })
            .collect()
    } else if sections.is_empty() || sections.iter().any(|s| s == "default") {
        DEFAULT.to_vec()
    } else {
        sections.iter().map(|s| s.as_str()).collect()
    };
    let mut out = String::new();
    for (i, section) in wanted.iter().enumerate() {
        let before = out.len();
        if i > 0 && !out.is_empty() {
            out.push_str("\r\n");
        }
        let wrote = section_text(engine, section, &mut out);
        if !wrote {
            out.truncate(before);
        }
    }
    out
}

fn section_text(engine: &Engine, section: &str, out: &mut String) -> bool {
    let cfg = engine.config.read();
    let now_ms = engine.clock().now_ms();
    let uptime = now_ms.saturating_sub(engine.started_ms) / 1000;
    let stats = &engine.stats;
    let rss = rss_bytes();
    match section {
        "server" => {
            let _ = write!(
                out,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n\
                 redis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\n\
                 multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\n\
                 process_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\n\
                 uptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\n\
                 lru_clock:0\r\nexecutable:redlink\r\nconfig_file:{}\r\nio_threads_active:0\r\n\
                 redlink_version:{}\r\n",
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                engine.run_id,
                cfg.port(),
                u128::from(now_ms) * 1000,
                uptime / 86400,
                cfg.get("hz").unwrap_or("10"),
                cfg.get("hz").unwrap_or("10"),
                cfg.file
                    .as_deref()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default(),
                env!("CARGO_PKG_VERSION"),
            );
        }
        "clients" => {
            let _ = write!(
                out,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
                 client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n\
                 blocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
                engine.clients.count(),
                cfg.maxclients(),
                engine
                    .stats
                    .blocked_clients
                    .load(std::sync::atomic::Ordering::Relaxed),
                engine.tracking.figures().clients,
            );
        }
        "memory" => {
            let used = crate::alloc::used_memory();
            let peak = crate::alloc::peak().max(used);
            let maxmemory = cfg.maxmemory();
            let total = total_system_memory();
            // Lua heaps, apart from used_memory like Redis's (see crate::alloc).
            let lua_eval = engine.scripting.eval_memory();
            let lua_functions = engine.scripting.functions_memory();
            let frag = if used > 0 {
                rss as f64 / used as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
                 used_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\n\
                 used_memory_peak_perc:{:.2}%\r\nallocator_allocated:{used}\r\n\
                 total_system_memory:{total}\r\ntotal_system_memory_human:{}\r\n\
                 used_memory_lua:{lua_eval}\r\nused_memory_vm_eval:{lua_eval}\r\n\
                 used_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\n\
                 number_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\n\
                 used_memory_vm_functions:{lua_functions}\r\nused_memory_vm_total:{}\r\n\
                 used_memory_vm_total_human:{}\r\n\
                 maxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
                 mem_fragmentation_ratio:{frag:.2}\r\nmem_fragmentation_bytes:{}\r\n\
                 mem_not_counted_for_evict:0\r\n\
                 mem_allocator:libc\r\nlazyfree_pending_objects:0\r\n",
                human(used),
                human(rss),
                human(peak),
                if peak > 0 {
                    used as f64 * 100.0 / peak as f64
                } else {
                    0.0
                },
                human(total),
                human(lua_eval),
                engine.scripting.cached_bytes(),
                engine.scripting.cached(),
                engine.scripting.function_count(),
                engine.scripting.library_count(),
                lua_eval + lua_functions,
                human(lua_eval + lua_functions),
                human(maxmemory),
                cfg.get("maxmemory-policy").unwrap_or("noeviction"),
                rss as i64 - used as i64,
            );
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            crate::persist::rdb_save::info_lines(engine, out);
            let _ = write!(out, "{}", engine.aof.info(),);
        }
        "stats" => {
            let l = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            let tracking = engine.tracking.figures();
            let _ = write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
                 rejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n\
                 expired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\n\
                 keyspace_misses:{}\r\npubsub_channels:0\r\npubsub_patterns:0\r\nlatest_fork_usec:0\r\n\
                 tracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\n\
                 total_error_replies:{}\r\n",
                l(&stats.connections_received),
                l(&stats.commands_processed),
                l(&stats.net_input_bytes),
                l(&stats.net_output_bytes),
                l(&stats.rejected_connections),
                l(&engine.replication.sync_full),
                l(&engine.replication.sync_partial_ok),
                l(&engine.replication.sync_partial_err),
                l(&stats.expired_keys),
                l(&stats.evicted_keys),
                l(&stats.keyspace_hits),
                l(&stats.keyspace_misses),
                tracking.keys,
                tracking.items,
                tracking.prefixes,
                l(&stats.error_replies),
            );
        }
        "replication" => crate::replication::report::info(engine, &cfg, out),
        "cpu" => {
            out.push_str("# CPU\r\nused_cpu_sys:0.000000\r\nused_cpu_user:0.000000\r\n");
        }
        "modules" => out.push_str("# Modules\r\n"),
        "commandstats" => engine.cmdstats.write_commandstats(out),
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            for (kind, n) in engine.stats.error_kinds.lock().iter() {
                let _ = write!(out, "errorstat_{kind}:count={n}\r\n");
            }
        }
        "cluster" => out.push_str(if engine.cluster.get().is_some() {
            "# Cluster\r\ncluster_enabled:1\r\n"
        } else {
            "# Cluster\r\ncluster_enabled:0\r\n"
        }),
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            for i in 0..engine.store.databases() {
                let db = engine.store.db(i);
                let keys = db.len();
                if keys > 0 {
                    let _ = write!(
                        out,
                        "db{i}:keys={keys},expires={},avg_ttl=0\r\n",
                        db.volatile()
                    );
                }
            }
        }
        _ => return false,
    }
    true
}
