//! SQL, one module per table group.

pub mod lockout;
pub mod mfa;
pub mod registrations;
pub mod resets;
pub mod revocations;
pub mod sessions;
pub mod users;
