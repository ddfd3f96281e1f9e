use serde::{Deserialize, Serialize};
use shared::FieldError;
use utoipa::ToSchema;

/// One line of an order as sent: what, and how many. Prices come from the restaurant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub menu_item_id: String,
    /// 1 to 99.
    pub quantity: i64,
}

/// Where to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAddress {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    #[schema(example = "FR")]
    pub country: String,
    /// Its position, for the courier; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A point on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// -90 to 90.
    pub lat: f64,
    /// -180 to 180.
    pub lon: f64,
}

/// The body of `POST /orders`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    pub restaurant_id: String,
    pub items: Vec<ItemInput>,
    pub delivery_address: DeliveryAddress,
    /// A payment-method token (see payment-service).
    #[schema(example = "pm_card_ok")]
    pub payment_method: String,
}

impl CreateOrder {
    /// Checks the fields that need no restaurant to check, naming every invalid one.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.restaurant_id.trim().is_empty() {
            errors.push(FieldError::new("restaurant_id", "must not be empty"));
        }
        if self.items.is_empty() || self.items.len() > 50 {
            errors.push(FieldError::new("items", "must have 1 to 50 lines"));
        }
        for (index, item) in self.items.iter().enumerate() {
            if !(1..=99).contains(&item.quantity) {
                errors.push(FieldError::new(
                    format!("items[{index}].quantity"),
                    "must be 1 to 99",
                ));
            }
        }
        let address = &self.delivery_address;
        for (field, value, max) in [
            ("delivery_address.street", &address.street, 200),
            ("delivery_address.city", &address.city, 100),
            ("delivery_address.postal_code", &address.postal_code, 20),
        ] {
            if value.trim().is_empty() || value.chars().count() > max {
                errors.push(FieldError::new(
                    field,
                    format!("must have 1 to {max} characters"),
                ));
            }
        }
        if address.country.trim().len() != 2
            || !address
                .country
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphabetic())
        {
            errors.push(FieldError::new(
                "delivery_address.country",
                "must be a two-letter country code",
            ));
        }
        if let Some(Location { lat, lon }) = address.location {
            if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                errors.push(FieldError::new(
                    "delivery_address.location.lat",
                    "must be between -90 and 90",
                ));
            }
            if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                errors.push(FieldError::new(
                    "delivery_address.location.lon",
                    "must be between -180 and 180",
                ));
            }
        }
        if self.payment_method.trim().is_empty() || self.payment_method.len() > 100 {
            errors.push(FieldError::new(
                "payment_method",
                "must have 1 to 100 characters",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
