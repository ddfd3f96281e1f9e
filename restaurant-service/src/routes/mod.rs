//! restaurant-service's HTTP API.

mod menu;
mod restaurants;
mod views;

use axum::{
    Router,
    routing::{get, patch},
};
use shared::auth::{AuthUser, Permission};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::{error::RestaurantError, state::AppState};

/// How public reads are cached, by the gateway and browsers alike: five minutes, and for ten
/// more while this service fails (the gateway's fallback when its breaker is open).
pub const PUBLIC_CACHE: &str = "public, max-age=300, stale-if-error=600";

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/restaurants",
            get(restaurants::list_restaurants).post(restaurants::create_restaurant),
        )
        .route(
            "/restaurants/{id}",
            get(restaurants::get_restaurant).put(restaurants::update_restaurant),
        )
        .route(
            "/restaurants/{id}/menu",
            get(menu::get_menu).put(menu::replace_menu),
        )
        .route(
            "/restaurants/{id}/menu/items/{item_id}",
            patch(menu::set_item_availability),
        )
        .with_state(state)
}

/// Whether `caller` may change a restaurant owned by `owner_id`: its owner with
/// `restaurants:write:own`, or anyone with `restaurants:write:any`.
pub fn may_change(caller: &AuthUser, owner_id: &str) -> Result<(), RestaurantError> {
    if caller.0.has(Permission::RESTAURANTS_WRITE_ANY) {
        return Ok(());
    }
    caller.require(Permission::RESTAURANTS_WRITE_OWN)?;
    if caller.0.sub.to_string() == owner_id {
        Ok(())
    } else {
        Err(RestaurantError::Forbidden)
    }
}

/// The API's OpenAPI paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(
        restaurants::list_restaurants,
        restaurants::create_restaurant,
        restaurants::get_restaurant,
        restaurants::update_restaurant,
        menu::get_menu,
        menu::replace_menu,
        menu::set_item_availability,
    ),
    components(schemas(
        crate::domain::restaurant::RestaurantInput,
        crate::domain::restaurant::Address,
        crate::domain::restaurant::Location,
        crate::domain::hours::OpeningHoursDto,
        crate::domain::menu::MenuInput,
        crate::domain::menu::MenuCategoryInput,
        crate::domain::menu::MenuItemInput,
        crate::domain::menu::MenuCategory,
        crate::domain::menu::MenuItem,
        crate::domain::menu::Money,
        views::RestaurantView,
        views::RestaurantPage,
        views::MenuView,
        menu::Availability,
    )),
    modifiers(&BearerAuth),
    tags((name = "restaurants", description = "Restaurants and their menus"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
