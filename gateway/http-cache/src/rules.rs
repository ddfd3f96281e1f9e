//! What a stored response is kept under: for whom ([`Scope`]) and for how long, stale or
//! not ([`Freshness`]). Decided once by the policy when the response is stored, and carried
//! with the entry from then on.

use std::time::Duration;

/// Where a response may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One copy for everyone.
    Public,
    /// One copy per user the gateway authenticated: the gateway's policy for answers a
    /// shared cache may not share (`private`, or asked with a token and not marked for
    /// sharing), each kept as that user's private cache would keep it.
    User,
}

/// What the cache keeps of a stored response's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub lifetime: Duration,
    /// Its age when received (`corrected_initial_age`).
    pub initial_age: Duration,
    pub scope: Scope,
    /// How long past its lifetime it may answer for a failing origin (RFC 5861).
    pub stale_if_error: Option<Duration>,
    /// How long past its lifetime it may answer while being refreshed (RFC 5861).
    pub stale_while_revalidate: Option<Duration>,
    /// It must never answer stale without the origin's word (`must-revalidate`,
    /// `proxy-revalidate`, `s-maxage`).
    pub revalidate_only: bool,
}
