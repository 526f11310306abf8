//! ACL users through the `redis` crate against an in-process engine: SETUSER/GETUSER/LIST round
//! trips, AUTH and HELLO AUTH with users, NOPERM for commands, keys and channels (also inside
//! MULTI), categories, ACL LOG, requirepass as the default user's password, and DELUSER closing the
//! user's connections. Texts are redis-server 7.0.15's. Every test starts its own engine on an
//! ephemeral loopback port.

use redis::Value as V;

mod common;
use common::reply::{b, e, q, run};

fn ok() -> V {
    V::Okay
}

fn strings(v: &V) -> Vec<String> {
    match v {
        V::Array(items) => items
            .iter()
            .map(|i| match i {
                V::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                V::SimpleString(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// A flat RESP2 map reply as (key, value) pairs.
fn pairs(v: &V) -> Vec<(String, V)> {
    match v {
        V::Array(items) => items
            .chunks(2)
            .map(|kv| match &kv[0] {
                V::BulkString(k) => (String::from_utf8_lossy(k).into_owned(), kv[1].clone()),
                other => panic!("key {other:?}"),
            })
            .collect(),
        other => panic!("not a map: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn setuser_getuser_list_round_trip() {
    let (_s, addr) = common::start_default();
    let mut c = common::client(addr).await;
    assert_eq!(
        strings(&q(&mut c, &["ACL", "LIST"]).await),
        ["user default on nopass ~* &* +@all"]
    );
    assert_eq!(q(&mut c, &["ACL", "SETUSER", "u1"]).await, ok());
    let rules = [
        "ACL", "SETUSER", "u2", "on", ">p1", ">p2", "+get", "+@hash", "-hset", "~foo*", "%R~bar*",
        "&chan*",
    ];
    assert_eq!(q(&mut c, &rules).await, ok());
    assert_eq!(
        strings(&q(&mut c, &["ACL", "LIST"]).await),
        [
            "user default on nopass ~* &* +@all",
            "user u1 off resetchannels -@all",
            "user u2 on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a #3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693 ~foo* %R~bar* resetchannels &chan* -@all +@hash +get -hset",
        ]
    );
    let user = pairs(&q(&mut c, &["ACL", "GETUSER", "u2"]).await);
    let keys: Vec<&str> = user.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "flags",
            "passwords",
            "commands",
            "keys",
            "channels",
            "selectors"
        ]
    );
    assert_eq!(strings(&user[0].1), ["on"]);
    assert_eq!(strings(&user[1].1).len(), 2);
    assert_eq!(user[2].1, b("-@all +@hash +get -hset"));
    assert_eq!(user[3].1, b("~foo* %R~bar*"));
    assert_eq!(user[4].1, b("&chan*"));
    assert_eq!(user[5].1, V::Array(vec![]));
    assert_eq!(q(&mut c, &["ACL", "GETUSER", "nosuch"]).await, V::Nil);
    assert_eq!(
        strings(&q(&mut c, &["ACL", "USERS"]).await),
        ["default", "u1", "u2"]
    );
    assert_eq!(q(&mut c, &["ACL", "WHOAMI"]).await, b("default"));
    // Errors, with Redis's texts; a failing SETUSER changes nothing.
    for (rule, text) in [
        ("xyz", "Syntax error"),
        ("+nosuch", "Unknown command or category name in ACL"),
        ("+@nosuch", "Unknown command or category name in ACL"),
        (
            "<nope",
            "The password you are trying to remove from the user does not exist",
        ),
        (
            "#abc",
            "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        ),
    ] {
        assert_eq!(
            e(&mut c, &["ACL", "SETUSER", "u3", "on", rule]).await,
            format!("ERR Error in ACL SETUSER modifier '{rule}': {text}")
        );
    }
    assert_eq!(q(&mut c, &["ACL", "GETUSER", "u3"]).await, V::Nil);
    assert_eq!(
        e(&mut c, &["ACL", "SETUSER", "u3", "~*", "~a"]).await,
        "ERR Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
    );
    // `~*` and `&*` repeat harmlessly (aliases of allkeys / allchannels).
    assert_eq!(
        q(&mut c, &["ACL", "SETUSER", "u4", "~*", "~*", "&*", "&*"]).await,
        ok()
    );
    assert_eq!(
        e(&mut c, &["ACL", "DELUSER", "default"]).await,
        "ERR The 'default' user cannot be removed"
    );
    assert_eq!(
        q(&mut c, &["ACL", "DELUSER", "u1", "nosuch"]).await,
        V::Int(1)
    );
    assert_eq!(
        e(&mut c, &["ACL", "NOSUCH"]).await,
        "ERR unknown subcommand 'NOSUCH'. Try ACL HELP."
    );
    assert_eq!(
        e(&mut c, &["ACL", "GETUSER"]).await,
        "ERR wrong number of arguments for 'acl|getuser' command"
    );
    // GENPASS: 256 bits = 64 hex digits by default.
    let V::BulkString(p) = q(&mut c, &["ACL", "GENPASS"]).await else {
        panic!("genpass")
    };
    assert_eq!(p.len(), 64);
    assert!(p.iter().all(u8::is_ascii_hexdigit));
    let V::BulkString(p) = q(&mut c, &["ACL", "GENPASS", "5"]).await else {
        panic!("genpass 5")
    };
    assert_eq!(p.len(), 2);
    assert_eq!(
        e(&mut c, &["ACL", "GENPASS", "0"]).await,
        "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_with_users_and_noperm() {
    let (_s, addr) = common::start_default();
    let mut admin = common::client(addr).await;
    q(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">pw",
            "+@all",
            "-config|set",
            "-flushall",
            "~k*",
            "&c*",
        ],
    )
    .await;
    let mut app = common::client_as(addr, "app", "pw").await;
    assert_eq!(q(&mut app, &["ACL", "WHOAMI"]).await, b("app"));
    assert_eq!(q(&mut app, &["SET", "k1", "v"]).await, ok());
    assert_eq!(q(&mut app, &["GET", "k1"]).await, b("v"));
    assert_eq!(
        e(&mut app, &["GET", "x"]).await,
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(
        e(&mut app, &["MSET", "k1", "a", "x", "b"]).await,
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(
        e(&mut app, &["CONFIG", "SET", "a", "b"]).await,
        "NOPERM this user has no permissions to run the 'config|set' command"
    );
    assert!(
        run(&mut app, &["CONFIG", "GET", "maxclients"])
            .await
            .is_ok()
    );
    assert_eq!(
        e(&mut app, &["FLUSHALL"]).await,
        "NOPERM this user has no permissions to run the 'flushall' command"
    );
    assert_eq!(
        e(&mut app, &["PUBLISH", "x", "m"]).await,
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    );
    assert_eq!(q(&mut app, &["PUBLISH", "c1", "m"]).await, V::Int(0));
    // Inside MULTI: refused at queue time, and the transaction aborts.
    assert_eq!(q(&mut app, &["MULTI"]).await, ok());
    assert!(e(&mut app, &["GET", "x"]).await.starts_with("NOPERM"));
    assert!(e(&mut app, &["EXEC"]).await.starts_with("EXECABORT"));
    // Permissions changed after queueing are checked again at EXEC.
    assert_eq!(q(&mut app, &["MULTI"]).await, ok());
    assert_eq!(
        q(&mut app, &["GET", "k1"]).await,
        V::SimpleString("QUEUED".into())
    );
    q(&mut admin, &["ACL", "SETUSER", "app", "-get"]).await;
    match q(&mut app, &["EXEC"]).await {
        V::Array(items) => match &items[0] {
            V::ServerError(e) => assert_eq!(
                e.details(),
                Some("this user has no permissions to run the 'get' command")
            ),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // Read-only and write-only key patterns.
    q(
        &mut admin,
        &[
            "ACL", "SETUSER", "ro", "on", ">pw", "+@all", "%R~r*", "%W~w*",
        ],
    )
    .await;
    let mut ro = common::client_as(addr, "ro", "pw").await;
    assert_eq!(q(&mut ro, &["GET", "r1"]).await, V::Nil);
    assert!(e(&mut ro, &["SET", "r1", "v"]).await.starts_with("NOPERM"));
    assert_eq!(q(&mut ro, &["SET", "w1", "v"]).await, ok());
    assert!(e(&mut ro, &["GET", "w1"]).await.starts_with("NOPERM"));
    // Wrong passwords and disabled users: WRONGPASS.
    assert_eq!(
        e(&mut admin, &["AUTH", "app", "nope"]).await,
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    q(&mut admin, &["ACL", "SETUSER", "app", "off"]).await;
    assert_eq!(
        e(&mut admin, &["AUTH", "app", "pw"]).await,
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    // The default user has no password: AUTH <password> is a configuration error.
    assert_eq!(
        e(&mut admin, &["AUTH", "x"]).await,
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
    // DRYRUN.
    q(&mut admin, &["ACL", "SETUSER", "app", "on", "+get"]).await;
    assert_eq!(
        q(&mut admin, &["ACL", "DRYRUN", "app", "GET", "k1"]).await,
        ok()
    );
    assert_eq!(
        q(&mut admin, &["ACL", "DRYRUN", "app", "GET", "x"]).await,
        b("This user has no permissions to access the 'x' key")
    );
    assert_eq!(
        q(
            &mut admin,
            &["ACL", "DRYRUN", "app", "CONFIG", "SET", "a", "b"]
        )
        .await,
        b("This user has no permissions to run the 'config|set' command")
    );
    assert_eq!(
        e(&mut admin, &["ACL", "DRYRUN", "nouser", "GET", "x"]).await,
        "ERR User 'nouser' not found"
    );
    assert_eq!(
        e(&mut admin, &["ACL", "DRYRUN", "app", "nosuch"]).await,
        "ERR Command 'nosuch' not found"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn categories_and_acl_cat() {
    let (_s, addr) = common::start_default();
    let mut c = common::client(addr).await;
    let cats = strings(&q(&mut c, &["ACL", "CAT"]).await);
    assert_eq!(&cats[..3], ["keyspace", "read", "write"]);
    assert!(cats.contains(&"dangerous".to_string()));
    let hll = strings(&q(&mut c, &["ACL", "CAT", "hyperloglog"]).await);
    for n in ["pfadd", "pfcount", "pfmerge"] {
        assert!(hll.contains(&n.to_string()), "{n} in {hll:?}");
    }
    assert_eq!(
        e(&mut c, &["ACL", "CAT", "nosuch"]).await,
        "ERR Unknown category 'nosuch'"
    );
    // COMMAND INFO reports the categories (field 7), as redis-server 7.0.15 does.
    let V::Array(info) = q(&mut c, &["COMMAND", "INFO", "get", "flushall", "blpop"]).await else {
        panic!("command info")
    };
    let cats_of = |v: &V| match v {
        V::Array(f) => {
            let mut s = strings(&f[6]);
            s.sort();
            s
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(cats_of(&info[0]), ["@fast", "@read", "@string"]);
    assert_eq!(
        cats_of(&info[1]),
        ["@dangerous", "@keyspace", "@slow", "@write"]
    );
    assert_eq!(cats_of(&info[2]), ["@blocking", "@list", "@slow", "@write"]);
    // A user without @dangerous cannot run KEYS or FLUSHALL but can run the rest.
    q(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "safe",
            "on",
            "nopass",
            "+@all",
            "-@dangerous",
            "~*",
        ],
    )
    .await;
    let mut safe = common::client_as(addr, "safe", "x").await;
    assert_eq!(
        e(&mut safe, &["KEYS", "*"]).await,
        "NOPERM this user has no permissions to run the 'keys' command"
    );
    assert_eq!(q(&mut safe, &["SET", "a", "1"]).await, ok());
    // Categories apply to subcommands one by one, as in Redis: acl|whoami is only @slow.
    assert_eq!(q(&mut safe, &["ACL", "WHOAMI"]).await, b("safe"));
    assert_eq!(
        e(&mut safe, &["CONFIG", "GET", "maxclients"]).await,
        "NOPERM this user has no permissions to run the 'config|get' command"
    );
    let dangerous = strings(&q(&mut c, &["ACL", "CAT", "dangerous"]).await);
    assert!(
        dangerous.contains(&"config|set".to_string()),
        "{dangerous:?}"
    );
    assert!(
        !dangerous.contains(&"acl|whoami".to_string()),
        "{dangerous:?}"
    );
    assert_eq!(
        strings(&q(&mut c, &["ACL", "LIST"]).await)[1],
        "user safe on nopass ~* resetchannels +@all -@dangerous"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_log_records_denials_and_auth_failures() {
    let (_s, addr) = common::start_default();
    let mut c = common::client(addr).await;
    q(&mut c, &["ACL", "SETUSER", "t", "on", ">pw", "+get", "~k*"]).await;
    let mut t = common::client_as(addr, "t", "pw").await;
    // The client's own handshake (CLIENT SETINFO) may have been refused and logged already.
    assert_eq!(q(&mut c, &["ACL", "LOG", "RESET"]).await, ok());
    e(&mut t, &["GET", "x"]).await;
    e(&mut t, &["GET", "x"]).await;
    e(&mut t, &["SET", "k", "v"]).await;
    e(&mut c, &["AUTH", "t", "wrong"]).await;
    let V::Array(entries) = q(&mut c, &["ACL", "LOG"]).await else {
        panic!("acl log")
    };
    assert_eq!(entries.len(), 3);
    let auth = pairs(&entries[0]);
    let names: Vec<&str> = auth.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info"
        ]
    );
    assert_eq!(auth[1].1, b("auth"));
    assert_eq!(auth[3].1, b("auth"));
    assert_eq!(auth[4].1, b("t"));
    let cmd = pairs(&entries[1]);
    assert_eq!(cmd[1].1, b("command"));
    assert_eq!(cmd[3].1, b("set"));
    let key = pairs(&entries[2]);
    assert_eq!(key[0].1, V::Int(2));
    assert_eq!(key[1].1, b("key"));
    assert_eq!(key[2].1, b("toplevel"));
    assert_eq!(key[3].1, b("x"));
    let V::Array(one) = q(&mut c, &["ACL", "LOG", "1"]).await else {
        panic!("acl log 1")
    };
    assert_eq!(one.len(), 1);
    assert_eq!(q(&mut c, &["ACL", "LOG", "RESET"]).await, ok());
    assert_eq!(q(&mut c, &["ACL", "LOG"]).await, V::Array(vec![]));
}

#[tokio::test(flavor = "multi_thread")]
async fn requirepass_is_the_default_users_password() {
    let (_s, addr) = common::start_default();
    let mut c = common::client(addr).await;
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "requirepass", "s3cret"]).await,
        ok()
    );
    let user = pairs(&q(&mut c, &["ACL", "GETUSER", "default"]).await);
    assert_eq!(strings(&user[0].1), ["on"]);
    assert_eq!(
        strings(&user[1].1),
        [redlink_engine::acl::hash_password(b"s3cret")]
    );
    let mut fresh = common::client(addr).await;
    assert_eq!(
        e(&mut fresh, &["GET", "k"]).await,
        "NOAUTH Authentication required."
    );
    assert_eq!(q(&mut fresh, &["AUTH", "s3cret"]).await, ok());
    assert_eq!(q(&mut fresh, &["AUTH", "default", "s3cret"]).await, ok());
    // HELLO AUTH with a user switches protocol and user at once.
    q(&mut c, &["ACL", "SETUSER", "h", "on", ">hp", "+@all", "~*"]).await;
    assert!(
        run(&mut fresh, &["HELLO", "3", "AUTH", "h", "hp"])
            .await
            .is_ok()
    );
    assert_eq!(q(&mut fresh, &["ACL", "WHOAMI"]).await, b("h"));
    assert!(
        e(&mut fresh, &["HELLO", "2", "AUTH", "h", "bad"])
            .await
            .starts_with("WRONGPASS")
    );
    // CONFIG SET requirepass always resets the default user's passwords, even to the same value.
    q(&mut c, &["ACL", "SETUSER", "default", ">extra"]).await;
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "requirepass", "s3cret"]).await,
        ok()
    );
    let user = pairs(&q(&mut c, &["ACL", "GETUSER", "default"]).await);
    assert_eq!(strings(&user[1].1).len(), 1);
    // Clearing requirepass makes the default user nopass again.
    assert_eq!(q(&mut c, &["CONFIG", "SET", "requirepass", ""]).await, ok());
    assert_eq!(
        strings(&q(&mut c, &["ACL", "LIST"]).await)[0],
        "user default on nopass ~* &* +@all"
    );
    let mut open = common::client(addr).await;
    assert_eq!(
        q(&mut open, &["PING"]).await,
        V::SimpleString("PONG".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deluser_disconnects_its_clients_and_client_list_shows_users() {
    let (_s, addr) = common::start_default();
    let mut c = common::client(addr).await;
    q(
        &mut c,
        &["ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*"],
    )
    .await;
    let mut g = common::client_as(addr, "gone", "pw").await;
    let V::BulkString(list) = q(&mut c, &["CLIENT", "LIST"]).await else {
        panic!("client list")
    };
    let list = String::from_utf8_lossy(&list).into_owned();
    assert!(list.contains("user=gone"), "{list}");
    assert!(list.contains("user=default"), "{list}");
    assert_eq!(q(&mut c, &["ACL", "DELUSER", "gone"]).await, V::Int(1));
    // The connection is closed: the next request fails (with or without a reconnect attempt, the
    // user no longer exists).
    let mut failed = false;
    for _ in 0..50 {
        if run(&mut g, &["PING"]).await.is_err() {
            failed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(failed, "the deleted user's connection still works");
    assert!(
        common::connect_url(&format!("redis://gone:pw@{addr}/"))
            .await
            .is_err()
    );
}

/// A script runs with its caller's permissions: commands and keys the user may not use fail inside
/// the script with Redis 7.0's texts (and are logged with context `lua`).
#[tokio::test(flavor = "multi_thread")]
async fn scripts_run_with_the_callers_permissions() {
    let (_server, addr) = common::start_default();
    let mut admin = common::client(addr).await;
    assert_eq!(
        q(
            &mut admin,
            &[
                "ACL", "SETUSER", "scripter", "on", ">pw", "+eval", "+get", "~allowed"
            ]
        )
        .await,
        ok()
    );
    let mut c = common::client_as(addr, "scripter", "pw").await;
    let err = e(
        &mut c,
        &["EVAL", "return redis.call('set','allowed','1')", "0"],
    )
    .await;
    assert!(
        err.starts_with(
            "ERR The user executing the script can't run this command or subcommand script:"
        ),
        "{err}"
    );
    let err = e(&mut c, &["EVAL", "return redis.call('get','secret')", "0"]).await;
    assert!(
        err.starts_with("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"),
        "{err}"
    );
    assert_eq!(
        q(&mut c, &["EVAL", "return redis.call('get','allowed')", "0"]).await,
        V::Nil
    );
    let log = q(&mut admin, &["ACL", "LOG", "1"]).await;
    let text = format!("{log:?}");
    assert!(text.contains("lua") && text.contains("secret"), "{text}");
}
