//! Who the client is, and what the backends are told of it.
//!
//! A peer that is not one of `TRUSTED_PROXIES` is the client, whatever `X-Forwarded-For` it
//! sends: the backends get its address alone. A trusted peer (a load balancer in front), and
//! each proxy before it, appended the address it saw: the right-most `TRUSTED_HOPS` entries
//! are believed and passed on, the client being the left-most of them, and anything further
//! left, which the client itself may have written, is dropped (Envoy's
//! `xff_num_trusted_hops`). Counting hops, rather than walking the chain while its addresses
//! look trusted, means that no entry a client writes is believed, whatever address it names.

mod headers;
mod outbound;

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue};
use smallvec::SmallVec;

use shared::forwarded::X_FORWARDED_FOR;
pub use shared::forwarded::{TrustedProxies, parse_trusted_proxies};

pub use self::{
    headers::{PeerIp, forwarding},
    outbound::{ready, target_of},
};

/// The proxies in front of the gateway, and how many entries of their `X-Forwarded-For`
/// they vouch for.
#[derive(Debug, Clone, Default)]
pub struct Forwarding {
    proxies: TrustedProxies,
    hops: usize,
}

impl Forwarding {
    /// Believes `hops` entries of what `proxies` forward.
    pub fn new(proxies: TrustedProxies, hops: usize) -> Self {
        Self { proxies, hops }
    }

    /// Whether `peer` is one of the proxies in front.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.proxies.contains(peer)
    }

    /// The client of a request `peer` sent: `peer` itself unless it is a trusted proxy; then
    /// the left-most of the entries it vouches for, or `peer` when there are none.
    pub fn client(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        self.vouched(headers).last().copied().unwrap_or(peer)
    }

    /// The `X-Forwarded-For` the backends get for a request a trusted peer, written
    /// `peer`, sent: the entries it vouches for, then the peer.
    pub fn chain(&self, headers: &HeaderMap, peer: &HeaderValue) -> HeaderValue {
        let vouched = self.vouched(headers);
        if vouched.is_empty() {
            return peer.clone();
        }
        let mut chain = String::new();
        for hop in vouched.iter().rev() {
            chain.push_str(&hop.to_string());
            chain.push_str(", ");
        }
        chain.push_str(peer.to_str().unwrap_or_default());
        HeaderValue::try_from(chain).unwrap_or_else(|_| peer.clone())
    }

    /// The right-most `hops` addresses of the chain, right to left; fewer when it is shorter
    /// or an entry is not an address (nothing left of one is believed).
    fn vouched(&self, headers: &HeaderMap) -> SmallVec<[IpAddr; 2]> {
        headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or("?").rsplit(','))
            .map(|hop| hop.trim().parse::<IpAddr>())
            .take(self.hops)
            .map_while(Result::ok)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(chains: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for chain in chains {
            headers.append(X_FORWARDED_FOR, chain.parse().expect("a value"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn behind(proxies: &str, hops: usize) -> Forwarding {
        Forwarding::new(parse_trusted_proxies(proxies).expect("a list"), hops)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["203.0.113.9"]);
        let peer = ip("198.51.100.4");
        assert_eq!(behind("10.0.0.0/8", 1).client(&headers, peer), peer);
        assert_eq!(
            Forwarding::default().client(&headers, ip("10.0.0.2")),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn behind_trusted_hops_exactly_that_many_entries_are_believed() {
        let peer = ip("10.0.0.2");
        let headers = forwarded(&["1.2.3.4, 10.9.9.9", "203.0.113.9"]);
        let one = behind("10.0.0.0/8", 1);
        assert_eq!(one.client(&headers, peer), ip("203.0.113.9"));
        let two = behind("10.0.0.0/8", 2);
        assert_eq!(
            two.client(&headers, peer),
            ip("10.9.9.9"),
            "an address in a trusted network is not skipped: hops are counted"
        );
        let value = HeaderValue::from_static("10.0.0.2");
        assert_eq!(
            two.chain(&headers, &value),
            "10.9.9.9, 203.0.113.9, 10.0.0.2"
        );
        assert_eq!(one.chain(&headers, &value), "203.0.113.9, 10.0.0.2");
    }

    #[test]
    fn a_short_or_broken_chain_believes_what_is_right_of_the_break() {
        let peer = ip("10.0.0.2");
        let value = HeaderValue::from_static("10.0.0.2");
        let three = behind("10.0.0.0/8", 3);
        let broken = forwarded(&["1.2.3.4, garbage, 203.0.113.9"]);
        assert_eq!(three.client(&broken, peer), ip("203.0.113.9"));
        assert_eq!(three.chain(&broken, &value), "203.0.113.9, 10.0.0.2");
        assert_eq!(three.client(&HeaderMap::new(), peer), peer);
        assert_eq!(three.chain(&HeaderMap::new(), &value), "10.0.0.2");
    }

    #[test]
    fn entries_that_are_not_addresses_are_named() {
        assert_eq!(parse_trusted_proxies(" "), Ok(TrustedProxies::default()));
        let err = parse_trusted_proxies("10.0.0.0/8, lb.internal").expect_err("a host name");
        assert!(err.contains("lb.internal"), "{err}");
    }
}
