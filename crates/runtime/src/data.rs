//! Where a world's persisted caches keep their data: one private directory (0700) per world next to
//! its state file (`redlink-data-RANDOM/`), and in it one per cache with `persistence`, holding the
//! engine's `dump.rdb`. Created when the world starts (only if some cache persists), so a reboot's
//! new engine finds the last snapshot there; removed with the world, as Azure deletes a cache's
//! persistence files with the cache.

use std::io;
use std::path::{Path, PathBuf};

use redlink_engine::files::{new_private_dir, private_dir};
use redlink_world::World;

/// The data directories of a world's persisted caches; dropping it removes them.
#[derive(Debug)]
pub struct DataDirs {
    root: PathBuf,
}

impl DataDirs {
    /// Creates the world's data directory next to `state_file` and one for each cache of `world`
    /// with persistence; `None` when no cache persists.
    pub fn create(state_file: &Path, world: &World) -> io::Result<Option<DataDirs>> {
        if world.caches.iter().all(|c| c.persistence.is_none()) {
            return Ok(None);
        }
        let parent = match state_file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dirs = DataDirs {
            root: new_private_dir(parent, "redlink-data")?,
        };
        for c in world.caches.iter().filter(|c| c.persistence.is_some()) {
            private_dir(&dirs.root.join(&c.name))?;
        }
        Ok(Some(dirs))
    }

    /// The directory of `cache` (which must have been persisted when the world started).
    pub fn dir(&self, cache: &str) -> Option<PathBuf> {
        let path = self.root.join(cache);
        path.is_dir().then_some(path)
    }
}

impl Drop for DataDirs {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!("cannot remove {}: {e}", self.root.display());
        }
    }
}
