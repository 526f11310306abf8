//! `redlink explain "MESSAGE"`: troubleshooting from the message a client printed. The message is
//! sorted into a symptom (refused, timeout, NXDOMAIN, certificate, …) by the words the client
//! matrix catalogued (clients/catalogue.json: errno names and the libraries' phrases), and the
//! causes of that symptom are listed in the order Microsoft's troubleshooting guides check them,
//! each with the scenario that reproduces it. Messages the matrix recorded verbatim (after
//! addresses, host names and ports are generalised) are named with the client and case that said
//! them. The catalogue is embedded: it is the one source of the words, causes and fixes, and
//! docs/clients.md is rendered from it.
//!
//! Exit codes: 0 with at least one likely cause, 1 with none, 2 for bad input.

use std::process::ExitCode;

use serde::Deserialize;

use crate::cli::say;

/// The catalogue the client matrix keeps true (`tests/client_matrix.rs`).
const CATALOGUE: &str = include_str!("../../clients/catalogue.json");

/// Arguments of `redlink explain`.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// The message the client printed (quote it), e.g. "Error 111 connecting to
    /// contoso.redis.cache.windows.net:6380. Connection refused."
    #[arg(required = true, num_args = 1.., value_name = "MESSAGE")]
    pub message: Vec<String>,
    /// Output: text (default) or json.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub output: Format,
}

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON object, for machines.
    Json,
}

#[derive(Deserialize)]
struct Catalogue {
    symptoms: Vec<Symptom>,
    causes: Vec<Cause>,
    cases: Vec<Case>,
    #[serde(default)]
    results: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Cell>>,
}

#[derive(Deserialize)]
struct Symptom {
    id: String,
    title: String,
    patterns: Vec<String>,
}

#[derive(Deserialize)]
struct Cause {
    id: String,
    symptoms: Vec<String>,
    cause: String,
    fix: String,
    scenario: String,
    /// The ports the cause is about (none: any); a message naming only other ports makes it
    /// less likely.
    #[serde(default)]
    ports: Vec<u16>,
    /// The host name suffixes the cause is about (none: any); a message naming only other
    /// cache hosts makes it less likely.
    #[serde(default)]
    hosts: Vec<String>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    scenario: String,
    cause: String,
}

#[derive(Deserialize)]
struct Cell {
    says: Option<String>,
}

/// Addresses and cache host names generalised (ports kept: 6379 and 6380 mean different
/// causes), lower case, spaces collapsed: how a user's message and a catalogued one are compared.
fn generalise(text: &str) -> String {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        let mut w = String::new();
        // Split off "host:port" and "addr:port" parts.
        for (i, part) in lower.split(':').enumerate() {
            if i > 0 {
                w.push(':');
            }
            let trimmed = part.trim_matches(|c: char| "()[],.'\"".contains(c));
            let is_address = trimmed.split('.').count() == 4
                && trimmed.split('.').all(|o| o.parse::<u8>().is_ok());
            let is_host = trimmed.ends_with(".windows.net") || trimmed.ends_with(".azure.net");
            if is_address || trimmed == "address" {
                w.push_str("ADDRESS");
            } else if is_host {
                w.push_str("HOST");
            } else {
                w.push_str(trimmed);
            }
        }
        out.push(w);
    }
    out.join(" ")
}

/// What `explain` found.
#[derive(serde::Serialize)]
struct Explanation {
    message: String,
    symptoms: Vec<SymptomMatch>,
    seen: Vec<Seen>,
    causes: Vec<CauseOut>,
}

#[derive(serde::Serialize)]
struct SymptomMatch {
    id: String,
    title: String,
    matched: String,
}

#[derive(serde::Serialize)]
struct Seen {
    case: String,
    client: String,
    says: String,
    scenario: String,
}

#[derive(serde::Serialize)]
struct CauseOut {
    id: String,
    cause: String,
    fix: String,
    scenario: String,
    reproduce: String,
    /// The client matrix recorded this very message for this cause.
    seen_with_this_message: bool,
    /// The message names a port this cause is not about (listed last).
    less_likely: Option<String>,
}

/// The ports a message names: `host:6380`, `('10.0.0.4', 6380)`.
fn ports_in(message: &str) -> Vec<u16> {
    let mut ports = Vec::new();
    for (i, c) in message.char_indices() {
        if c != ':' && c != ',' {
            continue;
        }
        let digits: String = message[i + 1..]
            .trim_start_matches(' ')
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(port) = digits.parse::<u16>()
            && digits.len() >= 2
        {
            ports.push(port);
        }
    }
    ports
}

fn explain(catalogue: &Catalogue, message: &str) -> Explanation {
    let lower = message.to_ascii_lowercase();
    let symptoms: Vec<SymptomMatch> = catalogue
        .symptoms
        .iter()
        .filter_map(|s| {
            s.patterns
                .iter()
                .find(|p| lower.contains(&p.to_ascii_lowercase()))
                .map(|p| SymptomMatch {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    matched: p.clone(),
                })
        })
        .collect();
    let wanted = generalise(message);
    let mut seen = Vec::new();
    for case in &catalogue.cases {
        for (client, cell) in catalogue.results.get(&case.id).into_iter().flatten() {
            let Some(says) = &cell.says else { continue };
            let known = generalise(says);
            if !wanted.is_empty() && (known.contains(&wanted) || wanted.contains(&known)) {
                seen.push(Seen {
                    case: case.id.clone(),
                    client: client.clone(),
                    says: says.clone(),
                    scenario: case.scenario.clone(),
                });
            }
        }
    }
    let seen_causes: Vec<&str> = seen
        .iter()
        .filter_map(|s| catalogue.cases.iter().find(|c| c.id == s.case))
        .map(|c| c.cause.as_str())
        .collect();
    let mut causes: Vec<CauseOut> = Vec::new();
    // Symptom by symptom (the first matched is the most specific), each symptom's causes in the
    // guides' order; a cause the matrix saw with this very message but whose symptom the words
    // did not match still counts.
    let mut order: Vec<&Cause> = Vec::new();
    for s in &symptoms {
        for c in catalogue
            .causes
            .iter()
            .filter(|c| c.symptoms.contains(&s.id))
        {
            if !order.iter().any(|o| o.id == c.id) {
                order.push(c);
            }
        }
    }
    for c in &catalogue.causes {
        if seen_causes.contains(&c.id.as_str()) && !order.iter().any(|o| o.id == c.id) {
            order.push(c);
        }
    }
    // A cause about other ports than the message names goes last, saying why.
    let named = ports_in(message);
    let hosts: Vec<String> = message
        .split(|c: char| c.is_whitespace() || ":,()'\"".contains(c))
        .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
        .filter(|w| w.ends_with(".windows.net") || w.ends_with(".azure.net"))
        .collect();
    let unlikely = |c: &Cause| {
        if !c.ports.is_empty() && !named.is_empty() && !named.iter().any(|p| c.ports.contains(p)) {
            let list: Vec<String> = named.iter().map(u16::to_string).collect();
            return Some(format!("the message names port {}", list.join(", ")));
        }
        if !c.hosts.is_empty()
            && !hosts.is_empty()
            && !hosts
                .iter()
                .any(|h| c.hosts.iter().any(|s| h.ends_with(s.as_str())))
        {
            return Some(format!("the message names {}", hosts.join(", ")));
        }
        None
    };
    order.sort_by_key(|c| unlikely(c).is_some());
    for c in order {
        causes.push(CauseOut {
            less_likely: unlikely(c),
            id: c.id.clone(),
            cause: c.cause.clone(),
            fix: c.fix.clone(),
            scenario: format!("scenarios/{}", c.scenario),
            reproduce: format!("redlink check scenarios/{}", c.scenario),
            seen_with_this_message: seen_causes.contains(&c.id.as_str()),
        });
    }
    Explanation {
        message: message.to_owned(),
        symptoms,
        seen,
        causes,
    }
}

fn print_text(e: &Explanation) {
    say!("message: {}", e.message);
    if e.symptoms.is_empty() {
        say!("symptom: not recognised (no catalogued word in it: see docs/clients.md)");
    }
    for s in &e.symptoms {
        say!("symptom: {} (matched {:?})", s.title, s.matched);
    }
    if !e.seen.is_empty() {
        say!("\nthe client matrix recorded this message from:");
        for s in &e.seen {
            say!(
                "  {} in case {} (scenarios/{})",
                s.client,
                s.case,
                s.scenario
            );
        }
    }
    if e.causes.is_empty() {
        say!("\nno likely cause found");
        return;
    }
    say!("\nlikely causes, in the order the troubleshooting guides check them:");
    for (i, c) in e.causes.iter().enumerate() {
        let mark = if c.seen_with_this_message {
            "  [seen with this message]"
        } else {
            ""
        };
        let unlikely = c
            .less_likely
            .as_ref()
            .map(|why| format!("  [less likely: {why}]"))
            .unwrap_or_default();
        say!("{:>3}. {}{mark}{unlikely}", i + 1, c.cause);
        say!("     fix: {}", c.fix);
        say!("     reproduce: {}", c.reproduce);
    }
}

/// Runs `redlink explain`.
pub fn main(args: ExplainArgs) -> ExitCode {
    let message = args.message.join(" ");
    if message.trim().is_empty() {
        eprintln!("redlink explain: the message is empty (quote what your client printed)");
        return ExitCode::from(2);
    }
    let catalogue: Catalogue = match serde_json::from_str(CATALOGUE) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redlink explain: the embedded clients/catalogue.json does not parse: {e}");
            return ExitCode::from(2);
        }
    };
    let explanation = explain(&catalogue, message.trim());
    match args.output {
        Format::Json => match serde_json::to_string_pretty(&explanation) {
            Ok(text) => say!("{text}"),
            Err(e) => {
                eprintln!("redlink explain: {e}");
                return ExitCode::from(2);
            }
        },
        Format::Text => print_text(&explanation),
    }
    if explanation.causes.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_found_in_the_libraries_shapes() {
        assert_eq!(
            ports_in(
                "Error 111 connecting to contoso.redis.cache.windows.net:6380. Connection refused."
            ),
            vec![6380]
        );
        assert_eq!(
            ports_in("Connect call failed ('127.10.1.4', 6379)."),
            vec![6379]
        );
        assert!(ports_in("connect ETIMEDOUT").is_empty());
    }

    #[test]
    fn addresses_and_hosts_are_generalised_ports_kept() {
        let a = "Error 111 connecting to contoso.redis.cache.windows.net:6380. Connection refused.";
        let b =
            "Error 111 connecting to fabrikam.redis.cache.windows.net:6380. Connection refused.";
        let c =
            "Error 111 connecting to fabrikam.redis.cache.windows.net:6379. Connection refused.";
        assert_eq!(generalise(a), generalise(b));
        assert_ne!(generalise(a), generalise(c));
        assert_eq!(
            generalise("connect ECONNREFUSED 127.10.1.4:6379"),
            generalise("connect ECONNREFUSED ADDRESS:6379")
        );
    }

    #[test]
    fn the_embedded_catalogue_parses_and_every_case_names_a_known_cause() {
        let catalogue: Catalogue = serde_json::from_str(CATALOGUE).expect("catalogue parses");
        for case in &catalogue.cases {
            assert!(
                catalogue.causes.iter().any(|c| c.id == case.cause),
                "case {} names unknown cause {}",
                case.id,
                case.cause
            );
        }
        for cause in &catalogue.causes {
            for s in &cause.symptoms {
                assert!(
                    catalogue.symptoms.iter().any(|x| &x.id == s),
                    "cause {} names unknown symptom {s}",
                    cause.id
                );
            }
        }
    }

    #[test]
    fn a_refusal_on_6380_lists_dns_first_and_an_unknown_message_nothing() {
        let catalogue: Catalogue = serde_json::from_str(CATALOGUE).expect("catalogue parses");
        let e = explain(
            &catalogue,
            "Error 111 connecting to contoso.redis.cache.windows.net:6380. Connection refused.",
        );
        assert_eq!(e.symptoms[0].id, "refused");
        // Port 6380 named: the disabled non-TLS port (6379) goes after every likely cause.
        assert_eq!(e.causes[0].id, "zone-not-linked");
        let port = e
            .causes
            .iter()
            .position(|c| c.id == "non-tls-port-disabled")
            .expect("listed");
        assert!(e.causes[port].less_likely.is_some());
        assert!(e.causes[port..].iter().all(|c| c.less_likely.is_some()));
        let amr = e.causes.iter().find(|c| c.id == "amr-zone").expect("amr");
        assert!(
            amr.less_likely.is_some(),
            "a *.windows.net host is not Managed Redis"
        );
        let e = explain(&catalogue, "connect ECONNREFUSED 10.1.2.4:6379");
        assert_eq!(e.causes[0].id, "non-tls-port-disabled");
        assert!(e.causes.iter().any(|c| c.id == "server-stopped"));
        let none = explain(&catalogue, "everything is fine");
        assert!(none.causes.is_empty());
    }
}
