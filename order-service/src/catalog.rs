//! Prices come from restaurant-service, never from the client: read through a time-out,
//! retries for what may pass, and a circuit breaker so a failing restaurant-service is not
//! hammered.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use http::{HeaderMap, Method, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use shared::{
    http::inject_trace_context,
    metrics::{self, CallOutcome},
    resilience::{Breaker, BreakerConfig, RetryPolicy},
};

use crate::domain::input::Location;

/// A menu item's price and whether it can be ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedItem {
    pub name: String,
    pub amount: i64,
    pub currency: String,
    pub available: bool,
}

/// What an order needs to know of a restaurant.
#[derive(Debug, Clone)]
pub struct RestaurantMenu {
    pub owner_id: uuid::Uuid,
    /// Where its orders are picked up.
    pub location: Location,
    pub items: HashMap<String, PricedItem>,
}

/// Why the menu could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no such restaurant")]
    NotFound,
    #[error("restaurant-service is unavailable: {0}")]
    Unavailable(String),
}

/// restaurant-service, as order-service calls it.
#[derive(Debug, Clone)]
pub struct Catalog {
    base_url: String,
    client: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    breaker: Arc<Breaker>,
}

#[derive(Debug, Deserialize)]
struct RestaurantDto {
    owner_id: uuid::Uuid,
    location: Location,
}

#[derive(Debug, Deserialize)]
struct MenuDto {
    categories: Vec<CategoryDto>,
}

#[derive(Debug, Deserialize)]
struct CategoryDto {
    items: Vec<ItemDto>,
}

#[derive(Debug, Deserialize)]
struct ItemDto {
    id: String,
    name: String,
    price: PriceDto,
    available: bool,
}

#[derive(Debug, Deserialize)]
struct PriceDto {
    amount: i64,
    currency: String,
}

enum Failure {
    NotFound,
    Retryable(String),
    Permanent(String),
}

impl Catalog {
    /// restaurant-service at `base_url`.
    pub fn new(base_url: &str, client: reqwest::Client, timeout: Duration) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client,
            timeout,
            retry: RetryPolicy::default(),
            breaker: Arc::new(Breaker::new("restaurant-service", BreakerConfig::default())),
        }
    }

    /// The restaurant's owner and menu.
    pub async fn menu(&self, restaurant: &str) -> Result<RestaurantMenu, CatalogError> {
        let id = utf8_percent_encode(restaurant, NON_ALPHANUMERIC);
        let (restaurant_path, menu_path) = (
            format!("/restaurants/{id}"),
            format!("/restaurants/{id}/menu"),
        );
        // Both calls finish (join, not try_join), so the breaker hears of each.
        let (owner, menu) = tokio::join!(
            self.get::<RestaurantDto>(&restaurant_path, "/restaurants/{id}"),
            self.get::<MenuDto>(&menu_path, "/restaurants/{id}/menu")
        );
        let (owner, menu) = (owner?, menu?);
        let items = menu
            .categories
            .into_iter()
            .flat_map(|category| category.items)
            .map(|item| {
                let priced = PricedItem {
                    name: item.name,
                    amount: item.price.amount,
                    currency: item.price.currency,
                    available: item.available,
                };
                (item.id, priced)
            })
            .collect();
        Ok(RestaurantMenu {
            owner_id: owner.owner_id,
            location: owner.location,
            items,
        })
    }

    #[tracing::instrument(name = "restaurant-service", skip_all, fields(otel.kind = "client", http.method = "GET", url.path = path))]
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        route: &'static str,
    ) -> Result<T, CatalogError> {
        let permit = self.breaker.try_acquire().map_err(|open| {
            CatalogError::Unavailable(format!(
                "circuit open, retry in {} s",
                open.retry_after.as_secs()
            ))
        })?;
        let outcome = self
            .retry
            .run(
                || self.fetch(path, route),
                |failure| matches!(failure, Failure::Retryable(_)),
            )
            .await;
        permit.record(!matches!(outcome, Err(Failure::Retryable(_))));
        outcome.map_err(|failure| match failure {
            Failure::NotFound => CatalogError::NotFound,
            Failure::Retryable(why) | Failure::Permanent(why) => CatalogError::Unavailable(why),
        })
    }

    /// One try at `path`, counted under its `route` template.
    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        route: &'static str,
    ) -> Result<T, Failure> {
        // restaurant-service's spans join the order's trace.
        let mut headers = HeaderMap::new();
        inject_trace_context(&mut headers);
        let started = Instant::now();
        let sent = self
            .client
            .get(format!("{}{path}", self.base_url))
            .headers(headers)
            .timeout(self.timeout)
            .send()
            .await;
        metrics::record_call(
            "restaurant-service",
            &Method::GET,
            route,
            CallOutcome::of(&sent),
            started.elapsed(),
        );
        let response = sent.map_err(|err| Failure::Retryable(describe(&err)))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(Failure::NotFound),
            status if status.is_server_error() => {
                return Err(Failure::Retryable(format!("answered {status}")));
            }
            status => return Err(Failure::Permanent(format!("answered {status}"))),
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| Failure::Retryable(describe(&err)))?;
        serde_json::from_slice(&body)
            .map_err(|err| Failure::Permanent(format!("unexpected body: {err}")))
    }
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_owned()
    } else {
        err.to_string()
    }
}
