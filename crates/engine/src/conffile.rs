//! redis.conf loading, the way redis-server reads its configuration, so `redlink serve
//! /etc/redis/redis.conf` is a drop-in: `name args...` lines, `#` comments, "double" and 'single'
//! quoted arguments (with redis-server's escapes), `include` of other files or wildcard patterns
//! (files in alphabetical order; a pattern that matches nothing is skipped, as in Redis), then the
//! command line's `--name value` options as if they were the last lines.
//!
//! Unlike redis-server, which stops at the first bad line, every problem is collected and reported
//! at once (`redis.conf:123: unsupported directive 'xyz'`), so a user fixes a file in one pass.
//! Which directives exist and what each does here is [`crate::config::PARAMS`] (and
//! docs/config.md); the structural ones (`include`, `user`, `rename-command`) are handled here.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// How deep `include` may nest (a file that includes itself would otherwise recurse forever).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Apply a configuration file (`-` = standard input); every problem, each with its file and line.
pub fn load_file(config: &mut Config, path: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    match read(path) {
        Ok(text) => apply(config, &text, &path.display().to_string(), 0, &mut problems),
        Err(e) => problems.push(format!(
            "Fatal error, can't open config file '{}': {e}",
            path.display()
        )),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Apply a redis.conf-style text; `origin` names it in problems.
pub fn load_text(config: &mut Config, text: &str, origin: &str) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    apply(config, text, origin, 0, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn read(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") {
        return std::io::read_to_string(std::io::stdin());
    }
    std::fs::read_to_string(path)
}

fn apply(config: &mut Config, text: &str, origin: &str, depth: usize, problems: &mut Vec<String>) {
    for (i, line) in text.lines().enumerate() {
        let at = format!("{origin}:{}", i + 1);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some(args) = crate::protocol::split_args(trimmed.as_bytes()) else {
            problems.push(format!("{at}: unbalanced quotes in configuration line"));
            continue;
        };
        let Some((name, rest)) = args.split_first() else {
            continue;
        };
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let values: Vec<String> = rest
            .iter()
            .map(|v| String::from_utf8_lossy(v).to_string())
            .collect();
        if name == "include" {
            let [pattern] = values.as_slice() else {
                problems.push(format!("{at}: include takes one file name or pattern"));
                continue;
            };
            if depth >= MAX_INCLUDE_DEPTH {
                problems.push(format!(
                    "{at}: include nested more than {MAX_INCLUDE_DEPTH} deep (does a file include itself?)"
                ));
                continue;
            }
            match expand(pattern) {
                Ok(files) => {
                    for file in files {
                        match read(&file) {
                            Ok(text) => apply(
                                config,
                                &text,
                                &file.display().to_string(),
                                depth + 1,
                                problems,
                            ),
                            Err(e) => problems.push(format!(
                                "{at}: can't open included file '{}': {e}",
                                file.display()
                            )),
                        }
                    }
                }
                Err(e) => problems.push(format!("{at}: {e}")),
            }
            continue;
        }
        if let Err(e) = config.apply_option(&name, &values) {
            problems.push(format!("{at}: {e}"));
        }
    }
}

/// The files an `include` names: the path itself, or with wildcards in its last component the
/// matching files of that directory in alphabetical order (none is fine, as in Redis).
fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let path = Path::new(pattern);
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    if !file.contains(['*', '?', '[']) {
        return Ok(vec![path.to_path_buf()]);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.to_string_lossy().contains(['*', '?', '[']) {
        return Err(format!(
            "include '{pattern}': wildcards are allowed only in the file name"
        ));
    }
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .filter(|e| {
            crate::glob::matches(file.as_bytes(), e.file_name().to_string_lossy().as_bytes())
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// `redis-server` style arguments after the optional configuration file: `--name value...`
/// options (an option's values run to the next `--name`), each applied like a last line of the
/// file. Returns the options redlink's own CLI handles (`--tls-auto`, `--tls-hostname`) untouched.
pub fn apply_command_line(
    config: &mut Config,
    args: &[String],
    problems: &mut Vec<String>,
) -> Vec<(String, Vec<String>)> {
    let mut own = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Some(name) = args[i].strip_prefix("--") else {
            problems.push(format!(
                "command line: unexpected argument '{}' (options look like --name value)",
                args[i]
            ));
            i += 1;
            continue;
        };
        let mut values = Vec::new();
        i += 1;
        while i < args.len() && !(args[i].starts_with("--") && args[i].len() > 2) {
            values.push(args[i].clone());
            i += 1;
        }
        match name {
            "tls-auto" | "tls-hostname" => own.push((name.to_string(), values)),
            _ => {
                if let Err(e) = config.apply_option(name, &values) {
                    problems.push(format!("command line: option --{name}: {e}"));
                }
            }
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let mut c = Config::default();
        let err = load_text(
            &mut c,
            "port 7000\nnosuch 1\nmaxclients lots\nloadmodule /x.so\n\"open\n",
            "r.conf",
        )
        .unwrap_err();
        assert_eq!(err.len(), 4, "{err:?}");
        assert_eq!(err[0], "r.conf:2: unsupported directive 'nosuch'");
        assert_eq!(
            err[1],
            "r.conf:3: 'maxclients lots': argument couldn't be parsed into an integer"
        );
        assert_eq!(err[2], "r.conf:4: unsupported directive 'loadmodule'");
        assert_eq!(err[3], "r.conf:5: unbalanced quotes in configuration line");
        assert_eq!(c.port(), 7000);
    }

    #[test]
    fn include_files_and_patterns() {
        let dir = std::env::temp_dir().join(format!("redlink-conffile-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("frag")).unwrap();
        std::fs::write(dir.join("frag/b.conf"), "maxclients 7\n").unwrap();
        std::fs::write(dir.join("frag/a.conf"), "maxclients 5\ntimeout 9\n").unwrap();
        std::fs::write(
            dir.join("self.conf"),
            format!("include {}\n", dir.join("self.conf").display()),
        )
        .unwrap();
        let mut c = Config::default();
        let text = format!(
            "port 7001\ninclude {}/frag/*.conf\ninclude {}/nothing/*.conf\n",
            dir.display(),
            dir.display()
        );
        load_text(&mut c, &text, "main.conf").unwrap();
        // a.conf then b.conf: the later one wins.
        assert_eq!((c.port(), c.maxclients(), c.timeout()), (7001, 7, 9));
        let err = load_file(&mut c, &dir.join("self.conf")).unwrap_err();
        assert!(err[0].contains("nested more than"), "{err:?}");
        let err = load_text(&mut c, "include /no/such/file.conf\n", "m.conf").unwrap_err();
        assert!(
            err[0].starts_with("m.conf:1: can't open included file '/no/such/file.conf'"),
            "{err:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
