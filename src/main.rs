//! `redlink`: a local Redis-compatible server behind a simulated Azure Private Link network.
//!
//! This file only wires the command line to the subcommands in `cli/`.

mod cli;

/// Counts allocated bytes so INFO `used_memory` and `maxmemory` see what the data set really uses,
/// like Redis's zmalloc.
#[global_allocator]
static ALLOC: redlink_engine::alloc::CountingAlloc = redlink_engine::alloc::CountingAlloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "redlink",
    version,
    about = "A local Redis-compatible server behind a simulated Azure Private Link network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Redis-compatible server on its own, like redis-server.
    ///
    /// Accepts an optional redis.conf-style CONFIG_FILE and redis-server's options as
    /// `--name value...` (e.g. --port 7000 --bind 127.0.0.1 127.0.0.2 --requirepass s3cret
    /// --maxclients 100 --tls-port 6380 --tls-cert-file F --tls-key-file F --save '' --appendonly no
    /// --protected-mode no), plus --tls-auto DIR (generate ca.crt, server.crt, server.key there) and
    /// --tls-hostname NAME... (extra names for the generated certificate) and --clock real|manual
    /// (manual: time moves only by DEBUG CLOCK ADVANCE|SET, docs/clock.md). Every problem of the file
    /// and options is reported at once (exit 2); docs/config.md lists what each Redis 7.0 parameter
    /// does here.
    #[command(disable_help_flag = false)]
    Serve {
        /// An optional CONFIG_FILE, then options as `--name value...`.
        #[arg(
            help = "[CONFIG_FILE] [--option value...]",
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Bring a simulated world up: DNS views, caches and their endpoints (no SCENARIO: the
    /// embedded quickstart). Writes a state file, prints where everything is, runs until Ctrl-C.
    Up(cli::up::UpArgs),
    /// Run scenarios (files or directories of *.toml) and check their expectations; exit 0 when
    /// all are met, 1 when some are not, 2 for bad input.
    Check(cli::check::CheckArgs),
    /// Connect to HOST (optionally HOST:PORT) as a client in network NET (its resolver, its client address): DNS,
    /// TCP, TLS, AUTH, PING, with the evidence of each step and the world's explanation; exit 0
    /// only when PING succeeded.
    Probe(cli::probe::ProbeArgs),
    /// Run COMMAND inside a simulated network (Linux, rootless), its system resolver pointed at
    /// NET's simulated DNS; exits with the command's code. Without SCENARIO it joins a running
    /// `redlink up` world (found like probe and ctl find it), so `redlink ctl` changes reach the
    /// command at once; with SCENARIO, --new-world or no running world, it starts a world of its own
    /// on a private loopback (with a control API `ctl` reaches from inside and outside). Nested
    /// inside an exec, joins that world with another network's resolver.
    ///
    /// Containment: the command runs in its own network, mount and PID namespaces under a small
    /// init (PID 1): it sees only its own processes (a private /proc), a private tmpfs over /tmp
    /// and /dev/shm (the world's files stay visible at their paths), and it dies with redlink,
    /// even when redlink is SIGKILLed. redlink's files go to a new 0700 directory
    /// $TMPDIR/redlink-exec-PIDNS-PID-RANDOM, removed at exit (or by the next exec after a SIGKILL).
    ///
    /// Limits: the command runs as you (uid 0 inside the user namespace, with no more rights on
    /// the host than your own) and sees the host's file system elsewhere, so Unix sockets outside
    /// /tmp and /dev/shm (e.g. under /run, /var/run) are reachable with your permissions; abstract
    /// Unix sockets belong to the network namespace and are not. Where /proc or tmpfs cannot be
    /// mounted (some containers), exec says so on stderr and the command runs without that part.
    Exec(cli::exec::ExecArgs),
    /// Change a running `redlink up` with the Azure CLI's nouns and verbs (network
    /// private-endpoint-connection approve, network private-dns link vnet create, redis update…),
    /// print az-shaped JSON, follow its events.
    Ctl(cli::ctl::CtlArgs),
    /// Score the lab a trainee is working on: the running world's exercises with met/not met,
    /// the goals not yet met and the hints; exit 0 when every exercise is met, 1 when not.
    Lab(cli::lab::LabArgs),
    /// Troubleshoot from the message a client printed ("Error 111 connecting to … Connection
    /// refused.", ECONNREFUSED, ETIMEDOUT, ENOTFOUND, certificate verify failed, NOAUTH, WRONGPASS…):
    /// the likely causes in the order Azure's troubleshooting guides check them, each with the
    /// scenario that reproduces it (`redlink check scenarios/X.toml`); exit 0 with causes, 1 with
    /// none. `-o json` for machines. The words, causes and fixes are docs/clients.md's.
    Explain(cli::explain::ExplainArgs),
    /// List the worlds running for this user (`up`s and exec worlds): id, name, process, address
    /// block, control address, state file; `*` marks the one current.json points at. `--world ID`
    /// selects one for ctl, probe and exec.
    Ls(cli::ls::LsArgs),
}

fn main() -> ExitCode {
    // `redlink exec`'s init (PID 1 of the command's PID namespace): not a user-facing subcommand.
    let mut argv = std::env::args_os().skip(1);
    if argv.next().as_deref() == Some(std::ffi::OsStr::new(redlink_exec::init::SUBCOMMAND)) {
        let rest: Vec<std::ffi::OsString> = argv.collect();
        return ExitCode::from(redlink_exec::init::main(&rest));
    }
    cli::init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { args } => cli::serve::main(args),
        Command::Up(args) => cli::up::main(args),
        Command::Check(args) => cli::check::main(args),
        Command::Probe(args) => cli::probe::main(args),
        Command::Exec(args) => cli::exec::main(args),
        Command::Ctl(args) => cli::ctl::main(args),
        Command::Lab(args) => cli::lab::main(args),
        Command::Ls(args) => cli::ls::main(args),
        Command::Explain(args) => cli::explain::main(args),
    }
}
