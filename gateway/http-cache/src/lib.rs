//! gateway-http-cache: the rules of an RFC 9111 shared cache, over a store it does not know.
//!
//! What a response may be stored for and whom (`policy`, `control`), how long it stays fresh
//! and when it may answer stale (RFC 5861), how a stored answer is chosen among the variants
//! `Vary` names (`vary`), revalidated (`revalidate`) or answered to a conditional request
//! (`conditional`), which writes make what stale (`invalidation`), and how concurrent
//! misses share one call (`flight`). Entries go to a [`Store`]: any key-value store with
//! sets; the gateway's is Redis.
//!
//! Its neighbours: it knows no network and no gateway; the `gateway` crate above puts it on
//! the request path, gives it Redis, and counts what it answers.

pub mod conditional;
mod control;
mod entry;
mod flight;
pub mod invalidation;
mod key;
mod operations;
mod policy;
pub mod revalidate;
#[cfg(test)]
mod rfc_tests;
mod rules;
mod store;
pub mod vary;

pub use self::{
    control::Directives,
    entry::{Entry, millis_since_epoch, now_ms},
    flight::Flights,
    key::{CacheKey, normalise_query},
    operations::{Lookup, insert, invalidate, lookup},
    policy::{Exchange, freshness},
    rules::{Freshness, Scope},
    store::Store,
    vary::select,
};
