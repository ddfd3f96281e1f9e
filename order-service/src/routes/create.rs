use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use sha2::{Digest, Sha256};
use shared::{
    FieldError, JsonBody, Problem,
    auth::{AuthUser, Permission},
};
use sqlx::types::Json as SqlJson;

use super::views::OrderView;
use crate::domain::lines::{Money, OrderLine};
use crate::{
    catalog::{CatalogError, RestaurantMenu},
    domain::{input::CreateOrder, status::Status},
    error::OrderError,
    saga, shards,
    state::AppState,
    store::{self, OrderRow},
};

/// Places an order: `PENDING` while its saga authorizes the payment, ships and captures (see
/// `GET /orders/{id}/saga`). Prices come from the restaurant's menu, not from the client.
/// With an `Idempotency-Key`, the same key and body return the same order, never a second
/// one.
#[utoipa::path(post, path = "/orders", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = CreateOrder,
    responses(
        (status = 201, description = "Placed", body = OrderView),
        (status = 200, description = "Placed before with this key", body = OrderView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed to order", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, an item unknown or unavailable, or the key reused", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The customer's shard or restaurant-service is down", body = Problem, content_type = "application/problem+json")))]
pub async fn create_order(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    JsonBody(order): JsonBody<CreateOrder>,
) -> Result<impl IntoResponse, OrderError> {
    caller.require(Permission::ORDERS_CREATE)?;
    order.check().map_err(OrderError::Validation)?;
    let key = idempotency_key(&headers)?;
    let customer = caller.0.sub;
    let shard = state.shards.for_customer(customer);
    let db = shard.database.pool();
    let on_shard = OrderError::on_shard(&shard.name);
    let request_hash = Sha256::digest(serde_json::to_vec(&order).unwrap_or_default()).to_vec();
    if let Some(key) = &key
        && let Some(existing) = store::find_by_key(db, customer, key)
            .await
            .map_err(&on_shard)?
    {
        return replay(&existing, &request_hash);
    }
    let menu = state
        .catalog
        .menu(&order.restaurant_id)
        .await
        .map_err(|err| match err {
            CatalogError::NotFound => OrderError::Validation(vec![FieldError::new(
                "restaurant_id",
                "is not a restaurant",
            )]),
            CatalogError::Unavailable(why) => OrderError::RestaurantsUnavailable(why),
        })?;
    let (lines, total) = price(&order, &menu)?;
    let row = OrderRow {
        id: shards::order_id(shard),
        customer_id: customer,
        restaurant_id: order.restaurant_id.clone(),
        restaurant_owner_id: menu.owner_id,
        courier_id: None,
        status: Status::Pending.as_str().to_owned(),
        items: SqlJson(lines),
        total_amount: total.amount,
        currency: total.currency,
        delivery_address: SqlJson(order.delivery_address.clone()),
        payment_method: order.payment_method.trim().to_owned(),
        pickup_lat: Some(menu.location.lat),
        pickup_lon: Some(menu.location.lon),
        request_hash: Some(request_hash.clone()),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    // The order, its saga and the saga's first command: all or nothing.
    let mut tx = db.begin().await.map_err(&on_shard)?;
    match store::insert(&mut tx, &row, key.as_deref()).await {
        Ok(()) => {}
        // Two requests with one key raced: the other one placed the order.
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
            drop(tx);
            let key = key.unwrap_or_default();
            let existing = store::find_by_key(db, customer, &key)
                .await
                .map_err(&on_shard)?
                .ok_or(OrderError::NotFound)?;
            return replay(&existing, &request_hash);
        }
        Err(err) => return Err(on_shard(err)),
    }
    saga::orchestrator::begin(&mut tx, &row, &state.saga)
        .await
        .map_err(&on_shard)?;
    tx.commit().await.map_err(&on_shard)?;
    shard.outbox.committed();
    metrics::counter!("sagas_started_total").increment(1);
    let stored = store::find(db, row.id)
        .await
        .map_err(&on_shard)?
        .ok_or(OrderError::NotFound)?;
    let location = format!("/orders/{}", stored.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(OrderView::from(&stored)),
    )
        .into_response())
}

fn replay(
    existing: &OrderRow,
    request_hash: &[u8],
) -> Result<axum::response::Response, OrderError> {
    if existing.request_hash.as_deref() != Some(request_hash) {
        return Err(OrderError::KeyReused);
    }
    Ok((StatusCode::OK, Json(OrderView::from(existing))).into_response())
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, OrderError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return Err(OrderError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "must have 1 to 255 visible characters",
        )]));
    }
    Ok(Some(key.to_owned()))
}

/// Prices every line from the menu; every unknown or unavailable item is named.
fn price(
    order: &CreateOrder,
    menu: &RestaurantMenu,
) -> Result<(Vec<OrderLine>, Money), OrderError> {
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    let mut currency: Option<String> = None;
    let mut total: i64 = 0;
    for (index, item) in order.items.iter().enumerate() {
        let field = format!("items[{index}].menu_item_id");
        let Some(priced) = menu.items.get(&item.menu_item_id) else {
            errors.push(FieldError::new(field, "is not on this restaurant's menu"));
            continue;
        };
        if !priced.available {
            errors.push(FieldError::new(field, "is not available now"));
            continue;
        }
        if currency.get_or_insert_with(|| priced.currency.clone()) != &priced.currency {
            errors.push(FieldError::new(field, "is priced in another currency"));
            continue;
        }
        let Some(line_total) = priced.amount.checked_mul(item.quantity) else {
            errors.push(FieldError::new(
                format!("items[{index}].quantity"),
                "makes the total too large",
            ));
            continue;
        };
        total = total.saturating_add(line_total);
        lines.push(OrderLine {
            menu_item_id: item.menu_item_id.clone(),
            name: priced.name.clone(),
            quantity: item.quantity,
            unit_price: Money {
                amount: priced.amount,
                currency: priced.currency.clone(),
            },
            line_total: Money {
                amount: line_total,
                currency: priced.currency.clone(),
            },
        });
    }
    match (errors.is_empty(), currency) {
        (true, Some(currency)) => Ok((
            lines,
            Money {
                amount: total,
                currency,
            },
        )),
        _ => Err(OrderError::Validation(errors)),
    }
}
