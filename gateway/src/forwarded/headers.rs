//! The `X-Forwarded-*` fields a forwarded request carries: for a peer the gateway does not
//! trust, its own address, the `Host` it asked for and the gateway's scheme, whatever it
//! sent; for a trusted proxy, what [`Forwarding`] believes of its chain, then its address,
//! and the `-Host` and `-Proto` it set.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderName, HeaderValue, header};
use shared::forwarded::X_FORWARDED_FOR;

use gateway_net::relay::{is_hop_by_hop, remove_hop_by_hop};

use super::Forwarding;
use gateway_upstream::Added;

const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// A connection's peer address, as `X-Forwarded-For` names it, whether it is a trusted
/// proxy, and the scheme it came by: found once per connection rather than for each of its
/// requests.
#[derive(Debug, Clone)]
pub struct PeerIp {
    value: HeaderValue,
    trusted: bool,
    proto: HeaderValue,
}

impl PeerIp {
    /// The address of `peer`, trusted or not as `forwarding` says, over TLS if `secure`.
    pub fn of(peer: SocketAddr, forwarding: &Forwarding, secure: bool) -> Self {
        Self {
            value: HeaderValue::from_str(&peer.ip().to_string())
                .unwrap_or(HeaderValue::from_static("unknown")),
            trusted: forwarding.trusts(peer.ip()),
            proto: HeaderValue::from_static(if secure { "https" } else { "http" }),
        }
    }
}

/// Readies `headers` to be forwarded: removes their hop-by-hop fields, and says what goes
/// on after them, in place of the fields of the same names: `X-Forwarded-For`, and unless a
/// trusted proxy set them, `-Host` (the client's `Host`; the call carries the backend's, see
/// `CallPolicy::send`) and `-Proto`.
///
/// One pass over the fields, where looking each name up would hash it, and the additions
/// written after the fields rather than inserted among them (see `OriginPool::send_with`).
pub fn forwarding(headers: &mut HeaderMap, peer: &PeerIp, trust: &Forwarding) -> Added {
    let mut seen = Seen::of(headers);
    if seen.hop_by_hop {
        remove_hop_by_hop(headers);
        seen = Seen::of(headers);
    }
    if !peer.trusted && (seen.forwarded_host || seen.forwarded_proto) {
        headers.remove(X_FORWARDED_HOST);
        headers.remove(X_FORWARDED_PROTO);
        seen = Seen::of(headers);
    }
    let mut added = Added::new();
    let chain = if peer.trusted && seen.forwarded_for {
        trust.chain(headers, &peer.value)
    } else {
        peer.value.clone()
    };
    added.push((X_FORWARDED_FOR, chain));
    if !seen.forwarded_host
        && let Some(host) = headers.get(header::HOST)
    {
        added.push((X_FORWARDED_HOST, host.clone()));
    }
    if !seen.forwarded_proto {
        added.push((X_FORWARDED_PROTO, peer.proto.clone()));
    }
    added
}

/// What one pass over a request's header fields finds.
#[derive(Debug, Default)]
struct Seen {
    hop_by_hop: bool,
    forwarded_for: bool,
    forwarded_host: bool,
    forwarded_proto: bool,
}

impl Seen {
    fn of(headers: &HeaderMap) -> Self {
        let mut seen = Self::default();
        // By their text: comparing with a `HeaderName` constant builds and drops one.
        for name in headers.keys() {
            match name.as_str() {
                "x-forwarded-for" => seen.forwarded_for = true,
                "x-forwarded-host" => seen.forwarded_host = true,
                "x-forwarded-proto" => seen.forwarded_proto = true,
                _ => seen.hop_by_hop |= is_hop_by_hop(name),
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forwarded::parse_trusted_proxies;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                    HeaderValue::from_str(value).expect("a value"),
                )
            })
            .collect()
    }

    fn added(trust: &Forwarding, pairs: &[(&str, &str)]) -> Vec<String> {
        let peer = PeerIp::of("10.1.2.3:5555".parse().expect("an address"), trust, false);
        let mut map = headers(pairs);
        forwarding(&mut map, &peer, trust)
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().expect("text")))
            .collect()
    }

    const CLAIMED: &[(&str, &str)] = &[
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-host", "shop.example.com"),
        ("x-forwarded-proto", "https"),
        ("host", "api.example.com"),
    ];

    #[test]
    fn an_untrusted_peers_forwarded_fields_are_replaced_by_what_the_gateway_saw() {
        let nobody = Forwarding::default();
        let plain = [
            "x-forwarded-for: 10.1.2.3",
            "x-forwarded-host: api.example.com",
            "x-forwarded-proto: http",
        ];
        assert_eq!(added(&nobody, &[("host", "api.example.com")]), plain);
        assert_eq!(added(&nobody, CLAIMED), plain);
    }

    #[test]
    fn a_trusted_proxys_chain_is_kept_to_its_hops_and_its_host_and_proto_believed() {
        let proxies = parse_trusted_proxies("10.0.0.0/8").expect("a list");
        let lb = Forwarding::new(proxies, 1);
        assert_eq!(
            added(&lb, CLAIMED),
            ["x-forwarded-for: 203.0.113.7, 10.1.2.3"]
        );
        let mut spoofed = CLAIMED.to_vec();
        spoofed[0].1 = "198.51.100.1, 203.0.113.7";
        assert_eq!(
            added(&lb, &spoofed)[0],
            "x-forwarded-for: 203.0.113.7, 10.1.2.3"
        );
    }

    #[test]
    fn a_forwarded_field_the_connection_header_names_is_not_believed() {
        let proxies = parse_trusted_proxies("10.0.0.0/8").expect("a list");
        let lb = Forwarding::new(proxies, 1);
        let forwarded = added(
            &lb,
            &[
                ("connection", "x-forwarded-for"),
                ("x-forwarded-for", "198.51.100.1"),
            ],
        );
        assert_eq!(forwarded[0], "x-forwarded-for: 10.1.2.3");
    }
}
