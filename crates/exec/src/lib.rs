//! Rootless Linux namespaces for `redlink exec`.
//!
//! `redlink exec` runs a whole simulated world on a loopback of its own and a child process whose
//! system resolver (glibc `getaddrinfo`, any client library) asks that world's DNS, with no way for
//! traffic or name lookups to leave the machine. The mechanics, in order:
//!
//! 1. [`enter_world_namespaces`]: `unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS)` while the
//!    process is still single-threaded (the kernel answers EINVAL to a multi-threaded process, so
//!    this runs before any tokio runtime exists), map the caller's uid/gid to root inside (writing
//!    `deny` to `/proc/self/setgroups` before `gid_map`), make every mount private and bring `lo`
//!    up (ioctl `SIOCSIFFLAGS`). Failures say what is missing and how to enable it: there is never
//!    a fallback to the host network.
//! 2. The caller starts the world inside (its resolvers can bind port 53: the process is root of
//!    its user namespace, which owns the network namespace).
//! 3. [`ResolverFiles::write`] generates `resolv.conf` (`nameserver ADDR`), `hosts` (localhost only)
//!    and `nsswitch.conf` (`hosts: files dns`) in a directory; [`MountPlan::prepare`] works out,
//!    before any fork, where they go: over `/etc/resolv.conf` (its symlink target when it is a
//!    link; a tmpfs over the target's directory when the target does not exist), `/etc/hosts`,
//!    `/etc/nsswitch.conf`, and `/dev/null` over an nscd socket if there is one (nscd would
//!    answer over a Unix socket, which a network namespace does not isolate).
//! 4. [`private_mounts`] makes a [`std::process::Command`] apply the plan in the forked child:
//!    `PR_SET_PDEATHSIG(SIGKILL)` (the child dies with the thread that forked it, see
//!    [`spawn_contained`]), `unshare(CLONE_NEWNS)`, `MS_REC | MS_PRIVATE` on `/`, the bind mounts,
//!    then exec. The child keeps stdin/stdout/stderr; [`exit_code`] turns its status into the
//!    caller's exit code.
//! 5. [`spawn_contained`] forks that child into a PID namespace of its own, from a thread that
//!    lives until the child exits: the child is `redlink __exec-init` ([`init`]), PID 1 there,
//!    which mounts a fresh `/proc` (the command sees its own processes only), a private tmpfs over
//!    `/tmp` and `/dev/shm` (no host Unix sockets or files there; the world's directory is bound
//!    back at its path), runs the command as PID 2, forwards SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 to it,
//!    reaps orphans and exits with its code. When redlink dies (even SIGKILL), the kernel kills
//!    PID 1 (its death signal) and with it everything in the namespace.
//!
//! A nested `redlink exec` (already inside, see [`EXEC_NETNS_ENV`] and [`net_namespace_id`]) only
//! does steps 3 and 4 with another network's resolver.
//!
//! Everything here is Linux-only; elsewhere [`enter_world_namespaces`] returns
//! [`NamespaceError::Unsupported`].

use std::ffi::CString;
use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

/// Environment variable a world's `exec` sets for its child: the inode of the network namespace
/// the world runs in. A nested `redlink exec` whose own network namespace has that inode joins the
/// world instead of starting a new one.
pub const EXEC_NETNS_ENV: &str = "REDLINK_EXEC_NETNS";

/// Why the namespaces could not be set up.
#[derive(Debug)]
pub enum NamespaceError {
    /// Not Linux.
    Unsupported,
    /// The process already runs several threads (a bug in the caller: unshare must come first).
    MultiThreaded(usize),
    /// `unshare` refused: unprivileged user namespaces are disabled or restricted.
    UserNamespacesDisabled {
        /// The error from `unshare`.
        source: io::Error,
        /// What the relevant sysctls say now.
        settings: Vec<(String, String)>,
    },
    /// A later step failed (`uid_map`, loopback, mounts).
    Step {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
}

impl fmt::Display for NamespaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamespaceError::Unsupported => write!(
                f,
                "redlink exec needs Linux (user, network and mount namespaces); on this system use \
                 `redlink up` and point clients at the resolvers and addresses it prints"
            ),
            NamespaceError::MultiThreaded(n) => write!(
                f,
                "cannot create namespaces: the process already runs {n} threads (unshare of a user \
                 namespace needs a single-threaded process)"
            ),
            NamespaceError::UserNamespacesDisabled { source, settings } => {
                write!(
                    f,
                    "cannot create a user namespace ({source}): unprivileged user namespaces are \
                     disabled or restricted on this machine, and redlink exec never falls back to \
                     the host network."
                )?;
                if !settings.is_empty() {
                    let now: Vec<String> =
                        settings.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    write!(f, " Now: {}.", now.join(", "))?;
                }
                write!(
                    f,
                    " To enable them: `sudo sysctl -w user.max_user_namespaces=15000`; on \
                     Debian/Ubuntu kernels also `sudo sysctl -w kernel.unprivileged_userns_clone=1`; \
                     on Ubuntu 23.10+ (AppArmor) `sudo sysctl -w \
                     kernel.apparmor_restrict_unprivileged_userns=0`. In a container, run it with \
                     a seccomp profile that allows unshare (e.g. `--security-opt seccomp=unconfined`)."
                )
            }
            NamespaceError::Step { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for NamespaceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NamespaceError::UserNamespacesDisabled { source, .. }
            | NamespaceError::Step { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn step(what: impl Into<String>) -> impl FnOnce(io::Error) -> NamespaceError {
    let what = what.into();
    move |source| NamespaceError::Step { what, source }
}

/// The sysctls that decide whether unprivileged user namespaces work, with their values (those
/// that exist on this kernel).
pub fn userns_settings() -> Vec<(String, String)> {
    [
        "user.max_user_namespaces",
        "kernel.unprivileged_userns_clone",
        "kernel.apparmor_restrict_unprivileged_userns",
    ]
    .iter()
    .filter_map(|name| {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        std::fs::read_to_string(path)
            .ok()
            .map(|v| ((*name).to_owned(), v.trim().to_owned()))
    })
    .collect()
}

/// How many threads this process runs (from `/proc/self/status`).
pub fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The inode of this process's network namespace (`/proc/self/ns/net`), which tells namespaces
/// apart.
pub fn net_namespace_id() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.ino())
}

/// Enters a new user + network + mount namespace with the caller's uid and gid mapped to root,
/// every mount private, and `lo` up. Call it while the process is single-threaded.
#[cfg(target_os = "linux")]
pub fn enter_world_namespaces() -> Result<(), NamespaceError> {
    if let Some(n) = thread_count().filter(|n| *n > 1) {
        return Err(NamespaceError::MultiThreaded(n));
    }
    // SAFETY: getuid/getgid have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare takes flags only; the process is single-threaded (checked above).
    let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWNS) };
    if rc != 0 {
        let source = io::Error::last_os_error();
        return Err(match source.raw_os_error() {
            Some(libc::EPERM | libc::EINVAL | libc::ENOSPC | libc::EACCES | libc::ENOSYS) => {
                NamespaceError::UserNamespacesDisabled {
                    source,
                    settings: userns_settings(),
                }
            }
            _ => NamespaceError::Step {
                what: "unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS)".to_owned(),
                source,
            },
        });
    }
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1\n"))
        .map_err(step(format!("writing /proc/self/uid_map (0 {uid} 1)")))?;
    std::fs::write("/proc/self/setgroups", "deny\n")
        .map_err(step("writing deny to /proc/self/setgroups"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1\n"))
        .map_err(step(format!("writing /proc/self/gid_map (0 {gid} 1)")))?;
    make_mounts_private().map_err(step("making mounts private (MS_REC | MS_PRIVATE on /)"))?;
    loopback_up().map_err(step("bringing lo up (SIOCSIFFLAGS)"))?;
    Ok(())
}

/// Not Linux: no namespaces.
#[cfg(not(target_os = "linux"))]
pub fn enter_world_namespaces() -> Result<(), NamespaceError> {
    Err(NamespaceError::Unsupported)
}

/// `mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)`: nothing mounted here propagates out.
/// Async-signal-safe (no allocation).
#[cfg(target_os = "linux")]
fn make_mounts_private() -> io::Result<()> {
    // SAFETY: static NUL-terminated strings and null pointers, as mount(2) allows for a
    // propagation change.
    let rc = unsafe {
        libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `struct ifreq` with the flags member of its union (40 bytes on 64-bit Linux).
#[cfg(target_os = "linux")]
#[repr(C)]
struct IfreqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 24 - std::mem::size_of::<libc::c_short>()],
}

/// Brings the loopback interface of the current network namespace up (`SIOCGIFFLAGS`, then
/// `SIOCSIFFLAGS` with `IFF_UP | IFF_RUNNING`).
#[cfg(target_os = "linux")]
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: socket() with constant arguments; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let mut req = IfreqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _pad: [0; 22],
    };
    for (dst, src) in req.name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: req is a valid, writable ifreq-sized buffer for SIOCGIFFLAGS.
    if unsafe { libc::ioctl(raw, libc::SIOCGIFFLAGS as _, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: req is a valid ifreq-sized buffer naming "lo" with the new flags.
    if unsafe { libc::ioctl(raw, libc::SIOCSIFFLAGS as _, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Not Linux.
#[cfg(not(target_os = "linux"))]
pub fn loopback_up() -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The generated resolver configuration of a child, in a directory of its own.
#[derive(Clone, Debug)]
pub struct ResolverFiles {
    /// `nameserver ADDR`.
    pub resolv_conf: PathBuf,
    /// `127.0.0.1 localhost` and `::1 localhost` only.
    pub hosts: PathBuf,
    /// `hosts: files dns` (no nscd, no systemd-resolved, no mDNS).
    pub nsswitch_conf: PathBuf,
}

/// Creates `path`, which must not exist (never follows or reuses a planted file or link), mode
/// 0644, with `text`.
fn write_new(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
}

impl ResolverFiles {
    /// Writes the three files into `dir` (created 0700 if missing; its parent should be a private
    /// directory): each file is created new, so nothing planted there is written through.
    pub fn write(dir: &Path, nameserver: Ipv4Addr) -> io::Result<ResolverFiles> {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => {
                return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display())));
            }
        }
        let files = ResolverFiles {
            resolv_conf: dir.join("resolv.conf"),
            hosts: dir.join("hosts"),
            nsswitch_conf: dir.join("nsswitch.conf"),
        };
        write_new(
            &files.resolv_conf,
            &format!(
                "# generated by redlink exec: the simulated network's resolver\nnameserver {nameserver}\n"
            ),
        )?;
        write_new(
            &files.hosts,
            "# generated by redlink exec\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        )?;
        write_new(
            &files.nsswitch_conf,
            "# generated by redlink exec\npasswd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n",
        )?;
        Ok(files)
    }
}

/// One step of a [`MountPlan`], with its strings ready for the child (no allocation after fork).
#[derive(Debug)]
enum MountStep {
    /// A tmpfs over a directory.
    Tmpfs(CString),
    /// Create an empty file (a mount point inside a fresh tmpfs).
    Create(CString),
    /// Bind-mount source over target.
    Bind(CString, CString),
}

/// Where the generated files go, worked out before the fork; see [`private_mounts`].
#[derive(Debug)]
pub struct MountPlan {
    steps: Vec<MountStep>,
    /// Human-readable notes (what was replaced where).
    pub notes: Vec<String>,
}

fn cstring(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))
}

/// Follows `path`'s symbolic links as far as they go (the last target may not exist).
fn follow_links(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&current) {
            Ok(target) => {
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Err(_) => break,
        }
    }
    current
}

impl MountPlan {
    /// Plans bind mounts of `files` over `/etc/resolv.conf` (over its symlink target when it is a
    /// link; when that target does not exist, a tmpfs over the target's directory and a file
    /// created in it), `/etc/hosts` and `/etc/nsswitch.conf` (each only when present: without
    /// nsswitch.conf glibc asks DNS anyway), and `/dev/null` over an nscd socket. Errors when
    /// resolv.conf has no place to go.
    pub fn prepare(files: &ResolverFiles) -> io::Result<MountPlan> {
        let mut plan = MountPlan {
            steps: Vec::new(),
            notes: Vec::new(),
        };
        let resolv = Path::new("/etc/resolv.conf");
        let target = follow_links(resolv);
        if target.exists() {
            plan.bind(&files.resolv_conf, &target)?;
        } else if let Some(dir) = target
            .parent()
            .filter(|d| d.is_dir() && *d != Path::new("/"))
        {
            plan.steps.push(MountStep::Tmpfs(cstring(dir)?));
            plan.steps.push(MountStep::Create(cstring(&target)?));
            plan.bind(&files.resolv_conf, &target)?;
            plan.notes.push(format!(
                "{} is a dangling link to {}: a tmpfs over {} holds the generated one",
                resolv.display(),
                target.display(),
                dir.display()
            ));
        } else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no place for the generated resolv.conf: {} (-> {}) does not exist and neither does its directory",
                    resolv.display(),
                    target.display()
                ),
            ));
        }
        for (source, name) in [
            (&files.hosts, "/etc/hosts"),
            (&files.nsswitch_conf, "/etc/nsswitch.conf"),
        ] {
            let target = follow_links(Path::new(name));
            if target.exists() {
                plan.bind(source, &target)?;
            } else {
                plan.notes
                    .push(format!("{name} does not exist: left alone"));
            }
        }
        for socket in ["/run/nscd/socket", "/var/run/nscd/socket"] {
            let target = follow_links(Path::new(socket));
            if target.exists() && !plan.targets(&target) {
                plan.bind(Path::new("/dev/null"), &target)?;
            }
        }
        Ok(plan)
    }

    fn bind(&mut self, source: &Path, target: &Path) -> io::Result<()> {
        self.steps
            .push(MountStep::Bind(cstring(source)?, cstring(target)?));
        Ok(())
    }

    fn targets(&self, target: &Path) -> bool {
        let Ok(t) = cstring(target) else {
            return false;
        };
        self.steps
            .iter()
            .any(|s| matches!(s, MountStep::Bind(_, dst) if *dst == t))
    }

    /// The targets bind-mounted over, in order.
    pub fn bind_targets(&self) -> Vec<PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        self.steps
            .iter()
            .filter_map(|s| match s {
                MountStep::Bind(_, dst) => {
                    Some(PathBuf::from(std::ffi::OsStr::from_bytes(dst.as_bytes())))
                }
                _ => None,
            })
            .collect()
    }

    /// In the forked child: a new mount namespace, private mounts, then each step. Only system
    /// calls, no allocation: safe between fork and exec in a multi-threaded parent.
    #[cfg(target_os = "linux")]
    fn apply_in_child(&self, parent: libc::pid_t) -> io::Result<()> {
        // Die with the thread that forked us (SIGKILL), and do not start at all if it is gone
        // already (the first process of a new PID namespace sees no parent: getppid() is 0).
        // SAFETY: prctl/getppid take plain integers.
        unsafe {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let now = libc::getppid();
            if now != 0 && now != parent {
                libc::_exit(FAILED_IN_CHILD);
            }
        }
        // SAFETY: unshare takes flags only; a new mount namespace has no thread requirement.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(io::Error::last_os_error());
        }
        make_mounts_private()?;
        for s in &self.steps {
            let rc = match s {
                // SAFETY: NUL-terminated strings owned by the plan, alive for the call.
                MountStep::Tmpfs(dir) => unsafe {
                    libc::mount(
                        c"tmpfs".as_ptr(),
                        dir.as_ptr(),
                        c"tmpfs".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        c"mode=755".as_ptr().cast(),
                    )
                },
                MountStep::Create(path) => {
                    // SAFETY: a NUL-terminated path owned by the plan; the descriptor is closed.
                    let fd = unsafe {
                        libc::open(
                            path.as_ptr(),
                            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                            0o644,
                        )
                    };
                    if fd >= 0 {
                        // SAFETY: fd was just opened here.
                        unsafe { libc::close(fd) };
                        0
                    } else {
                        -1
                    }
                }
                // SAFETY: NUL-terminated strings owned by the plan; a bind mount ignores the type
                // and data arguments.
                MountStep::Bind(src, dst) => unsafe {
                    libc::mount(
                        src.as_ptr(),
                        dst.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    )
                },
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// Makes `command` run in a mount namespace of its own where `plan` is applied (the generated
/// resolver files replace the system's), between fork and exec. Linux only: elsewhere the command
/// fails to spawn with [`io::ErrorKind::Unsupported`].
pub fn private_mounts(command: &mut std::process::Command, plan: std::sync::Arc<MountPlan>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid has no preconditions.
    #[cfg(target_os = "linux")]
    let parent = unsafe { libc::getpid() };
    #[cfg(target_os = "linux")]
    let hook = move || plan.apply_in_child(parent);
    #[cfg(not(target_os = "linux"))]
    let hook = move || {
        let _ = &plan;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    };
    // SAFETY: the hook runs between fork and exec and only makes system calls (prctl, getppid,
    // unshare, mount, open, close, _exit) on strings prepared before the fork: no allocation, no
    // locks.
    unsafe {
        command.pre_exec(hook);
    }
}

/// Exit code of a child that found its parent gone before it could start.
const FAILED_IN_CHILD: i32 = 125;

/// A child started by [`spawn_contained`].
pub struct ContainedChild {
    /// Its pid (PID 1 of its namespace, seen from outside).
    pub pid: u32,
    /// The thread that forked it and waits for it; joins with its exit status.
    pub waiter: std::thread::JoinHandle<io::Result<ExitStatus>>,
}

/// Spawns `command` from a thread of its own that waits for it (a child's `PR_SET_PDEATHSIG`
/// follows the thread that forked it, so that thread must live as long as the child), in a new PID
/// namespace when `new_pid_namespace` (that thread alone calls `unshare(CLONE_NEWPID)`: only its
/// children enter the namespace). With a PID namespace, `command` should be `redlink
/// __exec-init` ([`init::main`]): the first process is the namespace's init.
pub fn spawn_contained(
    mut command: std::process::Command,
    new_pid_namespace: bool,
) -> io::Result<ContainedChild> {
    let (tx, rx) = std::sync::mpsc::channel::<io::Result<u32>>();
    let waiter = std::thread::Builder::new()
        .name("redlink-exec-child".into())
        .spawn(move || {
            #[cfg(target_os = "linux")]
            // SAFETY: unshare takes flags only; CLONE_NEWPID changes the namespace of this
            // thread's future children.
            if new_pid_namespace && unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
                let e = io::Error::last_os_error();
                let _ = tx.send(Err(io::Error::new(
                    e.kind(),
                    format!("unshare(CLONE_NEWPID): {e}"),
                )));
                return Err(e);
            }
            #[cfg(not(target_os = "linux"))]
            let _ = new_pid_namespace;
            match command.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id()));
                    child.wait()
                }
                Err(e) => {
                    let kind = e.kind();
                    let _ = tx.send(Err(e));
                    Err(io::Error::from(kind))
                }
            }
        })?;
    match rx.recv() {
        Ok(Ok(pid)) => Ok(ContainedChild { pid, waiter }),
        Ok(Err(e)) => {
            let _ = waiter.join();
            Err(e)
        }
        Err(_) => Err(io::Error::other("the thread starting the command ended")),
    }
}

pub mod host;
pub mod init;

/// The inode of this process's PID namespace (`/proc/self/ns/pid`).
pub fn pid_namespace_id() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
}

/// The name prefix of an exec's private directory: `redlink-exec-PIDNS-PID` (the PID namespace
/// tells whether a PID can be checked from here).
pub fn dir_prefix() -> String {
    format!(
        "redlink-exec-{}-{}",
        pid_namespace_id().unwrap_or(0),
        std::process::id()
    )
}

/// Removes the directories execs that are gone left in `parent` (SIGKILLed before they could clean
/// up): directories (not links) of this user named `redlink-exec-PIDNS-PID-…` made in this PID
/// namespace whose PID no longer runs. (Inside an exec, the outer world's directory shows under
/// /tmp with a PID from another namespace: it is left alone.)
pub fn remove_stale_dirs(parent: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(mut parts) = name
            .to_str()
            .and_then(|n| n.strip_prefix("redlink-exec-"))
            .map(|n| n.split('-'))
        else {
            continue;
        };
        let ns = parts.next().and_then(|n| n.parse::<u64>().ok());
        let pid = parts.next().and_then(|p| p.parse::<libc::pid_t>().ok());
        let (Some(ns), Some(pid)) = (ns, pid) else {
            continue;
        };
        if Some(ns) != pid_namespace_id() || pid <= 0 {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if meta.is_dir() && meta.uid() == me && !process_exists(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` exists (signal 0: EPERM means it does, as another user's).
pub fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only checks the process.
    let reached = unsafe { libc::kill(pid, 0) } == 0;
    reached || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Sends SIGTERM to process `pid` (a child being waited for), ignoring errors (it may be gone).
pub fn terminate(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill takes plain integers; a stale pid is at worst ESRCH.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// The exit code a wrapper reports for the child's `status`: its own code, or 128 + the signal
/// that killed it (as shells do).
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(sig)) => u8::try_from((128 + sig) & 0xff).unwrap_or(1),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_say_what_they_must() {
        let dir = std::env::temp_dir().join(format!("redlink-exec-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = ResolverFiles::write(&dir, Ipv4Addr::new(127, 53, 0, 1)).expect("writes");
        let resolv = std::fs::read_to_string(&files.resolv_conf).expect("resolv.conf");
        assert!(resolv.contains("nameserver 127.53.0.1\n"));
        let ns = std::fs::read_to_string(&files.nsswitch_conf).expect("nsswitch.conf");
        assert!(ns.contains("hosts: files dns\n"));
        let hosts = std::fs::read_to_string(&files.hosts).expect("hosts");
        assert!(hosts.contains("localhost") && !hosts.contains("redis"));
        let plan = MountPlan::prepare(&files).expect("a plan");
        assert!(!plan.bind_targets().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_planted_link_among_the_files_is_never_written_through() {
        let dir = std::env::temp_dir().join(format!("redlink-exec-plant-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        std::os::unix::fs::symlink(&victim, dir.join("hosts")).expect("planted hosts link");
        let e = ResolverFiles::write(&dir, Ipv4Addr::new(127, 53, 0, 1)).expect_err("refused");
        assert!(e.to_string().contains("hosts"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            "precious"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn links_are_followed_to_their_last_target() {
        let dir = std::env::temp_dir().join(format!("redlink-exec-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::os::unix::fs::symlink("b", dir.join("a")).expect("a -> b");
        std::os::unix::fs::symlink("sub/c", dir.join("b")).expect("b -> sub/c");
        assert_eq!(follow_links(&dir.join("a")), dir.join("sub/c"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn exit_codes_pass_through() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }

    #[test]
    fn disabled_namespaces_say_how_to_enable_them() {
        let e = NamespaceError::UserNamespacesDisabled {
            source: io::Error::from_raw_os_error(libc::EPERM),
            settings: vec![("user.max_user_namespaces".into(), "0".into())],
        };
        let text = e.to_string();
        assert!(text.contains("user.max_user_namespaces = 0"), "{text}");
        assert!(text.contains("sysctl -w"), "{text}");
        assert!(text.contains("never falls back"), "{text}");
    }
}
