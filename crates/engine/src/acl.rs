//! ACL users with Redis 7.0's semantics: each user has a state (on/off), passwords (SHA-256 hashes),
//! allowed commands (by command, `cmd|subcommand` and `@category`), key patterns (`~`, `%R~`, `%W~`)
//! and channel patterns (`&`). `default` always exists and follows `requirepass`.
//!
//! Why here: authentication and permission checks sit on the command path of every client, so the
//! users live in the engine (one [`Acl`] per engine) and the `ACL` command (`commands/acl.rs`) only
//! reads and edits them. The hot path stays cheap: a client keeps an `Arc<User>` snapshot that it
//! refreshes only when [`Acl::epoch`] changes, and a user allowed everything (`+@all ~* &*`, the
//! default user) is marked [`User::unrestricted`] so its commands skip every pattern check.
//!
//! The rule texts `ACL LIST`/`GETUSER` show are Redis 7.0's: command rules are kept in the order they
//! were given (a repeated rule moves to the end) and rules that change nothing are left out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::commands::{Command, TABLE, flag};

/// ACL categories, in `ACL CAT` order (Redis 7.0).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Commands Redis puts in `@dangerous` (besides every `admin` command).
const DANGEROUS: &[&str] = &[
    "flushall",
    "flushdb",
    "keys",
    "info",
    "sort",
    "swapdb",
    "shutdown",
    "monitor",
    "debug",
    "config",
    "role",
    "lastsave",
    "save",
    "bgsave",
    "migrate",
    "restore",
    "pfdebug",
    "pfselftest",
    "sort_ro",
    "acl",
];

/// Commands Redis puts in `@admin` although redlink's table has no `admin` flag on them.
const ADMIN: &[&str] = &[
    "role",
    "lastsave",
    "pfdebug",
    "pfselftest",
    "save",
    "bgsave",
    "monitor",
    "debug",
    "shutdown",
];

/// Commands Redis puts in `@connection` outside the `connection` group.
const CONNECTION: &[&str] = &["command", "wait"];

/// The ACL categories of a command (names without `@`), derived from its flags and group in this
/// one place, plus the explicit lists above where Redis's assignment does not follow the flags.
pub fn categories(c: &Command) -> Vec<&'static str> {
    if is_container(c) {
        // Like Redis, a container (CONFIG, CLIENT...) itself is only `@slow`: its subcommands
        // carry the categories (see `SUBCOMMANDS`); COMMAND is also `@connection`.
        let mut cats = vec!["slow"];
        if CONNECTION.contains(&c.name) {
            cats.push("connection");
        }
        return cats;
    }
    let mut cats: Vec<&'static str> = Vec::new();
    let f = c.flags;
    let name = c.name;
    let keyspace_free = matches!(name, "sort" | "sort_ro");
    match c.group {
        "generic" if !keyspace_free && c.flags & flag::CONNECTION == 0 => cats.push("keyspace"),
        "server" if matches!(name, "dbsize" | "flushdb" | "flushall" | "swapdb") => {
            cats.push("keyspace")
        }
        _ => {}
    }
    // Scripts' read-only variants (EVAL_RO...) are flagged readonly but are only @scripting.
    if f & flag::READONLY != 0 && c.group != "scripting" {
        cats.push("read");
    }
    if f & flag::WRITE != 0 {
        cats.push("write");
    }
    match c.group {
        "set" => cats.push("set"),
        "sorted_set" | "sorted-set" => cats.push("sortedset"),
        "list" => cats.push("list"),
        "hash" => cats.push("hash"),
        "string" => cats.push("string"),
        "bitmap" => cats.push("bitmap"),
        "hyperloglog" => cats.push("hyperloglog"),
        "geo" => cats.push("geo"),
        "stream" => cats.push("stream"),
        "pubsub" => cats.push("pubsub"),
        _ => {}
    }
    if keyspace_free {
        cats.extend(["set", "sortedset", "list"]);
    }
    let admin = f & flag::ADMIN != 0 || ADMIN.contains(&name);
    if admin {
        cats.push("admin");
    }
    if f & flag::FAST != 0 {
        cats.push("fast");
    } else {
        cats.push("slow");
    }
    if f & flag::BLOCKING != 0 {
        cats.push("blocking");
    }
    if admin || DANGEROUS.contains(&name) {
        cats.push("dangerous");
    }
    if CONNECTION.contains(&name) {
        cats.push("connection");
    }
    match c.group {
        "connection" => cats.push("connection"),
        "transactions" => cats.push("transaction"),
        "scripting" => cats.push("scripting"),
        _ => {}
    }
    cats.dedup();
    cats
}

/// Whether `c` is in category `cat` (no `@`).
pub fn in_category(c: &Command, cat: &str) -> bool {
    categories(c).contains(&cat)
}

/// The bits of category `cat`: its commands, containers and subcommands (`config|get`).
fn category_units(cat: &str) -> Vec<String> {
    category_members(cat)
}

/// The commands and subcommands (`config|get`) in category `cat`, as ACL CAT lists them.
pub fn category_members(cat: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in TABLE.values() {
        if is_container(c) {
            if in_category(c, cat) {
                names.push(c.name.to_string());
            }
            names.extend(
                subcommands(c.name)
                    .filter(|(_, cats)| cats.split(' ').any(|x| x == cat))
                    .map(|(sub, _)| format!("{}|{sub}", c.name)),
            );
        } else if in_category(c, cat) {
            names.push(c.name.to_string());
        }
    }
    names.sort_unstable();
    names
}

/// Whether a command is a container of subcommands (CONFIG GET, CLIENT LIST...).
fn is_container(c: &Command) -> bool {
    (c.summary.starts_with("A container for") && c.name != "debug") || c.name == "command"
}

/// The subcommands of the container commands as Redis 7.0.15 knows them (plus CLIENT SETINFO and
/// NO-TOUCH, which redlink serves like 7.2), with their ACL categories: rules may name them
/// (`+config|get`), categories apply to them one by one (`-@dangerous` denies `config|set` but not
/// `acl|whoami`), and a container called with any other first argument is left to its handler's
/// "unknown subcommand" error, as in Redis, where the command lookup fails before the ACL check.
const SUBCOMMANDS: &[(&str, &str)] = &[
    ("acl|users", "admin slow dangerous"),
    ("acl|dryrun", "admin slow dangerous"),
    ("acl|deluser", "admin slow dangerous"),
    ("acl|load", "admin slow dangerous"),
    ("acl|help", "slow"),
    ("acl|cat", "slow"),
    ("acl|log", "admin slow dangerous"),
    ("acl|list", "admin slow dangerous"),
    ("acl|save", "admin slow dangerous"),
    ("acl|getuser", "admin slow dangerous"),
    ("acl|genpass", "slow"),
    ("acl|setuser", "admin slow dangerous"),
    ("acl|whoami", "slow"),
    ("client|info", "slow connection"),
    ("client|unpause", "admin slow dangerous connection"),
    ("client|tracking", "slow connection"),
    ("client|id", "slow connection"),
    ("client|getredir", "slow connection"),
    ("client|pause", "admin slow dangerous connection"),
    ("client|unblock", "admin slow dangerous connection"),
    ("client|no-evict", "admin slow dangerous connection"),
    ("client|help", "slow connection"),
    ("client|setname", "slow connection"),
    ("client|trackinginfo", "slow connection"),
    ("client|getname", "slow connection"),
    ("client|list", "admin slow dangerous connection"),
    ("client|caching", "slow connection"),
    ("client|reply", "slow connection"),
    ("client|kill", "admin slow dangerous connection"),
    ("command|info", "slow connection"),
    ("command|count", "slow connection"),
    ("command|getkeys", "slow connection"),
    ("command|list", "slow connection"),
    ("command|docs", "slow connection"),
    ("command|getkeysandflags", "slow connection"),
    ("command|help", "slow connection"),
    ("config|get", "admin slow dangerous"),
    ("config|resetstat", "admin slow dangerous"),
    ("config|rewrite", "admin slow dangerous"),
    ("config|set", "admin slow dangerous"),
    ("config|help", "slow"),
    ("memory|doctor", "slow"),
    ("memory|purge", "slow"),
    ("memory|help", "slow"),
    ("memory|usage", "read slow"),
    ("memory|malloc-stats", "slow"),
    ("memory|stats", "slow"),
    ("object|idletime", "keyspace read slow"),
    ("object|encoding", "keyspace read slow"),
    ("object|help", "keyspace slow"),
    ("object|freq", "keyspace read slow"),
    ("object|refcount", "keyspace read slow"),
    ("pubsub|numsub", "pubsub slow"),
    ("pubsub|help", "slow"),
    ("pubsub|shardnumsub", "pubsub slow"),
    ("pubsub|channels", "pubsub slow"),
    ("pubsub|numpat", "pubsub slow"),
    ("pubsub|shardchannels", "pubsub slow"),
    ("client|setinfo", "slow connection"),
    ("slowlog|get", "admin slow dangerous"),
    ("slowlog|len", "admin slow dangerous"),
    ("slowlog|reset", "admin slow dangerous"),
    ("slowlog|help", "slow"),
    ("latency|doctor", "admin slow dangerous"),
    ("latency|graph", "admin slow dangerous"),
    ("latency|history", "admin slow dangerous"),
    ("latency|latest", "admin slow dangerous"),
    ("latency|reset", "admin slow dangerous"),
    ("latency|help", "slow"),
    ("client|no-touch", "slow connection"),
    ("cluster|addslots", "admin dangerous slow"),
    ("cluster|addslotsrange", "admin dangerous slow"),
    ("cluster|bumpepoch", "admin dangerous slow"),
    ("cluster|count-failure-reports", "admin dangerous slow"),
    ("cluster|countkeysinslot", "slow"),
    ("cluster|delslots", "admin dangerous slow"),
    ("cluster|delslotsrange", "admin dangerous slow"),
    ("cluster|failover", "admin dangerous slow"),
    ("cluster|flushslots", "admin dangerous slow"),
    ("cluster|forget", "admin dangerous slow"),
    ("cluster|getkeysinslot", "slow"),
    ("cluster|help", "slow"),
    ("cluster|info", "slow"),
    ("cluster|keyslot", "slow"),
    ("cluster|links", "slow"),
    ("cluster|meet", "admin dangerous slow"),
    ("cluster|myid", "slow"),
    ("cluster|nodes", "slow"),
    ("cluster|replicas", "admin dangerous slow"),
    ("cluster|replicate", "admin dangerous slow"),
    ("cluster|reset", "admin dangerous slow"),
    ("cluster|saveconfig", "admin dangerous slow"),
    ("cluster|set-config-epoch", "admin dangerous slow"),
    ("cluster|setslot", "admin dangerous slow"),
    ("cluster|shards", "slow"),
    ("cluster|slaves", "admin dangerous slow"),
    ("cluster|slots", "slow"),
    ("script|debug", "slow scripting"),
    ("script|exists", "slow scripting"),
    ("script|flush", "slow scripting"),
    ("script|help", "slow scripting"),
    ("script|kill", "slow scripting"),
    ("script|load", "slow scripting"),
    ("function|delete", "write slow scripting"),
    ("function|dump", "slow scripting"),
    ("function|flush", "write slow scripting"),
    ("function|help", "slow scripting"),
    ("function|kill", "slow scripting"),
    ("function|list", "slow scripting"),
    ("function|load", "write slow scripting"),
    ("function|restore", "write slow scripting"),
    ("function|stats", "slow scripting"),
];

/// The subcommands of `container` with their categories.
pub(crate) fn subcommands(
    container: &str,
) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    SUBCOMMANDS.iter().filter_map(move |(full, cats)| {
        let (c, sub) = full.split_once('|')?;
        (c == container).then_some((sub, *cats))
    })
}

/// Whether `sub` is a known subcommand of `container`.
fn is_subcommand(container: &str, sub: &str) -> bool {
    subcommands(container).any(|(s, _)| s == sub)
}

/// One key pattern and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob pattern.
    pub pattern: Vec<u8>,
    /// `%R~` (or `~`): reading.
    pub read: bool,
    /// `%W~` (or `~`): writing.
    pub write: bool,
}

impl KeyPattern {
    fn describe(&self) -> String {
        let p = String::from_utf8_lossy(&self.pattern);
        match (self.read, self.write) {
            (true, true) => format!("~{p}"),
            (true, false) => format!("%R~{p}"),
            _ => format!("%W~{p}"),
        }
    }
}

/// Which commands a user may run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CommandPerms {
    /// Allowed commands (every command of the table after `+@all`).
    allowed: BTreeSet<&'static str>,
    /// Subcommands (or first arguments) allowed although their command is not (`+config|get`).
    sub_allowed: BTreeMap<&'static str, BTreeSet<String>>,
    /// Subcommands denied although their command is allowed (`-config|set`).
    sub_denied: BTreeMap<&'static str, BTreeSet<String>>,
}

impl CommandPerms {
    fn set_command(&mut self, name: &'static str, allow: bool) {
        self.sub_allowed.remove(name);
        self.sub_denied.remove(name);
        if allow {
            self.allowed.insert(name);
        } else {
            self.allowed.remove(name);
        }
    }

    fn set_sub(&mut self, name: &'static str, sub: String, allow: bool) {
        if self.allowed.contains(name) {
            let set = self.sub_denied.entry(name).or_default();
            if allow {
                set.remove(&sub);
            } else {
                set.insert(sub);
            }
            if set.is_empty() {
                self.sub_denied.remove(name);
            }
        } else {
            let set = self.sub_allowed.entry(name).or_default();
            if allow {
                set.insert(sub);
            } else {
                set.remove(&sub);
            }
            if set.is_empty() {
                self.sub_allowed.remove(name);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        *self = CommandPerms::default();
        if allow {
            self.allowed = TABLE.keys().copied().collect();
        }
    }

    /// Apply one command rule (`+get`, `-@string`, `+config|get`); `Err` = unknown name.
    fn apply(&mut self, rule: &str) -> Result<(), SetUserError> {
        let allow = rule.starts_with('+');
        let body = &rule[1..];
        if let Some(cat) = body.strip_prefix('@') {
            if !CATEGORIES.contains(&cat) {
                return Err(SetUserError::Unknown);
            }
            for c in TABLE.values() {
                if is_container(c) {
                    // The whole container when it and every subcommand are in the category,
                    // else the subcommands that are.
                    let whole = in_category(c, cat)
                        && subcommands(c.name).all(|(_, cats)| cats.split(' ').any(|x| x == cat));
                    if whole {
                        self.set_command(c.name, allow);
                        continue;
                    }
                    for (sub, cats) in subcommands(c.name) {
                        if cats.split(' ').any(|x| x == cat) {
                            self.set_sub(c.name, sub.to_string(), allow);
                        }
                    }
                } else if in_category(c, cat) {
                    self.set_command(c.name, allow);
                }
            }
            return Ok(());
        }
        match body.split_once('|') {
            None => {
                let c = TABLE.get(body).ok_or(SetUserError::Unknown)?;
                self.set_command(c.name, allow);
            }
            Some((name, sub)) => {
                // Like Redis: the last `|` splits; `+acl|whoami|x` names a subcommand's first arg.
                let (name, sub) = body.rsplit_once('|').unwrap_or((name, sub));
                if let Some((container, inner)) = name.split_once('|') {
                    return match TABLE.get(container) {
                        Some(c) if is_container(c) && is_subcommand(container, inner) => {
                            Err(SetUserError::FirstArgOfSubcommand)
                        }
                        _ => Err(SetUserError::Unknown),
                    };
                }
                let c = TABLE.get(name).ok_or(SetUserError::Unknown)?;
                if sub.is_empty() {
                    return Err(if allow {
                        SetUserError::Syntax
                    } else {
                        SetUserError::Unknown
                    });
                }
                if is_container(c) {
                    if !is_subcommand(c.name, sub) {
                        return Err(SetUserError::Unknown);
                    }
                } else if !allow {
                    return Err(SetUserError::Unknown);
                }
                self.set_sub(c.name, sub.to_string(), allow);
            }
        }
        Ok(())
    }

    /// Whether one "bit" of Redis's command bitmap is set: a command (or container) itself, or a
    /// container's subcommand.
    fn unit_on(&self, name: &str, sub: Option<&str>) -> bool {
        match sub {
            None => self.allowed.contains(name),
            Some(sub) if self.allowed.contains(name) => {
                self.sub_denied.get(name).is_none_or(|d| !d.contains(sub))
            }
            Some(sub) => self.sub_allowed.get(name).is_some_and(|a| a.contains(sub)),
        }
    }

    /// Every set bit (`get`, `config`, `config|get`...).
    fn units(&self) -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for c in TABLE.values() {
            if self.unit_on(c.name, None) {
                set.insert(c.name.to_string());
            }
            if is_container(c) {
                for (sub, _) in subcommands(c.name) {
                    if self.unit_on(c.name, Some(sub)) {
                        set.insert(format!("{}|{sub}", c.name));
                    }
                }
            }
        }
        set
    }

    fn can_run(&self, c: &Command, args: &[&[u8]]) -> bool {
        let first = || {
            args.get(1)
                .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        };
        if self.allowed.contains(c.name) {
            match self.sub_denied.get(c.name) {
                None => true,
                Some(denied) => first().is_none_or(|s| !denied.contains(&s)),
            }
        } else {
            match self.sub_allowed.get(c.name) {
                None => false,
                Some(allowed) => first().is_some_and(|s| allowed.contains(&s)),
            }
        }
    }
}

/// A user: its flags, password hashes and permissions.
#[derive(Debug, Clone)]
pub struct User {
    /// The user name.
    pub name: String,
    /// `on` (may authenticate) or `off`.
    pub enabled: bool,
    /// `nopass`: any password authenticates.
    pub nopass: bool,
    /// `sanitize-payload` (`Some(true)`), `skip-sanitize-payload` (`Some(false)`), or neither.
    pub sanitize: Option<bool>,
    /// SHA-256 hashes (lower-case hex) of the passwords, in the order added.
    pub passwords: Vec<String>,
    /// Whether every current and future command is allowed (`+@all` base).
    all_commands: bool,
    commands: CommandPerms,
    /// `allkeys` / `~*`.
    pub all_keys: bool,
    /// Key patterns (when not `all_keys`).
    pub keys: Vec<KeyPattern>,
    /// `allchannels` / `&*`.
    pub all_channels: bool,
    /// Channel patterns (when not `all_channels`).
    pub channels: Vec<Vec<u8>>,
    /// Allowed everything (`+@all ~* &*`): commands skip the permission checks.
    pub unrestricted: bool,
}

/// Why a SETUSER rule was refused (Redis's texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetUserError {
    /// A malformed rule.
    Syntax,
    /// An unknown command or category.
    Unknown,
    /// A key pattern after `allkeys`.
    KeysAfterAll,
    /// A channel pattern after `allchannels`.
    ChannelsAfterAll,
    /// `<pass` / `!hash` for a password the user does not have.
    NoSuchPassword,
    /// A `#hash` that is not 64 lower-case hex digits.
    BadHash,
    /// `+cmd|sub|arg`.
    FirstArgOfSubcommand,
}

impl SetUserError {
    /// Redis's text for the error.
    pub fn text(self) -> &'static str {
        match self {
            SetUserError::Syntax => "Syntax error",
            SetUserError::Unknown => "Unknown command or category name in ACL",
            SetUserError::KeysAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            SetUserError::ChannelsAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            SetUserError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            SetUserError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
            SetUserError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
        }
    }
}

/// The SHA-256 of a password as lower-case hex (how Redis stores passwords).
pub fn hash_password(pass: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, pass);
    let mut s = String::with_capacity(64);
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Why a command may not run for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The command (or `cmd|sub`) is not allowed; its name as ACL LOG shows it.
    Command(String),
    /// A key argument is outside the user's patterns.
    Key(Vec<u8>),
    /// A channel argument is outside the user's channel patterns.
    Channel(Vec<u8>),
}

impl Denied {
    /// The NOPERM error text.
    pub fn error(&self) -> String {
        match self {
            Denied::Command(name) => {
                format!("NOPERM this user has no permissions to run the '{name}' command")
            }
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => {
                "NOPERM this user has no permissions to access one of the channels used as arguments"
                    .into()
            }
        }
    }

    /// The ACL DRYRUN text.
    pub fn dryrun(&self) -> String {
        match self {
            Denied::Command(name) => {
                format!("This user has no permissions to run the '{name}' command")
            }
            Denied::Key(k) => format!(
                "This user has no permissions to access the '{}' key",
                String::from_utf8_lossy(k)
            ),
            Denied::Channel(ch) => format!(
                "This user has no permissions to access the '{}' channel",
                String::from_utf8_lossy(ch)
            ),
        }
    }

    /// ACL LOG's `reason` and `object`.
    pub fn log_parts(&self) -> (&'static str, String) {
        match self {
            Denied::Command(n) => ("command", n.clone()),
            Denied::Key(k) => ("key", String::from_utf8_lossy(k).into_owned()),
            Denied::Channel(c) => ("channel", String::from_utf8_lossy(c).into_owned()),
        }
    }
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: off, no passwords, no permissions (`reset` also
    /// sets `sanitize-payload`).
    pub fn new(name: &str) -> User {
        let mut u = User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            all_commands: false,
            commands: CommandPerms::default(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
            unrestricted: false,
        };
        u.refresh();
        u
    }

    /// The default user of a fresh server: `on nopass ~* &* +@all`.
    pub fn default_user() -> User {
        let mut u = User::new("default");
        u.enabled = true;
        u.nopass = true;
        u.all_keys = true;
        u.all_channels = true;
        u.all_commands = true;
        u.commands.set_all(true);
        u.refresh();
        u
    }

    fn refresh(&mut self) {
        self.unrestricted = self.all_keys
            && self.all_channels
            && self.commands.sub_denied.is_empty()
            && self.commands.allowed.len() == TABLE.len();
    }

    /// Apply a list of rules atomically: on error nothing changes and the failing rule is returned.
    pub fn apply_rules<'r>(&mut self, rules: &[&'r [u8]]) -> Result<(), (&'r [u8], SetUserError)> {
        let mut next = self.clone();
        for r in rules {
            next.apply_rule(r).map_err(|e| (*r, e))?;
        }
        next.refresh();
        *self = next;
        Ok(())
    }

    /// Apply one rule.
    pub fn apply_rule(&mut self, rule: &[u8]) -> Result<(), SetUserError> {
        let text = std::str::from_utf8(rule).map_err(|_| SetUserError::Syntax)?;
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "sanitize-payload" => self.sanitize = Some(true),
            "skip-sanitize-payload" => self.sanitize = Some(false),
            // `~*` and `&*` are the keywords' aliases (accepted even after them, unlike `%R~*`).
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => {
                self.all_commands = true;
                self.commands.set_all(true);
            }
            "nocommands" | "-@all" => {
                self.all_commands = false;
                self.commands.set_all(false);
            }
            "reset" => {
                *self = User::new(&self.name);
                self.sanitize = Some(true);
            }
            _ => return self.apply_pattern_or_command(text, &lower),
        }
        Ok(())
    }

    fn apply_pattern_or_command(&mut self, text: &str, lower: &str) -> Result<(), SetUserError> {
        let first = text.as_bytes().first().copied().unwrap_or(0);
        match first {
            b'>' | b'<' => {
                let hash = hash_password(&text.as_bytes()[1..]);
                self.set_password(hash, first == b'>')
            }
            b'#' | b'!' => {
                let hash = &text[1..];
                if hash.len() != 64
                    || !hash
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(SetUserError::BadHash);
                }
                self.set_password(hash.to_string(), first == b'#')
            }
            b'~' | b'%' => {
                let (read, write, pattern) = if first == b'~' {
                    (true, true, &text.as_bytes()[1..])
                } else {
                    let rest = &text[1..];
                    let (perm, pattern) = rest.split_once('~').ok_or(SetUserError::Syntax)?;
                    if perm.is_empty() {
                        return Err(SetUserError::Syntax);
                    }
                    let (mut r, mut w) = (false, false);
                    for ch in perm.chars() {
                        match ch.to_ascii_uppercase() {
                            'R' => r = true,
                            'W' => w = true,
                            _ => return Err(SetUserError::Syntax),
                        }
                    }
                    (r, w, pattern.as_bytes())
                };
                if self.all_keys {
                    return Err(SetUserError::KeysAfterAll);
                }
                if pattern == b"*" && read && write {
                    self.all_keys = true;
                    self.keys.clear();
                    return Ok(());
                }
                match self.keys.iter_mut().find(|k| k.pattern == pattern) {
                    Some(k) => {
                        k.read |= read;
                        k.write |= write;
                    }
                    None => self.keys.push(KeyPattern {
                        pattern: pattern.to_vec(),
                        read,
                        write,
                    }),
                }
                Ok(())
            }
            b'&' => {
                if self.all_channels {
                    return Err(SetUserError::ChannelsAfterAll);
                }
                let pattern = &text.as_bytes()[1..];
                if pattern == b"*" {
                    self.all_channels = true;
                    self.channels.clear();
                } else if !self.channels.iter().any(|c| c == pattern) {
                    self.channels.push(pattern.to_vec());
                }
                Ok(())
            }
            b'+' | b'-' => self.commands.apply(lower),
            _ => Err(SetUserError::Syntax),
        }
    }

    fn set_password(&mut self, hash: String, add: bool) -> Result<(), SetUserError> {
        if add {
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else {
            let before = self.passwords.len();
            self.passwords.retain(|p| *p != hash);
            if self.passwords.len() == before {
                return Err(SetUserError::NoSuchPassword);
            }
            self.nopass = false;
        }
        Ok(())
    }

    /// Whether this password authenticates the user (enabled, and nopass or a matching hash).
    pub fn check_password(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = hash_password(pass);
        self.passwords
            .iter()
            .any(|p| constant_time_eq(p.as_bytes(), hash.as_bytes()))
    }

    /// The flag names (`on`, `nopass`, `sanitize-payload`...), in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// The command rules as ACL GETUSER shows them (`+@all -@dangerous`), computed from the
    /// permissions like Redis 7.0 does: the base (`+@all` / `-@all`), then greedily the categories
    /// that fit best (fewest exceptions, then most commands), then single commands and
    /// subcommands where the result still differs. Rules that change nothing never show.
    pub fn describe_commands(&self) -> String {
        let additive = !self.all_commands;
        let mut out = String::from(if additive { "-@all" } else { "+@all" });
        let mut fake = CommandPerms::default();
        fake.set_all(self.all_commands);
        let mut temp = self.commands.units();
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, cat) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let members = category_units(cat);
                let on = members.iter().filter(|m| temp.contains(*m)).count();
                let off = members.len() - on;
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            applied[j] = true;
            let cat = CATEGORIES[j];
            let op = format!("{}@{cat}", if additive { '+' } else { '-' });
            let _ = fake.apply(&op);
            for m in category_units(cat) {
                if additive {
                    temp.remove(&m);
                } else {
                    temp.insert(m);
                }
            }
            out.push(' ');
            out.push_str(&op);
        }
        let mut names: Vec<&'static str> = TABLE.keys().copied().collect();
        names.sort_unstable();
        let user = &self.commands;
        for name in names {
            let Some(c) = TABLE.get(name) else { continue };
            let bit = user.unit_on(name, None);
            if bit != fake.unit_on(name, None) {
                out.push_str(if bit { " +" } else { " -" });
                out.push_str(name);
                fake.set_command(name, bit);
            }
            if is_container(c) {
                for (sub, _) in subcommands(name) {
                    let bit = user.unit_on(name, Some(sub));
                    if bit != fake.unit_on(name, Some(sub)) {
                        out.push_str(&format!(" {}{name}|{sub}", if bit { '+' } else { '-' }));
                        fake.set_sub(name, sub.to_string(), bit);
                    }
                }
            } else if !bit && let Some(args) = user.sub_allowed.get(name) {
                for a in args {
                    out.push_str(&format!(" +{name}|{a}"));
                }
            }
        }
        out
    }

    /// The key patterns as GETUSER shows them (`~*`, `~a %R~b`).
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        self.keys
            .iter()
            .map(KeyPattern::describe)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The channel patterns as GETUSER shows them (`&*`, `&a &b`).
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        self.channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The user's line in ACL LIST (without the leading `user name `).
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flags().iter().map(|f| f.to_string()).collect();
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        if self.all_keys {
            parts.push("~*".into());
        } else {
            parts.extend(self.keys.iter().map(KeyPattern::describe));
        }
        if self.all_channels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            parts.extend(
                self.channels
                    .iter()
                    .map(|c| format!("&{}", String::from_utf8_lossy(c))),
            );
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// Check whether this user may run `cmd` with `args` (NO_AUTH commands always may).
    pub fn check(&self, cmd: &Command, args: &[&[u8]]) -> Result<(), Denied> {
        if self.unrestricted || cmd.flags & flag::NO_AUTH != 0 {
            return Ok(());
        }
        let container = is_container(cmd);
        let sub = match (container, args.get(1)) {
            (true, Some(a)) => {
                let sub = String::from_utf8_lossy(a).to_ascii_lowercase();
                if !is_subcommand(cmd.name, &sub) {
                    // Unknown subcommand: the handler's error, like Redis's failed lookup.
                    return Ok(());
                }
                Some(sub)
            }
            _ => None,
        };
        if !self.commands.can_run(cmd, args) {
            let name = match sub {
                Some(sub) => format!("{}|{sub}", cmd.name),
                None => cmd.name.to_string(),
            };
            return Err(Denied::Command(name));
        }
        if !self.all_keys && cmd.group != "pubsub" {
            for (key, write) in key_args(cmd, args) {
                let ok = self.keys.iter().any(|p| {
                    (if write { p.write } else { p.read }) && crate::glob::matches(&p.pattern, key)
                });
                if !ok {
                    return Err(Denied::Key(key.to_vec()));
                }
            }
        }
        if !self.all_channels {
            let literal = matches!(cmd.name, "psubscribe");
            let channels: &[&[u8]] = match cmd.name {
                "publish" | "spublish" => &args[1..2.min(args.len())],
                "subscribe" | "ssubscribe" | "psubscribe" => &args[1..],
                _ => &[],
            };
            for ch in channels {
                let ok = self.channels.iter().any(|p| {
                    if literal {
                        p.as_slice() == *ch
                    } else {
                        crate::glob::matches(p, ch)
                    }
                });
                if !ok {
                    return Err(Denied::Channel(ch.to_vec()));
                }
            }
        }
        Ok(())
    }
}

/// The key arguments of a command and whether each is written (else read), following Redis's key
/// specs: `numkeys` commands (ZUNIONSTORE, LMPOP...), destinations versus sources (SINTERSTORE,
/// BITOP, PFMERGE), STORE options (SORT, GEORADIUS); otherwise the table's key range, written when
/// the command writes.
pub fn key_args<'a>(cmd: &Command, args: &[&'a [u8]]) -> Vec<(&'a [u8], bool)> {
    let keynum = |at: usize, write: bool| -> Vec<(&'a [u8], bool)> {
        let n = args
            .get(at)
            .and_then(|a| crate::protocol::parse_i64(a))
            .filter(|n| *n > 0)
            .unwrap_or(0) as usize;
        args.iter()
            .skip(at + 1)
            .take(n)
            .map(|k| (*k, write))
            .collect()
    };
    let from = |at: usize, write: bool| -> Vec<(&'a [u8], bool)> {
        args.iter().skip(at).map(|k| (*k, write)).collect()
    };
    let one = |at: usize, write: bool| -> Vec<(&'a [u8], bool)> {
        args.get(at).map(|k| (*k, write)).into_iter().collect()
    };
    let store_option = |start: usize, keywords: &[&str]| -> Vec<(&'a [u8], bool)> {
        let mut keys = Vec::new();
        let mut i = start;
        while i + 1 < args.len() {
            if keywords
                .iter()
                .any(|k| args[i].eq_ignore_ascii_case(k.as_bytes()))
            {
                keys.push((args[i + 1], true));
                i += 2;
            } else {
                i += 1;
            }
        }
        keys
    };
    match cmd.name {
        "lmpop" | "zmpop" => keynum(1, true),
        "sintercard" | "zdiff" | "zinter" | "zintercard" | "zunion" => keynum(1, false),
        "blmpop" | "bzmpop" => keynum(2, true),
        "zdiffstore" | "zinterstore" | "zunionstore" => [one(1, true), keynum(2, false)].concat(),
        "sinterstore" | "sunionstore" | "sdiffstore" | "pfmerge" => {
            [one(1, true), from(2, false)].concat()
        }
        "bitop" => [one(2, true), from(3, false)].concat(),
        "lcs" => [one(1, false), one(2, false)].concat(),
        "georadius" => [one(1, false), store_option(6, &["STORE", "STOREDIST"])].concat(),
        "georadiusbymember" => [one(1, false), store_option(5, &["STORE", "STOREDIST"])].concat(),
        "sort" | "sort_ro" => [one(1, false), store_option(2, &["STORE"])].concat(),
        "eval" | "evalsha" | "fcall" => keynum(2, true),
        "eval_ro" | "evalsha_ro" | "fcall_ro" => keynum(2, false),
        "xread" | "xreadgroup" => {
            // The keys are the first half of what follows STREAMS.
            let write = cmd.name == "xreadgroup";
            match args.iter().position(|a| a.eq_ignore_ascii_case(b"streams")) {
                Some(at) => {
                    let rest = &args[at + 1..];
                    rest[..rest.len() / 2].iter().map(|k| (*k, write)).collect()
                }
                None => Vec::new(),
            }
        }
        _ => {
            let write = cmd.flags & flag::WRITE != 0;
            cmd.key_indexes(args.len())
                .into_iter()
                .filter_map(|i| args.get(i).map(|k| (*k, write)))
                .collect()
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One ACL LOG entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// How many times it happened (grouped within a minute).
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    /// The command, key or channel refused.
    pub object: String,
    /// The user.
    pub username: String,
    /// When it last happened (unix ms).
    pub updated_ms: u64,
    /// CLIENT INFO of the client, last time.
    pub client_info: String,
}

/// Entries ACL LOG keeps (Redis's `acllog-max-len` default).
pub const LOG_MAX_LEN: usize = 128;

/// An engine's users and ACL log.
#[derive(Debug)]
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    log: Mutex<VecDeque<LogEntry>>,
    epoch: AtomicU64,
    /// The requirepass value last applied to the default user (`None`: apply the next one).
    applied_requirepass: Mutex<Option<Option<String>>>,
}

impl Default for Acl {
    fn default() -> Acl {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), Arc::new(User::default_user()));
        Acl {
            users: RwLock::new(users),
            log: Mutex::new(VecDeque::new()),
            epoch: AtomicU64::new(1),
            applied_requirepass: Mutex::new(None),
        }
    }
}

impl Acl {
    /// Bumped on every change to any user: clients refresh their snapshot when it moves.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Create or modify a user with rules (ACL SETUSER); nothing changes on error.
    pub fn set_user<'r>(
        &self,
        name: &str,
        rules: &[&'r [u8]],
    ) -> Result<(), (&'r [u8], SetUserError)> {
        let mut users = self.users.write();
        let mut user = users
            .get(name)
            .map(|u| (**u).clone())
            .unwrap_or_else(|| User::new(name));
        user.apply_rules(rules)?;
        users.insert(name.to_string(), Arc::new(user));
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Create or modify a user from a rule string separated by spaces (scenario files, tools).
    pub fn set_user_rules(&self, name: &str, rules: &str) -> Result<(), String> {
        if name.is_empty() || name.contains([' ', '\0']) {
            return Err("Usernames can't contain spaces or null characters".into());
        }
        let parts: Vec<&[u8]> = rules.split_whitespace().map(str::as_bytes).collect();
        self.set_user(name, &parts).map_err(|(rule, e)| {
            format!(
                "Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(rule),
                e.text()
            )
        })
    }

    /// Delete a user (never `default`); whether it existed.
    pub fn delete_user(&self, name: &str) -> bool {
        let removed = self.users.write().remove(name).is_some();
        if removed {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Whether the default user needs a password (neither `nopass` nor... enabled).
    pub fn default_requires_auth(&self) -> bool {
        self.user("default").is_none_or(|u| !u.nopass || !u.enabled)
    }

    /// Make `requirepass` the default user's only password (`None`/empty: `nopass`), when it
    /// differs from the value last applied. Returns whether it changed anything.
    pub fn apply_requirepass(&self, pass: Option<&str>) -> bool {
        let mut applied = self.applied_requirepass.lock();
        let pass = pass.filter(|p| !p.is_empty());
        if applied.as_ref().is_some_and(|a| a.as_deref() == pass) {
            return false;
        }
        *applied = Some(pass.map(str::to_string));
        let rules: Vec<Vec<u8>> = match pass {
            Some(p) => vec![b"resetpass".to_vec(), [b">", p.as_bytes()].concat()],
            None => vec![b"resetpass".to_vec(), b"nopass".to_vec()],
        };
        let refs: Vec<&[u8]> = rules.iter().map(|r| r.as_slice()).collect();
        let _ = self.set_user("default", &refs);
        true
    }

    /// Make the next [`Acl::apply_requirepass`] apply its value even if it is the one applied last
    /// (CONFIG SET requirepass always resets the default user's passwords, as in Redis).
    pub fn forget_requirepass(&self) {
        *self.applied_requirepass.lock() = None;
    }

    /// Add an entry to the ACL log (grouping it with a recent identical one).
    pub fn log(
        &self,
        reason: &'static str,
        context: &'static str,
        object: String,
        username: String,
        client_info: String,
    ) {
        let now = crate::store::now_ms();
        let mut log = self.log.lock();
        if let Some(pos) = log.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now.saturating_sub(e.updated_ms) < 60_000
        }) && let Some(mut e) = log.remove(pos)
        {
            e.count += 1;
            e.updated_ms = now;
            e.client_info = client_info;
            log.push_front(e);
            return;
        }
        log.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object,
            username,
            updated_ms: now,
            client_info,
        });
        log.truncate(LOG_MAX_LEN);
    }

    /// The newest `count` log entries.
    pub fn log_entries(&self, count: usize) -> Vec<LogEntry> {
        self.log.lock().iter().take(count).cloned().collect()
    }

    /// ACL LOG RESET.
    pub fn reset_log(&self) {
        self.log.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user after `ACL SETUSER t reset <rules>` (how the expected texts were taken).
    fn user(rules: &str) -> User {
        let mut u = User::new("t");
        let rules = format!("reset {rules}");
        let parts: Vec<&[u8]> = rules.split_whitespace().map(str::as_bytes).collect();
        u.apply_rules(&parts).map_err(|(_, e)| e).unwrap();
        u
    }

    #[test]
    fn describe_like_redis_7_0() {
        let cases = [
            ("+get -get", "off sanitize-payload resetchannels -@all"),
            (
                "+@all -get",
                "off sanitize-payload resetchannels +@all -get",
            ),
            (
                "+@read -get +get",
                "off sanitize-payload resetchannels -@all +@read",
            ),
            (
                "+config|get -config|get",
                "off sanitize-payload resetchannels -@all",
            ),
            (
                "+config|get",
                "off sanitize-payload resetchannels -@all +config|get",
            ),
            (
                "+@all -@string +get",
                "off sanitize-payload resetchannels +@all -@string +get",
            ),
            (
                "allkeys resetkeys ~a %RW~b %W~c",
                "off sanitize-payload ~a ~b %W~c resetchannels -@all",
            ),
            ("allchannels", "off sanitize-payload &* -@all"),
            (
                ">x nopass",
                "off nopass sanitize-payload resetchannels -@all",
            ),
            (
                "nocommands +get allcommands",
                "off sanitize-payload resetchannels +@all",
            ),
            ("+GET", "off sanitize-payload resetchannels -@all +get"),
            (
                "+select|0",
                "off sanitize-payload resetchannels -@all +select|0",
            ),
            // Categories come first, chosen greedily, whatever the order given.
            (
                "+get +@hash",
                "off sanitize-payload resetchannels -@all +@hash +get",
            ),
            (
                "+@string -get +@read",
                "off sanitize-payload resetchannels -@all +@read +@string",
            ),
            (
                "+@all -@dangerous",
                "off sanitize-payload resetchannels +@all -@dangerous",
            ),
            (
                "+@all -@admin",
                "off sanitize-payload resetchannels +@all -@admin",
            ),
            (
                "-@all +acl|whoami +client|id",
                "off sanitize-payload resetchannels -@all +acl|whoami +client|id",
            ),
            (
                "+@all -config|get",
                "off sanitize-payload resetchannels +@all -config|get",
            ),
        ];
        for (rules, want) in cases {
            assert_eq!(user(rules).describe(), want, "{rules}");
        }
        assert_eq!(User::default_user().describe(), "on nopass ~* &* +@all");
        assert!(User::default_user().unrestricted);
    }

    #[test]
    fn errors() {
        let mut u = User::new("t");
        assert_eq!(u.apply_rule(b"xyz"), Err(SetUserError::Syntax));
        assert_eq!(u.apply_rule(b"+nosuch"), Err(SetUserError::Unknown));
        assert_eq!(u.apply_rule(b"-get|x"), Err(SetUserError::Unknown));
        assert_eq!(u.apply_rule(b"+config|nosuch"), Err(SetUserError::Unknown));
        assert_eq!(u.apply_rule(b"+get|"), Err(SetUserError::Syntax));
        assert_eq!(u.apply_rule(b"+"), Err(SetUserError::Unknown));
        assert_eq!(
            u.apply_rule(b"+acl|whoami|x"),
            Err(SetUserError::FirstArgOfSubcommand)
        );
        assert_eq!(u.apply_rule(b"%X~a"), Err(SetUserError::Syntax));
        assert_eq!(u.apply_rule(b"<nope"), Err(SetUserError::NoSuchPassword));
        assert_eq!(u.apply_rule(b"#abc"), Err(SetUserError::BadHash));
        u.apply_rule(b"~*").unwrap();
        u.apply_rule(b"~*").unwrap();
        assert_eq!(u.apply_rule(b"~a"), Err(SetUserError::KeysAfterAll));
        assert_eq!(u.apply_rule(b"%R~*"), Err(SetUserError::KeysAfterAll));
        u.apply_rule(b"&*").unwrap();
        u.apply_rule(b"&*").unwrap();
        assert_eq!(u.apply_rule(b"&a"), Err(SetUserError::ChannelsAfterAll));
    }

    #[test]
    fn keys_of_numkeys_and_store_commands() {
        let keys = |args: &[&[u8]]| {
            let c = crate::commands::lookup(args[0]).unwrap();
            key_args(c, args)
                .into_iter()
                .map(|(k, w)| (String::from_utf8_lossy(k).into_owned(), w))
                .collect::<Vec<_>>()
        };
        let s = |k: &str, w: bool| (k.to_string(), w);
        assert_eq!(
            keys(&[
                b"zunionstore",
                b"d",
                b"2",
                b"a",
                b"b",
                b"WEIGHTS",
                b"1",
                b"2"
            ]),
            [s("d", true), s("a", false), s("b", false)]
        );
        assert_eq!(keys(&[b"lmpop", b"1", b"l", b"LEFT"]), [s("l", true)]);
        assert_eq!(
            keys(&[b"sort", b"k", b"STORE", b"dst"]),
            [s("k", false), s("dst", true)]
        );
        assert_eq!(
            keys(&[b"bitop", b"AND", b"d", b"x", b"y"]),
            [s("d", true), s("x", false), s("y", false)]
        );
        assert_eq!(keys(&[b"get", b"k"]), [s("k", false)]);
        assert_eq!(keys(&[b"set", b"k", b"v"]), [s("k", true)]);
        // A read-only pattern allows the sources, a write-only one the destination.
        let u = user("on +@all %R~src:* %W~dst:*");
        let c = crate::commands::lookup(b"sunionstore").unwrap();
        assert!(
            u.check(c, &[b"sunionstore", b"dst:1", b"src:1", b"src:2"])
                .is_ok()
        );
        assert_eq!(
            u.check(c, &[b"sunionstore", b"dst:1", b"src:1", b"other"]),
            Err(Denied::Key(b"other".to_vec()))
        );
    }

    #[test]
    fn password_hash_is_sha256_hex() {
        assert_eq!(
            hash_password(b"p1"),
            "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"
        );
    }
}
