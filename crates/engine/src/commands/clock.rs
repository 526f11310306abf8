//! `DEBUG CLOCK ADVANCE <duration> | SET <unix-ms or RFC 3339> | GET`: redlink's own DEBUG
//! subcommand (redis-server has none) to move an engine started on a manual clock (`redlink serve
//! --clock manual`), so tests of expiry and timeouts do not wait. Gated like every DEBUG
//! subcommand by `enable-debug-command`. A move fires what became due before the reply: keys
//! expire in order of expiry (with their `expired` notifications) while the keyspace is held, and
//! blocked clients whose timeout passed wake (they sleep on the clock). See `docs/clock.md`.

use super::{CmdResult, Ctx, Error, is};

/// Runs `DEBUG CLOCK ...` (`args` are the words after `CLOCK`).
pub fn debug_clock(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let text = |i: usize| String::from_utf8_lossy(args[i]).into_owned();
    match args {
        [sub] if is(sub, "GET") => {
            let clock = ctx.engine.clock();
            let now = clock.now_ms();
            ctx.out.map(3);
            ctx.out.bulk(b"mode");
            ctx.out.bulk(if clock.is_manual() {
                b"manual"
            } else {
                b"real"
            });
            ctx.out.bulk(b"now-ms");
            ctx.out.int(i64::try_from(now).unwrap_or(i64::MAX));
            ctx.out.bulk(b"now");
            ctx.out.bulk(redlink_clock::format_time(now).as_bytes());
            Ok(())
        }
        [sub, _] if is(sub, "ADVANCE") => {
            let by = redlink_clock::parse_duration(&text(1))
                .map_err(|e| Error::msg(format!("ERR invalid duration {e}")))?;
            move_clock(ctx, |c| c.advance(by))
        }
        [sub, _] if is(sub, "SET") => {
            let at = redlink_clock::parse_time(&text(1))
                .map_err(|e| Error::msg(format!("ERR invalid time {e}")))?;
            move_clock(ctx, |c| c.set(at))
        }
        _ => Err(Error::from(
            "ERR unknown subcommand or wrong number of arguments for 'CLOCK'. Try DEBUG CLOCK ADVANCE <duration> | SET <unix-ms or RFC 3339> | GET.",
        )),
    }
}

/// Moves the clock with the keyspace held (no command runs between the move and the expiry of
/// what became due), then replies with the new time in ms since the epoch.
fn move_clock(
    ctx: &mut Ctx,
    step: impl FnOnce(&redlink_clock::Clock) -> Result<u64, redlink_clock::ClockError>,
) -> CmdResult {
    let now = {
        let _gate = ctx.exclusive();
        let now = step(ctx.engine.clock()).map_err(|e| Error::msg(format!("ERR {e}")))?;
        let expired = ctx.engine.store.expire_due();
        ctx.engine
            .stats
            .expired_keys
            .fetch_add(expired as u64, std::sync::atomic::Ordering::Relaxed);
        now
    };
    ctx.now = now;
    ctx.out.int(i64::try_from(now).unwrap_or(i64::MAX));
    Ok(())
}
