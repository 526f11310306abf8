//! `redlink lab [--state-file F | --control ADDR] [--password P] [--json]`: scores the lab a
//! trainee is working on: the running world's exercises (`[[exercise]]`, scored by `up` after
//! every change, the same as `redlink ctl lab status` and the dashboard show), with the goals not
//! yet met and the hints. Exit 0 when every exercise is met, 1 when some are not (or the world is
//! unreachable), 2 for bad input (a world without exercises). To score a lab file on a fresh world
//! instead, `redlink check --exercises FILE`.

use std::process::ExitCode;

use crate::cli::ctl::{CtlArgs, CtlCommand, LabCommand, score};
use crate::cli::say;

/// Arguments of `redlink lab`.
#[derive(clap::Args, Debug)]
pub struct LabArgs {
    /// The control API's address (default: the state file's `control`).
    #[arg(long, value_name = "ADDR")]
    pub control: Option<std::net::SocketAddr>,
    /// The world's state file (default: $REDLINK_STATE, else the one `up` points at).
    #[arg(long, value_name = "F")]
    pub state_file: Option<std::path::PathBuf>,
    /// The control API's password (default: the state file's `control_password`).
    #[arg(
        long,
        value_name = "P",
        env = "REDLINK_CONTROL_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Print the score as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `redlink lab`.
pub fn main(args: LabArgs) -> ExitCode {
    let ctl = CtlArgs {
        control: args.control,
        state_file: args.state_file,
        password: args.password,
        world: None,
        output: crate::cli::output::Format::Json,
        query: None,
        resource_group: None,
        command: CtlCommand::Lab(LabCommand::Status { json: args.json }),
    };
    match score(&ctl) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(j) => say!("{j}"),
                    Err(e) => {
                        eprintln!("redlink lab: {e}");
                        return ExitCode::from(1);
                    }
                }
            } else {
                say!(
                    "{}\nscore: {}/{}",
                    report.text().trim_end(),
                    report.met,
                    report.total
                );
            }
            ExitCode::from(u8::from(report.met < report.total))
        }
        Err((code, e)) => {
            eprintln!("redlink lab: {e}");
            ExitCode::from(code)
        }
    }
}
