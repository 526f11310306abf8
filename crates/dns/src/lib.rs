//! Split-horizon DNS for the simulated world: one hickory-server resolver per network, each bound on
//! UDP and TCP at its own loopback address, answering with [`redlink_world::resolve()`] from that
//! network's point of view. The world is watched, so a change is visible at the next query.
//!
//! ```no_run
//! # async fn demo(world: std::sync::Arc<redlink_world::World>) -> Result<(), redlink_dns::DnsError> {
//! let (_tx, rx) = tokio::sync::watch::channel(world);
//! let views = redlink_dns::DnsViews::start(rx, vec![("hub".into(), "127.53.0.1:5300".parse().unwrap())]).await?;
//! println!("{:?}", views.local_addrs());
//! views.shutdown().await?;
//! # Ok(()) }
//! ```

mod error;
mod event;
mod handler;
mod records;
mod udp;
mod views;

pub use error::DnsError;
pub use event::QueryEvent;
pub use handler::{MAX_UDP_PAYLOAD, ViewHandler};
pub use records::{query_type, soa_record, to_records};
pub use views::{DnsViews, EVENT_CAPACITY};
