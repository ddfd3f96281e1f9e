//! What the run needs in place: the administrator's token, a restaurant with a dish,
//! customers with their tokens, and couriers near the restaurant.

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::Args;

const PASSWORD: &str = "a bench customer's password";

/// The restaurant, its dish and the customers' tokens.
#[derive(Debug)]
pub struct Fixture {
    client: reqwest::Client,
    gateway: String,
    restaurant: String,
    dish: String,
    customers: Vec<String>,
}

impl Fixture {
    pub async fn prepare(args: &Args) -> Result<Self, String> {
        let client = reqwest::Client::new();
        let gateway = args.gateway.trim_end_matches('/').to_owned();
        let call = Call {
            client: &client,
            gateway: &gateway,
        };
        let admin = call.log_in(&args.admin_email, &args.admin_password).await?;
        let (restaurant, dish) = call.restaurant(&admin).await?;
        seed_couriers(&args.delivery_database_url, args.couriers).await?;
        eprintln!(
            "bench-saga: {} couriers seeded; registering {} customers",
            args.couriers, args.customers
        );
        let run = Uuid::now_v7().simple().to_string();
        let mut customers = Vec::new();
        for n in 0..args.customers {
            let email = format!("bench-{run}-{n}@bench.local");
            call.post(
                "/auth/register",
                None,
                &json!({"email": email, "password": PASSWORD, "display_name": "Bench"}),
                201,
            )
            .await?;
            customers.push(call.log_in(&email, PASSWORD).await?);
        }
        Ok(Self {
            client,
            gateway,
            restaurant,
            dish,
            customers,
        })
    }

    /// Places the `n`th order (customers taken in turn); its id.
    pub async fn place(&self, n: usize) -> Result<String, String> {
        let call = Call {
            client: &self.client,
            gateway: &self.gateway,
        };
        let body = json!({
            "restaurant_id": self.restaurant,
            "items": [{"menu_item_id": self.dish, "quantity": 2}],
            "delivery_address": {"street": "2 Rue Y", "city": "Lyon", "postal_code": "69002", "country": "FR"},
            "payment_method": "pm_card_ok",
        });
        let token = &self.customers[n % self.customers.len()];
        let order = call.post("/orders", Some(token), &body, 201).await?;
        order["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("an order without an id: {order}"))
    }
}

/// Couriers written straight into delivery-service's database, as a load test seeds its
/// data: registering thousands through the API would take longer than the run.
async fn seed_couriers(url: &str, count: usize) -> Result<(), String> {
    let mut connection = PgConnection::connect(url)
        .await
        .map_err(|err| format!("delivery's database: {err}"))?;
    sqlx::query(
        "INSERT INTO couriers (user_id, name, vehicle, available, busy, lat, lon, located_at)
         SELECT gen_random_uuid(), 'Bench rider', 'bicycle', true, false,
                45.76 + random() / 100, 4.83 + random() / 100, now()
         FROM generate_series(1, $1)",
    )
    .bind(i64::try_from(count).unwrap_or(i64::MAX))
    .execute(&mut connection)
    .await
    .map(drop)
    .map_err(|err| format!("seeding couriers: {err}"))
}

struct Call<'a> {
    client: &'a reqwest::Client,
    gateway: &'a str,
}

impl Call<'_> {
    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
        expect: u16,
    ) -> Result<Value, String> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.gateway))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.answer(path, request, expect).await
    }

    async fn put(&self, path: &str, token: &str, body: &Value) -> Result<Value, String> {
        let request = self
            .client
            .put(format!("{}{path}", self.gateway))
            .bearer_auth(token)
            .json(body);
        self.answer(path, request, 200).await
    }

    async fn answer(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
        expect: u16,
    ) -> Result<Value, String> {
        let response = request
            .send()
            .await
            .map_err(|err| format!("{path}: {err}"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == expect {
            Ok(body)
        } else {
            Err(format!("{path} answered {status}: {body}"))
        }
    }

    async fn log_in(&self, email: &str, password: &str) -> Result<String, String> {
        let tokens = self
            .post(
                "/auth/login",
                None,
                &json!({"email": email, "password": password}),
                200,
            )
            .await?;
        tokens["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no access token".to_owned())
    }

    async fn restaurant(&self, admin: &str) -> Result<(String, String), String> {
        let body =
            shared::testing::restaurant(&format!("Bench {}", Uuid::now_v7().simple()), "french");
        let restaurant = self.post("/restaurants", Some(admin), &body, 201).await?;
        let id = restaurant["id"].as_str().unwrap_or_default().to_owned();
        let menu = json!({"categories": [{"name": "Mains", "items": [
            {"name": "Quiche", "price": {"amount": 1250, "currency": "EUR"}, "available": true},
        ]}]});
        let menu = self
            .put(&format!("/restaurants/{id}/menu"), admin, &menu)
            .await?;
        let dish = menu["categories"][0]["items"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok((id, dish))
    }
}
