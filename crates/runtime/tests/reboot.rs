//! Reboots, imports and exports through `RunningWorld` (the one path of timeline steps, the control
//! API and ctl): the data directory of a persisted cache (private, next to the state file, removed
//! with the world), the events each leaves in the stream, and refusals that change nothing.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use redlink_runtime::Event;
use redlink_world::Change;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCENARIO: &str = r#"
name = "reboot-runtime"

[[cache]]
name = "contoso"
non_tls_port = true
public_network_access = "Enabled"
persistence = { rdb = "6h" }

[[cache]]
name = "plain"
non_tls_port = true
public_network_access = "Enabled"
"#;

async fn call(world: &redlink_runtime::RunningWorld, cache: &str, cmd: &[u8]) -> String {
    let addr = std::net::SocketAddr::new(common::public(world, cache), 6379);
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(cmd).await.expect("writes");
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("a reply in time")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn next_change(events: &mut redlink_runtime::EventStream) -> (String, Option<String>) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event in time")
            .expect("the stream is open");
        if let Event::Change {
            description, error, ..
        } = e
        {
            return (description, error);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reboot_import_export_go_through_the_world() {
    let scenario = common::scenario("reboot-runtime", SCENARIO);
    let world = common::up(&scenario, "reboot-runtime").await;
    let mut events = world.events();

    // The persisted cache's engine saves in a private directory next to the state file.
    let engine = world.engine("contoso").await.expect("engine");
    let dir = std::path::PathBuf::from(engine.config.read().get("dir").expect("dir"));
    assert_eq!(
        dir.parent().and_then(|p| p.parent()),
        world.state_file().parent()
    );
    let mode = std::fs::metadata(&dir)
        .expect("data dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(engine.config.read().get("save"), Some("21600 1"));
    let plain = world.engine("plain").await.expect("engine");
    assert_eq!(plain.config.read().get("save"), Some(""));

    // Export, then import it (replacing the data) into the persisted cache: the import is saved.
    assert!(
        call(&world, "contoso", b"SET k v\r\n")
            .await
            .starts_with("+OK")
    );
    let rdb = world.export_rdb("contoso").await.expect("exported");
    assert!(rdb.starts_with(b"REDIS0010"));
    assert!(
        next_change(&mut events)
            .await
            .0
            .contains("exported cache contoso")
    );
    assert!(
        call(&world, "contoso", b"SET later x\r\n")
            .await
            .starts_with("+OK")
    );
    let done = world.import_rdb("contoso", &rdb).await.expect("imported");
    assert!(done.contains("imported 1 keys"), "{done}");
    assert!(next_change(&mut events).await.0.contains("imported 1 keys"));
    assert!(
        dir.join("dump.rdb").is_file(),
        "the import is the new snapshot"
    );
    assert_eq!(call(&world, "contoso", b"EXISTS later\r\n").await, ":0\r\n");

    // A corrupt file changes nothing and says where it is bad.
    let e = world
        .import_rdb("contoso", &rdb[..rdb.len() - 4])
        .await
        .expect_err("corrupt");
    assert!(e.to_string().contains("at byte offset"), "{e}");
    let (_, error) = next_change(&mut events).await;
    assert!(error.is_some_and(|e| e.contains("unchanged")));
    assert_eq!(call(&world, "contoso", b"GET k\r\n").await, "$1\r\nv\r\n");

    // A reboot step (the timeline's JSON): the persisted cache keeps its snapshot; the other
    // cache comes back empty.
    assert!(
        call(&world, "plain", b"SET p 1\r\n")
            .await
            .starts_with("+OK")
    );
    for cache in ["contoso", "plain"] {
        let change: Change =
            serde_json::from_str(&format!(r#"{{"reboot":{{"cache":"{cache}"}}}}"#))
                .expect("a change");
        world.apply_change(&change).await.expect("rebooted");
        let (description, error) = next_change(&mut events).await;
        assert!(description.contains(&format!("rebooted cache {cache}")));
        assert_eq!(error, None);
    }
    assert!(engine.is_shutting_down(), "the old engine stopped");
    assert_eq!(call(&world, "contoso", b"GET k\r\n").await, "$1\r\nv\r\n");
    assert_eq!(call(&world, "plain", b"DBSIZE\r\n").await, ":0\r\n");

    // A connection through a toxic (the edge's pump) sees the close too.
    let toxic: Change = serde_json::from_str(
        r#"{"add_toxic":{"name":"slow","endpoint":"contoso","kind":"latency","latency_ms":1}}"#,
    )
    .expect("a change");
    world.apply_change(&toxic).await.expect("toxic added");
    let _ = next_change(&mut events).await;
    let addr = std::net::SocketAddr::new(common::public(&world, "contoso"), 6379);
    let mut open = TcpStream::connect(addr).await.expect("connects");
    open.write_all(b"PING\r\n").await.expect("writes");
    let mut buf = [0u8; 7];
    tokio::time::timeout(Duration::from_secs(5), open.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("PONG");
    assert_eq!(&buf, b"+PONG\r\n");
    let reboot: Change =
        serde_json::from_str(r#"{"reboot":{"cache":"contoso"}}"#).expect("a change");
    world.apply_change(&reboot).await.expect("rebooted");
    let _ = next_change(&mut events).await;
    let mut rest = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), open.read(&mut rest))
        .await
        .expect("the close arrives in time");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    assert_eq!(call(&world, "contoso", b"GET k\r\n").await, "$1\r\nv\r\n");

    // Refused: a replica node (none yet), a stopped cache, an unknown one.
    let replica: Change =
        serde_json::from_str(r#"{"reboot":{"cache":"contoso","node":"replica"}}"#).expect("json");
    let e = world.apply_change(&replica).await.expect_err("no replica");
    assert!(e.to_string().contains("SecondaryNode"), "{e}");
    world
        .apply_change(&Change::Stop("plain".into()))
        .await
        .expect("stopped");
    let e = world
        .apply_change(&Change::Reboot(redlink_world::change::RebootChange {
            cache: "plain".into(),
            node: redlink_world::RebootNodes::All,
        }))
        .await
        .expect_err("stopped");
    assert!(e.to_string().contains("is stopped"), "{e}");
    assert!(world.export_rdb("nope").await.is_err());

    world.shutdown().await.expect("the world stops");
    assert!(!dir.exists(), "the data directory goes with the world");
}
