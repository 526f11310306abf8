//! A cache's real Redis (issue 22, docs/backends.md): redlink either starts the backend's command
//! on a free loopback port (with the cache's `requirepass`/`maxclients` as options, stopped when the
//! world stops), or checks a server the user runs (it answers PING, AUTH with the world's password
//! works, `CONFIG GET maxclients` agrees), before the edge proxies routed connections to it. A
//! Redis Cluster the user runs is discovered and followed by `backend_cluster`. A started backend
//! without TLS also listens on a Unix socket in a directory only this user can enter: the edge
//! proxies over it (no TCP/IP on the hop), the TCP port stays for health checks and users.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redlink_edge::{UpstreamTls, connect_to};
use redlink_world::{Backend, Cache, Upstream};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

use crate::backend_cluster::FollowedCluster;
use crate::error::RuntimeError;

/// How long a started backend gets to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long one check of a backend may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A backend in use: its address and, when redlink started it, the process (killed on drop).
#[derive(Debug)]
pub struct RunningBackend {
    /// The cache it serves.
    pub cache: String,
    /// Where it listens.
    pub address: SocketAddr,
    /// TLS to it, when the world says `tls = true`.
    pub tls: Option<UpstreamTls>,
    /// A cluster backend's nodes (`address` is then the node the cache's own ports lead to).
    pub cluster: Option<FollowedCluster>,
    /// The proxy's hop when it is a Unix socket: a started backend's private one (no TLS), or
    /// the one a user-run backend names.
    pub socket: Option<PathBuf>,
    child: Option<Child>,
    /// The directory holding `socket`, removed after the backend stopped.
    socket_dir: Option<SocketDir>,
}

/// A directory only this user may enter (mode 0700), holding a started backend's Unix socket
/// (redis-server creates it with `--unixsocketperm 700` too); removed when dropped.
#[derive(Debug)]
struct SocketDir(PathBuf);

impl SocketDir {
    /// The longest socket path `sockaddr_un` holds (108 bytes with the terminating NUL).
    const MAX_PATH: usize = 107;

    /// A new directory under the system's temporary directory, or why there is none (it cannot
    /// be made, or its socket path would be too long): the hop is then TCP.
    fn create() -> Result<SocketDir, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir();
        for _ in 0..100 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("redlink-backend-{}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let made = SocketDir(dir);
                    let socket = made.socket();
                    if socket.as_os_str().len() > Self::MAX_PATH {
                        return Err(format!(
                            "{} is longer than a Unix socket path may be",
                            socket.display()
                        ));
                    }
                    return Ok(made);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            }
        }
        Err(format!("no free name for it in {}", base.display()))
    }

    fn socket(&self) -> PathBuf {
        self.0.join("redis.sock")
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How long a health check waits for the backend's reply.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

impl RunningBackend {
    /// Whether the backend answers: it accepts a connection and replies to PING (any reply,
    /// `-NOAUTH` included: it is up). The error reads "ADDRESS unreachable: WHY".
    pub async fn health(&self) -> Result<(), String> {
        let address = self.address;
        let check = async {
            let mut stream = connect_to(address, self.tls.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            stream
                .write_all(b"PING\r\n")
                .await
                .map_err(|e| e.to_string())?;
            let mut reply = [0u8; 1];
            match tokio::io::AsyncReadExt::read(&mut stream, &mut reply).await {
                Ok(0) => Err("the connection closed without a reply".to_owned()),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        };
        tokio::time::timeout(HEALTH_TIMEOUT, check)
            .await
            .unwrap_or_else(|_| Err(format!("no reply within {HEALTH_TIMEOUT:?}")))
            .map_err(|e| format!("{address} unreachable: {e}"))
    }
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
        ca_file: None,
        server_name: None,
        password_env: None,
        socket: None,
    }
}

/// Starts or checks `backend` for `cache`; `notes` gets what the user should know (a setting of
/// a user-run backend that disagrees with the world).
pub async fn start_backend(
    cache: &Cache,
    backend: &Backend,
    base_dir: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<RunningBackend, RuntimeError> {
    let password = match &backend.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            failure(
                cache,
                format!("password_env: environment variable {var} is not set"),
            )
        })?),
        None => cache.requirepass.clone(),
    };
    let address = match &backend.upstream {
        Upstream::Address(address) => Some(*address),
        Upstream::Cluster(seeds) => seeds.first().copied(),
        Upstream::Command(_) => None,
    };
    let tls = if backend.tls {
        Some(upstream_tls(cache, backend, address, base_dir)?)
    } else {
        None
    };
    match &backend.upstream {
        Upstream::Address(address) => {
            let mut running = RunningBackend {
                cache: cache.name.clone(),
                address: *address,
                tls,
                cluster: None,
                socket: None,
                child: None,
                socket_dir: None,
            };
            check_user_backend(cache, &running, password.as_deref(), notes).await?;
            if let Some(socket) = &backend.socket {
                let path = match base_dir {
                    Some(dir) if Path::new(socket).is_relative() => dir.join(socket),
                    _ => PathBuf::from(socket),
                };
                check_user_socket(cache, &running, &path, password.as_deref(), notes).await?;
                running.socket = Some(path);
            }
            Ok(running)
        }
        Upstream::Cluster(seeds) => {
            let cluster = FollowedCluster::start(
                seeds.clone(),
                tls.clone(),
                password.clone(),
                cache.port_scheme().max_nodes(),
            )
            .await
            .map_err(|e| failure(cache, e.to_string()))?;
            let running = RunningBackend {
                cache: cache.name.clone(),
                address: cluster.main_address(),
                tls,
                cluster: Some(cluster),
                socket: None,
                child: None,
                socket_dir: None,
            };
            // The world's password and users are checked on the node the cache's ports lead to.
            check_user_backend(cache, &running, password.as_deref(), notes).await?;
            Ok(running)
        }
        Upstream::Command(argv) => {
            start_command(cache, argv, tls, password.as_deref(), notes).await
        }
    }
}

/// The TLS client side of the hop to `backend`: the roots of its `ca_file` (relative to
/// `base_dir`, the scenario's directory) or the system's, verifying `server_name` or the address.
fn upstream_tls(
    cache: &Cache,
    backend: &Backend,
    address: Option<SocketAddr>,
    base_dir: Option<&Path>,
) -> Result<UpstreamTls, RuntimeError> {
    let mut roots = rustls::RootCertStore::empty();
    match &backend.ca_file {
        Some(file) => {
            let path = match base_dir {
                Some(dir) if Path::new(file).is_relative() => dir.join(file),
                _ => PathBuf::from(file),
            };
            let pem = std::fs::read(&path)
                .map_err(|e| failure(cache, format!("ca_file {}: {e}", path.display())))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|e| failure(cache, format!("ca_file {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| failure(cache, format!("ca_file {}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(failure(
                    cache,
                    format!("ca_file {}: no PEM certificate in it", path.display()),
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(failure(
                    cache,
                    "tls = true without ca_file: the system has no root certificates; name the backend's CA with ca_file".into(),
                ));
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| failure(cache, format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = match (&backend.server_name, address) {
        (Some(name), _) => name.clone(),
        (None, Some(address)) => address.ip().to_string(),
        (None, None) => Ipv4Addr::LOCALHOST.to_string(),
    };
    let server_name = redlink_client::net::server_name(&name)
        .map_err(|e| failure(cache, format!("server_name {name:?}: {e}")))?;
    Ok(UpstreamTls {
        config: Arc::new(config),
        server_name,
    })
}

async fn start_command(
    cache: &Cache,
    argv: &[String],
    tls: Option<UpstreamTls>,
    password: Option<&str>,
    notes: &mut Vec<String>,
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
    let port_option = if tls.is_some() {
        // TLS only: the command carries the certificate options (docs/backends.md).
        ["--port", "0", "--tls-port"]
    } else {
        ["--port", "", ""]
    };
    cmd.args(args)
        .args(port_option.iter().filter(|a| !a.is_empty()))
        .args([port.to_string().as_str(), "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The proxy's hop: a Unix socket, unless the hop must be TLS (redis-server's socket is plain).
    let socket_dir = if tls.is_none() {
        SocketDir::create()
            .map_err(|why| {
                notes.push(format!(
                    "cache {}: no private directory for the backend's Unix socket ({why}); the endpoints proxy to it over TCP",
                    cache.name
                ));
            })
            .ok()
    } else {
        None
    };
    if let Some(dir) = &socket_dir {
        cmd.arg("--unixsocket")
            .arg(dir.socket())
            .args(["--unixsocketperm", "700"]);
    }
    if let Some(p) = &cache.requirepass {
        cmd.args(["--requirepass", p]);
    }
    if let Some(n) = cache.maxclients {
        cmd.args(["--maxclients", &n.to_string()]);
    }
    for user in &cache.users {
        // One `user` configuration line, as redis.conf has it (redis-server splits it at spaces).
        if user
            .password
            .as_deref()
            .is_some_and(|p| p.contains(char::is_whitespace))
        {
            return Err(failure(
                cache,
                format!(
                    "user {}: a password with spaces cannot be passed to a started backend as a `--user` line",
                    user.name
                ),
            ));
        }
        cmd.arg("--user")
            .arg(&user.name)
            .args(user.engine_rules().split_whitespace());
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
        cache: cache.name.clone(),
        address,
        tls,
        cluster: None,
        socket: None,
        child: Some(child),
        socket_dir,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(child) = &mut running.child
            && let Ok(Some(status)) = child.try_wait()
        {
            // redis-server logs to stdout: its last lines say why it stopped.
            let mut said = String::new();
            for out in [
                child
                    .stdout
                    .take()
                    .map(|o| Box::new(o) as Box<dyn std::io::Read>),
                child
                    .stderr
                    .take()
                    .map(|e| Box::new(e) as Box<dyn std::io::Read>),
            ]
            .into_iter()
            .flatten()
            {
                let mut text = String::new();
                let _ = { out }.read_to_string(&mut text);
                said.push_str(&text);
            }
            running.child = None;
            let lines: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
            let last = lines[lines.len().saturating_sub(3)..].join(" | ");
            return Err(failure(
                cache,
                format!(
                    "command {program:?} exited at once ({status}){}",
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!(": {last}")
                    }
                ),
            ));
        }
        if ping(&running, password).await.is_ok() {
            // From here on its output is read and discarded (a full pipe would stall it).
            if let Some(child) = &mut running.child {
                for out in [
                    child
                        .stdout
                        .take()
                        .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
                    child
                        .stderr
                        .take()
                        .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
                ]
                .into_iter()
                .flatten()
                {
                    let _ = std::thread::Builder::new()
                        .name("redlink-backend-output".into())
                        .spawn(move || std::io::copy(&mut { out }, &mut std::io::sink()));
                }
            }
            if let Some(dir) = &running.socket_dir {
                let socket = dir.socket();
                // Listening since before it answered on TCP (redis-server opens both first).
                match tokio::net::UnixStream::connect(&socket).await {
                    Ok(_) => running.socket = Some(socket),
                    Err(e) => notes.push(format!(
                        "cache {}: backend {address} did not open its Unix socket {} ({e}); the endpoints proxy to it over TCP",
                        cache.name,
                        socket.display()
                    )),
                }
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

/// Checks a user-run backend: it answers, the world's password works, every `[[cache.user]]` with
/// a password can AUTH (one without exists, `ACL GETUSER`), its `maxclients` agrees.
async fn check_user_backend(
    cache: &Cache,
    backend: &RunningBackend,
    password: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(), RuntimeError> {
    let address = backend.address;
    ping(backend, password)
        .await
        .map_err(|e| failure(cache, format!("{address} unreachable: {e}")))?;
    for user in &cache.users {
        let disagreement = match &user.password {
            Some(pass) => match command(backend, None, &["AUTH", &user.name, pass]).await {
                Ok(reply) if reply == "+OK" => None,
                Ok(reply) => Some(format!(
                    "AUTH {} with the world's password answered {reply}",
                    user.name
                )),
                Err(e) => Some(format!("AUTH {} failed: {e}", user.name)),
            },
            None => match command(backend, password, &["ACL", "GETUSER", &user.name]).await {
                Ok(reply) if reply.starts_with('*') => None,
                Ok(reply) if reply.starts_with("$-1") || reply.starts_with("_") => {
                    Some(format!("it has no user {}", user.name))
                }
                Ok(reply) => Some(format!("ACL GETUSER {} answered {reply}", user.name)),
                Err(e) => Some(format!("ACL GETUSER {} failed: {e}", user.name)),
            },
        };
        if let Some(d) = disagreement {
            return Err(failure(
                cache,
                format!(
                    "{address} disagrees with the world's [[cache.user]] {}: {d}; create the user on the backend (ACL SETUSER {} {}) or change the world",
                    user.name,
                    user.name,
                    user.engine_rules()
                ),
            ));
        }
    }
    if let Some(want) = cache.maxclients {
        match config_get(backend, password, "maxclients").await {
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
        && let Ok(reply) = command(backend, None, &["PING"]).await
        && reply.starts_with("-NOAUTH")
    {
        notes.push(format!(
            "cache {}: backend {address} requires a password but the world has none; clients must AUTH anyway",
            cache.name
        ));
    }
    Ok(())
}

/// Checks the Unix socket a user-run backend names: it answers PING (after AUTH with the world's
/// password), and the server at the backend's address says it listens there (`CONFIG GET
/// unixsocket`; a server that does not tell gets a note).
async fn check_user_socket(
    cache: &Cache,
    backend: &RunningBackend,
    path: &Path,
    password: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(), RuntimeError> {
    let address = backend.address;
    let shown = path.display();
    if path.as_os_str().len() > SocketDir::MAX_PATH {
        return Err(failure(
            cache,
            format!(
                "socket {shown}: longer than the {} bytes a Unix socket path may have",
                SocketDir::MAX_PATH
            ),
        ));
    }
    let ping = async {
        let stream = tokio::net::UnixStream::connect(path)
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
            .write_all(&encode(&["PING"]))
            .await
            .map_err(|e| e.to_string())?;
        match read_line(&mut stream).await? {
            // It answers; a password the world lacks gets the same note as on TCP.
            reply if reply == "+PONG" || reply.starts_with("-NOAUTH") => Ok(()),
            reply => Err(format!("PING answered {reply}")),
        }
    };
    tokio::time::timeout(CHECK_TIMEOUT, ping)
        .await
        .map_err(|_| "no reply within 5 s".to_owned())
        .and_then(|r| r)
        .map_err(|e| failure(cache, format!("socket {shown} unreachable: {e}")))?;
    // "*2 $10 unixsocket $N path", one element per line; an empty path ends the reply early.
    let told = command(backend, password, &["CONFIG", "GET", "unixsocket"])
        .await
        .and_then(|reply| match reply.lines().collect::<Vec<_>>().as_slice() {
            ["*2", _, _, _, path, ..] => Ok(Some((*path).to_owned())),
            ["*2", ..] => Ok(Some(String::new())),
            ["*0"] => Ok(None),
            _ => Err(format!("CONFIG GET unixsocket answered {reply}")),
        });
    match told {
        Ok(Some(theirs)) if theirs.is_empty() => {
            return Err(failure(
                cache,
                format!(
                    "socket {shown} is not {address}'s: that server listens on no Unix socket; name its socket or leave socket out"
                ),
            ));
        }
        Ok(Some(theirs)) => {
            let same = match (std::fs::canonicalize(&theirs), std::fs::canonicalize(path)) {
                (Ok(a), Ok(b)) => a == b,
                _ => Path::new(&theirs) == path,
            };
            if !same {
                return Err(failure(
                    cache,
                    format!(
                        "socket {shown} is not {address}'s: that server listens on {theirs:?}; name its socket or leave socket out"
                    ),
                ));
            }
        }
        Ok(None) => notes.push(format!(
            "cache {}: backend {address} did not say which Unix socket it listens on; {shown} is taken to be its own",
            cache.name
        )),
        Err(e) => notes.push(format!(
            "cache {}: backend {address}: could not check that {shown} is its socket: {e}",
            cache.name
        )),
    }
    Ok(())
}

/// Why `backend` does not answer PING (with AUTH first when `password`).
pub async fn ping(backend: &RunningBackend, password: Option<&str>) -> Result<(), String> {
    let reply = command(backend, password, &["PING"]).await?;
    if reply == "+PONG" {
        Ok(())
    } else {
        Err(format!("PING answered {reply}"))
    }
}

async fn config_get(
    backend: &RunningBackend,
    password: Option<&str>,
    name: &str,
) -> Result<Option<String>, String> {
    let reply = command(backend, password, &["CONFIG", "GET", name]).await?;
    // "*2 $len name $len value", one element per line.
    let lines: Vec<&str> = reply.lines().collect();
    Ok(lines.get(4).map(|v| (*v).to_owned()))
}

/// Sends one command (after AUTH when `password`) and returns its reply: a simple line, or for an
/// array every line of it joined by newlines.
pub(crate) async fn command(
    backend: &RunningBackend,
    password: Option<&str>,
    args: &[&str],
) -> Result<String, String> {
    let run = async {
        let stream = connect_to(backend.address, backend.tls.as_ref())
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

async fn read_line<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> Result<String, String> {
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
