//! MULTI / EXEC / DISCARD: queued commands run atomically, holding the keyspace gate exclusively.
//! Errors while queueing (unknown command, arity, NOAUTH) abort EXEC with EXECABORT; errors raised
//! by a command while EXEC runs do not stop the others, as in Redis.

use super::{CmdResult, Command, Ctx, Error, cmd, flag::*, lookup, run};

/// Transaction commands.
pub static COMMANDS: &[Command] = &[
    cmd(
        "multi",
        1,
        NO_QUEUE | NOSCRIPT | LOADING | STALE | FAST | CONNECTION,
        (0, 0, 0),
        "transactions",
        "1.2.0",
        "Starts a transaction.",
        multi,
    ),
    cmd(
        "exec",
        1,
        NO_QUEUE | NOSCRIPT | LOADING | STALE | EXCLUSIVE,
        (0, 0, 0),
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
        exec,
    ),
    cmd(
        "discard",
        1,
        NO_QUEUE | NOSCRIPT | LOADING | STALE | FAST | CONNECTION,
        (0, 0, 0),
        "transactions",
        "2.0.0",
        "Discards a transaction.",
        discard,
    ),
];

fn multi(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::from("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.client.handle.info.lock().in_multi = true;
    ctx.out.ok();
    Ok(())
}

fn end_multi(ctx: &mut Ctx) -> Option<Vec<crate::client::Queued>> {
    ctx.client.handle.info.lock().in_multi = false;
    let aborted = std::mem::take(&mut ctx.client.multi_error);
    let queue = ctx.client.multi.take();
    if aborted { None } else { queue }
}

fn exec(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(Error::from("ERR EXEC without MULTI"));
    }
    let Some(queue) = end_multi(ctx) else {
        return Err(Error::from(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    };
    let _gate = ctx.exclusive();
    ctx.out.array(queue.len());
    let was = std::mem::replace(&mut ctx.in_exec, true);
    for queued in &queue {
        let args: Vec<&[u8]> = queued.iter().map(|a| a.as_slice()).collect();
        match args.first().and_then(|name| lookup(name)) {
            Some(command) => run(ctx, command, &args),
            None => ctx.out.error("ERR unknown command"),
        }
    }
    ctx.in_exec = was;
    Ok(())
}

fn discard(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(Error::from("ERR DISCARD without MULTI"));
    }
    end_multi(ctx);
    ctx.out.ok();
    Ok(())
}
