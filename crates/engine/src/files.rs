//! Files and directories redlink writes where other users may look (`/tmp`, a shared `--tls-auto`
//! directory): private directories are created atomically with mode 0700 and, when they already
//! exist, used only if they are real directories (not symbolic links) owned by this user and closed
//! to everyone else; files are created new (`O_CREAT | O_EXCL | O_NOFOLLOW`, so a planted file or
//! link is never followed or reused) with their final mode from the start (0600 for keys and state
//! files), under a random temporary name, then renamed into place.
//!
//! Shared by `serve --tls-auto` (this crate), the runtime's state files and `exec`'s temporary
//! directories.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// This process's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn refuse(path: &Path, why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "refusing to use {}: {why}; remove it or choose another place",
            path.display()
        ),
    )
}

/// Checks that `path` is a directory (not a symbolic link) owned by this user with no access for
/// group or others.
pub fn check_private_dir(path: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(refuse(path, "it is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(refuse(path, "it is not a directory".into()));
    }
    if meta.uid() != euid() {
        return Err(refuse(
            path,
            format!("it belongs to uid {}, not to uid {}", meta.uid(), euid()),
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(refuse(
            path,
            format!("its mode is {mode:04o}: other users can reach it (it must be 0700)"),
        ));
    }
    Ok(())
}

/// Creates directory `path` with mode 0700 (its parent must exist), or accepts it if it exists and
/// passes [`check_private_dir`]. Errors name the path.
pub fn private_dir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => check_private_dir(path),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => check_private_dir(path),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot create {}: {e}", path.display()),
        )),
    }
}

/// Creates a new private directory (0700) named `PREFIX-RANDOM` in `parent`; never reuses one.
pub fn new_private_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    for _ in 0..16 {
        let path = parent.join(format!("{prefix}-{}", random_suffix()));
        match DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {
                check_private_dir(&path)?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create {}: {e}", path.display()),
                ));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free name for {prefix}-* in {}", parent.display()),
    ))
}

fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..12)
        .map(|_| char::from_digit(rng.random_range(0..36), 36).unwrap_or('x'))
        .collect()
}

/// Creates `path`, which must not exist (a planted file or symbolic link makes this fail), with
/// `mode` from the start, and writes `bytes` (synced).
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Replaces `path` with `bytes` atomically: a new file with a random name and `mode` in the same
/// directory ([`write_new`]), then a rename over `path` (which replaces a symbolic link there
/// rather than following it).
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut last = None;
    for _ in 0..16 {
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", random_suffix()));
        match write_new(&tmp, bytes, mode) {
            Ok(()) => {
                return std::fs::rename(&tmp, path).inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "redlink-files-{tag}-{}-{}",
            std::process::id(),
            random_suffix()
        ));
        private_dir(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn a_planted_link_is_refused_not_followed() {
        let dir = scratch("link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        let link = dir.join("planted");
        std::os::unix::fs::symlink(&victim, &link).expect("link");
        assert!(write_new(&link, b"evil", 0o600).is_err());
        let e = private_dir(&link).expect_err("a link is no private dir");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // replace() swaps the link itself, never writes through it.
        replace(&link, b"new", 0o600).expect("replace");
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            "precious"
        );
        assert!(!std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn files_and_dirs_get_their_mode_at_creation() {
        let dir = scratch("mode");
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode(&dir).ok(), Some(0o700));
        let key = dir.join("key");
        replace(&key, b"secret", 0o600).expect("write");
        assert_eq!(mode(&key).ok(), Some(0o600));
        let open = dir.join("open");
        DirBuilder::new()
            .mode(0o755)
            .create(&open)
            .expect("open dir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let e = private_dir(&open).expect_err("a 0755 dir is not private");
        assert!(e.to_string().contains("0755"), "{e}");
        let fresh = new_private_dir(&dir, "x").expect("fresh");
        assert_eq!(mode(&fresh).ok(), Some(0o700));
        let _ = std::fs::remove_dir_all(dir);
    }
}
