//! `redlink probe --network NET HOST[:PORT] [--tls] [--password P] [--state-file F] [--json]
//! [--connect-timeout MS]`: connects to HOST as a client in network NET would (its resolver, its
//! client address), does TLS, AUTH and PING, and prints the evidence of each step with the world's
//! explanations (`redlink_runtime::probe`). Exit codes: 0 PING answered PONG, 1 any step failed,
//! 2 bad input (no running world, unknown network, bad arguments).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use redlink_runtime::probe::{ProbeOptions, ProbeOutcome, ProbeTarget, probe};
use redlink_runtime::{StateFile, locate_state_file};

use crate::cli::say;

/// Arguments of `redlink probe`.
#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The network the client is in (its resolver and client address are used).
    #[arg(long, value_name = "NET")]
    pub network: String,
    /// HOST or HOST:PORT (a host name, resolved by the network's resolver, or an IPv4 address);
    /// the default port is the cache's TLS port with --tls, else its plain port.
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,
    /// Speak TLS, verifying HOST against the world's CA.
    #[arg(long)]
    pub tls: bool,
    /// AUTH with this password before PING.
    #[arg(long, value_name = "P")]
    pub password: Option<String>,
    /// The world's state file (default: $REDLINK_STATE, else the `current.json` pointer `up` writes).
    #[arg(long, value_name = "F")]
    pub state_file: Option<PathBuf>,
    /// Print the evidence as JSON.
    #[arg(long)]
    pub json: bool,
    /// How long the TCP connect may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub connect_timeout: u64,
}

/// Splits `HOST[:PORT]`.
fn split_target(text: &str) -> Result<(String, Option<u16>), String> {
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => port
            .parse::<u16>()
            .map(|p| (host.to_owned(), Some(p)))
            .map_err(|_| format!("{text:?}: {port:?} is not a port number")),
        _ if text.is_empty() => Err("HOST is empty".to_owned()),
        _ => Ok((text.to_owned(), None)),
    }
}

/// Runs `redlink probe`.
pub fn main(args: ProbeArgs) -> ExitCode {
    let (host, port) = match split_target(&args.target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("redlink probe: {e}");
            return ExitCode::from(2);
        }
    };
    let path = match locate_state_file(args.state_file.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("redlink probe: {e}");
            return ExitCode::from(2);
        }
    };
    let state = match StateFile::read(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "redlink probe: cannot read the state file {}: {e}",
                path.display()
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redlink probe: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let target = ProbeTarget {
        network: args.network,
        host,
        port,
    };
    let options = ProbeOptions {
        tls: args.tls,
        password: args.password,
        connect_timeout: Duration::from_millis(args.connect_timeout.max(1)),
        ..ProbeOptions::default()
    };
    let evidence = runtime.block_on(probe(&state, &target, &options));
    if args.json {
        match serde_json::to_string_pretty(&evidence) {
            Ok(j) => say!("{j}"),
            Err(e) => {
                eprintln!("redlink probe: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        say!("{}", evidence.render());
    }
    match evidence.outcome {
        ProbeOutcome::Ok => ExitCode::SUCCESS,
        ProbeOutcome::BadInput => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            split_target("contoso.redis.cache.windows.net:6380"),
            Ok(("contoso.redis.cache.windows.net".to_owned(), Some(6380)))
        );
        assert_eq!(
            split_target("127.10.1.4"),
            Ok(("127.10.1.4".to_owned(), None))
        );
        assert!(split_target("h:x").is_err());
        assert!(split_target("").is_err());
    }
}
