//! The subcommands of the `redlink` binary.

pub mod az;
pub mod bridge;
pub mod check;
pub mod ctl;
pub mod exec;
pub mod lab;
pub mod ls;
pub mod output;
pub mod probe;
pub mod serve;
pub mod serve_cluster;
pub mod serve_process;
pub mod timeline;
pub mod transfer;
pub mod up;
pub mod worlds;

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
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // No colour codes in files and pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// SIGTERM and SIGINT, registered once; [`Signals::wait`] returns at the first of them (a signal
/// delivered before `wait` is called is kept and returns at once).
pub struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    /// Register the handlers now.
    pub fn take() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Signals(Some((term, int))),
            _ => Signals(None),
        }
    }

    /// Wait for the first signal.
    pub async fn wait(mut self) {
        self.recv().await;
    }

    /// Wait for the next signal (`serve` keeps running when its shutdown save fails).
    pub async fn recv(&mut self) {
        let Some((term, int)) = self.0.as_mut() else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
