//! SQL, one module per table group.

pub mod lockout;
pub mod sessions;
pub mod users;
