use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    status::PaymentStatus,
    store::{LedgerEntry, PaymentRow},
};

/// A payment as its customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub status: PaymentStatus,
    pub currency: String,
    /// Minor units.
    pub authorized_amount: i64,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub payment_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&PaymentRow> for PaymentView {
    fn from(row: &PaymentRow) -> Self {
        Self {
            id: row.id,
            order_id: row.order_id,
            customer_id: row.customer_id,
            status: row.status,
            currency: row.currency.clone(),
            authorized_amount: row.authorized_amount,
            captured_amount: row.captured_amount,
            refunded_amount: row.refunded_amount,
            payment_method: row.payment_method.clone(),
            decline_reason: row.decline_reason.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A payment with its ledger lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDetails {
    #[serde(flatten)]
    pub payment: PaymentView,
    pub ledger: Vec<LedgerEntry>,
}
