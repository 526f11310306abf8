//! Changes to a world, for the timeline and the control plane: each is a plain method that checks its
//! references and either applies the change completely or returns a [`WorldError`] and leaves the
//! world as it was. Callers publish the changed world (e.g. through a `tokio::sync::watch`).

use std::net::Ipv4Addr;

use crate::address::is_loopback;
use crate::error::WorldError;
use crate::model::{
    ARecord, BlockedAction, ConnectionState, Forwarder, ForwarderAnswer, NetworkRule,
    PublicNetworkAccess, ResolutionPolicy, World, ZoneLink,
};
use crate::scenario::{is_dns_name, normalize_name};
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
        if let Some(existing) = z.link_to(network) {
            return Err(WorldError::AlreadyLinked {
                zone: z.name.clone(),
                network: network.to_owned(),
                link: existing.name.clone(),
            });
        }
        let name = link.map_or_else(|| format!("{network}-link"), str::to_owned);
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

    /// Sets a private endpoint's connection state.
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
}

/// `name` relative to `zone`: accepts a relative name, `@`, or a full name ending in the zone.
fn relative_name(zone: &str, name: &str) -> Result<String, WorldError> {
    if name == "@" {
        return Ok("@".to_owned());
    }
    let n = normalize_name(name);
    if n == zone {
        return Ok("@".to_owned());
    }
    let relative = match n.strip_suffix(&format!(".{zone}")) {
        Some(head) => head.to_owned(),
        None if name.ends_with('.') => {
            return Err(WorldError::Invalid(format!("{name} is not in zone {zone}")));
        }
        None => n,
    };
    if is_dns_name(&relative) {
        Ok(relative)
    } else {
        Err(WorldError::Invalid(format!(
            "{name:?} is not a valid record name"
        )))
    }
}
