use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{
        hours::{self, OpeningHoursDto},
        menu::MenuCategory,
        restaurant::{Address, Location},
    },
    store::RestaurantDoc,
};

/// A restaurant as anyone sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestaurantView {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub cuisine: String,
    pub address: Address,
    pub location: Location,
    pub opening_hours: Vec<OpeningHoursDto>,
    /// Whether it is open now (UTC).
    pub open_now: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&RestaurantDoc> for RestaurantView {
    fn from(doc: &RestaurantDoc) -> Self {
        let (day, minute) = hours::now();
        Self {
            id: doc.id.clone(),
            owner_id: doc.owner_id.clone(),
            name: doc.name.clone(),
            cuisine: doc.cuisine.clone(),
            address: doc.address.clone(),
            location: doc.location,
            opening_hours: doc
                .opening_hours
                .iter()
                .map(|period| period.to_dto())
                .collect(),
            open_now: doc
                .opening_hours
                .iter()
                .any(|period| period.contains(day, minute)),
            created_at: rfc3339(doc.created_at),
            updated_at: rfc3339(doc.updated_at),
        }
    }
}

/// One page of restaurants.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestaurantPage {
    pub items: Vec<RestaurantView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A restaurant's menu.
#[derive(Debug, Serialize, ToSchema)]
pub struct MenuView {
    pub restaurant_id: String,
    pub categories: Vec<MenuCategory>,
}

impl From<&RestaurantDoc> for MenuView {
    fn from(doc: &RestaurantDoc) -> Self {
        Self {
            restaurant_id: doc.id.clone(),
            categories: doc.menu.clone(),
        }
    }
}

fn rfc3339(time: mongodb::bson::DateTime) -> String {
    time.try_to_rfc3339_string().unwrap_or_default()
}
