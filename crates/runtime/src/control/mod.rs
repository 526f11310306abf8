//! The control API of a running world: a RESP server on loopback (any Redis client in any language
//! can drive a world from its tests), started by `redlink up`, whose address goes into the state
//! file's `control` field (and its password, when it has one, into `control_password`).
//!
//! One vocabulary: a change is a [`redlink_world::Change`] sent as JSON with `WORLD.CHANGE <json>`
//! (what `redlink ctl` sends; the shape is documented in [`redlink_world::change`]) and applied
//! through [`crate::RunningWorld::apply_change`], the one path of timeline steps too, so DNS answers,
//! verdicts, resets of open connections and the state file follow at once. Reads are
//! `WORLD.JSON`, `WORLD.STATE`, `WORLD.COUNTS`; a cache's data moves as RDB contents in hex
//! (`CACHE.IMPORT name hex`, `CACHE.EXPORT name`), never as paths, so the control API (which may
//! run as another user) reads and writes no file its caller names; `SUBSCRIBE redlink:events` streams the world's
//! [`crate::Event`]s as JSON strings in the pub/sub push format.
//!
//! - `server`: the listener, the connection limit ([`ControlLimits::max_connections`]: the next
//!   connection gets `-ERR max number of clients reached` and is closed, so the control port can
//!   never take the file descriptors the world's data path needs).
//! - `session`: one connection, read with the engine's own request reader
//!   ([`redlink_engine::session::Requests`]: the engine's parser, limits and error texts, and
//!   redis-server's cross-protocol guard: a `POST` or `Host:` line closes the connection
//!   unanswered) and answered with the engine's [`redlink_engine::protocol::Out`]; AUTH, HELLO,
//!   subscriptions, and the idle timeouts ([`ControlLimits`]).
//! - `verbs`: the command table (name, arity, usage, summary, handler) and the world verbs.
//!
//! With a password, every command but AUTH, HELLO, QUIT and HELP answers
//! `-NOAUTH Authentication required.` until AUTH succeeds, as Redis does.

mod server;
mod session;
mod verbs;

use std::io::Read as _;
use std::net::SocketAddr;
use std::time::Duration;

pub use server::{ControlListener, ControlServer};
pub use session::Reply;
pub use verbs::{COMMANDS, Command, from_hex, to_hex};

/// The largest RDB file `CACHE.IMPORT` takes (16 MiB; sent as hex, twice that on the wire).
pub const MAX_IMPORT_BYTES: usize = 16 << 20;

/// The pub/sub channel carrying the world's events.
pub const EVENTS_CHANNEL: &str = "redlink:events";

/// Where and how the control API listens.
#[derive(Clone, Debug, Default)]
pub struct ControlOptions {
    /// The address (loopback only); `None` = `127.0.0.1` on an ephemeral port.
    pub addr: Option<SocketAddr>,
    /// The password clients must give with AUTH, if any.
    pub password: Option<String>,
    /// Connection limit and idle timeouts.
    pub limits: ControlLimits,
}

/// How many connections the control API serves at once, and how long it keeps idle ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlLimits {
    /// Connections served at once; the next one gets `-ERR max number of clients reached` and is
    /// closed (default 64).
    pub max_connections: usize,
    /// A connection that has not authenticated this long after connecting is closed (only with a
    /// password; default 10 s).
    pub auth_timeout: Duration,
    /// A connection that sent nothing for this long is closed (subscribers excepted: they wait for
    /// events; default 300 s: `redlink ctl` connects per command).
    pub idle_timeout: Duration,
}

impl Default for ControlLimits {
    fn default() -> Self {
        ControlLimits {
            max_connections: 64,
            auth_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// A fresh random password for the control API (32 hex digits from the kernel's random source),
/// what `redlink up` requires unless told otherwise; it goes into the (private) state file, where
/// `redlink ctl` finds it.
pub fn generate_password() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
