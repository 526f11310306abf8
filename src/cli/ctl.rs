//! `redlink ctl [--control ADDR | --state-file F] NOUN... VERB --flags`: drives a running
//! `redlink up` through its control API with the Azure CLI's nouns, verbs and flags, and prints
//! az-shaped JSON (camelCase, see `cli::az`). Each change is built here as a
//! [`redlink_world::Change`], the timeline's vocabulary, and sent as JSON (`WORLD.CHANGE <json>`);
//! reads take `WORLD.JSON` / `WORLD.STATE` and shape them here.
//!
//! The world is found from `--control`, else the state file (`--state-file`, `$REDLINK_STATE`, or
//! the pointer `up` wrote) and its `control` field; the password from `--password`, else the state
//! file's `control_password`. Exit codes: 0 done, 1 the world refused or is unreachable, 2 bad
//! input.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use redlink_runtime::{ControlClient, StateFile, Value};
use redlink_world::change::{
    ConfigChange, LinkChange, NonTlsPortChange, PolicyChange, PublicAccessChange, RecordChange,
    RecordRef, ScaleChange, TlsVersionChange, ToxicChange, ZoneNetwork,
};
use redlink_world::toxic::{ToxicDirection, ToxicKindName};
use redlink_world::{BlockedAction, Change, PublicNetworkAccess, ResolutionPolicy, World};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::cli::output::{Format, Output};
use crate::cli::{az, say};

mod resources;
/// How reads are printed (`-o`, `--query`), set once by [`main`].
static OUTPUT: std::sync::OnceLock<Output> = std::sync::OnceLock::new();

/// How long to wait for the control API.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `redlink ctl`.
#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The control API's address (default: the state file's `control`).
    #[arg(long, value_name = "ADDR", global = true)]
    pub control: Option<SocketAddr>,
    /// The world's state file (default: $REDLINK_STATE, else the one `up` points at).
    #[arg(long, value_name = "F", global = true)]
    pub state_file: Option<PathBuf>,
    /// The control API's password (default: the state file's `control_password`).
    #[arg(
        long,
        value_name = "P",
        env = "REDLINK_CONTROL_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<String>,
    /// The running world with this id or name (see `redlink ls`).
    #[arg(
        long,
        value_name = "NAME",
        global = true,
        conflicts_with = "state_file"
    )]
    pub world: Option<String>,
    /// Output format of reads, as az: json, jsonc (coloured on a terminal), table, tsv, yaml, none.
    #[arg(
        long,
        short = 'o',
        value_name = "FORMAT",
        global = true,
        value_enum,
        default_value = "json"
    )]
    pub output: Format,
    /// A JMESPath query applied to a read's JSON before it is formatted, as az's --query.
    #[arg(long, value_name = "JMESPATH", global = true)]
    pub query: Option<String>,
    /// Accepted for az compatibility and ignored (one world, one resource group).
    #[arg(long, short = 'g', value_name = "RG", global = true, hide = true)]
    pub resource_group: Option<String>,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// `redlink ctl` nouns.
#[derive(Subcommand, Debug)]
pub enum CtlCommand {
    /// Networking: private endpoints, their connections, private DNS.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Caches: update, show, and (redlink's own) stop/start.
    #[command(subcommand)]
    Redis(RedisCommand),
    /// Print the world's events (DNS answers, connection verdicts, changes) as JSON lines.
    Events {
        /// Keep printing until interrupted (otherwise stop after --wait with no event).
        #[arg(long, short = 'f')]
        follow: bool,
        /// Without --follow: how long to listen (e.g. 2s).
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = crate::cli::up::parse_duration)]
        wait: Duration,
    },
    /// Per network: where each cache's name resolves and the verdict for each endpoint
    /// (`-o table`: one line per network, cache and endpoint).
    Status,
    /// Labs: the running world's exercises (`[[exercise]]`) and whether each is met.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Run the next timeline step of a world started with `up --step` (as Enter in its terminal).
    Next,
    /// The world's one clock (redlink's own): `show`, or `advance DURATION` on a world started with
    /// `up --clock manual` (keys expire, DNS answers go stale, timeline steps come due).
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Toxics on routed connections, with Toxiproxy's names and attributes.
    #[command(subcommand)]
    Toxic(ToxicCommand),
    /// Send one raw control command (e.g. `ctl raw HELP`, `ctl raw WORLD.CHANGE '{"approve":"pe-hub"}'`)
    /// and print the reply. Exit 1 when the world cannot be reached, 2 when it answers with an
    /// error reply (printed on stderr).
    Raw {
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `clock …`.
#[derive(Subcommand, Debug)]
pub enum ClockCommand {
    /// Move the world's manual clock forward (500ms, 30s, 30m, 6h; a bare number is seconds) and
    /// print it as `show` does.
    Advance {
        /// How far.
        duration: String,
    },
    /// The clock's mode (real or manual) and time.
    Show,
}

/// `lab …`.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Each exercise with met/not met (re-scored by `up` after every change), the goals not yet
    /// met and the hints.
    Status {
        /// Print the score as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `toxic …`.
#[derive(Subcommand, Debug)]
pub enum ToxicCommand {
    /// Add a toxic with Toxiproxy's types and attributes: `latency` (`latency`, `jitter`, ms),
    /// `bandwidth` (`rate`, KB/s), `slow_close` (`delay`, ms), `timeout` (`timeout`, ms: nothing
    /// passes, then the connection is reset — Toxiproxy closes it; 0 holds it), `reset_peer`
    /// (`timeout`, ms after the first bytes), `slicer` (`average_size`, `delay` µs),
    /// `limit_data` (`bytes`, then a close), and redlink's `reset_after` (`bytes`, then a reset).
    /// A slicer size_variation is not simulated (refused with that reason).
    Add(ToxicAddArgs),
    /// Remove a toxic.
    Remove(NameArg),
    /// List the world's toxics (Toxiproxy's JSON shape, plus endpoint and network).
    List,
}

/// `toxic add`.
#[derive(Args, Debug)]
pub struct ToxicAddArgs {
    /// The toxic's name (unique in the world).
    #[arg(long, short = 'n')]
    pub name: String,
    /// Toxiproxy's toxic type.
    #[arg(long = "type", short = 't', value_name = "TYPE")]
    pub kind: String,
    /// ATTRIBUTE=VALUE, repeatable (Toxiproxy's attribute names).
    #[arg(long = "attribute", short = 'a', value_name = "ATTRIBUTE=VALUE")]
    pub attributes: Vec<String>,
    /// The private endpoint or cache whose routed connections it affects (default: every one).
    #[arg(long, short = 'e')]
    pub endpoint: Option<String>,
    /// Only connections from this network (default: every source, the host included).
    #[arg(long)]
    pub network: Option<String>,
    /// Act on client → cache bytes (Toxiproxy's upstream).
    #[arg(long, short = 'u', conflicts_with = "downstream")]
    pub upstream: bool,
    /// Act on cache → client bytes (the default).
    #[arg(long, short = 'd')]
    pub downstream: bool,
    /// The fraction of connections it applies to (0 to 1; each connection is rolled when it opens).
    #[arg(long, default_value_t = 1.0)]
    pub toxicity: f64,
}

/// `network …`.
#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Private endpoints.
    #[command(subcommand, name = "private-endpoint")]
    Endpoint(PeCommand),
    /// A cache's private endpoint connections (approve, reject, delete).
    #[command(subcommand, name = "private-endpoint-connection")]
    Connection(PecCommand),
    /// Private DNS zones, virtual network links and A record sets.
    #[command(subcommand, name = "private-dns")]
    Dns(DnsCommand),
    /// Virtual networks: peerings.
    #[command(subcommand)]
    Vnet(resources::VnetNoun),
    /// Network security groups: their rules (the world's network rules).
    #[command(subcommand)]
    Nsg(resources::NsgNoun),
}

/// `network private-endpoint …`.
#[derive(Subcommand, Debug)]
pub enum PeCommand {
    /// Show one private endpoint.
    Show(NameArg),
    /// List private endpoints.
    List,
    /// Create a private endpoint for a cache (auto-approved, or Pending with --manual-request).
    Create(resources::PeCreate),
    /// Delete a private endpoint (and the records its DNS zone group registered).
    Delete(NameArg),
}

/// `--name NAME`.
#[derive(Args, Debug)]
pub struct NameArg {
    /// The resource's name.
    #[arg(long, short = 'n')]
    pub name: String,
}

/// `--name PE [--description TEXT]` (az's other identifying flags are accepted and ignored).
#[derive(Args, Debug)]
pub struct ConnectionArgs {
    /// The connection's name (the private endpoint's name).
    #[arg(long, short = 'n')]
    pub name: String,
    /// The approval/rejection message (shown back, not stored).
    #[arg(long)]
    pub description: Option<String>,
    /// Accepted and ignored: the cache (connections are named uniquely in a world).
    #[arg(long, hide = true)]
    pub resource_name: Option<String>,
    /// Accepted and ignored.
    #[arg(long = "type", hide = true)]
    pub kind: Option<String>,
}

/// `network private-endpoint-connection …`.
#[derive(Subcommand, Debug)]
pub enum PecCommand {
    /// Approve a connection (traffic flows).
    Approve(ConnectionArgs),
    /// Reject a connection (traffic stops).
    Reject(ConnectionArgs),
    /// Delete a connection from the cache side (the endpoint becomes Disconnected).
    Delete(ConnectionArgs),
    /// Show a connection.
    Show(ConnectionArgs),
}

/// `network private-dns …`.
#[derive(Subcommand, Debug)]
pub enum DnsCommand {
    /// Private DNS zones.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Virtual network links.
    #[command(subcommand)]
    Link(LinkCommand),
    /// Record sets.
    #[command(subcommand, name = "record-set")]
    RecordSet(RecordSetCommand),
}

/// `network private-dns zone …`.
#[derive(Subcommand, Debug)]
pub enum ZoneCommand {
    /// Create an empty zone.
    Create(NameArg),
    /// Delete a zone (records and links with it).
    Delete(NameArg),
    /// Show a zone.
    Show(NameArg),
    /// List zones.
    List,
}

/// `network private-dns link …`.
#[derive(Subcommand, Debug)]
pub enum LinkCommand {
    /// Links to virtual networks.
    #[command(subcommand)]
    Vnet(VnetCommand),
}

/// `--zone-name Z --name L`.
#[derive(Args, Debug)]
pub struct LinkRef {
    /// The zone.
    #[arg(long, short = 'z')]
    pub zone_name: String,
    /// The link's name.
    #[arg(long, short = 'n')]
    pub name: String,
}

/// `network private-dns link vnet …`.
#[derive(Subcommand, Debug)]
pub enum VnetCommand {
    /// Link a zone to a virtual network.
    Create {
        #[command(flatten)]
        link: LinkRef,
        /// The network.
        #[arg(long, short = 'v')]
        virtual_network: String,
        /// Default or NxDomainRedirect.
        #[arg(long)]
        resolution_policy: Option<String>,
        /// Accepted for az compatibility; must be false (auto-registration is not simulated).
        #[arg(long, short = 'e', hide = true, default_value = "false")]
        registration_enabled: String,
    },
    /// Remove a link.
    Delete {
        #[command(flatten)]
        link: LinkRef,
        /// Accepted and ignored (az asks for confirmation otherwise).
        #[arg(long, short = 'y', hide = true)]
        yes: bool,
    },
    /// Change a link (its resolution policy).
    Update {
        #[command(flatten)]
        link: LinkRef,
        /// Default or NxDomainRedirect.
        #[arg(long)]
        resolution_policy: String,
    },
    /// Show a link.
    Show {
        #[command(flatten)]
        link: LinkRef,
    },
    /// List a zone's links.
    List {
        /// The zone.
        #[arg(long, short = 'z')]
        zone_name: String,
    },
}

/// `network private-dns record-set …`.
#[derive(Subcommand, Debug)]
pub enum RecordSetCommand {
    /// A record sets.
    #[command(subcommand)]
    A(ARecordCommand),
}

/// `--zone-name Z --record-set-name N --ipv4-address A`.
#[derive(Args, Debug)]
pub struct ARecordArgs {
    /// The zone.
    #[arg(long, short = 'z')]
    pub zone_name: String,
    /// The record set's name (relative to the zone).
    #[arg(long, short = 'n')]
    pub record_set_name: String,
    /// The address.
    #[arg(long, short = 'a')]
    pub ipv4_address: std::net::Ipv4Addr,
}

/// `network private-dns record-set a …`.
#[derive(Subcommand, Debug)]
pub enum ARecordCommand {
    /// Add an address to a record set.
    AddRecord(ARecordArgs),
    /// Remove an address from a record set.
    RemoveRecord(ARecordArgs),
    /// Show a record set.
    Show {
        /// The zone.
        #[arg(long, short = 'z')]
        zone_name: String,
        /// The record set's name.
        #[arg(long, short = 'n')]
        name: String,
    },
    /// List a zone's A record sets.
    List {
        /// The zone.
        #[arg(long, short = 'z')]
        zone_name: String,
    },
}

/// `redis …`.
#[derive(Subcommand, Debug)]
pub enum RedisCommand {
    /// Change a cache: `--set publicNetworkAccess=Disabled` (also `publicBlockedAction=drop`
    /// with it, `redisConfiguration.maxclients=N`, `requirepass=P`, `enableNonSslPort=true`,
    /// `minimumTlsVersion=1.2`).
    Update {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// PROPERTY=VALUE, repeatable.
        #[arg(
            long,
            value_name = "PROPERTY=VALUE",
            required_unless_present = "shard_count"
        )]
        set: Vec<String>,
        /// Reshard a clustered Premium cache to N shards (live: slots move while clients run).
        #[arg(long, value_name = "N")]
        shard_count: Option<u16>,
    },
    /// Show a cache.
    Show(NameArg),
    /// List caches.
    List,
    /// Stop a cache's engine (redlink's own: its endpoints refuse).
    Stop(NameArg),
    /// Start a cache's engine again (redlink's own).
    Start(NameArg),
    /// Firewall rules of a cache's public endpoint.
    #[command(subcommand, name = "firewall-rules")]
    FirewallRules(resources::FirewallRulesCommand),
    /// Reboot a cache: open connections close; the data comes back only if the cache persists it.
    #[command(name = "force-reboot")]
    ForceReboot {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// AllNodes, PrimaryNode (a failover: the replica is promoted) or SecondaryNode (the
        /// replica restarts); the last two need a replica (sku Standard or Premium).
        #[arg(long)]
        reboot_type: String,
        /// Not simulated (one node per cache): refused.
        #[arg(long, num_args = 1..)]
        ports: Vec<u16>,
        /// Not simulated (caches are not clustered): refused.
        #[arg(long)]
        shard_id: Option<u32>,
    },
    /// Run Azure's planned maintenance of one node (redlink's own): AzureRedisEvents notifications
    /// (smart-client-handoff pushes for managed-redis) on the world's clock, and a failover when the
    /// primary is maintained.
    Maintenance {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// The node maintained: primary (default) or replica.
        #[arg(long, default_value = "primary")]
        node: String,
    },
    /// Promote a cache's replica now (redlink's own; Azure's way is force-reboot --reboot-type
    /// PrimaryNode): every client connection closes.
    Failover(NameArg),
    /// Replace a cache's data with an RDB file (a local path stands in for a blob URL).
    Import {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// The RDB file (one: caches are not clustered).
        #[arg(long, required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// RDB (the only format).
        #[arg(long)]
        file_format: Option<String>,
    },
    /// Write a cache's data as an RDB file CONTAINER/PREFIX (a local folder stands in for a
    /// blob container).
    Export {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// The exported file's name.
        #[arg(long)]
        prefix: String,
        /// An existing directory.
        #[arg(long)]
        container: PathBuf,
        /// RDB (the only format).
        #[arg(long)]
        file_format: Option<String>,
    },
}

fn rdb_format(format: Option<&String>) -> Result<(), Failure> {
    match format {
        Some(f) if !f.eq_ignore_ascii_case("RDB") => Err(Failure::Input(format!(
            "--file-format {f:?}: only RDB is supported"
        ))),
        _ => Ok(()),
    }
}

/// Why a ctl command failed: bad input (exit 2), the world (exit 1), or a change Azure's API
/// refuses (exit 1, printed as az prints a service error).
enum Failure {
    Input(String),
    World(String),
    Azure { code: String, message: String },
}

impl Failure {
    /// A refusal by the control API: Azure's `(Code) Message` (a service error, as az reports it),
    /// else bad input (an unknown name…).
    fn refused(error: &str) -> Failure {
        let text = error.strip_prefix("ERR ").unwrap_or(error);
        match text
            .strip_prefix('(')
            .and_then(|rest| rest.split_once(") "))
            .filter(|(code, _)| !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            Some((code, message)) => Failure::Azure {
                code: code.to_owned(),
                message: message.to_owned(),
            },
            None => Failure::Input(text.to_owned()),
        }
    }
}

impl From<redlink_runtime::ControlClientError> for Failure {
    fn from(e: redlink_runtime::ControlClientError) -> Self {
        Failure::World(e.to_string())
    }
}

/// Runs `redlink ctl`.
pub fn main(args: CtlArgs) -> ExitCode {
    let _ = OUTPUT.set(Output {
        format: args.output,
        query: args.query.clone(),
    });
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("redlink ctl: {e}");
            ExitCode::from(2)
        }
        Err(Failure::World(e)) => {
            eprintln!("redlink ctl: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Azure { code, message }) => {
            // az's shape for a service error (azure-core's HttpResponseError), exit 1.
            eprintln!("ERROR: ({code}) {message}\nCode: {code}\nMessage: {message}");
            ExitCode::from(1)
        }
    }
}

/// The control address and password: `--control`, else the state file's `control`; `--password`,
/// else the state file's `control_password` (with `--control`, when the state file names the same
/// address).
fn control_address(args: &CtlArgs) -> Result<(SocketAddr, Option<String>), Failure> {
    let read_state = || -> Result<(PathBuf, StateFile), Failure> {
        let path = crate::cli::worlds::locate(args.state_file.as_deref(), args.world.as_deref())
            .map_err(Failure::World)?;
        let state = StateFile::read(&path)
            .map_err(|e| Failure::World(format!("cannot read {}: {e}", path.display())))?;
        Ok((path, state))
    };
    if let Some(a) = args.control {
        let password = args.password.clone().or_else(|| {
            read_state().ok().and_then(|(_, s)| {
                (s.control.as_deref() == Some(a.to_string().as_str()))
                    .then_some(s.control_password)
                    .flatten()
            })
        });
        return Ok((a, password));
    }
    let (path, state) = read_state()?;
    let control = state.control.ok_or_else(|| {
        Failure::World(format!(
            "{} has no control address (is that world's `redlink up` recent enough?)",
            path.display()
        ))
    })?;
    let addr = control.parse().map_err(|_| {
        Failure::World(format!(
            "{}: bad control address {control:?}",
            path.display()
        ))
    })?;
    Ok((addr, args.password.clone().or(state.control_password)))
}

/// A connected, authenticated client.
struct Session {
    client: ControlClient,
}

impl Session {
    fn open(args: &CtlArgs) -> Result<Session, Failure> {
        let (addr, password) = control_address(args)?;
        let mut client = ControlClient::connect(addr, TIMEOUT)?;
        if let Some(p) = password.as_deref().filter(|p| !p.is_empty()) {
            client.call(&["AUTH", p])?;
        }
        Ok(Session { client })
    }

    fn world(&mut self) -> Result<World, Failure> {
        let text = self.client.call_text(&["WORLD.JSON"])?;
        serde_json::from_str(&text).map_err(|e| Failure::World(format!("bad world JSON: {e}")))
    }

    fn state(&mut self) -> Result<StateFile, Failure> {
        let text = self.client.call_text(&["WORLD.STATE"])?;
        serde_json::from_str(&text).map_err(|e| Failure::World(format!("bad state JSON: {e}")))
    }

    /// Applies a change (sent as JSON, `WORLD.CHANGE`); a refusal by the world is bad input (an
    /// unknown name…) or, when Azure's API would refuse it (`(BadRequest) …`), a service error.
    fn change(&mut self, change: Change) -> Result<String, Failure> {
        let json = serde_json::to_string(&change)
            .map_err(|e| Failure::World(format!("cannot encode the change: {e}")))?;
        match self.client.call_text(&["WORLD.CHANGE", &json]) {
            Ok(done) => Ok(done),
            Err(redlink_runtime::ControlClientError::Server(e)) => Err(Failure::refused(&e)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Prints a read as `-o` and `--query` say; a query that does not compile is bad input.
fn show(json: &Json) -> Result<(), Failure> {
    let text = OUTPUT
        .get_or_init(Output::default)
        .render(json)
        .map_err(Failure::Input)?;
    if !text.is_empty() {
        say!("{text}");
    }
    Ok(())
}

/// [`show`] where the caller cannot return the failure: it is reported and the process exits 2.
fn print(json: &Json) {
    if let Err(Failure::Input(e) | Failure::World(e)) = show(json) {
        eprintln!("redlink ctl: {e}");
        std::process::exit(2);
    }
}

/// A value of a serde enum by its spelling (`NxDomainRedirect`, `Disabled`, `drop`…), ignoring case.
fn choice<T: DeserializeOwned>(what: &str, text: &str, choices: &[&str]) -> Result<T, Failure> {
    let spelled = choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            Failure::Input(format!(
                "{what} {text:?} is not one of {}",
                choices.join(", ")
            ))
        })?;
    serde_json::from_value(Json::String((*spelled).to_owned()))
        .map_err(|e| Failure::Input(format!("{what} {text:?}: {e}")))
}

fn policy(text: &str) -> Result<ResolutionPolicy, Failure> {
    choice("resolution policy", text, &["Default", "NxDomainRedirect"])
}

fn not_found(kind: &str, name: &str) -> Failure {
    Failure::Input(format!("{kind} {name:?} not found"))
}

fn run(args: &CtlArgs) -> Result<(), Failure> {
    let mut s = Session::open(args)?;
    match &args.command {
        CtlCommand::Network(n) => network(&mut s, n),
        CtlCommand::Redis(r) => redis(&mut s, r),
        CtlCommand::Events { follow, wait } => events(&mut s, *follow, *wait),
        CtlCommand::Status => {
            let (world, state) = (s.world()?, s.state()?);
            let counts = s
                .client
                .call_text(&["WORLD.COUNTS"])
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_else(|| serde_json::json!({}));
            let status = az::status(&world, &state, &counts);
            let out = OUTPUT.get_or_init(Output::default);
            // Without --query, a table is one line per network, cache and endpoint (the JSON
            // nests too deep for az's table rules); with one, az's rules apply to its result.
            match out.format {
                Format::Table if out.query.is_none() => {
                    say!(
                        "{}",
                        crate::cli::output::table(&az::STATUS_COLUMNS, &az::status_rows(&status))
                    );
                    for down in world.caches.iter().filter_map(|c| {
                        c.backend_unreachable
                            .as_ref()
                            .map(|why| format!("cache {}: backend {why}", c.name))
                    }) {
                        say!("{down}");
                    }
                    let note = status["kernelEvidence"].as_str().unwrap_or(az::UNCOUNTED);
                    say!("{}", wrap(&format!("note: {note}"), 100));
                    Ok(())
                }
                Format::Tsv if out.query.is_none() => {
                    for row in az::status_rows(&status) {
                        say!("{}", row.join("\t"));
                    }
                    Ok(())
                }
                _ => show(&status),
            }
        }
        CtlCommand::Toxic(t) => toxic(&mut s, t),
        CtlCommand::Next => {
            s.client.call(&["WORLD.NEXT"])?;
            Ok(())
        }
        CtlCommand::Clock(c) => clock(&mut s, c),
        CtlCommand::Lab(LabCommand::Status { json }) => {
            let report = lab_report(&mut s)?;
            if *json {
                match serde_json::to_value(&report) {
                    Ok(j) => print(&j),
                    Err(e) => return Err(Failure::World(format!("bad lab JSON: {e}"))),
                }
            } else {
                say!("{}", report.text().trim_end());
            }
            Ok(())
        }
        CtlCommand::Raw { args } => {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            match s.client.call(&argv) {
                Ok(v) => {
                    say!("{}", show_value(&v));
                    Ok(())
                }
                // The world answered with an error reply: bad input, exit 2.
                Err(redlink_runtime::ControlClientError::Server(e)) => Err(Failure::Input(e)),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// `ctl clock show|advance`: CLOCK.GET / CLOCK.ADVANCE, printed as `{mode, nowMs, now}`. A bad
/// duration or a clock that cannot move (real time) is bad input (exit 2).
fn clock(s: &mut Session, c: &ClockCommand) -> Result<(), Failure> {
    let reply = match c {
        ClockCommand::Show => s.client.call(&["CLOCK.GET"]),
        ClockCommand::Advance { duration } => {
            redlink_clock::parse_duration(duration)
                .map_err(|e| Failure::Input(format!("clock advance: {e}")))?;
            s.client.call(&["CLOCK.ADVANCE", duration])
        }
    };
    let items = match reply {
        Ok(Value::Array(items)) => items,
        Ok(other) => return Err(Failure::World(format!("unexpected clock reply {other:?}"))),
        Err(redlink_runtime::ControlClientError::Server(e)) => {
            return Err(Failure::Input(format!(
                "clock: {}",
                e.strip_prefix("ERR ").unwrap_or(&e)
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = serde_json::Map::new();
    for pair in items.chunks(2) {
        if let [k, v] = pair {
            let key = match k.as_text().unwrap_or_default().as_str() {
                "now-ms" => "nowMs".to_owned(),
                other => other.to_owned(),
            };
            let value = match v {
                Value::Int(i) => Json::from(*i),
                other => Json::String(other.as_text().unwrap_or_default()),
            };
            out.insert(key, value);
        }
    }
    show(&Json::Object(out))
}

/// The running world's lab score (`LAB.STATUS`).
fn lab_report(s: &mut Session) -> Result<redlink_scenario::LabReport, Failure> {
    let text = match s.client.call_text(&["LAB.STATUS"]) {
        Ok(t) => t,
        Err(redlink_runtime::ControlClientError::Server(e)) => {
            return Err(Failure::Input(
                e.strip_prefix("ERR ").unwrap_or(&e).to_owned(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    serde_json::from_str(&text).map_err(|e| Failure::World(format!("bad lab JSON: {e}")))
}

/// `redlink lab`: the running world's lab score (found like `ctl`'s world); `Ok(true)` when every
/// exercise is met. Errors carry ctl's exit code (2 bad input, 1 the world).
pub fn score(args: &CtlArgs) -> Result<redlink_scenario::LabReport, (u8, String)> {
    let run = || {
        let mut s = Session::open(args)?;
        lab_report(&mut s)
    };
    run().map_err(|f| match f {
        Failure::Input(e) => (2, e),
        Failure::World(e) => (1, e),
        Failure::Azure { code, message } => (1, format!("({code}) {message}")),
    })
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Array(items) => items.iter().map(show_value).collect::<Vec<_>>().join("\n"),
        Value::Nil => "(nil)".to_owned(),
        other => other.as_text().unwrap_or_default(),
    }
}

fn network(s: &mut Session, n: &NetworkCommand) -> Result<(), Failure> {
    match n {
        NetworkCommand::Endpoint(PeCommand::Show(a)) => {
            let (world, state) = (s.world()?, s.state()?);
            let pe = world
                .private_endpoint(&a.name)
                .ok_or_else(|| not_found("private endpoint", &a.name))?;
            print(&az::private_endpoint(&world, &state, pe));
        }
        NetworkCommand::Endpoint(PeCommand::List) => {
            let (world, state) = (s.world()?, s.state()?);
            let list: Vec<Json> = world
                .private_endpoints
                .iter()
                .map(|pe| az::private_endpoint(&world, &state, pe))
                .collect();
            print(&Json::Array(list));
        }
        NetworkCommand::Connection(c) => {
            let (change, a) = match c {
                PecCommand::Approve(a) => (Some(Change::Approve(a.name.clone())), a),
                PecCommand::Reject(a) => (Some(Change::Reject(a.name.clone())), a),
                PecCommand::Delete(a) => (Some(Change::Disconnect(a.name.clone())), a),
                PecCommand::Show(a) => (None, a),
            };
            if let Some(change) = change {
                s.change(change)?;
            }
            let world = s.world()?;
            let pe = world
                .private_endpoint(&a.name)
                .ok_or_else(|| not_found("private endpoint connection", &a.name))?;
            print(&az::connection(&world, pe, a.description.as_deref()));
        }
        NetworkCommand::Dns(d) => private_dns(s, d)?,
        NetworkCommand::Endpoint(PeCommand::Create(a)) => resources::create_endpoint(s, a)?,
        NetworkCommand::Endpoint(PeCommand::Delete(a)) => resources::delete_endpoint(s, a)?,
        NetworkCommand::Vnet(resources::VnetNoun::Peering(p)) => resources::peering(s, p)?,
        NetworkCommand::Nsg(resources::NsgNoun::Rule(r)) => resources::nsg_rule(s, r)?,
    }
    Ok(())
}

fn zone_of<'w>(world: &'w World, name: &str) -> Result<&'w redlink_world::DnsZone, Failure> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    world
        .dns_zones
        .iter()
        .find(|z| z.name == n)
        .ok_or_else(|| not_found("private DNS zone", name))
}

fn private_dns(s: &mut Session, d: &DnsCommand) -> Result<(), Failure> {
    match d {
        DnsCommand::Zone(z) => match z {
            ZoneCommand::Create(a) => {
                s.change(Change::AddZone(a.name.clone()))?;
                let world = s.world()?;
                print(&az::zone(zone_of(&world, &a.name)?));
            }
            ZoneCommand::Delete(a) => {
                s.change(Change::RemoveZone(a.name.clone()))?;
            }
            ZoneCommand::Show(a) => {
                let world = s.world()?;
                print(&az::zone(zone_of(&world, &a.name)?));
            }
            ZoneCommand::List => {
                let world = s.world()?;
                print(&Json::Array(world.dns_zones.iter().map(az::zone).collect()));
            }
        },
        DnsCommand::Link(LinkCommand::Vnet(v)) => vnet(s, v)?,
        DnsCommand::RecordSet(RecordSetCommand::A(a)) => match a {
            ARecordCommand::AddRecord(r) | ARecordCommand::RemoveRecord(r) => {
                let (zone, name) = (r.zone_name.clone(), r.record_set_name.clone());
                s.change(if matches!(a, ARecordCommand::AddRecord(_)) {
                    Change::AddRecord(RecordChange {
                        zone,
                        name,
                        address: Some(r.ipv4_address),
                        endpoint: None,
                        ttl: None,
                    })
                } else {
                    Change::RemoveRecord(RecordRef {
                        zone,
                        name,
                        address: Some(r.ipv4_address),
                    })
                })?;
                let world = s.world()?;
                let zone = zone_of(&world, &r.zone_name)?;
                print(&az::record_set(zone, &r.record_set_name));
            }
            ARecordCommand::Show { zone_name, name } => {
                let world = s.world()?;
                let zone = zone_of(&world, zone_name)?;
                if zone.records.iter().all(|r| r.name != *name) {
                    return Err(not_found("record set", name));
                }
                print(&az::record_set(zone, name));
            }
            ARecordCommand::List { zone_name } => {
                let world = s.world()?;
                let zone = zone_of(&world, zone_name)?;
                let mut names: Vec<&str> = zone.records.iter().map(|r| r.name.as_str()).collect();
                names.dedup();
                print(&Json::Array(
                    names.iter().map(|n| az::record_set(zone, n)).collect(),
                ));
            }
        },
    }
    Ok(())
}

fn vnet(s: &mut Session, v: &VnetCommand) -> Result<(), Failure> {
    let show = |s: &mut Session, zone: &str, link: &str| -> Result<(), Failure> {
        let world = s.world()?;
        let z = zone_of(&world, zone)?;
        let l = z
            .links
            .iter()
            .find(|l| l.name == link)
            .ok_or_else(|| not_found("virtual network link", link))?;
        print(&az::link(z, l));
        Ok(())
    };
    // The network a link name stands for.
    let network_of = |s: &mut Session, link: &LinkRef| -> Result<String, Failure> {
        let world = s.world()?;
        let z = zone_of(&world, &link.zone_name)?;
        z.links
            .iter()
            .find(|l| l.name == link.name)
            .map(|l| l.network.clone())
            .ok_or_else(|| not_found("virtual network link", &link.name))
    };
    match v {
        VnetCommand::Create {
            link,
            virtual_network,
            resolution_policy,
            registration_enabled,
        } => {
            if !registration_enabled.eq_ignore_ascii_case("false") {
                return Err(Failure::Input(
                    "--registration-enabled true is not simulated (register records with record-set a add-record)".to_owned(),
                ));
            }
            let resolution_policy = resolution_policy
                .as_deref()
                .map_or(Ok(ResolutionPolicy::Default), policy)?;
            s.change(Change::Link(LinkChange {
                zone: link.zone_name.clone(),
                network: virtual_network.clone(),
                name: Some(link.name.clone()),
                resolution_policy,
            }))?;
            show(s, &link.zone_name, &link.name)
        }
        VnetCommand::Delete { link, .. } => {
            let network = network_of(s, link)?;
            s.change(Change::Unlink(ZoneNetwork {
                zone: link.zone_name.clone(),
                network,
            }))?;
            Ok(())
        }
        VnetCommand::Update {
            link,
            resolution_policy,
        } => {
            let policy = policy(resolution_policy)?;
            let network = network_of(s, link)?;
            s.change(Change::ResolutionPolicy(PolicyChange {
                zone: link.zone_name.clone(),
                network,
                policy,
            }))?;
            show(s, &link.zone_name, &link.name)
        }
        VnetCommand::Show { link } => show(s, &link.zone_name, &link.name),
        VnetCommand::List { zone_name } => {
            let world = s.world()?;
            let z = zone_of(&world, zone_name)?;
            print(&Json::Array(
                z.links.iter().map(|l| az::link(z, l)).collect(),
            ));
            Ok(())
        }
    }
}

fn redis(s: &mut Session, r: &RedisCommand) -> Result<(), Failure> {
    let name = match r {
        RedisCommand::Update {
            name,
            set,
            shard_count,
        } => {
            if let Some(n) = shard_count {
                s.change(Change::Scale(ScaleChange {
                    cache: name.clone(),
                    shards: *n,
                }))?;
            }
            let mut access: Option<&str> = None;
            let mut blocked: Option<&str> = None;
            for item in set {
                let (key, value) = item.split_once('=').ok_or_else(|| {
                    Failure::Input(format!("--set {item:?}: expected PROPERTY=VALUE"))
                })?;
                match key {
                    "publicNetworkAccess" => access = Some(value),
                    "publicBlockedAction" => blocked = Some(value),
                    "redisConfiguration.maxclients" | "maxclients" => {
                        let n = value.parse().map_err(|_| {
                            Failure::Input(format!("maxclients {value:?} is not a number"))
                        })?;
                        s.change(Change::Config(ConfigChange {
                            cache: name.clone(),
                            requirepass: None,
                            maxclients: Some(n),
                        }))?;
                    }
                    "requirepass" | "redisConfiguration.requirepass" => {
                        s.change(Change::Config(ConfigChange {
                            cache: name.clone(),
                            requirepass: Some(value.to_owned()),
                            maxclients: None,
                        }))?;
                    }
                    "enableNonSslPort" => {
                        let enabled = match value.to_ascii_lowercase().as_str() {
                            "true" => true,
                            "false" => false,
                            _ => {
                                return Err(Failure::Input(format!(
                                    "enableNonSslPort {value:?} is not true or false"
                                )));
                            }
                        };
                        s.change(Change::NonTlsPort(NonTlsPortChange {
                            cache: name.clone(),
                            enabled,
                        }))?;
                    }
                    "shardCount" => {
                        let shards = value.parse().map_err(|_| {
                            Failure::Input(format!("shardCount {value:?} is not a number"))
                        })?;
                        s.change(Change::Scale(ScaleChange {
                            cache: name.clone(),
                            shards,
                        }))?;
                    }
                    "minimumTlsVersion" => {
                        s.change(Change::MinimumTlsVersion(TlsVersionChange {
                            cache: name.clone(),
                            version: value.to_owned(),
                        }))?;
                    }
                    other => {
                        return Err(Failure::Input(format!(
                            "--set {other}: not simulated (publicNetworkAccess, publicBlockedAction, redisConfiguration.maxclients, requirepass, enableNonSslPort, minimumTlsVersion, shardCount)"
                        )));
                    }
                }
            }
            match (access, blocked) {
                (Some(a), b) => {
                    let access = choice::<PublicNetworkAccess>(
                        "publicNetworkAccess",
                        a,
                        &["Enabled", "Disabled"],
                    )?;
                    let blocked_action = b
                        .map(|b| {
                            choice::<BlockedAction>(
                                "publicBlockedAction",
                                b,
                                &["refuse", "drop", "reset", "blackhole"],
                            )
                        })
                        .transpose()?;
                    s.change(Change::PublicAccess(PublicAccessChange {
                        cache: name.clone(),
                        access,
                        blocked_action,
                    }))?;
                }
                (None, Some(_)) => {
                    return Err(Failure::Input(
                        "publicBlockedAction goes with publicNetworkAccess".to_owned(),
                    ));
                }
                (None, None) => {}
            }
            name
        }
        RedisCommand::Stop(a) => {
            s.change(Change::Stop(a.name.clone()))?;
            &a.name
        }
        RedisCommand::Start(a) => {
            s.change(Change::Start(a.name.clone()))?;
            &a.name
        }
        RedisCommand::ForceReboot {
            name,
            reboot_type,
            ports,
            shard_id,
        } => {
            let node = redlink_world::RebootNodes::from_az(reboot_type).ok_or_else(|| {
                Failure::Input(format!(
                    "--reboot-type {reboot_type:?} is not one of AllNodes, PrimaryNode, SecondaryNode"
                ))
            })?;
            if !ports.is_empty() || shard_id.is_some() {
                return Err(Failure::Input(
                    "--ports and --shard-id are not simulated: caches are not clustered (a reboot names nodes with --reboot-type)"
                        .to_owned(),
                ));
            }
            let done = s.change(Change::Reboot(redlink_world::change::RebootChange {
                cache: name.clone(),
                node,
            }))?;
            print(&serde_json::json!({ "message": done }));
            return Ok(());
        }
        RedisCommand::Maintenance { name, node } => {
            let node = match node.to_ascii_lowercase().as_str() {
                "primary" => redlink_world::NodeRole::Primary,
                "replica" => redlink_world::NodeRole::Replica,
                other => {
                    return Err(Failure::Input(format!(
                        "--node {other:?} is not one of primary, replica"
                    )));
                }
            };
            let done = s.change(Change::Maintenance(
                redlink_world::change::MaintenanceChange {
                    cache: name.clone(),
                    node,
                },
            ))?;
            print(&serde_json::json!({ "message": done }));
            return Ok(());
        }
        RedisCommand::Failover(a) => {
            let done = s.change(Change::Failover(a.name.clone()))?;
            print(&serde_json::json!({ "message": done }));
            return Ok(());
        }
        RedisCommand::Import {
            name,
            files,
            file_format,
        } => {
            rdb_format(file_format.as_ref())?;
            let [file] = files.as_slice() else {
                return Err(Failure::Input(format!(
                    "--files: {} files given; a cache that is not clustered imports one",
                    files.len()
                )));
            };
            let bytes = crate::cli::transfer::read_import(file).map_err(Failure::Input)?;
            let hex = redlink_runtime::to_hex(&bytes);
            data_call(s, &["CACHE.IMPORT", name, &hex])?;
            return Ok(());
        }
        RedisCommand::Export {
            name,
            prefix,
            container,
            file_format,
        } => {
            rdb_format(file_format.as_ref())?;
            let hex = data_call(s, &["CACHE.EXPORT", name])?;
            let bytes = redlink_runtime::from_hex(&hex)
                .map_err(|e| Failure::World(format!("bad export from the world: {e}")))?;
            crate::cli::transfer::write_export(container, prefix, &bytes)
                .map_err(Failure::Input)?;
            return Ok(());
        }
        RedisCommand::Show(a) => &a.name,
        RedisCommand::FirewallRules(f) => return resources::firewall_rules(s, f),
        RedisCommand::List => {
            let (world, state) = (s.world()?, s.state()?);
            print(&Json::Array(
                world
                    .caches
                    .iter()
                    .map(|c| az::redis(&world, &state, c))
                    .collect(),
            ));
            return Ok(());
        }
    };
    let (world, state) = (s.world()?, s.state()?);
    let cache = world.cache(name).ok_or_else(|| not_found("cache", name))?;
    print(&az::redis(&world, &state, cache));
    Ok(())
}

/// A `CACHE.IMPORT` / `CACHE.EXPORT` call; the world's refusal (unknown cache, corrupt file) is
/// bad input.
fn data_call(s: &mut Session, args: &[&str]) -> Result<String, Failure> {
    match s.client.call_text(args) {
        Ok(text) => Ok(text),
        Err(redlink_runtime::ControlClientError::Server(e)) => Err(Failure::Input(
            e.strip_prefix("ERR ").unwrap_or(&e).to_owned(),
        )),
        Err(e) => Err(e.into()),
    }
}

fn events(s: &mut Session, follow: bool, wait: Duration) -> Result<(), Failure> {
    s.client
        .send(&["SUBSCRIBE", redlink_runtime::EVENTS_CHANNEL])?;
    s.client.read()?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        let timeout = if follow {
            None
        } else {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            Some(left)
        };
        s.client.set_read_timeout(timeout)?;
        match s.client.read() {
            Ok(Value::Array(items)) => {
                if let Some(payload) = items.get(2).and_then(Value::as_text) {
                    say!("{payload}");
                }
            }
            Ok(_) => {}
            Err(redlink_runtime::ControlClientError::Io { source, .. })
                if !follow
                    && matches!(
                        source.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines.join("\n")
}

/// A Toxiproxy attribute's number.
fn attribute(attrs: &[(String, u64)], name: &str) -> Option<u64> {
    attrs.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// `toxic add` as the world's `add_toxic` change, from Toxiproxy's type and attribute names.
fn toxic_change(a: &ToxicAddArgs) -> Result<ToxicChange, Failure> {
    let toxicity = redlink_world::Toxicity::from_fraction(a.toxicity)
        .map_err(|e| Failure::Input(format!("--toxicity: {e}")))?;
    let mut attrs: Vec<(String, u64)> = Vec::new();
    for item in &a.attributes {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| Failure::Input(format!("--attribute {item:?}: expected NAME=VALUE")))?;
        let n = v
            .trim()
            .parse::<u64>()
            .map_err(|_| Failure::Input(format!("--attribute {k}={v:?}: not a whole number")))?;
        attrs.push((k.trim().to_owned(), n));
    }
    let (kind, allowed): (ToxicKindName, &[&str]) = match a.kind.as_str() {
        "latency" => (ToxicKindName::Latency, &["latency", "jitter"]),
        "bandwidth" => (ToxicKindName::Bandwidth, &["rate"]),
        "slicer" => (
            ToxicKindName::Slicer,
            &["average_size", "size_variation", "delay"],
        ),
        "timeout" => (ToxicKindName::Timeout, &["timeout"]),
        "reset_after" => (ToxicKindName::ResetAfter, &["bytes"]),
        "limit_data" => (ToxicKindName::LimitData, &["bytes"]),
        "slow_close" => (ToxicKindName::SlowClose, &["delay"]),
        "reset_peer" => (ToxicKindName::ResetPeer, &["timeout"]),
        other => {
            return Err(Failure::Input(format!(
                "unknown toxic type {other:?} (latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, reset_after)"
            )));
        }
    };
    if let Some((k, _)) = attrs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(Failure::Input(format!(
            "toxic type {} has no attribute {k} (it takes {})",
            a.kind,
            allowed.join(", ")
        )));
    }
    if attribute(&attrs, "size_variation").is_some_and(|v| v != 0) {
        return Err(Failure::Input(
            "slicer size_variation is not simulated (pieces are average_size bytes)".to_owned(),
        ));
    }
    Ok(ToxicChange {
        name: a.name.clone(),
        endpoint: a.endpoint.clone(),
        network: a.network.clone(),
        kind,
        direction: if a.upstream {
            ToxicDirection::Upstream
        } else {
            ToxicDirection::Downstream
        },
        latency_ms: attribute(&attrs, "latency"),
        jitter_ms: attribute(&attrs, "jitter"),
        rate_kbps: attribute(&attrs, "rate"),
        avg_size: attribute(&attrs, "average_size"),
        // `delay` is µs for slicer and ms for slow_close, as in Toxiproxy.
        delay_us: attribute(&attrs, "delay").filter(|_| kind == ToxicKindName::Slicer),
        delay_ms: attribute(&attrs, "delay").filter(|_| kind == ToxicKindName::SlowClose),
        bytes: attribute(&attrs, "bytes"),
        timeout_ms: attribute(&attrs, "timeout"),
        toxicity: (toxicity != redlink_world::Toxicity::ALWAYS).then_some(toxicity),
    })
}

fn toxic(s: &mut Session, t: &ToxicCommand) -> Result<(), Failure> {
    match t {
        ToxicCommand::Add(a) => {
            let change = toxic_change(a)?;
            // The world checks the kind's required attributes (one rule for files and ctl).
            change.toxic_kind().map_err(Failure::Input)?;
            s.change(Change::AddToxic(change))?;
            let world = s.world()?;
            let added = world
                .toxics
                .iter()
                .find(|x| x.name == a.name)
                .ok_or_else(|| not_found("toxic", &a.name))?;
            show(&az::toxic(added))
        }
        ToxicCommand::Remove(n) => {
            s.change(Change::RemoveToxic(n.name.clone()))?;
            Ok(())
        }
        ToxicCommand::List => {
            let world = s.world()?;
            show(&Json::Array(world.toxics.iter().map(az::toxic).collect()))
        }
    }
}
