//! gateway-net: the gateway's network layer, the floor every other part of the gateway stands
//! on and that knows nothing of them.
//!
//! - [`server`]: the accepting thread, the serving threads (a single-threaded runtime each),
//!   TLS, HTTP/1.1 and HTTP/2, and the limits on connections (header and keep-alive
//!   timeouts, caps per address);
//! - [`client`]: the HTTP/1.1 client and connection pool that proxied requests take;
//! - [`multiplexed`]: one shared HTTP/2 connection to an origin, for gRPC;
//! - [`relay`]: what a message loses crossing the gateway (hop-by-hop headers);
//! - [`upgrade`]: upgrades (WebSocket) passed through to a backend and spliced;
//! - [`per_runtime`] and [`boxed`]: values kept per serving runtime, futures boxed in place.
//!
//! Its neighbours: it stands on `shared` alone; `gateway-http-cache` beside it knows no
//! network; the `gateway` crate above serves its routes on [`server`], and
//! `gateway-upstream` calls backends through [`client`]; `bench` measures it bare.

pub mod boxed;
pub mod client;
pub mod multiplexed;
pub mod per_runtime;
pub mod relay;
pub mod server;
pub mod upgrade;
