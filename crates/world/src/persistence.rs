//! A cache's data persistence and what a reboot restarts: Azure Premium's "Data persistence"
//! setting (`persistence = { rdb = "15m" }`), and the nodes a `reboot` change names.
//!
//! Kept apart from the model so the one table of RDB backup frequencies (Azure's
//! `rdb-backup-frequency`: 15, 30, 60, 360, 720, 1440 minutes) serves the scenario validator, the
//! world's JSON and the runtime's `save` schedule alike; AOF (`{ aof = "everysec" | "always" }`)
//! maps to the engine's `appendonly yes` with that `appendfsync`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How often an RDB-persisted cache takes a snapshot (Azure's `rdb-backup-frequency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RdbFrequency {
    /// Every 15 minutes.
    #[serde(rename = "15m")]
    Minutes15,
    /// Every 30 minutes.
    #[serde(rename = "30m")]
    Minutes30,
    /// Every 60 minutes.
    #[serde(rename = "60m")]
    Minutes60,
    /// Every 6 hours.
    #[serde(rename = "6h")]
    Hours6,
    /// Every 12 hours.
    #[serde(rename = "12h")]
    Hours12,
    /// Every 24 hours.
    #[serde(rename = "24h")]
    Hours24,
}

impl RdbFrequency {
    /// Every frequency Azure offers, as written in a scenario.
    pub const ALL: [RdbFrequency; 6] = [
        RdbFrequency::Minutes15,
        RdbFrequency::Minutes30,
        RdbFrequency::Minutes60,
        RdbFrequency::Hours6,
        RdbFrequency::Hours12,
        RdbFrequency::Hours24,
    ];

    /// The spelling in a scenario (`15m` … `24h`).
    pub fn as_str(self) -> &'static str {
        match self {
            RdbFrequency::Minutes15 => "15m",
            RdbFrequency::Minutes30 => "30m",
            RdbFrequency::Minutes60 => "60m",
            RdbFrequency::Hours6 => "6h",
            RdbFrequency::Hours12 => "12h",
            RdbFrequency::Hours24 => "24h",
        }
    }

    /// The interval in minutes (Azure's `rdb-backup-frequency` value).
    pub fn minutes(self) -> u32 {
        match self {
            RdbFrequency::Minutes15 => 15,
            RdbFrequency::Minutes30 => 30,
            RdbFrequency::Minutes60 => 60,
            RdbFrequency::Hours6 => 360,
            RdbFrequency::Hours12 => 720,
            RdbFrequency::Hours24 => 1440,
        }
    }

    /// Parses a scenario's spelling (`1h` is accepted for `60m`); the error lists the valid ones.
    pub fn parse(text: &str) -> Result<RdbFrequency, String> {
        if text == "1h" {
            return Ok(RdbFrequency::Minutes60);
        }
        RdbFrequency::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "rdb backup frequency {text:?} is not one Azure offers ({})",
                    RdbFrequency::ALL.map(RdbFrequency::as_str).join(", ")
                )
            })
    }
}

impl fmt::Display for RdbFrequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cache's data persistence (absent: none, as Basic and Standard caches).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Persistence {
    /// RDB snapshots at this frequency.
    Rdb(RdbFrequency),
    /// An append-only file written with this fsync policy.
    Aof(AofFsync),
}

/// How often the AOF is flushed to disk (the engine's `appendfsync`): Azure's "every second"
/// (Premium) or "always" (every write is on disk before its reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AofFsync {
    /// fsync once a second: at most about a second of writes is lost.
    Everysec,
    /// fsync before every reply: no acknowledged write is lost.
    Always,
}

impl AofFsync {
    /// The spelling in scenario files and the engine's `appendfsync` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AofFsync::Everysec => "everysec",
            AofFsync::Always => "always",
        }
    }

    /// Parses a scenario's spelling; the error lists the valid ones.
    pub fn parse(text: &str) -> Result<AofFsync, String> {
        match text {
            "everysec" => Ok(AofFsync::Everysec),
            "always" => Ok(AofFsync::Always),
            _ => Err(format!(
                "aof write policy {text:?} is not one of everysec, always"
            )),
        }
    }
}

impl Persistence {
    /// The engine's `save` setting: one save point after the interval with at least one change
    /// (a snapshot of an unchanged dataset would write the same file again).
    pub fn save_points(self) -> String {
        match self {
            Persistence::Rdb(f) => format!("{} 1", u64::from(f.minutes()) * 60),
            // The AOF is the persistence: no RDB snapshots besides its rewrites.
            Persistence::Aof(_) => String::new(),
        }
    }
}

impl fmt::Display for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Persistence::Rdb(freq) => write!(f, "RDB every {freq}"),
            Persistence::Aof(policy) => write!(f, "AOF (appendfsync {})", policy.as_str()),
        }
    }
}

/// Which nodes of a cache a reboot restarts (az's `--reboot-type`). `primary` and `replica` need a
/// replica (Standard, Premium, highly available managed-redis; see `nodes`): a single-node cache
/// refuses them with that reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebootNodes {
    /// Every node (az's `AllNodes`).
    #[default]
    All,
    /// The primary (az's `PrimaryNode`).
    Primary,
    /// The replica (az's `SecondaryNode`).
    Replica,
}

impl RebootNodes {
    /// The spelling in a change (`all`, `primary`, `replica`).
    pub fn name(self) -> &'static str {
        match self {
            RebootNodes::All => "all",
            RebootNodes::Primary => "primary",
            RebootNodes::Replica => "replica",
        }
    }

    /// az's `--reboot-type` spelling.
    pub fn az_name(self) -> &'static str {
        match self {
            RebootNodes::All => "AllNodes",
            RebootNodes::Primary => "PrimaryNode",
            RebootNodes::Replica => "SecondaryNode",
        }
    }

    /// From az's `--reboot-type` spelling.
    pub fn from_az(text: &str) -> Option<RebootNodes> {
        [RebootNodes::All, RebootNodes::Primary, RebootNodes::Replica]
            .into_iter()
            .find(|n| n.az_name().eq_ignore_ascii_case(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_parse_and_map_to_save_points() {
        assert_eq!(RdbFrequency::parse("15m"), Ok(RdbFrequency::Minutes15));
        assert_eq!(RdbFrequency::parse("1h"), Ok(RdbFrequency::Minutes60));
        assert_eq!(
            Persistence::Rdb(RdbFrequency::Hours6).save_points(),
            "21600 1"
        );
        let e = RdbFrequency::parse("5m").expect_err("not Azure's");
        assert!(e.contains("15m, 30m, 60m, 6h, 12h, 24h"), "{e}");
    }

    #[test]
    fn persistence_json_is_the_scenario_shape() {
        let p = Persistence::Rdb(RdbFrequency::Minutes30);
        let j = serde_json::to_string(&p).expect("serializes");
        assert_eq!(j, r#"{"rdb":"30m"}"#);
        assert_eq!(serde_json::from_str::<Persistence>(&j).ok(), Some(p));
    }

    #[test]
    fn reboot_types_are_azs() {
        assert_eq!(RebootNodes::from_az("allnodes"), Some(RebootNodes::All));
        assert_eq!(
            RebootNodes::from_az("SecondaryNode"),
            Some(RebootNodes::Replica)
        );
        assert_eq!(RebootNodes::from_az("Both"), None);
    }
}
