//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP), all read
//! from the command specs ([`crate::spec`]) and written in redis-server 7.0's shapes and field
//! order, so COMMAND INFO and COMMAND DOCS are identical to redis-server's.

use serde_json::Value;

use super::{CmdResult, Ctx, Error, Handler, err, is};
use crate::disabled::Disabled;
use crate::protocol::Out;
use crate::spec::{self, BeginSearch, FindKeys, Spec, key_flag};

/// COMMAND.
pub static HANDLERS: &[(&str, Handler)] = &[("command", command)];

/// COMMAND INFO's reply for one command (its subcommands nested, as Redis 7 does).
pub fn write_info(out: &mut Out, c: &Spec) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    out.set(c.flag_names.len());
    for f in c.flag_names {
        out.simple(f);
    }
    out.int(c.key_range.0);
    out.int(c.key_range.1);
    out.int(c.key_range.2);
    out.set(c.category_names.len());
    for cat in c.category_names {
        out.simple(&format!("@{cat}"));
    }
    out.set(c.tips.len());
    for t in c.tips {
        out.bulk(t.as_bytes());
    }
    out.set(c.key_specs.len());
    for ks in c.key_specs {
        out.map(3 + ks.notes.is_some() as usize);
        if let Some(n) = ks.notes {
            out.bulk(b"notes");
            out.bulk(n.as_bytes());
        }
        out.bulk(b"flags");
        out.set(ks.flag_names.len());
        for f in ks.flag_names {
            out.simple(f);
        }
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        match &ks.begin_search {
            BeginSearch::Index(i) => {
                out.bulk(b"index");
                out.bulk(b"spec");
                out.map(1);
                out.bulk(b"index");
                out.int(*i as i64);
            }
            BeginSearch::Keyword { keyword, startfrom } => {
                out.bulk(b"keyword");
                out.bulk(b"spec");
                out.map(2);
                out.bulk(b"keyword");
                out.bulk(keyword.as_bytes());
                out.bulk(b"startfrom");
                out.int(*startfrom);
            }
            BeginSearch::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        match &ks.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                out.bulk(b"range");
                out.bulk(b"spec");
                out.map(3);
                for (k, v) in [("lastkey", lastkey), ("keystep", keystep), ("limit", limit)] {
                    out.bulk(k.as_bytes());
                    out.int(*v);
                }
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                out.bulk(b"keynum");
                out.bulk(b"spec");
                out.map(3);
                for (k, v) in [
                    ("keynumidx", keynumidx),
                    ("firstkey", firstkey),
                    ("keystep", keystep),
                ] {
                    out.bulk(k.as_bytes());
                    out.int(*v);
                }
            }
            FindKeys::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
    }
    if c.is_container() {
        out.array(c.subcommands.len());
        for s in c.subcommands {
            write_info(out, s);
        }
    } else {
        out.set(0);
    }
}

/// Fields of COMMAND DOCS, in redis-server's order.
const DOC_FIELDS: &[&str] = &[
    "summary",
    "since",
    "group",
    "complexity",
    "doc_flags",
    "deprecated_since",
    "replaced_by",
    "history",
    "arguments",
];

/// Fields of an argument in COMMAND DOCS, in redis-server's order.
const ARG_FIELDS: &[&str] = &[
    "name",
    "type",
    "key_spec_index",
    "token",
    "summary",
    "since",
    "deprecated_since",
    "flags",
    "arguments",
];

/// COMMAND DOCS' map for one command (its subcommands' docs nested).
pub fn write_docs(out: &mut Out, c: &Spec) {
    let d = &c.docs.0;
    let present: Vec<&str> = DOC_FIELDS
        .iter()
        .copied()
        .filter(|k| d.get(*k).is_some())
        .collect();
    out.map(present.len() + c.is_container() as usize);
    for k in present {
        out.bulk(k.as_bytes());
        let v = &d[k];
        match k {
            "doc_flags" => write_statuses(out, v),
            "history" => {
                let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
                out.set(items.len());
                for item in items {
                    out.array(2);
                    out.bulk(item[0].as_str().unwrap_or("").as_bytes());
                    out.bulk(item[1].as_str().unwrap_or("").as_bytes());
                }
            }
            "arguments" => write_args(out, v),
            _ => out.bulk(v.as_str().unwrap_or("").as_bytes()),
        }
    }
    if c.is_container() {
        out.bulk(b"subcommands");
        out.map(c.subcommands.len());
        for s in c.subcommands {
            out.bulk(s.name.as_bytes());
            write_docs(out, s);
        }
    }
}

fn write_statuses(out: &mut Out, v: &Value) {
    let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
    out.set(items.len());
    for f in items {
        out.simple(f.as_str().unwrap_or(""));
    }
}

fn write_args(out: &mut Out, v: &Value) {
    let args = v.as_array().map(Vec::as_slice).unwrap_or_default();
    out.array(args.len());
    for a in args {
        let present: Vec<&str> = ARG_FIELDS
            .iter()
            .copied()
            .filter(|k| a.get(*k).is_some())
            .collect();
        out.map(present.len());
        for k in present {
            out.bulk(k.as_bytes());
            let v = &a[k];
            match k {
                "key_spec_index" => out.int(v.as_i64().unwrap_or(0)),
                "flags" => write_statuses(out, v),
                "arguments" => write_args(out, v),
                _ => out.bulk(v.as_str().unwrap_or("").as_bytes()),
            }
        }
    }
}

/// Every command and subcommand (`config|get`), as COMMAND LIST gives them.
fn all_names(disabled: &Disabled) -> impl Iterator<Item = &'static Spec> + '_ {
    sorted(disabled)
        .into_iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands))
}

/// Whether a command (or a subcommand, by its container) is disabled on this engine: like a command
/// redis.conf renames to `""`, it is gone from COMMAND's answers too.
fn hidden(disabled: &Disabled, c: &Spec) -> bool {
    disabled.contains(c.name.split('|').next().unwrap_or(c.name))
}

/// The engine's commands, sorted by name, without the disabled ones.
fn sorted(disabled: &Disabled) -> Vec<&'static Spec> {
    let mut all = spec::sorted();
    all.retain(|c| !hidden(disabled, c));
    all
}

/// The whole table's COMMAND INFO (`docs: false`) or COMMAND DOCS (`docs: true`) reply, written
/// once per protocol and set of disabled commands and then copied: the specs are fixed when the
/// binary is built, so the reply only changes with those two. Cluster clients (go-redis,
/// redis-py's cluster client) send COMMAND on every new connection; it is ~1,000 specs' worth of
/// encoding (a few hundred KB).
fn whole_table(out: &mut Out, disabled: &Disabled, docs: bool) {
    type Written = (bool, bool, Vec<String>, bytes::Bytes);
    /// A few entries: one process rarely runs engines with more than two disabled sets.
    const KEPT: usize = 8;
    static WRITTEN: parking_lot::Mutex<Vec<Written>> = parking_lot::Mutex::new(Vec::new());
    let names = disabled.names();
    let resp3 = out.resp3;
    let same = |(d, r, n, _): &&Written| *d == docs && *r == resp3 && *n == names;
    let found = WRITTEN.lock().iter().find(same).map(|(.., b)| b.clone());
    if let Some(bytes) = found {
        out.raw(&bytes);
        return;
    }
    let mut fresh = Out::new(out.resp3);
    let all = sorted(disabled);
    if docs {
        write_docs_map(&mut fresh, &all);
    } else {
        fresh.array(all.len());
        for c in all {
            write_info(&mut fresh, c);
        }
    }
    let bytes = fresh.buf.freeze();
    out.raw(&bytes);
    let mut written = WRITTEN.lock();
    // (Another connection may have written the same reply meanwhile.)
    if written.iter().any(|w| same(&w)) {
        return;
    }
    if written.len() >= KEPT {
        written.remove(0);
    }
    written.push((docs, resp3, names, bytes));
}

/// COMMAND DOCS's reply for these commands: a map of name to docs.
fn write_docs_map(out: &mut Out, cmds: &[&'static Spec]) {
    out.map(cmds.len());
    for c in cmds {
        out.bulk(c.name.as_bytes());
        write_docs(out, c);
    }
}

fn command(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let disabled = &ctx.engine.disabled;
    let out = &mut *ctx.out;
    if args.len() == 1 {
        whole_table(out, disabled, false);
        return Ok(());
    }
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "count" => out.int(sorted(disabled).len() as i64),
        "info" => {
            if args.len() == 2 {
                whole_table(out, disabled, false);
            } else {
                out.array(args.len() - 2);
                for n in &args[2..] {
                    match spec::find(n).filter(|c| !hidden(disabled, c)) {
                        Some(c) => write_info(out, c),
                        None => out.null(),
                    }
                }
            }
        }
        "docs" => {
            if args.len() == 2 {
                whole_table(out, disabled, true);
                return Ok(());
            }
            let cmds: Vec<&'static Spec> = args[2..]
                .iter()
                .filter_map(|n| spec::find(n))
                .filter(|c| !hidden(disabled, c))
                .collect();
            write_docs_map(out, &cmds);
        }
        "list" => {
            let names: Vec<&'static str> = match args.len() {
                2 => all_names(disabled).map(|c| c.name).collect(),
                5 if is(args[2], "FILTERBY") => {
                    if is(args[3], "PATTERN") {
                        all_names(disabled)
                            .filter(|c| crate::glob::matches_nocase(args[4], c.name.as_bytes()))
                            .map(|c| c.name)
                            .collect()
                    } else if is(args[3], "ACLCAT") {
                        let cat = String::from_utf8_lossy(args[4]);
                        all_names(disabled)
                            .filter(|c| c.in_category(&cat))
                            .map(|c| c.name)
                            .collect()
                    } else if is(args[3], "MODULE") {
                        Vec::new()
                    } else {
                        return Err(err::SYNTAX);
                    }
                }
                _ => return Err(err::SYNTAX),
            };
            out.array(names.len());
            for n in names {
                out.bulk(n.as_bytes());
            }
        }
        "getkeys" | "getkeysandflags" => {
            let with_flags = sub == "getkeysandflags";
            let call = &args[2..];
            let Some(c) = super::lookup_call(call).filter(|c| !hidden(disabled, c)) else {
                return Err(Error::from("ERR Invalid command specified"));
            };
            if !c.has_keys() {
                return Err(Error::from("ERR The command has no key arguments"));
            }
            if !c.arity_ok(call.len()) {
                return Err(Error::from(
                    "ERR Invalid number of arguments specified for command",
                ));
            }
            let keys = c.keys(call);
            if keys.is_empty() && c.flags & spec::flag::NO_MANDATORY_KEYS == 0 {
                return Err(Error::from("ERR Invalid arguments specified for command"));
            }
            out.array(keys.len());
            for k in keys {
                if with_flags {
                    out.array(2);
                    out.bulk(call[k.pos]);
                    let names: Vec<&str> = key_flag::NAMES
                        .iter()
                        .filter(|(_, bit)| k.flags & bit != 0)
                        .map(|(n, _)| *n)
                        .collect();
                    out.set(names.len());
                    for n in names {
                        out.simple(n);
                    }
                } else {
                    out.bulk(call[k.pos]);
                }
            }
        }
        "help" => out.help(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ]),
        // The dispatcher resolved the subcommand: nothing else reaches the handler.
        _ => return Err(super::unknown_subcommand("command", args[1])),
    }
    Ok(())
}
