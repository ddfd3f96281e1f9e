//! `GET /api/orders/{id}/details`: the order with its restaurant, payment, delivery and
//! latest tracking, fetched in parallel (the parts that need the order's or the delivery's
//! ids as soon as those arrive), each part with its own timeout and through its backend's
//! breaker. A part that fails is named in the body; only a missing order fails the whole.

use axum::{
    Json, Router,
    extract::{Path, State},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header, uri::PathAndQuery};
use http_body_util::{BodyExt, Limited};
use serde::Serialize;
use serde_json::Value;
use shared::{Problem, http::REQUEST_ID};
use utoipa::ToSchema;

use crate::state::GatewayState;
use gateway_upstream::{Added, Outbound, OutboundBody};

/// Largest part body read.
const PART_LIMIT: usize = 1024 * 1024;

/// The order and everything around it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetails {
    #[schema(value_type = Object)]
    pub order: Value,
    /// `id`, `name`, `cuisine` and `address` of the restaurant.
    #[schema(value_type = Option<Object>)]
    pub restaurant: Option<Value>,
    /// `null` until the order has a payment.
    #[schema(value_type = Option<Object>)]
    pub payment: Option<Value>,
    /// `null` until the order has a shipment.
    #[schema(value_type = Option<Object>)]
    pub delivery: Option<Value>,
    /// The delivery's current status and position, `null` before there is one.
    #[schema(value_type = Option<Object>)]
    pub tracking: Option<Value>,
    /// Whether some part could not be fetched.
    pub partial: bool,
    /// The parts that could not be fetched, and why.
    pub failed: Vec<FailedPart>,
}

/// A part that could not be fetched.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailedPart {
    /// `restaurant`, `payment`, `delivery` or `tracking`.
    pub part: &'static str,
    pub service: &'static str,
    /// What went wrong (`timeout`, `circuit open`, `unreachable`, `status 500`, ...).
    pub reason: String,
}

/// What fetching one part gave.
#[derive(Debug)]
pub(crate) enum Part {
    Found(Value),
    Absent,
    Failed(FailedPart),
}

/// The order with its restaurant summary, payment, delivery and latest tracking.
#[utoipa::path(get, path = "/api/orders/{id}/details", tag = "aggregation",
    params(("id" = String, Path, description = "The order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order and its parts; `partial` when some failed", body = OrderDetails),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "order-service failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "order-service's breaker is open", body = Problem, content_type = "application/problem+json")))]
pub async fn get_order_details(
    State(state): State<GatewayState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let id = urlencoding(&id);
    let forwarded = forwarded_headers(&headers);
    let fetch =
        |part, service, target: String| fetch_part(&state, part, service, target, &forwarded);
    let (order, payment, delivery) = tokio::join!(
        fetch("order", "order-service", format!("/orders/{id}")),
        fetch("payment", "payment-service", format!("/payments/{id}")),
        fetch("delivery", "delivery-service", format!("/delivery/{id}")),
    );
    let order = match order {
        Part::Found(order) => order,
        Part::Absent => {
            return Problem::not_found(format!("No order {id} is visible to you.")).into_response();
        }
        Part::Failed(failed) => {
            return Problem::new(StatusCode::BAD_GATEWAY, "upstream-failed", "Bad gateway")
                .with_detail(format!(
                    "The order could not be fetched: {}.",
                    failed.reason
                ))
                .with_extension("service", failed.service)
                .into_response();
        }
    };
    let restaurant_id = order["restaurant_id"].as_str().map(urlencoding);
    let delivery_id = match &delivery {
        Part::Found(delivery) => delivery["id"].as_str().map(urlencoding),
        _ => None,
    };
    let (restaurant, tracking) = tokio::join!(
        async {
            match &restaurant_id {
                Some(rid) => {
                    fetch(
                        "restaurant",
                        "restaurant-service",
                        format!("/restaurants/{rid}"),
                    )
                    .await
                }
                None => Part::Absent,
            }
        },
        async {
            match &delivery_id {
                Some(did) => {
                    fetch("tracking", "tracking-service", format!("/tracking/{did}")).await
                }
                None => Part::Absent,
            }
        },
    );
    let mut failed = Vec::new();
    let mut take = |part: Part| match part {
        Part::Found(value) => Some(value),
        Part::Absent => None,
        Part::Failed(part) => {
            failed.push(part);
            None
        }
    };
    let restaurant = take(restaurant).map(|r| {
        serde_json::json!({
            "id": r["id"], "name": r["name"], "cuisine": r["cuisine"], "address": r["address"],
        })
    });
    let (payment, delivery, tracking) = (take(payment), take(delivery), take(tracking));
    if !failed.is_empty() {
        metrics::counter!("gateway_partial_aggregations_total").increment(1);
    }
    // A customer's payment and whereabouts: kept by no cache on the way (ASVS 8.2.1).
    let no_store = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    let details = OrderDetails {
        order,
        restaurant,
        payment,
        delivery,
        tracking,
        partial: !failed.is_empty(),
        failed,
    };
    (no_store, Json(details)).into_response()
}

/// The caller's identity, request id and trace context, for each part.
fn forwarded_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in [header::AUTHORIZATION, REQUEST_ID, header::ACCEPT_LANGUAGE] {
        if let Some(value) = incoming.get(&name) {
            headers.insert(name, value.clone());
        }
    }
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    shared::http::inject_trace_context(&mut headers);
    headers
}

/// One backend's JSON at `target`, fetched with `headers` through its breaker and retries,
/// within the part time-out.
pub(crate) async fn fetch_part(
    state: &GatewayState,
    part: &'static str,
    service: &'static str,
    target: String,
    headers: &HeaderMap,
) -> Part {
    let failed = |reason: String| {
        Part::Failed(FailedPart {
            part,
            service,
            reason,
        })
    };
    let Some(backend) = state.backend(service) else {
        return failed("no such backend".into());
    };
    let Ok(target) = PathAndQuery::try_from(target) else {
        return failed("the part's address is not a valid path".into());
    };
    let outbound = Outbound {
        method: Method::GET,
        target,
        headers: headers.clone(),
        added: Added::new(),
        body: OutboundBody::Replayable(Bytes::new()),
        only: None,
    };
    let call = async {
        let response = state
            .call_policy
            .send(backend, outbound)
            .await
            .map_err(|failure| failure.to_string())?;
        let status = response.status();
        let body = Limited::new(response.into_body(), PART_LIMIT)
            .collect()
            .await
            .map_err(|_| "the body could not be read".to_owned())?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(state.part_timeout, call).await {
        Err(_) => failed(format!(
            "timeout after {}",
            humantime::format_duration(state.part_timeout)
        )),
        Ok(Err(reason)) => failed(reason),
        Ok(Ok((StatusCode::NOT_FOUND, _))) => Part::Absent,
        Ok(Ok((status, body))) if status.is_success() => match serde_json::from_slice(&body) {
            Ok(value) => Part::Found(value),
            Err(_) => failed("the body is not JSON".into()),
        },
        // An id the order service cannot read, or an order the caller may not see, is as
        // good as missing: the answer does not tell which.
        Ok(Ok((
            StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY,
            _,
        ))) if part == "order" => Part::Absent,
        Ok(Ok((status, _))) => failed(format!("status {}", status.as_u16())),
    }
}

/// `text` made safe as one path segment: every byte but letters and digits escaped (form
/// encoding would write a space as `+`, which a path keeps as a plus).
fn urlencoding(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The aggregation's route.
pub fn router() -> Router<GatewayState> {
    Router::new().route("/api/orders/{id}/details", get(get_order_details))
}

#[cfg(test)]
mod tests {
    use super::urlencoding;

    #[test]
    fn an_id_is_escaped_as_one_path_segment() {
        assert_eq!(urlencoding("a b/c+d"), "a%20b%2Fc%2Bd");
        assert_eq!(urlencoding("0190d4f8"), "0190d4f8");
    }
}
