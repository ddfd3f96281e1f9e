//! A request readied to leave for a backend as it came: its target, and its headers with
//! the forwarding fields written, the trace context injected and the gateway's own cookies
//! taken out.

use http::{Uri, request, uri::PathAndQuery};

use gateway_upstream::Added;

use super::{Forwarding, PeerIp, forwarding};
use crate::cookies;

/// The path and query `uri` asks for (`/` if none).
pub fn target_of(uri: &Uri) -> PathAndQuery {
    uri.path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"))
}

/// The target of the request `parts` head, its headers readied to be passed on from `peer`;
/// the fields to write after them.
pub fn ready(
    parts: &mut request::Parts,
    peer: &PeerIp,
    trust: &Forwarding,
) -> (PathAndQuery, Added) {
    let target = target_of(&parts.uri);
    let added = forwarding(&mut parts.headers, peer, trust);
    shared::http::inject_trace_context(&mut parts.headers);
    cookies::strip_own(&mut parts.headers);
    (target, added)
}
