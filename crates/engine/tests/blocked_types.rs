//! A client blocked on a key is served only from a key of the type it waits for, as redis-server
//! 7.0.15 does (checked with the same steps there): LPUSH + DEL + SET of the key in one transaction
//! or script leaves a string behind, and the blocked client keeps waiting (then times out with a null
//! reply, or is served by a later push) instead of failing with WRONGTYPE.

mod common;

use common::conn::{Conn, V, s};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Block `blocked` with `command`, run `writes` in one MULTI/EXEC on another client, and return
/// what the blocked client finally gets.
async fn after_transaction(addr: std::net::SocketAddr, command: &[&str], writes: &[&[&str]]) -> V {
    let (mut blocked, mut writer) = (Conn::open(addr).await, Conn::open(addr).await);
    writer.call(&["FLUSHALL"]).await;
    let args: Vec<Vec<u8>> = command.iter().map(|a| a.as_bytes().to_vec()).collect();
    blocked.send(&args).await;
    common::wait_blocked_clients(addr, 1).await;
    writer.call(&["MULTI"]).await;
    for w in writes {
        writer.call(w).await;
    }
    let V::Arr(_) = writer.call(&["EXEC"]).await else {
        panic!("EXEC ran");
    };
    blocked.read().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_type_does_not_serve_blocked_clients() {
    let (_server, addr) = common::start("127.0.85.1", &[]);
    let cases: [(&[&str], &[&[&str]]); 6] = [
        (
            &["BLPOP", "k", "1"],
            &[&["LPUSH", "k", "x"], &["DEL", "k"], &["SET", "k", "foo"]],
        ),
        (
            &["BLMPOP", "1", "1", "l", "LEFT"],
            &[
                &["RPUSH", "l", "a"],
                &["DEL", "l"],
                &["HSET", "l", "f", "v"],
            ],
        ),
        (
            &["BLMOVE", "src", "dst", "LEFT", "LEFT", "1"],
            &[
                &["RPUSH", "src", "a"],
                &["DEL", "src"],
                &["SET", "src", "v"],
            ],
        ),
        (
            &["BZPOPMIN", "z", "1"],
            &[&["ZADD", "z", "1", "a"], &["DEL", "z"], &["SADD", "z", "m"]],
        ),
        (
            &["BZPOPMAX", "z", "1"],
            &[
                &["ZADD", "z", "1", "a"],
                &["DEL", "z"],
                &["RPUSH", "z", "m"],
            ],
        ),
        (
            &["BZMPOP", "1", "1", "z", "MIN"],
            &[&["ZADD", "z", "1", "a"], &["DEL", "z"], &["SET", "z", "v"]],
        ),
    ];
    for (command, writes) in cases {
        // Timed out like redis-server: a null reply (RESP2 null bulk for BLMOVE, null array else).
        assert_eq!(
            after_transaction(addr, command, writes).await,
            V::Nil,
            "{command:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_keeps_waiting_and_is_served_later() {
    let (_server, addr) = common::start("127.0.85.2", &[]);
    let (mut blocked, mut writer) = (Conn::open(addr).await, Conn::open(addr).await);
    blocked
        .send(&[b"BLPOP".to_vec(), b"k".to_vec(), b"0".to_vec()])
        .await;
    common::wait_blocked_clients(addr, 1).await;
    // A script this time.
    writer
        .call(&[
            "EVAL",
            "redis.call('lpush', KEYS[1], 'x'); redis.call('del', KEYS[1]); redis.call('set', KEYS[1], 'v')",
            "1",
            "k",
        ])
        .await;
    // Still blocked.
    common::wait_blocked_clients(addr, 1).await;
    writer.call(&["DEL", "k"]).await;
    writer.call(&["LPUSH", "k", "y"]).await;
    assert_eq!(blocked.read().await, V::Arr(vec![s("k"), s("y")]));
    // The first attempt on a key of another type is still WRONGTYPE, and so is a destination of
    // another type when the source is served.
    writer.call(&["SET", "str", "v"]).await;
    assert_eq!(
        blocked.call(&["BLPOP", "str", "0"]).await,
        V::Err(WRONGTYPE.into())
    );
    blocked
        .send(&[
            b"BLMOVE".to_vec(),
            b"src".to_vec(),
            b"str".to_vec(),
            b"LEFT".to_vec(),
            b"LEFT".to_vec(),
            b"0".to_vec(),
        ])
        .await;
    common::wait_blocked_clients(addr, 1).await;
    writer.call(&["RPUSH", "src", "a"]).await;
    assert_eq!(blocked.read().await, V::Err(WRONGTYPE.into()));
    assert_eq!(
        writer.call(&["LRANGE", "src", "0", "-1"]).await,
        V::Arr(vec![s("a")])
    );
}
