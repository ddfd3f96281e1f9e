//! TOTP secrets at rest: sealed with the signing keys' secret, each bound to its account, so
//! that a copy of the database alone yields no authenticator's codes.

use uuid::Uuid;

use crate::{error::AuthError, seal::Sealer};

/// A TOTP secret as stored: sealed, or in the clear as an earlier version wrote it (sealed
/// at the next start).
#[derive(Debug)]
pub struct StoredSecret {
    pub secret: Option<String>,
    pub sealed_secret: Option<Vec<u8>>,
}

fn bound_to(user: Uuid) -> String {
    format!("totp:{user}")
}

/// `secret` (base32) sealed for `user`.
pub fn seal(sealer: &Sealer, user: Uuid, secret: &str) -> Result<Vec<u8>, AuthError> {
    sealer
        .seal(&bound_to(user), secret.as_bytes())
        .map_err(|err| AuthError::internal(err.to_string()))
}

/// The base32 secret `user` stored.
pub fn open(sealer: &Sealer, user: Uuid, stored: StoredSecret) -> Result<String, AuthError> {
    match stored {
        StoredSecret {
            sealed_secret: Some(sealed),
            ..
        } => {
            let plain = sealer
                .open(&bound_to(user), &sealed)
                .map_err(|err| AuthError::internal(err.to_string()))?;
            String::from_utf8(plain).map_err(|err| AuthError::internal(err.to_string()))
        }
        StoredSecret {
            secret: Some(secret),
            ..
        } => Ok(secret),
        _ => Err(AuthError::internal("a TOTP secret is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::DEVELOPMENT_SECRET;

    #[test]
    fn a_sealed_secret_opens_for_its_account_only() {
        let sealer = Sealer::new(DEVELOPMENT_SECRET).expect("a secret");
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = seal(&sealer, ada, "JBSWY3DPEHPK3PXP").expect("sealed");
        let stored = |sealed: &[u8]| StoredSecret {
            secret: None,
            sealed_secret: Some(sealed.to_vec()),
        };
        assert_eq!(
            open(&sealer, ada, stored(&sealed)).expect("opens"),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(open(&sealer, bob, stored(&sealed)).is_err(), "bound to ada");
        let clear = StoredSecret {
            secret: Some("JBSWY3DPEHPK3PXP".to_owned()),
            sealed_secret: None,
        };
        assert_eq!(open(&sealer, ada, clear).expect("read"), "JBSWY3DPEHPK3PXP");
    }
}
