//! `redlink ls [-o table|json]`: the worlds running for this user (see `cli::worlds`): id, name,
//! process, address block, control address and state file; `*` marks the one `current.json`
//! points at. The id (or the name, when unique) is what `--world` takes.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{say, worlds};

/// Arguments of `redlink ls`.
#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Output format: table (default) or json.
    #[arg(long, short = 'o', value_name = "FORMAT", default_value = "table",
          value_parser = ["table", "json"])]
    pub output: String,
}

/// Runs `redlink ls`.
pub fn main(args: LsArgs) -> ExitCode {
    let all = worlds::running();
    if args.output == "json" {
        let list: Vec<serde_json::Value> = all
            .iter()
            .map(|w| {
                json!({
                    "id": w.id,
                    "name": w.name(),
                    "pid": w.state.pid,
                    "block": w.state.block,
                    "control": w.state.control,
                    "stateFile": w.path,
                    "scenario": w.state.scenario,
                    "current": w.current,
                })
            })
            .collect();
        say!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".to_owned())
        );
        return ExitCode::SUCCESS;
    }
    if all.is_empty() {
        say!("no world is running (start one with `redlink up`)");
        return ExitCode::SUCCESS;
    }
    let rows: Vec<[String; 6]> = all
        .iter()
        .map(|w| {
            [
                format!("{}{}", if w.current { "*" } else { "" }, w.id),
                w.name().to_owned(),
                w.state.pid.to_string(),
                w.state.block.to_string(),
                w.state.control.clone().unwrap_or_else(|| "-".to_owned()),
                w.path.display().to_string(),
            ]
        })
        .collect();
    let header = ["ID", "NAME", "PID", "BLOCK", "CONTROL", "STATE FILE"];
    say!("{}", crate::cli::output::table(&header, &rows));
    ExitCode::SUCCESS
}
