//! Bad scenario files are rejected with the file, the line and column of the offending item, and a
//! clear message.

use redlink_world::{AddressPlan, Scenario, ScenarioError, ScenarioErrorKind, World};

fn err(toml: &str) -> ScenarioError {
    match Scenario::parse("bad.toml", toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e,
    }
}

/// Asserts the error kind, its line:column, and that the message mentions every `needles` item.
fn assert_err(
    e: &ScenarioError,
    kind: ScenarioErrorKind,
    line: usize,
    column: usize,
    needles: &[&str],
) {
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("bad.toml:{line}:{column}: ")),
        "{text}"
    );
    for n in needles {
        assert!(text.contains(n), "{text:?} lacks {n:?}");
    }
}

#[test]
fn toml_syntax_error() {
    let e = err("[[network]]\nname = \"hub\"\n\n[[cache]\nname = \"c\"\n");
    assert_eq!(e.kind, ScenarioErrorKind::Syntax);
    assert_eq!(e.line(), Some(4), "{e}");
}

#[test]
fn unknown_key_is_a_syntax_error_at_the_key() {
    let e = err("[[network]]\nname = \"hub\"\nresolver = \"127.53.0.1\"\n");
    assert_err(
        &e,
        ScenarioErrorKind::Syntax,
        3,
        1,
        &["unknown field `resolver`"],
    );
}

#[test]
fn bad_enum_value() {
    let e = err("[[cache]]\nname = \"c\"\npublic_blocked_action = \"explode\"\n");
    assert_err(&e, ScenarioErrorKind::Syntax, 3, 25, &["explode"]);
}

#[test]
fn endpoint_naming_a_missing_network() {
    let e = err(
        "[[network]]\nname = \"hub\"\n\n[[cache]]\nname = \"contoso\"\n\n[[private_endpoint]]\nname = \"pe\"\nnetwork = \"hbu\"\ncache = \"contoso\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::UnknownReference,
        9,
        11,
        &["private endpoint pe", "network hbu"],
    );
}

#[test]
fn endpoint_naming_a_missing_cache() {
    let e = err(
        "[[network]]\nname = \"hub\"\n[[private_endpoint]]\nname = \"pe\"\nnetwork = \"hub\"\ncache = \"nope\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::UnknownReference,
        6,
        9,
        &["cache nope"],
    );
}

#[test]
fn link_naming_a_missing_network() {
    let e = err(
        "[[network]]\nname = \"hub\"\n[[dns_zone]]\nname = \"privatelink.redis.cache.windows.net\"\nlinks = [\n  { network = \"hub\" },\n  { network = \"spoke\" },\n]\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::UnknownReference,
        7,
        15,
        &["zone privatelink.redis.cache.windows.net", "network spoke"],
    );
}

#[test]
fn duplicate_names() {
    let e = err("[[network]]\nname = \"hub\"\n[[network]]\nname = \"hub\"\n");
    assert_err(
        &e,
        ScenarioErrorKind::Duplicate,
        4,
        8,
        &["duplicate network name hub"],
    );
    let e = err("[[cache]]\nname = \"a\"\n[[cache]]\n  name = \"a\"\n");
    assert_err(
        &e,
        ScenarioErrorKind::Duplicate,
        4,
        10,
        &["duplicate cache name a"],
    );
}

#[test]
fn address_outside_loopback() {
    let e = err(
        "[[network]]\nname = \"hub\"\n[[cache]]\nname = \"c\"\npublic_address = \"10.0.0.4\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Address,
        5,
        18,
        &["10.0.0.4", "outside 127.0.0.0/8"],
    );
    let e = err(
        "[[network]]\nname = \"hub\"\ndns_forwarder = { answers = { \"x.redis.cache.windows.net\" = \"192.168.1.1\" } }\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Address,
        3,
        61,
        &["192.168.1.1", "forwarder answer"],
    );
    let e = err(
        "[[dns_zone]]\nname = \"z.example\"\nrecords = [{ name = \"a\", address = \"8.8.8.8\" }]\n",
    );
    assert_err(&e, ScenarioErrorKind::Address, 3, 36, &["8.8.8.8"]);
}

#[test]
fn not_an_address() {
    let e = err("[[network]]\nname = \"hub\"\nclient_address = \"127.0.0.300\"\n");
    assert_eq!(e.kind, ScenarioErrorKind::Syntax);
    assert_eq!(e.line(), Some(3), "{e}");
}

#[test]
fn duplicate_pinned_addresses() {
    let e = err(
        "[[network]]\nname = \"a\"\nclient_address = \"127.11.1.1\"\n[[network]]\nname = \"b\"\nclient_address = \"127.11.1.1\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Duplicate,
        6,
        18,
        &["127.11.1.1", "client address of network a"],
    );
}

#[test]
fn managed_redis_needs_a_region_and_group_ids_must_match() {
    let e = err("[[cache]]\nname = \"m\"\nflavour = \"managed-redis\"\n");
    assert_err(&e, ScenarioErrorKind::Invalid, 2, 8, &["needs a region"]);
    let e = err(
        "[[network]]\nname = \"n\"\n[[cache]]\nname = \"c\"\n[[private_endpoint]]\nname = \"pe\"\nnetwork = \"n\"\ncache = \"c\"\ngroup_id = \"redisEnterprise\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        9,
        12,
        &["redisEnterprise", "redisCache"],
    );
}

#[test]
fn per_source_refuse_is_rejected_with_the_reason() {
    let e = err(
        "[[network]]\nname = \"n\"\n[[network_rule]]\nname = \"r\"\npriority = 100\nsource = \"n\"\naction = \"deny\"\ndeny_as = \"refuse\"\n",
    );
    assert_err(&e, ScenarioErrorKind::Invalid, 8, 11, &["use drop"]);
    // Without a source, refuse is fine.
    Scenario::parse(
        "ok.toml",
        "[[network_rule]]\nname = \"r\"\npriority = 100\naction = \"deny\"\ndeny_as = \"refuse\"\n",
    )
    .expect("refuse without source");
}

#[test]
fn expectations_are_checked() {
    let e = err(
        "[[network]]\nname = \"n\"\n\n[[expect]]\nfrom = \"m\"\nresolve = \"a.redis.cache.windows.net\"\nanswer = \"public\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::UnknownReference,
        5,
        8,
        &["network m"],
    );
    let e = err("[[network]]\nname = \"n\"\n\n[[expect]]\nfrom = \"n\"\nanswer = \"public\"\n");
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        4,
        1,
        &["needs one of `resolve`"],
    );
    let e =
        err("[[network]]\nname = \"n\"\n\n[[expect]]\nanswer = \"public\"\nresolve = \"x.y\"\n");
    assert_eq!(e.kind, ScenarioErrorKind::Syntax, "{e}");
    assert!(e.to_string().contains("missing field `from`"), "{e}");
}

#[test]
fn steps_are_typed_and_replayed() {
    let ok = "[[network]]\nname = \"n\"\n[[cache]]\nname = \"c\"\n[[dns_zone]]\nname = \"privatelink.redis.cache.windows.net\"\n\n[[step]]\nname = \"link\"\nat = \"5s\"\nchange = [{ link = { zone = \"privatelink.redis.cache.windows.net\", network = \"n\" } }]\n";
    let s = Scenario::parse("ok.toml", ok).expect("parses");
    let steps = s.steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].at, Some(std::time::Duration::from_secs(5)));
    assert_eq!(steps[0].changes.len(), 1);
    // Linking twice does not apply: the second step's change is reported at its line.
    let twice = format!(
        "{ok}\n[[step]]\nname = \"again\"\nchange = [\n  {{ link = {{ zone = \"privatelink.redis.cache.windows.net\", network = \"n\" }} }},\n]\n"
    );
    let e = err(&twice);
    assert_eq!(e.kind, ScenarioErrorKind::Invalid, "{e}");
    assert_eq!(e.line(), Some(16), "{e}");
    assert!(e.to_string().contains("already linked"), "{e}");
    // An unknown change kind is a syntax error at its line.
    let e = err(
        "[[network]]\nname = \"n\"\n[[step]]\nname = \"x\"\nchange = [\n  { teleport = \"n\" },\n]\n",
    );
    assert_eq!(e.kind, ScenarioErrorKind::Syntax, "{e}");
    assert_eq!(e.line(), Some(6), "{e}");
    assert!(e.to_string().contains("teleport"), "{e}");
}

#[test]
fn every_error_names_the_file() {
    let e = Scenario::load(std::path::Path::new("/nonexistent/x.toml")).expect_err("missing file");
    assert_eq!(e.kind, ScenarioErrorKind::Io);
    assert!(e.to_string().starts_with("/nonexistent/x.toml: "), "{e}");
}

#[test]
fn plans_relocate_unpinned_addresses_only() {
    let s = Scenario::parse(
        "ok.toml",
        "[[network]]\nname = \"a\"\n[[network]]\nname = \"b\"\nresolver_address = \"127.53.9.9\"\n[[cache]]\nname = \"c\"\n",
    )
    .expect("parses");
    let plan = AddressPlan::block(3).expect("block 3");
    let w = World::build(&s, &plan).expect("builds");
    assert_eq!(w.network("a").expect("a").resolver, plan.resolver(1));
    assert_eq!(
        w.network("b").expect("b").resolver.to_string(),
        "127.53.9.9"
    );
    assert_eq!(w.network("b").expect("b").client_address, plan.client(2));
    assert_eq!(w.cache("c").expect("c").public_address, plan.public(1));
}

const TIMELINE_WORLD: &str = "[[network]]\nname = \"hub\"\n[[cache]]\nname = \"c\"\n[[private_endpoint]]\nname = \"pe\"\nnetwork = \"hub\"\ncache = \"c\"\n";

fn timeline_err(extra: &str) -> ScenarioError {
    err(&format!("{TIMELINE_WORLD}{extra}"))
}

#[test]
fn timeline_errors_point_at_their_line() {
    // Two checks in one expectation (line 10 is the [[expect]] header).
    let e = timeline_err("\n[[expect]]\nfrom = \"hub\"\nconnect = \"ok\"\nauth = \"ok\"\n");
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        10,
        1,
        &["connect, auth", "split it"],
    );
    // A duration that is not one.
    let e = timeline_err("[[step]]\nname = \"s\"\nat = \"soon\"\nchange = [{ stop = \"c\" }]\n");
    assert_eq!(e.kind, ScenarioErrorKind::Syntax, "{e}");
    assert_eq!(e.line(), Some(11), "{e}");
    assert!(e.to_string().contains("not a duration"), "{e}");
    // Steps going back in time.
    let e = timeline_err(
        "[[step]]\nname = \"a\"\nat = \"5s\"\nchange = [{ stop = \"c\" }]\n[[step]]\nname = \"b\"\nat = \"2s\"\nchange = [{ start = \"c\" }]\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        15,
        6,
        &["before the previous step"],
    );
    // An endpoint that no longer exists at that point of the timeline.
    let e = timeline_err(
        "[[step]]\nname = \"gone\"\nchange = [{ delete_endpoint = \"pe\" }]\n[[step.expect]]\nfrom = \"hub\"\nendpoint = \"pe\"\nconnect = \"ok\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::UnknownReference,
        14,
        12,
        &["pe", "at this point"],
    );
    // A key that does not belong to the kind of check.
    let e = timeline_err(
        "[[expect]]\nfrom = \"hub\"\nresolve = \"c.redis.cache.windows.net\"\nanswer = \"public\"\nport = 6380\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        9,
        1,
        &["`port` does not go with a `resolve`"],
    );
    // An answer naming nothing.
    let e = timeline_err(
        "[[expect]]\nfrom = \"hub\"\nresolve = \"c.redis.cache.windows.net\"\nanswer = \"pe-nope\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::UnknownReference,
        12,
        10,
        &["pe-nope"],
    );
    // A change table with an unknown field.
    let e = timeline_err(
        "[[step]]\nname = \"s\"\nchange = [{ link = { zone = \"z\", netwrk = \"hub\" } }]\n",
    );
    assert_eq!(e.kind, ScenarioErrorKind::Syntax, "{e}");
    assert_eq!(e.line(), Some(11), "{e}");
    assert!(e.to_string().contains("netwrk"), "{e}");
}

#[test]
fn cache_users_parse_and_bad_rules_point_at_the_rules() {
    let ok = Scenario::parse(
        "users.toml",
        "[[cache]]\nname = \"c\"\n[[cache.user]]\nname = \"app\"\npassword = \"pw\"\nrules = \"+@all -@dangerous ~app:* %R~ro:* &news\"\n[[cache.user]]\nname = \"reader\"\nrules = \"nopass +@read ~*\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let world = World::build(&ok, &AddressPlan::default()).expect("world");
    let users = &world.caches[0].users;
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].name, "app");
    assert_eq!(
        users[0].engine_rules(),
        "on >pw +@all -@dangerous ~app:* %R~ro:* &news"
    );
    assert_eq!(users[1].engine_rules(), "on nopass +@read ~*");

    let e = err(
        "[[cache]]\nname = \"c\"\n[[cache.user]]\nname = \"app\"\nrules = \"+@all -@nosuch\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        5,
        9,
        &["user app", "@nosuch"],
    );
    let e = err("[[cache]]\nname = \"c\"\n[[cache.user]]\nname = \"app\"\nrules = \"on bogus\"\n");
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        5,
        9,
        &["\"bogus\" is not a rule"],
    );
    let e = err("[[cache]]\nname = \"c\"\n[[cache.user]]\nname = \"app\"\nrules = \"#abc\"\n");
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        5,
        9,
        &["64 lowercase hexadecimal"],
    );
    let e = err(
        "[[cache]]\nname = \"c\"\n[[cache.user]]\nname = \"a\"\n[[cache.user]]\nname = \"a\"\n",
    );
    assert_err(
        &e,
        ScenarioErrorKind::Duplicate,
        6,
        8,
        &["duplicate user a"],
    );
    let e = err("[[cache]]\nname = \"c\"\n[[cache.user]]\nname = \"a b\"\n");
    assert_err(&e, ScenarioErrorKind::Invalid, 4, 8, &["without spaces"]);
}

#[test]
fn persistence_takes_azures_rdb_frequencies_only() {
    let e = err("[[cache]]\nname = \"c\"\npersistence = { rdb = \"5m\" }\n");
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        3,
        23,
        &["cache c", "\"5m\"", "15m, 30m, 60m, 6h, 12h, 24h"],
    );
    let e = err("[[cache]]\nname = \"c\"\npersistence = { aof = \"sometimes\" }\n");
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        3,
        23,
        &["cache c", "\"sometimes\"", "everysec, always"],
    );
    let e = err("[[cache]]\nname = \"c\"\npersistence = {}\n");
    assert_err(
        &e,
        ScenarioErrorKind::Invalid,
        3,
        15,
        &["exactly one of rdb and aof"],
    );
    let e = err("[[cache]]\nname = \"c\"\npersistence = { rdb = \"15m\", every = 1 }\n");
    assert_eq!(e.kind, ScenarioErrorKind::Syntax, "{e}");
    let ok = Scenario::parse(
        "ok.toml",
        "[[cache]]\nname = \"c\"\npersistence = { rdb = \"12h\" }\n",
    )
    .expect("valid");
    let world = World::build(&ok, &AddressPlan::default()).expect("builds");
    assert_eq!(
        world.caches[0].persistence,
        Some(redlink_world::Persistence::Rdb(
            redlink_world::RdbFrequency::Hours12
        ))
    );
}

#[test]
fn a_reboot_step_names_an_existing_cache_and_node() {
    let e = err(
        "[[cache]]\nname = \"c\"\n\n[[step]]\nname = \"r\"\nat = \"1s\"\nchange = [{ reboot = { cache = \"d\" } }]\n",
    );
    assert!(e.to_string().contains("no cache named d"), "{e}");
    let e = err(
        "[[cache]]\nname = \"c\"\n\n[[step]]\nname = \"r\"\nat = \"1s\"\nchange = [{ reboot = { cache = \"c\", node = \"primary\" } }]\n",
    );
    assert!(e.to_string().contains("one node, no replica"), "{e}");
}
