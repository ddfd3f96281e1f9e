use axum::{
    Json,
    extract::{Path, State},
    http::header,
    response::IntoResponse,
};
use mongodb::bson::{self, doc};
use serde::Deserialize;
use shared::{JsonBody, Problem, auth::AuthUser};
use utoipa::ToSchema;

use super::{PUBLIC_CACHE, may_change, views::MenuView};
use crate::{
    domain::menu::{MenuInput, parse_menu},
    error::RestaurantError,
    state::AppState,
    store::StoreError,
};

/// A menu item's availability.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    pub available: bool,
}

/// A restaurant's menu: categories of items with prices in minor units.
#[utoipa::path(get, path = "/restaurants/{id}/menu", tag = "restaurants",
    params(("id" = String, Path, description = "Restaurant id")),
    responses(
        (status = 200, description = "The menu", body = MenuView),
        (status = 404, description = "No such restaurant", body = Problem, content_type = "application/problem+json")))]
pub async fn get_menu(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, RestaurantError> {
    let restaurant = state
        .restaurants
        .find(&id)
        .await?
        .ok_or(RestaurantError::NotFound("restaurant"))?;
    Ok((
        [(header::CACHE_CONTROL, PUBLIC_CACHE)],
        Json(MenuView::from(&restaurant)),
    ))
}

/// Replaces the whole menu (its owner, or an administrator). Items sent with their id keep it.
#[utoipa::path(put, path = "/restaurants/{id}/menu", tag = "restaurants", security(("bearer" = [])),
    params(("id" = String, Path, description = "Restaurant id")), request_body = MenuInput,
    responses(
        (status = 200, description = "The new menu", body = MenuView),
        (status = 403, description = "Not its owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such restaurant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn replace_menu(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<MenuInput>,
) -> Result<Json<MenuView>, RestaurantError> {
    let existing = state
        .restaurants
        .find(&id)
        .await?
        .ok_or(RestaurantError::NotFound("restaurant"))?;
    may_change(&caller, &existing.owner_id)?;
    let menu = parse_menu(&input).map_err(RestaurantError::Validation)?;
    let menu = bson::to_bson(&menu).map_err(|err| StoreError::Mongo(err.into()))?;
    let updated = state
        .restaurants
        .update(
            &id,
            doc! { "menu": menu, "updated_at": bson::DateTime::now() },
        )
        .await?
        .ok_or(RestaurantError::NotFound("restaurant"))?;
    Ok(Json(MenuView::from(&updated)))
}

/// Marks one item available or not (its owner, or an administrator).
#[utoipa::path(patch, path = "/restaurants/{id}/menu/items/{item_id}", tag = "restaurants", security(("bearer" = [])),
    params(("id" = String, Path, description = "Restaurant id"), ("item_id" = String, Path, description = "Menu item id")),
    request_body = Availability,
    responses(
        (status = 200, description = "The menu", body = MenuView),
        (status = 403, description = "Not its owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such restaurant or item", body = Problem, content_type = "application/problem+json")))]
pub async fn set_item_availability(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, item_id)): Path<(String, String)>,
    JsonBody(change): JsonBody<Availability>,
) -> Result<Json<MenuView>, RestaurantError> {
    let mut restaurant = state
        .restaurants
        .find(&id)
        .await?
        .ok_or(RestaurantError::NotFound("restaurant"))?;
    may_change(&caller, &restaurant.owner_id)?;
    let item = restaurant
        .menu
        .iter_mut()
        .flat_map(|category| category.items.iter_mut())
        .find(|item| item.id == item_id)
        .ok_or(RestaurantError::NotFound("menu item"))?;
    item.available = change.available;
    let menu = bson::to_bson(&restaurant.menu).map_err(|err| StoreError::Mongo(err.into()))?;
    let updated = state
        .restaurants
        .update_if_unchanged(
            &id,
            restaurant.updated_at,
            doc! { "menu": menu, "updated_at": bson::DateTime::now() },
        )
        .await?
        .ok_or(RestaurantError::Changed)?;
    Ok(Json(MenuView::from(&updated)))
}
