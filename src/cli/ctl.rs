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
use redlink_runtime::{ControlClient, StateFile, Value, locate_state_file};
use redlink_world::change::{
    ConfigChange, LinkChange, PolicyChange, PublicAccessChange, RecordChange, RecordRef,
    ZoneNetwork,
};
use redlink_world::{BlockedAction, Change, PublicNetworkAccess, ResolutionPolicy, World};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::cli::{az, say};

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
    /// Per network: where each cache's name resolves and the verdict for each endpoint.
    Status,
    /// Send one raw control command (e.g. `ctl raw PE.SETSTATE pe-hub Pending`) and print the reply.
    Raw {
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
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
}

/// `network private-endpoint …`.
#[derive(Subcommand, Debug)]
pub enum PeCommand {
    /// Show one private endpoint.
    Show(NameArg),
    /// List private endpoints.
    List,
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
    /// with it, `redisConfiguration.maxclients=N`, `requirepass=P`).
    Update {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// PROPERTY=VALUE, repeatable.
        #[arg(long, value_name = "PROPERTY=VALUE", required = true)]
        set: Vec<String>,
    },
    /// Show a cache.
    Show(NameArg),
    /// List caches.
    List,
    /// Stop a cache's engine (redlink's own: its endpoints refuse).
    Stop(NameArg),
    /// Start a cache's engine again (redlink's own).
    Start(NameArg),
    /// Reboot a cache: open connections close; the data comes back only if the cache persists it.
    #[command(name = "force-reboot")]
    ForceReboot {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// AllNodes (PrimaryNode and SecondaryNode need replicas, which caches do not have yet).
        #[arg(long)]
        reboot_type: String,
        /// Not simulated (one node per cache): refused.
        #[arg(long, num_args = 1..)]
        ports: Vec<u16>,
        /// Not simulated (caches are not clustered): refused.
        #[arg(long)]
        shard_id: Option<u32>,
    },
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

/// Why a ctl command failed: bad input (exit 2) or the world (exit 1).
enum Failure {
    Input(String),
    World(String),
}

impl From<redlink_runtime::ControlClientError> for Failure {
    fn from(e: redlink_runtime::ControlClientError) -> Self {
        Failure::World(e.to_string())
    }
}

/// Runs `redlink ctl`.
pub fn main(args: CtlArgs) -> ExitCode {
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
    }
}

/// The control address and password: `--control`, else the state file's `control`; `--password`,
/// else the state file's `control_password` (with `--control`, when the state file names the same
/// address).
fn control_address(args: &CtlArgs) -> Result<(SocketAddr, Option<String>), Failure> {
    let read_state = || -> Result<(PathBuf, StateFile), Failure> {
        let path = locate_state_file(args.state_file.as_deref()).map_err(Failure::World)?;
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

    /// Applies a change (sent as JSON, `WORLD.CHANGE`); a refusal by the world (unknown name…)
    /// is bad input.
    fn change(&mut self, change: Change) -> Result<String, Failure> {
        let json = serde_json::to_string(&change)
            .map_err(|e| Failure::World(format!("cannot encode the change: {e}")))?;
        match self.client.call_text(&["WORLD.CHANGE", &json]) {
            Ok(done) => Ok(done),
            Err(redlink_runtime::ControlClientError::Server(e)) => Err(Failure::Input(
                e.strip_prefix("ERR ").unwrap_or(&e).to_owned(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

fn print(json: &Json) {
    say!(
        "{}",
        serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
    );
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
            print(&az::status(&world, &state, &counts));
            Ok(())
        }
        CtlCommand::Raw { args } => {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let v = s.client.call(&argv)?;
            say!("{}", show_value(&v));
            Ok(())
        }
    }
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
        RedisCommand::Update { name, set } => {
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
                    other => {
                        return Err(Failure::Input(format!(
                            "--set {other}: not simulated (publicNetworkAccess, publicBlockedAction, redisConfiguration.maxclients, requirepass)"
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
                    "--ports and --shard-id are not simulated: caches are one node, not clustered"
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
