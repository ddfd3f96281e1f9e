//! Verifying access tokens against auth-service's published keys (JWKS), cached and
//! refreshed when a token names a key the cache does not hold (key rotation).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use utoipa::ToSchema;

use super::Claims;

/// Fewest seconds between two fetches of a remote key set, so that tokens naming unknown
/// keys cannot make this binary hammer auth-service.
const MIN_REFETCH: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECONDS: u64 = 5;

/// A public signing key, as published in a JWKS (RFC 7517, OKP keys of RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// Key type: `OKP`.
    pub kty: String,
    /// Curve: `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// Key id, matched against a token's `kid`.
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub usage: String,
    /// `EdDSA`.
    pub alg: String,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Where the verifier gets its keys.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// auth-service's `/.well-known/jwks.json`, fetched over HTTP.
    Remote {
        /// The JWKS URL.
        url: String,
        /// The client to fetch it with.
        client: reqwest::Client,
    },
    /// A key set held in this process (auth-service's own).
    Local(Arc<RwLock<Jwks>>),
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No bearer token was sent.
    #[error("no bearer token")]
    Missing,
    /// The token is not a well-formed JWT with a key id.
    #[error("the token is malformed")]
    Malformed,
    /// The token names a key that auth-service does not publish.
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// Signature, algorithm, issuer or audience is wrong.
    #[error("the token is invalid: {0}")]
    Invalid(&'static str),
    /// The token is genuine and current, but its session was revoked (logout, password
    /// change, ...): a check the gateway makes beyond the signature.
    #[error("the token's session has been revoked")]
    Revoked,
    /// The keys could not be fetched and none are cached.
    #[error("the signing keys cannot be fetched")]
    KeysUnavailable,
}

/// Verifies access tokens. Cheap to share behind an `Arc`.
pub struct Verifier {
    source: KeySource,
    validation: Validation,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl Verifier {
    /// A verifier for tokens issued by `issuer` for `audience`, with keys from `source`.
    pub fn new(source: KeySource, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        Self {
            source,
            validation,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    /// The claims of `token` if it is genuine, current and meant for this platform.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        // `alg: none` and HMAC tokens end here: only EdDSA is accepted.
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("algorithm"));
        }
        let kid = header.kid.ok_or(TokenError::Malformed)?;
        let key = match self.cached(&kid) {
            Some(key) => key,
            None => {
                self.refresh().await?;
                self.cached(&kid).ok_or(TokenError::UnknownKey)?
            }
        };
        decode::<Claims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidAudience => TokenError::Invalid("audience"),
                ErrorKind::InvalidIssuer => TokenError::Invalid("issuer"),
                ErrorKind::InvalidSignature => TokenError::Invalid("signature"),
                ErrorKind::ImmatureSignature => TokenError::Invalid("not yet valid"),
                _ => TokenError::Malformed,
            })
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    async fn refresh(&self) -> Result<(), TokenError> {
        let jwks = match &self.source {
            KeySource::Local(jwks) => jwks
                .read()
                .map_err(|_| TokenError::KeysUnavailable)?
                .clone(),
            KeySource::Remote { url, client } => {
                let mut last_fetch = self.last_fetch.lock().await;
                if last_fetch.is_some_and(|at| at.elapsed() < MIN_REFETCH) {
                    return Ok(());
                }
                *last_fetch = Some(Instant::now());
                fetch(url, client)
                    .await
                    .ok_or(TokenError::KeysUnavailable)?
            }
        };
        let keys = jwks
            .keys
            .iter()
            .filter(|jwk| jwk.kty == "OKP" && jwk.crv == "Ed25519")
            .filter_map(|jwk| {
                Some((
                    jwk.kid.clone(),
                    DecodingKey::from_ed_components(&jwk.x).ok()?,
                ))
            })
            .collect();
        if let Ok(mut cache) = self.keys.write() {
            *cache = keys;
        }
        Ok(())
    }
}

async fn fetch(url: &str, client: &reqwest::Client) -> Option<Jwks> {
    let started = Instant::now();
    let sent = client.get(url).timeout(Duration::from_secs(3)).send().await;
    crate::metrics::record_call(
        "auth-service",
        &http::Method::GET,
        "/.well-known/jwks.json",
        crate::metrics::CallOutcome::of(&sent),
        started.elapsed(),
    );
    let response = sent
        .inspect_err(|err| tracing::warn!(error = %err, url, "cannot fetch the signing keys"))
        .ok()?;
    if !response.status().is_success() {
        tracing::warn!(status = %response.status(), url, "cannot fetch the signing keys");
        return None;
    }
    response
        .json()
        .await
        .inspect_err(|err| tracing::warn!(error = %err, url, "the signing keys do not parse"))
        .ok()
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use axum::{Json, Router, routing::get};
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use jsonwebtoken::{EncodingKey, Header, encode};
    use ring::{
        rand::SystemRandom,
        signature::{Ed25519KeyPair, KeyPair},
    };
    use uuid::Uuid;

    use super::*;

    struct Key {
        kid: String,
        encoding: EncodingKey,
        jwk: Jwk,
    }

    fn new_key(kid: &str) -> Key {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("a key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a pair");
        Key {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
                kid: kid.to_owned(),
                usage: "sig".into(),
                alg: "EdDSA".into(),
            },
        }
    }

    fn token(key: &Key, audience: &str, expires_in: i64) -> String {
        let now = chrono_now();
        let claims = Claims {
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            roles: vec!["customer".into()],
            perms: vec!["orders:create".into()],
            iat: now,
            exp: now + expires_in,
            iss: "issuer".into(),
            aud: audience.into(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        encode(&header, &claims, &key.encoding).expect("signed")
    }

    fn chrono_now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs(),
        )
        .expect("fits")
    }

    /// A JWKS endpoint serving whatever `keys` holds, counting its fetches.
    async fn jwks_server(
        keys: Arc<RwLock<Vec<Jwk>>>,
        fetches: Arc<std::sync::atomic::AtomicUsize>,
    ) -> String {
        let router = Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let keys = keys.clone();
                let fetches = fetches.clone();
                async move {
                    fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Json(Jwks {
                        keys: keys.read().expect("not poisoned").clone(),
                    })
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}/.well-known/jwks.json")
    }

    #[tokio::test]
    async fn remote_keys_are_fetched_once_cached_and_refetched_for_a_new_kid() {
        let first = new_key("first");
        let keys = Arc::new(RwLock::new(vec![first.jwk.clone()]));
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let url = jwks_server(keys.clone(), fetches.clone()).await;
        let verifier = Verifier::new(
            KeySource::Remote {
                url,
                client: reqwest::Client::new(),
            },
            "issuer",
            "audience",
        );

        for _ in 0..3 {
            let claims = verifier
                .verify(&token(&first, "audience", 60))
                .await
                .expect("valid");
            assert!(claims.has("orders:create"));
        }
        assert_eq!(
            fetches.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "cached after the first fetch"
        );

        let second = new_key("second");
        keys.write().expect("not poisoned").push(second.jwk.clone());
        tokio::time::sleep(MIN_REFETCH).await;
        verifier
            .verify(&token(&second, "audience", 60))
            .await
            .expect("the rotated key is fetched");
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unknown_keys_cannot_make_it_hammer_the_key_server() {
        let known = new_key("known");
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let url = jwks_server(
            Arc::new(RwLock::new(vec![known.jwk.clone()])),
            fetches.clone(),
        )
        .await;
        let verifier = Verifier::new(
            KeySource::Remote {
                url,
                client: reqwest::Client::new(),
            },
            "issuer",
            "audience",
        );
        let stranger = new_key("stranger");
        for _ in 0..5 {
            assert_eq!(
                verifier.verify(&token(&stranger, "audience", 60)).await,
                Err(TokenError::UnknownKey)
            );
        }
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn wrong_audience_expiry_and_unreachable_keys_are_told_apart() {
        let key = new_key("k");
        let local = Verifier::new(
            KeySource::Local(Arc::new(RwLock::new(Jwks {
                keys: vec![key.jwk.clone()],
            }))),
            "issuer",
            "audience",
        );
        assert_eq!(
            local.verify(&token(&key, "elsewhere", 60)).await,
            Err(TokenError::Invalid("audience"))
        );
        assert_eq!(
            local.verify(&token(&key, "audience", -60)).await,
            Err(TokenError::Expired)
        );
        assert_eq!(local.verify("garbage").await, Err(TokenError::Malformed));

        let unreachable = Verifier::new(
            KeySource::Remote {
                url: "http://127.0.0.1:1/jwks".into(),
                client: reqwest::Client::new(),
            },
            "issuer",
            "audience",
        );
        assert_eq!(
            unreachable.verify(&token(&key, "audience", 60)).await,
            Err(TokenError::KeysUnavailable)
        );
    }
}
