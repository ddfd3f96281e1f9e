//! The gateway's own HTTP/1.1 client and connection pool, for proxied requests (see
//! `docs/adr/0001-own-http-client.md`); its calls off that path go through `probe`.

mod body;
mod conn;
mod decode;
mod idle;
mod pool;
#[cfg(test)]
mod raw_origin;
mod request;
mod response;
#[cfg(test)]
mod wire_tests;

pub use self::{
    body::PooledBody,
    conn::{DirectError, PoolError, connect},
    pool::{OriginPool, dial_address},
};
