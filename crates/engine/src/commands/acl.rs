//! The ACL command (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOG, GENPASS, DRYRUN, HELP)
//! over the engine's users ([`crate::acl`]), with Redis 7.0.15's replies and error texts.

use super::{CmdResult, Ctx, Error, Handler, int_arg, is};
use crate::acl::{CATEGORIES, Denied, category_members};

/// The ACL command.
pub static HANDLERS: &[(&str, Handler)] = &[("acl", acl)];

/// Redis's reply when CAT, LOG or GENPASS get too many arguments (their own parsing, after the
/// subcommand's arity passed).
fn syntax_error(given: &[u8]) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        String::from_utf8_lossy(given)
    ))
}

fn acl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // The dispatcher resolved the subcommand and checked its arity.
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let engine = ctx.engine;
    match sub.as_str() {
        "setuser" => {
            let name = String::from_utf8_lossy(args[2]).into_owned();
            if name.contains([' ', '\0']) {
                return Err(Error::from(
                    "ERR Usernames can't contain spaces or null characters",
                ));
            }
            let merged = crate::acl::merge_selectors(&args[3..])
                .map_err(|e| Error::msg(format!("ERR {e}")))?;
            let rules: Vec<&[u8]> = merged.iter().map(|r| r.as_slice()).collect();
            engine.acl.set_user(&name, &rules).map_err(|(rule, e)| {
                Error::msg(format!(
                    "ERR Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(rule),
                    e.text()
                ))
            })?;
            engine.acl_changed();
            ctx.out.ok();
        }
        "getuser" => {
            let name = String::from_utf8_lossy(args[2]);
            let Some(u) = engine.acl.user(&name) else {
                ctx.out.null();
                return Ok(());
            };
            let out = &mut *ctx.out;
            out.map(6);
            out.bulk(b"flags");
            let flags = u.flags();
            out.array(flags.len());
            for f in flags {
                out.bulk(f.as_bytes());
            }
            out.bulk(b"passwords");
            out.array(u.passwords.len());
            for p in &u.passwords {
                out.bulk(p.as_bytes());
            }
            out.bulk(b"commands");
            out.bulk(u.describe_commands().as_bytes());
            out.bulk(b"keys");
            out.bulk(u.describe_keys().as_bytes());
            out.bulk(b"channels");
            out.bulk(u.describe_channels().as_bytes());
            out.bulk(b"selectors");
            out.array(u.selectors.len());
            for s in &u.selectors {
                out.map(3);
                out.bulk(b"commands");
                out.bulk(s.describe_commands().as_bytes());
                out.bulk(b"keys");
                out.bulk(s.describe_keys().as_bytes());
                out.bulk(b"channels");
                out.bulk(s.describe_channels().as_bytes());
            }
        }
        "deluser" => {
            let mut deleted = 0;
            for a in &args[2..] {
                let name = String::from_utf8_lossy(a);
                if name == "default" {
                    return Err(Error::from("ERR The 'default' user cannot be removed"));
                }
                if engine.acl.delete_user(&name) {
                    deleted += 1;
                    disconnect_user(ctx, &name);
                }
            }
            engine.acl_changed();
            ctx.out.int(deleted);
        }
        "list" => {
            let users = engine.acl.users();
            ctx.out.array(users.len());
            for u in users {
                let line = format!("user {} {}", u.name, u.describe());
                ctx.out.bulk(line.as_bytes());
            }
        }
        "users" => {
            let users = engine.acl.users();
            ctx.out.array(users.len());
            for u in users {
                ctx.out.bulk(u.name.as_bytes());
            }
        }
        "whoami" => {
            let name = ctx.client.user.clone();
            ctx.out.bulk(name.as_bytes());
        }
        "cat" => {
            if args.len() == 2 {
                ctx.out.array(CATEGORIES.len());
                for c in CATEGORIES {
                    ctx.out.bulk(c.as_bytes());
                }
            } else if args.len() == 3 {
                let cat = String::from_utf8_lossy(args[2]).to_ascii_lowercase();
                if !CATEGORIES.contains(&cat.as_str()) {
                    return Err(Error::msg(format!(
                        "ERR Unknown category '{}'",
                        String::from_utf8_lossy(args[2])
                    )));
                }
                let names = category_members(&cat);
                ctx.out.array(names.len());
                for n in names {
                    ctx.out.bulk(n.as_bytes());
                }
            } else {
                return Err(syntax_error(args[1]));
            }
        }
        "genpass" => {
            let bits = match args.len() {
                2 => 256,
                3 => int_arg(args[2])?,
                _ => return Err(syntax_error(args[1])),
            };
            if bits <= 0 || bits > 4096 {
                return Err(Error::from(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ));
            }
            use rand::Rng;
            let chars = (bits as usize).div_ceil(4);
            let mut rng = rand::rng();
            let pass: String = (0..chars)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect();
            ctx.out.bulk(pass.as_bytes());
        }
        "log" => {
            let count = match args.len() {
                2 => 10,
                3 if is(args[2], "RESET") => {
                    engine.acl.reset_log();
                    ctx.out.ok();
                    return Ok(());
                }
                3 => int_arg(args[2])?.max(0) as usize,
                _ => return Err(syntax_error(args[1])),
            };
            let now = engine.clock().now_ms();
            let entries = engine.acl.log_entries(count);
            let out = &mut *ctx.out;
            out.array(entries.len());
            for e in entries {
                out.map(7);
                out.bulk(b"count");
                out.int(e.count as i64);
                out.bulk(b"reason");
                out.bulk(e.reason.as_bytes());
                out.bulk(b"context");
                out.bulk(e.context.as_bytes());
                out.bulk(b"object");
                out.bulk(e.object.as_bytes());
                out.bulk(b"username");
                out.bulk(e.username.as_bytes());
                out.bulk(b"age-seconds");
                out.double(now.saturating_sub(e.updated_ms) as f64 / 1000.0);
                out.bulk(b"client-info");
                out.bulk(e.client_info.as_bytes());
            }
        }
        "dryrun" => {
            let name = String::from_utf8_lossy(args[2]);
            let Some(u) = engine.acl.user(&name) else {
                return Err(Error::msg(format!("ERR User '{name}' not found")));
            };
            let Some(c) = super::lookup_call(&args[3..]) else {
                return Err(Error::msg(format!(
                    "ERR Command '{}' not found",
                    String::from_utf8_lossy(args[3])
                )));
            };
            let cmd_args = &args[3..];
            if !c.arity_ok(cmd_args.len()) {
                return Err(super::arity_error(c.name));
            }
            match u.check(c, cmd_args) {
                Ok(()) => ctx.out.ok(),
                Err(d) => ctx.out.bulk(d.dryrun().as_bytes()),
            }
        }
        "load" | "save" => {
            return Err(Error::from(
                "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
            ));
        }
        "help" => {
            let lines = [
                "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOAD",
                "    Reload users from the ACL file.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "SAVE",
                "    Save the current config to the ACL file.",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
                "HELP",
                "    Prints this help.",
            ];
            ctx.out.help(&lines);
        }
        _ => return Err(super::unknown_subcommand("acl", args[1])),
    }
    Ok(())
}

/// Close every connection authenticated as `name` (the calling one after its reply), like Redis
/// does when a user is deleted.
fn disconnect_user(ctx: &mut Ctx, name: &str) {
    let me = ctx.client.handle.id;
    for c in ctx.engine.clients.all() {
        let user = c.info.lock().user.clone();
        let user = if user.is_empty() { "default" } else { &user };
        if user != name {
            continue;
        }
        if c.id == me {
            ctx.client.close_after_reply = true;
        } else {
            c.kill();
        }
    }
}

/// Check the calling client's permissions for a command; on refusal log it (`context`: `toplevel`
/// or `multi`) and return the NOPERM error.
pub fn check_permissions(
    ctx: &mut Ctx,
    c: &'static super::Command,
    args: &[&[u8]],
    context: &'static str,
) -> Result<(), Error> {
    denial(ctx, c, args, context).map_or(Ok(()), |d| Err(Error::msg(d.error())))
}

/// Why the calling client may not run a command (logged with `context`), if it may not; callers
/// that word the refusal themselves (scripts) match on it.
pub fn denial(
    ctx: &mut Ctx,
    c: &'static super::Command,
    args: &[&[u8]],
    context: &'static str,
) -> Option<Denied> {
    let epoch = ctx.engine.acl.epoch();
    if ctx.client.acl_epoch != epoch {
        ctx.client.refresh_acl(ctx.engine, epoch);
    }
    if ctx.client.acl_user.unrestricted {
        return None;
    }
    let user = ctx.client.acl_user.clone();
    let d = user.check(c, args).err()?;
    ctx.client.publish_cmd(c.name);
    log_denied(ctx, &d, context);
    Some(d)
}

/// Whether the client's user may run `c` with `args` (Redis's `ACLCheckAllUserCommandPerm`:
/// command, keys and channels), without logging a denial: `redis.acl_check_cmd`.
pub fn permitted(ctx: &mut Ctx, c: &'static super::Command, args: &[&[u8]]) -> bool {
    let epoch = ctx.engine.acl.epoch();
    if ctx.client.acl_epoch != epoch {
        ctx.client.refresh_acl(ctx.engine, epoch);
    }
    ctx.client.acl_user.unrestricted || ctx.client.acl_user.check(c, args).is_ok()
}

fn log_denied(ctx: &mut Ctx, d: &Denied, context: &'static str) {
    let (reason, object) = d.log_parts();
    let info = ctx.client.handle.describe();
    ctx.engine
        .acl
        .log(reason, context, object, ctx.client.user.clone(), info);
}
