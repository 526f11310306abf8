//! The Azure CLI's JSON shapes for `redlink ctl` output: resource ids, camelCase field names and
//! nesting as `az network private-endpoint show`, `az redis show`, `az network private-dns …`
//! print them, plus a `redlink` object with what az cannot show (the verdict each port gives).

use redlink_runtime::StateFile;
use redlink_world::{
    Cache, DnsZone, Flavour, PrivateEndpoint, QueryType, World, ZoneLink, resolve,
};
use serde_json::{Value as Json, json};

/// The simulated subscription.
const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
/// The simulated resource group.
const RESOURCE_GROUP: &str = "redlink";

fn id(provider: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/{provider}")
}

fn cache_type(c: &Cache) -> &'static str {
    match c.flavour {
        Flavour::ManagedRedis => "Microsoft.Cache/redisEnterprise",
        _ => "Microsoft.Cache/Redis",
    }
}

fn cache_id(c: &Cache) -> String {
    id(&format!("{}/{}", cache_type(c), c.name))
}

fn pe_id(name: &str) -> String {
    id(&format!("Microsoft.Network/privateEndpoints/{name}"))
}

fn vnet_id(network: &str) -> String {
    id(&format!("Microsoft.Network/virtualNetworks/{network}"))
}

fn zone_id(zone: &str) -> String {
    id(&format!("Microsoft.Network/privateDnsZones/{zone}"))
}

fn state_json(pe: &PrivateEndpoint, description: Option<&str>) -> Json {
    json!({
        "status": pe.state.as_str(),
        "description": description.unwrap_or(match pe.state.as_str() {
            "Approved" => "Auto-Approved",
            _ => "",
        }),
        "actionsRequired": "None",
    })
}

/// The verdicts of `endpoint`'s ports from the state file (redlink's own extra).
fn verdicts(state: &StateFile, cache: &str, endpoint: &str) -> Json {
    state
        .caches
        .get(cache)
        .and_then(|c| c.endpoints.iter().find(|e| e.name == endpoint))
        .and_then(|e| serde_json::to_value(&e.verdicts).ok())
        .unwrap_or(Json::Null)
}

/// `az network private-endpoint show`.
pub fn private_endpoint(world: &World, state: &StateFile, pe: &PrivateEndpoint) -> Json {
    let cache = world.cache(&pe.cache);
    let connection = json!({
        "name": pe.name,
        "id": format!("{}/privateLinkServiceConnections/{}", pe_id(&pe.name), pe.name),
        "groupIds": [pe.group_id],
        "privateLinkServiceId": cache.map(cache_id),
        "privateLinkServiceConnectionState": state_json(pe, None),
        "provisioningState": "Succeeded",
        "type": "Microsoft.Network/privateEndpoints/privateLinkServiceConnections",
    });
    let pending = pe.state.as_str() == "Pending";
    let fqdn = cache.map(Cache::host_name);
    json!({
        "name": pe.name,
        "id": pe_id(&pe.name),
        "type": "Microsoft.Network/privateEndpoints",
        "location": "local",
        "resourceGroup": RESOURCE_GROUP,
        "provisioningState": "Succeeded",
        "subnet": { "id": format!("{}/subnets/default", vnet_id(&pe.network)) },
        "privateLinkServiceConnections": if pending { json!([]) } else { json!([connection]) },
        "manualPrivateLinkServiceConnections": if pending { json!([connection]) } else { json!([]) },
        "customDnsConfigs": [{ "fqdn": fqdn, "ipAddresses": [pe.address.to_string()] }],
        "networkInterfaces": [{
            "id": id(&format!("Microsoft.Network/networkInterfaces/{}.nic", pe.name)),
            "ipConfigurations": [{
                "privateIPAddress": pe.address.to_string(),
                "privateLinkConnectionProperties": {
                    "groupId": pe.group_id,
                    "fqdns": [fqdn],
                },
            }],
        }],
        "redlink": {
            "network": pe.network,
            "cache": pe.cache,
            "address": pe.address.to_string(),
            "verdicts": verdicts(state, &pe.cache, &pe.name),
        },
    })
}

/// `az network private-endpoint-connection show|approve|reject`.
pub fn connection(world: &World, pe: &PrivateEndpoint, description: Option<&str>) -> Json {
    let cache_part = world.cache(&pe.cache).map_or_else(String::new, cache_id);
    json!({
        "name": pe.name,
        "id": format!("{cache_part}/privateEndpointConnections/{}", pe.name),
        "type": format!("{}/privateEndpointConnections",
            world.cache(&pe.cache).map_or("Microsoft.Cache/Redis", cache_type)),
        "groupIds": [pe.group_id],
        "privateEndpoint": { "id": pe_id(&pe.name) },
        "privateLinkServiceConnectionState": state_json(pe, description),
        "provisioningState": "Succeeded",
    })
}

/// `redisConfiguration`: maxclients, and RDB persistence as Azure spells it.
fn redis_configuration(c: &Cache) -> Json {
    let mut conf = json!({ "maxclients": c.maxclients.map(|m| m.to_string()) });
    if let Some(redlink_world::Persistence::Rdb(f)) = c.persistence {
        conf["rdb-backup-enabled"] = json!("true");
        conf["rdb-backup-frequency"] = json!(f.minutes().to_string());
    }
    if let Some(redlink_world::Persistence::Aof(_)) = c.persistence {
        conf["aof-backup-enabled"] = json!("true");
    }
    conf
}

/// az's `sku` (Azure Cache for Redis tiers; managed-redis shows whether it is highly available).
fn sku(c: &Cache) -> Json {
    match c.flavour {
        Flavour::ManagedRedis => json!({
            "name": "Balanced_B0",
            "highAvailability": if c.nodes.has_replica() { "Enabled" } else { "Disabled" },
        }),
        _ => json!({ "name": c.sku.as_str(), "family": c.sku.family(), "capacity": 1 }),
    }
}

/// `az redis show`.
pub fn redis(world: &World, state: &StateFile, c: &Cache) -> Json {
    let connections: Vec<Json> = world
        .private_endpoints
        .iter()
        .filter(|pe| pe.cache == c.name)
        .map(|pe| connection(world, pe, None))
        .collect();
    json!({
        "name": c.name,
        "id": cache_id(c),
        "type": cache_type(c),
        "location": c.region.clone().unwrap_or_else(|| "local".to_owned()),
        "resourceGroup": RESOURCE_GROUP,
        "hostName": c.host_name(),
        "port": c.ports.plain.unwrap_or(6379),
        "sslPort": c.ports.tls,
        "enableNonSslPort": c.ports.plain.is_some(),
        "publicNetworkAccess": c.public_network_access.as_str(),
        "minimumTlsVersion": c.minimum_tls_version,
        "provisioningState": if c.running { "Succeeded" } else { "Stopped" },
        "sku": sku(c),
        "instances": c.instances(),
        "redisConfiguration": redis_configuration(c),
        "privateEndpointConnections": connections,
        "redlink": {
            "running": c.running,
            "publicAddress": c.public_address.to_string(),
            "publicBlockedAction": c.public_blocked_action.as_str(),
            "requirepass": c.requirepass.is_some(),
            "replication": c.nodes.has_replica().then(|| c.replication.to_string()),
            "maintenance": c.maintenance.map(|n| n.name()),
            "firewallRules": c.firewall_rules.iter().map(|r| json!({
                "name": r.name, "startIP": r.start.to_string(), "endIP": r.end.to_string()
            })).collect::<Vec<_>>(),
            "verdicts": verdicts(state, &c.name, redlink_world::PUBLIC_ENDPOINT),
        },
    })
}

/// `az network private-dns zone show`.
pub fn zone(z: &DnsZone) -> Json {
    let mut names: Vec<&str> = z.records.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    json!({
        "name": z.name,
        "id": zone_id(&z.name),
        "type": "Microsoft.Network/privateDnsZones",
        "location": "global",
        "resourceGroup": RESOURCE_GROUP,
        "numberOfRecordSets": names.len() + 1,
        "numberOfVirtualNetworkLinks": z.links.len(),
        "numberOfVirtualNetworkLinksWithRegistration": 0,
        "provisioningState": "Succeeded",
    })
}

/// `az network private-dns link vnet show`.
pub fn link(z: &DnsZone, l: &ZoneLink) -> Json {
    json!({
        "name": l.name,
        "id": format!("{}/virtualNetworkLinks/{}", zone_id(&z.name), l.name),
        "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
        "location": "global",
        "resourceGroup": RESOURCE_GROUP,
        "registrationEnabled": false,
        "resolutionPolicy": l.resolution_policy.to_string(),
        "virtualNetwork": { "id": vnet_id(&l.network) },
        "virtualNetworkLinkState": "Completed",
        "provisioningState": "Succeeded",
    })
}

/// `az network private-dns record-set a show`.
pub fn record_set(z: &DnsZone, name: &str) -> Json {
    let records: Vec<_> = z.records.iter().filter(|r| r.name == name).collect();
    let fqdn = if name == "@" {
        format!("{}.", z.name)
    } else {
        format!("{name}.{}.", z.name)
    };
    json!({
        "name": name,
        "id": format!("{}/A/{name}", zone_id(&z.name)),
        "type": "Microsoft.Network/privateDnsZones/A",
        "resourceGroup": RESOURCE_GROUP,
        "fqdn": fqdn,
        "ttl": records.first().map_or(10, |r| r.ttl),
        "isAutoRegistered": false,
        "aRecords": records.iter().map(|r| json!({ "ipv4Address": r.address.to_string() })).collect::<Vec<_>>(),
    })
}

/// `redlink ctl status`: per network, where each cache's name resolves (and why), and the verdict
/// of each endpoint port for the network's clients.
pub fn status(world: &World, state: &StateFile, counts: &Json) -> Json {
    let networks: Vec<Json> = world
        .networks
        .iter()
        .map(|n| {
            let caches: Vec<Json> = world
                .caches
                .iter()
                .map(|c| {
                    let r = resolve(world, &n.name, &c.host_name(), QueryType::A);
                    let endpoints: Vec<Json> = state
                        .caches
                        .get(&c.name)
                        .map(|cs| {
                            cs.endpoints
                                .iter()
                                .map(|e| {
                                    let ports: serde_json::Map<String, Json> = e
                                        .verdicts
                                        .iter()
                                        .map(|(port, v)| {
                                            let per = v.networks.get(&n.name);
                                            (
                                                port.clone(),
                                                json!({
                                                    "verdict": per.map_or(v.verdict, |p| p.verdict).as_str(),
                                                    "reason": per.map_or(&v.reason, |p| &p.reason),
                                                }),
                                            )
                                        })
                                        .collect();
                                    let mut endpoint = json!({
                                        "endpoint": e.name,
                                        "address": e.address.to_string(),
                                        "state": e.state.map(|s| s.as_str()),
                                        "ports": ports,
                                    });
                                    // The counts are the endpoint's (every source): shown only
                                    // where this network's connections get through the kernel.
                                    if reaches(&ports) {
                                        endpoint["connectionsSinceStart"] = counts
                                            .get(e.address.to_string())
                                            .cloned()
                                            .unwrap_or_else(|| json!({}));
                                    }
                                    endpoint
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let mut cache = json!({
                        "cache": c.name,
                        "hostName": c.host_name(),
                        "resolvesTo": r.addresses().iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "resolution": r.summary(),
                        "endpoints": endpoints,
                    });
                    if let Some(why) = &c.backend_unreachable {
                        cache["backend"] = json!(format!("backend {why}"));
                    }
                    cache
                })
                .collect();
            json!({
                "network": n.name,
                "resolver": state.networks.get(&n.name).map(|s| s.resolver.to_string()),
                "clientAddress": n.client_address.to_string(),
                "caches": caches,
            })
        })
        .collect();
    json!({
        "control": state.control,
        "networks": networks,
        "kernelEvidence": state.kernel_evidence.as_deref().unwrap_or(UNCOUNTED),
    })
}

/// Said in `ctl status` when the world's state file does not say whether refusals and drops are
/// observed (a world started by an older redlink).
pub const UNCOUNTED: &str = "refused and dropped connections are answered (or ignored) by the \
kernel before redlink sees them: they appear in no count and no event; each port's verdict says \
who would be refused or dropped, and why";

/// Whether some port of an endpoint accepts this network's connections (route, reset, blackhole).
fn reaches(ports: &serde_json::Map<String, Json>) -> bool {
    ports
        .values()
        .any(|p| !matches!(p["verdict"].as_str(), Some("refuse" | "drop")))
}

/// The columns of [`status_rows`].
pub const STATUS_COLUMNS: [&str; 8] = [
    "Network",
    "Cache",
    "ResolvesTo",
    "Endpoint",
    "Address",
    "State",
    "Verdicts",
    "Connections",
];

/// `ctl status` flattened for `-o table` and `-o tsv` ([`STATUS_COLUMNS`]): one row per network,
/// cache and endpoint, the verdicts of its ports on one line.
pub fn status_rows(status: &Json) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for n in status["networks"].as_array().into_iter().flatten() {
        for c in n["caches"].as_array().into_iter().flatten() {
            let resolves: Vec<&str> = c["resolvesTo"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .collect();
            let resolves = if resolves.is_empty() {
                "NXDOMAIN".to_owned()
            } else {
                resolves.join(",")
            };
            for e in c["endpoints"].as_array().into_iter().flatten() {
                let verdicts: Vec<String> = e["ports"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(port, v)| format!("{port} {}", v["verdict"].as_str().unwrap_or("?")))
                    .collect();
                let connections: Vec<String> = e["connectionsSinceStart"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                let text = |v: &Json| v.as_str().unwrap_or("-").to_owned();
                rows.push(vec![
                    text(&n["network"]),
                    text(&c["cache"]),
                    resolves.clone(),
                    text(&e["endpoint"]),
                    text(&e["address"]),
                    text(&e["state"]),
                    verdicts.join(", "),
                    if e.get("connectionsSinceStart").is_some() && !connections.is_empty() {
                        connections.join(", ")
                    } else if e.get("connectionsSinceStart").is_some() {
                        "0".to_owned()
                    } else {
                        "-".to_owned()
                    },
                ]);
            }
        }
    }
    rows
}

/// One toxic in Toxiproxy's JSON shape (`name`, `type`, `stream`, `toxicity`, `attributes`), with
/// the endpoint and network it applies to.
pub fn toxic(t: &redlink_world::Toxic) -> Json {
    use redlink_world::ToxicKind;
    let (kind, attributes) = match t.kind {
        ToxicKind::Latency {
            latency_ms,
            jitter_ms,
        } => (
            "latency",
            json!({"latency": latency_ms, "jitter": jitter_ms}),
        ),
        ToxicKind::Bandwidth { rate_kbps } => ("bandwidth", json!({"rate": rate_kbps})),
        ToxicKind::Slicer { avg_size, delay_us } => (
            "slicer",
            json!({"average_size": avg_size, "size_variation": 0, "delay": delay_us}),
        ),
        ToxicKind::ResetAfter { bytes } => ("reset_after", json!({"bytes": bytes})),
        ToxicKind::Timeout { timeout_ms } => ("timeout", json!({"timeout": timeout_ms})),
        ToxicKind::LimitData { bytes } => ("limit_data", json!({"bytes": bytes})),
        ToxicKind::SlowClose { delay_ms } => ("slow_close", json!({"delay": delay_ms})),
        ToxicKind::ResetPeer { timeout_ms } => ("reset_peer", json!({"timeout": timeout_ms})),
    };
    json!({
        "name": t.name,
        "type": kind,
        "stream": t.direction.to_string(),
        "toxicity": t.toxicity.fraction(),
        "attributes": attributes,
        "endpoint": t.endpoint,
        "network": t.network,
    })
}

/// `az network vnet peering show`: `network`'s side of its peering to `remote`.
pub fn peering(
    network: &redlink_world::Network,
    remote: &str,
    state: redlink_world::PeeringState,
) -> Json {
    let name = network.peering_name(remote);
    json!({
        "name": name,
        "id": format!("{}/virtualNetworkPeerings/{name}", vnet_id(&network.name)),
        "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        "resourceGroup": RESOURCE_GROUP,
        "peeringState": state.as_str(),
        "remoteVirtualNetwork": { "id": vnet_id(remote) },
        "allowVirtualNetworkAccess": true,
        "allowForwardedTraffic": false,
        "allowGatewayTransit": false,
        "useRemoteGateways": false,
        "provisioningState": "Succeeded",
    })
}

/// `az network nsg rule show`: one of the world's network rules, in NSG `nsg`.
pub fn nsg_rule(nsg: &str, r: &redlink_world::NetworkRule) -> Json {
    let access = match r.action {
        redlink_world::RuleAction::Allow => "Allow",
        redlink_world::RuleAction::Deny => "Deny",
    };
    json!({
        "name": r.name,
        "id": id(&format!("Microsoft.Network/networkSecurityGroups/{nsg}/securityRules/{}", r.name)),
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "resourceGroup": RESOURCE_GROUP,
        "priority": r.priority,
        "access": access,
        "direction": "Inbound",
        "protocol": "Tcp",
        "sourceAddressPrefix": r.source.as_deref().unwrap_or("*"),
        "sourcePortRange": "*",
        "destinationAddressPrefix": r.destination.as_deref().unwrap_or("*"),
        "destinationPortRange": r.port.map_or_else(|| "*".to_owned(), |p| p.to_string()),
        "provisioningState": "Succeeded",
        "redlink": { "denyAs": r.deny_as.to_string() },
    })
}

/// `az redis firewall-rules show`.
pub fn firewall_rule(c: &Cache, r: &redlink_world::FirewallRule) -> Json {
    json!({
        "name": format!("{}/{}", c.name, r.name),
        "id": format!("{}/firewallRules/{}", cache_id(c), r.name),
        "type": "Microsoft.Cache/redis/firewallRules",
        "resourceGroup": RESOURCE_GROUP,
        "startIp": r.start.to_string(),
        "endIp": r.end.to_string(),
    })
}
