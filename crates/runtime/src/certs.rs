//! The world's certificate authority and the caches' server certificates. As in Azure, a cache's
//! certificate covers its public host name patterns (`*.redis.cache.windows.net` and
//! `*.geo.redis.cache.windows.net`; `*.REGION.redis.azure.net` for managed-redis) and not the
//! privatelink name, so a client verifying `NAME.privatelink.…` fails the handshake while one
//! verifying `NAME.redis.cache.windows.net` succeeds, whichever address it connected to.
//!
//! The world's CA lives only in memory (its certificate is written next to the state file, its key
//! never is), is valid for [`redlink_engine::tls::VALIDITY_DAYS`] days and is name-constrained to
//! the simulated cache domains ([`world_ca_scope`]): even a leaked key cannot vouch for any other
//! name a client trusting the world's CA might visit.

use std::sync::Arc;

use redlink_engine::tls::{CaScope, CertAuthority, server_config_from_pem};
use redlink_world::{Cache, Flavour};

use crate::error::RuntimeError;

/// The names a cache's server certificate covers.
pub fn certificate_names(cache: &Cache) -> Vec<String> {
    match (cache.flavour, &cache.region) {
        (Flavour::RedisCache, _) => vec![
            format!("*.{}", Flavour::RedisCache.public_suffix()),
            format!("*.geo.{}", Flavour::RedisCache.public_suffix()),
        ],
        (Flavour::ManagedRedis, Some(region)) => {
            vec![format!(
                "*.{region}.{}",
                Flavour::ManagedRedis.public_suffix()
            )]
        }
        (Flavour::ManagedRedis, None) => {
            vec![format!("*.{}", Flavour::ManagedRedis.public_suffix())]
        }
    }
}

/// What a world's CA may issue for: the public suffixes of every flavour (their privatelink names
/// are below them) and loopback addresses.
pub fn world_ca_scope() -> CaScope {
    let mut scope = CaScope::loopback();
    scope.dns.clear();
    for f in Flavour::ALL {
        scope.allow(f.public_suffix());
    }
    scope
}

/// One CA per world: issues each cache's certificate; its certificate is what clients trust.
pub struct WorldCa {
    ca: CertAuthority,
}

impl WorldCa {
    /// A fresh CA for the world named `name`.
    pub fn generate(name: &str) -> Result<WorldCa, RuntimeError> {
        let ca = CertAuthority::generate(&format!("redlink world CA ({name})"), &world_ca_scope())
            .map_err(|source| RuntimeError::Tls {
                what: "the world's certificate authority".to_owned(),
                source,
            })?;
        Ok(WorldCa { ca })
    }

    /// The CA certificate (PEM), for `ca.crt`.
    pub fn cert_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// A rustls server configuration with a fresh certificate for `cache`.
    pub fn server_config(&self, cache: &Cache) -> Result<Arc<rustls::ServerConfig>, RuntimeError> {
        let err = |source| RuntimeError::Tls {
            what: format!("cache {}", cache.name),
            source,
        };
        let issued = self.ca.issue(&certificate_names(cache)).map_err(err)?;
        let config = server_config_from_pem(&issued.cert_pem, &issued.key_pem).map_err(err)?;
        Ok(Arc::new(config))
    }
}
