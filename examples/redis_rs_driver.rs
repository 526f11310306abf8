//! Client-matrix driver for the `redis` crate (clients/README.md): the crate's DEFAULT settings
//! (`Client::get_multiplexed_async_connection`: 1 s connection timeout, 500 ms response timeout),
//! only host, port, TLS with the world's CA and the credentials given; one command; one JSON line
//! like the other drivers (clients/drivers/common.py). Settings come from the `CLIENT_*`
//! variables; `redlink exec` runs it inside a scenario's network.
//!
//! The crate does not reconnect a failed `Client::get_multiplexed_async_connection` on its own;
//! after the scenario's fix step the driver asks the same `Client` for a new connection, as an
//! application would.

use std::process::Command;
use std::time::{Duration, Instant};

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn millis(name: &str, default: u64) -> Duration {
    Duration::from_millis(
        setting(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

fn json_list(name: &str) -> Vec<String> {
    setting(name)
        .and_then(|v| serde_json::from_str::<Vec<serde_json::Value>>(&v).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .collect()
}

/// Applies changes with `redlink ctl raw WORLD.CHANGE` (returns once the world changed); a change
/// the world refuses (a step that expects the refusal) is left as it is.
fn apply_changes(changes: &[String]) {
    let binary = setting("REDLINK_BIN").unwrap_or_else(|| "redlink".to_owned());
    for change in changes {
        let _ = Command::new(&binary)
            .args(["ctl", "raw", "WORLD.CHANGE", change])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Opens `CLIENT_HOLD` plain TCP connections to `CLIENT_HOLD_PORT`, each answered +PONG, and
/// keeps them: the other clients a maxclients case needs.
fn hold() -> Vec<std::net::TcpStream> {
    use std::io::{Read, Write};
    let count: usize = setting("CLIENT_HOLD")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let host = setting("CLIENT_HOST").unwrap_or_default();
    let port: u16 = setting("CLIENT_HOLD_PORT")
        .or_else(|| setting("CLIENT_PORT"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(6379);
    let mut held = Vec::new();
    // A slot can be taken for a moment by a connection of the world's own start-up: a hold that is
    // refused (`-ERR max number of clients reached`) is retried for up to 5 s, so the client under
    // test meets exactly the limit the case describes.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while held.len() < count {
        match std::net::TcpStream::connect((host.as_str(), port)) {
            Ok(mut s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut pong = [0u8; 64];
                let answer = s
                    .write_all(b"PING\r\n")
                    .and_then(|()| s.read(&mut pong))
                    .map(|n| String::from_utf8_lossy(&pong[..n]).trim_end().to_owned());
                match answer {
                    Ok(a) if a == "+PONG" => held.push(s),
                    Ok(a) if std::time::Instant::now() < deadline => {
                        eprintln!("redis_rs_driver: hold {host}:{port}: {a}; retrying");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    other => {
                        eprintln!("redis_rs_driver: could not hold {host}:{port}: {other:?}");
                        break;
                    }
                }
            }
            Err(e) => {
                eprintln!("redis_rs_driver: could not hold {host}:{port}: {e}");
                break;
            }
        }
    }
    held
}

/// How one attempt ended.
struct Attempt {
    outcome: &'static str,
    error_type: Option<String>,
    message: Option<String>,
    reply: Option<String>,
    elapsed: Duration,
}

fn reply_text(value: &redis::Value) -> String {
    match value {
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::Okay => "OK".to_owned(),
        other => format!("{other:?}"),
    }
}

type Pending = tokio::task::JoinHandle<(Result<redis::Value, redis::RedisError>, Instant)>;

fn attempt(client: redis::Client, command: Vec<String>) -> Pending {
    tokio::spawn(async move {
        let result = async {
            let mut connection = client.get_multiplexed_async_connection().await?;
            let mut cmd = redis::cmd(&command[0]);
            for arg in &command[1..] {
                cmd.arg(arg);
            }
            cmd.query_async::<redis::Value>(&mut connection).await
        }
        .await;
        (result, Instant::now())
    })
}

async fn settle(pending: &mut Pending, start: Instant, cap: Duration) -> Attempt {
    match tokio::time::timeout(cap, &mut *pending).await {
        Err(_) => Attempt {
            outcome: "no-answer",
            error_type: None,
            message: None,
            reply: None,
            elapsed: start.elapsed(),
        },
        Ok(Err(join)) => Attempt {
            outcome: "error",
            error_type: Some("JoinError".to_owned()),
            message: Some(join.to_string()),
            reply: None,
            elapsed: start.elapsed(),
        },
        Ok(Ok((result, at))) => {
            let elapsed = at.saturating_duration_since(start);
            match result {
                Ok(v) => Attempt {
                    outcome: "ok",
                    error_type: None,
                    message: None,
                    reply: Some(reply_text(&v)),
                    elapsed,
                },
                Err(e) => Attempt {
                    outcome: "error",
                    error_type: Some(format!("RedisError {:?}", e.kind())),
                    message: Some(e.to_string()),
                    reply: None,
                    elapsed,
                },
            }
        }
    }
}

fn client() -> Result<redis::Client, redis::RedisError> {
    let host = setting("CLIENT_HOST").unwrap_or_else(|| "contoso.redis.cache.windows.net".into());
    let port = setting("CLIENT_PORT").unwrap_or_else(|| "6380".into());
    let tls = setting("CLIENT_TLS").as_deref() != Some("0");
    let auth = match (setting("CLIENT_USER"), setting("CLIENT_PASSWORD")) {
        (Some(u), Some(p)) => format!("{u}:{p}@"),
        (None, Some(p)) => format!(":{p}@"),
        _ => String::new(),
    };
    let scheme = if tls { "rediss" } else { "redis" };
    let url = format!("{scheme}://{auth}{host}:{port}/");
    if !tls {
        return redis::Client::open(url);
    }
    let ca = std::fs::read(setting("REDLINK_CA").unwrap_or_default()).map_err(|e| {
        redis::RedisError::from((
            redis::ErrorKind::Io,
            "cannot read REDLINK_CA",
            e.to_string(),
        ))
    })?;
    redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca),
        },
    )
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let command = {
        let c = json_list("CLIENT_COMMAND");
        if c.is_empty() {
            vec!["PING".to_owned()]
        } else {
            c
        }
    };
    let cap = millis("CLIENT_CAP_MS", 25_000);
    let recover = millis("CLIENT_RECOVER_MS", 25_000);
    let fix = json_list("CLIENT_FIX");
    apply_changes(&json_list("CLIENT_BREAK"));
    let _held = hold();
    let t0 = Instant::now();
    let (first, recovery, by) = match client() {
        Err(e) => (
            Attempt {
                outcome: "error",
                error_type: Some(format!("RedisError {:?}", e.kind())),
                message: Some(e.to_string()),
                reply: None,
                elapsed: t0.elapsed(),
            },
            None,
            None,
        ),
        Ok(client) => {
            let mut pending = attempt(client.clone(), command.clone());
            let first = settle(&mut pending, t0, cap).await;
            let mut recovery = None;
            let mut by = None;
            if !fix.is_empty() {
                apply_changes(&fix);
                let t1 = Instant::now();
                if first.outcome == "no-answer" {
                    by = Some("the pending call completed");
                    recovery = Some(settle(&mut pending, t1, recover).await);
                }
                if recovery.as_ref().is_none_or(|r| r.outcome != "ok") {
                    by = Some("a new connection from the same Client (the crate does not retry)");
                    let mut again = attempt(client, command);
                    let left = recover
                        .saturating_sub(t1.elapsed())
                        .max(Duration::from_millis(100));
                    recovery = Some(settle(&mut again, t1, left).await);
                }
            }
            (first, recovery, by)
        }
    };
    let line = serde_json::json!({
        "client": "redis-rs",
        "version": "1.8.1",
        "outcome": first.outcome,
        "error_type": first.error_type,
        "message": first.message,
        "reply": first.reply,
        "elapsed_ms": ms(first.elapsed),
        "cap_ms": ms(cap),
        "recovered": recovery.as_ref().map(|r| r.outcome == "ok"),
        "recovery_ms": recovery.as_ref().map(|r| ms(r.elapsed)),
        "recovery_error": recovery.as_ref().and_then(|r| r.message.clone()),
        "recovery_by": by,
    });
    println!("{line}");
    std::process::exit(0);
}
