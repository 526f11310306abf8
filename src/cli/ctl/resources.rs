//! The `ctl` verbs that create and delete resources besides zones and connections: virtual network
//! peerings (`network vnet peering`), network security group rules (`network nsg rule`, the
//! world's network rules), private endpoints (`network private-endpoint create|delete`) and a
//! cache's firewall rules (`redis firewall-rules`). Each builds a [`Change`] (`peer`, `add_rule`,
//! `create_endpoint`, `add_firewall_rule`…) and prints az's JSON shape of the result (`cli::az`).
//!
//! Flags are az's. What az needs but one simulated world does not is accepted and says so in its
//! help: `--nsg-name` (every rule is in the world's one rule table; the name shows in the ids),
//! `--subnet` (one subnet per network).

use std::net::Ipv4Addr;

use clap::{Args, Subcommand};
use redlink_world::change::{
    FirewallRuleChange, FirewallRuleRef, NewEndpoint, PeeringChange, RuleChange,
};
use redlink_world::{Change, ConnectionState, DenyAs, RuleAction};
use serde_json::Value as Json;

use super::{Failure, NameArg, Session, choice, not_found, print};
use crate::cli::az;

/// `network vnet …`.
#[derive(Subcommand, Debug)]
pub enum VnetNoun {
    /// Virtual network peerings: each network has its own side.
    #[command(subcommand)]
    Peering(PeeringCommand),
}

/// `--vnet-name V --name P`.
#[derive(Args, Debug)]
pub struct PeeringRef {
    /// The network whose side this is.
    #[arg(long)]
    pub vnet_name: String,
    /// The side's name.
    #[arg(long, short = 'n')]
    pub name: String,
}

/// `network vnet peering …`.
#[derive(Subcommand, Debug)]
pub enum PeeringCommand {
    /// Create one side of a peering: Initiated until the remote network has its side, then
    /// Connected (only Connected peerings pass traffic).
    Create {
        #[command(flatten)]
        peering: PeeringRef,
        /// The remote network (a name, or a virtual network id ending in its name).
        #[arg(long)]
        remote_vnet: String,
        /// Must be true (the default): a peering without virtual network access is not simulated.
        #[arg(long, default_value = "true")]
        allow_vnet_access: String,
    },
    /// Delete one side (a Connected remote side becomes Disconnected).
    Delete(PeeringRef),
    /// Show one side.
    Show(PeeringRef),
    /// List a network's sides.
    List {
        /// The network.
        #[arg(long)]
        vnet_name: String,
    },
}

/// `network nsg …`.
#[derive(Subcommand, Debug)]
pub enum NsgNoun {
    /// Security rules (the world's network rules).
    #[command(subcommand)]
    Rule(NsgRuleCommand),
}

/// `--nsg-name G --name R`.
#[derive(Args, Debug)]
pub struct NsgRuleRef {
    /// The NSG's name: shown in the rules' ids; every rule is in the world's one rule table.
    #[arg(long)]
    pub nsg_name: String,
    /// The rule's name.
    #[arg(long, short = 'n')]
    pub name: String,
}

/// `network nsg rule …`.
#[derive(Subcommand, Debug)]
pub enum NsgRuleCommand {
    /// Create a rule: traffic from a network to an endpoint or cache on a port is allowed or denied.
    Create {
        #[command(flatten)]
        rule: NsgRuleRef,
        /// 100–4096, lower first.
        #[arg(long)]
        priority: u16,
        /// Allow or Deny.
        #[arg(long, default_value = "Allow")]
        access: String,
        /// The source: a network's name, or `*` (any).
        #[arg(long = "source-address-prefixes", default_value = "*")]
        source: String,
        /// The destination: a private endpoint or cache name, or `*` (any).
        #[arg(long = "destination-address-prefixes", default_value = "*")]
        destination: String,
        /// The destination port, or `*` (any).
        #[arg(long = "destination-port-ranges", default_value = "*")]
        port: String,
        /// Tcp or `*` (the world carries TCP only).
        #[arg(long, default_value = "*")]
        protocol: String,
        /// Inbound (rules apply at the destination).
        #[arg(long, default_value = "Inbound")]
        direction: String,
        /// redlink's own: how a Deny fails — drop (an NSG's silent drop, default), refuse, reset,
        /// blackhole.
        #[arg(long, default_value = "drop")]
        deny_as: String,
    },
    /// Delete a rule.
    Delete(NsgRuleRef),
    /// Show a rule.
    Show(NsgRuleRef),
    /// List the rules.
    List {
        /// The NSG's name (shown in the ids).
        #[arg(long)]
        nsg_name: String,
    },
}

/// `network private-endpoint create` flags.
#[derive(Args, Debug)]
pub struct PeCreate {
    /// The endpoint's name.
    #[arg(long, short = 'n')]
    pub name: String,
    /// The network it lives in.
    #[arg(long)]
    pub vnet_name: String,
    /// Accepted for az compatibility: each network has one subnet.
    #[arg(long, default_value = "default")]
    pub subnet: String,
    /// The cache: its resource id (`…/providers/Microsoft.Cache/Redis/NAME`) or its name.
    #[arg(long)]
    pub private_connection_resource_id: String,
    /// The group id; must be the cache's (redisCache, redisEnterprise).
    #[arg(long)]
    pub group_id: Option<String>,
    /// Accepted for az compatibility: the connection is named after the endpoint.
    #[arg(long)]
    pub connection_name: Option<String>,
    /// Ask the cache owner for approval (the connection is Pending) instead of auto-approval.
    #[arg(long)]
    pub manual_request: bool,
    /// redlink's own: register the cache's A record in this private DNS zone, as
    /// `az network private-endpoint dns-zone-group create` does.
    #[arg(long, value_name = "ZONE")]
    pub register_in: Option<String>,
}

/// `redis firewall-rules …`.
#[derive(Subcommand, Debug)]
pub enum FirewallRulesCommand {
    /// Admit the public endpoint's clients from START-IP to END-IP.
    Create {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// The rule's name.
        #[arg(long)]
        rule_name: String,
        /// First address admitted.
        #[arg(long)]
        start_ip: Ipv4Addr,
        /// Last address admitted.
        #[arg(long)]
        end_ip: Ipv4Addr,
    },
    /// Delete a rule.
    Delete {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// The rule's name.
        #[arg(long)]
        rule_name: String,
    },
    /// Show a rule.
    Show {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
        /// The rule's name.
        #[arg(long)]
        rule_name: String,
    },
    /// List a cache's rules.
    List {
        /// The cache.
        #[arg(long, short = 'n')]
        name: String,
    },
}

/// The last segment of a resource id (or the name itself).
fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// `network vnet peering …`.
pub(super) fn peering(s: &mut Session, c: &PeeringCommand) -> Result<(), Failure> {
    // The remote network of `network`'s side named `name`.
    let remote_of = |s: &mut Session, r: &PeeringRef| -> Result<String, Failure> {
        let world = s.world()?;
        let net = world
            .network(&r.vnet_name)
            .ok_or_else(|| not_found("virtual network", &r.vnet_name))?;
        net.peerings()
            .into_iter()
            .map(|(remote, _)| remote)
            .find(|remote| net.peering_name(remote) == r.name)
            .ok_or_else(|| not_found("virtual network peering", &r.name))
    };
    let show = |s: &mut Session, network: &str, remote: &str| -> Result<(), Failure> {
        let world = s.world()?;
        let net = world
            .network(network)
            .ok_or_else(|| not_found("virtual network", network))?;
        let state = net
            .peering_state(remote)
            .ok_or_else(|| not_found("virtual network peering", &net.peering_name(remote)))?;
        print(&az::peering(net, remote, state));
        Ok(())
    };
    match c {
        PeeringCommand::Create {
            peering,
            remote_vnet,
            allow_vnet_access,
        } => {
            if !allow_vnet_access.eq_ignore_ascii_case("true") {
                return Err(Failure::Input(
                    "--allow-vnet-access false is not simulated (a peering here always carries traffic once Connected)".to_owned(),
                ));
            }
            let remote = last_segment(remote_vnet).to_owned();
            s.change(Change::Peer(PeeringChange {
                network: peering.vnet_name.clone(),
                remote: remote.clone(),
                name: Some(peering.name.clone()),
            }))?;
            show(s, &peering.vnet_name, &remote)
        }
        PeeringCommand::Delete(r) => {
            let remote = remote_of(s, r)?;
            s.change(Change::Unpeer(PeeringChange {
                network: r.vnet_name.clone(),
                remote,
                name: None,
            }))?;
            Ok(())
        }
        PeeringCommand::Show(r) => {
            let remote = remote_of(s, r)?;
            show(s, &r.vnet_name, &remote)
        }
        PeeringCommand::List { vnet_name } => {
            let world = s.world()?;
            let net = world
                .network(vnet_name)
                .ok_or_else(|| not_found("virtual network", vnet_name))?;
            print(&Json::Array(
                net.peerings()
                    .iter()
                    .map(|(remote, state)| az::peering(net, remote, *state))
                    .collect(),
            ));
            Ok(())
        }
    }
}

/// `*` or a value.
fn any(v: &str) -> Option<String> {
    (v != "*").then(|| v.to_owned())
}

/// `network nsg rule …`.
pub(super) fn nsg_rule(s: &mut Session, c: &NsgRuleCommand) -> Result<(), Failure> {
    let show = |s: &mut Session, nsg: &str, name: &str| -> Result<(), Failure> {
        let world = s.world()?;
        let rule = world
            .network_rule(name)
            .ok_or_else(|| not_found("security rule", name))?;
        print(&az::nsg_rule(nsg, rule));
        Ok(())
    };
    match c {
        NsgRuleCommand::Create {
            rule,
            priority,
            access,
            source,
            destination,
            port,
            protocol,
            direction,
            deny_as,
        } => {
            if !matches!(protocol.to_ascii_lowercase().as_str(), "tcp" | "*") {
                return Err(Failure::Input(format!(
                    "--protocol {protocol}: the world carries TCP only (Tcp or *)"
                )));
            }
            if !direction.eq_ignore_ascii_case("Inbound") {
                return Err(Failure::Input(format!(
                    "--direction {direction}: rules apply inbound, at the destination (Inbound)"
                )));
            }
            let action = choice::<RuleAction>("--access", access, &["allow", "deny"])?;
            let deny_as = choice::<DenyAs>(
                "--deny-as",
                deny_as,
                &["drop", "refuse", "reset", "blackhole"],
            )?;
            let port = any(port)
                .map(|p| {
                    p.parse::<u16>().map_err(|_| {
                        Failure::Input(format!(
                            "--destination-port-ranges {p:?}: one port (1-65535) or *"
                        ))
                    })
                })
                .transpose()?;
            s.change(Change::AddRule(RuleChange {
                name: rule.name.clone(),
                priority: *priority,
                source: any(source),
                destination: any(destination),
                port,
                action,
                deny_as,
            }))?;
            show(s, &rule.nsg_name, &rule.name)
        }
        NsgRuleCommand::Delete(r) => {
            s.change(Change::RemoveRule(r.name.clone()))?;
            Ok(())
        }
        NsgRuleCommand::Show(r) => show(s, &r.nsg_name, &r.name),
        NsgRuleCommand::List { nsg_name } => {
            let world = s.world()?;
            print(&Json::Array(
                world
                    .network_rules
                    .iter()
                    .map(|r| az::nsg_rule(nsg_name, r))
                    .collect(),
            ));
            Ok(())
        }
    }
}

/// `network private-endpoint create`.
pub(super) fn create_endpoint(s: &mut Session, a: &PeCreate) -> Result<(), Failure> {
    let cache = last_segment(&a.private_connection_resource_id).to_owned();
    let world = s.world()?;
    let c = world
        .cache(&cache)
        .ok_or_else(|| not_found("cache", &cache))?;
    if let Some(g) = &a.group_id
        && g != c.group_id()
    {
        return Err(Failure::Input(format!(
            "--group-id {g}: cache {cache} has group id {}",
            c.group_id()
        )));
    }
    s.change(Change::CreateEndpoint(NewEndpoint {
        name: a.name.clone(),
        network: a.vnet_name.clone(),
        cache,
        state: if a.manual_request {
            ConnectionState::Pending
        } else {
            ConnectionState::Approved
        },
        register_in: a.register_in.clone(),
    }))?;
    let (world, state) = (s.world()?, s.state()?);
    let pe = world
        .private_endpoint(&a.name)
        .ok_or_else(|| not_found("private endpoint", &a.name))?;
    print(&az::private_endpoint(&world, &state, pe));
    Ok(())
}

/// `network private-endpoint delete`.
pub(super) fn delete_endpoint(s: &mut Session, a: &NameArg) -> Result<(), Failure> {
    s.change(Change::DeleteEndpoint(a.name.clone()))?;
    Ok(())
}

/// `redis firewall-rules …`.
pub(super) fn firewall_rules(s: &mut Session, c: &FirewallRulesCommand) -> Result<(), Failure> {
    let show = |s: &mut Session, cache: &str, rule: &str| -> Result<(), Failure> {
        let world = s.world()?;
        let c = world
            .cache(cache)
            .ok_or_else(|| not_found("cache", cache))?;
        let r = c
            .firewall_rules
            .iter()
            .find(|r| r.name == rule)
            .ok_or_else(|| not_found("firewall rule", rule))?;
        print(&az::firewall_rule(c, r));
        Ok(())
    };
    match c {
        FirewallRulesCommand::Create {
            name,
            rule_name,
            start_ip,
            end_ip,
        } => {
            s.change(Change::AddFirewallRule(FirewallRuleChange {
                cache: name.clone(),
                name: rule_name.clone(),
                start: *start_ip,
                end: *end_ip,
            }))?;
            show(s, name, rule_name)
        }
        FirewallRulesCommand::Delete { name, rule_name } => {
            s.change(Change::RemoveFirewallRule(FirewallRuleRef {
                cache: name.clone(),
                name: rule_name.clone(),
            }))?;
            Ok(())
        }
        FirewallRulesCommand::Show { name, rule_name } => show(s, name, rule_name),
        FirewallRulesCommand::List { name } => {
            let world = s.world()?;
            let c = world.cache(name).ok_or_else(|| not_found("cache", name))?;
            print(&Json::Array(
                c.firewall_rules
                    .iter()
                    .map(|r| az::firewall_rule(c, r))
                    .collect(),
            ));
            Ok(())
        }
    }
}
