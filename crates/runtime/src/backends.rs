//! A cache's real Redis (issue 22, docs/backends.md): redlink either starts the backend's command
//! on a free loopback port (with the cache's `requirepass`/`maxclients` as options, stopped when the
//! world stops), or checks a server the user runs (it answers PING, AUTH with the world's password
//! works, `CONFIG GET maxclients` agrees), before the edge proxies routed connections to it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redlink_world::{Backend, Cache, Upstream};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::error::RuntimeError;

/// How long a started backend gets to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long one check of a backend may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A backend in use: its address and, when redlink started it, the process (killed on drop).
#[derive(Debug)]
pub struct RunningBackend {
    /// Where it listens.
    pub address: SocketAddr,
    child: Option<Child>,
}

impl Drop for RunningBackend {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn failure(cache: &Cache, message: String) -> RuntimeError {
    RuntimeError::Backend {
        cache: cache.name.clone(),
        message,
    }
}

/// The backend redlink starts for every cache with `--backend redis-server`.
pub fn redis_server_backend() -> Backend {
    Backend {
        upstream: Upstream::Command(vec!["redis-server".into(), "--save".into(), String::new()]),
        tls: false,
        password_env: None,
    }
}

/// Starts or checks `backend` for `cache`; `notes` gets what the user should know (a setting of
/// a user-run backend that disagrees with the world).
pub async fn start_backend(
    cache: &Cache,
    backend: &Backend,
    notes: &mut Vec<String>,
) -> Result<RunningBackend, RuntimeError> {
    if backend.tls {
        return Err(failure(
            cache,
            "tls = true: TLS on the hop to the backend is not supported yet (clients still get TLS at the endpoint)".into(),
        ));
    }
    let password = match &backend.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            failure(
                cache,
                format!("password_env: environment variable {var} is not set"),
            )
        })?),
        None => cache.requirepass.clone(),
    };
    match &backend.upstream {
        Upstream::Address(address) => {
            check_user_backend(cache, *address, password.as_deref(), notes).await?;
            Ok(RunningBackend {
                address: *address,
                child: None,
            })
        }
        Upstream::Command(argv) => start_command(cache, argv, password.as_deref()).await,
    }
}

async fn start_command(
    cache: &Cache,
    argv: &[String],
    password: Option<&str>,
) -> Result<RunningBackend, RuntimeError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(failure(cache, "command is empty".into()));
    };
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| failure(cache, format!("no free loopback port: {e}")))?
        .port();
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut cmd = Command::new(program);
    cmd.args(args)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = &cache.requirepass {
        cmd.args(["--requirepass", p]);
    }
    if let Some(n) = cache.maxclients {
        cmd.args(["--maxclients", &n.to_string()]);
    }
    // Should redlink die without stopping it, the backend goes too.
    // SAFETY: prctl is async-signal-safe and touches nothing of the parent's state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| failure(cache, format!("command {program:?} could not start: {e}")))?;
    let mut running = RunningBackend {
        address,
        child: Some(child),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(child) = &mut running.child
            && let Ok(Some(status)) = child.try_wait()
        {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            running.child = None;
            let err = err.trim();
            return Err(failure(
                cache,
                format!(
                    "command {program:?} exited at once ({status}){}",
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!(": {err}")
                    }
                ),
            ));
        }
        if ping(address, password).await.is_ok() {
            // Nothing reads the child's stderr from here on: let it inherit nothing more.
            if let Some(child) = &mut running.child {
                drop(child.stderr.take());
            }
            return Ok(running);
        }
        if Instant::now() > deadline {
            return Err(failure(
                cache,
                format!(
                    "command {program:?} did not answer PING on {address} within {START_TIMEOUT:?}"
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks a user-run backend: it answers, the world's password works, its `maxclients` agrees.
async fn check_user_backend(
    cache: &Cache,
    address: SocketAddr,
    password: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(), RuntimeError> {
    ping(address, password)
        .await
        .map_err(|e| failure(cache, format!("{address} unreachable: {e}")))?;
    if let Some(want) = cache.maxclients {
        match config_get(address, password, "maxclients").await {
            Ok(Some(got)) if got != want.to_string() => notes.push(format!(
                "cache {}: backend {address} has maxclients {got}, the world says {want}; the backend's limit applies",
                cache.name
            )),
            Ok(_) => {}
            Err(e) => notes.push(format!(
                "cache {}: backend {address}: could not check maxclients: {e}",
                cache.name
            )),
        }
    }
    if password.is_none()
        && let Ok(reply) = command(address, None, &["PING"]).await
        && reply.starts_with("-NOAUTH")
    {
        notes.push(format!(
            "cache {}: backend {address} requires a password but the world has none; clients must AUTH anyway",
            cache.name
        ));
    }
    Ok(())
}

/// Why the backend at `address` does not answer PING (with AUTH first when `password`).
pub async fn ping(address: SocketAddr, password: Option<&str>) -> Result<(), String> {
    let reply = command(address, password, &["PING"]).await?;
    if reply == "+PONG" {
        Ok(())
    } else {
        Err(format!("PING answered {reply}"))
    }
}

async fn config_get(
    address: SocketAddr,
    password: Option<&str>,
    name: &str,
) -> Result<Option<String>, String> {
    let reply = command(address, password, &["CONFIG", "GET", name]).await?;
    // "*2 $len name $len value", one element per line.
    let lines: Vec<&str> = reply.lines().collect();
    Ok(lines.get(4).map(|v| (*v).to_owned()))
}

/// Sends one command (after AUTH when `password`) and returns its reply: a simple line, or for an
/// array every line of it joined by newlines.
async fn command(
    address: SocketAddr,
    password: Option<&str>,
    args: &[&str],
) -> Result<String, String> {
    let run = async {
        let stream = redlink_edge::connect_backend(address)
            .await
            .map_err(|e| e.to_string())?;
        let mut stream = BufReader::new(stream);
        if let Some(p) = password {
            stream
                .get_mut()
                .write_all(&encode(&["AUTH", p]))
                .await
                .map_err(|e| e.to_string())?;
            let line = read_line(&mut stream).await?;
            if let Some(error) = line.strip_prefix('-') {
                return Err(format!("AUTH with the world's password failed: {error}"));
            }
        }
        stream
            .get_mut()
            .write_all(&encode(args))
            .await
            .map_err(|e| e.to_string())?;
        let first = read_line(&mut stream).await?;
        let mut out = first.clone();
        if let Some(n) = first
            .strip_prefix('*')
            .and_then(|n| n.parse::<usize>().ok())
        {
            for _ in 0..n.min(64) * 2 {
                out.push('\n');
                out.push_str(&read_line(&mut stream).await?);
            }
        }
        Ok(out)
    };
    tokio::time::timeout(CHECK_TIMEOUT, run)
        .await
        .map_err(|_| "no reply within 5 s".to_owned())?
}

async fn read_line(stream: &mut BufReader<tokio::net::TcpStream>) -> Result<String, String> {
    let mut line = String::new();
    let n = stream
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("connection closed".into());
    }
    Ok(line.trim_end().to_owned())
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}
