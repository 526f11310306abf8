//! Which files a `check` argument stands for: a file is itself; a directory stands for the `*.toml`
//! files in it (not recursively), sorted by name.

use std::io;
use std::path::{Path, PathBuf};

/// The scenario files of `arg`, or why it cannot be read.
pub fn scenario_files(arg: &Path) -> io::Result<Vec<PathBuf>> {
    if !arg.is_dir() {
        return Ok(vec![arg.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(arg)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
