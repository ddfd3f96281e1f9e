//! Authorize, capture, void and refund: each in one transaction, each idempotent by key.

use axum::{
    Json,
    extract::{FromRequestParts, Path, State},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::{
    FieldError, JsonBody, Problem,
    auth::{AuthUser, Permission},
};
use utoipa::ToSchema;
use uuid::Uuid;

use super::views::PaymentView;
use crate::{
    domain::{Authorization, AuthorizeRequest, check_amount},
    error::PaymentError,
    ledger,
    state::AppState,
    store::{self, StoredResponse, Tx},
};

/// The `Idempotency-Key` header, required on every operation.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = PaymentError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get("idempotency-key")
            .ok_or(PaymentError::IdempotencyKey(
                "The Idempotency-Key header is required.",
            ))?
            .to_str()
            .map_err(|_| {
                PaymentError::IdempotencyKey("The Idempotency-Key must be visible ASCII.")
            })?
            .trim();
        if value.is_empty() || value.len() > 255 {
            return Err(PaymentError::IdempotencyKey(
                "The Idempotency-Key must have 1 to 255 characters.",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

/// An amount to capture or refund.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// Minor units; capture defaults to the authorized amount.
    #[serde(default)]
    pub amount: Option<i64>,
}

enum Operation {
    Authorize {
        authorization: Authorization,
        customer: Uuid,
    },
    Capture {
        order: Uuid,
        amount: Option<i64>,
    },
    Void {
        order: Uuid,
    },
    Refund {
        order: Uuid,
        amount: i64,
    },
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Self::Authorize { .. } => "authorize",
            Self::Capture { .. } => "capture",
            Self::Void { .. } => "void",
            Self::Refund { .. } => "refund",
        }
    }
}

/// Authorizes a payment for an order, for support (`payments:manage`): customers' payments
/// are made by the order saga from the order's own total.
#[utoipa::path(post, path = "/payments/authorize", tag = "payments", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Retries with the same key and body get the same answer")),
    request_body = AuthorizeRequest,
    responses(
        (status = 201, description = "Authorized", body = PaymentView),
        (status = 400, description = "No Idempotency-Key, or one longer than 255 characters", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "Declined (`decline_code`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs payments:manage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order already has a payment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or the key was used for another request", body = Problem, content_type = "application/problem+json")))]
pub async fn authorize_payment(
    State(state): State<AppState>,
    caller: AuthUser,
    key: IdempotencyKey,
    JsonBody(request): JsonBody<AuthorizeRequest>,
) -> Result<Response, PaymentError> {
    caller.require(Permission::PAYMENTS_MANAGE)?;
    let customer = request.customer_id.unwrap_or(caller.0.sub);
    let authorization = Authorization::parse(&request).map_err(PaymentError::Validation)?;
    let fingerprint = format!("{customer}|{:?}", request);
    run(
        &state,
        &caller,
        key,
        Operation::Authorize {
            authorization,
            customer,
        },
        &fingerprint,
    )
    .await
}

/// Captures an authorized payment (needs `payments:manage`).
#[utoipa::path(post, path = "/payments/{order_id}/capture", tag = "payments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id"), ("Idempotency-Key" = String, Header, description = "Idempotency key")),
    request_body = AmountRequest,
    responses(
        (status = 200, description = "Captured", body = PaymentView),
        (status = 400, description = "No Idempotency-Key, or one longer than 255 characters", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "The capture failed", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs payments:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The order has no payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not authorized", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The amount is not positive, or the key was used for another request", body = Problem, content_type = "application/problem+json")))]
pub async fn capture_payment(
    State(state): State<AppState>,
    caller: AuthUser,
    key: IdempotencyKey,
    Path(order): Path<Uuid>,
    JsonBody(request): JsonBody<AmountRequest>,
) -> Result<Response, PaymentError> {
    caller.require(Permission::PAYMENTS_MANAGE)?;
    if let Some(amount) = request.amount {
        positive(amount)?;
    }
    run(
        &state,
        &caller,
        key,
        Operation::Capture {
            order,
            amount: request.amount,
        },
        &format!("{order}|{:?}", request.amount),
    )
    .await
}

/// Releases an authorization that will not be captured (needs `payments:manage`).
#[utoipa::path(post, path = "/payments/{order_id}/void", tag = "payments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id"), ("Idempotency-Key" = String, Header, description = "Idempotency key")),
    responses(
        (status = 200, description = "Voided", body = PaymentView),
        (status = 400, description = "No Idempotency-Key, or one longer than 255 characters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs payments:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The order has no payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to void", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used for another request", body = Problem, content_type = "application/problem+json")))]
pub async fn void_payment(
    State(state): State<AppState>,
    caller: AuthUser,
    key: IdempotencyKey,
    Path(order): Path<Uuid>,
) -> Result<Response, PaymentError> {
    caller.require(Permission::PAYMENTS_MANAGE)?;
    run(
        &state,
        &caller,
        key,
        Operation::Void { order },
        &order.to_string(),
    )
    .await
}

/// Refunds part or all of a captured payment (needs `payments:manage`); never more than was
/// captured.
#[utoipa::path(post, path = "/payments/{order_id}/refund", tag = "payments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id"), ("Idempotency-Key" = String, Header, description = "Idempotency key")),
    request_body = AmountRequest,
    responses(
        (status = 200, description = "Refunded", body = PaymentView),
        (status = 400, description = "No Idempotency-Key, or one longer than 255 characters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs payments:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The order has no payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not captured", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No amount, more than is refundable, or the key was used for another request", body = Problem, content_type = "application/problem+json")))]
pub async fn refund_payment(
    State(state): State<AppState>,
    caller: AuthUser,
    key: IdempotencyKey,
    Path(order): Path<Uuid>,
    JsonBody(request): JsonBody<AmountRequest>,
) -> Result<Response, PaymentError> {
    caller.require(Permission::PAYMENTS_MANAGE)?;
    let amount = request.amount.ok_or_else(|| {
        PaymentError::Validation(vec![FieldError::new("amount", "is required for a refund")])
    })?;
    positive(amount)?;
    run(
        &state,
        &caller,
        key,
        Operation::Refund { order, amount },
        &format!("{order}|{amount}"),
    )
    .await
}

fn positive(amount: i64) -> Result<(), PaymentError> {
    let mut errors = Vec::new();
    check_amount(&mut errors, "amount", amount);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PaymentError::Validation(errors))
    }
}

/// Runs `operation` once per caller and key: a retry with the same request gets the stored
/// answer.
async fn run(
    state: &AppState,
    caller: &AuthUser,
    key: IdempotencyKey,
    operation: Operation,
    fingerprint: &str,
) -> Result<Response, PaymentError> {
    let request_hash = Sha256::digest(format!("{}|{fingerprint}", operation.name())).to_vec();
    let mut tx = state.db.begin().await?;
    // Keys are the caller's own: one caller's key never answers another's request.
    let key = format!("{}:{}", caller.0.sub, key.0);
    if let Some(stored) = store::claim_key(&mut tx, &key).await? {
        if stored.operation != operation.name() || stored.request_hash != request_hash {
            return Err(PaymentError::KeyReused);
        }
        return Ok(respond(stored.status_code, stored.response));
    }
    let name = operation.name();
    let (status, body) = execute(&mut tx, operation).await?;
    let stored = StoredResponse {
        operation: name.to_owned(),
        request_hash,
        status_code: i16::try_from(status.as_u16()).unwrap_or(500),
        response: body,
    };
    store::remember(&mut tx, &key, &stored).await?;
    tx.commit().await?;
    state.outbox.committed();
    Ok(respond(stored.status_code, stored.response))
}

async fn execute(
    tx: &mut Tx<'_>,
    operation: Operation,
) -> Result<(StatusCode, serde_json::Value), PaymentError> {
    let (applied, done) = match operation {
        Operation::Authorize {
            authorization,
            customer,
        } => {
            let existing = store::lock_by_order(tx, authorization.order_id).await?;
            let applied = ledger::authorize(tx, existing.as_ref(), &authorization, customer);
            (applied.await?, StatusCode::CREATED)
        }
        Operation::Capture { order, amount } => {
            let payment = ledger::locked(tx, order).await?;
            (ledger::capture(tx, payment, amount).await?, StatusCode::OK)
        }
        Operation::Void { order } => {
            let payment = ledger::locked(tx, order).await?;
            (ledger::void(tx, payment).await?, StatusCode::OK)
        }
        Operation::Refund { order, amount } => {
            let payment = ledger::locked(tx, order).await?;
            (ledger::refund(tx, payment, amount).await?, StatusCode::OK)
        }
    };
    let view = PaymentView::from(&applied.payment);
    let answer = match applied.refusal {
        Some(code) => {
            let title = if code == "capture_failed" {
                "Capture failed"
            } else {
                "Payment declined"
            };
            let problem = declined(title, code)
                .with_extension("payment", serde_json::to_value(&view).unwrap_or_default());
            (StatusCode::PAYMENT_REQUIRED, serde_json::to_value(problem))
        }
        None => (done, serde_json::to_value(&view)),
    };
    Ok((answer.0, answer.1.unwrap_or_default()))
}

fn declined(title: &'static str, code: &str) -> Problem {
    Problem::new(StatusCode::PAYMENT_REQUIRED, "payment-declined", title)
        .with_detail(format!("The payment method was refused: {code}."))
        .with_extension("decline_code", code)
}

fn respond(status: i16, body: serde_json::Value) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, Json(body)).into_response();
    if status.is_client_error() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(shared::problem::PROBLEM_JSON),
        );
    }
    response
}
