//! Which worlds run for this user, and which one a command means: several `up`s (and `exec`s with
//! worlds of their own) can run at once, and each must stay addressable.
//!
//! The registry is the default state directory itself ([`redlink_runtime::default_state_dir`],
//! private): a world started with the default path has its state file there (`NAME-PID.json`); a
//! world whose state file is elsewhere (`up --state-file F`, an exec's own world) is entered by a
//! symbolic link of the same name to it ([`register`]), removed when the world stops. A world whose
//! process is gone (SIGKILL) is skipped. `current.json` keeps pointing at the first world that took
//! it while that world runs (a second `up` does not take it over).
//!
//! [`locate`] is the one rule `ctl`, `probe` and `exec` follow: `--state-file F`, else `--world
//! NAME`, else `$REDLINK_STATE`, else `current.json` when its world runs, else the only running
//! world; several running worlds and no choice is an error that lists them.

use std::path::{Path, PathBuf};

use redlink_runtime::{CURRENT_POINTER, StateFile, default_state_dir, default_state_path};

/// One running world.
#[derive(Debug)]
pub struct Running {
    /// Its state file (links resolved).
    pub path: PathBuf,
    /// The registry entry's name without `.json` (`quickstart-1234`).
    pub id: String,
    /// The state file's content.
    pub state: StateFile,
    /// Whether `current.json` points at it.
    pub current: bool,
}

impl Running {
    /// The world's name (the scenario's), else its id.
    pub fn name(&self) -> &str {
        self.state.name.as_deref().unwrap_or(&self.id)
    }
}

/// Whether process `pid` runs (seen through /proc).
pub fn alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

/// The running worlds registered in the default state directory, oldest process first.
pub fn running() -> Vec<Running> {
    let dir = default_state_dir();
    // Only a private directory is trusted (its files lead to control passwords).
    if redlink_engine::files::check_private_dir(&dir).is_err() {
        return Vec::new();
    }
    let current = std::fs::canonicalize(dir.join(CURRENT_POINTER)).ok();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<Running> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".json") else {
            continue;
        };
        // check's short-lived worlds and the pointer are not entries.
        if name == CURRENT_POINTER || name.starts_with('.') || id.starts_with("check-") {
            continue;
        }
        let Ok(path) = std::fs::canonicalize(entry.path()) else {
            continue;
        };
        let Ok(state) = StateFile::read(&path) else {
            continue;
        };
        if !alive(state.pid) || out.iter().any(|r| r.path == path) {
            continue;
        }
        out.push(Running {
            current: current.as_deref() == Some(path.as_path()),
            id: id.to_owned(),
            path,
            state,
        });
    }
    out.sort_by_key(|r| (r.state.pid, r.id.clone()));
    out
}

/// A registry entry for a world whose state file is not in the default directory; removed when
/// dropped (if it still points at that file).
#[derive(Debug)]
pub struct Registration {
    link: PathBuf,
    target: PathBuf,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if std::fs::read_link(&self.link).is_ok_and(|t| t == self.target) {
            let _ = std::fs::remove_file(&self.link);
        }
    }
}

/// Registers the world of state file `state` (named `name`, run by this process) so `redlink ls`
/// and `--world` find it; `None` when it is in the default directory already or the directory
/// cannot be used (the world still runs; only the listing misses it).
pub fn register(state: &Path, name: &str) -> Option<Registration> {
    let target = std::path::absolute(state).ok()?;
    let link = default_state_path(name, std::process::id());
    if target.parent() == link.parent() {
        return None;
    }
    redlink_runtime::ensure_default_state_dir().ok()?;
    // symlink() never follows or replaces what is there.
    std::os::unix::fs::symlink(&target, &link).ok()?;
    Some(Registration { link, target })
}

fn listing(worlds: &[Running]) -> String {
    worlds
        .iter()
        .map(|w| format!("{} ({})", w.id, w.path.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The state file a command should use (see the module doc).
pub fn locate(explicit: Option<&Path>, world: Option<&str>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(name) = world {
        let all = running();
        let matching: Vec<&Running> = all
            .iter()
            .filter(|w| w.id == name || w.state.name.as_deref() == Some(name))
            .collect();
        return match matching.as_slice() {
            [one] => Ok(one.path.clone()),
            [] if all.is_empty() => Err(format!("no world {name:?}: no world is running")),
            [] => Err(format!(
                "no world {name:?} (running: {}; see `redlink ls`)",
                listing(&all)
            )),
            several => Err(format!(
                "{} worlds are named {name:?}: give one of their ids ({}) to --world",
                several.len(),
                several
                    .iter()
                    .map(|w| w.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
    }
    if let Some(p) = std::env::var_os("REDLINK_STATE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let all = running();
    if let Some(current) = all.iter().find(|w| w.current) {
        return Ok(current.path.clone());
    }
    match all.as_slice() {
        [one] => Ok(one.path.clone()),
        // Nothing runs: the runtime's message says what was tried (or why the directory is
        // not trusted).
        [] => match redlink_runtime::locate_state_file(None) {
            Err(e) => Err(e),
            Ok(stale) => Err(format!(
                "no running world found ({} names a world that stopped): start one with `redlink up`, or give --state-file F",
                stale.display()
            )),
        },
        several => Err(format!(
            "{} worlds are running ({}): choose one with --world ID or --state-file F",
            several.len(),
            listing(several)
        )),
    }
}
