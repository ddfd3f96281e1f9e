//! Prices come from restaurant-service, never from the client: read through a time-out,
//! retries for what may pass, and a circuit breaker so a failing restaurant-service is not
//! hammered.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use shared::{
    resilience::{Breaker, BreakerConfig, RetryPolicy},
    upstream::HttpClient,
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
    client: HttpClient,
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
    pub fn new(base_url: &str, client: HttpClient, timeout: Duration) -> Self {
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
        let id = urlencode(restaurant);
        let (restaurant_path, menu_path) = (
            format!("/restaurants/{id}"),
            format!("/restaurants/{id}/menu"),
        );
        // Both calls finish (join, not try_join), so the breaker hears of each.
        let (owner, menu) = tokio::join!(
            self.get::<RestaurantDto>(&restaurant_path),
            self.get::<MenuDto>(&menu_path)
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

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, CatalogError> {
        let permit = self.breaker.try_acquire().map_err(|open| {
            CatalogError::Unavailable(format!(
                "circuit open, retry in {} s",
                open.retry_after.as_secs()
            ))
        })?;
        let outcome = self
            .retry
            .run(
                || self.fetch(path),
                |failure| matches!(failure, Failure::Retryable(_)),
            )
            .await;
        permit.record(!matches!(outcome, Err(Failure::Retryable(_))));
        outcome.map_err(|failure| match failure {
            Failure::NotFound => CatalogError::NotFound,
            Failure::Retryable(why) | Failure::Permanent(why) => CatalogError::Unavailable(why),
        })
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let request = Request::get(format!("{}{path}", self.base_url))
            .body(Body::empty())
            .map_err(|err| Failure::Permanent(err.to_string()))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| Failure::Retryable("timed out".into()))?
            .map_err(|err| Failure::Retryable(err.to_string()))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(Failure::NotFound),
            status if status.is_server_error() => {
                return Err(Failure::Retryable(format!("answered {status}")));
            }
            status => return Err(Failure::Permanent(format!("answered {status}"))),
        }
        let body = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .map_err(|_| Failure::Retryable("timed out reading the body".into()))?
            .map_err(|err| Failure::Retryable(err.to_string()))?
            .to_bytes();
        serde_json::from_slice(&body)
            .map_err(|err| Failure::Permanent(format!("unexpected body: {err}")))
    }
}

fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
