//! Changes to a world, for the timeline and the control plane: each is a plain method that checks its
//! references and either applies the change completely or returns a [`WorldError`] and leaves the
//! world as it was. Callers publish the changed world (e.g. through a `tokio::sync::watch`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::address::is_loopback;
use crate::error::{APPROVING_REJECTED, WorldError};
use crate::model::{
    ARecord, BlockedAction, ConnectionState, FORWARD_TO_INTERNET, ForwardRule, Forwarder,
    ForwarderAnswer, HalfPeering, MINIMUM_TLS_VERSION, NetworkRule, PeeringState,
    PublicNetworkAccess, ResolutionPolicy, World, ZoneLink,
};
use crate::names::{self, RecordNameError, default_link_name, is_dns_name, normalize_name};
use crate::toxic::Toxic;
use crate::ttl;

impl World {
    fn zone_mut(&mut self, zone: &str) -> Result<&mut crate::model::DnsZone, WorldError> {
        let i = self.zone_index(zone)?;
        Ok(&mut self.dns_zones[i])
    }

    fn require_network(&self, network: &str) -> Result<(), WorldError> {
        self.network(network)
            .map(|_| ())
            .ok_or_else(|| WorldError::UnknownNetwork(network.to_owned()))
    }

    fn cache_mut(&mut self, cache: &str) -> Result<&mut crate::model::Cache, WorldError> {
        self.caches
            .iter_mut()
            .find(|c| c.name == cache)
            .ok_or_else(|| WorldError::UnknownCache(cache.to_owned()))
    }

    /// Creates an empty private DNS zone (no records, no links): `NAME`, or `RESOURCE_GROUP/NAME`
    /// for one of several zones of a name.
    pub fn add_zone(&mut self, zone: &str) -> Result<(), WorldError> {
        let (group, raw) = match zone.split_once('/') {
            Some((g, n)) => (Some(g.to_owned()), n),
            None => (None, zone),
        };
        let name = normalize_name(raw);
        if !is_dns_name(&name) {
            return Err(WorldError::Invalid(format!(
                "{raw:?} is not a valid DNS name"
            )));
        }
        if let Some(g) = &group
            && (g.is_empty()
                || !g
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')')))
        {
            return Err(WorldError::Invalid(format!(
                "resource group {g:?} must be letters, digits, '-', '_', '.', '(' or ')'"
            )));
        }
        if self
            .dns_zones
            .iter()
            .any(|z| z.name == name && z.resource_group == group)
        {
            return Err(WorldError::Duplicate {
                kind: "private DNS zone",
                name: zone.to_owned(),
            });
        }
        self.dns_zones.push(crate::model::DnsZone {
            name,
            resource_group: group,
            records: Vec::new(),
            links: Vec::new(),
        });
        Ok(())
    }

    /// Links `zone` to `network` with link name `link` (default `NETWORK-link`).
    pub fn link_zone(
        &mut self,
        zone: &str,
        network: &str,
        link: Option<&str>,
        resolution_policy: ResolutionPolicy,
    ) -> Result<(), WorldError> {
        self.require_network(network)?;
        let index = self.zone_index(zone)?;
        if resolution_policy == ResolutionPolicy::NxDomainRedirect
            && !names::is_privatelink_zone(&self.dns_zones[index].name)
        {
            return Err(WorldError::Invalid(names::nx_domain_redirect_error(
                &self.dns_zones[index].name,
            )));
        }
        // Azure: a virtual network links to one private zone of a given name.
        if let Some((other, existing)) = self
            .dns_zones
            .iter()
            .enumerate()
            .filter(|(i, z)| *i != index && z.name == self.dns_zones[index].name)
            .find_map(|(_, z)| z.link_to(network).map(|l| (z, l)))
        {
            return Err(WorldError::AlreadyLinked {
                zone: other.label(),
                network: network.to_owned(),
                link: existing.name.clone(),
            });
        }
        let z = &mut self.dns_zones[index];
        if let Some(existing) = z.link_to(network) {
            return Err(WorldError::AlreadyLinked {
                zone: z.name.clone(),
                network: network.to_owned(),
                link: existing.name.clone(),
            });
        }
        let name = link.map_or_else(|| default_link_name(network), str::to_owned);
        if z.links.iter().any(|l| l.name == name) {
            return Err(WorldError::Duplicate { kind: "link", name });
        }
        z.links.push(ZoneLink {
            name,
            network: network.to_owned(),
            resolution_policy,
        });
        Ok(())
    }

    /// Removes the link between `zone` and `network`.
    pub fn unlink_zone(&mut self, zone: &str, network: &str) -> Result<ZoneLink, WorldError> {
        let z = self.zone_mut(zone)?;
        let i = z
            .links
            .iter()
            .position(|l| l.network == network)
            .ok_or_else(|| WorldError::NotLinked {
                zone: z.name.clone(),
                network: network.to_owned(),
            })?;
        Ok(z.links.remove(i))
    }

    /// Sets the resolution policy of the link between `zone` and `network`.
    pub fn set_resolution_policy(
        &mut self,
        zone: &str,
        network: &str,
        policy: ResolutionPolicy,
    ) -> Result<(), WorldError> {
        let z = self.zone_mut(zone)?;
        let zone_name = z.name.clone();
        if policy == ResolutionPolicy::NxDomainRedirect && !names::is_privatelink_zone(&zone_name) {
            return Err(WorldError::Invalid(names::nx_domain_redirect_error(
                &zone_name,
            )));
        }
        let link =
            z.links
                .iter_mut()
                .find(|l| l.network == network)
                .ok_or(WorldError::NotLinked {
                    zone: zone_name,
                    network: network.to_owned(),
                })?;
        link.resolution_policy = policy;
        Ok(())
    }

    /// Adds an A record `name` (relative to the zone) → `address`; `ttl` defaults to 10 s.
    pub fn add_record(
        &mut self,
        zone: &str,
        name: &str,
        address: Ipv4Addr,
        ttl: Option<u32>,
    ) -> Result<(), WorldError> {
        if !is_loopback(address) {
            return Err(WorldError::AddressOutsideLoopback(address));
        }
        let z = self.zone_mut(zone)?;
        let relative = relative_name(&z.name, name)?;
        if z.records
            .iter()
            .any(|r| r.name == relative && r.address == address)
        {
            return Err(WorldError::Duplicate {
                kind: "record",
                name: format!("{relative} → {address}"),
            });
        }
        z.records.push(ARecord {
            name: relative,
            address,
            ttl: ttl.unwrap_or(ttl::PRIVATE_RECORD),
            registered_by: None,
        });
        Ok(())
    }

    /// Removes the A records `name` of `zone` (only the one with `address`, when given). Returns what
    /// was removed.
    pub fn remove_record(
        &mut self,
        zone: &str,
        name: &str,
        address: Option<Ipv4Addr>,
    ) -> Result<Vec<ARecord>, WorldError> {
        let z = self.zone_mut(zone)?;
        let relative = relative_name(&z.name, name)?;
        let (removed, kept): (Vec<ARecord>, Vec<ARecord>) = z
            .records
            .drain(..)
            .partition(|r| r.name == relative && address.is_none_or(|a| a == r.address));
        z.records = kept;
        if removed.is_empty() {
            return Err(WorldError::UnknownRecord {
                zone: z.name.clone(),
                name: relative,
                address,
            });
        }
        Ok(removed)
    }

    /// Sets a private endpoint's connection state. Approving a Rejected or Disconnected connection
    /// is refused, as Azure refuses it: a Rejected connection stays rejected (Azure:
    /// [`APPROVING_REJECTED`]), a Disconnected endpoint is deleted and created again.
    pub fn set_endpoint_state(
        &mut self,
        endpoint: &str,
        state: ConnectionState,
    ) -> Result<ConnectionState, WorldError> {
        let e = self
            .private_endpoints
            .iter_mut()
            .find(|e| e.name == endpoint)
            .ok_or_else(|| WorldError::UnknownEndpoint(endpoint.to_owned()))?;
        if state == ConnectionState::Approved {
            match e.state {
                ConnectionState::Rejected => {
                    return Err(WorldError::Refused {
                        code: "BadRequest",
                        message: APPROVING_REJECTED.to_owned(),
                    });
                }
                ConnectionState::Disconnected => {
                    return Err(WorldError::Refused {
                        code: "BadRequest",
                        message: format!(
                            "Approving disconnected private endpoint connections is not supported: delete private endpoint {endpoint} and create it again."
                        ),
                    });
                }
                _ => {}
            }
        }
        Ok(std::mem::replace(&mut e.state, state))
    }

    /// Sets a cache's public network access (and, when given, what blocked clients see).
    pub fn set_public_access(
        &mut self,
        cache: &str,
        access: PublicNetworkAccess,
        blocked_action: Option<BlockedAction>,
    ) -> Result<(), WorldError> {
        let c = self.cache_mut(cache)?;
        c.public_network_access = access;
        if let Some(a) = blocked_action {
            c.public_blocked_action = a;
        }
        Ok(())
    }

    /// Starts (`true`) or stops (`false`) a cache's engine. Returns the previous value.
    pub fn set_cache_running(&mut self, cache: &str, running: bool) -> Result<bool, WorldError> {
        let c = self.cache_mut(cache)?;
        Ok(std::mem::replace(&mut c.running, running))
    }

    /// Records whether `cache`'s backend answers (`None`) or why not; returns whether that changed.
    pub fn set_backend_unreachable(
        &mut self,
        cache: &str,
        why: Option<String>,
    ) -> Result<bool, WorldError> {
        let c = self.cache_mut(cache)?;
        let changed = c.backend_unreachable != why;
        c.backend_unreachable = why;
        Ok(changed)
    }

    /// Records a cluster backend's nodes: `nodes` have per-node ports (never fewer than before:
    /// a node keeps its number and ports for the life of the world), `down` those that do not
    /// answer and why. Returns whether anything changed.
    pub fn set_backend_nodes(
        &mut self,
        cache: &str,
        nodes: u16,
        down: BTreeMap<u16, String>,
    ) -> Result<bool, WorldError> {
        let c = self.cache_mut(cache)?;
        let nodes = nodes.max(c.backend_nodes);
        let changed = c.backend_nodes != nodes || c.backend_nodes_down != down;
        c.backend_nodes = nodes;
        c.backend_nodes_down = down;
        Ok(changed)
    }

    /// Adds a network rule (its name must be new, its references must exist).
    pub fn add_rule(&mut self, rule: NetworkRule) -> Result<(), WorldError> {
        if self.network_rule(&rule.name).is_some() {
            return Err(WorldError::Duplicate {
                kind: "network rule",
                name: rule.name,
            });
        }
        if !(100..=4096).contains(&rule.priority) {
            return Err(WorldError::Invalid(format!(
                "priority {} is outside 100–4096",
                rule.priority
            )));
        }
        if let Some(src) = &rule.source {
            self.require_network(src)?;
            if rule.deny_as == crate::model::DenyAs::Refuse {
                return Err(WorldError::Invalid(format!(
                    "deny as refuse for source {src} only is not possible without privileges: use drop or reset"
                )));
            }
        }
        if let Some(dst) = &rule.destination
            && self.private_endpoint(dst).is_none()
            && self.cache(dst).is_none()
        {
            return Err(WorldError::UnknownEndpoint(dst.clone()));
        }
        self.network_rules.push(rule);
        Ok(())
    }

    /// Removes the network rule `name`.
    pub fn remove_rule(&mut self, name: &str) -> Result<NetworkRule, WorldError> {
        let i = self
            .network_rules
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| WorldError::UnknownRule(name.to_owned()))?;
        Ok(self.network_rules.remove(i))
    }

    /// Gives `network` a custom DNS forwarder (or, with `None`, returns it to Azure-provided DNS).
    pub fn set_forwarder(
        &mut self,
        network: &str,
        forwarder: Option<Forwarder>,
    ) -> Result<Option<Forwarder>, WorldError> {
        if let Some(f) = &forwarder {
            if let Some(t) = &f.forwards_to {
                self.require_network(t)?;
            }
            if let Some(a) = f.answers.values().find(|a| !is_loopback(a.address)) {
                return Err(WorldError::AddressOutsideLoopback(a.address));
            }
        }
        let n = self
            .networks
            .iter_mut()
            .find(|n| n.name == network)
            .ok_or_else(|| WorldError::UnknownNetwork(network.to_owned()))?;
        Ok(std::mem::replace(&mut n.forwarder, forwarder))
    }

    /// Sets (`Some`) or removes (`None`) the static answer of `network`'s forwarder for `name`.
    /// `ttl` defaults to 300 s.
    pub fn set_forwarder_answer(
        &mut self,
        network: &str,
        name: &str,
        address: Option<Ipv4Addr>,
        ttl: Option<u32>,
    ) -> Result<(), WorldError> {
        let key = normalize_name(name);
        if !is_dns_name(&key) {
            return Err(WorldError::Invalid(format!(
                "{name:?} is not a valid DNS name"
            )));
        }
        if let Some(a) = address
            && !is_loopback(a)
        {
            return Err(WorldError::AddressOutsideLoopback(a));
        }
        let n = self
            .networks
            .iter_mut()
            .find(|n| n.name == network)
            .ok_or_else(|| WorldError::UnknownNetwork(network.to_owned()))?;
        let f = n
            .forwarder
            .as_mut()
            .ok_or_else(|| WorldError::NoForwarder(network.to_owned()))?;
        match address {
            Some(address) => {
                f.answers.insert(
                    key,
                    ForwarderAnswer {
                        address,
                        ttl: ttl.unwrap_or(ttl::FORWARDER_ANSWER),
                    },
                );
            }
            None => {
                f.answers.remove(&key);
            }
        }
        Ok(())
    }

    /// Adds a toxic (its name must be new, its endpoint and network must exist).
    pub fn add_toxic(&mut self, toxic: Toxic) -> Result<(), WorldError> {
        if self.toxics.iter().any(|t| t.name == toxic.name) {
            return Err(WorldError::Duplicate {
                kind: "toxic",
                name: toxic.name,
            });
        }
        if let Some(n) = &toxic.network
            && self.network(n).is_none()
        {
            return Err(WorldError::UnknownNetwork(n.clone()));
        }
        if let Some(e) = &toxic.endpoint
            && self.private_endpoint(e).is_none()
            && self.cache(e).is_none()
        {
            return Err(WorldError::UnknownEndpoint(e.clone()));
        }
        toxic.check().map_err(WorldError::Invalid)?;
        self.toxics.push(toxic);
        Ok(())
    }

    /// Removes the toxic `name` and returns it.
    pub fn remove_toxic(&mut self, name: &str) -> Result<Toxic, WorldError> {
        let i = self
            .toxics
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| WorldError::Invalid(format!("the world has no toxic named {name}")))?;
        Ok(self.toxics.remove(i))
    }
}

/// Lifecycle changes the timeline needs: creating and deleting private endpoints and zones, and the
/// cache settings the engine follows (`requirepass`, `maxclients`).
impl World {
    /// Creates private endpoint `name` in `network` for `cache` with `state`, at `address` or the
    /// next free address of the network's range. With `register_in`, the zone gets the cache's A
    /// record (replacing records of that name), as Azure's DNS zone group does. Returns the address.
    pub fn add_private_endpoint(
        &mut self,
        name: &str,
        network: &str,
        cache: &str,
        state: ConnectionState,
        address: Option<Ipv4Addr>,
        register_in: Option<&str>,
    ) -> Result<Ipv4Addr, WorldError> {
        if self.private_endpoint(name).is_some() {
            return Err(WorldError::Duplicate {
                kind: "private endpoint",
                name: name.to_owned(),
            });
        }
        let index = self
            .networks
            .iter()
            .position(|n| n.name == network)
            .ok_or_else(|| WorldError::UnknownNetwork(network.to_owned()))?;
        let c = self
            .cache(cache)
            .ok_or_else(|| WorldError::UnknownCache(cache.to_owned()))?;
        let (group_id, relative) = (c.group_id().to_owned(), c.relative_name());
        if let Some(zone) = register_in {
            self.zone_mut(zone)?;
        }
        let address = match address {
            Some(a) if !is_loopback(a) => return Err(WorldError::AddressOutsideLoopback(a)),
            Some(a) if self.address_owner(a).is_some() => {
                return Err(WorldError::Invalid(format!(
                    "address {a} is already in use"
                )));
            }
            Some(a) => a,
            None => {
                let n = u8::try_from(index + 1)
                    .map_err(|_| WorldError::Invalid("too many networks".to_owned()))?;
                (crate::address::FIRST_ENDPOINT_HOST..=254)
                    .map(|host| self.plan.private_endpoint(n, host))
                    .find(|a| self.address_owner(*a).is_none())
                    .ok_or_else(|| {
                        WorldError::Invalid(format!("network {network} has no free address left"))
                    })?
            }
        };
        if let Some(zone) = register_in {
            let z = self.zone_mut(zone)?;
            z.records.retain(|r| r.name != relative);
            z.records.push(ARecord {
                name: relative,
                address,
                ttl: ttl::PRIVATE_RECORD,
                registered_by: Some(name.to_owned()),
            });
        }
        self.private_endpoints.push(crate::model::PrivateEndpoint {
            name: name.to_owned(),
            network: network.to_owned(),
            cache: cache.to_owned(),
            group_id,
            state,
            address,
        });
        Ok(address)
    }

    /// Deletes private endpoint `name`, and the A records its DNS zone group registered.
    pub fn remove_private_endpoint(
        &mut self,
        name: &str,
    ) -> Result<crate::model::PrivateEndpoint, WorldError> {
        let i = self
            .private_endpoints
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| WorldError::UnknownEndpoint(name.to_owned()))?;
        for z in &mut self.dns_zones {
            z.records
                .retain(|r| r.registered_by.as_deref() != Some(name));
        }
        Ok(self.private_endpoints.remove(i))
    }

    /// Deletes private DNS zone `zone` with its records and links.
    pub fn remove_zone(&mut self, zone: &str) -> Result<crate::model::DnsZone, WorldError> {
        let i = self.zone_index(zone)?;
        Ok(self.dns_zones.remove(i))
    }

    /// Sets (`Some`, non-empty) or clears (`None` or empty, as Redis's `requirepass ""`) a cache's
    /// password. The runtime pushes it to the cache's engine.
    pub fn set_requirepass(
        &mut self,
        cache: &str,
        password: Option<&str>,
    ) -> Result<Option<String>, WorldError> {
        let c = self.cache_mut(cache)?;
        let new = password.filter(|p| !p.is_empty()).map(str::to_owned);
        Ok(std::mem::replace(&mut c.requirepass, new))
    }

    /// Sets a cache's maximum number of clients (at least 1). The runtime pushes it to the engine.
    pub fn set_maxclients(
        &mut self,
        cache: &str,
        maxclients: u32,
    ) -> Result<Option<u32>, WorldError> {
        if maxclients == 0 {
            return Err(WorldError::Invalid(
                "maxclients must be at least 1".to_owned(),
            ));
        }
        let c = self.cache_mut(cache)?;
        Ok(c.maxclients.replace(maxclients))
    }

    /// Sets a clustered Premium cache's shard count (1 to 30) and returns the previous one. The
    /// runtime then moves slots to the new layout. Managed Redis shard counts follow the SKU
    /// (Azure: "You can't manually change the number of shards"), and a cache that is not clustered
    /// has no shard count to change.
    pub fn set_shards(&mut self, cache: &str, shards: u16) -> Result<u16, WorldError> {
        let c = self.cache_mut(cache)?;
        if c.flavour == crate::flavour::Flavour::ManagedRedis {
            return Err(WorldError::Invalid(format!(
                "cache {cache} is managed-redis, whose shard count follows its SKU and cannot be changed (Azure: \"You can't manually change the number of shards\")"
            )));
        }
        let Some(before) = c.shards else {
            return Err(WorldError::Invalid(format!(
                "cache {cache} is not clustered: give it shards = N in the scenario to reshard it"
            )));
        };
        let max = crate::cluster_ports::PREMIUM_MAX_SHARDS;
        if shards == 0 || shards > max {
            return Err(WorldError::Invalid(format!(
                "cache {cache}: shard count {shards} is out of range (1 to {max})"
            )));
        }
        if !c.running {
            return Err(WorldError::Invalid(format!(
                "cache {cache} is stopped: start it before resharding"
            )));
        }
        c.shards = Some(shards);
        Ok(before)
    }
}

impl World {
    /// Adds a firewall rule to a cache's public endpoint (its name must be new in the cache).
    pub fn add_firewall_rule(
        &mut self,
        cache: &str,
        rule: crate::model::FirewallRule,
    ) -> Result<(), WorldError> {
        if rule.start > rule.end {
            return Err(WorldError::Invalid(format!(
                "firewall rule {} ends ({}) before it starts ({})",
                rule.name, rule.end, rule.start
            )));
        }
        let c = self.cache_mut(cache)?;
        if c.firewall_rules.iter().any(|r| r.name == rule.name) {
            return Err(WorldError::Duplicate {
                kind: "firewall rule",
                name: rule.name,
            });
        }
        c.firewall_rules.push(rule);
        Ok(())
    }

    /// Removes the firewall rule `name` of a cache.
    pub fn remove_firewall_rule(
        &mut self,
        cache: &str,
        name: &str,
    ) -> Result<crate::model::FirewallRule, WorldError> {
        let c = self.cache_mut(cache)?;
        let i = c
            .firewall_rules
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| {
                WorldError::Invalid(format!("cache {cache} has no firewall rule named {name}"))
            })?;
        Ok(c.firewall_rules.remove(i))
    }

    /// Peers (`true`) or unpeers (`false`) networks `a` and `b` (symmetric). Returns whether they
    /// were peered before.
    pub fn set_peering(&mut self, a: &str, b: &str, peered: bool) -> Result<bool, WorldError> {
        self.require_network(a)?;
        self.require_network(b)?;
        if a == b {
            return Err(WorldError::Invalid(format!(
                "network {a} cannot be peered with itself"
            )));
        }
        let before = self
            .network(a)
            .is_some_and(|n| n.peered_with.iter().any(|p| p == b));
        for (x, y) in [(a, b), (b, a)] {
            if let Some(n) = self.networks.iter_mut().find(|n| n.name == x) {
                n.peered_with.retain(|p| p != y);
                if peered {
                    n.peered_with.push(y.to_owned());
                }
            }
        }
        Ok(before)
    }
}

impl World {
    /// Creates `network`'s side of a peering to `remote`: `Initiated` until `remote` has its side
    /// back, `Connected` (both sides) when `remote`'s side was waiting. Returns the new state.
    pub fn create_peering(
        &mut self,
        network: &str,
        remote: &str,
        name: Option<&str>,
    ) -> Result<PeeringState, WorldError> {
        if let Some(n) = name
            && (n.is_empty()
                || n.len() > 80
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(WorldError::Invalid(format!(
                "peering name {n:?} must be 1–80 letters, digits, '-', '_' or '.'"
            )));
        }
        if let Some(n) = name
            && let Some(other) = self.network(network).and_then(|net| {
                net.peerings()
                    .into_iter()
                    .find(|(r, _)| net.peering_name(r) == n)
            })
        {
            return Err(WorldError::Duplicate {
                kind: "peering",
                name: format!("{n} (network {network}'s peering to {})", other.0),
            });
        }
        self.require_network(network)?;
        self.require_network(remote)?;
        if network == remote {
            return Err(WorldError::Invalid(format!(
                "network {network} cannot be peered with itself"
            )));
        }
        let side = |w: &World, a: &str, b: &str| w.network(a).and_then(|n| n.peering_state(b));
        if let Some(state) = side(self, network, remote) {
            return Err(WorldError::Invalid(match state {
                PeeringState::Disconnected => format!(
                    "network {network} already has a peering to {remote} in state Disconnected: delete it, then create both sides again"
                ),
                _ => format!("network {network} already has a peering to {remote} ({state})"),
            }));
        }
        let connected = side(self, remote, network) == Some(PeeringState::Initiated);
        for n in &mut self.networks {
            if n.name == network
                && let Some(name) = name
            {
                n.peering_names.insert(remote.to_owned(), name.to_owned());
            }
            if connected && n.name == network {
                n.peered_with.push(remote.to_owned());
            } else if connected && n.name == remote {
                n.half_peerings.retain(|h| h.remote != network);
                n.peered_with.push(network.to_owned());
            } else if !connected && n.name == network {
                n.half_peerings.push(HalfPeering {
                    remote: remote.to_owned(),
                    state: PeeringState::Initiated,
                });
            }
        }
        Ok(if connected {
            PeeringState::Connected
        } else {
            PeeringState::Initiated
        })
    }

    /// Deletes `network`'s side of its peering to `remote`; a Connected peering leaves `remote`'s
    /// side Disconnected (Azure). Returns the deleted side's state.
    pub fn delete_peering(
        &mut self,
        network: &str,
        remote: &str,
    ) -> Result<PeeringState, WorldError> {
        self.require_network(network)?;
        self.require_network(remote)?;
        let state = self
            .network(network)
            .and_then(|n| n.peering_state(remote))
            .ok_or_else(|| {
                WorldError::Invalid(format!("network {network} has no peering to {remote}"))
            })?;
        for n in &mut self.networks {
            if n.name == network {
                n.peered_with.retain(|p| p != remote);
                n.half_peerings.retain(|h| h.remote != remote);
                n.peering_names.remove(remote);
            } else if n.name == remote && state == PeeringState::Connected {
                n.peered_with.retain(|p| p != network);
                n.half_peerings.push(HalfPeering {
                    remote: network.to_owned(),
                    state: PeeringState::Disconnected,
                });
            }
        }
        Ok(state)
    }

    /// Sets where `network`'s forwarder sends what its static table does not answer (creating a
    /// forwarder named `name`, default `custom-dns`, when the network has none).
    pub fn set_forwarder_targets(
        &mut self,
        network: &str,
        name: Option<&str>,
        forwards_to: Option<&str>,
        forward: Vec<ForwardRule>,
    ) -> Result<(), WorldError> {
        if let Some(t) = forwards_to {
            self.require_network(t)?;
        }
        let mut seen = std::collections::HashSet::new();
        let mut rules = Vec::with_capacity(forward.len());
        for r in forward {
            let zone = if r.zone == "." {
                r.zone
            } else {
                let z = normalize_name(&r.zone);
                if !is_dns_name(&z) {
                    return Err(WorldError::Invalid(format!(
                        "{:?} is not a valid zone name (a DNS name, or \".\" for every name)",
                        r.zone
                    )));
                }
                z
            };
            if !seen.insert(zone.clone()) {
                return Err(WorldError::Invalid(format!(
                    "zone {zone} is forwarded twice"
                )));
            }
            if r.to != FORWARD_TO_INTERNET {
                self.require_network(&r.to)?;
            }
            rules.push(ForwardRule { zone, to: r.to });
        }
        let n = self
            .networks
            .iter_mut()
            .find(|n| n.name == network)
            .ok_or_else(|| WorldError::UnknownNetwork(network.to_owned()))?;
        let f = n.forwarder.get_or_insert_with(|| Forwarder {
            name: names::DEFAULT_FORWARDER_NAME.to_owned(),
            forwards_to: None,
            answers: Default::default(),
            forward: Vec::new(),
        });
        if let Some(name) = name {
            f.name = name.to_owned();
        }
        f.forwards_to = forwards_to.map(str::to_owned);
        f.forward = rules;
        Ok(())
    }

    /// Serves (`true`) or stops serving (`false`) a cache's plain-text port (Azure's
    /// `enableNonSslPort`); the TLS port always stays. Returns whether it was served.
    pub fn set_non_tls_port(&mut self, cache: &str, enabled: bool) -> Result<bool, WorldError> {
        let c = self.cache_mut(cache)?;
        let before = c.ports.plain.is_some();
        if !enabled && c.ports.tls.is_none() {
            return Err(WorldError::Invalid(format!(
                "cache {cache} serves no TLS port: disabling its non-TLS port would leave it no port"
            )));
        }
        let port = c.flavour.default_port();
        if enabled && c.ports.tls == Some(port) {
            return Err(WorldError::Invalid(format!(
                "cache {cache} serves TLS on port {port}, its flavour's plain-text port"
            )));
        }
        if enabled && !before {
            c.ports.plain = Some(port);
        } else if !enabled {
            c.ports.plain = None;
        }
        Ok(before)
    }

    /// Sets a cache's minimum TLS version: only [`MINIMUM_TLS_VERSION`] is accepted, as Azure
    /// does since TLS 1.0 and 1.1 were retired.
    pub fn set_minimum_tls_version(
        &mut self,
        cache: &str,
        version: &str,
    ) -> Result<(), WorldError> {
        let c = self.cache_mut(cache)?;
        match version {
            MINIMUM_TLS_VERSION => {
                c.minimum_tls_version = version.to_owned();
                Ok(())
            }
            "1.0" | "1.1" => Err(WorldError::Invalid(format!(
                "minimum TLS version {version} is no longer supported: Azure Cache for Redis requires TLS 1.2 (TLS 1.0 and 1.1 were retired)"
            ))),
            other => Err(WorldError::Invalid(format!(
                "{other:?} is not a minimum TLS version Azure Cache for Redis accepts (1.2)"
            ))),
        }
    }
}

/// `name` relative to `zone`: accepts a relative name, `@`, or a full name ending in the zone.
fn relative_name(zone: &str, name: &str) -> Result<String, WorldError> {
    names::relative_record_name(zone, name).map_err(|e| {
        WorldError::Invalid(match e {
            RecordNameError::NotInZone => format!("{name} is not in zone {zone}"),
            RecordNameError::Invalid => format!("{name:?} is not a valid record name"),
        })
    })
}
