//! Server configuration with redis-server's option names and semantics.
//!
//! One declarative table ([`PARAMS`]) lists every option: its name, kind, default and whether it can
//! change at run time. The same table serves `redis.conf` files, `--name value` command-line options,
//! CONFIG GET (with glob patterns) and CONFIG SET (with Redis's exact error texts); [`ALIASES`] are
//! the old names, answering under the name asked. No silent settings: a parameter is in the table
//! only if it takes effect, or if nothing observable could change (each such case and its reason is
//! in docs/config.md); any other Redis 7.0 parameter gets redis-server's unknown-option error.
//! `tests/config_audit.rs` holds the table to that against redis-server 7.0.15's whole list. The RDB
//! options (`save`, `dir`, `dbfilename`, `rdbcompression`, `rdbchecksum`,
//! `stop-writes-on-bgsave-error`) drive [`crate::persist::rdb_save`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How an option's value is validated.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// An integer within bounds.
    Int(i64, i64),
    /// A memory size (`100mb`, `1gb`, plain bytes).
    Memory,
    /// A memory size within bounds.
    MemoryIn(i64, i64),
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <soft seconds>` groups.
    OutputBufferLimit,
    /// One of a fixed set.
    Enum(&'static [&'static str]),
    /// `yes` / `no` where `yes` is refused with this reason (a feature this build lacks, as a
    /// redis-server built without it refuses it).
    NoOnly(&'static str),
    /// `oom-score-adj-values`: three integers in -2000..=2000.
    OomScores,
    /// `proc-title-template`: text with Redis's `{variables}` only.
    ProcTitle,
    /// Free text (also lists such as `bind`).
    Text,
    /// `save`: `<seconds> <changes>` pairs, or empty for none.
    SavePoints,
    /// A file name without a directory (`dbfilename`).
    FileName,
    /// `notify-keyspace-events`: class letters, kept in Redis's canonical order.
    KeyspaceEvents,
}

/// One option.
#[derive(Debug)]
pub struct Param {
    /// Canonical name.
    pub name: &'static str,
    /// Validation.
    pub kind: Kind,
    /// Default value as CONFIG GET reports it.
    pub default: &'static str,
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Param {
    Param {
        name,
        kind,
        default,
        mutable,
    }
}

const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Every option redlink knows.
pub static PARAMS: &[Param] = &[
    p("bind", Kind::Text, "127.0.0.1 -::1", true),
    p("port", Kind::Int(0, 65535), "6379", true),
    p("tls-port", Kind::Int(0, 65535), "0", true),
    p("maxclients", Kind::Int(1, 1_000_000), "10000", true),
    p("requirepass", Kind::Text, "", true),
    p("timeout", Kind::Int(0, i32::MAX as i64), "0", true),
    p("databases", Kind::Int(1, 1_000_000), "16", false),
    p("protected-mode", Kind::Bool, "yes", true),
    p("tcp-backlog", Kind::Int(0, i32::MAX as i64), "511", false),
    p("tcp-keepalive", Kind::Int(0, i32::MAX as i64), "300", true),
    p("proto-max-bulk-len", Kind::Memory, "536870912", true),
    p(
        "client-query-buffer-limit",
        Kind::MemoryIn(1024 * 1024, i64::MAX),
        "1073741824",
        true,
    ),
    p("maxmemory", Kind::Memory, "0", true),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", true),
    p(
        "maxmemory-samples",
        Kind::Int(1, i32::MAX as i64),
        "5",
        true,
    ),
    // Redis clamps values outside 1..=500 (CONFIG GET then reports the clamped value).
    p("hz", Kind::Int(0, i32::MAX as i64), "10", true),
    p("save", Kind::SavePoints, "3600 1 300 100 60 10000", true),
    p("appendonly", Kind::Bool, "no", true),
    p(
        "appendfsync",
        Kind::Enum(&["everysec", "always", "no"]),
        "everysec",
        true,
    ),
    p("appendfilename", Kind::Text, "appendonly.aof", false),
    p("appenddirname", Kind::Text, "appendonlydir", false),
    p("aof-use-rdb-preamble", Kind::Bool, "yes", true),
    p("aof-load-truncated", Kind::Bool, "yes", true),
    p("aof-timestamp-enabled", Kind::Bool, "no", true),
    p("no-appendfsync-on-rewrite", Kind::Bool, "no", true),
    p(
        "auto-aof-rewrite-percentage",
        Kind::Int(0, i32::MAX as i64),
        "100",
        true,
    ),
    p("auto-aof-rewrite-min-size", Kind::Memory, "67108864", true),
    p("aof-rewrite-incremental-fsync", Kind::Bool, "yes", true),
    p("aof-disable-auto-gc", Kind::Bool, "no", true),
    p("dir", Kind::Text, ".", true),
    p("dbfilename", Kind::FileName, "dump.rdb", true),
    p("daemonize", Kind::Bool, "no", false),
    p("pidfile", Kind::Text, "", false),
    p("logfile", Kind::Text, "", false),
    p(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
        true,
    ),
    p(
        "supervised",
        Kind::Enum(&["no", "upstart", "systemd", "auto"]),
        "no",
        false,
    ),
    p("tls-cert-file", Kind::Text, "", true),
    p("tls-key-file", Kind::Text, "", true),
    p("tls-ca-cert-file", Kind::Text, "", true),
    p(
        "tls-auth-clients",
        Kind::Enum(&["no", "yes", "optional"]),
        "yes",
        true,
    ),
    p("busy-reply-threshold", Kind::Int(0, i64::MAX), "5000", true),
    p("notify-keyspace-events", Kind::KeyspaceEvents, "", true),
    p(
        "slowlog-log-slower-than",
        Kind::Int(-1, i64::MAX),
        "10000",
        true,
    ),
    p("slowlog-max-len", Kind::Int(0, i64::MAX), "128", true),
    p(
        "latency-monitor-threshold",
        Kind::Int(0, i64::MAX),
        "0",
        true,
    ),
    p(
        "client-output-buffer-limit",
        Kind::OutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
    p(
        "hash-max-listpack-entries",
        Kind::Int(0, i64::MAX),
        "512",
        true,
    ),
    p(
        "hash-max-listpack-value",
        Kind::MemoryIn(0, i64::MAX),
        "64",
        true,
    ),
    p(
        "list-max-listpack-size",
        Kind::Int(i32::MIN as i64, i32::MAX as i64),
        "-2",
        true,
    ),
    p(
        "set-max-intset-entries",
        Kind::Int(0, i64::MAX),
        "512",
        true,
    ),
    p(
        "set-max-listpack-entries",
        Kind::Int(0, i64::MAX),
        "128",
        true,
    ),
    p(
        "zset-max-listpack-entries",
        Kind::Int(0, i64::MAX),
        "128",
        true,
    ),
    p(
        "zset-max-listpack-value",
        Kind::MemoryIn(0, i64::MAX),
        "64",
        true,
    ),
    p("activerehashing", Kind::Bool, "yes", true),
    p("lazyfree-lazy-user-del", Kind::Bool, "no", true),
    p(
        "enable-debug-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        false,
    ),
    p("io-threads", Kind::Int(1, 128), "1", false),
    p("repl-diskless-sync", Kind::Bool, "yes", true),
    p("stop-writes-on-bgsave-error", Kind::Bool, "yes", true),
    p("rdbcompression", Kind::Bool, "yes", true),
    p("rdbchecksum", Kind::Bool, "yes", false),
    // redlink never writes the RDB files replication uses, so there is never one to delete.
    p("rdb-del-sync-files", Kind::Bool, "no", true),
    // Redis 7.0's parameters added by the audit (docs/config.md says what each does here).
    p("acllog-max-len", Kind::Int(0, i64::MAX), "128", true),
    p("active-expire-effort", Kind::Int(1, 10), "1", true),
    p("activedefrag", Kind::NoOnly(NO_DEFRAG), "no", true),
    p("active-defrag-cycle-min", Kind::Int(1, 99), "1", true),
    p("active-defrag-cycle-max", Kind::Int(1, 99), "25", true),
    p(
        "active-defrag-threshold-lower",
        Kind::Int(0, 1000),
        "10",
        true,
    ),
    p(
        "active-defrag-threshold-upper",
        Kind::Int(0, 1000),
        "100",
        true,
    ),
    p(
        "active-defrag-ignore-bytes",
        Kind::MemoryIn(1, i64::MAX),
        "104857600",
        true,
    ),
    p(
        "active-defrag-max-scan-fields",
        Kind::Int(1, i64::MAX),
        "1000",
        true,
    ),
    p("jemalloc-bg-thread", Kind::Bool, "yes", true),
    p("always-show-logo", Kind::Bool, "no", false),
    p("set-proc-title", Kind::Bool, "yes", false),
    p(
        "proc-title-template",
        Kind::ProcTitle,
        "{title} {listen-addr} {server-mode}",
        true,
    ),
    p("disable-thp", Kind::Bool, "yes", false),
    p(
        "oom-score-adj",
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        "no",
        true,
    ),
    p("oom-score-adj-values", Kind::OomScores, "0 200 800", true),
    p("io-threads-do-reads", Kind::Bool, "no", false),
    p("dynamic-hz", Kind::Bool, "yes", true),
    p("lazyfree-lazy-eviction", Kind::Bool, "no", true),
    p("lazyfree-lazy-expire", Kind::Bool, "no", true),
    p("lazyfree-lazy-server-del", Kind::Bool, "no", true),
    p("lazyfree-lazy-user-flush", Kind::Bool, "no", true),
    p("lfu-log-factor", Kind::Int(0, i32::MAX as i64), "10", true),
    p("lfu-decay-time", Kind::Int(0, i32::MAX as i64), "1", true),
    p(
        "list-compress-depth",
        Kind::Int(0, i32::MAX as i64),
        "0",
        true,
    ),
    p(
        "hll-sparse-max-bytes",
        Kind::MemoryIn(0, i64::MAX),
        "3000",
        true,
    ),
    p(
        "stream-node-max-bytes",
        Kind::MemoryIn(0, i64::MAX),
        "4096",
        true,
    ),
    p(
        "stream-node-max-entries",
        Kind::Int(0, i64::MAX),
        "100",
        true,
    ),
    p("ignore-warnings", Kind::Text, "", true),
    p(
        "tracking-table-max-keys",
        Kind::Int(0, i64::MAX),
        "1000000",
        true,
    ),
    p(
        "min-replicas-to-write",
        Kind::Int(0, i32::MAX as i64),
        "0",
        true,
    ),
    p(
        "min-replicas-max-lag",
        Kind::Int(0, i32::MAX as i64),
        "10",
        true,
    ),
    // Replication (crate::replication; docs/config.md says which are honoured and how).
    p("replicaof", Kind::Text, "", false),
    p("masterauth", Kind::Text, "", true),
    p("masteruser", Kind::Text, "", true),
    p(
        "repl-backlog-size",
        Kind::MemoryIn(1, i64::MAX),
        "1048576",
        true,
    ),
    p("repl-backlog-ttl", Kind::Int(0, i64::MAX), "3600", true),
    p("repl-timeout", Kind::Int(1, i32::MAX as i64), "60", true),
    p(
        "repl-ping-replica-period",
        Kind::Int(1, i32::MAX as i64),
        "10",
        true,
    ),
    p("replica-announce-ip", Kind::Text, "", true),
    p("replica-announce-port", Kind::Int(0, 65535), "0", true),
    p("replica-announced", Kind::Bool, "yes", true),
    p("replica-serve-stale-data", Kind::Bool, "yes", true),
    p("replica-read-only", Kind::Bool, "yes", true),
    p("replica-lazy-flush", Kind::Bool, "no", true),
    p(
        "replica-priority",
        Kind::Int(0, i32::MAX as i64),
        "100",
        true,
    ),
    p(
        "repl-diskless-sync-delay",
        Kind::Int(0, i32::MAX as i64),
        "5",
        true,
    ),
    p(
        "repl-diskless-sync-max-replicas",
        Kind::Int(0, i32::MAX as i64),
        "0",
        true,
    ),
    p(
        "repl-diskless-load",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
        true,
    ),
    p("repl-disable-tcp-nodelay", Kind::Bool, "no", true),
];

/// Why `activedefrag yes` is refused: redis-server's text when built without its own jemalloc (as
/// Debian's 7.0.15 is); redlink has no defragmenter either.
const NO_DEFRAG: &str = "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution";

/// Other names Redis 7.0 accepts for a parameter (alias, canonical name). CONFIG GET answers under
/// the name asked for and `CONFIG GET *` lists both, as Redis 7 does.
pub static ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-read-only", "replica-read-only"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slaveof", "replicaof"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
];

/// Options CONFIG SET refuses while `enable-protected-configs` is `no` (its default, and the only
/// value redlink has): they name files the server writes.
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// The canonical spelling of a name (aliases resolved, lower case).
fn canonical(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match ALIASES.iter().find(|(alias, _)| *alias == lower) {
        Some((_, canonical)) => canonical.to_string(),
        None => lower,
    }
}

/// Whether CONFIG SET may change an option (`None`: unknown).
pub fn mutable(name: &str) -> Option<bool> {
    param(name).map(|p| p.mutable)
}

/// The canonical name of an option given by any spelling or alias (`None`: unknown).
pub fn canonical_name(name: &str) -> Option<&'static str> {
    param(name).map(|p| p.name)
}

fn param(name: &str) -> Option<&'static Param> {
    let name = canonical(name);
    PARAMS.iter().find(|p| p.name == name)
}

/// Parse a memory size like Redis's `memtoull`: `1gb`, `100mb`, `10k`, `5`.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let units: [(&str, i64); 8] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                if suffix.is_empty() {
                    return None;
                }
                continue;
            }
            return num.parse::<i64>().ok()?.checked_mul(mul);
        }
    }
    None
}

/// The client classes of `client-output-buffer-limit`, in the order CONFIG GET lists them.
pub const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// One class of `client-output-buffer-limit`: a client whose pending output exceeds `hard` bytes, or
/// stays above `soft` bytes for more than `soft_seconds`, is disconnected (0 = no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputBufferLimit {
    /// Hard limit, bytes.
    pub hard: u64,
    /// Soft limit, bytes.
    pub soft: u64,
    /// How long the soft limit may be exceeded, seconds.
    pub soft_seconds: u64,
}

/// Parse `client-output-buffer-limit` groups like Redis's `updateClientOutputBufferLimit`: returns
/// (class index in [`OBUF_CLASSES`], limit) per group, or Redis's error text.
pub fn parse_output_buffer_limits(value: &str) -> Result<Vec<(usize, OutputBufferLimit)>, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = Vec::new();
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into());
            }
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(group[1]).filter(|v| *v >= 0).ok_or_else(bad)?;
        let soft = parse_memory(group[2]).filter(|v| *v >= 0).ok_or_else(bad)?;
        let soft_seconds = group[3]
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or_else(bad)?;
        out.push((
            class,
            OutputBufferLimit {
                hard: hard as u64,
                soft: soft as u64,
                soft_seconds: soft_seconds as u64,
            },
        ));
    }
    Ok(out)
}

/// A CONFIG SET / startup option error, already in Redis's wording after the option name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The option does not exist.
    #[error("Unknown option or number of arguments for CONFIG SET - '{0}'")]
    Unknown(String),
    /// The option cannot change at run time.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - can't set immutable config")]
    Immutable(String),
    /// The option names a file the server writes (`enable-protected-configs no`).
    #[error("CONFIG SET failed (possibly related to argument '{0}') - can't set protected config")]
    Protected(String),
    /// The value is not valid for the option.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - {1}")]
    Invalid(String, String),
}

/// A configuration: every option's current value, as text.
#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// Whether `bind` was given explicitly (protected mode applies only without it).
    pub bind_explicit: bool,
    /// `--tls-auto DIR`: generate a CA and server certificate there.
    pub tls_auto: Option<PathBuf>,
    /// Extra host names for the generated certificate.
    pub tls_hostnames: Vec<String>,
    /// `--busy-poll MICROS`: the longest busy-polling window after a read
    /// ([`crate::busy_poll`]; 0 = off; `None`: not given, the default).
    pub busy_poll_micros: Option<u64>,
    /// `user NAME RULES...` directives, in order (ACL SETUSER rules).
    pub users: Vec<(String, String)>,
    /// Commands switched off by `rename-command NAME ""`.
    pub disabled_commands: Vec<String>,
    /// The configuration file `serve` was started with (INFO's `config_file`, CONFIG REWRITE).
    pub file: Option<PathBuf>,
    /// `save` directives read so far (the first replaces the default, later ones add).
    save_lines: usize,
    /// `notify-keyspace-events` as flags ([`crate::notify::class`]): its text form can hide `n`.
    pub keyspace_events: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            values: PARAMS
                .iter()
                .map(|p| (p.name, p.default.to_string()))
                .collect(),
            bind_explicit: false,
            tls_auto: None,
            tls_hostnames: Vec::new(),
            busy_poll_micros: None,
            users: Vec::new(),
            disabled_commands: Vec::new(),
            file: None,
            save_lines: 0,
            keyspace_events: 0,
        }
    }
}

/// A memory value within bounds, with Redis's texts: digits too large for the range are a range
/// error, anything else unparsable (or negative) is not a memory value.
fn memory_in(value: &str, min: i64, max: i64) -> Result<String, String> {
    let range = || format!("argument must be between {min} and {max} inclusive");
    // Redis's `memtoull` reads an empty value as 0.
    let v = match parse_memory(value).or_else(|| value.is_empty().then_some(0)) {
        Some(v) if v >= 0 => v,
        None if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(range());
        }
        _ => return Err("argument must be a memory value".into()),
    };
    if v < min || v > max {
        return Err(range());
    }
    Ok(v.to_string())
}

fn validate(p: &Param, value: &str) -> Result<String, String> {
    match p.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let v: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::Memory => memory_in(value, 0, i64::MAX),
        Kind::MemoryIn(min, max) => memory_in(value, min, max),
        // Merged into the current value by `set_startup`.
        Kind::OutputBufferLimit => parse_output_buffer_limits(value).map(|_| value.to_string()),
        Kind::Enum(options) => {
            let lower = value.to_ascii_lowercase();
            if options.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(format!(
                    "argument(s) must be one of the following: {}",
                    options.join(", ")
                ))
            }
        }
        Kind::NoOnly(reason) => match value.to_ascii_lowercase().as_str() {
            "no" => Ok("no".into()),
            "yes" => Err(reason.into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::OomScores => {
            let values: Vec<i64> = value
                .split_whitespace()
                .map(|v| v.parse::<i64>().ok().filter(|v| (-2000..=2000).contains(v)))
                .collect::<Option<_>>()
                .filter(|v: &Vec<i64>| v.len() == 3)
                .ok_or_else(|| {
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                        .to_string()
                })?;
            Ok(values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" "))
        }
        Kind::ProcTitle => {
            const VARIABLES: &[&str] = &[
                "title",
                "listen-addr",
                "server-mode",
                "port",
                "tls-port",
                "unixsocket",
                "config-file",
            ];
            let invalid = || "template format is invalid or contains unknown variables".to_string();
            let mut rest = value;
            while let Some(open) = rest.find('{') {
                if rest[..open].contains('}') {
                    return Err(invalid());
                }
                let close = rest[open..].find('}').ok_or_else(invalid)? + open;
                if !VARIABLES.contains(&&rest[open + 1..close]) {
                    return Err(invalid());
                }
                rest = &rest[close + 1..];
            }
            if value.trim().is_empty() || rest.contains('}') {
                return Err(invalid());
            }
            Ok(value.to_string())
        }
        Kind::Text => Ok(value.to_string()),
        Kind::SavePoints => {
            let words: Vec<&str> = value.split_whitespace().collect();
            if !words.len().is_multiple_of(2)
                || words
                    .iter()
                    .any(|w| w.parse::<i64>().map_or(true, |v| v < 0))
            {
                return Err("Invalid save parameters".into());
            }
            Ok(words.join(" "))
        }
        Kind::FileName => {
            if value.contains('/') {
                Err("dbfilename can't be a path, just a filename".into())
            } else {
                Ok(value.to_string())
            }
        }
        Kind::KeyspaceEvents => crate::notify::parse(value).map(crate::notify::to_text),
    }
}

impl Config {
    /// `busy-reply-threshold` (alias `lua-time-limit`) in milliseconds.
    pub fn busy_reply_threshold(&self) -> u64 {
        self.int("busy-reply-threshold").max(0) as u64
    }

    /// The current value of an option (canonical or alias name).
    pub fn get(&self, name: &str) -> Option<&str> {
        param(name).and_then(|p| self.values.get(p.name).map(|s| s.as_str()))
    }

    fn int(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// An integer-valued option's current value (0 when it is not a number).
    pub fn number(&self, name: &str) -> i64 {
        self.int(name)
    }

    /// Set an option at startup (immutable ones allowed).
    pub fn set_startup(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p = param(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        // Errors name the parameter as it was asked for (an alias stays an alias), as Redis does.
        let mut v = validate(p, value).map_err(|e| ConfigError::Invalid(name.to_string(), e))?;
        if p.name == "hz" {
            v = v.parse::<i64>().unwrap_or(10).clamp(1, 500).to_string();
        }
        // Redis raises a smaller backlog to its minimum (CONFIG_REPL_BACKLOG_MIN_SIZE).
        if p.name == "repl-backlog-size" {
            v = v
                .parse::<i64>()
                .unwrap_or(1 << 20)
                .max(16 * 1024)
                .to_string();
        }
        if matches!(p.kind, Kind::OutputBufferLimit) {
            // Only the classes named change, like Redis; the stored text lists all three.
            let mut limits = self.output_buffer_limits();
            for (class, limit) in parse_output_buffer_limits(value).unwrap_or_default() {
                limits[class] = limit;
            }
            v = OBUF_CLASSES
                .iter()
                .zip(limits.iter())
                .map(|(c, l)| format!("{c} {} {} {}", l.hard, l.soft, l.soft_seconds))
                .collect::<Vec<_>>()
                .join(" ");
        }
        if p.name == "bind" {
            self.bind_explicit = true;
        }
        if matches!(p.kind, Kind::KeyspaceEvents) {
            self.keyspace_events = crate::notify::parse(value).unwrap_or(0);
        }
        // `lua-time-limit` is the old name of `busy-reply-threshold`: both report the same value.
        match p.name {
            "lua-time-limit" => {
                self.values.insert("busy-reply-threshold", v.clone());
            }
            "busy-reply-threshold" => {
                self.values.insert("lua-time-limit", v.clone());
            }
            _ => {}
        }
        self.values.insert(p.name, v);
        Ok(())
    }

    /// CONFIG SET of one option.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p = param(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        if !p.mutable {
            return Err(ConfigError::Immutable(name.to_string()));
        }
        if PROTECTED.contains(&p.name) {
            return Err(ConfigError::Protected(p.name.to_string()));
        }
        self.set_startup(name, value)
    }

    /// CONFIG GET: every (name, value) whose name, canonical or alias, matches one of the glob
    /// `patterns` (an alias answers under its own name).
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let names = PARAMS
            .iter()
            .map(|p| (p.name, p.name))
            .chain(ALIASES.iter().copied());
        let mut out: Vec<(&'static str, String)> = Vec::new();
        for (name, canonical) in names {
            if patterns
                .iter()
                .any(|pat| crate::glob::matches_nocase(pat, name.as_bytes()))
            {
                out.push((
                    name,
                    self.values.get(canonical).cloned().unwrap_or_default(),
                ));
            }
        }
        out
    }

    /// Addresses to listen on (`-` prefixed ones are optional).
    pub fn bind(&self) -> Vec<String> {
        self.get("bind")
            .unwrap_or("")
            .split_whitespace()
            .map(|s| s.to_string())
            .collect()
    }

    /// Plain TCP port (0 = none).
    pub fn port(&self) -> u16 {
        self.int("port") as u16
    }

    /// TLS port (0 = none).
    pub fn tls_port(&self) -> u16 {
        self.int("tls-port") as u16
    }

    /// Maximum simultaneous clients.
    pub fn maxclients(&self) -> usize {
        self.int("maxclients") as usize
    }

    /// The default user's password, if any.
    pub fn requirepass(&self) -> Option<&str> {
        self.get("requirepass").filter(|s| !s.is_empty())
    }

    /// Idle seconds before a client is closed (0 = never).
    pub fn timeout(&self) -> u64 {
        self.int("timeout") as u64
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.int("databases") as usize
    }

    /// Largest accepted bulk.
    pub fn proto_max_bulk_len(&self) -> i64 {
        self.int("proto-max-bulk-len")
    }

    /// Largest query buffer before a client is closed.
    pub fn client_query_buffer_limit(&self) -> usize {
        self.int("client-query-buffer-limit") as usize
    }

    /// `client-output-buffer-limit` per class, in [`OBUF_CLASSES`] order.
    pub fn output_buffer_limits(&self) -> [OutputBufferLimit; 3] {
        let mut limits = [OutputBufferLimit::default(); 3];
        let v = self.get("client-output-buffer-limit").unwrap_or("");
        for (class, limit) in parse_output_buffer_limits(v).unwrap_or_default() {
            limits[class] = limit;
        }
        limits
    }

    /// `maxmemory` in bytes (0 = no limit).
    pub fn maxmemory(&self) -> u64 {
        self.int("maxmemory").max(0) as u64
    }

    /// `maxmemory-samples`.
    pub fn maxmemory_samples(&self) -> usize {
        self.int("maxmemory-samples").max(1) as usize
    }

    /// Whether protected mode is on.
    pub fn protected_mode(&self) -> bool {
        self.get("protected-mode") == Some("yes")
    }

    /// A path-valued option, if set.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).filter(|s| !s.is_empty()).map(PathBuf::from)
    }

    /// Apply a redis.conf-style text (`name value...` lines, `#` comments, quoted values,
    /// `include`): every problem, one per line, each with `origin:line:` (see [`crate::conffile`]).
    pub fn apply_text(&mut self, text: &str, origin: &Path) -> Result<(), String> {
        crate::conffile::load_text(self, text, &origin.display().to_string())
            .map_err(|problems| problems.join("\n"))
    }

    /// Apply one directive with its values (from a file line or `--name v1 v2`).
    pub fn apply_option(&mut self, name: &str, values: &[String]) -> Result<(), String> {
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            "save" => {
                // `save ""` disables snapshots; the first `save` line replaces the default and
                // later ones add their points, as redis-server reads them.
                let mut joined = values.join(" ");
                if self.save_lines > 0 && !joined.is_empty() {
                    let before = self.get("save").unwrap_or("").to_string();
                    if !before.is_empty() {
                        joined = format!("{before} {joined}");
                    }
                }
                self.save_lines += 1;
                return self.set_startup("save", &joined).map_err(|e| e.to_string());
            }
            // An ACL user, as `ACL SETUSER` would make it (checked now, created by the engine).
            "user" => {
                let Some((user, rules)) = values.split_first() else {
                    return Err("wrong number of arguments".into());
                };
                let rules = rules.join(" ");
                crate::acl::Acl::default().set_user_rules(user, &rules)?;
                self.users.push((user.clone(), rules));
                return Ok(());
            }
            // `rename-command NAME ""` switches a command off ([`crate::disabled`]); renaming a
            // command to another name is not supported.
            "rename-command" => {
                return match values {
                    [command, to] if to.is_empty() => {
                        self.disabled_commands.push(command.to_ascii_lowercase());
                        Ok(())
                    }
                    [_, _] => Err(
                        "rename-command to another name is not supported by redlink (only rename-command NAME \"\", which disables it)"
                            .into(),
                    ),
                    _ => Err("wrong number of arguments".into()),
                };
            }
            // `replicaof HOST PORT`: followed when the engine starts (loopback primaries only).
            "replicaof" | "slaveof" => {
                let [host, port] = values else {
                    return Err(format!(
                        "'{lname}': wrong number of arguments (replicaof HOST PORT)"
                    ));
                };
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("'{lname} {host} {port}': Invalid master port"))?;
                crate::replication::loopback_addr(host, port).map_err(|e| {
                    format!(
                        "'{lname} {host} {port}': {}",
                        e.to_string().trim_start_matches("ERR ")
                    )
                })?;
            }
            _ => {}
        }
        let Some(p) = param(&lname) else {
            return Err(format!("unsupported directive '{lname}'"));
        };
        if values.is_empty() && !matches!(p.kind, Kind::Text) {
            return Err(format!("'{lname}': wrong number of arguments"));
        }
        let joined = values.join(" ");
        self.set_startup(p.name, &joined).map_err(|e| match e {
            ConfigError::Invalid(_, msg) => format!("'{lname} {joined}': {msg}"),
            other => other.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("100MB"), Some(100 << 20));
        assert_eq!(parse_memory("10k"), Some(10_000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn set_errors_use_redis_text() {
        let mut c = Config::default();
        assert_eq!(
            c.set("nosuch", "1").unwrap_err().to_string(),
            "Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        assert_eq!(
            c.set("databases", "4").unwrap_err().to_string(),
            "CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
        );
        assert_eq!(
            c.set("maxclients", "abc").unwrap_err().to_string(),
            "CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
        );
        c.set("maxclients", "5").unwrap();
        assert_eq!(c.maxclients(), 5);
        c.set("maxmemory", "1mb").unwrap();
        assert_eq!(c.get("maxmemory"), Some("1048576"));
    }

    #[test]
    fn conf_file() {
        let mut c = Config::default();
        c.apply_text(
            "# comment\nport 7000\nbind 127.0.0.1 127.0.0.2\nrequirepass \"s3 cret\"\nsave \"\"\n",
            Path::new("redis.conf"),
        )
        .unwrap();
        assert_eq!(c.port(), 7000);
        assert_eq!(c.bind(), vec!["127.0.0.1", "127.0.0.2"]);
        assert_eq!(c.requirepass(), Some("s3 cret"));
        assert_eq!(c.get("save"), Some(""));
        let err = c
            .apply_text("port 1\nmaxclients lots\n", Path::new("r.conf"))
            .unwrap_err();
        assert!(err.starts_with("r.conf:2:"), "{err}");
    }

    #[test]
    fn output_buffer_limit_round_trips_like_redis() {
        let mut c = Config::default();
        let name = "client-output-buffer-limit";
        c.set(name, "pubsub 1mb 2mb 3").unwrap();
        assert_eq!(
            c.get(name),
            Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 3")
        );
        c.set(name, "replica 1gb 2gb 10 NORMAL 1 2 3").unwrap();
        assert_eq!(
            c.get(name),
            Some("normal 1 2 3 slave 1073741824 2147483648 10 pubsub 1048576 2097152 3")
        );
        c.set(name, "pubsub 1k 1K 1").unwrap();
        assert_eq!(c.output_buffer_limits()[2].hard, 1000);
        let err = |c: &mut Config, v: &str| c.set(name, v).unwrap_err().to_string();
        let prefix =
            "CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - ";
        assert_eq!(
            err(&mut c, "pubsub 1mb"),
            format!("{prefix}Wrong number of arguments in buffer limit configuration.")
        );
        assert_eq!(
            err(&mut c, "master 1 1 1"),
            format!("{prefix}Invalid client class specified in buffer limit configuration.")
        );
        assert_eq!(
            err(&mut c, "pubsub 1 1 -1"),
            format!(
                "{prefix}Error in hard, soft or soft_seconds setting in buffer limit configuration."
            )
        );
        c.set(name, "").unwrap();
        assert_eq!(c.output_buffer_limits()[2].soft_seconds, 1);
        assert_eq!(
            c.set("client-query-buffer-limit", "1000")
                .unwrap_err()
                .to_string(),
            "CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive"
        );
    }
}
