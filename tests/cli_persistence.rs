//! RDB persistence across processes: `redlink serve` and redis-server 7.0.15 (installed by
//! `.ci/run`) read each other's dump.rdb with identical contents, compared key by key with
//! type-specific reads; SIGTERM saves; a corrupt file is refused with its name and offset; a full
//! disk (simulated with a file-size rlimit, SIGXFSZ ignored: an unprivileged test cannot mount a
//! small tmpfs) turns `rdb_last_bgsave_status` to `err` and writes into MISCONF refusals.

#[path = "../crates/engine/tests/common/mod.rs"]
mod common;
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::reply::{e, q, run};
use redis::Value as V;
use redis::aio::MultiplexedConnection;

fn installed(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "note: skipping: {tool} is not installed (apt-get install redis-server; .ci/run does it)"
        );
    }
    ok
}

/// A fresh directory under the system temp dir.
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "redlink-persist-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

/// A server process that is killed if the test ends early.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

fn redlink_serve(ip: &str, port: u16, args: &[&str]) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_redlink"))
        .args(["serve", "--bind", ip, "--port", &port.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redlink");
    Proc(support::until_ready(child, "Ready"))
}

async fn redis_server(ip: &str, port: u16, dir: &Path) -> Proc {
    let child = Command::new("redis-server")
        .args([
            "--bind",
            ip,
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let proc = Proc(child);
    let addr: SocketAddr = format!("{ip}:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(20);
    // Connectable and done loading.
    loop {
        assert!(Instant::now() < deadline, "redis-server did not start");
        if let Ok(mut c) = common::connect_url(&format!("redis://{addr}/")).await
            && run(&mut c, &["PING"]).await.is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proc
}

/// The same dataset, whatever the server: every type, small and large encodings, expiries,
/// streams with consumer groups and a PEL, HyperLogLogs, two databases and a function library.
async fn fill(c: &mut MultiplexedConnection) {
    q(c, &["SET", "s", "hello"]).await;
    q(c, &["SET", "n", "12345"]).await;
    q(c, &["SET", "neg", "-7"]).await;
    q(c, &["SET", "big", &"compress me please ".repeat(100)]).await;
    q(c, &["SET", "ttl", "v", "PX", "3600000"]).await;
    q(c, &["SET", "gone", "v", "PX", "1"]).await;
    q(c, &["RPUSH", "smalllist", "a", "b", "c", "1", "-2"]).await;
    let items: Vec<String> = (0..4000)
        .map(|i| match i % 3 {
            0 => i.to_string(),
            1 => format!("item-{i}"),
            _ => format!("{i}-{}", "x".repeat(90)),
        })
        .collect();
    for chunk in items.chunks(500) {
        let mut args = vec!["RPUSH", "biglist"];
        args.extend(chunk.iter().map(|s| s.as_str()));
        q(c, &args).await;
    }
    q(c, &["HSET", "smallhash", "f1", "v1", "f2", "2"]).await;
    for i in 0..300 {
        let v = if i % 10 == 0 {
            "v".repeat(100)
        } else {
            i.to_string()
        };
        q(c, &["HSET", "bighash", &format!("field{i}"), &v]).await;
    }
    q(c, &["PEXPIRE", "bighash", "7200000"]).await;
    q(c, &["SADD", "intset", "1", "2", "3", "-5", "100000"]).await;
    q(c, &["SADD", "strset", "a", "b", "c"]).await;
    for i in 0..1000 {
        q(c, &["SADD", "bigset", &format!("m{i}")]).await;
    }
    q(c, &["ZADD", "smallz", "1.5", "a", "-2", "b", "inf", "c"]).await;
    for i in 0..500 {
        q(
            c,
            &[
                "ZADD",
                "bigz",
                &format!("{}", i as f64 / 7.0),
                &format!("member{i}"),
            ],
        )
        .await;
    }
    for i in 0..300 {
        if i % 9 == 0 {
            q(
                c,
                &[
                    "XADD",
                    "st",
                    &format!("{}-1", 1000 + i),
                    "other",
                    &i.to_string(),
                ],
            )
            .await;
        } else {
            q(
                c,
                &[
                    "XADD",
                    "st",
                    &format!("{}-1", 1000 + i),
                    "f",
                    &i.to_string(),
                    "g",
                    "x",
                ],
            )
            .await;
        }
    }
    q(c, &["XDEL", "st", "1005-1"]).await;
    q(c, &["XGROUP", "CREATE", "st", "g1", "0"]).await;
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "5",
            "STREAMS",
            "st",
            ">",
        ],
    )
    .await;
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "3",
            "STREAMS",
            "st",
            ">",
        ],
    )
    .await;
    q(c, &["XACK", "st", "g1", "1001-1"]).await;
    q(c, &["XGROUP", "CREATE", "st", "g2", "$"]).await;
    q(c, &["XGROUP", "CREATECONSUMER", "st", "g2", "carol"]).await;
    q(c, &["XADD", "emptyst", "1-1", "a", "b"]).await;
    q(c, &["XDEL", "emptyst", "1-1"]).await;
    q(c, &["PFADD", "hll", "a", "b", "c"]).await;
    for chunk in (0..5000).collect::<Vec<_>>().chunks(500) {
        let items: Vec<String> = chunk.iter().map(|i| format!("e{i}")).collect();
        let mut args = vec!["PFADD", "densehll"];
        args.extend(items.iter().map(|s| s.as_str()));
        q(c, &args).await;
    }
    q(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return 1 end)",
        ],
    )
    .await;
    q(c, &["SELECT", "2"]).await;
    q(c, &["SET", "db2key", "in db 2"]).await;
    q(c, &["SELECT", "0"]).await;
}

fn text(v: &V) -> String {
    match v {
        V::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        V::SimpleString(s) => s.clone(),
        V::Int(i) => i.to_string(),
        V::Nil => "(nil)".into(),
        V::Array(a) => format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(", ")),
        V::Double(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn sorted(v: &V) -> String {
    let V::Array(a) = v else { return text(v) };
    let mut items: Vec<String> = a.iter().map(text).collect();
    items.sort();
    items.join(", ")
}

fn pairs_sorted(v: &V) -> String {
    let V::Array(a) = v else { return text(v) };
    let mut items: Vec<String> = a
        .chunks(2)
        .map(|p| format!("{}={}", text(&p[0]), text(&p[1])))
        .collect();
    items.sort();
    items.join(", ")
}

/// Selected fields of an XINFO reply (a flat name/value array).
fn fields(v: &V, names: &[&str]) -> String {
    let V::Array(a) = v else { return text(v) };
    let mut out = Vec::new();
    for p in a.chunks(2) {
        let name = text(&p[0]);
        if names.contains(&name.as_str()) {
            out.push(format!("{name}={}", text(&p[1])));
        }
    }
    out.join(" ")
}

/// Every key of databases 0 and 2 described by type-specific reads, plus the function libraries.
async fn describe(c: &mut MultiplexedConnection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for db in ["0", "2"] {
        q(c, &["SELECT", db]).await;
        let V::Array(keys) = q(c, &["KEYS", "*"]).await else {
            panic!("KEYS")
        };
        for k in keys.iter().map(text) {
            let kind = text(&q(c, &["TYPE", &k]).await);
            let mut d = match kind.as_str() {
                "string" => text(&q(c, &["GET", &k]).await),
                "list" => text(&q(c, &["LRANGE", &k, "0", "-1"]).await),
                "hash" => pairs_sorted(&q(c, &["HGETALL", &k]).await),
                "set" => sorted(&q(c, &["SMEMBERS", &k]).await),
                // Scores compared as numbers: redis-server 7.0 prints them with %.17g, redlink
                // (like 7.2) with the shortest exact form.
                "zset" => {
                    let V::Array(a) = q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]).await else {
                        panic!("ZRANGE")
                    };
                    a.chunks(2)
                        .map(|p| format!("{}={:?}", text(&p[0]), text(&p[1]).parse::<f64>().ok()))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
                "stream" => {
                    let mut d = text(&q(c, &["XRANGE", &k, "-", "+"]).await);
                    d += &fields(
                        &q(c, &["XINFO", "STREAM", &k]).await,
                        &[
                            "length",
                            "last-generated-id",
                            "max-deleted-entry-id",
                            "entries-added",
                            "groups",
                        ],
                    );
                    let V::Array(groups) = q(c, &["XINFO", "GROUPS", &k]).await else {
                        panic!("XINFO GROUPS")
                    };
                    for g in &groups {
                        d += &fields(
                            g,
                            &[
                                "name",
                                "consumers",
                                "pending",
                                "last-delivered-id",
                                "entries-read",
                                "lag",
                            ],
                        );
                        let V::Array(name) = g else { continue };
                        let gname = text(&name[1]);
                        let V::Array(pending) =
                            q(c, &["XPENDING", &k, &gname, "-", "+", "100"]).await
                        else {
                            panic!("XPENDING")
                        };
                        for p in &pending {
                            if let V::Array(p) = p {
                                d += &format!(
                                    " pel {} {} {}",
                                    text(&p[0]),
                                    text(&p[1]),
                                    text(&p[3])
                                );
                            }
                        }
                        let V::Array(consumers) = q(c, &["XINFO", "CONSUMERS", &k, &gname]).await
                        else {
                            panic!("XINFO CONSUMERS")
                        };
                        for cons in &consumers {
                            d += &fields(cons, &["name", "pending"]);
                        }
                    }
                    d
                }
                other => panic!("unexpected type {other}"),
            };
            d = format!(
                "{kind} {d} expire={}",
                text(&q(c, &["PEXPIRETIME", &k]).await)
            );
            out.insert(format!("{db}:{k}"), d);
        }
    }
    q(c, &["SELECT", "0"]).await;
    let libs = q(c, &["FUNCTION", "LIST", "WITHCODE"]).await;
    out.insert("functions".into(), text(&libs));
    out
}

fn assert_same(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "the same keys");
    for (k, v) in a {
        let got = b.get(k).map(String::as_str).unwrap_or("");
        if v != got {
            let at = v
                .bytes()
                .zip(got.bytes())
                .take_while(|(x, y)| x == y)
                .count();
            let from = at.saturating_sub(200);
            panic!(
                "key {k} differs from byte {at}:\n want …{}\n  got …{}",
                &v[from..(at + 200).min(v.len())],
                &got[from.min(got.len())..(at + 200).min(got.len())]
            );
        }
    }
}

async fn connect(ip: &str, port: u16) -> MultiplexedConnection {
    common::client(format!("{ip}:{port}").parse().expect("addr")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_servers_dump_loads_into_redlink_with_identical_contents() {
    if !installed("redis-server") {
        return;
    }
    let ip = "127.0.61.1";
    let (rdir, ldir) = (scratch("from-redis"), scratch("into-redlink"));
    let port = common::free_port(ip);
    let mut redis = redis_server(ip, port, &rdir).await;
    let mut c = connect(ip, port).await;
    fill(&mut c).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    q(&mut c, &["SAVE"]).await;
    let want = describe(&mut c).await;
    assert!(want.len() > 15, "{want:?}");
    let _ = run(&mut c, &["SHUTDOWN", "NOSAVE"]).await;
    redis
        .wait_exit(Duration::from_secs(10))
        .expect("redis-server exits");
    std::fs::copy(rdir.join("dump.rdb"), ldir.join("dump.rdb")).expect("copy");
    let port = common::free_port(ip);
    let _redlink = redlink_serve(
        ip,
        port,
        &["--dir", ldir.to_str().expect("utf-8"), "--save", ""],
    );
    let mut c = connect(ip, port).await;
    let got = describe(&mut c).await;
    assert_same(&want, &got);
    let _ = std::fs::remove_dir_all(&rdir);
    let _ = std::fs::remove_dir_all(&ldir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlinks_dump_loads_into_redis_server_with_identical_contents() {
    if !installed("redis-server") {
        return;
    }
    let ip = "127.0.61.2";
    // Compressed and checksummed (the defaults), then neither.
    for options in [
        &[][..],
        &["--rdbcompression", "no", "--rdbchecksum", "no"][..],
    ] {
        let (ldir, rdir) = (scratch("from-redlink"), scratch("into-redis"));
        let port = common::free_port(ip);
        let mut args = vec!["--dir", ldir.to_str().expect("utf-8"), "--save", ""];
        args.extend_from_slice(options);
        let mut redlink = redlink_serve(ip, port, &args);
        let mut c = connect(ip, port).await;
        fill(&mut c).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        // SHUTDOWN SAVE saves although no save point is configured.
        let want = describe(&mut c).await;
        let _ = run(&mut c, &["SHUTDOWN", "SAVE"]).await;
        let status = redlink
            .wait_exit(Duration::from_secs(20))
            .expect("redlink exits");
        assert!(status.success(), "{status:?}");
        let file = std::fs::read(ldir.join("dump.rdb")).expect("dump.rdb written");
        assert_eq!(&file[..9], b"REDIS0010");
        if !options.is_empty() {
            assert_eq!(
                &file[file.len() - 8..],
                &[0u8; 8],
                "rdbchecksum no writes a zero checksum"
            );
        }
        std::fs::copy(ldir.join("dump.rdb"), rdir.join("dump.rdb")).expect("copy");
        let port = common::free_port(ip);
        let _redis = redis_server(ip, port, &rdir).await;
        let mut c = connect(ip, port).await;
        let got = describe(&mut c).await;
        assert_same(&want, &got);
        let _ = run(&mut c, &["SHUTDOWN", "NOSAVE"]).await;
        let _ = std::fs::remove_dir_all(&ldir);
        let _ = std::fs::remove_dir_all(&rdir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_saves_when_save_points_exist_and_the_data_comes_back() {
    let ip = "127.0.61.3";
    let dir = scratch("sigterm");
    let d = dir.to_str().expect("utf-8");
    let port = common::free_port(ip);
    let mut redlink = redlink_serve(ip, port, &["--dir", d, "--save", "3600 1000"]);
    let mut c = connect(ip, port).await;
    fill(&mut c).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let want = describe(&mut c).await;
    let pid = redlink.0.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = redlink
        .wait_exit(Duration::from_secs(20))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(dir.join("dump.rdb").exists());
    let port = common::free_port(ip);
    let _redlink = redlink_serve(ip, port, &["--dir", d, "--save", "3600 1000"]);
    let mut c = connect(ip, port).await;
    assert_same(&want, &describe(&mut c).await);
    let loaded: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(&mut c)
        .await
        .expect("INFO");
    assert!(loaded.contains("rdb_changes_since_last_save:0"), "{loaded}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_rdb_is_refused_naming_the_file_and_offset() {
    let ip = "127.0.61.4";
    let dir = scratch("corrupt");
    let mut file = b"REDIS0010\xfa\x09redis-ver\x067.0.15".to_vec();
    // A string key whose length runs past the end of the file.
    file.extend_from_slice(b"\xfe\x00\x00\x01k\x3fshort");
    std::fs::write(dir.join("dump.rdb"), &file).expect("write");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redlink"));
    cmd.args([
        "serve",
        "--bind",
        ip,
        "--port",
        &common::free_port(ip).to_string(),
    ])
    .arg("--dir")
    .arg(&dir);
    let out = support::bounded(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&dir.join("dump.rdb").display().to_string()),
        "{err}"
    );
    // The key's value claims 63 bytes at offset 33; the file ends there.
    assert!(err.contains("byte offset 33"), "{err}");
    // A missing dir is refused at start, as redis-server does.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redlink"));
    cmd.args(["serve", "--bind", ip, "--port", "0", "--dir"])
        .arg(dir.join("missing"));
    let out = support::bounded(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Can't chdir to"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A full disk, simulated: `ulimit -f` caps the files the server writes at 64 KB and SIGXFSZ is
/// ignored (an ignored signal stays ignored across exec), so writing past it fails with EFBIG the
/// way a full disk fails with ENOSPC. The save fails, the server keeps serving reads, refuses
/// writes with MISCONF, and recovers once a save succeeds again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_bgsave_turns_on_misconf_and_keeps_serving() {
    let ip = "127.0.61.5";
    let dir = scratch("full");
    let port = common::free_port(ip);
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec '{}' serve --bind {ip} --port {port} --dir '{}' --save '3600 1'",
        env!("CARGO_BIN_EXE_redlink"),
        dir.display()
    );
    let child = Command::new("bash")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash");
    let _server = Proc(support::until_ready(child, "Ready"));
    let mut c = connect(ip, port).await;
    // ~400 KB of incompressible values.
    for i in 0..400u32 {
        let v: String = (0..1000u32)
            .map(|j| {
                char::from(b'!' + ((i.wrapping_mul(7919) ^ j.wrapping_mul(104_729)) % 90) as u8)
            })
            .collect();
        q(&mut c, &["SET", &format!("k{i}"), &v]).await;
    }
    assert_eq!(
        text(&q(&mut c, &["BGSAVE"]).await),
        "Background saving started"
    );
    let addr: SocketAddr = format!("{ip}:{port}").parse().expect("addr");
    common::wait_until("the BGSAVE ends", || async {
        common::info_field(addr, "persistence", "rdb_bgsave_in_progress").await == "0"
    })
    .await;
    assert_eq!(
        common::info_field(addr, "persistence", "rdb_last_bgsave_status").await,
        "err"
    );
    let misconf = e(&mut c, &["SET", "x", "y"]).await;
    assert!(
        misconf.starts_with("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."),
        "{misconf}"
    );
    // Reads are served; PING is refused like a write, as redis-server does.
    assert_eq!(text(&q(&mut c, &["STRLEN", "k1"]).await), "1000");
    assert!(e(&mut c, &["PING"]).await.starts_with("MISCONF"));
    // SAVE reports why.
    let why = e(&mut c, &["SAVE"]).await;
    assert!(
        why.contains("File too large") || why.contains("rror"),
        "{why}"
    );
    assert!(!dir.join("dump.rdb").exists());
    assert!(
        std::fs::read_dir(&dir).expect("dir").next().is_none(),
        "the temp file is removed"
    );
    // Without the save point, MISCONF no longer applies (Redis's saveparamslen > 0 condition).
    q(&mut c, &["CONFIG", "SET", "save", ""]).await;
    q(&mut c, &["SET", "x", "y"]).await;
    let _ = std::fs::remove_dir_all(&dir);
}
