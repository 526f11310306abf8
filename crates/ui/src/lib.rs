//! The lab dashboard (`redlink up --ui [ADDR]`): a web page served from loopback that draws a
//! running world (topology, where each cache name resolves from each network, each endpoint port's
//! verdict per network, connection counters), streams its events (server-sent events: DNS answers,
//! connection verdicts, changes), shows the timeline and the lab's exercises, and offers the usual
//! cutover moves as buttons. Every action is a [`redlink_world::Change`] applied through
//! [`RunningWorld::apply_change`], the path of `redlink ctl` and of timeline steps, so the page can
//! do nothing the control API cannot; with a control password, the page asks for it first. The
//! same server exposes `/metrics` (Prometheus text, see [`metrics`]).
//!
//! Everything the page needs is embedded in the binary (`include_str!`): no CDN, no build step.
//! The server holds the world weakly, so it never keeps a stopping world alive, and nothing a
//! request carries can stop the world: bad JSON, a wrong password or a change the world refuses
//! get a clear error on the page and a line in the log.
//!
//! Modules: `view` (the JSON the page draws), `timeline` (the timeline board the runner reports
//! to), `metrics`, `http` (routes, guards, actions, the event stream).

mod http;
pub mod metrics;
pub mod timeline;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redlink_runtime::RunningWorld;
use redlink_scenario::LabReport;
use tokio::sync::{oneshot, watch};

pub use timeline::TimelineBoard;

/// What the dashboard shows and checks besides the world.
pub struct DashboardOptions {
    /// Where to listen (loopback only; port 0 = a free port).
    pub addr: SocketAddr,
    /// The control password actions must carry (`None`: none asked).
    pub password: Option<String>,
    /// The timeline, as the runner reports it.
    pub timeline: TimelineBoard,
    /// The lab's latest score (`None` until scored, or for a world without exercises).
    pub lab: watch::Receiver<Option<LabReport>>,
}

/// Why the dashboard could not start.
#[derive(Debug)]
pub enum UiError {
    /// The address is not a loopback address.
    NotLoopback(SocketAddr),
    /// The address could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::NotLoopback(a) => write!(
                f,
                "dashboard: {a} is not a loopback address (the dashboard listens on 127.0.0.0/8 or ::1 only)"
            ),
            UiError::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
                write!(
                    f,
                    "dashboard: cannot listen on {addr}: the address is already in use (another program has this port; pick another with --ui {}:PORT, or port 0 for a free one)",
                    addr.ip()
                )
            }
            UiError::Bind { addr, source } => {
                write!(f, "dashboard: cannot listen on {addr}: {source}")
            }
        }
    }
}

impl std::error::Error for UiError {}

/// A running dashboard.
pub struct Dashboard {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// The metrics' event follower and sampler.
    followers: Vec<tokio::task::JoinHandle<()>>,
}

impl Dashboard {
    /// Listens on `options.addr` and serves the dashboard of `world` until
    /// [`Dashboard::shutdown`] (or until the world stops).
    pub async fn start(
        world: &Arc<RunningWorld>,
        options: DashboardOptions,
    ) -> Result<Dashboard, UiError> {
        if !options.addr.ip().is_loopback() {
            return Err(UiError::NotLoopback(options.addr));
        }
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|source| UiError::Bind {
                addr: options.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| UiError::Bind {
            addr: options.addr,
            source,
        })?;
        let metrics = metrics::Metrics::default();
        let followers = metrics.follow(world);
        let router = http::router(http::AppState {
            world: Arc::downgrade(world),
            password: options.password.map(Arc::from),
            timeline: options.timeline,
            lab: options.lab,
            metrics,
            streams: Arc::new(tokio::sync::Semaphore::new(http::MAX_STREAMS)),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
            if let Err(e) = served {
                tracing::warn!("dashboard: the server stopped: {e}");
            }
        });
        Ok(Dashboard {
            addr,
            stop: Some(stop),
            task,
            followers,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops listening (open event streams are cut after a second) and the metrics' tasks, so
    /// nothing of the dashboard holds the world afterwards.
    pub async fn shutdown(mut self) {
        for f in &self.followers {
            f.abort();
        }
        for f in self.followers.drain(..) {
            let _ = f.await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}
