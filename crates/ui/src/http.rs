//! The dashboard's HTTP side: the embedded page, `GET /api/view` (the [`crate::view`] JSON),
//! `GET /api/events` (server-sent events: `feed` for each world event, `refresh` when the world,
//! the timeline or the lab's score changed), `POST /api/change` and `POST /api/next-step`
//! (actions), `GET /metrics`.
//!
//! Guards, because any local program (or a web page in the user's browser) can reach a loopback
//! port: every request must name a loopback host in `Host` (no DNS-rebinding), actions must be
//! `application/json` (a cross-site form cannot send that without the browser asking first) with
//! a matching `Origin` when the browser sends one, and carry the control password when the world
//! has one. Every refusal is a JSON `{"error": "…"}` the page shows, and a line in the log.

use std::convert::Infallible;
use std::sync::{Arc, Weak};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use redlink_runtime::{EventStream, RunningWorld};
use redlink_scenario::LabReport;
use redlink_world::{Change, World};
use serde::Deserialize;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::timeline::TimelineBoard;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The world, held weakly: the dashboard never keeps a stopping world alive.
    pub world: Weak<RunningWorld>,
    /// The control password actions must carry.
    pub password: Option<Arc<str>>,
    /// The timeline board.
    pub timeline: TimelineBoard,
    /// The lab's latest score.
    pub lab: watch::Receiver<Option<LabReport>>,
    /// The `/metrics` counters.
    pub metrics: Metrics,
    /// Open event streams (each one has the world build DNS and connection events for it).
    pub streams: Arc<tokio::sync::Semaphore>,
}

/// How many event streams (open pages) may follow the world at once.
pub const MAX_STREAMS: usize = 32;

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/favicon.svg",
            get(|| async { asset("image/svg+xml", FAVICON_SVG) }),
        )
        .route("/api/view", get(view))
        .route("/api/events", get(events))
        .route("/api/change", post(change))
        .route("/api/next-step", post(next_step))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(loopback_host))
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `{"error": message}` with `status`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (status, axum::Json(body)).into_response()
}

fn world_gone() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the world is stopping; nothing to show",
    )
}

/// Whether a `Host` header names a loopback host (`127.x.y.z`, `[::1]`, `localhost`), port or not.
fn loopback_name(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn loopback_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !loopback_name(host) {
        tracing::warn!("dashboard: refused a request for host {host:?} (not a loopback name)");
        return error(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "the dashboard answers only for loopback host names (127.0.0.1, [::1], localhost), not {host:?}"
            ),
        );
    }
    next.run(request).await
}

async fn view(State(s): State<AppState>) -> Response {
    let Some(world) = s.world.upgrade() else {
        return world_gone();
    };
    let lab = s.lab.borrow().clone();
    let v = crate::view::view(&world, s.password.is_some(), s.timeline.view(), lab).await;
    axum::Json(v).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let Some(world) = s.world.upgrade() else {
        return world_gone();
    };
    let text = s.metrics.render(&world).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// Waits for a change on `rx`; never returns once its sender is gone (so a finished source does
/// not spin the stream).
async fn changed<T>(rx: &mut Option<watch::Receiver<T>>) {
    match rx {
        Some(r) => {
            if r.changed().await.is_err() {
                *rx = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

struct Feed {
    _permit: tokio::sync::OwnedSemaphorePermit,
    events: EventStream,
    world: Option<watch::Receiver<Arc<World>>>,
    timeline: Option<watch::Receiver<u64>>,
    lab: Option<watch::Receiver<Option<LabReport>>>,
}

fn feed_stream(feed: Feed) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures_util::stream::unfold(feed, |mut f| async move {
        let event = tokio::select! {
            e = f.events.next() => match e {
                Some(e) => SseEvent::default().event("feed").data(e.to_json()),
                None => return None,
            },
            () = changed(&mut f.world) => SseEvent::default().event("refresh").data("world"),
            () = changed(&mut f.timeline) => SseEvent::default().event("refresh").data("timeline"),
            () = changed(&mut f.lab) => SseEvent::default().event("refresh").data("lab"),
        };
        Some((Ok(event), f))
    })
}

async fn events(State(s): State<AppState>) -> Response {
    let Ok(permit) = s.streams.clone().try_acquire_owned() else {
        tracing::warn!(
            "dashboard: refused an event stream: {MAX_STREAMS} pages follow the world already"
        );
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_STREAMS} pages follow this world already: close one and reload"),
        );
    };
    let Some(world) = s.world.upgrade() else {
        return world_gone();
    };
    let feed = Feed {
        _permit: permit,
        events: world.events(),
        world: Some(world.subscribe()),
        timeline: Some(s.timeline.subscribe()),
        lab: Some(s.lab.clone()),
    };
    drop(world);
    Sse::new(feed_stream(feed))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// An action's body: the change (for `/api/change`) and the password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    #[serde(default)]
    change: Option<serde_json::Value>,
    #[serde(default)]
    password: Option<String>,
}

/// Compares without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The checks every action passes: JSON from this page's origin, the password when one is set.
/// Returns the parsed body, or the refusal (already logged).
fn admit(
    s: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
) -> Result<Action, Box<Response>> {
    let refuse = |status: StatusCode, message: String| {
        tracing::warn!("dashboard: refused {what}: {message}");
        Box::new(error(status, message))
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "actions are JSON: send Content-Type: application/json".to_owned(),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if origin != format!("http://{host}") {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!("an action from another page ({origin}) is not accepted"),
            ));
        }
    }
    let action: Action = serde_json::from_slice(body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "the action is not valid JSON of the form {{\"change\": …, \"password\": …}}: {e}"
            ),
        )
    })?;
    if let Some(expected) = &s.password {
        match action.password.as_deref() {
            None | Some("") => {
                return Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "this world has a control password: enter it to act (the state file's control_password, or up --control-password)".to_owned(),
                ));
            }
            Some(p) if !same_secret(p, expected) => {
                return Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "wrong control password (the state file's control_password, or up --control-password)".to_owned(),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(action)
}

async fn change(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action = match admit(&s, &headers, &body, "a change") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let Some(value) = action.change else {
        tracing::warn!("dashboard: refused a change from {peer}: no change in the request");
        return error(
            StatusCode::BAD_REQUEST,
            "no change: send {\"change\": {\"approve\": \"pe-hub\"}} and the like",
        );
    };
    let change: Change = match serde_json::from_value(value) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("dashboard: refused a change from {peer}: not a change: {e}");
            return error(StatusCode::BAD_REQUEST, format!("not a change: {e}"));
        }
    };
    let Some(world) = s.world.upgrade() else {
        return world_gone();
    };
    match world.apply_change(&change).await {
        Ok(done) => {
            tracing::info!("dashboard: {peer}: {done}");
            axum::Json(serde_json::json!({ "done": done })).into_response()
        }
        Err(e) => {
            tracing::warn!("dashboard: the world refused a change from {peer}: {e}");
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the world refused the change: {e}"),
            )
        }
    }
}

async fn next_step(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&s, &headers, &body, "next step") {
        return *r;
    }
    match s.timeline.next_step() {
        Ok(done) => {
            tracing::info!("dashboard: {peer}: {done}");
            axum::Json(serde_json::json!({ "done": done })).into_response()
        }
        Err(e) => {
            tracing::warn!("dashboard: refused next step from {peer}: {e}");
            error(StatusCode::CONFLICT, e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_host_names_pass() {
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:1",
            "[::1]:80",
            "127.9.9.9:1",
        ] {
            assert!(loopback_name(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "",
            "10.0.0.1:80",
            "[2001:db8::1]:80",
            "localhost.evil:1",
        ] {
            assert!(!loopback_name(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cret", "s3cre"));
        assert!(!same_secret("s3cret", "s3creT"));
    }
}
