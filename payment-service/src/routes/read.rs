use axum::{
    Json,
    extract::{Path, State},
};
use shared::{
    Problem,
    auth::{AuthUser, Permission},
};
use uuid::Uuid;

use super::views::{PaymentDetails, PaymentView};
use crate::{error::PaymentError, state::AppState, store};

/// An order's payment and its ledger: for its customer (`payments:read:own`) or
/// `payments:read:any`; anyone else gets 404.
#[utoipa::path(get, path = "/payments/{order_id}", tag = "payments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The payment", body = PaymentDetails),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No payment of this order that the caller may see", body = Problem, content_type = "application/problem+json")))]
pub async fn get_payment(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order): Path<Uuid>,
) -> Result<Json<PaymentDetails>, PaymentError> {
    let payment = store::find_by_order(&state.db, order)
        .await?
        .ok_or(PaymentError::NotFound)?;
    let visible = caller.0.has(Permission::PAYMENTS_READ_ANY)
        || (caller.0.has(Permission::PAYMENTS_READ_OWN) && payment.customer_id == caller.0.sub);
    if !visible {
        return Err(PaymentError::NotFound);
    }
    let ledger = store::ledger_of(&state.db, payment.id).await?;
    Ok(Json(PaymentDetails {
        payment: PaymentView::from(&payment),
        ledger,
    }))
}
