//! The address plan: where in 127.0.0.0/8 a world puts the addresses a scenario does not pin.
//!
//! Every simulated address is a loopback alias (Linux routes all of 127/8 to `lo`). A world occupies
//! one **block**; block `b` (0 ≤ b < [`AddressPlan::BLOCKS`]) allocates:
//!
//! | role | address | notes |
//! | --- | --- | --- |
//! | resolver of network N | `127.53.b.N` | N = 1, 2, … in file order |
//! | client address of network N | `127.C.N.1` | the source address probes bind to |
//! | private endpoint M of network N | `127.P.N.M` | M = 4, 5, … (Azure keeps .0–.3 of a subnet) |
//! | public endpoint of cache M | `127.20.b.M` | M = 1, 2, … in file order |
//!
//! `P` and `C` are a pair of second octets owned by the block: block 0 uses `127.10` and `127.11`
//! (the plan of DESIGN.md: `127.53.0.1`, `127.10.1.4`, `127.11.1.1`, `127.20.0.1`); block `b > 0` uses
//! the `b`-th further even/odd pair from 12/13 upwards, skipping the pairs that contain 20 (public) or 53
//! (resolvers). So two worlds in different blocks never share an address, and a caller that finds one
//! block busy (say, the `up` command failing to bind its first resolver) can try
//! [`AddressPlan::block`]`(b + 1)`. Addresses a scenario pins are used as given and skipped by the
//! allocator.

use std::net::Ipv4Addr;

/// Where a world allocates addresses; see the module documentation for the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AddressPlan {
    /// The block number this plan was made from.
    pub block: u8,
    /// Second octet of private endpoint addresses: `127.P.N.M`.
    pub private_octet: u8,
    /// Second octet of client addresses: `127.C.N.1`.
    pub client_octet: u8,
    /// Second and third octets of resolver addresses: `127.X.Y.N`.
    pub resolver_prefix: [u8; 2],
    /// Second and third octets of public endpoint addresses: `127.X.Y.M`.
    pub public_prefix: [u8; 2],
}

/// The second octet of resolver addresses.
pub const RESOLVER_OCTET: u8 = 53;
/// The second octet of public endpoint addresses.
pub const PUBLIC_OCTET: u8 = 20;
/// The first host number of private endpoints in a network (Azure reserves .0 to .3 of a subnet).
pub const FIRST_ENDPOINT_HOST: u8 = 4;

impl Default for AddressPlan {
    fn default() -> Self {
        AddressPlan {
            block: 0,
            private_octet: 10,
            client_octet: 11,
            resolver_prefix: [RESOLVER_OCTET, 0],
            public_prefix: [PUBLIC_OCTET, 0],
        }
    }
}

impl AddressPlan {
    /// How many distinct blocks exist.
    pub const BLOCKS: u8 = 121;

    /// The plan of block `b`, or `None` if `b >= BLOCKS`.
    pub fn block(b: u8) -> Option<AddressPlan> {
        let private_octet = (10u16..=254)
            .step_by(2)
            .filter(|p| *p != u16::from(PUBLIC_OCTET) && *p + 1 != u16::from(RESOLVER_OCTET))
            .nth(usize::from(b))?;
        let private_octet = u8::try_from(private_octet).ok()?;
        Some(AddressPlan {
            block: b,
            private_octet,
            client_octet: private_octet + 1,
            resolver_prefix: [RESOLVER_OCTET, b],
            public_prefix: [PUBLIC_OCTET, b],
        })
    }

    /// The resolver address of the network with 1-based index `network`.
    pub fn resolver(&self, network: u8) -> Ipv4Addr {
        let [a, b] = self.resolver_prefix;
        Ipv4Addr::new(127, a, b, network)
    }

    /// The client address of the network with 1-based index `network`.
    pub fn client(&self, network: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, self.client_octet, network, 1)
    }

    /// Private endpoint address `host` in the network with 1-based index `network`.
    pub fn private_endpoint(&self, network: u8, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, self.private_octet, network, host)
    }

    /// The public endpoint address of the cache with 1-based index `cache`.
    pub fn public(&self, cache: u8) -> Ipv4Addr {
        let [a, b] = self.public_prefix;
        Ipv4Addr::new(127, a, b, cache)
    }

    /// Whether `address` lies in a range this plan allocates from (any role).
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        let [l, s, t, _] = address.octets();
        l == 127
            && (s == self.private_octet
                || s == self.client_octet
                || [s, t] == self.resolver_prefix
                || [s, t] == self.public_prefix)
    }
}

/// Whether `address` is a loopback alias (127.0.0.0/8).
pub fn is_loopback(address: Ipv4Addr) -> bool {
    address.octets()[0] == 127
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn block_zero_is_the_design_plan() {
        let plan = AddressPlan::block(0).expect("block 0");
        assert_eq!(plan, AddressPlan::default());
        assert_eq!(plan.resolver(1), Ipv4Addr::new(127, 53, 0, 1));
        assert_eq!(plan.client(2), Ipv4Addr::new(127, 11, 2, 1));
        assert_eq!(plan.private_endpoint(1, 4), Ipv4Addr::new(127, 10, 1, 4));
        assert_eq!(plan.public(1), Ipv4Addr::new(127, 20, 0, 1));
    }

    #[test]
    fn blocks_are_disjoint() {
        let plans: Vec<_> = (0..AddressPlan::BLOCKS)
            .map(|b| AddressPlan::block(b).expect("block in range"))
            .collect();
        assert!(AddressPlan::block(AddressPlan::BLOCKS).is_none());
        let mut wide = HashSet::new();
        for plan in &plans {
            for octet in [plan.private_octet, plan.client_octet] {
                assert!(wide.insert(octet), "octet {octet} reused");
                assert!(![0, PUBLIC_OCTET, RESOLVER_OCTET].contains(&octet));
            }
        }
        for (i, a) in plans.iter().enumerate() {
            for b in &plans[i + 1..] {
                for addr in [
                    a.resolver(1),
                    a.client(1),
                    a.private_endpoint(1, 4),
                    a.public(1),
                ] {
                    assert!(
                        !b.contains(addr),
                        "{addr} of block {} is in block {}",
                        a.block,
                        b.block
                    );
                }
            }
        }
    }
}
