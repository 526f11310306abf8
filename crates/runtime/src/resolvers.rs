//! Starting the DNS views of a world: each network's resolver on its address at the scenario's pinned
//! port or the default one; when the default port is taken on that address, another free port is
//! picked and a note says so.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use redlink_clock::Clock;
use redlink_dns::{DnsError, DnsViews};
use redlink_world::World;
use tokio::sync::watch;

/// Starts the resolvers of `world` (read through `rx`); returns them and notes about ports changed.
pub async fn start_resolvers(
    rx: watch::Receiver<Arc<World>>,
    default_port: u16,
    clock: &Clock,
) -> Result<(DnsViews, Vec<String>), DnsError> {
    let (mut bindings, pinned): (Vec<(String, SocketAddr)>, HashSet<String>) = {
        let world = rx.borrow();
        (
            world.resolver_bindings(default_port),
            world
                .networks
                .iter()
                .filter(|n| n.resolver_port.is_some())
                .map(|n| n.name.clone())
                .collect(),
        )
    };
    let mut notes = Vec::new();
    loop {
        match DnsViews::start_with_clock(rx.clone(), bindings.clone(), clock.clone()).await {
            Ok(views) => return Ok((views, notes)),
            Err(DnsError::Bind {
                network,
                address,
                source,
                ..
            }) if source.kind() == io::ErrorKind::AddrInUse
                && address.port() != 0
                && !pinned.contains(&network) =>
            {
                notes.push(format!(
                    "network {network}: port {} is taken on {}; its resolver uses another port",
                    address.port(),
                    address.ip()
                ));
                for (n, a) in &mut bindings {
                    if *n == network {
                        a.set_port(0);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}
