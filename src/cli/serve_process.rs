//! What redis-server does to its own process, done by `redlink serve` the same way so a stock
//! redis.conf (Debian's says `daemonize yes`, a `pidfile` and a `logfile`) behaves as users expect:
//! `logfile` receives the log (stdout and stderr), `daemonize yes` forks into the background (the
//! parent exits 0 at once), `pidfile` is written (`/var/run/redis.pid` when daemonized without
//! one) and removed at exit, `supervised systemd|upstart|auto` tells the supervisor when the server
//! is ready, `disable-thp yes` switches transparent huge pages off for the process, `oom-score-adj`
//! is applied, and `loglevel warning` silences the notices. docs/config.md lists them.

use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use redlink_engine::Config;

/// Redis's default pid file for a daemonized server without `pidfile`.
const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

/// The process-level settings in force.
pub struct Process {
    pidfile: Option<PathBuf>,
    notify_socket: Option<String>,
    upstart: bool,
    notices: bool,
}

impl Process {
    /// Apply the settings: fork when daemonizing, redirect output to `logfile`, write the pid file.
    /// Must run before any thread is started (fork keeps only the calling thread).
    pub fn start(config: &Config) -> Result<Process, String> {
        let get = |name: &str| config.get(name).unwrap_or("").to_string();
        if get("disable-thp") == "yes" {
            // Redis's THPDisable: transparent huge pages make fork-based snapshots and latency worse.
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        }
        let logfile = get("logfile");
        if !logfile.is_empty() {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&logfile)
                .map_err(|e| format!("Can't open the log file '{logfile}': {e}"))?;
            redirect_output(&file)?;
        }
        let daemonize = get("daemonize") == "yes";
        if daemonize {
            daemonize_now(logfile.is_empty())?;
        }
        let mut pidfile = match get("pidfile") {
            p if !p.is_empty() => Some(PathBuf::from(p)),
            _ if daemonize => Some(PathBuf::from(DEFAULT_PIDFILE)),
            _ => None,
        };
        if let Some(path) = &pidfile
            && let Err(e) = std::fs::write(path, format!("{}\n", std::process::id()))
        {
            // A warning in Redis too: the server runs on.
            eprintln!(
                "redlink serve: Failed to write PID file '{}': {e}",
                path.display()
            );
            pidfile = None;
        }
        if let Err(e) = redlink_engine::host::apply_oom_score_adj(config) {
            eprintln!("redlink serve: oom-score-adj: {e}");
        }
        let supervised = get("supervised");
        let notify_socket = std::env::var("NOTIFY_SOCKET").ok();
        let upstart = std::env::var_os("UPSTART_JOB").is_some();
        let (systemd, upstart) = match supervised.as_str() {
            "systemd" => (true, false),
            "upstart" => (false, true),
            "auto" => (!upstart && notify_socket.is_some(), upstart),
            _ => (false, false),
        };
        if systemd && notify_socket.is_none() {
            eprintln!(
                "redlink serve: supervised by systemd, but NOTIFY_SOCKET is not set: cannot notify"
            );
        }
        Ok(Process {
            pidfile,
            notify_socket: notify_socket.filter(|_| systemd),
            upstart,
            notices: get("loglevel") != "warning",
        })
    }

    /// Print a notice-level log line (not at `loglevel warning`).
    pub fn notice(&self, line: std::fmt::Arguments<'_>) {
        if self.notices {
            let _ = writeln!(std::io::stdout(), "{line}");
        }
    }

    /// The server accepts connections: tell the supervisor.
    pub fn ready(&self) {
        self.notify("STATUS=Ready to accept connections\nREADY=1\n");
        if self.upstart {
            // Upstart's `expect stop`: the job is ready when the process stops itself.
            // SAFETY: raising a signal at ourselves.
            unsafe { libc::raise(libc::SIGSTOP) };
        }
    }

    /// The server stopped: tell the supervisor, remove the pid file.
    pub fn stop(&self) {
        self.notify("STOPPING=1\n");
        if let Some(path) = &self.pidfile {
            let _ = std::fs::remove_file(path);
        }
    }

    fn notify(&self, message: &str) {
        let Some(path) = &self.notify_socket else {
            return;
        };
        let Ok(socket) = UnixDatagram::unbound() else {
            return;
        };
        // An abstract socket name starts with '@' (systemd's convention).
        let sent = if let Some(name) = path.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt as _;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|addr| socket.send_to_addr(message.as_bytes(), &addr))
        } else {
            socket.send_to(message.as_bytes(), path)
        };
        if let Err(e) = sent {
            eprintln!("redlink serve: cannot notify systemd at {path}: {e}");
        }
    }
}

/// Point stdout and stderr at `file`.
fn redirect_output(file: &std::fs::File) -> Result<(), String> {
    use std::os::fd::AsRawFd as _;
    for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: both descriptors are open; dup2 replaces `fd` atomically.
        if unsafe { libc::dup2(file.as_raw_fd(), fd) } < 0 {
            return Err(format!(
                "cannot redirect output to the log file: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Redis's `daemonize()`: fork, the parent exits 0, the child starts a new session; stdin (and
/// stdout/stderr without a log file) become /dev/null.
fn daemonize_now(null_output: bool) -> Result<(), String> {
    // SAFETY: called before any thread exists (serve's main, before the runtime).
    match unsafe { libc::fork() } {
        -1 => {
            return Err(format!(
                "cannot daemonize: {}",
                std::io::Error::last_os_error()
            ));
        }
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain system calls in the child.
    unsafe { libc::setsid() };
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))?;
    use std::os::fd::AsRawFd as _;
    // SAFETY: both descriptors are open.
    unsafe { libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO) };
    if null_output {
        redirect_output(&null)?;
    }
    Ok(())
}
