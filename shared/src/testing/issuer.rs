//! A stand-in for auth-service in other services' tests: a real JWKS endpoint on a free port
//! and tokens signed with its key.

use std::net::SocketAddr;

use axum::{Json, Router, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use uuid::Uuid;

use crate::auth::{Claims, Jwk, Jwks, Role};

/// The issuer and audience test tokens carry (the binaries' defaults).
pub const ISSUER: &str = "food-delivery-auth";
/// See [`ISSUER`].
pub const AUDIENCE: &str = "food-delivery";

/// Signs tokens and publishes its key like auth-service does.
#[derive(Debug)]
pub struct TestIssuer {
    /// The JWKS URL to configure services with (`--auth-jwks-url`).
    pub jwks_url: String,
    kid: String,
    key: Vec<u8>,
}

impl TestIssuer {
    /// Generates a key and serves its JWKS on a free loopback port.
    pub async fn start() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("a key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key pair");
        let kid = Uuid::now_v7().simple().to_string();
        let jwks = Jwks {
            keys: vec![Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
                kid: kid.clone(),
                usage: "sig".into(),
                alg: "EdDSA".into(),
            }],
        };
        let router = Router::new().route(
            "/.well-known/jwks.json",
            get(move || async move { Json(jwks.clone()) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address: SocketAddr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            jwks_url: format!("http://{address}/.well-known/jwks.json"),
            kid,
            key: pkcs8.as_ref().to_vec(),
        }
    }

    /// A valid 15-minute token for `user` with `roles`.
    pub fn token(&self, user: Uuid, roles: &[Role]) -> String {
        self.token_lasting(user, roles, 900)
    }

    /// A token for `user` with `roles` that expires in `seconds`.
    pub fn token_lasting(&self, user: Uuid, roles: &[Role], seconds: i64) -> String {
        self.token_of_session(user, Uuid::now_v7(), roles, seconds)
    }

    /// A token of session `sid` for `user` with `roles` that expires in `seconds`.
    pub fn token_of_session(&self, user: Uuid, sid: Uuid, roles: &[Role], seconds: i64) -> String {
        let now = chrono_like_now();
        let claims = Claims {
            sub: user,
            sid,
            roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
            perms: Role::permissions_of(roles),
            iat: now,
            exp: now + seconds,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        encode(&header, &claims, &EncodingKey::from_ed_der(&self.key)).expect("signed")
    }
}

fn chrono_like_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
