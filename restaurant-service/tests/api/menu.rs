use reqwest::Method;
use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};

use crate::helpers::{TestApp, restaurant, spawn_app};

fn menu(price: i64) -> Value {
    json!({"categories": [
        {"name": "Mains", "items": [
            {"name": "Pad Thai", "price": {"amount": price, "currency": "eur"}},
            {"name": "Green Curry", "description": "Hot", "price": {"amount": 1350, "currency": "EUR"}, "available": false},
        ]},
    ]})
}

async fn with_restaurant() -> (TestApp, String, String) {
    let app = spawn_app().await;
    let (_, owner) = app.user(&[Role::RestaurantOwner]);
    let id = app
        .create(&owner, &restaurant("Bangkok Garden", "Thai"))
        .await;
    (app, owner, id)
}

#[tokio::test]
async fn the_owner_sets_the_menu_and_anyone_reads_it() {
    let (app, owner, id) = with_restaurant().await;
    let path = format!("/restaurants/{id}/menu");
    assert_eq!(app.get_json(&path).await["categories"], json!([]));
    let set = app
        .send(Method::PUT, &path, Some(&owner), &menu(1250))
        .await;
    assert_eq!(set.status().as_u16(), 200);
    let read = app.get(&path).await;
    assert_eq!(
        read.headers()["cache-control"],
        "public, max-age=300, stale-if-error=600"
    );
    let read: Value = read.json().await.expect("json");
    let items = &read["categories"][0]["items"];
    assert_eq!(
        items[0]["price"],
        json!({"amount": 1250, "currency": "EUR"})
    );
    assert_eq!(items[0]["available"], true);
    assert_eq!(items[1]["available"], false);
    assert!(uuid::Uuid::parse_str(items[0]["id"].as_str().expect("an id")).is_ok());
}

#[tokio::test]
async fn item_ids_survive_a_menu_edit() {
    let (app, owner, id) = with_restaurant().await;
    let path = format!("/restaurants/{id}/menu");
    let first: Value = app
        .send(Method::PUT, &path, Some(&owner), &menu(1250))
        .await
        .json()
        .await
        .expect("json");
    let item_id = first["categories"][0]["items"][0]["id"].clone();
    let mut edited = menu(1300);
    edited["categories"][0]["items"][0]["id"] = item_id.clone();
    let second: Value = app
        .send(Method::PUT, &path, Some(&owner), &edited)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(second["categories"][0]["items"][0]["id"], item_id);
    assert_eq!(second["categories"][0]["items"][0]["price"]["amount"], 1300);
}

#[tokio::test]
async fn a_price_that_is_not_positive_is_named_and_the_menu_is_unchanged() {
    let (app, owner, id) = with_restaurant().await;
    let path = format!("/restaurants/{id}/menu");
    app.send(Method::PUT, &path, Some(&owner), &menu(1250))
        .await;
    let problem = assert_problem(
        app.send(Method::PUT, &path, Some(&owner), &menu(0)).await,
        422,
    )
    .await;
    assert_eq!(
        problem["errors"][0]["field"],
        "categories[0].items[0].price.amount"
    );
    assert_eq!(
        app.get_json(&path).await["categories"][0]["items"][0]["price"]["amount"],
        1250
    );
    let fractional = assert_problem(
        app.send(
            Method::PUT,
            &path,
            Some(&owner),
            &menu(0)
                .to_string()
                .replace("\"amount\":0", "\"amount\":12.5")
                .parse::<Value>()
                .expect("json"),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        fractional["errors"][0]["field"],
        "categories[0].items[0].price.amount"
    );
}

#[tokio::test]
async fn the_owner_marks_an_item_unavailable_and_others_cannot() {
    let (app, owner, id) = with_restaurant().await;
    let menu: Value = app
        .send(
            Method::PUT,
            &format!("/restaurants/{id}/menu"),
            Some(&owner),
            &menu(1250),
        )
        .await
        .json()
        .await
        .expect("json");
    let item = menu["categories"][0]["items"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let path = format!("/restaurants/{id}/menu/items/{item}");
    let (_, rival) = app.user(&[Role::RestaurantOwner]);
    assert_problem(
        app.send(
            Method::PATCH,
            &path,
            Some(&rival),
            &json!({"available": false}),
        )
        .await,
        403,
    )
    .await;
    let changed: Value = app
        .send(
            Method::PATCH,
            &path,
            Some(&owner),
            &json!({"available": false}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(changed["categories"][0]["items"][0]["available"], false);
    let missing = format!("/restaurants/{id}/menu/items/{}", uuid::Uuid::now_v7());
    assert_problem(
        app.send(
            Method::PATCH,
            &missing,
            Some(&owner),
            &json!({"available": true}),
        )
        .await,
        404,
    )
    .await;
}
