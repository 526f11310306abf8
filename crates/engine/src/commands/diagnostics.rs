//! SLOWLOG and LATENCY: reading what [`crate::diagnostics`] recorded, with redis-server 7's reply
//! shapes, help texts and errors.

use super::{CmdResult, Ctx, Error, Handler, subcommand_syntax_error, unknown_subcommand};
use crate::diagnostics::EventHistory;

/// Diagnostics commands.
pub static HANDLERS: &[(&str, Handler)] = &[("slowlog", slowlog), ("latency", latency)];

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

fn slowlog(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let d = &ctx.engine.diagnostics;
    match (sub.as_str(), args.len()) {
        ("help", _) => ctx.out.help(SLOWLOG_HELP),
        ("len", _) => ctx.out.int(d.slowlog_len() as i64),
        ("reset", _) => {
            d.slowlog_reset();
            ctx.out.ok();
        }
        ("get", 2 | 3) => {
            let count = match args.get(2) {
                None => Some(10),
                Some(a) => match crate::protocol::parse_i64(a) {
                    Some(-1) => None,
                    Some(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                    _ => {
                        return Err(Error::from(
                            "ERR count should be greater than or equal to -1",
                        ));
                    }
                },
            };
            let entries = d.slowlog(count);
            ctx.out.array(entries.len());
            for e in entries {
                ctx.out.array(6);
                ctx.out.int(e.id as i64);
                ctx.out.int(e.time as i64);
                ctx.out.int(i64::try_from(e.micros).unwrap_or(i64::MAX));
                ctx.out.array(e.args.len());
                for a in &e.args {
                    ctx.out.bulk(a);
                }
                ctx.out.bulk(e.peer.as_bytes());
                ctx.out.bulk(e.name.as_bytes());
            }
        }
        // Past the arity the dispatcher checked: Redis's own check of the optional count.
        ("get", _) => return Err(subcommand_syntax_error("slowlog", args[1])),
        _ => return Err(unknown_subcommand("slowlog", args[1])),
    }
    Ok(())
}

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HELP",
    "    Prints this help.",
];

fn latency(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let d = &ctx.engine.diagnostics;
    match (sub.as_str(), args.len()) {
        ("help", _) => ctx.out.help(LATENCY_HELP),
        ("latest", _) => {
            let events = d.latency_events();
            ctx.out.array(events.len());
            for (name, h) in events {
                let last = h.samples.back().copied();
                ctx.out.array(4);
                ctx.out.bulk(name.as_bytes());
                ctx.out.int(last.map_or(0, |s| s.time as i64));
                ctx.out.int(last.map_or(0, |s| s.millis as i64));
                ctx.out.int(h.max as i64);
            }
        }
        ("history", _) => {
            let events = d.latency_events();
            match events.iter().find(|(n, _)| n.as_bytes() == args[2]) {
                None => ctx.out.array(0),
                Some((_, h)) => {
                    ctx.out.array(h.samples.len());
                    for s in &h.samples {
                        ctx.out.array(2);
                        ctx.out.int(s.time as i64);
                        ctx.out.int(s.millis as i64);
                    }
                }
            }
        }
        ("graph", _) => {
            let events = d.latency_events();
            let Some((name, h)) = events
                .iter()
                .find(|(n, _)| n.as_bytes() == args[2])
                .filter(|(_, h)| !h.samples.is_empty())
            else {
                return Err(Error::msg(format!(
                    "ERR No samples available for event '{}'",
                    String::from_utf8_lossy(args[2])
                )));
            };
            let text = graph(name, h);
            ctx.out.verbatim(text.as_bytes());
        }
        ("doctor", _) => {
            let enabled = ctx
                .engine
                .config
                .read()
                .get("latency-monitor-threshold")
                .unwrap_or("0")
                != "0";
            let text = doctor(enabled, &d.latency_events());
            ctx.out.verbatim(text.as_bytes());
        }
        ("reset", _) => ctx.out.int(d.latency_reset(&args[2..]) as i64),
        _ => return Err(unknown_subcommand("latency", args[1])),
    }
    Ok(())
}

/// An ASCII chart of an event's samples, newest on the right (a simpler drawing than Redis's
/// sparkline, with the same header).
fn graph(name: &str, h: &EventHistory) -> String {
    let high = h.samples.iter().map(|s| s.millis).max().unwrap_or(0);
    let low = h.samples.iter().map(|s| s.millis).min().unwrap_or(0);
    let mut text = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        h.max,
        "-".repeat(80)
    );
    const ROWS: u64 = 4;
    let samples: Vec<u64> = h
        .samples
        .iter()
        .rev()
        .take(80)
        .rev()
        .map(|s| s.millis)
        .collect();
    for row in (1..=ROWS).rev() {
        let line: String = samples
            .iter()
            .map(|&v| {
                let level = if high == 0 {
                    0
                } else {
                    (v * ROWS).div_ceil(high)
                };
                if level >= row {
                    '#'
                } else if row == 1 {
                    '_'
                } else {
                    ' '
                }
            })
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// LATENCY DOCTOR's report, worded like Redis's.
fn doctor(enabled: bool, events: &[(&'static str, EventHistory)]) -> String {
    if !enabled && events.is_empty() {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
    }
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better tonight.\n".to_string();
    }
    let mut text = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (i, (name, h)) in events.iter().enumerate() {
        let n = h.samples.len().max(1) as f64;
        let avg = h.samples.iter().map(|s| s.millis as f64).sum::<f64>() / n;
        let mad = h
            .samples
            .iter()
            .map(|s| (s.millis as f64 - avg).abs())
            .sum::<f64>()
            / n;
        let period = match (h.samples.front(), h.samples.back()) {
            (Some(a), Some(b)) if h.samples.len() > 1 => {
                (b.time - a.time) as f64 / (h.samples.len() - 1) as f64
            }
            _ => 1.0,
        };
        text.push_str(&format!(
            "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            h.samples.len(),
            avg as u64,
            mad as u64,
            period,
            h.max
        ));
    }
    text.push_str("\nI have a few advices for you:\n\n- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    text
}
