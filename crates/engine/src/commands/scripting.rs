//! EVAL / EVALSHA / EVAL_RO / EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP, with
//! Redis 7.0's replies and error texts. The Lua machinery (the state, `redis.call`, conversions and
//! the busy-script state) lives in [`crate::scripting`]; this module parses arguments.

use super::{
    CmdResult, Command, Ctx, Error, cmd, flag::*, int_arg, is, sub_arity_error, unknown_subcommand,
};
use crate::scripting::sha1_hex;

/// Scripting commands.
pub static COMMANDS: &[Command] = &[
    cmd(
        "eval",
        -3,
        NOSCRIPT | STALE | EXCLUSIVE,
        (0, 0, 0),
        "scripting",
        "2.6.0",
        "Executes a server-side Lua script.",
        eval,
    ),
    cmd(
        "evalsha",
        -3,
        NOSCRIPT | STALE | EXCLUSIVE,
        (0, 0, 0),
        "scripting",
        "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.",
        evalsha,
    ),
    cmd(
        "eval_ro",
        -3,
        NOSCRIPT | STALE | READONLY | EXCLUSIVE,
        (0, 0, 0),
        "scripting",
        "7.0.0",
        "Executes a read-only server-side Lua script.",
        eval_ro,
    ),
    cmd(
        "evalsha_ro",
        -3,
        NOSCRIPT | STALE | READONLY | EXCLUSIVE,
        (0, 0, 0),
        "scripting",
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
        evalsha_ro,
    ),
    cmd(
        "script",
        -2,
        NOSCRIPT | CONNECTION,
        (0, 0, 0),
        "scripting",
        "2.6.0",
        "A container for Lua scripts management commands.",
        script,
    ),
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

const NOSCRIPT_ERR: &str = "NOSCRIPT No matching script. Please use EVAL.";

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
    let scripting = &engine.scripting;
    let (sha, body) = if by_sha {
        if args[1].len() != 40 {
            return Err(Error::from(NOSCRIPT_ERR));
        }
        let sha = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
        let body = scripting.get(&sha).ok_or(Error::from(NOSCRIPT_ERR))?;
        (sha, body)
    } else {
        (sha1_hex(args[1]), std::sync::Arc::from(args[1]))
    };
    scripting.eval(ctx, &sha, &body, keys, argv, read_only)
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
        ("help", 2) => ctx.out.help(HELP),
        ("load", 3) => {
            let sha = scripting.load(args[2])?;
            ctx.out.bulk(sha.as_bytes());
        }
        ("exists", n) if n >= 3 => {
            ctx.out.array(n - 2);
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
        ("kill", 2) => {
            scripting.kill()?;
            ctx.out.ok();
        }
        ("debug", 3) => {
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
        ("help" | "load" | "exists" | "kill" | "debug", _) => {
            return Err(sub_arity_error("script", &sub));
        }
        _ => return Err(unknown_subcommand("script", args[1])),
    }
    Ok(())
}
