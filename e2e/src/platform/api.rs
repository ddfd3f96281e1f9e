//! What a client does through the gateway: users and tokens, a restaurant, couriers, orders.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::testing::{menu_of_one, restaurant};

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};

/// What a client does through the gateway. Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    /// A client of the gateway at `base`.
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: reqwest::Client::new(),
        }
    }

    /// A URL of the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `method path` through the gateway as `token`, with `body`; status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /orders` with `body` as `token` under the idempotency key `key`.
    pub async fn place(&self, token: &str, body: &Value, key: &str) -> (u16, Value) {
        let sent = self
            .client
            .post(self.url("/orders"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(err) => (599, Value::String(err.to_string())),
        }
    }

    /// `POST path` with `body` as `token`; status and body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// `GET path` as `token`; status and body.
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// `PUT path` with `body` as `token`; status and body.
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// An access token for `email`.
    pub async fn log_in(&self, email: &str, password: &str) -> String {
        let (status, tokens) = self
            .post(
                "/auth/login",
                None,
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "{email} logs in: {tokens}");
        tokens["access_token"].as_str().expect("a token").to_owned()
    }

    /// The administrator's token.
    pub async fn admin(&self) -> String {
        self.log_in(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A new user named `email`; returns their id.
    pub async fn register(&self, email: &str) -> String {
        let body = json!({"email": email, "password": PASSWORD, "display_name": email});
        let (status, user) = self.post("/auth/register", None, &body).await;
        assert_eq!(status, 201, "{email} registers: {user}");
        user["id"].as_str().expect("an id").to_owned()
    }

    /// A new customer's token.
    pub async fn customer(&self, email: &str) -> String {
        self.register(email).await;
        self.log_in(email, PASSWORD).await
    }

    /// A restaurant (the admin's) at Lyon with one dish; returns its id and the dish's id.
    pub async fn restaurant(&self, admin: &str) -> (String, String) {
        let body = restaurant("Chez Saga", "french");
        let (status, restaurant) = self.post("/restaurants", Some(admin), &body).await;
        assert_eq!(status, 201, "{restaurant}");
        let id = restaurant["id"].as_str().expect("an id").to_owned();
        let (status, menu) = self
            .put(
                &format!("/restaurants/{id}/menu"),
                admin,
                &menu_of_one(1250),
            )
            .await;
        assert_eq!(status, 200, "{menu}");
        let dish = menu["categories"][0]["items"][0]["id"]
            .as_str()
            .expect("a dish")
            .to_owned();
        (id, dish)
    }

    /// A courier near the restaurant, available; returns their id and token.
    pub async fn courier(&self, admin: &str, email: &str) -> (String, String) {
        let id = self.register(email).await;
        let (status, body) = self
            .post(
                &format!("/auth/admin/users/{id}/roles"),
                Some(admin),
                &json!({"role": "courier"}),
            )
            .await;
        assert!(
            status == 200 || status == 201,
            "courier role granted: {body}"
        );
        let token = self.log_in(email, PASSWORD).await;
        let (status, body) = self
            .post(
                "/delivery/couriers",
                Some(&token),
                &json!({"name": email, "vehicle": "bicycle"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        self.put(
            "/delivery/couriers/me/location",
            &token,
            &json!({"lat": 45.761, "lon": 4.831}),
        )
        .await;
        let (status, _) = self
            .put(
                "/delivery/couriers/me/availability",
                &token,
                &json!({"available": true}),
            )
            .await;
        assert_eq!(status, 200);
        (id, token)
    }

    /// Places an order of two dishes paid with `method`; the order's id, or the status of the
    /// refusal.
    pub async fn order(
        &self,
        token: &str,
        menu: &(String, String),
        method: &str,
    ) -> Result<String, u16> {
        match self
            .post("/orders", Some(token), &order_body(menu, method))
            .await
        {
            (201, order) => Ok(order["id"].as_str().expect("an id").to_owned()),
            (status, _) => Err(status),
        }
    }

    /// The courier `token` takes `step` (`picked-up`, `delivered`) on the order; a shipment
    /// still held (its order's confirmation not yet taken by delivery-service) is asked
    /// again for up to ten seconds. Status and body of the last answer.
    pub async fn courier_step(&self, token: &str, order: &str, step: &str) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self
                .post(
                    &format!("/delivery/{order}/{step}"),
                    Some(token),
                    &json!({}),
                )
                .await;
            let held = status == 409
                && body["type"]
                    .as_str()
                    .is_some_and(|kind| kind.ends_with("shipment-held"));
            if !held || Instant::now() >= deadline {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `limit` for the order to be in one of `statuses`; returns it as read last.
    pub async fn wait_for(
        &self,
        token: &str,
        order: &str,
        statuses: &[&str],
        limit: Duration,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (_, body) = self.get(&format!("/orders/{order}"), token).await;
            let status = body["status"].as_str().unwrap_or_default();
            if statuses.contains(&status) || Instant::now() >= deadline {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An order of two dishes of `menu` (the restaurant's id and its dish's), delivered in Lyon,
/// paid with `method`.
pub fn order_body(menu: &(String, String), method: &str) -> Value {
    json!({
        "restaurant_id": menu.0,
        "items": [{"menu_item_id": menu.1, "quantity": 2}],
        "delivery_address": {"street": "2 Rue Y", "city": "Lyon", "postal_code": "69002", "country": "FR",
                             "location": {"lat": 45.75, "lon": 4.85}},
        "payment_method": method,
    })
}
