//! EVAL / EVALSHA / EVAL_RO / EVALSHA_RO, SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP, and Redis 7
//! Functions (FCALL / FCALL_RO, FUNCTION LOAD / LIST / DELETE / FLUSH / DUMP / RESTORE / KILL /
//! STATS / HELP), with Redis 7.0's replies and error texts. The Lua machinery (the state, `redis.call`, conversions and
//! the busy-script state) lives in [`crate::scripting`]; this module parses arguments.

use super::{CmdResult, Ctx, Error, Handler, int_arg, is, unknown_subcommand};
use crate::scripting::Script;
use std::sync::atomic::Ordering;

/// Scripting commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("fcall", fcall),
    ("fcall_ro", fcall_ro),
    ("function", function),
    ("script", script),
];

fn eval(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, false, false)
}

fn evalsha(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, true, false)
}

fn eval_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, true, true)
}

fn generic(ctx: &mut Ctx, args: &[&[u8]], by_sha: bool, read_only: bool) -> CmdResult {
    let numkeys = int_arg(args[2])?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(Error::from(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Error::from("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    let keys = &args[3..3 + numkeys];
    let argv = &args[3 + numkeys..];
    let engine = ctx.engine;
    let script = if by_sha {
        Script::Sha(args[1])
    } else {
        Script::Body(args[1])
    };
    engine
        .scripting
        .eval(ctx, script, keys, argv, read_only, args)
}

fn fcall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, args, true)
}

fn fcall_generic(ctx: &mut Ctx, args: &[&[u8]], read_only: bool) -> CmdResult {
    let numkeys = int_arg(args[2]).map_err(|_| Error::from("ERR Bad number of keys provided"))?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(Error::from(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Error::from("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    let keys = &args[3..3 + numkeys];
    let argv = &args[3 + numkeys..];
    let engine = ctx.engine;
    engine
        .scripting
        .fcall(ctx, args[1], keys, argv, read_only, args)
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// `unknown subcommand or wrong number of arguments` (Redis's `addReplySubcommandSyntaxError`).
fn function_syntax_error(sub: &[u8]) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn function(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let engine = ctx.engine;
    let scripting = &engine.scripting;
    // Library code runs at LOAD/RESTORE: under the Lua heap cap that follows maxmemory.
    scripting.note_maxmemory(engine.hot.maxmemory.load(Ordering::Relaxed));
    let n = args.len();
    match sub.as_str() {
        "help" => ctx.out.help(FUNCTION_HELP),
        "load" => {
            let mut replace = false;
            for opt in &args[2..n - 1] {
                if is(opt, "REPLACE") {
                    replace = true;
                } else {
                    return Err(Error::msg(format!(
                        "ERR Unknown option given: {}",
                        String::from_utf8_lossy(opt)
                    )));
                }
            }
            let name = scripting.function_load(args[n - 1], replace)?;
            ctx.out.bulk(name.as_bytes());
        }
        "delete" => {
            scripting.function_delete(args[2])?;
            ctx.out.ok();
        }
        "flush" if n <= 3 => {
            if n == 3 && !(is(args[2], "SYNC") || is(args[2], "ASYNC")) {
                return Err(Error::from(
                    "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                ));
            }
            scripting.function_flush()?;
            ctx.out.ok();
        }
        "flush" => return Err(function_syntax_error(args[1])),
        "list" => {
            let mut opts = crate::scripting::ListOptions::default();
            let mut i = 2;
            while i < n {
                if !opts.with_code && is(args[i], "WITHCODE") {
                    opts.with_code = true;
                } else if opts.pattern.is_none() && is(args[i], "LIBRARYNAME") {
                    if i + 1 >= n {
                        return Err(Error::from("ERR library name argument was not given"));
                    }
                    i += 1;
                    opts.pattern = Some(args[i]);
                } else {
                    return Err(Error::msg(format!(
                        "ERR Unknown argument {}",
                        String::from_utf8_lossy(args[i])
                    )));
                }
                i += 1;
            }
            scripting.function_list(ctx.out, &opts)?;
        }
        "dump" => {
            let codes = scripting.function_codes()?;
            let payload = crate::rdb::dump_functions(codes.iter().map(|c| &c[..]));
            ctx.out.bulk(&payload);
        }
        "restore" if n == 3 || n == 4 => {
            use crate::scripting::RestorePolicy;
            let policy = match args.get(3) {
                None => RestorePolicy::Append,
                Some(p) if is(p, "FLUSH") => RestorePolicy::Flush,
                Some(p) if is(p, "APPEND") => RestorePolicy::Append,
                Some(p) if is(p, "REPLACE") => RestorePolicy::Replace,
                Some(_) => {
                    return Err(Error::from(
                        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                    ));
                }
            };
            scripting.function_restore(args[2], policy)?;
            ctx.out.ok();
        }
        "restore" if n > 4 => return Err(function_syntax_error(args[1])),
        "kill" => {
            scripting.kill(false)?;
            ctx.out.ok();
        }
        "stats" => scripting.function_stats(ctx.out)?,
        // The dispatcher resolved the subcommand and checked its arity.
        _ => return Err(unknown_subcommand("function", args[1])),
    }
    Ok(())
}

const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn script(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let engine = ctx.engine;
    let scripting = &engine.scripting;
    match (sub.as_str(), args.len()) {
        ("help", _) => ctx.out.help(HELP),
        ("load", _) => {
            scripting.note_maxmemory(engine.hot.maxmemory.load(Ordering::Relaxed));
            let sha = scripting.load(args[2])?;
            ctx.out.bulk(sha.as_bytes());
        }
        ("exists", _) => {
            ctx.out.array(args.len() - 2);
            for sha in &args[2..] {
                ctx.out.int(scripting.exists(sha) as i64);
            }
        }
        ("flush", 2 | 3) => {
            if args.len() == 3 && !(is(args[2], "SYNC") || is(args[2], "ASYNC")) {
                return Err(Error::from(
                    "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                ));
            }
            scripting.flush()?;
            ctx.out.ok();
        }
        ("flush", _) => {
            return Err(Error::from(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ));
        }
        ("kill", _) => {
            scripting.kill(true)?;
            ctx.out.ok();
        }
        ("debug", _) => {
            if is(args[2], "NO") {
                ctx.out.ok();
            } else if is(args[2], "YES") || is(args[2], "SYNC") {
                return Err(Error::from(
                    "ERR SCRIPT DEBUG is not supported by this server",
                ));
            } else {
                return Err(Error::from("ERR Use SCRIPT DEBUG YES/SYNC/NO"));
            }
        }
        // The dispatcher resolved the subcommand and checked its arity.
        _ => return Err(unknown_subcommand("script", args[1])),
    }
    Ok(())
}
