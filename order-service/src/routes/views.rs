use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::{
        input::DeliveryAddress,
        lines::{Money, OrderLine},
    },
    store::OrderRow,
};

/// An order as those allowed to see it see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub restaurant_id: String,
    /// `PENDING`, `CONFIRMED`, `ACCEPTED`, `PREPARING`, `READY`, `PICKED_UP`, `DELIVERED`, `CANCELLED`, `REJECTED`.
    pub status: String,
    pub items: Vec<OrderLine>,
    pub total: Money,
    pub delivery_address: DeliveryAddress,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub courier_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Uuid>,
}

impl From<&OrderRow> for OrderView {
    fn from(row: &OrderRow) -> Self {
        Self {
            id: row.id,
            customer_id: row.customer_id,
            restaurant_id: row.restaurant_id.clone(),
            status: row.status.clone(),
            items: row.items.0.clone(),
            total: Money {
                amount: row.total_amount,
                currency: row.currency.clone(),
            },
            delivery_address: row.delivery_address.0.clone(),
            courier_id: row.courier_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
