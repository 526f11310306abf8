//! `redlink probe --network NET HOST[:PORT] [--tls] [--password P] [--state-file F] [--json]
//! [--connect-timeout MS]`: connects to HOST as a client in network NET would (its resolver, its
//! client address), does TLS, AUTH and PING, and prints the evidence of each step with the world's
//! explanations (`redlink_runtime::probe`). Exit codes: 0 PING answered PONG, 1 any step failed,
//! 2 bad input (no running world, unknown network, bad arguments).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use redlink_runtime::StateFile;
use redlink_runtime::probe::{ProbeOptions, ProbeOutcome, ProbeTarget, probe};

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
    /// The world's state file (default: --world, else $REDLINK_STATE, else the `current.json`
    /// pointer `up` writes, else the only running world).
    #[arg(long, value_name = "F")]
    pub state_file: Option<PathBuf>,
    /// The running world with this id or name (see `redlink ls`).
    #[arg(long, value_name = "NAME", conflicts_with = "state_file")]
    pub world: Option<String>,
    /// Print the evidence as JSON.
    #[arg(long)]
    pub json: bool,
    /// How long the TCP connect may take: 300ms, 2s… (a bare number is milliseconds, as in
    /// earlier versions).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_connect_timeout)]
    pub connect_timeout: Duration,
}

/// `300ms`, `2s`, `1m` like `check` and `up --for`; a bare number is milliseconds (the unit this
/// option had before it took durations).
fn parse_connect_timeout(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => crate::cli::up::parse_duration(text),
    }
}

/// The one-line lesson of a private endpoint the network cannot reach: "resolved to pe-hub but
/// spoke is not peered with hub", with both fixes.
fn lesson(state: &StateFile, evidence: &redlink_runtime::probe::Evidence) -> Option<String> {
    let v = evidence.verdict.as_ref()?;
    if v.verdict == "route" {
        return None;
    }
    let pe_network = state
        .caches
        .get(&v.cache)?
        .endpoints
        .iter()
        .find(|e| e.name == v.endpoint)?
        .network
        .clone()?;
    let net = &evidence.network;
    let peered = state
        .networks
        .get(net)
        .is_some_and(|n| n.peered_with.contains(&pe_network));
    if pe_network == *net || peered {
        return None;
    }
    let how = if evidence.host.parse::<std::net::Ipv4Addr>().is_ok() {
        format!("{} is {}", evidence.host, v.endpoint)
    } else {
        format!("resolved to {}", v.endpoint)
    };
    Some(format!(
        "{how} but {net} is not peered with {pe_network}: peer {net} with {pe_network}, or give {net} a private endpoint of its own (and its own record)"
    ))
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
    let path = match crate::cli::worlds::locate(args.state_file.as_deref(), args.world.as_deref()) {
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
        connect_timeout: args.connect_timeout.max(Duration::from_millis(1)),
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
        if let Some(lesson) = lesson(&state, &evidence) {
            say!("{lesson}");
        }
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

    #[test]
    fn connect_timeouts_take_durations() {
        assert_eq!(
            parse_connect_timeout("300ms"),
            Ok(Duration::from_millis(300))
        );
        assert_eq!(parse_connect_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(
            parse_connect_timeout("1500"),
            Ok(Duration::from_millis(1500))
        );
        assert!(parse_connect_timeout("soon").is_err());
    }
}
