//! One endpoint address:port: its [`Reservation`], the verdict in force and, while that verdict is
//! route, its [`RouteListener`]. Applying a new verdict opens or closes the listener; the
//! reservation stays for as long as the world has the endpoint.

use std::net::{Ipv4Addr, SocketAddr};

use redlink_engine::Engine;
use redlink_world::{EndpointId, Verdict};

use crate::error::EdgeError;
use crate::listener::RouteListener;
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

/// One reserved endpoint address:port and what it currently does.
#[derive(Debug)]
pub struct EndpointPort {
    key: PortKey,
    cache: String,
    tls: bool,
    reservation: Reservation,
    verdict: Verdict,
    reason: String,
    listener: Option<RouteListener>,
}

impl EndpointPort {
    /// Reserves the address:port of `key` for `cache`'s endpoint; it refuses until a verdict is
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
            verdict: Verdict::Refuse,
            reason: "refuse: not opened yet".to_owned(),
            listener: None,
        })
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

    /// The verdict in force.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The world's explanation of the verdict in force.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether the reservation still holds the address.
    pub fn is_reserved(&self) -> bool {
        self.reservation.is_bound()
    }

    /// Puts `verdict` in force: route opens a listener handing streams to `engine` (if none is open),
    /// refuse closes it. `engine` is needed for route only; route without an engine refuses.
    pub async fn apply(
        &mut self,
        verdict: Verdict,
        reason: String,
        engine: Option<&Engine>,
    ) -> Result<(), EdgeError> {
        match (verdict, engine) {
            (Verdict::Route, Some(engine)) => {
                if self.listener.is_none() {
                    let listener = RouteListener::open(
                        self.key.socket_addr(),
                        engine.clone(),
                        self.key.endpoint.name().to_owned(),
                        self.tls,
                    )
                    .map_err(|source| EdgeError::Listen {
                        endpoint: self.key.endpoint.clone(),
                        cache: self.cache.clone(),
                        address: self.key.socket_addr(),
                        source,
                    })?;
                    self.listener = Some(listener);
                }
                self.verdict = Verdict::Route;
                self.reason = reason;
            }
            (Verdict::Route, None) => {
                self.close().await;
                self.verdict = Verdict::Refuse;
                self.reason = format!("refuse: cache {} has no engine", self.cache);
            }
            (Verdict::Refuse, _) => {
                self.close().await;
                self.verdict = Verdict::Refuse;
                self.reason = reason;
            }
        }
        Ok(())
    }

    /// Closes the listener, if open (the port refuses afterwards).
    pub async fn close(&mut self) {
        if let Some(l) = self.listener.take() {
            l.close().await;
        }
    }
}
