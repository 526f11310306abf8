//! One engine per cache, configured from the scenario: `requirepass`, `maxclients`, ACL users, and the cache's
//! TLS certificate for hand-offs on TLS ports, and `persistence` (a data directory, a `save`
//! schedule, the last snapshot loaded at start). The engine's own listeners are never started: every
//! connection arrives through the edge.
//!
//! Like Azure's managed caches, a world's engines have the commands Microsoft disables switched off
//! ([`disabled_commands`], docs/azure-disabled-commands.md): clients get redis-server's
//! unknown-command error, so no client of a simulated cache can SHUTDOWN it, reconfigure it or
//! make it a replica. `redlink serve` keeps every command.

use std::path::Path;

use redlink_engine::persist::rdb_file::load_bytes;
use redlink_engine::persist::rdb_save;
use redlink_engine::{Config, Engine};
use redlink_world::{Cache, Flavour, Persistence};

use crate::certs::WorldCa;
use crate::error::RuntimeError;

fn setting(
    config: &mut Config,
    cache: &Cache,
    name: &'static str,
    value: &str,
) -> Result<(), RuntimeError> {
    config
        .set_startup(name, value)
        .map_err(|e| RuntimeError::Engine {
            cache: cache.name.clone(),
            setting: name,
            message: e.to_string(),
        })
}

/// The commands Azure disables on a cache of `flavour` (lower case), from Microsoft Learn's "Redis
/// commands not supported in Azure Cache for Redis" and "… in Azure Managed Redis" (with the
/// whole-command entries of Redis Enterprise's compatibility tables it points to). Commands the
/// engine does not implement (PSYNC, SYNC, REPLCONF, MIGRATE, MODULE, BGREWRITEAOF) are listed
/// too: they stay unknown whatever the engine learns later. CLUSTER is left alone: a clustered
/// cache's nodes (`shards`, see `cluster`) answer it as redis-server's cluster mode does, and a
/// cache that is not clustered answers "ERR This instance has cluster support disabled".
pub fn disabled_commands(flavour: Flavour) -> &'static [&'static str] {
    match flavour {
        Flavour::RedisCache => &[
            "acl",
            "bgrewriteaof",
            "bgsave",
            "config",
            "debug",
            "migrate",
            "psync",
            "replconf",
            "replicaof",
            "save",
            "shutdown",
            "slaveof",
            "sync",
        ],
        Flavour::ManagedRedis => &[
            "bgrewriteaof",
            "bgsave",
            "debug",
            "migrate",
            "module",
            "move",
            "psync",
            "replconf",
            "replicaof",
            "save",
            "select",
            "shutdown",
            "slaveof",
            "swapdb",
            "sync",
        ],
    }
}

/// Starts the engine of `cache` (its background jobs run until [`Engine::shutdown`]). Must be called
/// inside a tokio runtime. A cache with `persistence` keeps its data in `data_dir` (the world's
/// private directory for it): the engine saves there on the schedule the frequency maps to and
/// loads the last snapshot at start (after a reboot). `preload`, when given, is an RDB file's
/// contents the new engine holds instead (an import). The engine reads the world's one `clock`
/// (expiry, TTLs, timeouts: a manual clock moves them with the DNS caches and the timeline).
pub fn start_engine(
    cache: &Cache,
    ca: &WorldCa,
    data_dir: Option<&Path>,
    preload: Option<&[u8]>,
    clock: &redlink_clock::Clock,
) -> Result<Engine, RuntimeError> {
    let mut config = Config::default();
    let (persisted, aof) = match (cache.persistence, data_dir) {
        (Some(p), Some(dir)) => {
            setting(&mut config, cache, "dir", &dir.to_string_lossy())?;
            setting(&mut config, cache, "save", &p.save_points())?;
            match p {
                Persistence::Aof(policy) => {
                    setting(&mut config, cache, "appendonly", "yes")?;
                    setting(&mut config, cache, "appendfsync", policy.as_str())?;
                    (false, Some(dir))
                }
                Persistence::Rdb(_) => (true, None),
            }
        }
        // Not persisted (Azure Basic/Standard): no save points, no files in the cwd.
        _ => {
            setting(&mut config, cache, "save", "")?;
            (false, None)
        }
    };
    if let Some(pass) = &cache.requirepass {
        setting(&mut config, cache, "requirepass", pass)?;
        // Every node may become a replica (a failover), which authenticates to its primary.
        setting(&mut config, cache, "masterauth", pass)?;
    }
    if let Some(n) = cache.maxclients {
        setting(&mut config, cache, "maxclients", &n.to_string())?;
    }
    let engine = Engine::with_clock(config, clock.clone());
    engine.disabled.set(disabled_commands(cache.flavour));
    if cache.flavour == Flavour::ManagedRedis {
        // Redis Enterprise's smart client handoffs (`CLIENT MAINT_NOTIFICATIONS`).
        engine.maint.enable();
    }
    for u in &cache.users {
        engine
            .set_user(&u.name, &u.engine_rules())
            .map_err(|message| RuntimeError::User {
                cache: cache.name.clone(),
                user: u.name.clone(),
                message,
            })?;
    }
    *engine.tls.write() = Some(ca.server_config(cache)?);
    let data_error = |message: String| RuntimeError::Data {
        cache: cache.name.clone(),
        message,
    };
    match preload {
        Some(bytes) => {
            if let Some(dir) = aof {
                // An import replaces the data: the AOF starts afresh from it (below).
                let old = dir.join("appendonlydir");
                if old.exists() {
                    std::fs::remove_dir_all(&old).map_err(|e| {
                        data_error(format!("cannot replace {}: {e}", old.display()))
                    })?;
                }
            }
            load_bytes(&engine, bytes).map_err(|(offset, what)| {
                data_error(format!("Bad RDB file at byte offset {offset}: {what}"))
            })?;
            if persisted {
                let _gate = engine.store.gate.exclusive();
                rdb_save::save(&engine).map_err(data_error)?;
            }
        }
        None if persisted => {
            rdb_save::load_at_start(&engine).map_err(|e| data_error(e.to_string()))?;
        }
        None => {}
    }
    if aof.is_some() {
        // Loads the AOF a previous engine of this cache wrote (a reboot), or writes its base from
        // the data now held (a first start, an import); then every write is appended.
        redlink_engine::aof::start(&engine).map_err(data_error)?;
    }
    engine.spawn_background();
    Ok(engine)
}
