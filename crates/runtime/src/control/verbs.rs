//! The control API's commands: one entry of [`COMMANDS`] each (name, arity, usage, summary,
//! handler), checked here in Redis's order (unknown command, arity, NOAUTH, subscribed mode) with
//! the engine's error texts. The world verbs are few on purpose: reads (`WORLD.JSON`,
//! `WORLD.STATE`, `WORLD.COUNTS`) and one change verb, `WORLD.CHANGE <json>`, which takes any
//! [`Change`] in its JSON form (documented in [`redlink_world::change`]) and applies it through
//! [`RunningWorld::apply_change`]. There is no second, per-verb encoding of changes to keep in
//! step with the first.

use redlink_engine::session::{NOAUTH, arity_error, subscribed_mode_error};
use redlink_world::Change;

use super::session::{self, Reply, Session};
use crate::running::RunningWorld;

type SessionHandler = fn(&mut Session, &[String]) -> Reply;

/// What a command does.
#[derive(Clone, Copy)]
enum Handler {
    /// The connection's own state (AUTH, HELLO, SUBSCRIBE…).
    Session(SessionHandler),
    /// The world model as JSON.
    WorldJson,
    /// The state file's JSON.
    State,
    /// The connection counts by endpoint and verdict.
    Counts,
    /// Apply a change given as JSON.
    Change,
    /// The lab's latest score.
    Lab,
    /// Release the next timeline step (`up --step`).
    Next,
    /// Replace a cache's data with an RDB file's contents (hex).
    Import,
    /// A cache's data as an RDB file's contents (hex).
    Export,
    /// The world's clock: mode and time.
    ClockGet,
    /// Move the world's manual clock forward.
    ClockAdvance,
}

/// One entry of the command table.
pub struct Command {
    /// Its name (upper case).
    pub name: &'static str,
    /// Redis's convention: `n` exactly n arguments (the name included), `-n` at least n.
    pub arity: i32,
    /// Its arguments.
    pub usage: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Allowed before AUTH.
    pub no_auth: bool,
    /// Allowed in RESP2 subscribed mode.
    pub subscribed: bool,
    handler: Handler,
}

const fn cmd(
    name: &'static str,
    arity: i32,
    usage: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        usage,
        summary,
        no_auth: false,
        subscribed: false,
        handler,
    }
}

impl Command {
    const fn before_auth(mut self) -> Command {
        self.no_auth = true;
        self
    }

    const fn when_subscribed(mut self) -> Command {
        self.subscribed = true;
        self
    }
}

/// The command table.
pub const COMMANDS: &[Command] = &[
    cmd(
        "PING",
        -1,
        "[message]",
        "PONG, or the message",
        Handler::Session(session::ping),
    )
    .when_subscribed(),
    cmd(
        "AUTH",
        -2,
        "[username] password",
        "authenticate (the state file's control_password, or up --control-password)",
        Handler::Session(session::auth),
    )
    .before_auth(),
    cmd(
        "HELLO",
        -1,
        "[2|3 [AUTH username password] [SETNAME name]]",
        "protocol version and authentication",
        Handler::Session(session::hello),
    )
    .before_auth(),
    cmd(
        "QUIT",
        1,
        "",
        "close the connection",
        Handler::Session(session::quit),
    )
    .before_auth()
    .when_subscribed(),
    cmd(
        "CLIENT",
        -2,
        "SETNAME|SETINFO args",
        "accepted (client libraries send them), nothing kept",
        Handler::Session(session::client),
    ),
    cmd(
        "SELECT",
        2,
        "0",
        "accepted (one database)",
        Handler::Session(session::select),
    ),
    cmd(
        "COMMAND",
        -1,
        "[DOCS|COUNT]",
        "empty (redis-cli asks for it)",
        Handler::Session(session::command),
    ),
    cmd("HELP", 1, "", "this list", Handler::Session(session::help)).before_auth(),
    // redis-cli answers HELP itself (its own help text) and never sends it: this name gets
    // through (`redis-cli -p CONTROL WORLD.HELP`).
    cmd(
        "WORLD.HELP",
        1,
        "",
        "this list (what HELP gives; redis-cli answers HELP itself)",
        Handler::Session(session::help),
    )
    .before_auth(),
    cmd(
        "SUBSCRIBE",
        -2,
        "redlink:events",
        "stream the world's events as JSON strings",
        Handler::Session(session::subscribe),
    )
    .when_subscribed(),
    cmd(
        "UNSUBSCRIBE",
        -1,
        "[channel...]",
        "stop streaming",
        Handler::Session(session::unsubscribe),
    )
    .when_subscribed(),
    cmd(
        "WORLD.JSON",
        1,
        "",
        "the world model as JSON",
        Handler::WorldJson,
    ),
    cmd(
        "WORLD.STATE",
        1,
        "",
        "the state file as JSON (with every port's verdicts)",
        Handler::State,
    ),
    cmd(
        "WORLD.COUNTS",
        1,
        "",
        "connections seen since the world started, by endpoint and verdict (route, reset, blackhole, \
         the engine's maxclients rejections, and refusals and drops where the kernel's are observed: see the state file's kernel_evidence)",
        Handler::Counts,
    ),
    cmd(
        "WORLD.NEXT",
        1,
        "",
        "run the next timeline step of a world started with `up --step` (as Enter in its terminal)",
        Handler::Next,
    ),
    cmd(
        "WORLD.CHANGE",
        2,
        "json",
        "apply one change, the timeline's vocabulary as JSON: {\"approve\":\"pe-hub\"}, \
         {\"link\":{\"zone\":\"…\",\"network\":\"spoke\"}}, {\"public_access\":{\"cache\":\"contoso\",\"access\":\"Enabled\"}}…",
        Handler::Change,
    ),
    cmd(
        "LAB.STATUS",
        1,
        "",
        "the lab's exercises with met/not met, as JSON (scored after every change)",
        Handler::Lab,
    ),
    cmd(
        "CACHE.IMPORT",
        3,
        "cache rdb-hex",
        "Azure's import: replace the cache's data with an RDB file (its contents in hex, at most 16 MiB); \
         the engine restarts with it, closing open connections",
        Handler::Import,
    ),
    cmd(
        "CACHE.EXPORT",
        2,
        "cache",
        "Azure's export: the cache's data as an RDB file (its contents in hex)",
        Handler::Export,
    ),
    cmd(
        "CLOCK.GET",
        1,
        "",
        "the world's one clock: mode (real or manual), now-ms, now (RFC 3339)",
        Handler::ClockGet,
    ),
    cmd(
        "CLOCK.ADVANCE",
        2,
        "duration",
        "move the world's manual clock (up --clock manual) forward by 500ms, 30s, 30m, 6h…: keys \
         expire, DNS answers go stale, blocked clients time out, timeline steps come due; replies as CLOCK.GET",
        Handler::ClockAdvance,
    ),
];

/// CLOCK.GET's reply (and CLOCK.ADVANCE's, after the move).
fn clock_reply(clock: &redlink_clock::Clock) -> Reply {
    let now = clock.now_ms();
    Reply::Map(vec![
        (
            "mode".to_owned(),
            Reply::Bulk(if clock.is_manual() { "manual" } else { "real" }.to_owned()),
        ),
        (
            "now-ms".to_owned(),
            Reply::Int(i64::try_from(now).unwrap_or(i64::MAX)),
        ),
        (
            "now".to_owned(),
            Reply::Bulk(redlink_clock::format_time(now)),
        ),
    ])
}

/// Lower-case hex of `bytes` (how RDB contents cross the control API).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// The bytes of hex `text`, or where it is not hex.
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    let value = |i: usize| {
        char::from(digits[i])
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("not a hex digit at offset {i}"))
    };
    (0..digits.len() / 2)
        .map(|i| Ok((value(2 * i)? << 4) | value(2 * i + 1)?))
        .collect()
}

/// The reply to a request that is not a change.
fn json_reply<T: serde::Serialize>(what: &str, value: &T) -> Reply {
    match serde_json::to_string(value) {
        Ok(j) => Reply::Bulk(j),
        Err(e) => Reply::err(format!("cannot serialize the {what}: {e}")),
    }
}

/// Parses `WORLD.CHANGE`'s argument; serde's message says what is wrong (an unknown change lists
/// the known ones), with an example when the text is not JSON at all.
pub(super) fn parse_change(json: &str) -> Result<Change, String> {
    serde_json::from_str::<Change>(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => format!(
            "not a change: {e} (JSON such as {{\"approve\":\"pe-hub\"}} or {{\"link\":{{\"zone\":\"…\",\"network\":\"spoke\"}}}})"
        ),
        _ => format!("not a change: {e}"),
    })
}

/// Runs one command.
pub(super) async fn execute(world: &RunningWorld, s: &mut Session, args: &[String]) -> Reply {
    let Some(name) = args.first() else {
        return Reply::err("empty command");
    };
    let Some(cmd) = COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name)) else {
        let begins: String = args[1..].iter().map(|a| format!("'{a}' ")).collect();
        return Reply::err(format!(
            "unknown command '{name}', with args beginning with: {begins}(HELP lists the commands; changes are WORLD.CHANGE <json>)"
        ));
    };
    let n = i32::try_from(args.len()).unwrap_or(i32::MAX);
    if (cmd.arity > 0 && n != cmd.arity) || (cmd.arity < 0 && n < -cmd.arity) {
        return Reply::Error(arity_error(name));
    }
    if s.needs_auth() && !cmd.no_auth {
        return Reply::Error(NOAUTH.to_owned());
    }
    if !s.channels.is_empty() && !s.resp3 && !cmd.subscribed {
        return Reply::Error(subscribed_mode_error(name));
    }
    match cmd.handler {
        Handler::Session(h) => h(s, args),
        Handler::WorldJson => json_reply("world", &*world.world()),
        Handler::State => json_reply("state", &world.state().await),
        Handler::Counts => json_reply("counts", &world.connection_counts()),
        Handler::Lab => match world.lab_status() {
            Some(j) => Reply::Bulk(j),
            None => {
                Reply::err("this world has no exercises (a lab file declares [[exercise]] tables)")
            }
        },
        Handler::Next => {
            world.next_step();
            Reply::Status("OK".to_owned())
        }
        Handler::Change => match parse_change(&args[1]) {
            Err(e) => Reply::err(e),
            Ok(change) => match world.apply_change(&change).await {
                Ok(done) => Reply::Bulk(done),
                Err(e) => Reply::err(e.to_string()),
            },
        },
        Handler::Import => match from_hex(&args[2]) {
            Err(e) => Reply::err(format!("CACHE.IMPORT: the file's contents: {e}")),
            Ok(bytes) if bytes.len() > super::MAX_IMPORT_BYTES => Reply::err(format!(
                "CACHE.IMPORT: the file has {} bytes, more than the {} this control API takes",
                bytes.len(),
                super::MAX_IMPORT_BYTES
            )),
            Ok(bytes) => match world.import_rdb(&args[1], &bytes).await {
                Ok(done) => Reply::Bulk(done),
                Err(e) => Reply::err(e.to_string()),
            },
        },
        Handler::Export => match world.export_rdb(&args[1]).await {
            Ok(bytes) => Reply::Bulk(to_hex(&bytes)),
            Err(e) => Reply::err(e.to_string()),
        },
        Handler::ClockGet => clock_reply(world.clock()),
        Handler::ClockAdvance => match redlink_clock::parse_duration(&args[1]) {
            Err(e) => Reply::err(format!("invalid duration {e}")),
            Ok(by) => match world.advance_clock(by).await {
                Ok(_) => clock_reply(world.clock()),
                Err(e) => Reply::err(e.to_string()),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_unique_upper_case_names() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        assert!(names.iter().all(|n| n.to_ascii_uppercase() == *n));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }

    #[test]
    fn hex_round_trips_and_names_bad_digits() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&bytes)), Ok(bytes));
        assert_eq!(
            from_hex("0g"),
            Err("not a hex digit at offset 1".to_owned())
        );
        assert!(from_hex("abc").is_err());
    }

    #[test]
    fn a_bad_change_says_what_changes_exist() {
        let e = parse_change(r#"{"aprove":"pe-hub"}"#).expect_err("unknown change");
        assert!(e.contains("unknown variant `aprove`"), "{e}");
        assert!(e.contains("expected one of `link`"), "{e}");
        let e = parse_change(r#"{"link":{"zone":"z"}}"#).expect_err("incomplete");
        assert_eq!(
            e,
            "not a change: missing field `network` at line 1 column 20"
        );
        let e = parse_change("approve pe-hub").expect_err("not JSON");
        assert!(e.contains("JSON such as"), "{e}");
    }
}
