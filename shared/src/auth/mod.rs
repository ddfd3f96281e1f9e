//! Identity for every binary: the claims auth-service puts in its access tokens, a verifier
//! that checks them against auth-service's published keys, an extractor for handlers, and the
//! role -> permission table.
//!
//! Verification is local and does not ask auth-service about every request, so a revoked
//! session's access tokens stay valid here until they expire (15 minutes by default); the
//! gateway refuses them within a second, from the revocations auth-service announces.

mod claims;
mod extractor;
mod permissions;
mod verifier;

pub use claims::Claims;
pub use extractor::{AuthUser, bearer_token, refusal};
pub use permissions::{Permission, Role};
pub use verifier::{Jwk, Jwks, KeySource, TokenError, Verifier};
