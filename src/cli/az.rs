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
    conf
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
        "provisioningState": if c.running { "Succeeded" } else { "Stopped" },
        "redisConfiguration": redis_configuration(c),
        "privateEndpointConnections": connections,
        "redlink": {
            "running": c.running,
            "publicAddress": c.public_address.to_string(),
            "publicBlockedAction": c.public_blocked_action.as_str(),
            "requirepass": c.requirepass.is_some(),
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
                                    json!({
                                        "endpoint": e.name,
                                        "address": e.address.to_string(),
                                        "state": e.state.map(|s| s.as_str()),
                                        "ports": ports,
                                        "connectionsSinceStart": counts
                                            .get(e.address.to_string())
                                            .cloned()
                                            .unwrap_or_else(|| json!({})),
                                    })
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    json!({
                        "cache": c.name,
                        "hostName": c.host_name(),
                        "resolvesTo": r.addresses().iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "resolution": r.summary(),
                        "endpoints": endpoints,
                    })
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
    json!({ "control": state.control, "networks": networks })
}
