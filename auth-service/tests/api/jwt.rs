use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use ring::{rand::SystemRandom, signature::Ed25519KeyPair};
use serde_json::{Value, json};

use clap::Parser;

use crate::helpers::{
    PASSWORD, SIGNING_KEY_SECRET, TestApp, access, assert_problem, spawn_app, spawn_app_with,
};

/// The service's current signing key, read from its database and opened with the tests'
/// secret, to forge tokens with.
async fn signing_key(app: &TestApp) -> (String, EncodingKey) {
    let (kid, sealed): (String, Vec<u8>) =
        sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&app.pool().await)
            .await
            .expect("a key");
    (kid.clone(), EncodingKey::from_ed_der(&open(&kid, &sealed)))
}

/// Opens a sealed key: a 12-byte nonce, then ChaCha20-Poly1305 ciphertext and tag, the key id
/// as associated data.
fn open(kid: &str, sealed: &[u8]) -> Vec<u8> {
    use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
    let secret = base64::engine::general_purpose::STANDARD
        .decode(SIGNING_KEY_SECRET)
        .expect("base64");
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &secret).expect("a key"));
    let (nonce, rest) = sealed.split_at(12);
    let mut in_out = rest.to_vec();
    key.open_in_place(
        Nonce::try_assume_unique_for_key(nonce).expect("a nonce"),
        Aad::from(kid.as_bytes()),
        &mut in_out,
    )
    .expect("the key opens with the secret it was sealed with")
    .to_vec()
}

#[tokio::test]
async fn signing_keys_are_sealed_at_rest_and_another_secret_stops_start_up() {
    let app = spawn_app().await;
    let (kid, sealed): (String, Vec<u8>) =
        sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE sealed LIMIT 1")
            .fetch_one(&app.pool().await)
            .await
            .expect("a sealed key");
    let plain = open(&kid, &sealed);
    assert!(
        !sealed
            .windows(plain.len())
            .any(|window| window == plain.as_slice()),
        "the private key is not stored as it is"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM signing_keys WHERE NOT sealed")
            .await,
        0
    );
    let config = auth_service::Config::try_parse_from([
        "auth-service",
        "--port",
        "0",
        "--database-url",
        &app.database.url(),
        "--signing-key-secret",
        "b3RoZXIgc2VjcmV0LCBvdGhlciBzZWNyZXQsIG90aGU=",
    ])
    .expect("valid flags");
    let refused = auth_service::Application::build(config)
        .await
        .expect_err("the keys do not open");
    assert!(
        refused.to_string().contains("SIGNING_KEY_SECRET"),
        "{refused}"
    );
}

fn claims(tokens: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let payload = access(tokens).split('.').nth(1).expect("a payload");
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    change(&mut claims);
    claims
}

fn sign(kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, key).expect("signed")
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    let response = app.get_with("/auth/me", token).await;
    let status = response.status().as_u16();
    if status == 401 {
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .expect("text")
                .starts_with("Bearer")
        );
    }
    status
}

#[tokio::test]
async fn the_jwks_publishes_the_key_tokens_name() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let header = jsonwebtoken::decode_header(access(&tokens)).expect("a header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("json");
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], header.kid.expect("a kid").as_str());
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let prefixed: Value = app
        .get("/auth/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(prefixed, jwks);
}

#[tokio::test]
async fn no_token_and_a_malformed_one_are_401_with_a_challenge() {
    let app = spawn_app().await;
    let response = app.get("/auth/me").await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="food-delivery""#
    );
    assert_problem(response, 401).await;
    assert_eq!(me_status(&app, "not.a.jwt").await, 401);
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let forged = claims(&tokens, |claims| claims["roles"] = json!(["admin"]));
    let mut parts: Vec<String> = access(&tokens).split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
    assert_eq!(me_status(&app, &parts.join(".")).await, 401);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"x"}"#);
    let payload = access(&tokens).split('.').nth(1).expect("a payload");
    assert_eq!(me_status(&app, &format!("{header}.{payload}.")).await, 401);
}

#[tokio::test]
async fn a_wrong_audience_or_issuer_is_refused_even_when_signed_by_the_real_key() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let (kid, key) = signing_key(&app).await;
    assert_eq!(
        me_status(&app, &sign(&kid, &key, &claims(&tokens, |_| {}))).await,
        200,
        "the forging works"
    );
    let wrong_audience = claims(&tokens, |claims| claims["aud"] = json!("someone-else"));
    assert_eq!(
        me_status(&app, &sign(&kid, &key, &wrong_audience)).await,
        401
    );
    let wrong_issuer = claims(&tokens, |claims| claims["iss"] = json!("evil"));
    assert_eq!(me_status(&app, &sign(&kid, &key, &wrong_issuer)).await, 401);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let (kid, key) = signing_key(&app).await;
    let now = chrono::Utc::now().timestamp();
    let expired = claims(&tokens, |claims| {
        claims["iat"] = json!(now - 3600);
        claims["exp"] = json!(now - 60);
    });
    assert_eq!(me_status(&app, &sign(&kid, &key, &expired)).await, 401);
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("a key");
    let stranger = EncodingKey::from_ed_der(pkcs8.as_ref());
    let (kid, _) = signing_key(&app).await;
    assert_eq!(
        me_status(&app, &sign(&kid, &stranger, &claims(&tokens, |_| {}))).await,
        401,
        "the real kid, a wrong key"
    );
    assert_eq!(
        me_status(&app, &sign("unknown", &stranger, &claims(&tokens, |_| {}))).await,
        401
    );
}

#[tokio::test]
async fn after_a_rotation_old_tokens_stay_valid_and_new_ones_use_the_new_key() {
    let app = spawn_app_with(&[
        "--admin-email",
        "root@example.com",
        "--admin-password",
        PASSWORD,
    ])
    .await;
    let before = app.signed_in("ada@example.com").await;
    let admin: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let rotated: Value = app
        .post_json_with("/auth/admin/keys/rotate", access(&admin), &json!({}))
        .await
        .json()
        .await
        .expect("json");
    let new_kid = rotated["kid"].as_str().expect("a kid");
    assert_eq!(me_status(&app, access(&before)).await, 200);
    let after: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        jsonwebtoken::decode_header(access(&after))
            .expect("a header")
            .kid
            .as_deref(),
        Some(new_kid)
    );
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2);
}
