//! `redlink serve`: the engine on its own listeners, started the way redis-server is started
//! (`redlink serve [CONFIG_FILE] [--name value...]`), so test harnesses can swap it in.

use std::path::Path;
use std::process::ExitCode;

use redlink_clock::Clock;
use redlink_engine::{Config, Engine, Server};

/// Parse redis-server style arguments into a configuration and the engine's clock: an optional
/// configuration file (`-` = standard input), then `--name value...` overrides, and redlink's own
/// `--clock real|manual` (default real) and `--busy-poll MICROS` (default
/// [`redlink_engine::busy_poll::default_max_micros`], 0 = off). Every problem is reported at
/// once, one per line.
pub fn parse_args(args: &[String]) -> Result<(Config, Clock), String> {
    let mut config = Config::default();
    let mut clock = Clock::real();
    let mut problems = Vec::new();
    let mut rest = args;
    if let Some(first) = rest.first()
        && (!first.starts_with("--") || first == "-")
    {
        if let Err(p) = redlink_engine::conffile::load_file(&mut config, Path::new(first)) {
            problems.extend(p);
        }
        // Absolute, as redis-server keeps it (INFO's config_file, CONFIG REWRITE after a chdir).
        if first != "-" {
            config.file = std::path::absolute(first).ok();
        }
        rest = &rest[1..];
    }
    for (name, values) in
        redlink_engine::conffile::apply_command_line(&mut config, rest, &mut problems)
    {
        match name.as_str() {
            "tls-auto" => match values.as_slice() {
                [dir] => config.tls_auto = Some(dir.into()),
                _ => problems.push("--tls-auto takes one directory".into()),
            },
            "clock" => match values.as_slice() {
                [mode] if mode == "real" => clock = Clock::real(),
                [mode] if mode == "manual" => clock = Clock::manual(),
                _ => problems.push(format!(
                    "command line: option --clock: {:?} is not a clock (real or manual)",
                    values.join(" ")
                )),
            },
            "busy-poll" => match values.as_slice() {
                [micros] if let Ok(m @ 0..=1_000_000) = micros.parse::<u64>() => {
                    config.busy_poll_micros = Some(m);
                }
                _ => problems.push(format!(
                    "command line: option --busy-poll: {:?} is not a number of microseconds (0 to 1000000)",
                    values.join(" ")
                )),
            },
            _ => config.tls_hostnames.extend(values),
        }
    }
    if problems.is_empty() {
        Ok((config, clock))
    } else {
        Err(problems.join("\n"))
    }
}

/// Run `serve` until SIGINT/SIGTERM or SHUTDOWN.
pub fn main(mut args: Vec<String>) -> ExitCode {
    // `--cluster N`: N nodes in this process (serve_cluster.rs).
    let cluster = match super::serve_cluster::take_args(&mut args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redlink serve: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut config, clock) = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            for line in e.lines() {
                eprintln!("redlink serve: {line}");
            }
            return ExitCode::from(2);
        }
    };
    // Busy polling keeps one serving thread awake (busy_poll.rs): asked for where it cannot
    // run, it is refused rather than accepted and ignored.
    if config.busy_poll_micros.is_some_and(|m| m > 0) {
        let threads = io_threads(&config);
        let refused = if cluster.is_some() {
            Some("not with --cluster".to_string())
        } else if threads > 1 {
            Some(format!("io-threads is {threads}"))
        } else {
            None
        };
        if let Some(why) = refused {
            eprintln!(
                "redlink serve: command line: option --busy-poll: busy polling needs one serving thread (io-threads 1): {why}"
            );
            return ExitCode::from(2);
        }
    }
    if let Some(cluster) = cluster {
        return super::serve_cluster::main(config, cluster);
    }
    // What redis-server does to its own process (daemonize, logfile, pidfile, ...): before the
    // runtime starts its threads, since daemonizing forks.
    let process = match super::serve_process::Process::start(&config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("redlink serve: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(dir) = config.tls_auto.clone() {
        // Every address it is bound to is a name clients may verify (`redis-cli -h 127.0.0.2
        // --tls`): in the certificate's SANs with the --tls-hostname names.
        let mut names = config.tls_hostnames.clone();
        for addr in config.bind() {
            let addr = addr.trim_start_matches('-');
            let specific = addr
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| !ip.is_unspecified());
            // 127.0.0.1 and ::1 are always in (see auto_certificates).
            let default = matches!(addr, "127.0.0.1" | "::1");
            if specific && !default && !names.iter().any(|n| n == addr) {
                names.push(addr.to_owned());
            }
        }
        match redlink_engine::tls::auto_certificates(&dir, &names) {
            Ok(paths) => {
                crate::cli::say!(
                    "TLS certificates: ca={} cert={} key={}",
                    paths.ca.display(),
                    paths.cert.display(),
                    paths.key.display()
                );
                let _ = config.set_startup("tls-cert-file", &paths.cert.to_string_lossy());
                let _ = config.set_startup("tls-key-file", &paths.key.to_string_lossy());
                let _ = config.set_startup("tls-ca-cert-file", &paths.ca.to_string_lossy());
                let _ = config.set_startup("tls-auth-clients", "no");
            }
            Err(e) => {
                eprintln!("redlink serve: --tls-auto: {e}");
                process.stop();
                return ExitCode::from(1);
            }
        }
    }
    // redis-server changes into `dir` at start and exits when it cannot.
    let dir = config.get("dir").unwrap_or(".").to_string();
    if !Path::new(&dir).is_dir() {
        eprintln!("redlink serve: Can't chdir to '{dir}': No such file or directory");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(io_threads(&config))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redlink serve: cannot start runtime: {e}");
            process.stop();
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        // Registered before "Ready to accept connections": a SIGTERM right after it shuts down
        // cleanly (exit 0, as redis-server) instead of killing the process.
        let mut signals = crate::cli::Signals::take();
        let engine = Engine::with_clock(config, clock);
        // appendonly yes: the dataset comes from the AOF (created when there is none), as in
        // Redis; otherwise `dir/dbfilename`, if present (redis-server refuses to start on a bad one).
        let loaded = if engine.config.read().get("appendonly") == Some("yes") {
            redlink_engine::aof::start(&engine).map(|from_aof| {
                if from_aof {
                    crate::cli::say!("DB loaded from append only file");
                }
            })
        } else {
            redlink_engine::persist::rdb_save::load_at_start(&engine)
                .map(|stats| {
                    if let Some(stats) = stats {
                        crate::cli::say!(
                            "DB loaded from disk: {} keys ({} expired keys skipped)",
                            stats.keys_loaded,
                            stats.keys_expired
                        );
                    }
                })
                .map_err(|e| e.to_string())
        };
        match loaded {
            Ok(()) => {}
            Err(e) => {
                eprintln!("redlink serve: Fatal error loading the DB: {e}. Exiting.");
                return ExitCode::from(1);
            }
        }
        let server = match Server::start(engine.clone()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("redlink serve: {e}");
                process.stop();
                return ExitCode::from(1);
            }
        };
        for l in server.listeners() {
            process.notice(format_args!(
                "Ready to accept connections {} on {}",
                if l.tls { "tls" } else { "tcp" },
                l.addr
            ));
        }
        process.ready();
        // One serving thread (the default): poll a few microseconds after each read instead of
        // sleeping at once (busy_poll.rs says why, and why not with more threads).
        if io_threads(&engine.config.read()) == 1 {
            let micros = engine.config.read().busy_poll_micros;
            engine.busy_poll.start(std::time::Duration::from_micros(
                micros.unwrap_or_else(redlink_engine::busy_poll::default_max_micros),
            ));
        }
        let stopper = engine.clone();
        tokio::spawn(async move {
            loop {
                signals.recv().await;
                // Like redis-server: save first when save points are configured; a failed save
                // keeps the server running.
                let saver = stopper.clone();
                let saved = tokio::task::spawn_blocking(move || {
                    redlink_engine::persist::rdb_save::shutdown_save(&saver, false, false)
                })
                .await;
                match saved {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) => {
                        eprintln!("redlink serve: Error trying to save the DB, can't exit: {e}")
                    }
                    Err(e) => {
                        eprintln!("redlink serve: Error trying to save the DB, can't exit: {e}")
                    }
                }
            }
            stopper.shutdown();
        });
        server.wait().await;
        process.notice(format_args!("redlink serve: bye"));
        process.stop();
        ExitCode::SUCCESS
    })
}

/// How many threads serve connections: `io-threads` (default 1, redis-server's one thread for
/// commands). One thread leaves the other cores to the clients and runs scripts without another
/// thread contending for the script runner; more spread connections over more cores (blocking
/// work — BGSAVE, a long script's hand-off, the AOF's fsync — has threads of its own either way).
pub(crate) fn io_threads(config: &Config) -> usize {
    config
        .get("io-threads")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}
