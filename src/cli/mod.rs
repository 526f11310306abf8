//! The subcommands of the `redlink` binary.

pub mod az;
pub mod check;
pub mod ctl;
pub mod exec;
pub mod probe;
pub mod serve;
pub mod timeline;
pub mod up;

/// Print a line to stdout, ignoring a closed pipe (`redlink ... | head` must not panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use say;

/// Log to stderr; `RUST_LOG` overrides the default level.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
