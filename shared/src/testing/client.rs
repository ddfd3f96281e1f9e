//! A service under test, called over HTTP as its users call it, with tokens from a test issuer.

use reqwest::Response;
use serde_json::Value;
use uuid::Uuid;

use super::TestIssuer;
use crate::auth::Role;

/// The address of a running service, a client, and the issuer whose tokens it trusts.
#[derive(Debug)]
pub struct TestClient {
    pub address: String,
    pub client: reqwest::Client,
    pub issuer: TestIssuer,
}

impl TestClient {
    /// Calls the service at `address` with tokens of `issuer`.
    pub fn new(address: String, issuer: TestIssuer) -> Self {
        Self {
            address,
            client: reqwest::Client::new(),
            issuer,
        }
    }

    /// A token for a new user with `roles`.
    pub fn user(&self, roles: &[Role]) -> (Uuid, String) {
        let id = Uuid::now_v7();
        (id, self.issuer.token(id, roles))
    }

    /// `GET path` with a token.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent")
    }

    /// `POST path` with a token, an idempotency key and a JSON body.
    pub async fn post(&self, path: &str, token: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("sent")
    }

    /// `PUT path` with a token and a JSON body.
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .put(format!("{}{path}", self.address))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("sent")
    }
}
