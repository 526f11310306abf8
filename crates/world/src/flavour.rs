//! Cache flavours: the two Azure Redis products, and the names, zones, group ids and ports each one
//! implies.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which Azure Redis product a cache imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    /// Azure Cache for Redis: `NAME.redis.cache.windows.net`, zone
    /// `privatelink.redis.cache.windows.net`, group id `redisCache`, ports 6380 (TLS) and 6379
    /// (non-TLS, off by default).
    #[default]
    RedisCache,
    /// Azure Managed Redis: `NAME.REGION.redis.azure.net`, zone `privatelink.redis.azure.net`, group
    /// id `redisEnterprise`, port 10000.
    ManagedRedis,
}

impl Flavour {
    /// Every flavour, for iteration.
    pub const ALL: [Flavour; 2] = [Flavour::RedisCache, Flavour::ManagedRedis];

    /// The public DNS suffix of the flavour's host names.
    pub const fn public_suffix(self) -> &'static str {
        match self {
            Flavour::RedisCache => "redis.cache.windows.net",
            Flavour::ManagedRedis => "redis.azure.net",
        }
    }

    /// The private DNS zone Azure uses for the flavour's private endpoints.
    pub const fn private_zone(self) -> &'static str {
        match self {
            Flavour::RedisCache => "privatelink.redis.cache.windows.net",
            Flavour::ManagedRedis => "privatelink.redis.azure.net",
        }
    }

    /// The private-link sub-resource ("group id") a private endpoint to this flavour names.
    pub const fn group_id(self) -> &'static str {
        match self {
            Flavour::RedisCache => "redisCache",
            Flavour::ManagedRedis => "redisEnterprise",
        }
    }

    /// The default non-TLS port.
    pub const fn default_port(self) -> u16 {
        match self {
            Flavour::RedisCache => 6379,
            Flavour::ManagedRedis => 10000,
        }
    }

    /// The default TLS port.
    pub const fn default_tls_port(self) -> u16 {
        match self {
            Flavour::RedisCache => 6380,
            Flavour::ManagedRedis => 10000,
        }
    }

    /// The name the scenario file uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Flavour::RedisCache => "redis-cache",
            Flavour::ManagedRedis => "managed-redis",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
