//! `redlink check SCENARIO_OR_DIR... [--junit F] [--json]`: runs each scenario's timeline at once in
//! its own world (several in parallel, each in its own address block), prints one line per
//! expectation and the details of each failure, and exits 0 when every expectation is met, 1 when
//! some are not, 2 for bad input (file, line and reason; bad input wins over failures). With
//! `--exercises`, each scenario's `[[exercise]]`s are scored after its timeline as more phases.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redlink_scenario::discover::scenario_files;
use redlink_scenario::{BadInput, RunOptions, RunReport, Timeouts, check_scenario, junit, text};
use redlink_world::Scenario;

use crate::cli::say;
use crate::cli::up::parse_duration;

/// Arguments of `redlink check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario files, or directories whose *.toml files are scenarios.
    #[arg(required = true, value_name = "SCENARIO_OR_DIR")]
    pub paths: Vec<PathBuf>,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "F")]
    pub junit: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How long a TCP connect may take before it counts as dropped (timeout).
    #[arg(long, value_name = "DURATION", default_value = "300ms", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// How long to wait for a reply (or a TLS handshake).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub reply_timeout: Duration,
    /// Also score each scenario's exercises (`[[exercise]]`) after its timeline, one phase per
    /// exercise: a lab file that starts broken fails until its timeline fixes it.
    #[arg(long)]
    pub exercises: bool,
    /// How many scenarios run at the same time.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub jobs: usize,
    /// Put a real Redis behind every cache instead of the embedded engine (docs/backends.md).
    #[arg(long, value_name = "KIND")]
    pub backend: Option<crate::cli::up::BackendChoice>,
}

/// Runs `redlink check`.
pub fn main(args: CheckArgs) -> ExitCode {
    let started = Instant::now();
    let mut report = RunReport::default();
    let mut scenarios = Vec::new();
    for path in &args.paths {
        let files = match scenario_files(path) {
            Ok(f) => f,
            Err(e) => {
                report.bad_input.push(BadInput {
                    file: path.display().to_string(),
                    line: None,
                    column: None,
                    message: format!("{}: cannot read: {e}", path.display()),
                });
                continue;
            }
        };
        if files.is_empty() {
            report.bad_input.push(BadInput {
                file: path.display().to_string(),
                line: None,
                column: None,
                message: format!("{}: no *.toml scenario files here", path.display()),
            });
        }
        for file in files {
            match Scenario::load(&file) {
                Ok(s) => scenarios.push(s),
                Err(e) => report.bad_input.push(BadInput {
                    file: e.file.clone(),
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                }),
            }
        }
    }
    for b in &report.bad_input {
        eprintln!("redlink check: {}", b.message);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redlink check: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let options = RunOptions {
        timeouts: Timeouts {
            connect: args.connect_timeout,
            reply: args.reply_timeout,
            ..Timeouts::default()
        },
        exercises: args.exercises,
        redis_server_backends: args.backend.is_some(),
        ..RunOptions::default()
    };
    let json = args.json;
    report.scenarios = runtime.block_on(async move {
        let permits = Arc::new(tokio::sync::Semaphore::new(args.jobs.max(1)));
        let handles: Vec<_> = scenarios
            .into_iter()
            .map(|s| {
                let permits = permits.clone();
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    check_scenario(&s, &options).await
                })
            })
            .collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            match h.await {
                Ok(r) => {
                    if !json {
                        say!("{}", text::scenario(&r).trim_end());
                    }
                    out.push(r);
                }
                Err(e) => eprintln!("redlink check: a scenario run failed: {e}"),
            }
        }
        out
    });
    report.millis = started.elapsed().as_secs_f64() * 1000.0;

    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, junit::junit(&report))
    {
        eprintln!("redlink check: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(j) => say!("{j}"),
            Err(e) => eprintln!("redlink check: {e}"),
        }
    } else {
        say!("{}", text::summary(&report));
    }
    ExitCode::from(report.exit_code())
}
