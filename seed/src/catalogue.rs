//! The demo restaurants and their menus, owned by the demo owner.

use reqwest::Method;
use serde_json::Value;

use crate::{
    accounts::Account, client::Client, data::Restaurant, error::SeedError, report::Report,
};

/// `restaurant`, created by `owner` unless one of theirs already has its name, with its menu
/// unless it has one; returns its id.
pub(crate) async fn ensure(
    client: &Client,
    owner: &Account,
    restaurant: &Restaurant,
    report: &mut Report,
) -> Result<String, SeedError> {
    let id = match find(client, owner, restaurant.name).await? {
        Some(id) => {
            report.count(false, format!("restaurant {}", restaurant.name));
            id
        }
        None => {
            let (_, created) = client
                .expect(
                    Method::POST,
                    "/restaurants",
                    Some(&owner.token),
                    Some(&restaurant.body()),
                    &[201],
                )
                .await?;
            report.count(true, format!("restaurant {}", restaurant.name));
            created["id"].as_str().unwrap_or_default().to_owned()
        }
    };
    let menu = format!("/restaurants/{id}/menu");
    let (_, current) = client
        .expect(Method::GET, &menu, None, None, &[200])
        .await?;
    let empty = current["categories"]
        .as_array()
        .is_none_or(|categories| categories.is_empty());
    if empty {
        client
            .expect(
                Method::PUT,
                &menu,
                Some(&owner.token),
                Some(&restaurant.menu_body()),
                &[200],
            )
            .await?;
    }
    report.count(empty, format!("menu of {}", restaurant.name));
    Ok(id)
}

/// The id of `owner`'s restaurant named `name`, if there is one.
async fn find(client: &Client, owner: &Account, name: &str) -> Result<Option<String>, SeedError> {
    let mut cursor: Option<String> = None;
    loop {
        // The query encoded by `url`, as any value a restaurant's name or a cursor holds.
        let mut query =
            reqwest::Url::parse("http://gateway.invalid/restaurants").expect("a fixed, valid URL");
        query
            .query_pairs_mut()
            .append_pair("limit", "100")
            .append_pair("q", name)
            .extend_pairs(cursor.iter().map(|cursor| ("cursor", cursor)));
        let path = format!("/restaurants?{}", query.query().unwrap_or_default());
        let (_, page) = client
            .expect(Method::GET, &path, None, None, &[200])
            .await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        let mine = items.iter().find(|item: &&Value| {
            item["name"] == name && item["owner_id"].as_str() == Some(owner.id.as_str())
        });
        if let Some(found) = mine {
            return Ok(found["id"].as_str().map(str::to_owned));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(None),
        }
    }
}
