//! `redlink serve`: the engine on its own listeners, started the way redis-server is started
//! (`redlink serve [CONFIG_FILE] [--name value...]`), so test harnesses can swap it in.

use std::path::Path;
use std::process::ExitCode;

use redlink_engine::{Config, Engine, Server};

/// Parse redis-server style arguments into a configuration.
pub fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut config = Config::default();
    let mut rest = args;
    if let Some(first) = rest.first()
        && !first.starts_with("--")
    {
        let path = Path::new(first);
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "Fatal error, can't open config file '{}': {e}",
                path.display()
            )
        })?;
        config.apply_text(&text, path)?;
        rest = &rest[1..];
    }
    let mut i = 0;
    while i < rest.len() {
        let Some(name) = rest[i].strip_prefix("--") else {
            return Err(format!(
                "unexpected argument '{}' (options look like --name value)",
                rest[i]
            ));
        };
        let mut values = Vec::new();
        i += 1;
        while i < rest.len() && !(rest[i].starts_with("--") && rest[i].len() > 2) {
            values.push(rest[i].clone());
            i += 1;
        }
        match name {
            "tls-auto" => {
                let [dir] = values.as_slice() else {
                    return Err("--tls-auto takes one directory".into());
                };
                config.tls_auto = Some(dir.into());
            }
            "tls-hostname" => config.tls_hostnames.extend(values),
            _ => config
                .apply_option(name, &values)
                .map_err(|e| format!("option --{name}: {e}"))?,
        }
    }
    Ok(config)
}

/// Run `serve` until SIGINT/SIGTERM or SHUTDOWN.
pub fn main(args: Vec<String>) -> ExitCode {
    let mut config = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redlink serve: {e}");
            return ExitCode::from(2);
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
                return ExitCode::from(1);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redlink serve: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        // Registered before "Ready to accept connections": a SIGTERM right after it shuts down
        // cleanly (exit 0, as redis-server) instead of killing the process.
        let signals = crate::cli::Signals::take();
        let engine = Engine::new(config);
        let server = match Server::start(engine.clone()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("redlink serve: {e}");
                return ExitCode::from(1);
            }
        };
        for l in server.listeners() {
            crate::cli::say!(
                "Ready to accept connections {} on {}",
                if l.tls { "tls" } else { "tcp" },
                l.addr
            );
        }
        let stopper = engine.clone();
        tokio::spawn(async move {
            signals.wait().await;
            stopper.shutdown();
        });
        server.wait().await;
        crate::cli::say!("redlink serve: bye");
        ExitCode::SUCCESS
    })
}
