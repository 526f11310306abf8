//! The client side of a simulated world, in one place: what `redlink probe`, the scenario checker
//! and `redlink ctl` do as clients. Client code lives apart from server code (the engine, the DNS
//! views, the edge) so the two sides cannot share a mistake, and apart from both front-ends so
//! they cannot disagree: before this crate, the probe and the checker each had their own
//! resolver, connect, TLS and RESP code, and named the same OS error differently.
//!
//! - [`dns`]: ask a network's simulated resolver (hickory pointed at it only: never the system's).
//! - [`net`]: bind the network's client address, connect with a timeout, TLS verifying against the
//!   world's CA, send a command and read its reply.
//! - [`resp`]: the one RESP reader (RESP2 and RESP3, with limits), also used by the blocking
//!   control client.
//! - [`outcome`]: the one classification of how a connection ends badly ([`Failure`]: `refused`,
//!   `timeout`, `reset`, `closed`, `unreachable`, `no-reply`, `tls-error`, `error`), with the reasons
//!   for each errno's name.

pub mod dns;
pub mod net;
pub mod outcome;
pub mod resp;

pub use dns::{Lookup, lookup};
pub use net::Stream;
pub use outcome::{ClientError, Failure, errno_name};
pub use resp::Value;
