//! Addresses the world's DNS answers but no endpoint owns (a stale A record of a deleted endpoint, a
//! forwarder's typo): in a virtual network nothing answers for such an address, so a client's SYN
//! goes unanswered and its connect times out. Left alone, a loopback address nobody listens on
//! refuses at once (an RST), which teaches the wrong lesson; the edge holds each such address:port
//! with a [`DropListener`] (after a [`Reservation`], like an endpoint port) for as long as the
//! world points at it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use redlink_world::World;

use crate::drop::DropListener;
use crate::reservation::Reservation;

/// At most this many address:ports are held (three sockets each): a world whose DNS names more
/// unowned addresses keeps its file descriptors for its engines, and the rest refuse (a warning says
/// so once).
pub(crate) const MAX_HELD: usize = 256;

/// One held address:port.
#[derive(Debug)]
struct Held {
    _drop: DropListener,
    _reservation: Reservation,
}

/// The unowned address:ports the edge drops.
#[derive(Debug, Default)]
pub(crate) struct Unowned {
    held: BTreeMap<SocketAddr, Held>,
    /// Address:ports another process holds (they cannot be made to time out), reported once.
    taken: BTreeMap<SocketAddr, String>,
}

impl Unowned {
    /// What `world` wants held: each unowned address on each cache port.
    pub(crate) fn wanted(world: &World) -> Vec<SocketAddr> {
        let ports = world.unowned_ports();
        world
            .unowned_addresses()
            .into_iter()
            .flat_map(|a| ports.iter().map(move |&p| SocketAddr::from((a, p))))
            .collect()
    }

    /// Releases every address:port not in `wanted` (before endpoint ports are reserved, so an
    /// address an endpoint takes over is free for it).
    pub(crate) fn release_except(&mut self, wanted: &[SocketAddr]) {
        self.held.retain(|a, _| wanted.contains(a));
        self.taken.retain(|a, _| wanted.contains(a));
    }

    /// Holds every address:port of `wanted` not held yet. An address another process holds is
    /// left alone (a warning says so once): it cannot be made to time out.
    pub(crate) fn hold(&mut self, wanted: &[SocketAddr]) {
        for &addr in wanted {
            if self.held.contains_key(&addr) || self.taken.contains_key(&addr) {
                continue;
            }
            if self.held.len() >= MAX_HELD {
                tracing::warn!(
                    "{addr} is answered by the world's DNS but owned by no endpoint; more than {MAX_HELD} such address:ports are held already, so it refuses instead of timing out"
                );
                self.taken
                    .insert(addr, format!("more than {MAX_HELD} unowned address:ports"));
                continue;
            }
            let held = Reservation::claim(addr).and_then(|r| {
                DropListener::open(addr).map(|d| Held {
                    _drop: d,
                    _reservation: r,
                })
            });
            match held {
                Ok(h) => {
                    self.held.insert(addr, h);
                }
                Err(e) => {
                    tracing::warn!(
                        "{addr} is answered by the world's DNS but owned by no endpoint; it should time out, but it cannot be held: {e}"
                    );
                    self.taken.insert(addr, e.to_string());
                }
            }
        }
    }

    /// The address:ports held (dropping every SYN).
    pub(crate) fn held(&self) -> Vec<SocketAddr> {
        self.held.keys().copied().collect()
    }

    /// Releases everything.
    pub(crate) fn clear(&mut self) {
        self.held.clear();
        self.taken.clear();
    }
}
