//! Connection commands: PING, ECHO, AUTH, HELLO, SELECT, QUIT, RESET and CLIENT.

use std::sync::atomic::Ordering;

use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is};

/// The version INFO and HELLO report: redlink speaks Redis 7.2.
pub const REDIS_VERSION: &str = "7.2.4";

/// Connection commands.
pub static HANDLERS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("auth", auth),
    ("hello", hello),
    ("select", select),
    ("quit", quit),
    ("reset", reset),
    ("client", client),
];

fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if !ctx.out.resp3 && ctx.client.subscriptions() > 0 && args.len() <= 2 {
        // In RESP2 subscribed mode PING answers like a message: ["pong", arg-or-empty].
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).copied().unwrap_or(b""));
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args[1]),
        _ => return Err(super::arity_error("ping")),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(args[1]);
    Ok(())
}

/// Check a user name and password against the ACL users: the user must exist, be `on`, and have
/// `nopass` or this password (`requirepass` is the default user's password).
fn check_credentials(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    let Ok(name) = std::str::from_utf8(user) else {
        return false;
    };
    ctx.engine
        .acl
        .user(name)
        .is_some_and(|u| u.check_password(pass))
}

fn authenticate(ctx: &mut Ctx, command: &'static str, user: &[u8], pass: &[u8]) -> CmdResult {
    if !check_credentials(ctx, user, pass) {
        let user = String::from_utf8_lossy(user).into_owned();
        ctx.client.publish_cmd(command);
        let info = ctx.client.handle.describe();
        let context = if ctx.in_exec { "multi" } else { "toplevel" };
        ctx.engine
            .acl
            .log("auth", context, command.to_string(), user.clone(), info);
        ctx.engine.emit(
            crate::EngineEventKind::AuthFailed { user },
            &ctx.client.handle.ctx,
        );
        return Err(err::WRONGPASS);
    }
    ctx.client.authenticated = true;
    ctx.client.set_user(&String::from_utf8_lossy(user));
    Ok(())
}

fn auth(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match args.len() {
        2 => {
            if ctx.engine.acl.user("default").is_some_and(|u| u.nopass) {
                return Err(Error::from(crate::session::AUTH_WITHOUT_PASSWORD));
            }
            authenticate(ctx, "auth", b"default", args[1])?;
        }
        3 => authenticate(ctx, "auth", args[1], args[2])?,
        _ => return Err(err::SYNTAX),
    }
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if args.len() > 1 {
        let v = int_arg(args[1])
            .map_err(|_| Error::from("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(Error::from("NOPROTO unsupported protocol version"));
        }
        proto = Some(v);
        i = 2;
    }
    let mut creds = None;
    let mut name = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(args[i], "AUTH") && more >= 2 {
            creds = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if is(args[i], "SETNAME") && more >= 1 {
            name = Some(args[i + 1]);
            i += 2;
        } else {
            return Err(Error::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(args[i])
            )));
        }
    }
    if let Some((user, pass)) = creds {
        authenticate(ctx, "hello", user, pass)?;
    }
    if !ctx.client.authenticated && ctx.engine.hot.auth_required.load(Ordering::Relaxed) {
        return Err(Error::from(crate::session::NOAUTH_HELLO));
    }
    if let Some(n) = name {
        validate_name(n)?;
        ctx.client.handle.info.lock().name = String::from_utf8_lossy(n).into_owned();
    }
    if let Some(p) = proto {
        ctx.out.resp3 = p == 3;
        ctx.client.handle.resp.store(p as u8, Ordering::Relaxed);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = int_arg(args[1])?;
    if ctx.engine.cluster.get().is_some() && db != 0 {
        return Err(Error::from("ERR SELECT is not allowed in cluster mode"));
    }
    if db < 0 || db as usize >= ctx.engine.store.databases() {
        return Err(err::DB_RANGE);
    }
    ctx.client.db = db as usize;
    ctx.client.handle.db.store(db as usize, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.release(ctx.engine);
    let c = &mut *ctx.client;
    c.multi = None;
    c.multi_error = false;
    c.db = 0;
    c.handle.db.store(0, Ordering::Relaxed);
    c.handle.resp.store(2, Ordering::Relaxed);
    {
        let mut info = c.handle.info.lock();
        info.name.clear();
        info.in_multi = false;
        // NO-EVICT survives RESET in redis-server 7.0.15; NO-TOUCH (7.2) is cleared.
        info.no_touch = false;
    }
    c.no_touch = false;
    // clearClientConnectionState: REPLY OFF and a pending SKIP end (a SKIP in effect still drops
    // RESET's own reply).
    c.reply_off = false;
    c.reply_skip_next = false;
    c.set_user("default");
    c.authenticated = !ctx.engine.hot.auth_required.load(Ordering::Relaxed);
    ctx.out.resp3 = false;
    ctx.out.simple("RESET");
    Ok(())
}

fn validate_name(n: &[u8]) -> CmdResult {
    if n.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Error::from(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn client(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let argc = args.len();
    let wrong = || super::subcommand_syntax_error("client", args[1]);
    match sub.as_str() {
        "id" => ctx.out.int(ctx.client.handle.id as i64),
        "getname" => {
            let name = ctx.client.handle.info.lock().name.clone();
            if name.is_empty() {
                ctx.out.null();
            } else {
                ctx.out.bulk(name.as_bytes());
            }
        }
        "setname" => {
            validate_name(args[2])?;
            ctx.client.handle.info.lock().name = String::from_utf8_lossy(args[2]).into_owned();
            ctx.out.ok();
        }
        "setinfo" => {
            let value = String::from_utf8_lossy(args[3]).into_owned();
            if value.contains(|c: char| !('!'..='~').contains(&c)) {
                return Err(Error::msg(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(args[2]).to_ascii_lowercase()
                )));
            }
            let mut info = ctx.client.handle.info.lock();
            if is(args[2], "lib-name") {
                info.lib_name = value;
            } else if is(args[2], "lib-ver") {
                info.lib_ver = value;
            } else {
                return Err(Error::msg(format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(args[2])
                )));
            }
            drop(info);
            ctx.out.ok();
        }
        "info" => {
            let line = format!("{}\n", ctx.client.handle.describe());
            ctx.out.verbatim(line.as_bytes());
        }
        "list" => {
            let mut ids: Option<Vec<u64>> = None;
            let mut kind: Option<Option<u8>> = None;
            let mut i = 2;
            while i < argc {
                if is(args[i], "TYPE") && i + 1 < argc {
                    let t = String::from_utf8_lossy(args[i + 1]).to_ascii_lowercase();
                    if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                        return Err(Error::msg(format!("ERR Unknown client type '{t}'")));
                    }
                    kind = Some(client_kind(&t));
                    i += 2;
                } else if is(args[i], "ID") && i + 1 < argc {
                    let mut v = Vec::new();
                    for a in &args[i + 1..] {
                        match crate::protocol::parse_i64(a) {
                            Some(id) if id > 0 => v.push(id as u64),
                            _ => return Err(Error::from("ERR Invalid client ID")),
                        }
                    }
                    ids = Some(v);
                    i = argc;
                } else {
                    return Err(err::SYNTAX);
                }
            }
            let mut text = String::new();
            for c in ctx.engine.clients.all() {
                if ids.as_ref().is_none_or(|ids| ids.contains(&c.id))
                    && kind.is_none_or(|k| k == Some(c.kind.load(Ordering::Relaxed)))
                {
                    text.push_str(&c.describe());
                    text.push('\n');
                }
            }
            ctx.out.verbatim(text.as_bytes());
        }
        "kill" => client_kill(ctx, args)?,
        "pause" if argc == 3 || argc == 4 => {
            let ms = crate::protocol::parse_i64(args[2])
                .ok_or(Error::from("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Error::from("ERR timeout is negative"));
            }
            let writes_only = match args.get(3) {
                None => false,
                Some(m) if is(m, "ALL") => false,
                Some(m) if is(m, "WRITE") => true,
                Some(_) => return Err(err::SYNTAX),
            };
            let pause = &ctx.engine.pause;
            pause.writes_only.store(writes_only, Ordering::Release);
            pause
                .until_ms
                .store(ctx.now.saturating_add(ms as u64), Ordering::Release);
            ctx.out.ok();
        }
        "unpause" => {
            ctx.engine.pause.until_ms.store(0, Ordering::Release);
            ctx.engine.pause.ended.notify_waiters();
            ctx.out.ok();
        }
        "tracking" => client_tracking(ctx, args)?,
        "caching" => {
            let yes = if is(args[2], "yes") {
                true
            } else if is(args[2], "no") {
                false
            } else {
                return Err(err::SYNTAX);
            };
            let id = ctx.client.handle.id;
            let Some(o) = ctx
                .engine
                .tracking
                .options(id)
                .filter(|o| o.optin || o.optout)
            else {
                return Err(Error::from(
                    "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
                ));
            };
            if !ctx.engine.tracking.set_caching(id, yes) {
                return Err(Error::from(if o.optin {
                    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
                } else {
                    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
                }));
            }
            ctx.out.ok();
        }
        "getredir" => {
            let o = ctx.engine.tracking.options(ctx.client.handle.id);
            ctx.out.int(o.map_or(-1, |o| o.redirect as i64));
        }
        "trackinginfo" => {
            let o = ctx.engine.tracking.options(ctx.client.handle.id);
            let mut flags: Vec<&str> = Vec::new();
            match &o {
                None => flags.push("off"),
                Some(o) => {
                    flags.push("on");
                    if o.bcast {
                        flags.push("bcast");
                    }
                    if o.optin {
                        flags.push("optin");
                        if o.caching {
                            flags.push("caching-yes");
                        }
                    }
                    if o.optout {
                        flags.push("optout");
                        if o.caching {
                            flags.push("caching-no");
                        }
                    }
                    if o.noloop {
                        flags.push("noloop");
                    }
                    if o.broken_redirect {
                        flags.push("broken_redirect");
                    }
                }
            }
            ctx.out.map(3);
            ctx.out.bulk(b"flags");
            ctx.out.set(flags.len());
            for f in flags {
                ctx.out.bulk(f.as_bytes());
            }
            ctx.out.bulk(b"redirect");
            ctx.out.int(o.as_ref().map_or(-1, |o| o.redirect as i64));
            ctx.out.bulk(b"prefixes");
            let prefixes = o.map(|o| o.prefixes).unwrap_or_default();
            ctx.out.array(prefixes.len());
            for p in prefixes {
                ctx.out.bulk(&p);
            }
        }
        "unblock" if argc == 3 || argc == 4 => {
            let id = crate::protocol::parse_i64(args[2]).ok_or(err::NOT_INT)?;
            let mode = match args.get(3) {
                None => 1,
                Some(m) if is(m, "TIMEOUT") => 1,
                Some(m) if is(m, "ERROR") => 2,
                Some(_) => {
                    return Err(Error::from(
                        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
                    ));
                }
            };
            let target = ctx
                .engine
                .clients
                .all()
                .into_iter()
                .find(|c| c.id as i64 == id && c.blocked.load(Ordering::Acquire));
            match target {
                Some(c) => {
                    c.unblock.store(mode, Ordering::Release);
                    c.wake.notify_one();
                    ctx.out.int(1);
                }
                None => ctx.out.int(0),
            }
        }
        "no-evict" | "no-touch" => {
            let on = if is(args[2], "on") {
                true
            } else if is(args[2], "off") {
                false
            } else {
                return Err(err::SYNTAX);
            };
            if sub == "no-touch" {
                ctx.client.no_touch = on;
                ctx.client.handle.info.lock().no_touch = on;
            } else {
                ctx.client.handle.info.lock().no_evict = on;
            }
            ctx.out.ok();
        }
        // Redis's clientCommand: ON clears both and replies +OK; OFF and SKIP reply nothing (the
        // connection drops the replies: conn::execute_silenced).
        "reply" => {
            if is(args[2], "on") {
                ctx.client.reply_off = false;
                ctx.client.reply_skip = false;
                ctx.out.ok();
            } else if is(args[2], "off") {
                ctx.client.reply_off = true;
            } else if is(args[2], "skip") {
                if !ctx.client.reply_off {
                    ctx.client.reply_skip_next = true;
                }
            } else {
                return Err(err::SYNTAX);
            }
        }
        "help" => {
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID, ADDR, LADDR, USER, SKIPME.",
                "LIST [options ...]",
                "    Return information about client connections. Options: TYPE, ID.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
                "HELP",
                "    Print this help.",
            ];
            ctx.out.help(&lines);
        }
        // Past the arity the dispatcher checked: Redis's own checks of the optional arguments.
        "pause" | "unblock" => return Err(wrong()),
        _ => return Err(super::unknown_subcommand("client", args[1])),
    }
    Ok(())
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`, with
/// redis-server 7.0's checks in its order (the REDIRECT target must exist while parsing).
fn client_tracking(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut o = crate::tracking::Options::default();
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "redirect") && more {
            i += 1;
            if o.redirect != 0 {
                return Err(Error::from(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let redir = crate::protocol::parse_i64(args[i]).ok_or(err::NOT_INT)?;
            let exists = u64::try_from(redir)
                .ok()
                .filter(|&r| r != 0)
                .is_some_and(|r| ctx.engine.clients.get(r).is_some());
            if !exists {
                return Err(Error::from(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            o.redirect = redir as u64;
        } else if is(args[i], "bcast") {
            o.bcast = true;
        } else if is(args[i], "optin") {
            o.optin = true;
        } else if is(args[i], "optout") {
            o.optout = true;
        } else if is(args[i], "noloop") {
            o.noloop = true;
        } else if is(args[i], "prefix") && more {
            i += 1;
            o.prefixes.push(crate::store::Blob::from_slice(args[i]));
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    let id = ctx.client.handle.id;
    if is(args[2], "off") {
        ctx.engine
            .tracking
            .disable(id, false, &ctx.engine.store.events);
        ctx.out.ok();
        return Ok(());
    }
    if !is(args[2], "on") {
        return Err(err::SYNTAX);
    }
    if !o.bcast && !o.prefixes.is_empty() {
        return Err(Error::from(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    let current = ctx.engine.tracking.options(id);
    if let Some(current) = &current
        && current.bcast != o.bcast
    {
        return Err(Error::from(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if o.bcast && (o.optin || o.optout) {
        return Err(Error::from(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if o.optin && o.optout {
        return Err(Error::from(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if let Some(current) = &current
        && ((o.optin && current.optout) || (o.optout && current.optin))
    {
        return Err(Error::from(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if o.bcast
        && let Some(e) = ctx.engine.tracking.prefix_collision(id, &o.prefixes)
    {
        return Err(Error::msg(e));
    }
    ctx.engine
        .tracking
        .enable(id, o, ctx.client.mailbox.clone(), &ctx.engine.store.events);
    ctx.out.ok();
    Ok(())
}

fn client_kill(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let all = ctx.engine.clients.all();
    let me = ctx.client.handle.id;
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = String::from_utf8_lossy(args[2]);
        let Some(c) = all.iter().find(|c| c.ctx.peer.to_string() == addr) else {
            return Err(Error::from("ERR No such client"));
        };
        if c.id == me {
            ctx.client.close_after_reply = true;
        } else {
            c.kill();
        }
        ctx.out.ok();
        return Ok(());
    }
    if !args.len().is_multiple_of(2) {
        return Err(err::SYNTAX);
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut user = None;
    let mut skipme = true;
    let mut kind: Option<Option<u8>> = None;
    for pair in args[2..].chunks(2) {
        let v = String::from_utf8_lossy(pair[1]).into_owned();
        if is(pair[0], "id") {
            id = Some(
                crate::protocol::parse_i64(pair[1])
                    .filter(|i| *i > 0)
                    .ok_or(Error::from("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(pair[0], "addr") {
            addr = Some(v);
        } else if is(pair[0], "laddr") {
            laddr = Some(v);
        } else if is(pair[0], "user") {
            if ctx.engine.acl.user(&v).is_none() {
                return Err(Error::msg(format!("ERR No such user '{v}'")));
            }
            user = Some(v);
        } else if is(pair[0], "skipme") {
            skipme = match v.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(err::SYNTAX),
            };
        } else if is(pair[0], "type") {
            let t = v.to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                return Err(Error::msg(format!("ERR Unknown client type '{v}'")));
            }
            kind = Some(client_kind(&t));
        } else {
            return Err(err::SYNTAX);
        }
    }
    let mut killed = 0;
    for c in all {
        if id.is_some_and(|id| id != c.id)
            || kind.is_some_and(|k| k != Some(c.kind.load(Ordering::Relaxed)))
            || addr.as_ref().is_some_and(|a| *a != c.ctx.peer.to_string())
            || laddr
                .as_ref()
                .is_some_and(|a| *a != c.ctx.local.to_string())
            || user.as_ref().is_some_and(|u| {
                let cu = c.info.lock().user.clone();
                let cu = if cu.is_empty() {
                    "default".to_string()
                } else {
                    cu
                };
                *u != cu
            })
        {
            continue;
        }
        if c.id == me {
            if skipme {
                continue;
            }
            ctx.client.close_after_reply = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(())
}

/// The [`crate::client::kind`] a CLIENT LIST/KILL `TYPE` names (`None`: `pubsub`, which redlink
/// does not tell apart in the registry, so it matches no client).
fn client_kind(t: &str) -> Option<u8> {
    use crate::client::kind;
    match t {
        "normal" => Some(kind::NORMAL),
        "master" => Some(kind::MASTER),
        "replica" | "slave" => Some(kind::REPLICA),
        _ => None,
    }
}
