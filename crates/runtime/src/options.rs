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
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            state_file: None,
            dns_port: DEFAULT_DNS_PORT,
            block: None,
        }
    }
}

fn uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
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
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() && Path::new(&d).is_dir() => PathBuf::from(d).join("redlink"),
        _ => std::env::temp_dir().join(format!(
            "redlink-{}",
            uid().map_or_else(|| "user".to_owned(), |u| u.to_string())
        )),
    };
    dir.join(format!("{clean}-{pid}.json"))
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
