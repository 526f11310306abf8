//! A Redis Cluster the user runs behind a cache (`backend = { cluster = [...] }`, issue 22): the
//! runtime finds its nodes from the seeds (`CLUSTER SHARDS`, or `CLUSTER SLOTS` on a server
//! before 7.0), numbers them for the per-node ports of [`redlink_world::cluster_ports`] (a node
//! keeps its number, by node id, for the life of the world; new nodes get the next numbers), and
//! publishes them to the edge's [`ClusterBackend`] table and to the world (`Cache::backend_nodes`,
//! so every endpoint of the cache gets the node's ports with the same verdicts, rules and toxics
//! as the cache's own ports). It looks again on each health check and whenever the proxy meets a
//! node it does not know (a node added, a failover): `RunningWorld::watch_backends`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redlink_client::Value;
use redlink_edge::{BackendNode, ClusterBackend, UpstreamTls, connect_to};

/// How long one question to a node may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// A node as one discovery saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    id: String,
    address: SocketAddr,
    hosts: Vec<String>,
    primary: bool,
    /// The first slot of its shard, if the shard serves any (numbering order).
    first_slot: Option<u16>,
}

/// Why a discovery failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryError {
    /// A seed answered but is no cluster node (`cluster support disabled`).
    NotCluster(SocketAddr, String),
    /// No address answered; the last failure.
    Unreachable(SocketAddr, String),
    /// A node's address is not on loopback (redlink sends traffic only to this machine).
    NotLoopback(String),
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoveryError::NotCluster(a, said) => write!(
                f,
                "cluster seed {a} is not a Redis Cluster node: CLUSTER SHARDS answered -{said}"
            ),
            DiscoveryError::Unreachable(a, why) => write!(f, "{a} unreachable: {why}"),
            DiscoveryError::NotLoopback(what) => write!(
                f,
                "{what} is not a loopback address (127.0.0.0/8 or ::1); redlink sends traffic only to this machine"
            ),
        }
    }
}

/// Asks `address` one command (after AUTH with `password`).
async fn ask(
    address: SocketAddr,
    tls: Option<&UpstreamTls>,
    password: Option<&str>,
    args: &[&str],
) -> Result<Value, String> {
    let run = async {
        let mut stream = connect_to(address, tls).await.map_err(|e| e.to_string())?;
        if let Some(p) = password {
            let reply = redlink_client::net::request(&mut stream, &["AUTH", p], ASK_TIMEOUT)
                .await
                .map_err(|e| e.message)?;
            if let Some(e) = reply.error() {
                return Err(format!("AUTH with the world's password failed: {e}"));
            }
        }
        redlink_client::net::request(&mut stream, args, ASK_TIMEOUT)
            .await
            .map_err(|e| e.message)
    };
    tokio::time::timeout(ASK_TIMEOUT * 2, run)
        .await
        .unwrap_or_else(|_| Err(format!("no reply within {:?}", ASK_TIMEOUT * 2)))
}

/// A flattened map's value for `key`.
fn field<'a>(pairs: &'a [Value], key: &str) -> Option<&'a Value> {
    pairs
        .chunks(2)
        .find(|kv| kv.first().and_then(Value::as_text).as_deref() == Some(key))
        .and_then(|kv| kv.get(1))
}

fn text_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_text)
        .filter(|t| !t.is_empty() && t != "?")
}

fn int_of(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        other => other.and_then(Value::as_text)?.parse().ok(),
    }
}

/// The address to connect to for a node the backend names `host` (an IP; a name or nothing
/// means "the address the question went to") and `port`.
fn node_address(host: Option<&str>, port: u16, asked: SocketAddr) -> SocketAddr {
    match host.and_then(|h| h.parse().ok()) {
        Some(ip) => SocketAddr::new(ip, port),
        None => SocketAddr::new(asked.ip(), port),
    }
}

/// The nodes in a `CLUSTER SHARDS` reply (RESP2, maps flattened).
fn from_shards(reply: &Value, asked: SocketAddr, tls: bool) -> Option<Vec<Seen>> {
    let Value::Array(shards) = reply else {
        return None;
    };
    let mut out = Vec::new();
    for shard in shards {
        let Value::Array(shard) = shard else {
            return None;
        };
        let first_slot = match field(shard, "slots") {
            Some(Value::Array(s)) => s
                .iter()
                .filter_map(|v| int_of(Some(v)))
                .min()
                .and_then(|s| u16::try_from(s).ok()),
            _ => None,
        };
        let Some(Value::Array(nodes)) = field(shard, "nodes") else {
            return None;
        };
        for node in nodes {
            let Value::Array(node) = node else {
                return None;
            };
            let id = text_of(field(node, "id"))?;
            let port = if tls {
                int_of(field(node, "tls-port")).or_else(|| int_of(field(node, "port")))
            } else {
                int_of(field(node, "port")).or_else(|| int_of(field(node, "tls-port")))
            };
            let port = u16::try_from(port?).ok()?;
            let hosts: Vec<String> = ["ip", "endpoint", "hostname"]
                .iter()
                .filter_map(|k| text_of(field(node, k)))
                .collect();
            let ip = text_of(field(node, "ip"));
            out.push(Seen {
                id,
                address: node_address(ip.as_deref(), port, asked),
                hosts,
                primary: text_of(field(node, "role")).as_deref() == Some("master"),
                first_slot,
            });
        }
    }
    Some(out)
}

/// The nodes in a `CLUSTER SLOTS` reply (nodes serving slots only).
fn from_slots(reply: &Value, asked: SocketAddr) -> Option<Vec<Seen>> {
    let Value::Array(ranges) = reply else {
        return None;
    };
    let mut out: Vec<Seen> = Vec::new();
    for range in ranges {
        let Value::Array(range) = range else {
            return None;
        };
        let first = int_of(range.first()).and_then(|s| u16::try_from(s).ok());
        for (i, node) in range.iter().enumerate().skip(2) {
            let Value::Array(node) = node else {
                return None;
            };
            let host = text_of(node.first());
            let port = u16::try_from(int_of(node.get(1))?).ok()?;
            let id = text_of(node.get(2))?;
            if let Some(seen) = out.iter_mut().find(|s| s.id == id) {
                seen.first_slot = seen.first_slot.min(first);
                continue;
            }
            out.push(Seen {
                id,
                address: node_address(host.as_deref(), port, asked),
                hosts: host.into_iter().collect(),
                primary: i == 2,
                first_slot: first,
            });
        }
    }
    Some(out)
}

/// Asks `candidates` in order for the cluster's nodes: the first that answers tells.
async fn discover(
    candidates: &[SocketAddr],
    tls: Option<&UpstreamTls>,
    password: Option<&str>,
) -> Result<Vec<Seen>, DiscoveryError> {
    let mut last = None;
    for &address in candidates {
        let reply = match ask(address, tls, password, &["CLUSTER", "SHARDS"]).await {
            Ok(r) => r,
            Err(why) => {
                last = Some(DiscoveryError::Unreachable(address, why));
                continue;
            }
        };
        let seen = match reply.error() {
            Some(e) if e.contains("cluster support disabled") => {
                return Err(DiscoveryError::NotCluster(address, e.to_owned()));
            }
            // Before Redis 7.0: CLUSTER SLOTS.
            Some(_) => match ask(address, tls, password, &["CLUSTER", "SLOTS"]).await {
                Ok(r) => match r.error() {
                    Some(e) => return Err(DiscoveryError::NotCluster(address, e.to_owned())),
                    None => from_slots(&r, address),
                },
                Err(why) => {
                    last = Some(DiscoveryError::Unreachable(address, why));
                    continue;
                }
            },
            None => from_shards(&reply, address, tls.is_some()),
        };
        match seen {
            Some(seen) if !seen.is_empty() => {
                if let Some(bad) = seen.iter().find(|s| !s.address.ip().is_loopback()) {
                    return Err(DiscoveryError::NotLoopback(format!(
                        "cluster node {} at {}",
                        bad.id, bad.address
                    )));
                }
                return Ok(seen);
            }
            _ => {
                last = Some(DiscoveryError::NotCluster(
                    address,
                    "ERR no node in its reply".to_owned(),
                ));
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        DiscoveryError::Unreachable(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            "no seed given".to_owned(),
        )
    }))
}

/// Numbers `seen` after `known`: a known node id keeps its number (its address, names and role
/// follow what was seen), a new one gets the next free number, shards with slots first (by
/// their first slot), a shard's primary before its replicas. Nodes no longer seen stay.
fn number(known: &[BackendNode], mut seen: Vec<Seen>) -> Vec<BackendNode> {
    seen.sort_by_key(|s| {
        (
            s.first_slot.is_none(),
            s.first_slot,
            !s.primary,
            s.id.clone(),
        )
    });
    let mut out: Vec<BackendNode> = known.to_vec();
    let mut next = out.iter().map(|n| n.number + 1).max().unwrap_or(0);
    for s in seen {
        match out.iter_mut().find(|n| n.id == s.id) {
            Some(n) => {
                n.address = s.address;
                n.hosts = s.hosts;
                n.primary = s.primary;
            }
            None => {
                out.push(BackendNode {
                    number: next,
                    id: s.id,
                    address: s.address,
                    hosts: s.hosts,
                    primary: s.primary,
                });
                next += 1;
            }
        }
    }
    out.sort_by_key(|n| n.number);
    out
}

/// A cluster backend as the runtime follows it.
#[derive(Debug)]
pub struct FollowedCluster {
    /// The seeds from the world.
    pub seeds: Vec<SocketAddr>,
    /// The table the edge reads.
    pub table: Arc<ClusterBackend>,
    tls: Option<UpstreamTls>,
    password: Option<String>,
    /// How many per-node ports the scheme has (nodes past it get none).
    max_nodes: u16,
}

/// What one look at the cluster found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterHealth {
    /// How many nodes have per-node ports.
    pub nodes: u16,
    /// Nodes that do not answer, and why.
    pub down: BTreeMap<u16, String>,
    /// Set when no node answers: why, naming the first seed.
    pub unreachable: Option<String>,
    /// The table to publish once the world has the nodes' ports ([`FollowedCluster::publish`]).
    table: Vec<BackendNode>,
    main: Option<u16>,
}

impl FollowedCluster {
    /// Discovers the cluster behind `seeds` (an error when no seed answers, a seed is not a
    /// cluster node, or a node is not on loopback) and publishes it to a new table.
    pub async fn start(
        seeds: Vec<SocketAddr>,
        tls: Option<UpstreamTls>,
        password: Option<String>,
        max_nodes: u16,
    ) -> Result<FollowedCluster, DiscoveryError> {
        let seen = discover(&seeds, tls.as_ref(), password.as_deref()).await?;
        let followed = FollowedCluster {
            seeds,
            table: Arc::new(ClusterBackend::new()),
            tls,
            password,
            max_nodes,
        };
        let nodes = number(&[], seen);
        let main = nodes.iter().find(|n| n.primary).map(|n| n.number);
        followed.table.publish(nodes, main);
        Ok(followed)
    }

    /// The address the cache's own ports lead to (for the state file).
    pub fn main_address(&self) -> SocketAddr {
        self.table
            .address(None)
            .or_else(|| self.seeds.first().copied())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Looks at the cluster again: rediscovers (from the known nodes, then the seeds), pings
    /// every node, and says what the world should record and the table to publish next (the main
    /// node: an answering primary).
    pub async fn refresh(&self) -> ClusterHealth {
        let known = self.table.nodes();
        let mut candidates: Vec<SocketAddr> = known.iter().map(|n| n.address).collect();
        for seed in &self.seeds {
            if !candidates.contains(seed) {
                candidates.push(*seed);
            }
        }
        let nodes = match discover(&candidates, self.tls.as_ref(), self.password.as_deref()).await {
            Ok(seen) => number(&known, seen),
            Err(_) => known,
        };
        let mut down = BTreeMap::new();
        for n in &nodes {
            if let Err(why) = self.ping(n.address).await {
                down.insert(n.number, why);
            }
        }
        let main = nodes
            .iter()
            .find(|n| n.primary && !down.contains_key(&n.number))
            .or_else(|| nodes.iter().find(|n| n.primary))
            .map(|n| n.number);
        let unreachable = (!nodes.is_empty() && down.len() == nodes.len()).then(|| {
            let seed = self
                .seeds
                .first()
                .copied()
                .unwrap_or_else(|| self.main_address());
            let why = nodes
                .iter()
                .find(|n| n.address == seed)
                .and_then(|n| down.get(&n.number))
                .cloned()
                .unwrap_or_else(|| down.values().next().cloned().unwrap_or_default());
            why.split_once(" unreachable: ")
                .map_or(why.clone(), |(_, w)| format!("{seed} unreachable: {w}"))
        });
        let count = nodes
            .iter()
            .map(|n| n.number + 1)
            .max()
            .unwrap_or(0)
            .min(self.max_nodes);
        ClusterHealth {
            nodes: count,
            down,
            unreachable,
            table: nodes,
            main,
        }
    }

    /// Puts what [`FollowedCluster::refresh`] found in force for the proxy (after the world has
    /// the new nodes' ports, so a client told of a node finds its port listening).
    pub fn publish(&self, health: &ClusterHealth) {
        self.table.publish(health.table.clone(), health.main);
    }

    /// Whether the node at `address` answers PING (any reply counts): "ADDRESS unreachable: WHY".
    async fn ping(&self, address: SocketAddr) -> Result<(), String> {
        match ask(address, self.tls.as_ref(), None, &["PING"]).await {
            Ok(_) => Ok(()),
            Err(why) => Err(format!("{address} unreachable: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    fn seen(id: &str, port: u16, primary: bool, first_slot: Option<u16>) -> Seen {
        Seen {
            id: id.into(),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            hosts: vec!["127.0.0.1".into()],
            primary,
            first_slot,
        }
    }

    #[test]
    fn shards_replies_give_every_node_with_its_role_and_shard() {
        let node = |id: &str, port: i64, role: &str| {
            Value::Array(vec![
                bulk("id"),
                bulk(id),
                bulk("port"),
                Value::Int(port),
                bulk("ip"),
                bulk("127.0.0.1"),
                bulk("endpoint"),
                bulk("127.0.0.1"),
                bulk("role"),
                bulk(role),
            ])
        };
        let shard = |slots: Vec<i64>, nodes: Vec<Value>| {
            Value::Array(vec![
                bulk("slots"),
                Value::Array(slots.into_iter().map(Value::Int).collect()),
                bulk("nodes"),
                Value::Array(nodes),
            ])
        };
        let reply = Value::Array(vec![
            shard(vec![5461, 10922], vec![node("b", 7001, "master")]),
            shard(
                vec![0, 5460],
                vec![node("a", 7000, "master"), node("r", 7003, "replica")],
            ),
            shard(vec![], vec![node("new", 7004, "master")]),
        ]);
        let asked = SocketAddr::from(([127, 0, 0, 1], 7000));
        let seen = from_shards(&reply, asked, false).expect("parses");
        assert_eq!(seen.len(), 4);
        let numbered = number(&[], seen);
        let order: Vec<(&str, u16)> = numbered.iter().map(|n| (n.id.as_str(), n.number)).collect();
        assert_eq!(order, vec![("a", 0), ("r", 1), ("b", 2), ("new", 3)]);
        assert!(!numbered[1].primary);
    }

    #[test]
    fn numbers_are_stable_per_node_id() {
        let first = number(
            &[],
            vec![
                seen("a", 7000, true, Some(0)),
                seen("b", 7001, true, Some(8192)),
            ],
        );
        // A failover: b's replica c takes over, b is gone; a node d is added.
        let later = number(
            &first,
            vec![
                seen("a", 7000, true, Some(0)),
                seen("c", 7002, true, Some(8192)),
                seen("d", 7005, true, None),
            ],
        );
        let order: Vec<(&str, u16)> = later.iter().map(|n| (n.id.as_str(), n.number)).collect();
        assert_eq!(order, vec![("a", 0), ("b", 1), ("c", 2), ("d", 3)]);
    }

    #[test]
    fn slots_replies_give_the_nodes_serving_slots() {
        let node = |port: i64, id: &str| {
            Value::Array(vec![
                bulk("127.0.0.1"),
                Value::Int(port),
                bulk(id),
                Value::Array(vec![]),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(100),
                node(7000, "a"),
                node(7003, "r"),
            ]),
            Value::Array(vec![Value::Int(101), Value::Int(200), node(7000, "a")]),
        ]);
        let seen = from_slots(&reply, SocketAddr::from(([127, 0, 0, 1], 7000))).expect("parses");
        assert_eq!(seen.len(), 2);
        assert!(seen[0].primary && !seen[1].primary);
    }
}
