// utoipa's expansion of `params(ListQuery)` qualifies a path this module imports.
#![allow(unused_qualifications)]

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mongodb::bson::{self, doc};
use serde::Deserialize;
use shared::{
    FieldError, JsonBody, Problem, QueryParams,
    auth::{AuthUser, Permission},
};
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    PUBLIC_CACHE, may_change,
    views::{RestaurantPage, RestaurantView},
};
use crate::{
    domain::{
        hours,
        restaurant::{RestaurantFields, RestaurantInput},
    },
    error::RestaurantError,
    state::AppState,
    store::{Listing, RestaurantDoc, StoreError},
};

const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// Filters and paging of `GET /restaurants`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Exactly this cuisine, any case.
    pub cuisine: Option<String>,
    /// Text found in the name or the cuisine, any case.
    pub q: Option<String>,
    /// Only those open now (UTC).
    pub open_now: Option<bool>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Restaurants by name, filtered and paginated (keyset: pages stay stable under inserts).
#[utoipa::path(get, path = "/restaurants", tag = "restaurants", params(ListQuery),
    responses(
        (status = 200, description = "One page", body = RestaurantPage),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is out of range", body = Problem, content_type = "application/problem+json")))]
pub async fn list_restaurants(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<impl IntoResponse, RestaurantError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(RestaurantError::Validation(vec![FieldError::new(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        )]));
    }
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let listing = Listing {
        cuisine: query.cuisine.filter(|cuisine| !cuisine.trim().is_empty()),
        search: query
            .q
            .filter(|q| !q.trim().is_empty())
            .map(|q| q.trim().chars().take(100).collect()),
        open_at: query.open_now.filter(|open| *open).map(|_| hours::now()),
        after,
        limit: i64::from(limit) + 1,
    };
    let mut found = state.restaurants.list(&listing).await?;
    let next_cursor = if found.len() > limit as usize {
        found.truncate(limit as usize);
        found
            .last()
            .map(|last| encode_cursor(&last.name_lc, &last.id))
    } else {
        None
    };
    let page = RestaurantPage {
        items: found.iter().map(RestaurantView::from).collect(),
        next_cursor,
    };
    Ok(([(header::CACHE_CONTROL, PUBLIC_CACHE)], Json(page)))
}

/// One restaurant.
#[utoipa::path(get, path = "/restaurants/{id}", tag = "restaurants",
    params(("id" = String, Path, description = "Restaurant id")),
    responses(
        (status = 200, description = "The restaurant", body = RestaurantView),
        (status = 404, description = "No such restaurant", body = Problem, content_type = "application/problem+json")))]
pub async fn get_restaurant(
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
        Json(RestaurantView::from(&restaurant)),
    ))
}

/// Opens a restaurant (needs `restaurants:write:own`; naming another owner needs
/// `restaurants:write:any`).
#[utoipa::path(post, path = "/restaurants", tag = "restaurants", security(("bearer" = [])),
    request_body = RestaurantInput,
    responses(
        (status = 201, description = "Created", body = RestaurantView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a restaurant owner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The owner has a restaurant of that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn create_restaurant(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(input): JsonBody<RestaurantInput>,
) -> Result<impl IntoResponse, RestaurantError> {
    let owner = input.owner_id.unwrap_or(caller.0.sub);
    if owner == caller.0.sub {
        may_change(&caller, &owner.to_string())?;
    } else {
        caller.require(Permission::RESTAURANTS_WRITE_ANY)?;
    }
    let fields = RestaurantFields::parse(&input).map_err(RestaurantError::Validation)?;
    let now = bson::DateTime::now();
    let restaurant = RestaurantDoc {
        id: Uuid::now_v7().to_string(),
        owner_id: owner.to_string(),
        name_lc: fields.name.to_lowercase(),
        name: fields.name,
        cuisine_lc: fields.cuisine.to_lowercase(),
        cuisine: fields.cuisine,
        address: fields.address,
        location: fields.location,
        opening_hours: fields.opening_hours,
        menu: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    state
        .restaurants
        .insert(&restaurant)
        .await
        .map_err(duplicate_name)?;
    let location = format!("/restaurants/{}", restaurant.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(RestaurantView::from(&restaurant)),
    ))
}

/// Changes a restaurant's details (its owner, or an administrator).
#[utoipa::path(put, path = "/restaurants/{id}", tag = "restaurants", security(("bearer" = [])),
    params(("id" = String, Path, description = "Restaurant id")), request_body = RestaurantInput,
    responses(
        (status = 200, description = "Updated", body = RestaurantView),
        (status = 403, description = "Not its owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such restaurant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn update_restaurant(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RestaurantInput>,
) -> Result<Json<RestaurantView>, RestaurantError> {
    let existing = state
        .restaurants
        .find(&id)
        .await?
        .ok_or(RestaurantError::NotFound("restaurant"))?;
    may_change(&caller, &existing.owner_id)?;
    if input
        .owner_id
        .is_some_and(|owner| owner.to_string() != existing.owner_id)
    {
        caller.require(Permission::RESTAURANTS_WRITE_ANY)?;
    }
    let fields = RestaurantFields::parse(&input).map_err(RestaurantError::Validation)?;
    let hours =
        bson::to_bson(&fields.opening_hours).map_err(|err| StoreError::Mongo(err.into()))?;
    let address = bson::to_bson(&fields.address).map_err(|err| StoreError::Mongo(err.into()))?;
    let location = bson::to_bson(&fields.location).map_err(|err| StoreError::Mongo(err.into()))?;
    let mut changes = doc! {
        "name_lc": fields.name.to_lowercase(),
        "name": &fields.name,
        "cuisine_lc": fields.cuisine.to_lowercase(),
        "cuisine": &fields.cuisine,
        "address": address,
        "location": location,
        "opening_hours": hours,
        "updated_at": bson::DateTime::now(),
    };
    if let Some(owner) = input.owner_id {
        changes.insert("owner_id", owner.to_string());
    }
    let updated = state
        .restaurants
        .update(&id, changes)
        .await
        .map_err(duplicate_name)?
        .ok_or(RestaurantError::NotFound("restaurant"))?;
    Ok(Json(RestaurantView::from(&updated)))
}

fn duplicate_name(err: StoreError) -> RestaurantError {
    match err {
        StoreError::Duplicate => RestaurantError::DuplicateName,
        other => other.into(),
    }
}

fn encode_cursor(name_lc: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(name_lc, id)).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Result<(String, String), RestaurantError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            RestaurantError::Validation(vec![FieldError::new(
                "cursor",
                "is not a cursor this service issued",
            )])
        })
}
