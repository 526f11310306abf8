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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::spec::{SPECS, Spec, flag, key_flag};

pub use crate::spec::CATEGORIES;

/// The ACL categories of a command or subcommand (names without `@`), from its spec.
pub fn categories(c: &Spec) -> &'static [&'static str] {
    c.category_names
}

/// Whether `c` is in category `cat` (no `@`).
pub fn in_category(c: &Spec, cat: &str) -> bool {
    c.in_category(cat)
}

/// The bits of category `cat`: its commands, containers and subcommands (`config|get`).
fn category_units(cat: &str) -> Vec<String> {
    category_members(cat)
}

/// The commands and subcommands (`config|get`) in category `cat`, as ACL CAT lists them.
pub fn category_members(cat: &str) -> Vec<String> {
    let mut names: Vec<String> = SPECS
        .values()
        .flat_map(|c| std::iter::once(*c).chain(c.subcommands))
        .filter(|c| c.in_category(cat))
        .map(|c| c.name.to_string())
        .collect();
    names.sort_unstable();
    names
}

/// The subcommands of `container` with their specs.
fn subcommands(container: &str) -> impl Iterator<Item = &'static Spec> {
    SPECS
        .get(container)
        .map(|c| c.subcommands)
        .unwrap_or_default()
        .iter()
}

/// Whether `sub` is a known subcommand of `container`.
fn is_subcommand(container: &str, sub: &str) -> bool {
    subcommands(container).any(|s| s.sub_name == sub)
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
            // Every command name, collected (and so sorted) once: the default user of every new
            // engine and every `allcommands` / `+@all` / `reset` starts from a copy.
            static ALL: std::sync::LazyLock<BTreeSet<&'static str>> =
                std::sync::LazyLock::new(|| SPECS.keys().copied().collect());
            self.allowed = ALL.clone();
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
            for c in SPECS.values() {
                if c.is_container() {
                    // The whole container when it and every subcommand are in the category,
                    // else the subcommands that are.
                    let whole =
                        c.in_category(cat) && c.subcommands.iter().all(|s| s.in_category(cat));
                    if whole {
                        self.set_command(c.name, allow);
                        continue;
                    }
                    for sub in c.subcommands {
                        if sub.in_category(cat) {
                            self.set_sub(c.name, sub.sub_name.to_string(), allow);
                        }
                    }
                } else if c.in_category(cat) {
                    self.set_command(c.name, allow);
                }
            }
            return Ok(());
        }
        match body.split_once('|') {
            None => {
                let c = SPECS.get(body).ok_or(SetUserError::Unknown)?;
                self.set_command(c.name, allow);
            }
            Some((name, sub)) => {
                // Like Redis: the last `|` splits; `+acl|whoami|x` names a subcommand's first arg.
                let (name, sub) = body.rsplit_once('|').unwrap_or((name, sub));
                if let Some((container, inner)) = name.split_once('|') {
                    return match SPECS.get(container) {
                        Some(c) if c.is_container() && is_subcommand(container, inner) => {
                            Err(SetUserError::FirstArgOfSubcommand)
                        }
                        _ => Err(SetUserError::Unknown),
                    };
                }
                let c = SPECS.get(name).ok_or(SetUserError::Unknown)?;
                if sub.is_empty() {
                    return Err(if allow {
                        SetUserError::Syntax
                    } else {
                        SetUserError::Unknown
                    });
                }
                if c.is_container() {
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
        for c in SPECS.values() {
            if self.unit_on(c.name, None) {
                set.insert(c.name.to_string());
            }
            for sub in c.subcommands {
                if self.unit_on(c.name, Some(sub.sub_name)) {
                    set.insert(sub.name.to_string());
                }
            }
        }
        set
    }

    fn can_run(&self, c: &Spec, args: &[&[u8]]) -> bool {
        if let Some(container) = c.container {
            return self.unit_on(container, Some(c.sub_name));
        }
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
    /// Redis 7.0's selectors (`(+get ~k*)`): more sets of command, key and channel permissions; a
    /// command any of them allows (whole: command, keys and channels) runs. Each is a `User` whose
    /// permission fields alone are used.
    pub selectors: Vec<User>,
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
    /// Redis's `ACL_DENIED_*` order: the refusal reported when no selector allows a command.
    fn rank(&self) -> u8 {
        match self {
            Denied::Command(_) => 1,
            Denied::Key(_) => 2,
            Denied::Channel(_) => 4,
        }
    }

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
            selectors: Vec::new(),
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
        for s in &mut self.selectors {
            s.refresh();
        }
        self.unrestricted = self.all_keys
            && self.all_channels
            && self.commands.sub_denied.is_empty()
            && self.commands.allowed.len() == SPECS.len();
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
            "clearselectors" => self.selectors.clear(),
            _ if text.len() >= 2 && text.starts_with('(') && text.ends_with(')') => {
                let mut selector = User::new("");
                for op in text[1..text.len() - 1].split_whitespace() {
                    selector.apply_selector_rule(op)?;
                }
                selector.refresh();
                self.selectors.push(selector);
            }
            _ => return self.apply_pattern_or_command(text, &lower),
        }
        Ok(())
    }

    /// One rule inside a selector: only permissions (commands, keys, channels), as in Redis.
    fn apply_selector_rule(&mut self, op: &str) -> Result<(), SetUserError> {
        let lower = op.to_ascii_lowercase();
        let permission = matches!(
            lower.as_str(),
            "allkeys"
                | "resetkeys"
                | "allchannels"
                | "resetchannels"
                | "allcommands"
                | "nocommands"
        ) || op.starts_with(['~', '%', '&', '+', '-']);
        if !permission {
            return Err(SetUserError::Syntax);
        }
        self.apply_rule(op.as_bytes())
    }

    /// The selector as ACL LIST shows it inside `(...)`: keys, channels, commands.
    pub fn describe_selector(&self) -> String {
        let mut parts = Vec::new();
        if self.all_keys {
            parts.push("~*".to_string());
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
        let mut names: Vec<&'static str> = SPECS.keys().copied().collect();
        names.sort_unstable();
        let user = &self.commands;
        for name in names {
            let Some(c) = SPECS.get(name) else { continue };
            let bit = user.unit_on(name, None);
            if bit != fake.unit_on(name, None) {
                out.push_str(if bit { " +" } else { " -" });
                out.push_str(name);
                fake.set_command(name, bit);
            }
            if c.is_container() {
                for sub in c.subcommands.iter().map(|s| s.sub_name) {
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
        for s in &self.selectors {
            parts.push(format!("({})", s.describe_selector()));
        }
        parts.join(" ")
    }

    /// Check whether this user may run `cmd` with `args`: its own permissions (the root selector)
    /// or any of its selectors. When none allows it, the most relevant refusal is reported, as
    /// Redis ranks them: a channel, then a key, then the command.
    pub fn check(&self, cmd: &Spec, args: &[&[u8]]) -> Result<(), Denied> {
        let root = self.check_selector(cmd, args);
        let Err(mut worst) = root else {
            return Ok(());
        };
        for s in &self.selectors {
            match s.check_selector(cmd, args) {
                Ok(()) => return Ok(()),
                Err(e) if e.rank() > worst.rank() => worst = e,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// Check whether this selector may run `cmd` (a command, or the subcommand a container call
    /// resolved to) with `args` (NO_AUTH commands always may): the command (Redis's bit per
    /// command and subcommand, or first-argument rules), then its keys by their key-spec flags
    /// (reading needs a `%R` pattern, writing a `%W` one), then its channels.
    fn check_selector(&self, cmd: &Spec, args: &[&[u8]]) -> Result<(), Denied> {
        if self.unrestricted || cmd.flags & flag::NO_AUTH != 0 {
            return Ok(());
        }
        if !self.commands.can_run(cmd, args) {
            return Err(Denied::Command(cmd.name.to_string()));
        }
        if !self.all_keys && cmd.has_keys() {
            for k in cmd.keys(args) {
                let read = k.flags & key_flag::ACCESS != 0;
                let write = k.flags & (key_flag::INSERT | key_flag::DELETE | key_flag::UPDATE) != 0;
                // Arguments that do not fit the command's arity (redis.acl_check_cmd) have
                // fewer keys than its key specs name.
                let Some(&key) = args.get(k.pos) else {
                    continue;
                };
                let ok = self.keys.iter().any(|p| {
                    (!read || p.read)
                        && (!write || p.write)
                        && crate::glob::matches(&p.pattern, key)
                });
                if !ok {
                    return Err(Denied::Key(key.to_vec()));
                }
            }
        }
        if !self.all_channels
            && let Some(ch) = cmd.channels.filter(|c| c.checked)
        {
            let end = ch
                .count
                .map_or(args.len(), |n| (ch.first + n).min(args.len()));
            for c in args.get(ch.first..end).unwrap_or_default() {
                let ok = self.channels.iter().any(|p| {
                    if ch.pattern {
                        p.as_slice() == *c
                    } else {
                        crate::glob::matches(p, c)
                    }
                });
                if !ok {
                    return Err(Denied::Channel(c.to_vec()));
                }
            }
        }
        Ok(())
    }
}

/// Redis's `ACLMergeSelectorArguments`: a selector may span several arguments (`(+get` `~k*)`);
/// they are joined with spaces. An opening `(` never closed is an error (Redis's text, without
/// `ERR`).
pub fn merge_selectors(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for a in args {
        match open.as_mut() {
            Some(sel) => {
                sel.push(b' ');
                sel.extend_from_slice(a);
                if a.ends_with(b")") {
                    out.extend(open.take());
                }
            }
            None if a.starts_with(b"(") && !a.ends_with(b")") => open = Some(a.to_vec()),
            None => out.push(a.to_vec()),
        }
    }
    if let Some(sel) = open {
        let first = sel.split(|b| *b == b' ').next().unwrap_or_default();
        return Err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(first)
        ));
    }
    Ok(out)
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

/// Entries ACL LOG keeps by default (Redis's `acllog-max-len` default).
pub const LOG_MAX_LEN: usize = 128;

/// An engine's users and ACL log.
#[derive(Debug)]
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    log: Mutex<VecDeque<LogEntry>>,
    /// `acllog-max-len`.
    log_max_len: AtomicUsize,
    epoch: AtomicU64,
    /// The requirepass value last applied to the default user (`None`: apply the next one).
    applied_requirepass: Mutex<Option<Option<String>>>,
    /// The engine's clock: ACL LOG's timestamps.
    clock: crate::store::Clock,
}

impl Default for Acl {
    fn default() -> Acl {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), Arc::new(User::default_user()));
        Acl {
            users: RwLock::new(users),
            log: Mutex::new(VecDeque::new()),
            log_max_len: AtomicUsize::new(LOG_MAX_LEN),
            epoch: AtomicU64::new(1),
            applied_requirepass: Mutex::new(None),
            clock: crate::store::Clock::real(),
        }
    }
}

impl Acl {
    /// The default users and an empty log, stamped by `clock`.
    pub fn with_clock(clock: crate::store::Clock) -> Acl {
        Acl {
            clock,
            ..Acl::default()
        }
    }

    /// Set `acllog-max-len`: the log keeps at most `len` entries (trimmed at the next entry, like
    /// Redis).
    pub fn set_log_max_len(&self, len: usize) {
        self.log_max_len.store(len, Ordering::Relaxed);
    }

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
        let merged = merge_selectors(&parts)?;
        let parts: Vec<&[u8]> = merged.iter().map(|r| r.as_slice()).collect();
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
        let now = self.clock.now_ms();
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
        log.truncate(self.log_max_len.load(Ordering::Relaxed));
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
    fn keys_are_checked_by_their_key_spec_flags() {
        let spec = |n: &str| crate::spec::find(n.as_bytes()).unwrap();
        // A read-only pattern allows the sources, a write-only one the destination.
        let u = user("on +@all %R~src:* %W~dst:*");
        let c = spec("sunionstore");
        assert!(
            u.check(c, &[b"sunionstore", b"dst:1", b"src:1", b"src:2"])
                .is_ok()
        );
        assert_eq!(
            u.check(c, &[b"sunionstore", b"dst:1", b"src:1", b"other"]),
            Err(Denied::Key(b"other".to_vec()))
        );
        // A subcommand is checked as itself.
        let u = user("on +@all -config|set ~*");
        assert!(
            u.check(spec("config|get"), &[b"config", b"get", b"x"])
                .is_ok()
        );
        assert_eq!(
            u.check(spec("config|set"), &[b"config", b"set", b"x", b"y"]),
            Err(Denied::Command("config|set".into()))
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
