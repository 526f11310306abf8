//! Security of a running world (issue 15): clients of a simulated cache get Azure's refusal for the
//! commands Azure disables (SHUTDOWN cannot kill a world's cache, not even from MULTI or a script);
//! an engine that stops anyway shows as a stopped cache and CACHE START brings a fresh one; the
//! state file is 0600 from creation and the world's CA is name-constrained and short-lived.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use redlink_world::Change;
use tokio::net::TcpStream;

const SCENARIO: &str = r#"
name = "security"
# The tests connect from 127.0.0.1: the host is a jump box in hub.
host = { network = "hub" }

[[network]]
name = "hub"

[[cache]]
name = "sec"
requirepass = "s3cret"
non_tls_port = true
public_network_access = "Disabled"

[[cache]]
name = "amr"
flavour = "managed-redis"
region = "westeurope"
public_network_access = "Disabled"

[[private_endpoint]]
name = "pe-sec"
network = "hub"
cache = "sec"

[[private_endpoint]]
name = "pe-amr"
network = "hub"
cache = "amr"
group_id = "redisEnterprise"

[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

async fn authed(world: &redlink_runtime::RunningWorld) -> TcpStream {
    let addr = std::net::SocketAddr::new(common::pe(world, "pe-sec"), 6379);
    let mut c = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        common::command(&mut c, &["AUTH", "s3cret"]).await,
        "+OK\r\n"
    );
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_through_an_endpoint_is_refused_and_the_cache_keeps_serving() {
    let scenario = common::scenario("security-shutdown", SCENARIO);
    let world = common::up(&scenario, "security-shutdown").await;
    let mut c = authed(&world).await;
    assert_eq!(common::command(&mut c, &["SET", "k", "v"]).await, "+OK\r\n");
    for (args, reply) in [
        (
            &["SHUTDOWN", "NOSAVE"][..],
            "-ERR unknown command 'SHUTDOWN', with args beginning with: 'NOSAVE' \r\n",
        ),
        (
            &["shutdown"][..],
            "-ERR unknown command 'shutdown', with args beginning with: \r\n",
        ),
        (
            &["CONFIG", "SET", "requirepass", ""][..],
            "-ERR unknown command 'CONFIG', with args beginning with: 'SET' 'requirepass' '' \r\n",
        ),
        (
            &["DEBUG", "SLEEP", "0"][..],
            "-ERR unknown command 'DEBUG', with args beginning with: 'SLEEP' '0' \r\n",
        ),
        (
            &["REPLICAOF", "127.0.0.1", "6379"][..],
            "-ERR unknown command 'REPLICAOF', with args beginning with: '127.0.0.1' '6379' \r\n",
        ),
    ] {
        assert_eq!(common::command(&mut c, args).await, reply, "{args:?}");
    }
    // Queued in MULTI: refused at once, and EXEC aborts (as redis-server with rename-command).
    assert_eq!(common::command(&mut c, &["MULTI"]).await, "+OK\r\n");
    assert_eq!(
        common::command(&mut c, &["SHUTDOWN"]).await,
        "-ERR unknown command 'SHUTDOWN', with args beginning with: \r\n"
    );
    assert_eq!(
        common::command(&mut c, &["EXEC"]).await,
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // From a script: Redis's unknown-command error for scripts.
    let reply = common::command(&mut c, &["EVAL", "return redis.call('shutdown')", "0"]).await;
    assert!(
        reply.starts_with("-ERR Unknown Redis command called from script"),
        "{reply:?}"
    );
    // The cache is still there, with its data, for this client and new ones.
    assert_eq!(common::command(&mut c, &["GET", "k"]).await, "$1\r\nv\r\n");
    let mut d = authed(&world).await;
    assert_eq!(common::command(&mut d, &["GET", "k"]).await, "$1\r\nv\r\n");
    let engine = world.engine("sec").await.expect("engine");
    assert!(!engine.is_shutting_down());
    world.shutdown().await.expect("the world stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_redis_refuses_its_own_list() {
    let scenario = common::scenario("security-amr", SCENARIO);
    let world = common::up(&scenario, "security-amr").await;
    let engine = world.engine("amr").await.expect("engine");
    let disabled = engine.disabled.names();
    for name in [
        "shutdown",
        "select",
        "move",
        "save",
        "bgsave",
        "replicaof",
        "swapdb",
    ] {
        assert!(disabled.iter().any(|d| d == name), "{name} in {disabled:?}");
    }
    // CONFIG is not in Microsoft's list for Managed Redis (Redis Enterprise supports a subset).
    assert!(!disabled.iter().any(|d| d == "config"));
    assert_eq!(
        redlink_runtime::disabled_commands(redlink_world::Flavour::RedisCache)
            .iter()
            .filter(|c| ["acl", "config", "shutdown"].contains(c))
            .count(),
        3
    );
    world.shutdown().await.expect("the world stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_engine_shows_as_a_stopped_cache_and_start_brings_a_fresh_one() {
    let scenario = common::scenario("security-dead", SCENARIO);
    let world = common::up(&scenario, "security-dead").await;
    let mut events = world.events();
    let mut c = authed(&world).await;
    assert_eq!(common::command(&mut c, &["SET", "k", "v"]).await, "+OK\r\n");
    // Something other than a client stops the engine.
    world.engine("sec").await.expect("engine").shutdown();
    let state = world.state().await;
    assert!(
        !state.caches["sec"].running,
        "WORLD.STATE must not say running"
    );
    assert!(!world.world().cache("sec").expect("cache").running);
    let on_disk = redlink_runtime::StateFile::read(world.state_file()).expect("state file");
    assert!(!on_disk.caches["sec"].running);
    // The event stream says why.
    let said = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = events.next().await {
            let json = e.to_json();
            if json.contains("engine stopped") {
                return json;
            }
        }
        String::new()
    })
    .await
    .expect("an event in time");
    assert!(said.contains("cache sec"), "{said}");
    // CACHE START: a fresh engine (empty, as a rebooted cache) that serves.
    world
        .apply_change(&Change::Start("sec".into()))
        .await
        .expect("start");
    let engine = world.engine("sec").await.expect("engine");
    assert!(!engine.is_shutting_down());
    assert!(world.state().await.caches["sec"].running);
    let mut d = authed(&world).await;
    assert_eq!(common::command(&mut d, &["GET", "k"]).await, "$-1\r\n");
    assert_eq!(common::command(&mut d, &["SET", "k", "w"]).await, "+OK\r\n");
    world.shutdown().await.expect("the world stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_file_is_private_and_the_ca_is_constrained() {
    let scenario = common::scenario("security-files", SCENARIO);
    let world = common::up(&scenario, "security-files").await;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(
        mode(world.state_file()),
        0o600,
        "the state file names passwords"
    );
    assert_eq!(mode(world.ca_file()), 0o644, "the CA certificate is public");
    // No temporary file is left next to it.
    let dir = world.state_file().parent().expect("dir").to_path_buf();
    let stem = world
        .state_file()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!(".{stem}.tmp"))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The CA vouches for the simulated cache domains only, and not for long.
    let ca = world.ca_pem().to_owned();
    let ok = redlink_engine::tls::CertAuthority::generate("t", &redlink_runtime::world_ca_scope())
        .expect("ca");
    let leaf = ok
        .issue(&["*.redis.cache.windows.net".into()])
        .expect("leaf");
    redlink_engine::tls::verify_chain(
        &ok.cert_pem,
        &leaf.cert_pem,
        &["x.redis.cache.windows.net".into()],
    )
    .expect("in scope");
    let outside = ok.issue(&["login.example.com".into()]).expect("leaf");
    let e = redlink_engine::tls::verify_chain(
        &ok.cert_pem,
        &outside.cert_pem,
        &["login.example.com".into()],
    )
    .expect_err("a name outside the constraints does not validate");
    assert!(e.contains("login.example.com"), "{e}");
    // The world's own certificate still validates for its cache (rustls, as clients do).
    let tls = common::tls_connect(
        &ca,
        common::pe(&world, "pe-sec"),
        6380,
        "sec.redis.cache.windows.net",
    )
    .await;
    assert!(tls.is_ok(), "{tls:?}");
    world.shutdown().await.expect("the world stops");
}
