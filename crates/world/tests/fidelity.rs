//! Azure's rules the world keeps (issue 17): approving a Rejected or Disconnected connection is
//! refused; the API's validation of links and TLS; where the host stands; and the scenario kinds
//! that say so (`expect_refused`, literal and unowned answers, `within`/`slower_than`,
//! `open_connection`), each placed at `file:line:column` when wrong.

use std::net::Ipv4Addr;
use std::time::Duration;

use redlink_world::{
    APPROVING_REJECTED, AddressPlan, BlockedAction, Change, ConnectionState, ExpectationKind,
    ExpectedAnswer, HostPosition, OpenConnection, ResolutionPolicy, Scenario, ScenarioError,
    ScenarioErrorKind, World, WorldError, quickstart,
};

fn err(toml: &str) -> ScenarioError {
    match Scenario::parse("bad.toml", toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e,
    }
}

fn ok(toml: &str) -> Scenario {
    Scenario::parse("ok.toml", toml).unwrap_or_else(|e| panic!("{e}"))
}

fn assert_at(e: &ScenarioError, kind: ScenarioErrorKind, line: usize, column: usize, needle: &str) {
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{e}");
    assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
}

fn qs() -> World {
    World::build(&quickstart(), &AddressPlan::default()).expect("quickstart builds")
}

const WORLD: &str = r#"name = "w"
[[network]]
name = "hub"
[[network]]
name = "spoke"
[[cache]]
name = "contoso"
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[dns_zone]]
name = "privatelink.redis.cache.windows.net"
links = [{ network = "hub" }]
"#;

#[test]
fn approving_a_rejected_connection_is_refused_with_azures_text() {
    let mut w = qs();
    Change::Reject("pe-hub".into())
        .apply(&mut w)
        .expect("reject");
    let before = w.clone();
    let e = Change::Approve("pe-hub".into())
        .apply(&mut w)
        .expect_err("refused");
    assert_eq!(
        e.to_string(),
        "(BadRequest) Approving rejected private endpoint connections is not supported."
    );
    assert!(matches!(
        e,
        WorldError::Refused {
            code: "BadRequest",
            ..
        }
    ));
    assert_eq!(w, before, "a refused change changes nothing");
    // The same through endpoint_state.
    let e = Change::EndpointState(redlink_world::change::StateChange {
        endpoint: "pe-hub".into(),
        state: ConnectionState::Approved,
    })
    .apply(&mut w)
    .expect_err("refused");
    assert!(e.to_string().contains(APPROVING_REJECTED), "{e}");
    // Rejected → Pending (the consumer asks again) is allowed, and then the owner may approve.
    w.set_endpoint_state("pe-hub", ConnectionState::Pending)
        .expect("pending");
    Change::Approve("pe-hub".into())
        .apply(&mut w)
        .expect("approve");
}

#[test]
fn approving_a_disconnected_connection_is_refused_too() {
    let mut w = qs();
    Change::Disconnect("pe-hub".into())
        .apply(&mut w)
        .expect("disconnect");
    let e = Change::Approve("pe-hub".into())
        .apply(&mut w)
        .expect_err("refused");
    let text = e.to_string();
    assert!(text.starts_with("(BadRequest) "), "{text}");
    assert!(
        text.contains("delete private endpoint pe-hub and create it again"),
        "{text}"
    );
}

#[test]
fn nx_domain_redirect_is_for_privatelink_zones_only() {
    let file = WORLD.replace(
        "[[dns_zone]]",
        "[[dns_zone]]\nname = \"corp.internal\"\nlinks = [{ network = \"hub\", resolution_policy = \"NxDomainRedirect\" }]\n\n[[dns_zone]]",
    );
    let e = err(&file);
    assert_at(
        &e,
        ScenarioErrorKind::Invalid,
        14,
        22,
        "only applicable to virtual network links to privatelink zones, and corp.internal is not one",
    );
    // On a privatelink zone it is fine, and the change API says the same as the file.
    ok(&WORLD.replace(
        "links = [{ network = \"hub\" }]",
        "links = [{ network = \"hub\", resolution_policy = \"NxDomainRedirect\" }]",
    ));
    let mut w = qs();
    w.add_zone("corp.internal").expect("zone");
    let e = w
        .link_zone(
            "corp.internal",
            "spoke",
            None,
            ResolutionPolicy::NxDomainRedirect,
        )
        .expect_err("refused");
    assert!(e.to_string().contains("privatelink"), "{e}");
    w.link_zone("corp.internal", "spoke", None, ResolutionPolicy::Default)
        .expect("link");
    let e = w
        .set_resolution_policy("corp.internal", "spoke", ResolutionPolicy::NxDomainRedirect)
        .expect_err("refused");
    assert!(e.to_string().contains("privatelink"), "{e}");
}

#[test]
fn an_azure_cache_for_redis_cache_always_serves_tls() {
    let e = err(&WORLD.replace(
        "name = \"contoso\"",
        "name = \"contoso\"\ntls = false\nnon_tls_port = true",
    ));
    assert_at(
        &e,
        ScenarioErrorKind::Invalid,
        7,
        8,
        "always serves TLS on 6380",
    );
    // Managed Redis may choose plain text on its one port.
    ok(&WORLD.replace(
        "name = \"contoso\"",
        "name = \"contoso\"\nflavour = \"managed-redis\"\nregion = \"westeurope\"\ntls = false\nnon_tls_port = true",
    )
    .replace("privatelink.redis.cache.windows.net", "privatelink.redis.azure.net"));
}

#[test]
fn the_host_is_on_the_internet_unless_the_world_says_otherwise() {
    assert_eq!(
        World::build(&ok(WORLD), &AddressPlan::default())
            .expect("builds")
            .host,
        HostPosition::Internet
    );
    let hub = ok(&format!("host = {{ network = \"hub\" }}\n{WORLD}"));
    let w = World::build(&hub, &AddressPlan::default()).expect("builds");
    assert_eq!(w.host, HostPosition::Network("hub".into()));
    let internet = ok(&format!("host = \"internet\"\n{WORLD}"));
    assert_eq!(
        World::build(&internet, &AddressPlan::default())
            .expect("builds")
            .host,
        HostPosition::Internet
    );
    assert_eq!(qs().host, HostPosition::Network("hub".into()));
    let e = err(&format!("host = {{ network = \"lab\" }}\n{WORLD}"));
    assert_at(&e, ScenarioErrorKind::UnknownReference, 1, 8, "network lab");
    let e = err(&format!("host = \"laptop\"\n{WORLD}"));
    assert_at(&e, ScenarioErrorKind::Invalid, 1, 8, "\"internet\" or");
}

#[test]
fn blocked_public_clients_time_out_by_default() {
    let w = World::build(&ok(WORLD), &AddressPlan::default()).expect("builds");
    assert_eq!(w.caches[0].public_blocked_action, BlockedAction::Drop);
    assert_eq!(BlockedAction::default(), BlockedAction::Drop);
}

#[test]
fn answers_name_literal_and_unowned_addresses() {
    let s = ok(&format!(
        "{WORLD}[[expect]]\nfrom = \"hub\"\nresolve = \"contoso.redis.cache.windows.net\"\nanswer = \"127.10.9.9\"\n\n[[expect]]\nfrom = \"hub\"\nresolve = \"contoso.redis.cache.windows.net\"\nanswer = \"unowned\"\n"
    ));
    let answers: Vec<ExpectedAnswer> = s
        .expectations()
        .map(|e| match &e.kind {
            ExpectationKind::Resolve { answer, .. } => answer.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            ExpectedAnswer::Address(Ipv4Addr::new(127, 10, 9, 9)),
            ExpectedAnswer::Unowned
        ]
    );
    let e = err(&format!(
        "{WORLD}[[expect]]\nfrom = \"hub\"\nresolve = \"contoso.redis.cache.windows.net\"\nanswer = \"10.0.0.4\"\n"
    ));
    assert_at(
        &e,
        ScenarioErrorKind::Address,
        18,
        10,
        "outside 127.0.0.0/8",
    );
}

#[test]
fn timing_bounds_compile_and_must_leave_room() {
    let s = ok(&format!(
        "{WORLD}[[expect]]\nfrom = \"hub\"\nconnect = \"ok\"\nwithin = \"2s\"\nslower_than = \"1ms\"\n"
    ));
    let e = s.expectations().next().expect("one");
    let t = e.target().expect("a connection").timing;
    assert_eq!(t.within, Some(Duration::from_secs(2)));
    assert_eq!(t.slower_than, Some(Duration::from_millis(1)));
    assert!(t.check(Duration::from_millis(5)).is_ok());
    assert!(t.check(Duration::from_secs(3)).is_err());
    let e = err(&format!(
        "{WORLD}[[expect]]\nfrom = \"hub\"\nconnect = \"ok\"\nwithin = \"50ms\"\nslower_than = \"100ms\"\n"
    ));
    assert_at(
        &e,
        ScenarioErrorKind::Invalid,
        19,
        15,
        "must be less than within",
    );
    let e = err(&format!(
        "{WORLD}[[expect]]\nfrom = \"hub\"\nresolve = \"contoso.redis.cache.windows.net\"\nanswer = \"private\"\nwithin = \"50ms\"\n"
    ));
    assert!(
        e.to_string()
            .contains("`within` does not go with a `resolve`"),
        "{e}"
    );
}

#[test]
fn open_connection_watches_across_a_step_only() {
    let e = err(&format!(
        "{WORLD}[[expect]]\nfrom = \"hub\"\nopen_connection = \"reset\"\n"
    ));
    assert_at(
        &e,
        ScenarioErrorKind::Invalid,
        17,
        19,
        "goes in a step's expectations",
    );
    // The target is taken before the step's changes: an endpoint the step deletes is fine.
    let s = ok(&format!(
        "{WORLD}[[step]]\nname = \"delete\"\nchange = [{{ delete_endpoint = \"pe-hub\" }}]\n[[step.expect]]\nfrom = \"hub\"\nendpoint = \"pe-hub\"\nopen_connection = \"reset\"\n"
    ));
    let step = &s.steps()[0];
    assert!(matches!(
        step.expectations[0].kind,
        ExpectationKind::OpenConnection {
            result: OpenConnection::Reset,
            ..
        }
    ));
}

#[test]
fn expect_refused_keeps_the_file_and_the_world() {
    let file = format!(
        "{WORLD}[[step]]\nname = \"reject\"\nchange = [{{ reject = \"pe-hub\" }}]\n\n[[step]]\nname = \"approve again\"\nchange = [{{ approve = \"pe-hub\" }}]\nexpect_refused = \"Approving rejected private endpoint connections is not supported\"\n\n[[step.expect]]\nfrom = \"hub\"\nconnect = \"timeout\"\n"
    );
    let s = ok(&file);
    let step = &s.steps()[1];
    let refusal = step.refused.as_ref().expect("a refusal");
    assert!(refusal.text.starts_with("Approving rejected"));
    assert_eq!(refusal.position.line, 22);
    // Without expect_refused the same file is an error at the change.
    let e = err(&file.replace(
        "expect_refused = \"Approving rejected private endpoint connections is not supported\"\n",
        "",
    ));
    assert_at(&e, ScenarioErrorKind::Invalid, 21, 11, "Approving rejected");
    // A change that applies, or is refused with another text, is an error.
    let e = err(&file.replace("[{ reject = \"pe-hub\" }]", "[{ start = \"contoso\" }]"));
    assert_at(&e, ScenarioErrorKind::Invalid, 21, 11, "but it applies");
    let e = err(&file.replace("Approving rejected", "Something else"));
    assert_at(&e, ScenarioErrorKind::Invalid, 21, 11, "does not contain");
}
