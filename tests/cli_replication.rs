//! `redlink serve --replicaof HOST PORT` and `replicaof` in a configuration file: the binary
//! follows a redis-server 7.0.15 primary and a `redlink serve` primary from its start, and refuses
//! a primary that is not on a loopback address before it listens.

#[path = "../crates/engine/tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::redis_server::RedisServer;
use common::reply::q;

/// A server process that is killed when the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(port: u16, args: &[&str]) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_redlink"))
        .args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", ""])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redlink");
    Proc(support::until_ready(child, "Ready"))
}

async fn field(addr: SocketAddr, name: &str) -> String {
    common::info_field(addr, "replication", name).await
}

async fn follows(primary: SocketAddr, replica: SocketAddr) {
    common::wait_until("master_link_status:up", || async {
        field(replica, "master_link_status").await == "up"
    })
    .await;
    let mut p = common::client(primary).await;
    q(&mut p, &["SET", "after", "2"]).await;
    q(&mut p, &["RPUSH", "list", "a", "b"]).await;
    let mut r = common::client(replica).await;
    common::wait_until("the stream reached the replica", || {
        let mut r = r.clone();
        async move {
            q(&mut r, &["LRANGE", "list", "0", "-1"]).await
                == redis::Value::Array(vec![
                    redis::Value::BulkString(b"a".to_vec()),
                    redis::Value::BulkString(b"b".to_vec()),
                ])
        }
    })
    .await;
    assert_eq!(
        q(&mut r, &["GET", "before"]).await,
        redis::Value::BulkString(b"1".to_vec())
    );
    assert_eq!(field(replica, "role").await, "slave");
    assert_eq!(
        field(replica, "master_port").await,
        primary.port().to_string()
    );
    let e = common::reply::e(&mut r, &["SET", "x", "y"]).await;
    assert_eq!(e, "READONLY You can't write against a read only replica.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_replicaof_follows_redis_server() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let mut p = common::client(redis.addr).await;
    q(&mut p, &["SET", "before", "1"]).await;
    let port = common::free_port("127.0.0.1");
    let _replica = serve(
        port,
        &["--replicaof", "127.0.0.1", &redis.addr.port().to_string()],
    );
    let replica: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    follows(redis.addr, replica).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaof_in_a_config_file_follows_a_redlink_primary() {
    let pport = common::free_port("127.0.0.1");
    let _primary = serve(pport, &[]);
    let primary: SocketAddr = format!("127.0.0.1:{pport}").parse().unwrap();
    let mut p = common::client(primary).await;
    q(&mut p, &["SET", "before", "1"]).await;
    let dir = common::redis_server::temp_dir("cli-replication");
    let conf = dir.join("replica.conf");
    std::fs::write(
        &conf,
        format!("replicaof 127.0.0.1 {pport}\nreplica-announce-ip 127.0.0.9\n"),
    )
    .unwrap();
    let rport = common::free_port("127.0.0.1");
    let child = Command::new(env!("CARGO_BIN_EXE_redlink"))
        .arg("serve")
        .arg(&conf)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &rport.to_string(),
            "--save",
            "",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redlink");
    let _replica = Proc(support::until_ready(child, "Ready"));
    let replica: SocketAddr = format!("127.0.0.1:{rport}").parse().unwrap();
    follows(primary, replica).await;
    // The primary lists it with the announced address.
    let slave0 = common::info_field(primary, "replication", "slave0").await;
    assert!(
        slave0.starts_with(&format!("ip=127.0.0.9,port={rport},state=online")),
        "{slave0}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_primary_off_loopback_is_refused_before_listening() {
    let port = common::free_port("127.0.0.1");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redlink"));
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--replicaof",
        "10.0.0.5",
        "6379",
    ]);
    let out = support::bounded(cmd, Duration::from_secs(30));
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("replicaof 10.0.0.5 6379") && text.contains("only from loopback addresses"),
        "{text}"
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redlink"));
    cmd.args([
        "serve",
        "--port",
        &port.to_string(),
        "--replicaof",
        "127.0.0.1",
    ]);
    let out = support::bounded(cmd, Duration::from_secs(30));
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("replicaof HOST PORT"), "{text}");
}
