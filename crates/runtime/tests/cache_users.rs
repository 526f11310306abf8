//! ACL users declared in a scenario (`[[cache.user]]`) exist in the cache's engine once the world
//! runs: they authenticate with their password and get exactly the declared permissions; a rule the
//! engine refuses (an unknown command, which the scenario parser cannot know) fails the start with
//! the cache, the user and Redis's text.

mod common;

use std::time::Duration;

use redlink_runtime::{RunningWorld, UpOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCENARIO: &str = r#"
name = "cache-users"
# The tests connect from 127.0.0.1: the host is a jump box in hub.
host = { network = "hub" }

[[network]]
name = "hub"

[[cache]]
name = "acl"
requirepass = "s3cret"
non_tls_port = true
public_network_access = "Disabled"

[[cache.user]]
name = "app"
password = "apppw"
rules = "+@all -@dangerous ~app:*"

[[private_endpoint]]
name = "pe-acl"
network = "hub"
cache = "acl"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

async fn send(s: &mut TcpStream, bytes: &[u8]) -> String {
    s.write_all(bytes).await.expect("write");
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .expect("a reply in time")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn declared_users_authenticate_with_their_permissions() {
    let scenario = common::scenario("cache-users", SCENARIO);
    let world = common::up(&scenario, "cache-users").await;
    let addr = std::net::SocketAddr::new(common::pe(&world, "pe-acl"), 6379);
    let mut c = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        send(&mut c, b"AUTH app wrong\r\n").await,
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(send(&mut c, b"AUTH app apppw\r\n").await, "+OK\r\n");
    // Azure disables the ACL command on its caches (docs/azure-disabled-commands.md); CLIENT INFO
    // names the user.
    assert!(
        send(&mut c, b"CLIENT INFO\r\n")
            .await
            .contains(" user=app "),
        "CLIENT INFO names the authenticated user"
    );
    assert_eq!(
        send(&mut c, b"ACL WHOAMI\r\n").await,
        "-ERR unknown command 'ACL', with args beginning with: 'WHOAMI' \r\n"
    );
    assert_eq!(send(&mut c, b"SET app:1 v\r\n").await, "+OK\r\n");
    assert_eq!(
        send(&mut c, b"SET other v\r\n").await,
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(
        send(&mut c, b"FLUSHALL\r\n").await,
        "-NOPERM this user has no permissions to run the 'flushall' command\r\n"
    );
    // requirepass stays the default user's password.
    let mut d = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(send(&mut d, b"AUTH s3cret\r\n").await, "+OK\r\n");
    assert!(
        send(&mut d, b"CLIENT INFO\r\n")
            .await
            .contains(" user=default ")
    );
    let engine = world.engine("acl").await.expect("the cache's engine");
    assert!(
        engine
            .acl
            .users()
            .iter()
            .any(|u| u.name == "app" && u.describe().starts_with("on #")),
        "the engine has the declared user"
    );
    world.shutdown().await.expect("the world stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_the_engine_refuses_fails_the_start() {
    let toml = SCENARIO.replace("-@dangerous", "-nosuchcommand");
    let scenario = common::scenario("cache-users-bad", &toml);
    let options = UpOptions {
        state_file: Some(common::state_path("cache-users-bad")),
        ..UpOptions::default()
    };
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        RunningWorld::start(&scenario, options),
    )
    .await
    .expect("start returns in time");
    let Err(e) = result else {
        panic!("the world started with an unknown command in a user's rules");
    };
    assert_eq!(
        e.to_string(),
        "cache acl: user app: Error in ACL SETUSER modifier '-nosuchcommand': Unknown command or category name in ACL"
    );
}
