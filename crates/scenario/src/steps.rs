//! The checker's client steps, each leaving a line of evidence: `redlink_client` does the work
//! (simulated resolver, source-bound connect with a timeout, verifying TLS, RESP) and names the
//! failures — the same names `redlink probe` gives — and this module words what happened for a
//! check's report.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use redlink_client::net::{self, Stream};
use redlink_client::{ClientError, Failure, Value};

/// Timeouts of the checker's clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// How long a TCP connect may take before it counts as dropped.
    pub connect: Duration,
    /// How long to wait for a reply (and for a TLS handshake).
    pub reply: Duration,
    /// How long to wait for a DNS answer.
    pub dns: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_millis(300),
            reply: Duration::from_millis(1000),
            dns: Duration::from_millis(2000),
        }
    }
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Dial {
    /// The address to bind (the network's client address).
    pub source: Ipv4Addr,
    /// The destination.
    pub address: SocketAddrV4,
    /// The host name to verify, when speaking TLS.
    pub tls_name: Option<String>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Connects as `dial` says, leaving evidence lines; the stream, or how it failed.
pub async fn connect(
    dial: &Dial,
    tls: &tokio_rustls::TlsConnector,
    timeouts: &Timeouts,
    evidence: &mut Vec<String>,
) -> Result<Stream, ClientError> {
    let started = Instant::now();
    let socket = match net::bind(dial.source) {
        Ok(s) => s,
        Err(e) => {
            evidence.push(format!(
                "tcp: cannot bind source {}: {}",
                dial.source, e.message
            ));
            return Err(ClientError {
                message: format!("cannot bind {}: {}", dial.source, e.message),
                ..e
            });
        }
    };
    let tcp = match net::connect(socket, dial.address.into(), timeouts.connect).await {
        Err(e) if e.failure == Failure::Timeout && e.errno.is_none() => {
            evidence.push(format!(
                "tcp: {} → {}: no answer to the SYN within {:?} (timeout)",
                dial.source, dial.address, timeouts.connect
            ));
            return Err(e);
        }
        Err(e) => {
            evidence.push(format!(
                "tcp: {} → {}: {} after {:.1} ms ({})",
                dial.source,
                dial.address,
                e.message,
                ms(started),
                e.failure
            ));
            return Err(e);
        }
        Ok(s) => s,
    };
    evidence.push(format!(
        "tcp: {} → {}: connected in {:.1} ms",
        dial.source,
        dial.address,
        ms(started)
    ));
    let Some(name) = &dial.tls_name else {
        return Ok(Stream::Plain(tcp));
    };
    let server_name = net::server_name(name).map_err(|e| {
        ClientError::new(
            Failure::Error,
            format!("{name:?} is not a TLS server name: {e}"),
        )
    })?;
    let started = Instant::now();
    match net::tls_handshake(tls, tcp, server_name, timeouts.reply).await {
        Err(e) if e.failure == Failure::NoReply => {
            evidence.push(format!(
                "tls: no handshake answer within {:?} (no-reply)",
                timeouts.reply
            ));
            Err(e)
        }
        Err(e) => {
            evidence.push(format!(
                "tls: handshake verifying {name} failed: {} ({})",
                e.message, e.failure
            ));
            Err(e)
        }
        Ok(s) => {
            evidence.push(format!(
                "tls: handshake verifying {name} ok ({}, {:.1} ms)",
                s.tls_version().unwrap_or_default(),
                ms(started)
            ));
            Ok(s)
        }
    }
}

/// Sends `args` and reads one reply, leaving an evidence line.
pub async fn request(
    stream: &mut Stream,
    args: &[String],
    timeouts: &Timeouts,
    evidence: &mut Vec<String>,
) -> Result<Value, ClientError> {
    let shown = if args.first().is_some_and(|a| a.eq_ignore_ascii_case("AUTH")) {
        "AUTH ***".to_owned()
    } else {
        args.join(" ")
    };
    if let Err(e) = net::send(stream, args).await {
        evidence.push(format!(
            "resp: {shown}: write failed: {} ({})",
            e.message, e.failure
        ));
        return Err(e);
    }
    match net::read_reply(stream, timeouts.reply).await {
        Err(e) if e.failure == Failure::NoReply => {
            evidence.push(format!(
                "resp: {shown}: no reply within {:?} (no-reply)",
                timeouts.reply
            ));
            Err(e)
        }
        Err(e) => {
            let detail = match e.failure {
                Failure::Closed => "the server closed the connection without a reply",
                Failure::Reset => "connection reset by peer",
                _ => e.message.as_str(),
            };
            evidence.push(format!("resp: {shown}: {detail} ({})", e.failure));
            Err(e)
        }
        Ok(reply) => {
            let text = reply.to_string();
            let text = if reply.error().is_some() {
                format!("-{text}")
            } else {
                text
            };
            evidence.push(format!("resp: {shown} → {text}"));
            Ok(reply)
        }
    }
}

/// How a check names a failure: the client's word, with the text for plain errors.
pub fn failure_word(e: &ClientError) -> String {
    match e.failure {
        Failure::Error => format!("error: {}", e.message),
        other => other.as_str().to_owned(),
    }
}
