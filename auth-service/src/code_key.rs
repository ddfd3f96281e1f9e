//! The key recovery codes are hashed with: HMAC-SHA256 under a key derived (HKDF) from the
//! secret that seals the signing keys, so that a copy of the database alone cannot test
//! guesses against them.

use base64::{Engine, engine::general_purpose::STANDARD};
use ring::{
    hkdf::{HKDF_SHA256, Salt},
    hmac,
};

use crate::{seal::SealError, tokens::sha256};

/// Hashes recovery codes.
#[derive(Clone)]
pub struct CodeKey {
    key: hmac::Key,
}

impl CodeKey {
    /// The key for the base64 `secret` (32 bytes), the one `SIGNING_KEY_SECRET` holds.
    pub fn new(secret: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(secret.trim())
            .map_err(|_| SealError::Secret)?;
        if bytes.len() != 32 {
            return Err(SealError::Secret);
        }
        let key = Salt::new(HKDF_SHA256, b"food-delivery auth-service")
            .extract(&bytes)
            .expand(&[b"recovery codes".as_slice()], hmac::HMAC_SHA256)
            .map_err(|_| SealError::Secret)?
            .into();
        Ok(Self { key })
    }

    /// What a recovery code (normalised) is stored as.
    pub fn hash(&self, code: &str) -> Vec<u8> {
        self.rekey(&sha256(code))
    }

    /// A code's hash of the older, unkeyed kind (SHA-256), keyed as `hash` would be.
    pub fn rekey(&self, unkeyed: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, unkeyed).as_ref().to_vec()
    }
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::DEVELOPMENT_SECRET;

    #[test]
    fn a_code_hashes_alike_under_one_secret_only_and_old_hashes_rekey_to_the_same() {
        let key = CodeKey::new(DEVELOPMENT_SECRET).expect("a secret");
        let other = CodeKey::new(&STANDARD.encode([7_u8; 32])).expect("a secret");
        assert_eq!(key.hash("abcde"), key.hash("abcde"));
        assert_ne!(key.hash("abcde"), other.hash("abcde"));
        assert_ne!(key.hash("abcde"), sha256("abcde"), "keyed");
        assert_eq!(key.rekey(&sha256("abcde")), key.hash("abcde"));
        assert!(CodeKey::new("c2hvcnQ=").is_err());
    }
}
