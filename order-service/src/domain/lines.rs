//! An order's lines and their prices, as the restaurant priced them when the order was placed.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount in minor units with its currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}

/// One line of an order, priced by the restaurant when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub menu_item_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
}
