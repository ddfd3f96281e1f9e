//! The gateway's name, as it gives it in logs, traces, `/health`, its OpenAPI document and
//! the broker's list of connections.

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "gateway";
