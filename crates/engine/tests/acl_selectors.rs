//! ACL selectors (Redis 7.0's `(...)` rules): parsing (one argument or several), ACL LIST /
//! GETUSER, CLEARSELECTORS, and the checks — a command runs when the user's own permissions or any
//! selector allow it whole; otherwise the most relevant refusal is reported. The expected texts are
//! redis-server 7.0.15's for the same steps.

mod common;

use common::conn::{Conn, V, err, s, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_parse_show_and_allow_like_redis() {
    let (_server, addr) = common::start("127.0.88.1", &[]);
    let mut c = Conn::open(addr).await;
    assert_eq!(
        c.call(&[
            "ACL",
            "SETUSER",
            "sel",
            "on",
            ">pw",
            "~a*",
            "+set",
            "(+get ~k*)",
            "(",
            "+hget",
            "%R~h*",
            "&ch",
            ")",
        ])
        .await,
        s("OK")
    );
    let list: Vec<String> = match c.call(&["ACL", "LIST"]).await {
        V::Arr(items) => items.iter().map(text).collect(),
        other => panic!("{other:?}"),
    };
    assert!(
        list.iter().any(|l| l.ends_with(
            "~a* resetchannels -@all +set (~k* resetchannels -@all +get) (%R~h* resetchannels &ch -@all +hget)"
        )),
        "{list:?}"
    );
    let V::Arr(user) = c.call(&["ACL", "GETUSER", "sel"]).await else {
        panic!("GETUSER");
    };
    assert_eq!(user[10], s("selectors"));
    assert_eq!(
        user[11],
        V::Arr(vec![
            V::Arr(vec![
                s("commands"),
                s("-@all +get"),
                s("keys"),
                s("~k*"),
                s("channels"),
                s("")
            ]),
            V::Arr(vec![
                s("commands"),
                s("-@all +hget"),
                s("keys"),
                s("%R~h*"),
                s("channels"),
                s("&ch")
            ]),
        ])
    );
    for (args, want) in [
        (&["GET", "k1"][..], "OK"),
        (
            &["GET", "a1"],
            "This user has no permissions to access the 'a1' key",
        ),
        (
            &["SET", "k1", "v"],
            "This user has no permissions to access the 'k1' key",
        ),
        (&["SET", "a1", "v"], "OK"),
        (&["HGET", "h1", "f"], "OK"),
        (
            &["HSET", "h1", "f", "v"],
            "This user has no permissions to run the 'hset' command",
        ),
        (
            &["PUBLISH", "ch", "x"],
            "This user has no permissions to run the 'publish' command",
        ),
    ] {
        let mut dry = vec!["ACL", "DRYRUN", "sel"];
        dry.extend_from_slice(args);
        assert_eq!(text(&c.call(&dry).await), want, "{args:?}");
    }
    // The same checks when the user runs the commands.
    let mut u = Conn::open(addr).await;
    assert_eq!(u.call(&["AUTH", "sel", "pw"]).await, s("OK"));
    let key_denied =
        err("NOPERM this user has no permissions to access one of the keys used as arguments");
    assert_eq!(u.call(&["GET", "k1"]).await, V::Nil);
    assert_eq!(u.call(&["GET", "a1"]).await, key_denied);
    assert_eq!(u.call(&["SET", "a1", "v"]).await, s("OK"));
    assert_eq!(u.call(&["SET", "k1", "v"]).await, key_denied);
    assert_eq!(u.call(&["HGET", "h1", "f"]).await, V::Nil);
    assert_eq!(
        u.call(&["PUBLISH", "ch", "x"]).await,
        err("NOPERM this user has no permissions to run the 'publish' command")
    );
    // Errors.
    assert_eq!(
        c.call(&["ACL", "SETUSER", "sel2", "(+get"]).await,
        err("ERR Unmatched parenthesis in acl selector starting at '(+get'.")
    );
    assert_eq!(
        c.call(&["ACL", "SETUSER", "sel2", "(on)"]).await,
        err("ERR Error in ACL SETUSER modifier '(on)': Syntax error")
    );
    assert_eq!(
        c.call(&["ACL", "SETUSER", "sel2", "(+get ~x", "y)"]).await,
        err("ERR Error in ACL SETUSER modifier '(+get ~x y)': Syntax error")
    );
    // CLEARSELECTORS, and RESET, drop them.
    c.call(&["ACL", "SETUSER", "sel", "clearselectors"]).await;
    assert_eq!(
        text(&c.call(&["ACL", "DRYRUN", "sel", "GET", "k1"]).await),
        "This user has no permissions to run the 'get' command"
    );
    assert_eq!(
        u.call(&["GET", "k1"]).await,
        err("NOPERM this user has no permissions to run the 'get' command")
    );
    c.call(&["ACL", "SETUSER", "sel3", "on", "nopass", "(+@all ~*)"])
        .await;
    let list: Vec<String> = match c.call(&["ACL", "LIST"]).await {
        V::Arr(items) => items.iter().map(text).collect(),
        other => panic!("{other:?}"),
    };
    assert!(
        list.contains(
            &"user sel3 on nopass resetchannels -@all (~* resetchannels +@all)".to_string()
        ),
        "{list:?}"
    );
    assert_eq!(
        text(&c.call(&["ACL", "DRYRUN", "sel3", "GET", "x"]).await),
        "OK"
    );
    c.call(&["ACL", "SETUSER", "sel3", "reset"]).await;
    assert_eq!(
        text(&c.call(&["ACL", "DRYRUN", "sel3", "GET", "x"]).await),
        "This user has no permissions to run the 'get' command"
    );
}
