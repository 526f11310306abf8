//! The files of `redlink ctl redis import` and `export`, read and written on the ctl caller's side
//! (local folders stand in for Azure blob storage). Contents cross the control API, never paths:
//! the world may run as another user, and must not read or write what its caller names. Here the
//! caller's own rights apply, and still: a symbolic link is refused (to import, and as the
//! container or the exported file), the export's name is a plain file name inside the container
//! (no `/`, no `..`), and the file is written under a temporary name and renamed into place
//! (`redlink_engine::files::replace`), so nothing outside the container is ever written.

use std::fs::OpenOptions;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use redlink_runtime::MAX_IMPORT_BYTES;

/// Reads the RDB file to import: a regular file (not a symbolic link) of at most
/// [`MAX_IMPORT_BYTES`].
pub fn read_import(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!("--files {shown}: is a symbolic link (refused)"),
            _ => format!("--files {shown}: {e}"),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("--files {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("--files {shown}: not a regular file"));
    }
    if meta.len() > MAX_IMPORT_BYTES as u64 {
        return Err(format!(
            "--files {shown}: {} bytes, more than the {MAX_IMPORT_BYTES} an import takes",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("--files {shown}: {e}"))?;
    Ok(bytes)
}

/// Writes an export as `container/prefix`: `container` an existing directory (not a symbolic
/// link), `prefix` a plain file name, an existing `container/prefix` a regular file (replaced).
pub fn write_export(container: &Path, prefix: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    if prefix.is_empty()
        || prefix == "."
        || prefix == ".."
        || prefix.contains('/')
        || prefix.contains('\0')
    {
        return Err(format!(
            "--prefix {prefix:?}: must be a file name (no '/', not '.' or '..')"
        ));
    }
    let shown = container.display();
    let meta =
        std::fs::symlink_metadata(container).map_err(|e| format!("--container {shown}: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!("--container {shown}: is a symbolic link (refused)"));
    }
    if !meta.is_dir() {
        return Err(format!("--container {shown}: not a directory"));
    }
    let target = container.join(prefix);
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
                "{}: is a symbolic link (refused)",
                target.display()
            ));
        }
        Ok(m) if !m.is_file() => {
            return Err(format!("{}: exists and is not a file", target.display()));
        }
        _ => {}
    }
    redlink_engine::files::replace(&target, bytes, 0o600)
        .map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_stay_inside_the_container() {
        let dir = std::env::temp_dir().join(format!("redlink-transfer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for bad in ["", ".", "..", "../x", "a/b"] {
            let e = write_export(&dir, bad, b"x").expect_err(bad);
            assert!(e.contains("--prefix"), "{e}");
        }
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).expect("symlink");
        let e = write_export(&dir, "link", b"x").expect_err("symlink target");
        assert!(e.contains("symbolic link"), "{e}");
        let e = read_import(&dir.join("link")).expect_err("symlink import");
        assert!(e.contains("symbolic link"), "{e}");
        let written = write_export(&dir, "backup", b"REDIS").expect("written");
        assert_eq!(std::fs::read(&written).expect("read back"), b"REDIS");
        assert_eq!(read_import(&written).expect("import"), b"REDIS");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
