//! Validated values: once built, they are known to be well formed.

mod new_user;

pub use new_user::{NewUser, RegisterRequest, check_password};
