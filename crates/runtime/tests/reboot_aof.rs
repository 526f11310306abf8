//! A cache with AOF persistence (`persistence = { aof = "always" }`): every acknowledged write is in
//! its append-only file, so a reboot keeps it (unlike RDB persistence, which keeps only the last
//! snapshot); an import starts the AOF afresh from the imported data.

mod common;

use std::time::Duration;

use redlink_world::Change;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCENARIO: &str = r#"
name = "reboot-aof"

[[cache]]
name = "contoso"
non_tls_port = true
public_network_access = "Enabled"
persistence = { aof = "always" }
"#;

async fn call(world: &redlink_runtime::RunningWorld, cmd: &[u8]) -> String {
    let addr = std::net::SocketAddr::new(common::public(world, "contoso"), 6379);
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(cmd).await.expect("writes");
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("a reply in time")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn reboot(world: &redlink_runtime::RunningWorld) {
    let change: Change =
        serde_json::from_str(r#"{"reboot":{"cache":"contoso"}}"#).expect("reboot JSON");
    world.apply_change(&change).await.expect("rebooted");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aof_cache_keeps_every_acknowledged_write_across_reboots() {
    let scenario = common::scenario("reboot-aof", SCENARIO);
    let world = common::up(&scenario, "reboot-aof").await;
    let engine = world.engine("contoso").await.expect("engine");
    {
        let config = engine.config.read();
        assert_eq!(config.get("appendonly"), Some("yes"));
        assert_eq!(config.get("appendfsync"), Some("always"));
        assert_eq!(config.get("save"), Some(""));
    }
    let dir = std::path::PathBuf::from(engine.config.read().get("dir").expect("dir"));
    assert!(
        dir.join("appendonlydir").is_dir(),
        "the AOF directory exists"
    );

    assert_eq!(call(&world, b"SET k v\r\n").await, "+OK\r\n");
    assert_eq!(call(&world, b"INCR n\r\n").await, ":1\r\n");
    reboot(&world).await;
    // Written just before the reboot, no snapshot taken: the AOF brings both back.
    assert_eq!(call(&world, b"GET k\r\n").await, "$1\r\nv\r\n");
    assert_eq!(call(&world, b"INCR n\r\n").await, ":2\r\n");
    reboot(&world).await;
    assert_eq!(call(&world, b"GET n\r\n").await, "$1\r\n2\r\n");

    // An import replaces the data and the AOF with it: after a reboot the import is what is there.
    let exported = world.export_rdb("contoso").await.expect("export");
    assert_eq!(call(&world, b"SET later x\r\n").await, "+OK\r\n");
    world
        .import_rdb("contoso", &exported)
        .await
        .expect("import");
    reboot(&world).await;
    assert_eq!(call(&world, b"EXISTS later\r\n").await, ":0\r\n");
    assert_eq!(call(&world, b"GET n\r\n").await, "$1\r\n2\r\n");
    world.shutdown().await.expect("the world stops");
}
