//! How to bring a world up: where the state file goes, which DNS port, which address block.

use std::path::{Path, PathBuf};

/// The port resolvers listen on unless the scenario pins one (as in `127.53.0.2:5300`); when it is
/// taken on a resolver's address, another port is picked and reported.
pub const DEFAULT_DNS_PORT: u16 = 5300;

/// Options of [`crate::RunningWorld::start`].
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Where to write the state file; `None` = [`default_state_path`].
    pub state_file: Option<PathBuf>,
    /// The resolvers' port when the scenario does not pin one (0 = any free port).
    pub dns_port: u16,
    /// Use this address block only; `None` = the first free one.
    pub block: Option<u8>,
    /// Also expose each cache's engine on a direct loopback port (`127.0.0.1:PORT`, plain, no edge
    /// policy), listed as `caches.*.direct` in the state file: for benchmarks comparing a routed
    /// endpoint with the engine itself.
    pub direct_engines: bool,
    /// The control API's address, written as the state file's `control` from the first write
    /// (bind it first with [`crate::ControlListener::bind`]).
    pub control: Option<std::net::SocketAddr>,
    /// The control API's password, written as the state file's `control_password` with `control`.
    pub control_password: Option<String>,
    /// Where the host stands, instead of the scenario's `host` (`redlink exec` puts it in the
    /// command's network: the command's connections come from 127.0.0.1 inside the namespace).
    pub host: Option<redlink_world::HostPosition>,
    /// The world's one clock (DNS caches with `dns_cache`, the timeline): real time by default;
    /// `check` gives a manual one and advances it to each step's `at`.
    pub clock: redlink_clock::Clock,
    /// A backend for every cache, overriding the scenario's (`--backend redis-server`).
    pub backend: Option<redlink_world::Backend>,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            state_file: None,
            dns_port: DEFAULT_DNS_PORT,
            block: None,
            direct_engines: false,
            control: None,
            control_password: None,
            host: None,
            clock: redlink_clock::Clock::real(),
            backend: None,
        }
    }
}

/// The directory of default state files: `$XDG_RUNTIME_DIR/redlink` when that directory exists,
/// else `/tmp/redlink-EUID`. Private: see [`ensure_default_state_dir`].
pub fn default_state_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() && Path::new(&d).is_dir() => PathBuf::from(d).join("redlink"),
        _ => std::env::temp_dir().join(format!("redlink-{}", redlink_engine::files::euid())),
    }
}

/// Creates [`default_state_dir`] with mode 0700, or checks that the existing one is a directory
/// (not a link) of this user closed to everyone else; the error names the path and what is wrong.
/// In a shared `/tmp`, another user could otherwise create `/tmp/redlink-UID` first and read or
/// redirect what is written there.
pub fn ensure_default_state_dir() -> std::io::Result<()> {
    redlink_engine::files::private_dir(&default_state_dir())
}

/// The stable pointer to the last world `up` started with the default state path:
/// `current.json` in [`default_state_dir`], a symbolic link to that world's state file (removed
/// when that world stops). `probe` and `ctl` read it when neither `--state-file` nor
/// `$REDLINK_STATE` is given.
pub fn current_state_pointer() -> PathBuf {
    default_state_dir().join(CURRENT_POINTER)
}

/// The file name of [`current_state_pointer`].
pub const CURRENT_POINTER: &str = "current.json";

/// The state file a client should read: `explicit` (`--state-file`), else `$REDLINK_STATE`, else
/// [`current_state_pointer`]. Errors name what was tried.
pub fn locate_state_file(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("REDLINK_STATE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let pointer = current_state_pointer();
    if pointer.exists() {
        // Only trust a pointer in a directory nobody else controls (it leads to a control
        // address and its password).
        redlink_engine::files::check_private_dir(&default_state_dir())
            .map_err(|e| e.to_string())?;
        return Ok(pointer);
    }
    Err(format!(
        "no running world found: give --state-file F, set REDLINK_STATE, or start one with `redlink up` (which points {} at its state file)",
        pointer.display()
    ))
}

/// The default state file of a world named `name` run by process `pid`:
/// `$XDG_RUNTIME_DIR/redlink/NAME-PID.json` when that directory exists, else
/// `/tmp/redlink-UID/NAME-PID.json`.
pub fn default_state_path(name: &str, pid: u32) -> PathBuf {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = if clean.is_empty() {
        "world".to_owned()
    } else {
        clean
    };
    default_state_dir().join(format!("{clean}-{pid}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_names_the_world_and_the_process() {
        let p = default_state_path("quick start/1", 42);
        let file = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
        assert_eq!(file, "quick-start-1-42.json");
        assert!(
            p.parent()
                .is_some_and(|d| d.to_string_lossy().contains("redlink"))
        );
    }
}
