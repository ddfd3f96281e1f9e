//! Sealing the signing keys at rest: ChaCha20-Poly1305 (ring's AEAD) under a secret from
//! configuration, each key bound to its id as associated data, so that a sealed key cannot
//! be passed off as another.

use base64::{Engine, engine::general_purpose::STANDARD};
use ring::{
    aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};

/// The development secret, used when none is configured: a start with it is logged (it is
/// among `shared::dev_defaults::DEVELOPMENT_VALUES`).
pub const DEVELOPMENT_SECRET: &str = "ZGV2ZWxvcG1lbnQgb25seSwgbmV2ZXIgaW4gcHJvZCE=";

/// Seals and opens signing keys.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
    random: SystemRandom,
}

/// The secret is not 32 bytes of base64, or a sealed key does not open under it.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the signing-key secret must be 32 bytes, base64-encoded")]
    Secret,
    #[error("a signing key does not open with the configured secret")]
    Open,
}

impl Sealer {
    /// A sealer for the base64 `secret` (32 bytes).
    pub fn new(secret: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(secret.trim())
            .map_err(|_| SealError::Secret)?;
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| SealError::Secret)?;
        Ok(Self {
            key: std::sync::Arc::new(LessSafeKey::new(key)),
            random: SystemRandom::new(),
        })
    }

    /// `plain` sealed for key `kid`: a fresh nonce, then the ciphertext and its tag.
    pub fn seal(&self, kid: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0_u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| SealError::Open)?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| SealError::Open)?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// What `seal` sealed for `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut in_out = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_for_its_id_only_and_under_its_secret_only() {
        let sealer = Sealer::new(DEVELOPMENT_SECRET).expect("a secret");
        let sealed = sealer.seal("kid-1", b"private key").expect("sealed");
        assert!(!sealed.windows(11).any(|window| window == b"private key"));
        assert_eq!(
            sealer.open("kid-1", &sealed).expect("opens"),
            b"private key"
        );
        assert!(sealer.open("kid-2", &sealed).is_err(), "bound to its id");
        let other = Sealer::new(&STANDARD.encode([7_u8; 32])).expect("a secret");
        assert!(
            other.open("kid-1", &sealed).is_err(),
            "another secret opens nothing"
        );
        assert!(
            Sealer::new("c2hvcnQ=").is_err(),
            "too short a secret is refused"
        );
    }
}
