//! Command specs, Redis-style: one declarative entry per command and per subcommand, carrying
//! everything about it — name, arity, flags, ACL categories, key specs (Redis 7's `key_specs`:
//! `begin_search` + `find_keys` + key flags), documentation, and its subcommands as entries of
//! their own.
//!
//! Why: ACL checks, `COMMAND INFO/DOCS/LIST/GETKEYS`, client tracking, the subscribed-mode check,
//! maxmemory refusals and (coming) cluster slot routing all need the same facts; reading them from
//! one entry keeps them from drifting apart. As Redis generates `commands.def` from
//! `src/commands/*.json`, the entries are data: `crates/engine/spec/commands.json`, recorded from
//! redis-server 7.0.15 by `crates/engine/spec/record.py` (which documents how), loaded once.
//! The few properties COMMAND does not print and that are redlink's own (how a command takes the
//! keyspace gate, MULTI queueing, which commands run in RESP2 subscribed mode, Redis's native
//! `getkeys_proc`s and channel arguments) live in [`LOCAL`], [`GETKEYS`] and [`CHANNELS`] below.
//!
//! This module imports nothing from the handlers: `commands` binds a handler to each entry by name.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

/// Command flags: Redis's (as COMMAND INFO names them) and redlink's own.
pub mod flag {
    /// Modifies the keyspace.
    pub const WRITE: u32 = 1;
    /// Only reads.
    pub const READONLY: u32 = 1 << 1;
    /// O(1) or O(log N).
    pub const FAST: u32 = 1 << 2;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 3;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 4;
    /// Runs immediately even inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET). redlink's own.
    pub const NO_QUEUE: u32 = 1 << 5;
    /// Takes the keyspace gate exclusively itself (EXEC, FLUSHALL, SWAPDB...). redlink's own.
    pub const EXCLUSIVE: u32 = 1 << 6;
    /// May use memory (denied under maxmemory pressure).
    pub const DENYOOM: u32 = 1 << 7;
    /// Connection-level command: runs without the keyspace gate. redlink's own.
    pub const CONNECTION: u32 = 1 << 8;
    /// May block.
    pub const BLOCKING: u32 = 1 << 9;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 10;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 11;
    /// Allowed while stale.
    pub const STALE: u32 = 1 << 12;
    /// Pub/Sub command.
    pub const PUBSUB: u32 = 1 << 13;
    /// A command with keys that may be called without any (EVAL with `numkeys` 0...).
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    /// Not shown to MONITOR.
    pub const SKIP_MONITOR: u32 = 1 << 15;
    /// Not recorded in the SLOWLOG.
    pub const SKIP_SLOWLOG: u32 = 1 << 16;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 17;
    /// Key positions depend on the arguments.
    pub const MOVABLEKEYS: u32 = 1 << 18;
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: u32 = 1 << 19;
    /// May replicate (writes without WRITE: PUBLISH, EVAL...).
    pub const MAY_REPLICATE: u32 = 1 << 20;
    /// Allowed in RESP2 subscribed mode (the (P|S)(UN)SUBSCRIBE commands, PING, QUIT, RESET).
    /// redlink's own (Redis compares command procs).
    pub const SUBSCRIBED_OK: u32 = 1 << 24;
    /// Not refused for memory while the client is in MULTI (EXEC, DISCARD, QUIT, RESET: Redis's
    /// exceptions to "queueing uses memory"). redlink's own.
    pub const MULTI_OOM_OK: u32 = 1 << 25;
    /// Runs the MULTI queue: refused for memory when a queued command is `denyoom` (EXEC).
    pub const RUNS_QUEUE: u32 = 1 << 26;
    /// Empties whole databases: tracking invalidates everything (FLUSHDB, FLUSHALL; not SWAPDB,
    /// which redis-server 7.0 does not report to tracking clients).
    pub const FLUSHES: u32 = 1 << 27;
    /// CLIENT CACHING: tracking's "the next command" starts after it.
    pub const TRACKING_CACHING: u32 = 1 << 28;

    /// Redis's flag names (COMMAND INFO) and their bits; names without a bit here are printed but
    /// change nothing in redlink (`sentinel`, `no_async_loading`...).
    pub const NAMES: &[(&str, u32)] = &[
        ("write", WRITE),
        ("readonly", READONLY),
        ("denyoom", DENYOOM),
        ("admin", ADMIN),
        ("pubsub", PUBSUB),
        ("noscript", NOSCRIPT),
        ("blocking", BLOCKING),
        ("loading", LOADING),
        ("stale", STALE),
        ("skip_monitor", SKIP_MONITOR),
        ("skip_slowlog", SKIP_SLOWLOG),
        ("fast", FAST),
        ("no_auth", NO_AUTH),
        ("may_replicate", MAY_REPLICATE),
        ("no_mandatory_keys", NO_MANDATORY_KEYS),
        ("no_multi", NO_MULTI),
        ("movablekeys", MOVABLEKEYS),
        ("allow_busy", ALLOW_BUSY),
    ];
}

/// Key-spec flags (Redis's `CMD_KEY_*`), in the order COMMAND GETKEYSANDFLAGS prints them.
pub mod key_flag {
    /// Read-only access.
    pub const RO: u16 = 1;
    /// Read-write access.
    pub const RW: u16 = 1 << 1;
    /// Overwrite: the old value is not read.
    pub const OW: u16 = 1 << 2;
    /// Deletes the key.
    pub const RM: u16 = 1 << 3;
    /// Returns, copies or uses the user data.
    pub const ACCESS: u16 = 1 << 4;
    /// Updates the value.
    pub const UPDATE: u16 = 1 << 5;
    /// Adds data.
    pub const INSERT: u16 = 1 << 6;
    /// Removes data.
    pub const DELETE: u16 = 1 << 7;
    /// Not a key (a shard channel): skipped unless asked for.
    pub const NOT_KEY: u16 = 1 << 8;
    /// The spec may miss keys: the command's own key finder is authoritative.
    pub const INCOMPLETE: u16 = 1 << 9;
    /// The flags depend on the arguments: the command's own key finder is authoritative.
    pub const VARIABLE_FLAGS: u16 = 1 << 10;

    /// Names and bits, in Redis's printing order.
    pub const NAMES: &[(&str, u16)] = &[
        ("RO", RO),
        ("RW", RW),
        ("OW", OW),
        ("RM", RM),
        ("access", ACCESS),
        ("update", UPDATE),
        ("insert", INSERT),
        ("delete", DELETE),
        ("not_key", NOT_KEY),
        ("incomplete", INCOMPLETE),
        ("variable_flags", VARIABLE_FLAGS),
    ];

    /// Whether a key with these flags is written (else only read).
    pub fn writes(f: u16) -> bool {
        f & (RW | OW | RM | UPDATE | INSERT | DELETE) != 0 || f == 0
    }
}

/// ACL categories, in `ACL CAT` order (Redis 7.0); bit `i` of [`Spec::categories`] is entry `i`.
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

/// The bit of a category name (no `@`), if it is one.
pub fn category_bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// redlink's own flags per command or subcommand (a container's apply to its subcommands too).
pub const LOCAL: &[(&str, u32)] = {
    use flag::*;
    &[
        ("acl", CONNECTION),
        ("auth", CONNECTION),
        ("bgsave", CONNECTION),
        ("client", CONNECTION),
        ("client|caching", TRACKING_CACHING),
        ("command", CONNECTION),
        ("config", CONNECTION),
        ("debug", EXCLUSIVE),
        ("discard", CONNECTION | NO_QUEUE | MULTI_OOM_OK),
        ("echo", CONNECTION),
        ("eval", EXCLUSIVE),
        ("eval_ro", EXCLUSIVE),
        ("evalsha", EXCLUSIVE),
        ("evalsha_ro", EXCLUSIVE),
        ("exec", EXCLUSIVE | NO_QUEUE | MULTI_OOM_OK | RUNS_QUEUE),
        ("fcall", EXCLUSIVE),
        ("fcall_ro", EXCLUSIVE),
        ("flushall", EXCLUSIVE | FLUSHES),
        ("flushdb", FLUSHES),
        ("function", CONNECTION),
        ("hello", CONNECTION),
        ("lastsave", CONNECTION),
        ("latency", CONNECTION),
        ("lolwut", CONNECTION),
        ("monitor", CONNECTION),
        ("multi", CONNECTION | NO_QUEUE),
        ("ping", CONNECTION | SUBSCRIBED_OK),
        ("psubscribe", CONNECTION | SUBSCRIBED_OK),
        ("publish", CONNECTION),
        ("pubsub", CONNECTION),
        ("punsubscribe", CONNECTION | SUBSCRIBED_OK),
        ("quit", CONNECTION | NO_QUEUE | SUBSCRIBED_OK | MULTI_OOM_OK),
        ("replicaof", CONNECTION),
        (
            "reset",
            CONNECTION | NO_QUEUE | SUBSCRIBED_OK | MULTI_OOM_OK,
        ),
        ("role", CONNECTION),
        ("save", CONNECTION),
        ("script", CONNECTION),
        ("select", CONNECTION),
        ("shutdown", CONNECTION | NO_QUEUE),
        ("slaveof", CONNECTION),
        ("slowlog", CONNECTION),
        ("spublish", CONNECTION),
        ("ssubscribe", CONNECTION | SUBSCRIBED_OK),
        ("subscribe", CONNECTION | SUBSCRIBED_OK),
        ("sunsubscribe", CONNECTION | SUBSCRIBED_OK),
        ("swapdb", EXCLUSIVE),
        ("time", CONNECTION),
        ("unsubscribe", CONNECTION | SUBSCRIBED_OK),
        ("unwatch", CONNECTION),
        ("wait", CONNECTION),
        ("watch", CONNECTION | NO_QUEUE),
    ]
};

/// Redis's native key finders (`getkeys_proc`), used where the key specs cannot tell (an
/// `unknown`/`incomplete` spec, `variable_flags`, or numbers the specs reject).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysProc {
    /// `genericGetKeys(store, count, first, step)`: `[dest] numkeys key...`.
    NumKeys {
        /// The destination key's index (0: none).
        store: usize,
        /// The index of `numkeys`.
        count: usize,
        /// The first key's index.
        first: usize,
    },
    /// SORT: the key and the last `STORE` destination.
    Sort,
    /// SORT_RO: the key.
    SortRo,
    /// GEORADIUS(BYMEMBER): the key and the last `STORE`/`STOREDIST` destination.
    Georadius,
    /// XREAD/XREADGROUP: the first half of what follows `STREAMS`.
    Xread,
    /// SET: read-write with `GET`, else overwrite.
    Set,
    /// BITFIELD: read-only when it only GETs.
    Bitfield,
}

/// Which commands have a native key finder.
pub const GETKEYS: &[(&str, KeysProc)] = {
    use KeysProc::*;
    const STORE: KeysProc = NumKeys {
        store: 1,
        count: 2,
        first: 3,
    };
    const PLAIN: KeysProc = NumKeys {
        store: 0,
        count: 1,
        first: 2,
    };
    const AFTER_ONE: KeysProc = NumKeys {
        store: 0,
        count: 2,
        first: 3,
    };
    &[
        ("zunionstore", STORE),
        ("zinterstore", STORE),
        ("zdiffstore", STORE),
        ("zunion", PLAIN),
        ("zinter", PLAIN),
        ("zdiff", PLAIN),
        ("zintercard", PLAIN),
        ("sintercard", PLAIN),
        ("lmpop", PLAIN),
        ("zmpop", PLAIN),
        ("blmpop", AFTER_ONE),
        ("bzmpop", AFTER_ONE),
        ("eval", AFTER_ONE),
        ("evalsha", AFTER_ONE),
        ("eval_ro", AFTER_ONE),
        ("evalsha_ro", AFTER_ONE),
        ("fcall", AFTER_ONE),
        ("fcall_ro", AFTER_ONE),
        ("sort", Sort),
        ("sort_ro", SortRo),
        ("georadius", Georadius),
        ("georadiusbymember", Georadius),
        ("xread", Xread),
        ("xreadgroup", Xread),
        ("set", Set),
        ("bitfield", Bitfield),
    ]
};

/// The channel arguments of a command, as Redis's `commands_with_channels` table has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channels {
    /// Index of the first channel.
    pub first: usize,
    /// How many (`None`: every argument from `first`).
    pub count: Option<usize>,
    /// Patterns (PSUBSCRIBE): checked literally against the user's channel rules.
    pub pattern: bool,
    /// Whether ACLs check them (publishing and subscribing, not unsubscribing).
    pub checked: bool,
}

/// Which commands take channels.
pub const CHANNELS: &[(&str, Channels)] = {
    const fn ch(count: Option<usize>, pattern: bool, checked: bool) -> Channels {
        Channels {
            first: 1,
            count,
            pattern,
            checked,
        }
    }
    &[
        ("subscribe", ch(None, false, true)),
        ("ssubscribe", ch(None, false, true)),
        ("psubscribe", ch(None, true, true)),
        ("unsubscribe", ch(None, false, false)),
        ("sunsubscribe", ch(None, false, false)),
        ("punsubscribe", ch(None, true, false)),
        ("publish", ch(Some(1), false, true)),
        ("spublish", ch(Some(1), false, true)),
    ]
};

/// Where a key spec starts looking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(usize),
    /// After a keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword {
        /// The keyword (case-insensitive).
        keyword: &'static str,
        /// Where the search starts.
        startfrom: i64,
    },
    /// Unknown: the command's key finder decides.
    Unknown,
}

/// How a key spec finds the keys from where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKeys {
    /// A range: up to `lastkey` (negative: from the end), every `keystep`; with `limit` > 0 the
    /// range covers 1/limit of what remains (XREAD's streams, followed by as many IDs).
    Range {
        /// Last key, relative to the first (negative: from the end).
        lastkey: i64,
        /// Step.
        keystep: i64,
        /// Divisor of the remaining arguments (0: none).
        limit: i64,
    },
    /// A count argument then the keys.
    Keynum {
        /// Index of the count, relative to the start.
        keynumidx: i64,
        /// Index of the first key, relative to the start.
        firstkey: i64,
        /// Step.
        keystep: i64,
    },
    /// Unknown: the command's key finder decides.
    Unknown,
}

/// One key spec.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// Redis's notes, if any.
    pub notes: Option<&'static str>,
    /// [`key_flag`] bits.
    pub flags: u16,
    /// The flag names as COMMAND INFO prints them.
    pub flag_names: &'static [&'static str],
    /// Where to start.
    pub begin_search: BeginSearch,
    /// How to find the keys.
    pub find_keys: FindKeys,
}

/// One key found in a command's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    /// Argument index (the command name is 0).
    pub pos: usize,
    /// [`key_flag`] bits (0 from key finders that do not tell).
    pub flags: u16,
}

/// COMMAND DOCS' entry for one command (a JSON object in redis-server's field order).
#[derive(Debug)]
pub struct Docs(pub Value);

impl Docs {
    fn str(&self, k: &str) -> &str {
        self.0.get(k).and_then(Value::as_str).unwrap_or("")
    }
}

/// One command or subcommand.
#[derive(Debug)]
pub struct Spec {
    /// A number of its own among every spec, subcommands included (`0..`[`count`]).
    pub id: usize,
    /// Lower-case full name (`get`, `config|get`).
    pub name: &'static str,
    /// The subcommand's own name (`get` for `config|get`; the name for a command).
    pub sub_name: &'static str,
    /// The container's name for a subcommand.
    pub container: Option<&'static str>,
    /// Redis arity: N = exactly N arguments (name included), -N = at least N.
    pub arity: i32,
    /// [`flag`] bits (Redis's and redlink's).
    pub flags: u32,
    /// Redis's flag names as COMMAND INFO prints them.
    pub flag_names: &'static [&'static str],
    /// The legacy (first, last, step) key range COMMAND INFO prints.
    pub key_range: (i64, i64, i64),
    /// ACL category bits (see [`CATEGORIES`]).
    pub categories: u32,
    /// The category names as COMMAND INFO prints them (without `@`).
    pub category_names: &'static [&'static str],
    /// Command tips (`nondeterministic_output`...).
    pub tips: &'static [&'static str],
    /// Key specs.
    pub key_specs: &'static [KeySpec],
    /// Redis's native key finder, if it has one.
    pub getkeys: Option<KeysProc>,
    /// Channel arguments, if any.
    pub channels: Option<Channels>,
    /// COMMAND DOCS.
    pub docs: Docs,
    /// Subcommands (empty unless a container).
    pub subcommands: &'static [Spec],
}

impl Spec {
    /// Whether `argc` arguments (name included; for a subcommand, the container's name too)
    /// satisfy the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= a.unsigned_abs() as usize)
    }

    /// Whether it is a container of subcommands (CONFIG, CLIENT...).
    #[inline]
    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// The subcommand named `arg`, case-insensitively.
    pub fn subcommand(&self, arg: &[u8]) -> Option<&Spec> {
        self.subcommands
            .iter()
            .find(|s| s.sub_name.as_bytes().eq_ignore_ascii_case(arg))
    }

    /// The summary (COMMAND DOCS).
    pub fn summary(&self) -> &str {
        self.docs.str("summary")
    }

    /// The documentation group (`string`, `server`...).
    pub fn group(&self) -> &str {
        self.docs.str("group")
    }

    /// Whether it is in ACL category `cat` (no `@`).
    pub fn in_category(&self, cat: &str) -> bool {
        category_bit(cat).is_some_and(|b| self.categories & b != 0)
    }

    /// Redis's `doesCommandHaveKeys`: a key finder, or a key spec that is not `not_key`.
    pub fn has_keys(&self) -> bool {
        self.getkeys.is_some()
            || self
                .key_specs
                .iter()
                .any(|k| k.flags & key_flag::NOT_KEY == 0)
    }

    /// The key arguments of a call (`args[0]` is the command name; for a subcommand, the
    /// container's), as Redis's `getKeysFromCommandWithSpecs` finds them: from the key specs
    /// when they are complete and their flags fixed, else with the command's key finder.
    pub fn keys(&self, args: &[&[u8]]) -> Vec<KeyRef> {
        let any_key = self
            .key_specs
            .iter()
            .any(|k| k.flags & key_flag::NOT_KEY == 0);
        let varflags = self
            .key_specs
            .iter()
            .any(|k| k.flags & key_flag::VARIABLE_FLAGS != 0);
        if any_key
            && !varflags
            && let Some(keys) = self.keys_from_specs(args)
        {
            return keys;
        }
        match self.getkeys {
            Some(proc) => keys_by_proc(proc, args),
            None => Vec::new(),
        }
    }

    /// Redis's `getKeysUsingKeySpecs` (without `not_key` specs); `None` when a spec is unknown,
    /// incomplete or does not fit the arguments.
    fn keys_from_specs(&self, args: &[&[u8]]) -> Option<Vec<KeyRef>> {
        let argc = args.len() as i64;
        let mut keys = Vec::new();
        for spec in self.key_specs {
            if spec.flags & key_flag::NOT_KEY != 0 {
                continue;
            }
            let mut first = match spec.begin_search {
                BeginSearch::Index(i) => i as i64,
                BeginSearch::Keyword { keyword, startfrom } => {
                    let (start, end) = if startfrom > 0 {
                        (startfrom, argc - 1)
                    } else {
                        (argc + startfrom, 1)
                    };
                    let mut found = 0;
                    let mut i = start;
                    while i != end {
                        if i >= argc || i < 1 {
                            break;
                        }
                        if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                            found = i + 1;
                            break;
                        }
                        i = if start <= end { i + 1 } else { i - 1 };
                    }
                    if found == 0 {
                        continue;
                    }
                    found
                }
                BeginSearch::Unknown => return None,
            };
            let (last, step) = match spec.find_keys {
                FindKeys::Range {
                    lastkey,
                    keystep,
                    limit,
                } => {
                    let last = if lastkey >= 0 {
                        first + lastkey
                    } else if limit == 0 {
                        argc + lastkey
                    } else {
                        first + ((argc - first) / limit + lastkey)
                    };
                    (last, keystep)
                }
                FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    keystep,
                } => {
                    if keynumidx >= argc {
                        return None;
                    }
                    let n = args
                        .get((first + keynumidx) as usize)
                        .and_then(|a| crate::protocol::parse_i64(a))
                        .filter(|n| *n >= 0)?;
                    first += firstkey;
                    (first + n - 1, keystep)
                }
                FindKeys::Unknown => return None,
            };
            if last >= argc || last < first || first >= argc {
                return None;
            }
            let mut i = first;
            while i <= last {
                // Past the end (negative arity): no key, the command reports the error.
                if i < argc {
                    keys.push(KeyRef {
                        pos: i as usize,
                        flags: spec.flags,
                    });
                }
                i += step.max(1);
            }
            if spec.flags & key_flag::INCOMPLETE != 0 {
                return None;
            }
        }
        Some(keys)
    }
}

/// Redis's native key finders (`db.c`), byte for byte in what they accept.
fn keys_by_proc(proc: KeysProc, args: &[&[u8]]) -> Vec<KeyRef> {
    use key_flag::*;
    let argc = args.len();
    let kw = |i: usize, k: &str| {
        args.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(k.as_bytes()))
    };
    let key = |pos: usize, flags: u16| KeyRef { pos, flags };
    match proc {
        KeysProc::NumKeys {
            store,
            count,
            first,
        } => {
            // C's atoi: leading digits, 0 when there are none.
            let num = args.get(count).map_or(0, |a| atoi(a));
            if num < 1 || num > (argc.saturating_sub(first)) as i64 {
                return Vec::new();
            }
            let mut keys: Vec<KeyRef> = (0..num as usize).map(|i| key(first + i, 0)).collect();
            if store > 0 {
                keys.push(key(store, 0));
            }
            keys
        }
        KeysProc::SortRo => vec![key(1, RO | ACCESS)],
        KeysProc::Sort => {
            let mut keys = vec![key(1, RO | ACCESS)];
            let mut store = None;
            let mut i = 2;
            while i < argc {
                if kw(i, "limit") {
                    i += 2;
                } else if kw(i, "get") || kw(i, "by") {
                    i += 1;
                } else if kw(i, "store") && i + 1 < argc {
                    store = Some(i + 1);
                }
                i += 1;
            }
            keys.extend(store.map(|p| key(p, OW | UPDATE)));
            keys
        }
        KeysProc::Georadius => {
            let mut stored = None;
            let mut i = 5;
            while i < argc {
                if (kw(i, "store") || kw(i, "storedist")) && i + 1 < argc {
                    stored = Some(i + 1);
                    i += 1;
                }
                i += 1;
            }
            let mut keys = vec![key(1, 0)];
            keys.extend(stored.map(|p| key(p, 0)));
            keys
        }
        KeysProc::Xread => {
            let mut streams = None;
            let mut i = 1;
            while i < argc {
                if kw(i, "block") || kw(i, "count") {
                    i += 1;
                } else if kw(i, "group") {
                    i += 2;
                } else if kw(i, "noack") {
                } else if kw(i, "streams") {
                    streams = Some(i);
                    break;
                } else {
                    break;
                }
                i += 1;
            }
            let Some(at) = streams else {
                return Vec::new();
            };
            let num = argc - at - 1;
            if num == 0 || !num.is_multiple_of(2) {
                return Vec::new();
            }
            (at + 1..at + 1 + num / 2).map(|p| key(p, 0)).collect()
        }
        KeysProc::Set => {
            let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            vec![key(
                1,
                if get {
                    RW | ACCESS | UPDATE
                } else {
                    OW | UPDATE
                },
            )]
        }
        KeysProc::Bitfield => {
            let mut readonly = true;
            let mut i = 2;
            while i < argc {
                let rem = argc - i - 1;
                if kw(i, "get") && rem >= 2 {
                    i += 2;
                } else if (kw(i, "set") || kw(i, "incrby")) && rem >= 3 {
                    readonly = false;
                    break;
                } else if kw(i, "overflow") && rem >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            vec![key(
                1,
                if readonly {
                    RO | ACCESS
                } else {
                    RW | ACCESS | UPDATE
                },
            )]
        }
    }
}

/// C's `atoi` (optional sign, leading digits, 0 without any).
fn atoi(a: &[u8]) -> i64 {
    let s = a.iter().skip_while(|b| b.is_ascii_whitespace());
    let mut neg = false;
    let mut n: i64 = 0;
    for (i, &b) in s.enumerate() {
        match b {
            b'-' | b'+' if i == 0 => neg = b == b'-',
            b'0'..=b'9' => n = n.saturating_mul(10).saturating_add((b - b'0') as i64),
            _ => break,
        }
    }
    if neg { -n } else { n }
}

/// The recorded specs (crates/engine/spec/commands.json).
const DATA: &str = include_str!("../spec/commands.json");

/// Every command's spec, by lower-case name.
pub static SPECS: LazyLock<HashMap<&'static str, &'static Spec, ahash::RandomState>> =
    LazyLock::new(|| {
        let all: Vec<Value> = serde_json::from_str(DATA).expect("spec/commands.json is valid");
        let specs: &'static [Spec] = leak(all.iter().map(|v| build(v, 0)).collect());
        specs.iter().map(|s| (s.name, s)).collect()
    });

/// Numbers handed out to specs so far ([`Spec::id`]).
static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many specs there are, subcommands included (every [`Spec::id`] is below).
pub fn count() -> usize {
    LazyLock::force(&SPECS);
    NEXT_ID.load(std::sync::atomic::Ordering::Relaxed)
}

/// Every command's and subcommand's spec, sorted by full name (`client|list` before `get`).
pub fn sorted_with_subcommands() -> Vec<&'static Spec> {
    let mut all: Vec<&'static Spec> = SPECS
        .values()
        .flat_map(|s| std::iter::once(*s).chain(s.subcommands.iter()))
        .collect();
    all.sort_unstable_by_key(|s| s.name);
    all
}

/// Every command's spec, sorted by name.
pub fn sorted() -> Vec<&'static Spec> {
    let mut all: Vec<&'static Spec> = SPECS.values().copied().collect();
    all.sort_unstable_by_key(|s| s.name);
    all
}

/// A spec by full name (`get`, `config|get`), case-insensitively.
pub fn find(name: &[u8]) -> Option<&'static Spec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.split_once('|') {
        None => SPECS.get(lower.as_str()).copied(),
        Some((container, sub)) => SPECS
            .get(container)?
            .subcommands
            .iter()
            .find(|s| s.sub_name == sub),
    }
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn strs(v: &Value) -> &'static [&'static str] {
    leak(
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(leak_str).collect())
            .unwrap_or_default(),
    )
}

fn int(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn local<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn build(v: &Value, inherited: u32) -> Spec {
    let name = leak_str(v["name"].as_str().unwrap_or(""));
    let flag_names = strs(&v["flags"]);
    let mut flags = inherited;
    for f in flag_names {
        flags |= local(flag::NAMES, f).unwrap_or(0);
    }
    let own = local(LOCAL, name).unwrap_or(0);
    flags |= own;
    let category_names = strs(&v["acl_categories"]);
    let categories = category_names
        .iter()
        .filter_map(|c| category_bit(c))
        .fold(0, |a, b| a | b);
    let range = &v["key_range"];
    let key_range = (
        range[0].as_i64().unwrap_or(0),
        range[1].as_i64().unwrap_or(0),
        range[2].as_i64().unwrap_or(0),
    );
    let key_specs = leak(
        v["key_specs"]
            .as_array()
            .map(|a| a.iter().map(key_spec).collect())
            .unwrap_or_default(),
    );
    // A container's own redlink flags (how it takes the gate...) apply to its subcommands.
    let subcommands = leak(
        v.get("subcommands")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|s| build(s, inherited | own)).collect())
            .unwrap_or_default(),
    );
    let (container, sub_name) = match name.split_once('|') {
        Some((c, s)) => (Some(c), s),
        None => (None, name),
    };
    Spec {
        id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        name,
        sub_name,
        container,
        arity: v["arity"].as_i64().unwrap_or(0) as i32,
        flags,
        flag_names,
        key_range,
        categories,
        category_names,
        tips: strs(&v["tips"]),
        key_specs,
        getkeys: local(GETKEYS, name),
        channels: local(CHANNELS, name),
        docs: Docs(v["docs"].clone()),
        subcommands,
    }
}

fn key_spec(v: &Value) -> KeySpec {
    let flag_names = strs(&v["flags"]);
    let flags = flag_names
        .iter()
        .filter_map(|f| local(key_flag::NAMES, f))
        .fold(0, |a, b| a | b);
    let bs = &v["begin_search"];
    let begin_search = match bs["type"].as_str() {
        Some("index") => BeginSearch::Index(int(bs, "index").max(0) as usize),
        Some("keyword") => BeginSearch::Keyword {
            keyword: leak_str(bs["keyword"].as_str().unwrap_or("")),
            startfrom: int(bs, "startfrom"),
        },
        _ => BeginSearch::Unknown,
    };
    let fk = &v["find_keys"];
    let find_keys = match fk["type"].as_str() {
        Some("range") => FindKeys::Range {
            lastkey: int(fk, "lastkey"),
            keystep: int(fk, "keystep"),
            limit: int(fk, "limit"),
        },
        Some("keynum") => FindKeys::Keynum {
            keynumidx: int(fk, "keynumidx"),
            firstkey: int(fk, "firstkey"),
            keystep: int(fk, "keystep"),
        },
        _ => FindKeys::Unknown,
    };
    KeySpec {
        notes: v.get("notes").and_then(Value::as_str).map(leak_str),
        flags,
        flag_names,
        begin_search,
        find_keys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_local_property_names_a_spec() {
        let names = LOCAL
            .iter()
            .map(|(n, _)| *n)
            .chain(GETKEYS.iter().map(|(n, _)| *n))
            .chain(CHANNELS.iter().map(|(n, _)| *n));
        for n in names {
            assert!(find(n.as_bytes()).is_some(), "{n} has no spec");
        }
    }

    #[test]
    fn every_flag_and_category_is_known() {
        for s in SPECS
            .values()
            .flat_map(|s| std::iter::once(*s).chain(s.subcommands))
        {
            for c in s.category_names {
                assert!(category_bit(c).is_some(), "{}: @{c}", s.name);
            }
            for k in s.key_specs {
                for f in k.flag_names {
                    assert!(local(key_flag::NAMES, f).is_some(), "{}: {f}", s.name);
                }
            }
        }
    }

    #[test]
    fn keys_follow_specs_and_procs() {
        let keys = |args: &[&[u8]]| -> Vec<(usize, u16)> {
            let s = find(args[0]).unwrap();
            s.keys(args).iter().map(|k| (k.pos, k.flags)).collect()
        };
        use key_flag::*;
        assert_eq!(keys(&[b"get", b"k"]), [(1, RO | ACCESS)]);
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
            [(1, OW | UPDATE), (3, RO | ACCESS), (4, RO | ACCESS)]
        );
        assert_eq!(
            keys(&[b"sort", b"k", b"STORE", b"d"]),
            [(1, RO | ACCESS), (3, OW | UPDATE)]
        );
        assert_eq!(keys(&[b"eval", b"s", b"x", b"a"]), []);
        assert_eq!(keys(&[b"ssubscribe", b"a"]), []);
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"12x"), 12);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"x"), 0);
    }
}
