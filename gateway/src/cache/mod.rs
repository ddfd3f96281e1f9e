//! The response cache in Redis: an RFC 9111 shared cache on the request path. GETs are
//! looked up, misses fetched once (single-flight) and stored for as long as the origin's
//! headers say (or a route's configured lifetime); a stale copy answers while it is
//! refreshed (`stale-while-revalidate`), for a failing origin (`stale-if-error`), or, unless
//! the origin forbade it, when the origin cannot be reached. Writes through the gateway drop
//! the entries of the resource and its collection. The rules are `gateway_http_cache`'s;
//! this module gives them Redis (`entries`), a place on the request path (`serve`, `fetch`)
//! and the admin's purge and statistics.

mod args;
mod entries;
mod fetch;
mod flight;
mod panel;
pub(crate) mod purge;
mod serve;
mod state;
mod stats;

pub use self::{
    args::CacheArgs,
    flight::CachedRequest,
    panel::{CachePanel, cache_panel, get_cache_stats},
    purge::router,
    serve::serve,
    state::Cache,
    stats::X_CACHE,
};
