//! No silent settings (issue 16) and Redis 7.0's parameters (issue 19): walks redis-server 7.0.15's
//! `CONFIG GET *` list (spec/config-7.0.15.json, recorded by spec/record_config.py) against the
//! class docs/config.md gives each name, and against the engine: implemented or accepted names
//! answer CONFIG GET under the name asked (aliases too) and round-trip CONFIG SET (immutable ones
//! refuse it with Redis's text); unimplemented ones get redis-server's exact unknown-option error.
//! With redis-server on the PATH, redlink's replies to valid and invalid values are compared with
//! redis-server's byte for byte. Then one test per parameter that used to be silent, asserting its
//! effect.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A raw RESP connection that returns each reply as text (errors as `-ERR ...`, arrays as lines).
struct Conn(BufReader<TcpStream>);

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Conn(BufReader::new(s))
    }

    async fn call(&mut self, args: &[&str]) -> String {
        self.0
            .get_mut()
            .write_all(&common::resp(args))
            .await
            .expect("write");
        tokio::time::timeout(Duration::from_secs(10), self.reply())
            .await
            .expect("reply in time")
    }

    async fn line(&mut self) -> String {
        let mut l = String::new();
        self.0.read_line(&mut l).await.expect("read");
        assert!(!l.is_empty(), "connection closed");
        l.trim_end_matches("\r\n").to_string()
    }

    async fn reply(&mut self) -> String {
        let l = self.line().await;
        match l.as_bytes().first() {
            Some(b'$') if l != "$-1" => self.line().await,
            Some(b'*') => {
                let n: usize = l[1..].parse().unwrap_or(0);
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(Box::pin(self.reply()).await);
                }
                items.join("\n")
            }
            _ => l,
        }
    }
}

#[derive(Debug)]
struct Recorded {
    default: String,
    /// "ok" or redis-server's error for CONFIG SET of the current value.
    set: String,
    same_as: Vec<String>,
}

fn recorded() -> BTreeMap<String, Recorded> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/config-7.0.15.json");
    let text = std::fs::read_to_string(path).expect("recorded parameters");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let params = v["params"].as_object().expect("params");
    params
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                Recorded {
                    default: p["default"].as_str().unwrap_or("").to_string(),
                    set: p["set"].as_str().unwrap_or("").to_string(),
                    same_as: p["same_as"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            )
        })
        .collect()
}

/// docs/config.md's table: name → class (`a`, `b`, `c`, or an owner like `persistence (h-rdb)`).
fn documented() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md");
    let text = std::fs::read_to_string(path).expect("docs/config.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_string(), cells.get(3)?.to_string()))
        })
        .collect()
}

fn accepted(name: &str) -> bool {
    redlink_engine::config::canonical_name(name).is_some()
}

const UNKNOWN: &str = "-ERR Unknown option or number of arguments for CONFIG SET - '";

#[test]
fn every_parameter_is_documented_with_the_class_the_code_has() {
    let recorded = recorded();
    let docs = documented();
    assert!(
        recorded.len() >= 190,
        "{} parameters recorded",
        recorded.len()
    );
    for name in recorded.keys() {
        let class = docs
            .get(name)
            .unwrap_or_else(|| panic!("docs/config.md has no row for '{name}'"));
        match class.as_str() {
            "a" | "b" => assert!(accepted(name), "'{name}' is class {class} but not accepted"),
            "c" => assert!(!accepted(name), "'{name}' is class c but accepted"),
            owner => assert!(
                owner.starts_with("persistence (") || owner.starts_with("keyspace ("),
                "'{name}': unknown class '{owner}'"
            ),
        }
    }
    // Nothing is accepted beyond Redis 7.0's list but 7.2's `set-max-listpack-entries`
    // (docs/config.md says so).
    let names = redlink_engine::config::PARAMS
        .iter()
        .map(|p| p.name)
        .chain(redlink_engine::config::ALIASES.iter().map(|a| a.0));
    for name in names {
        assert!(
            recorded.contains_key(name) || name == "set-max-listpack-entries",
            "'{name}' is accepted but Redis 7.0 has no such parameter"
        );
    }
    // Redis's defaults, except where docs/config.md explains the difference.
    let defaults = redlink_engine::Config::default();
    for (name, r) in &recorded {
        if accepted(name) && !["bind", "dir"].contains(&name.as_str()) {
            assert_eq!(
                defaults.get(name).unwrap_or(""),
                r.default,
                "default of '{name}'"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_and_set_follow_the_class_of_every_parameter() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    for (name, r) in recorded() {
        if !accepted(&name) {
            assert_eq!(
                c.call(&["CONFIG", "SET", &name, "1"]).await,
                format!("{UNKNOWN}{name}'"),
                "{name}"
            );
            assert_eq!(c.call(&["CONFIG", "GET", &name]).await, "", "{name}");
            continue;
        }
        let got = c.call(&["CONFIG", "GET", &name]).await;
        let (asked, value) = got.split_once('\n').unwrap_or((&got, ""));
        assert_eq!(asked, name, "CONFIG GET answers under the name asked");
        if r.set == "ok" {
            assert_eq!(
                c.call(&["CONFIG", "SET", &name, value]).await,
                "+OK",
                "{name} {value}"
            );
            assert_eq!(c.call(&["CONFIG", "GET", &name]).await, got);
        } else if r.set.contains("immutable") {
            assert_eq!(
                c.call(&["CONFIG", "SET", &name, value]).await,
                format!("-{}", r.set),
                "{name}"
            );
        }
        // An alias and its canonical name report one value.
        for other in &r.same_as {
            if accepted(other) {
                let theirs = c.call(&["CONFIG", "GET", other]).await;
                assert_eq!(
                    theirs.split_once('\n').map(|x| x.1),
                    Some(value),
                    "{name} ~ {other}"
                );
            }
        }
    }
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxclients", "5", "MAXCLIENTS", "6"])
            .await,
        "-ERR CONFIG SET failed (possibly related to argument 'MAXCLIENTS') - duplicate parameter"
    );
    // Names are checked before values: an unknown name wins, then the first immutable one.
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxclients", "abc", "nosuch", "1"])
            .await,
        format!("{UNKNOWN}nosuch'")
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "daemonize", "no", "nosuch", "1"])
            .await,
        "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
    );
    // `CONFIG GET *` lists aliases under their own names too.
    let all = c.call(&["CONFIG", "GET", "*"]).await;
    let names: Vec<&str> = all.lines().step_by(2).collect();
    for n in [
        "hash-max-ziplist-value",
        "hash-max-listpack-value",
        "lua-time-limit",
    ] {
        assert!(names.contains(&n), "{n} missing from CONFIG GET *");
    }
}

/// A redis-server 7.0 on an ephemeral port of 127.0.0.1 (its own temporary directory), stopped and
/// cleaned up on drop.
struct RedisServer {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl RedisServer {
    /// `None` (with the reason printed) when redis-server 7.0 is not installed.
    fn start() -> Option<RedisServer> {
        let ok = Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("v=7.0"));
        if !ok {
            eprintln!(
                "note: skipping the comparison: redis-server 7.0 is not installed (.ci/run installs it)"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("redlink-config-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // The port comes from the OS first; if another process takes it before redis-server
        // binds, redis-server exits and the start is retried with another.
        for _ in 0..5 {
            let port = common::free_port("127.0.0.1");
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    return Some(RedisServer { child, addr, dir });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_answers_like_redis_server() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut theirs = Conn::open(redis.addr).await;
    // Its own `dir`: probing `appendonly yes` really starts an AOF there.
    let dir =
        std::env::temp_dir().join(format!("redlink-config-audit-ours-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_server, addr) = common::start("127.0.0.1", &[("dir", &dir.to_string_lossy())]);
    let mut ours = Conn::open(addr).await;
    let docs = documented();
    // Parameters whose probing would change the test's own connection or process: listeners,
    // passwords, idle timeouts, memory limits, the process's OOM score.
    let skip = [
        "bind",
        "port",
        "tls-port",
        "tls-cert-file",
        "tls-key-file",
        "tls-ca-cert-file",
        "requirepass",
        "timeout",
        "maxmemory",
        "maxclients",
        "oom-score-adj",
        "oom-score-adj-values",
        "client-output-buffer-limit",
        "proto-max-bulk-len",
        "client-query-buffer-limit",
    ];
    let probes = [
        "abc",
        "-1",
        "0",
        "1",
        "7",
        "101",
        "99999999999999999999",
        "yes",
        "no",
        "1mb",
        "-5",
        "",
        "2147483648",
        "{title} {port}",
        "{nosuch}",
        "YES",
        "1 2 3",
    ];
    let mut differences = Vec::new();
    for (name, r) in recorded() {
        let class = docs.get(&name).map(String::as_str).unwrap_or("");
        if !accepted(&name) || !matches!(class, "a" | "b") || skip.contains(&name.as_str()) {
            continue;
        }
        for value in probes {
            let a = theirs.call(&["CONFIG", "SET", &name, value]).await;
            let b = ours.call(&["CONFIG", "SET", &name, value]).await;
            if a != b {
                differences.push(format!("{name} {value}: redis {a:?}, redlink {b:?}"));
            }
            let a = theirs.call(&["CONFIG", "GET", &name]).await;
            let b = ours.call(&["CONFIG", "GET", &name]).await;
            if a != b {
                differences.push(format!(
                    "GET {name} after {value}: redis {a:?}, redlink {b:?}"
                ));
            }
            if r.set == "ok" {
                theirs.call(&["CONFIG", "SET", &name, &r.default]).await;
                ours.call(&["CONFIG", "SET", &name, &r.default]).await;
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

// --- effects of the parameters that used to be silent or missing ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_thresholds_decide_object_encoding() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    // Redis 7.0's default: 512 hash fields stay a listpack (redlink said 128 before).
    let mut hset = vec!["HSET".to_string(), "h".to_string()];
    for i in 0..300 {
        hset.push(format!("f{i}"));
        hset.push("v".into());
    }
    let args: Vec<&str> = hset.iter().map(String::as_str).collect();
    c.call(&args).await;
    assert_eq!(c.call(&["OBJECT", "ENCODING", "h"]).await, "listpack");
    // The alias changes the same threshold.
    c.call(&["CONFIG", "SET", "hash-max-ziplist-entries", "2"])
        .await;
    c.call(&["HSET", "h2", "a", "1", "b", "2", "c", "3"]).await;
    assert_eq!(c.call(&["OBJECT", "ENCODING", "h2"]).await, "hashtable");
    c.call(&["CONFIG", "SET", "zset-max-listpack-value", "4"])
        .await;
    c.call(&["ZADD", "z", "1", "longer-than-four"]).await;
    assert_eq!(c.call(&["OBJECT", "ENCODING", "z"]).await, "skiplist");
    c.call(&["CONFIG", "SET", "set-max-intset-entries", "2"])
        .await;
    c.call(&["SADD", "s", "1", "2", "3"]).await;
    assert_ne!(c.call(&["OBJECT", "ENCODING", "s"]).await, "intset");
    // Redis 7.2's listpack sets, bounded by `set-max-listpack-entries`.
    c.call(&["SADD", "s2", "a", "b"]).await;
    assert_eq!(c.call(&["OBJECT", "ENCODING", "s2"]).await, "listpack");
    c.call(&["CONFIG", "SET", "set-max-listpack-entries", "2"])
        .await;
    c.call(&["SADD", "s3", "a", "b", "c"]).await;
    assert_eq!(c.call(&["OBJECT", "ENCODING", "s3"]).await, "hashtable");
    c.call(&["CONFIG", "SET", "list-max-listpack-size", "2"])
        .await;
    c.call(&["RPUSH", "l", "a", "b", "c"]).await;
    assert_eq!(c.call(&["OBJECT", "ENCODING", "l"]).await, "quicklist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lfu_log_factor_sets_how_fast_the_counter_grows() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"])
        .await;
    c.call(&["CONFIG", "SET", "lfu-log-factor", "0"]).await;
    c.call(&["SET", "k", "v"]).await;
    for _ in 0..20 {
        c.call(&["GET", "k"]).await;
    }
    // Factor 0: every access counts (the counter starts at 5).
    let freq: i64 = c.call(&["OBJECT", "FREQ", "k"]).await[1..]
        .parse()
        .expect("int");
    assert!(freq >= 25, "freq {freq}");
    c.call(&["CONFIG", "SET", "lfu-log-factor", "1000000"])
        .await;
    c.call(&["SET", "k2", "v"]).await;
    for _ in 0..20 {
        c.call(&["GET", "k2"]).await;
    }
    let freq: i64 = c.call(&["OBJECT", "FREQ", "k2"]).await[1..]
        .parse()
        .expect("int");
    assert!(freq <= 8, "freq {freq}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_node_max_entries_shapes_the_radix_tree() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["CONFIG", "SET", "stream-node-max-entries", "2"])
        .await;
    for i in 1..=5 {
        c.call(&["XADD", "s", &format!("{i}-0"), "f", "v"]).await;
    }
    let info = c.call(&["XINFO", "STREAM", "s"]).await;
    let lines: Vec<&str> = info.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "radix-tree-keys")
        .expect("radix-tree-keys");
    assert_eq!(lines[at + 1], ":3", "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acllog_max_len_bounds_the_acl_log() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["CONFIG", "SET", "acllog-max-len", "1"]).await;
    c.call(&["AUTH", "alice", "x"]).await;
    c.call(&["AUTH", "bob", "x"]).await;
    let log = c.call(&["ACL", "LOG"]).await;
    assert_eq!(log.matches("username").count(), 1, "{log}");
    assert!(log.contains("bob"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_replicas_to_write_refuses_writes_without_replicas() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "min-slaves-to-write", "1"]).await,
        "+OK"
    );
    let refused = "-NOREPLICAS Not enough good replicas to write.";
    assert_eq!(c.call(&["SET", "k", "v"]).await, refused);
    assert_eq!(c.call(&["GET", "k"]).await, "$-1");
    c.call(&["MULTI"]).await;
    assert_eq!(c.call(&["INCR", "n"]).await, refused);
    assert!(c.call(&["EXEC"]).await.starts_with("-EXECABORT"));
    // A script's writes too (its reads run).
    assert!(
        c.call(&["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k"])
            .await
            .starts_with(refused),
    );
    assert_eq!(
        c.call(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"])
            .await,
        "$-1"
    );
    assert_eq!(
        c.call(&["EVAL", "#!lua\nreturn 1", "0"]).await,
        refused,
        "a shebang script that may write is refused before it runs"
    );
    assert_eq!(
        c.call(&["EVAL", "#!lua flags=no-writes\nreturn 1", "0"])
            .await,
        ":1"
    );
    // Lag 0 switches the check off, as in Redis.
    c.call(&["CONFIG", "SET", "min-replicas-max-lag", "0"])
        .await;
    assert_eq!(c.call(&["SET", "k", "v"]).await, "+OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activedefrag_is_refused_like_a_build_without_jemalloc() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "activedefrag", "yes"]).await,
        "-ERR CONFIG SET failed (possibly related to argument 'activedefrag') - Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution"
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "activedefrag", "no"]).await,
        "+OK"
    );
}

/// SO_KEEPALIVE and TCP_KEEPIDLE of the engine's side of the connection `client` (the engine runs
/// in this process: its accepted socket is one of our descriptors).
fn server_keepalive(server: SocketAddr, client: SocketAddr) -> Option<Duration> {
    use std::os::fd::BorrowedFd;
    for fd in 3..4096 {
        // SAFETY: only inspected, never closed; an fd that is not a socket fails the calls below.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&fd);
        let (Ok(local), Ok(peer)) = (sock.local_addr(), sock.peer_addr()) else {
            continue;
        };
        if local.as_socket() == Some(server) && peer.as_socket() == Some(client) {
            return sock
                .keepalive()
                .expect("SO_KEEPALIVE")
                .then(|| sock.tcp_keepalive_time().expect("TCP_KEEPIDLE"));
        }
    }
    panic!("the engine's socket for {client} not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_keepalive_arms_the_kernel_timer() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut c = Conn::open(addr).await;
    c.call(&["PING"]).await;
    let me = c.0.get_ref().local_addr().expect("local");
    assert_eq!(server_keepalive(addr, me), Some(Duration::from_secs(300)));
    c.call(&["CONFIG", "SET", "tcp-keepalive", "60"]).await;
    let mut d = Conn::open(addr).await;
    d.call(&["PING"]).await;
    let me = d.0.get_ref().local_addr().expect("local");
    assert_eq!(server_keepalive(addr, me), Some(Duration::from_secs(60)));
    c.call(&["CONFIG", "SET", "tcp-keepalive", "0"]).await;
    let mut e = Conn::open(addr).await;
    e.call(&["PING"]).await;
    let me = e.0.get_ref().local_addr().expect("local");
    assert_eq!(server_keepalive(addr, me), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_table_max_keys_invalidates_past_the_limit() {
    let (_server, addr) = common::start("127.0.0.1", &[]);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&common::resp(&["HELLO", "3"]))
        .await
        .expect("hello");
    common::read_frames(&mut s, 1).await;
    for cmd in [
        &["CLIENT", "TRACKING", "on"][..],
        &["CONFIG", "SET", "tracking-table-max-keys", "2"],
        &["GET", "a"],
        &["GET", "b"],
    ] {
        s.write_all(&common::resp(cmd)).await.expect("write");
        common::read_frames(&mut s, 1).await;
    }
    // The third key read goes over the limit: one key is dropped and invalidated.
    s.write_all(&common::resp(&["GET", "c"]))
        .await
        .expect("write");
    let reply = common::read_frames(&mut s, 2).await;
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("_\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\n"),
        "{text:?}"
    );
    // Under the limit again: no more invalidations.
    s.write_all(&common::resp(&["PING"])).await.expect("write");
    assert_eq!(common::read_frames(&mut s, 1).await, b"+PONG\r\n");
    let more = common::read_window(&mut s, Duration::from_millis(300)).await;
    assert!(more.is_empty(), "nothing else arrives: {more:?}");
}
