//! `redlink __exec-init [--keep DIR]... -- COMMAND...`: the first process (PID 1) of `redlink
//! exec`'s PID namespace, so the command sees only its own processes and nothing it starts outlives
//! the exec.
//!
//! It mounts a fresh `/proc` (the namespace's processes only), a private tmpfs over `/tmp` and
//! `/dev/shm` (the host's files and Unix sockets there are out of reach; each `--keep DIR` under
//! them, such as the world's state directory, is bound back at the same path), then runs COMMAND
//! as PID 2 with `PR_SET_PDEATHSIG(SIGKILL)`. As init it forwards SIGTERM, SIGHUP, SIGUSR1 and
//! SIGUSR2 to the command (SIGINT and SIGQUIT come from the terminal to the whole process group),
//! reaps orphans, and exits with the command's code (128 + signal when killed), 127/126 when it
//! cannot be run. When it exits, or is killed because redlink died, the kernel kills everything
//! left in the namespace. A step that fails (a `/proc` mount refused inside some containers) is
//! said on stderr and the command still runs.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The subcommand name `redlink exec` runs its init as.
pub const SUBCOMMAND: &str = "__exec-init";

fn say(what: impl std::fmt::Display) {
    eprintln!("redlink exec: {what}");
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn mount(
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = CString::new(source).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let target = cstr(target)?;
    let fstype = fstype
        .map(CString::new)
        .transpose()
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let data = data
        .map(CString::new)
        .transpose()
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: NUL-terminated strings alive for the call; null pointers where mount(2) allows.
    check(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    })
}

/// Opens `dir` as an `O_PATH` handle (it stays reachable after a tmpfs hides its path).
fn open_path(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(dir)?;
    Ok(f.into())
}

/// A tmpfs over each of `/tmp` and `/dev/shm` that exists, with the `keep` directories under it
/// bound back at their paths.
fn private_tmp(keep: &[PathBuf]) {
    let handles: Vec<(PathBuf, OwnedFd)> = keep
        .iter()
        .filter_map(|d| match open_path(d) {
            Ok(fd) => Some((d.clone(), fd)),
            Err(e) => {
                say(format_args!("cannot keep {} visible: {e}", d.display()));
                None
            }
        })
        .collect();
    for top in [Path::new("/tmp"), Path::new("/dev/shm")] {
        if !top.is_dir() {
            continue;
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV;
        if let Err(e) = mount("tmpfs", top, Some("tmpfs"), flags, Some("mode=1777")) {
            say(format_args!(
                "cannot mount a private tmpfs over {} ({e}): the command shares the host's",
                top.display()
            ));
            continue;
        }
        for (dir, fd) in handles.iter().filter(|(d, _)| d.starts_with(top)) {
            let bound = std::fs::create_dir_all(dir).and_then(|()| {
                let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
                mount(&source, dir, None, libc::MS_BIND | libc::MS_REC, None)
            });
            if let Err(e) = bound {
                say(format_args!("cannot bind {} back: {e}", dir.display()));
            }
        }
    }
}

fn parse(args: &[OsString]) -> Result<(Vec<PathBuf>, Vec<OsString>), String> {
    let mut keep = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--keep") => {
                keep.push(PathBuf::from(it.next().ok_or("--keep needs a directory")?))
            }
            Some("--") => {
                let command: Vec<OsString> = it.cloned().collect();
                if command.is_empty() {
                    return Err("no command after --".into());
                }
                return Ok((keep, command));
            }
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Err("no command after --".into())
}

fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        set
    }
}

/// The exit code for a wait status: the code, or 128 + the signal.
fn code_of(status: libc::c_int) -> u8 {
    if libc::WIFEXITED(status) {
        u8::try_from(libc::WEXITSTATUS(status) & 0xff).unwrap_or(1)
    } else if libc::WIFSIGNALED(status) {
        u8::try_from((128 + libc::WTERMSIG(status)) & 0xff).unwrap_or(1)
    } else {
        1
    }
}

/// Runs the init; returns the exit code.
pub fn main(args: &[OsString]) -> u8 {
    let (keep, command) = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            say(format_args!("{SUBCOMMAND}: {e}"));
            return 125;
        }
    };
    // SAFETY: getpid has no preconditions.
    let pid1 = unsafe { libc::getpid() } == 1;
    if pid1 {
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        if let Err(e) = mount("proc", Path::new("/proc"), Some("proc"), flags, None) {
            say(format_args!(
                "cannot mount a private /proc ({e}): the command sees the host's processes in /proc"
            ));
        }
    }
    private_tmp(&keep);
    let forwarded = [libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2];
    let mut waited = forwarded.to_vec();
    waited.push(libc::SIGCHLD);
    let set = signal_set(&waited);
    // SAFETY: a valid set; this process is single-threaded (the child unblocks them again).
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let (program, rest) = match command.split_first() {
        Some(p) => p,
        None => return 125,
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl and sigprocmask take plain data; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // The command starts with no signal blocked (this init blocks the ones it waits for).
                check(libc::sigprocmask(
                    libc::SIG_UNBLOCK,
                    &set,
                    std::ptr::null_mut(),
                ))?;
                check(libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ))
            });
        }
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            say(format_args!("cannot run {program:?}: {e}"));
            return match e.kind() {
                io::ErrorKind::NotFound => 127,
                io::ErrorKind::PermissionDenied => 126,
                _ => 125,
            };
        }
    };
    let child_pid = match libc::pid_t::try_from(child.id()) {
        Ok(p) => p,
        Err(_) => return 125,
    };
    // The std handle is not waited through: this loop reaps every child, the command included.
    std::mem::forget(child);
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: a valid set and an out-parameter.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(child_pid, sig) };
            continue;
        }
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: an out-parameter; WNOHANG never blocks.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child_pid {
                return code_of(status);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_keep_dirs_then_the_command() {
        let args: Vec<OsString> = ["--keep", "/tmp/a", "--", "sh", "-c", "true"]
            .iter()
            .map(OsString::from)
            .collect();
        let (keep, command) = parse(&args).expect("parses");
        assert_eq!(keep, vec![PathBuf::from("/tmp/a")]);
        assert_eq!(command.len(), 3);
        assert!(parse(&[OsString::from("--")]).is_err());
    }
}
