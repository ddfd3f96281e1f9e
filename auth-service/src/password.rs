//! Password hashing and policy.

use std::{collections::HashSet, sync::LazyLock};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};

use crate::config::PasswordArgs;

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
});

/// Whether `password` is on the shipped list of common passwords.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(&password.to_lowercase())
}

/// argon2id with the configured cost, and a hash of nothing to spend the same time on when
/// the account does not exist (so that timing does not tell which emails are registered).
#[derive(Debug, Clone)]
pub struct Hasher {
    argon2: Argon2<'static>,
    decoy: String,
}

impl Hasher {
    /// A hasher with the configured cost.
    pub fn new(args: &PasswordArgs) -> Result<Self, argon2::Error> {
        let params = Params::new(
            args.argon2_memory_kib,
            args.argon2_iterations,
            args.argon2_parallelism,
            None,
        )?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let decoy = argon2
            .hash_password(b"decoy password for unknown accounts", &salt)
            .map_err(|_| argon2::Error::AlgorithmInvalid)?
            .to_string();
        Ok(Self { argon2, decoy })
    }

    /// The PHC string of `password` with a fresh salt.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| err.to_string())
    }

    /// Whether `password` matches `hash`; with no hash, checks against the decoy and says no.
    pub fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let stored = hash.unwrap_or(&self.decoy);
        let matches = PasswordHash::new(stored)
            .map(|parsed| {
                self.argon2
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && hash.is_some()
    }

    /// `hash` on a blocking thread.
    pub async fn hash_blocking(&self, password: String) -> Result<String, String> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|err| err.to_string())?
    }

    /// `verify` on a blocking thread.
    pub async fn verify_blocking(&self, password: String, hash: Option<String>) -> bool {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.verify(&password, hash.as_deref()))
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Hasher {
        Hasher::new(&PasswordArgs {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
        })
        .expect("valid params")
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hasher = hasher();
        let hash = hasher.hash("a long enough password").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("a long enough password", Some(&hash)));
        assert!(!hasher.verify("another long password", Some(&hash)));
    }

    #[test]
    fn no_account_never_verifies() {
        assert!(!hasher().verify("decoy password for unknown accounts", None));
    }

    #[test]
    fn common_passwords_are_recognised_whatever_their_case() {
        assert!(is_common("Password123456"));
        assert!(!is_common("a long enough password"));
    }
}
