//! SQL, one module per table group, and what an account must do before its tokens carry
//! all its roles (read from its rows).

pub mod lockout;
pub mod mfa;
pub mod registrations;
pub mod required_actions;
pub mod resets;
pub mod revocations;
pub mod sessions;
pub mod users;
