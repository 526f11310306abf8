//! The client matrix (issue 24, clients/README.md) kept true: what redis-cli, redis-py (sync and
//! asyncio), ioredis, node-redis and the redis crate say for every catalogued failure case, inside
//! `redlink exec` with their default settings, must be what clients/catalogue.json stores (a
//! readable diff otherwise), and docs/clients.md must be what the catalogue renders to.
//!
//! The runner is clients/matrix.py (one world per cell, several at once); this file supplies the
//! binaries and says why it skips where a client is not installed (`.ci/run` installs them all).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn docs_clients_md_is_rendered_from_the_catalogue() {
    if !succeeds("python3", &["--version"]) {
        eprintln!("note: skipping: python3 is not installed");
        return;
    }
    let out = Command::new("python3")
        .args(["clients/matrix.py", "render", "--check"])
        .current_dir(root())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The redis crate's driver (examples/redis_rs_driver.rs), built on demand with this cargo.
fn rust_driver() -> Option<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--example", "redis_rs_driver"])
        .current_dir(root());
    // The variables cargo sets for a test (CARGO_MANIFEST_DIR, CARGO_PKG_*…) are not the
    // shell's: ring's build script watches CARGO_MANIFEST_DIR, and a changed value rebuilds half
    // the tree (minutes) instead of finding the example `cargo test --workspace` built already.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let keep = [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_INCREMENTAL",
            "CARGO_BUILD_JOBS",
        ];
        if (name.starts_with("CARGO_") && !keep.contains(&name.as_str())) || name == "OUT_DIR" {
            build.env_remove(&name);
        }
    }
    let status = build.status().ok()?;
    if !status.success() {
        return None;
    }
    // The example sits next to the binary's directory: target/debug/examples.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_redlink"));
    let driver = bin.parent()?.join("examples").join("redis_rs_driver");
    driver.exists().then_some(driver)
}

#[test]
fn every_client_says_what_the_catalogue_says() {
    let missing: Vec<&str> = [
        ("redis-cli", succeeds("redis-cli", &["--version"])),
        (
            "redis-py (pip install -r clients/requirements.txt)",
            succeeds("python3", &["-c", "import redis"]),
        ),
        (
            "node with clients/node_modules (cd clients && npm ci)",
            root().join("clients/node_modules/ioredis").is_dir()
                && root().join("clients/node_modules/redis").is_dir()
                && succeeds("node", &["--version"]),
        ),
        (
            "user namespaces (redlink exec)",
            succeeds(
                env!("CARGO_BIN_EXE_redlink"),
                &["exec", "--network", "hub", "--", "true"],
            ),
        ),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(what, _)| what)
    .collect();
    if !missing.is_empty() {
        eprintln!(
            "note: skipping the client matrix: missing {}",
            missing.join(", ")
        );
        return;
    }
    let driver = rust_driver().expect("cargo build --example redis_rs_driver");
    let out = Command::new("python3")
        .args(["clients/matrix.py", "check"])
        .current_dir(root())
        .env("REDLINK_BIN", env!("CARGO_BIN_EXE_redlink"))
        .env("REDLINK_RS_DRIVER", &driver)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n(each cell's raw line is on the runner's stderr:)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
}
