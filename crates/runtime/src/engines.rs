//! One engine per cache, configured from the scenario: `requirepass`, `maxclients`, ACL users, and the cache's
//! TLS certificate for hand-offs on TLS ports. The engine's own listeners are never started: every
//! connection arrives through the edge.

use redlink_engine::{Config, Engine};
use redlink_world::Cache;

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

/// Starts the engine of `cache` (its background jobs run until [`Engine::shutdown`]). Must be called
/// inside a tokio runtime.
pub fn start_engine(cache: &Cache, ca: &WorldCa) -> Result<Engine, RuntimeError> {
    let mut config = Config::default();
    if let Some(pass) = &cache.requirepass {
        setting(&mut config, cache, "requirepass", pass)?;
    }
    if let Some(n) = cache.maxclients {
        setting(&mut config, cache, "maxclients", &n.to_string())?;
    }
    let engine = Engine::new(config);
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
    engine.spawn_background();
    Ok(engine)
}
