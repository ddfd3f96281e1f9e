//! The Ed25519 signing keys: kept in the database so that every instance signs with the same
//! key, rotated on demand, and published as a JWKS while tokens they signed may still be live.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use shared::auth::{Jwk, Jwks};
use sqlx::PgPool;

use crate::seal::{SealError, Sealer};

/// The key tokens are signed with now, and the key set verifiers should accept.
#[derive(Clone)]
pub struct KeyRing {
    db: PgPool,
    sealer: Sealer,
    /// Published keys stay valid this long after they stop signing.
    overlap: Duration,
    signing: Arc<RwLock<Option<(String, EncodingKey)>>>,
    published: Arc<RwLock<Jwks>>,
}

/// Why the keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("key generation or parsing failed")]
    Crypto,
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl KeyRing {
    /// An empty ring whose keys are sealed by `sealer`; `initialise` fills it.
    pub fn new(db: PgPool, sealer: Sealer, overlap: Duration) -> Self {
        Self {
            db,
            sealer,
            overlap,
            signing: Arc::new(RwLock::new(None)),
            published: Arc::new(RwLock::new(Jwks::default())),
        }
    }

    /// Seals the keys written unsealed, then loads them, creating the first one if there is
    /// none.
    pub async fn initialise(&self) -> Result<(), KeyError> {
        let unsealed: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE NOT sealed")
                .fetch_all(&self.db)
                .await?;
        for (kid, der) in unsealed {
            sqlx::query("UPDATE signing_keys SET private_der = $2, sealed = true WHERE kid = $1")
                .bind(&kid)
                .bind(self.sealer.seal(&kid, &der)?)
                .execute(&self.db)
                .await?;
        }
        if self.newest().await?.is_none() {
            self.generate().await?;
        }
        self.reload().await
    }

    /// The key id and key to sign with, once loaded.
    pub fn signing_key(&self) -> Option<(String, EncodingKey)> {
        self.signing.read().ok().and_then(|guard| guard.clone())
    }

    /// The published key set, shared with the local token verifier.
    pub fn published(&self) -> Arc<RwLock<Jwks>> {
        self.published.clone()
    }

    /// Makes a new signing key; the previous one stays published until its tokens expire.
    pub async fn rotate(&self) -> Result<String, KeyError> {
        let mut transaction = self.db.begin().await?;
        sqlx::query("UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL")
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        let (kid, _) = self.generate().await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Re-reads the signing key and the published set (another instance may have rotated).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let signing = self.newest().await?;
        if let Ok(mut guard) = self.signing.write() {
            *guard = signing;
        }
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kid, public_x FROM signing_keys
             WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
             ORDER BY created_at DESC",
        )
        .bind(self.overlap.as_secs_f64())
        .fetch_all(&self.db)
        .await?;
        let keys = rows
            .into_iter()
            .map(|(kid, x)| Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x,
                kid,
                usage: "sig".into(),
                alg: "EdDSA".into(),
            })
            .collect();
        if let Ok(mut published) = self.published.write() {
            *published = Jwks { keys };
        }
        Ok(())
    }
}

impl KeyRing {
    async fn newest(&self) -> Result<Option<(String, EncodingKey)>, KeyError> {
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT kid, private_der FROM signing_keys WHERE retired_at IS NULL AND sealed
             ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(&self.db)
        .await?;
        let Some((kid, sealed)) = row else {
            return Ok(None);
        };
        let der = self.sealer.open(&kid, &sealed)?;
        Ok(Some((kid, EncodingKey::from_ed_der(&der))))
    }

    async fn generate(&self) -> Result<(String, EncodingKey), KeyError> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Crypto)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Crypto)?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let kid = uuid::Uuid::now_v7().simple().to_string();
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_der, public_x, sealed) VALUES ($1, $2, $3, true)",
        )
        .bind(&kid)
        .bind(self.sealer.seal(&kid, pkcs8.as_ref())?)
        .bind(&x)
        .execute(&self.db)
        .await?;
        tracing::info!(kid, "new signing key");
        Ok((kid, EncodingKey::from_ed_der(pkcs8.as_ref())))
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("overlap", &self.overlap)
            .finish_non_exhaustive()
    }
}
