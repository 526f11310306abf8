//! Changes to a world, for the timeline and the control plane: each is a plain method that checks its
//! references and either applies the change completely or returns a [`WorldError`] and leaves the
//! world as it was. Callers publish the changed world (e.g. through a `tokio::sync::watch`).

use std::net::Ipv4Addr;

use crate::address::is_loopback;
use crate::error::{APPROVING_REJECTED, WorldError};
use crate::model::{
    ARecord, BlockedAction, ConnectionState, Forwarder, ForwarderAnswer, NetworkRule,
    PublicNetworkAccess, ResolutionPolicy, World, ZoneLink,
};
use crate::names::{self, RecordNameError, default_link_name, is_dns_name, normalize_name};
use crate::toxic::Toxic;
use crate::ttl;

impl World {
    fn zone_mut(&mut self, zone: &str) -> Result<&mut crate::model::DnsZone, WorldError> {
        let name = normalize_name(zone);
        self.dns_zones
            .iter_mut()
            .find(|z| z.name == name)
            .ok_or(WorldError::UnknownZone(name))
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

    /// Creates an empty private DNS zone (no records, no links).
    pub fn add_zone(&mut self, zone: &str) -> Result<(), WorldError> {
        let name = normalize_name(zone);
        if !is_dns_name(&name) {
            return Err(WorldError::Invalid(format!(
                "{zone:?} is not a valid DNS name"
            )));
        }
        if self.dns_zone(&name).is_some() {
            return Err(WorldError::Duplicate {
                kind: "private DNS zone",
                name,
            });
        }
        self.dns_zones.push(crate::model::DnsZone {
            name,
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
        let z = self.zone_mut(zone)?;
        if resolution_policy == ResolutionPolicy::NxDomainRedirect
            && !names::is_privatelink_zone(&z.name)
        {
            return Err(WorldError::Invalid(names::nx_domain_redirect_error(
                &z.name,
            )));
        }
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
        let name = normalize_name(zone);
        let i = self
            .dns_zones
            .iter()
            .position(|z| z.name == name)
            .ok_or(WorldError::UnknownZone(name))?;
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

/// `name` relative to `zone`: accepts a relative name, `@`, or a full name ending in the zone.
fn relative_name(zone: &str, name: &str) -> Result<String, WorldError> {
    names::relative_record_name(zone, name).map_err(|e| {
        WorldError::Invalid(match e {
            RecordNameError::NotInZone => format!("{name} is not in zone {zone}"),
            RecordNameError::Invalid => format!("{name:?} is not a valid record name"),
        })
    })
}
