//! Who the client is behind proxies: the `X-Forwarded-For` of a trusted proxy (the
//! gateway's load balancer, or the gateway in front of a service) is believed, anyone else's
//! is not, since any client can send one. Rate limits and lockouts key on this address.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// The header each proxy appends the address it saw to.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Whether `address` is one of them.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client of a request `peer` sent: `peer` itself unless it is a trusted proxy;
    /// then the right-most address of `X-Forwarded-For` that is not one (each trusted hop
    /// appended the address it saw; the first untrusted one is where trust ends).
    pub fn client(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or_default().rsplit(','));
        for hop in hops {
            let Ok(address) = hop.trim().parse::<IpAddr>() else {
                // Not an address: nothing left of it can be believed.
                break;
            };
            client = address;
            if !self.contains(address) {
                break;
            }
        }
        client
    }
}

/// `10.0.0.0/8, 192.168.1.7, ::1`: networks or single addresses, comma-separated.
pub fn parse_trusted_proxies(text: &str) -> Result<TrustedProxies, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{entry}` is neither an address nor a network (10.0.0.0/8)"))
        })
        .collect::<Result<_, _>>()
        .map(TrustedProxies)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn forwarded(chain: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            X_FORWARDED_FOR,
            HeaderValue::from_str(chain).expect("a value"),
        );
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").expect("a list");
        let headers = forwarded("203.0.113.9");
        assert_eq!(
            trusted.client(&headers, ip("198.51.100.4")),
            ip("198.51.100.4")
        );
        let nobody = TrustedProxies::default();
        assert_eq!(nobody.client(&headers, ip("10.0.0.2")), ip("10.0.0.2"));
    }

    #[test]
    fn behind_trusted_hops_the_client_is_the_last_untrusted_address() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 192.168.1.7").expect("a list");
        // A spoofed first entry, the real client, then two trusted hops.
        let headers = forwarded("1.2.3.4, 203.0.113.9, 192.168.1.7");
        assert_eq!(trusted.client(&headers, ip("10.0.0.2")), ip("203.0.113.9"));
        assert_eq!(
            trusted.client(&forwarded("garbage, 10.1.1.1"), ip("10.0.0.2")),
            ip("10.1.1.1"),
            "where the chain stops making sense, the last trusted hop is the client"
        );
        assert_eq!(
            trusted.client(&HeaderMap::new(), ip("10.0.0.2")),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn entries_that_are_not_addresses_are_named() {
        assert_eq!(parse_trusted_proxies(" "), Ok(TrustedProxies::default()));
        let err = parse_trusted_proxies("10.0.0.0/8, lb.internal").expect_err("a host name");
        assert!(err.contains("lb.internal"), "{err}");
    }
}
