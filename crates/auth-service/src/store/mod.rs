//! SQL, one module per table group.

pub mod lockout;
pub mod registrations;
pub mod sessions;
pub mod users;
