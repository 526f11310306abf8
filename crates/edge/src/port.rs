//! One endpoint address:port: its [`Reservation`], the [`PortPlan`] in force, and the listener that
//! carries it out:
//! - every source refused → the reservation alone (a real RST);
//! - every source dropped → a [`DropListener`] (a full accept queue: SYNs go unanswered);
//! - otherwise → a [`PolicyListener`] deciding per accepted connection (route, reset, blackhole),
//!   with a socket filter discarding the SYNs of sources to drop. A per-source refusal becomes
//!   reset-after-accept; a per-source drop without the privilege to attach the filter (EPERM for an
//!   ordinary uid outside a user namespace) becomes reset-after-accept too, and the reasons say so.
//!
//! Open connections whose source's action changes are reset (see [`crate::conn`]).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use redlink_world::{EndpointId, Source, Verdict};

use crate::conn::OpenConns;
use crate::drop::DropListener;
use crate::error::EdgeError;
use crate::event::ConnectionEvents;
use crate::filter::SourceFilter;
use crate::listener::{PolicyListener, PortIdentity};
use crate::plan::PortPlan;
use crate::reservation::Reservation;

/// What identifies an endpoint port across world changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortKey {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Its address.
    pub address: Ipv4Addr,
    /// The port.
    pub port: u16,
}

impl PortKey {
    /// The socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from((self.address, self.port))
    }
}

/// The listener in place.
#[derive(Debug)]
enum Mode {
    Refusing,
    Dropping(DropListener),
    Accepting(PolicyListener),
}

/// Said when a refusal must be limited to some sources.
const NO_PER_SOURCE_REFUSE: &str = "a refusal cannot be limited to some sources without privileges, so this source's connections are reset after accept instead";

/// One reserved endpoint address:port and what it currently does.
#[derive(Debug)]
pub struct EndpointPort {
    key: PortKey,
    cache: String,
    tls: bool,
    reservation: Reservation,
    plan: PortPlan,
    mode: Mode,
    conns: Arc<OpenConns>,
    events: Option<ConnectionEvents>,
}

impl EndpointPort {
    /// Reserves the address:port of `key` for `cache`'s endpoint; it refuses until a plan is
    /// applied.
    pub fn reserve(key: PortKey, cache: &str, tls: bool) -> Result<EndpointPort, EdgeError> {
        let reservation =
            Reservation::claim(key.socket_addr()).map_err(|source| EdgeError::Reserve {
                endpoint: key.endpoint.clone(),
                cache: cache.to_owned(),
                address: key.socket_addr(),
                source,
            })?;
        Ok(EndpointPort {
            key,
            cache: cache.to_owned(),
            tls,
            reservation,
            plan: PortPlan::refusing("not opened yet, so the connection was refused"),
            mode: Mode::Refusing,
            conns: Arc::new(OpenConns::default()),
            events: None,
        })
    }

    /// Reports what the port's listener does with each accepted connection to `events` (from the
    /// next time it opens).
    pub fn set_events(&mut self, events: ConnectionEvents) {
        self.events = Some(events);
    }

    /// The port's identity.
    pub fn key(&self) -> &PortKey {
        &self.key
    }

    /// The cache behind it.
    pub fn cache(&self) -> &str {
        &self.cache
    }

    /// Whether the port speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The plan in force (the world's verdicts per source, with the primitives carrying them out).
    pub fn plan(&self) -> &PortPlan {
        &self.plan
    }

    /// The open connections (routed or blackholed).
    pub fn open_connections(&self) -> &Arc<OpenConns> {
        &self.conns
    }

    /// Whether the reservation still holds the address.
    pub fn is_reserved(&self) -> bool {
        self.reservation.is_bound()
    }

    fn listen_error(&self, source: io::Error) -> EdgeError {
        EdgeError::Listen {
            endpoint: self.key.endpoint.clone(),
            cache: self.cache.clone(),
            address: self.key.socket_addr(),
            source,
        }
    }

    /// Puts `plan` in force: opens, switches or closes the listener, attaches the socket filter
    /// for per-source drops (or falls back, noting it in the plan), and resets open connections
    /// whose source's action changed.
    pub async fn apply(&mut self, mut plan: PortPlan) -> Result<(), EdgeError> {
        match plan.uniform_action() {
            Some(Verdict::Refuse) => self.set_mode(Mode::Refusing).await,
            Some(Verdict::Drop) => {
                if !matches!(self.mode, Mode::Dropping(_)) {
                    self.set_mode(Mode::Refusing).await;
                    let dropping = DropListener::open(self.key.socket_addr())
                        .map_err(|e| self.listen_error(e))?;
                    self.mode = Mode::Dropping(dropping);
                }
            }
            _ => {
                for s in plan
                    .sources
                    .iter_mut()
                    .filter(|s| s.action == Verdict::Refuse)
                {
                    s.fall_back(Verdict::Reset, NO_PER_SOURCE_REFUSE);
                }
                if !matches!(self.mode, Mode::Accepting(_)) {
                    self.set_mode(Mode::Refusing).await;
                    let identity = PortIdentity {
                        endpoint: self.key.endpoint.name().to_owned(),
                        tls: self.tls,
                        events: self.events.clone(),
                    };
                    let listener = PolicyListener::open(
                        self.key.socket_addr(),
                        identity,
                        plan.clone(),
                        self.conns.clone(),
                    )
                    .map_err(|e| self.listen_error(e))?;
                    self.mode = Mode::Accepting(listener);
                }
                if let Mode::Accepting(listener) = &mut self.mode {
                    let filter = drop_filter(&plan);
                    if let Err(e) = listener.set_filter(filter.clone()) {
                        let note = format!(
                            "dropping some sources only needs a socket filter, which this process may not attach ({e}; an ordinary user may inside `redlink exec`'s user namespace), so this source's connections are reset after accept instead"
                        );
                        for s in plan
                            .sources
                            .iter_mut()
                            .filter(|s| s.action == Verdict::Drop)
                        {
                            s.fall_back(Verdict::Reset, &note);
                        }
                        let _ = listener.set_filter(None);
                    }
                    listener.set_plan(plan.clone());
                }
            }
        }
        let endpoint = self.key.endpoint.name().to_owned();
        self.conns.reset_where(&endpoint, |source, action| {
            plan.for_source(source).is_some_and(|s| s.action == action)
        });
        self.plan = plan;
        Ok(())
    }

    async fn set_mode(&mut self, mode: Mode) {
        match std::mem::replace(&mut self.mode, mode) {
            Mode::Accepting(l) => l.close().await,
            Mode::Dropping(d) => drop(d),
            Mode::Refusing => {}
        }
    }

    /// Closes the listener, if open (the port refuses afterwards), and resets open connections.
    pub async fn close(&mut self) {
        self.set_mode(Mode::Refusing).await;
        self.conns
            .reset_where(self.key.endpoint.name(), |_, _| false);
        self.plan = PortPlan::refusing("the endpoint is closed, so the connection was refused");
    }
}

/// The socket filter that drops the plan's drop sources, if any: a deny list, or an allow list
/// when the host (and so every unknown address) is dropped.
fn drop_filter(plan: &PortPlan) -> Option<SourceFilter> {
    let dropped = |s: &&crate::plan::SourceVerdict| s.action == Verdict::Drop;
    if !plan.sources.iter().any(|s| dropped(&s)) {
        return None;
    }
    let host_dropped = plan.host().is_some_and(|h| h.action == Verdict::Drop);
    let networks = plan.sources.iter().filter(|s| s.source != Source::Host);
    Some(if host_dropped {
        SourceFilter::AllowOnly(
            networks
                .filter(|s| !dropped(s))
                .map(|s| s.address)
                .collect(),
        )
    } else {
        SourceFilter::Deny(networks.filter(dropped).map(|s| s.address).collect())
    })
}
