//! The people of a run: the administrator (who also owns the restaurant), couriers near it,
//! and customers, each signed in, and signed in again when a token expires mid-run.

use std::{collections::HashMap, sync::Arc};

use serde_json::Value;
use tokio::sync::RwLock;

use crate::platform::{ADMIN_EMAIL, ADMIN_PASSWORD, Api, PASSWORD, Platform};

/// One signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    api: Api,
    email: String,
    password: String,
    token: Arc<RwLock<String>>,
}

impl Session {
    async fn sign_in(api: &Api, email: &str, password: &str) -> Self {
        let token = api.log_in(email, password).await;
        Self {
            api: api.clone(),
            email: email.to_owned(),
            password: password.to_owned(),
            token: Arc::new(RwLock::new(token)),
        }
    }

    /// `method path` as this user (signing in again once if the token has expired).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let token = self.token.read().await.clone();
        let answer = self
            .api
            .call(method.clone(), path, Some(&token), body)
            .await;
        if answer.0 != 401 {
            return answer;
        }
        let (status, tokens) = self
            .api
            .post(
                "/auth/login",
                None,
                &serde_json::json!({"email": self.email, "password": self.password}),
            )
            .await;
        let Some(fresh) = tokens["access_token"].as_str().filter(|_| status == 200) else {
            return answer;
        };
        *self.token.write().await = fresh.to_owned();
        self.api.call(method, path, Some(fresh), body).await
    }

    /// Places the order `body` under the idempotency key `key`.
    pub async fn place(&self, body: &Value, key: &str) -> (u16, Value) {
        let token = self.token.read().await.clone();
        let answer = self.api.place(&token, body, key).await;
        if answer.0 != 401 {
            return answer;
        }
        self.call(reqwest::Method::POST, "/orders", Some(body))
            .await
    }

    /// `POST path` with an empty body.
    pub async fn post(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(&serde_json::json!({})))
            .await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// Everyone in a run.
#[derive(Debug, Clone)]
pub struct Cast {
    /// Operates the platform and owns the restaurant.
    pub admin: Session,
    /// The restaurant's id and its dish's.
    pub menu: (String, String),
    /// Couriers by user id.
    pub couriers: Arc<HashMap<String, Session>>,
    pub customers: Arc<Vec<Session>>,
}

impl Cast {
    /// Signs up `couriers` couriers near the restaurant, available, and `customers`
    /// customers.
    pub async fn assemble(platform: &Platform, couriers: usize, customers: usize) -> Self {
        let api = &platform.api;
        let admin = Session::sign_in(api, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let token = admin.token.read().await.clone();
        let menu = api.restaurant(&token).await;
        let mut riders = HashMap::new();
        for n in 0..couriers {
            let email = format!("rider{n}@chaos.test");
            let (id, _) = api.courier(&token, &email).await;
            riders.insert(id, Session::sign_in(api, &email, PASSWORD).await);
        }
        let mut people = Vec::new();
        for n in 0..customers {
            let email = format!("customer{n}@chaos.test");
            api.register(&email).await;
            people.push(Session::sign_in(api, &email, PASSWORD).await);
        }
        Self {
            admin,
            menu,
            couriers: Arc::new(riders),
            customers: Arc::new(people),
        }
    }
}
