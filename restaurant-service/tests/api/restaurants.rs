use reqwest::Method;
use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};

use crate::helpers::{restaurant, spawn_app};

#[tokio::test]
async fn an_owner_opens_a_restaurant_that_anyone_can_read_and_the_gateway_may_cache() {
    let app = spawn_app().await;
    let (owner, token) = app.user(&[Role::Customer, Role::RestaurantOwner]);
    let response = app
        .send(
            Method::POST,
            "/restaurants",
            Some(&token),
            &restaurant("Chez Ada", "French"),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["owner_id"], owner.to_string());
    assert_eq!(created["open_now"], true);
    assert_eq!(
        location,
        format!("/restaurants/{}", created["id"].as_str().expect("an id"))
    );
    let read = app.get(&location).await;
    assert_eq!(
        read.headers()["cache-control"],
        "public, max-age=300, stale-if-error=600"
    );
    let read: Value = read.json().await.expect("json");
    assert_eq!(read["name"], "Chez Ada");
    assert_eq!(
        read["opening_hours"][0],
        json!({"day": "monday", "opens": "00:00", "closes": "24:00"})
    );
}

#[tokio::test]
async fn customers_and_strangers_cannot_open_restaurants() {
    let app = spawn_app().await;
    let (_, customer) = app.user(&[Role::Customer]);
    assert_problem(
        app.send(
            Method::POST,
            "/restaurants",
            Some(&customer),
            &restaurant("A", "Thai"),
        )
        .await,
        403,
    )
    .await;
    let anonymous = app
        .send(Method::POST, "/restaurants", None, &restaurant("A", "Thai"))
        .await;
    assert!(anonymous.headers().contains_key("www-authenticate"));
    assert_problem(anonymous, 401).await;
    let page = app.get_json("/restaurants").await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn only_an_admin_opens_a_restaurant_for_someone_else() {
    let app = spawn_app().await;
    let (_, owner) = app.user(&[Role::RestaurantOwner]);
    let (_, admin) = app.user(&[Role::Admin]);
    let other = uuid::Uuid::now_v7();
    let mut body = restaurant("Borrowed", "Thai");
    body["owner_id"] = json!(other);
    assert_problem(
        app.send(Method::POST, "/restaurants", Some(&owner), &body)
            .await,
        403,
    )
    .await;
    let created = app
        .send(Method::POST, "/restaurants", Some(&admin), &body)
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.expect("json");
    assert_eq!(created["owner_id"], other.to_string());
}

#[tokio::test]
async fn invalid_fields_are_all_named_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (_, owner) = app.user(&[Role::RestaurantOwner]);
    let mut body = restaurant("", "Thai");
    body["location"] = json!({"lat": 123.0, "lon": 2.0});
    body["opening_hours"] = json!([{"day": "monday", "opens": "22:00", "closes": "10:00"}]);
    let problem = assert_problem(
        app.send(Method::POST, "/restaurants", Some(&owner), &body)
            .await,
        422,
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "location.lat", "opening_hours[0]"]);
    body["location"] = json!({"lat": "north", "lon": 2.0});
    let problem = assert_problem(
        app.send(Method::POST, "/restaurants", Some(&owner), &body)
            .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "location.lat");
    assert_eq!(app.get_json("/restaurants").await["items"], json!([]));
}

#[tokio::test]
async fn an_owner_cannot_have_two_restaurants_of_one_name() {
    let app = spawn_app().await;
    let (_, owner) = app.user(&[Role::RestaurantOwner]);
    app.create(&owner, &restaurant("Chez Ada", "French")).await;
    let again = app
        .send(
            Method::POST,
            "/restaurants",
            Some(&owner),
            &restaurant("CHEZ ADA", "Bistro"),
        )
        .await;
    assert_problem(again, 409).await;
    let (_, other_owner) = app.user(&[Role::RestaurantOwner]);
    app.create(&other_owner, &restaurant("Chez Ada", "French"))
        .await;
}

#[tokio::test]
async fn only_the_owner_or_an_admin_changes_a_restaurant() {
    let app = spawn_app().await;
    let (_, owner) = app.user(&[Role::RestaurantOwner]);
    let (_, rival) = app.user(&[Role::RestaurantOwner]);
    let (_, admin) = app.user(&[Role::Admin]);
    let id = app.create(&owner, &restaurant("Chez Ada", "French")).await;
    let path = format!("/restaurants/{id}");
    assert_problem(
        app.send(
            Method::PUT,
            &path,
            Some(&rival),
            &restaurant("Mine now", "French"),
        )
        .await,
        403,
    )
    .await;
    let renamed = app
        .send(
            Method::PUT,
            &path,
            Some(&owner),
            &restaurant("Chez Ada II", "French"),
        )
        .await;
    assert_eq!(renamed.status().as_u16(), 200);
    let by_admin = app
        .send(
            Method::PUT,
            &path,
            Some(&admin),
            &restaurant("Chez Ada III", "French"),
        )
        .await;
    assert_eq!(by_admin.status().as_u16(), 200);
    assert_eq!(app.get_json(&path).await["name"], "Chez Ada III");
    assert_problem(
        app.send(
            Method::PUT,
            "/restaurants/nope",
            Some(&owner),
            &restaurant("X", "Y"),
        )
        .await,
        404,
    )
    .await;
    assert_problem(app.get("/restaurants/nope").await, 404).await;
}

async fn seeded() -> crate::helpers::TestApp {
    let app = spawn_app().await;
    let (_, owner) = app.user(&[Role::RestaurantOwner]);
    for (name, cuisine) in [
        ("Bangkok Garden", "Thai"),
        ("Chez Ada", "French"),
        ("Dragon Wok", "Chinese"),
        ("Amalfi", "Italian"),
        ("Eat (Thai)", "thai street"),
    ] {
        app.create(&owner, &restaurant(name, cuisine)).await;
    }
    let mut closed = restaurant("Zzz Closed", "Thai");
    closed["opening_hours"] = json!([]);
    app.create(&owner, &closed).await;
    app
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn filters_are_case_insensitive_and_search_is_literal() {
    let app = seeded().await;
    assert_eq!(
        names(&app.get_json("/restaurants?cuisine=THAI").await),
        ["Bangkok Garden", "Zzz Closed"]
    );
    assert_eq!(
        names(&app.get_json("/restaurants?q=thai").await),
        ["Bangkok Garden", "Eat (Thai)", "Zzz Closed"]
    );
    assert_eq!(
        names(&app.get_json("/restaurants?q=WOK").await),
        ["Dragon Wok"]
    );
    assert_eq!(
        names(&app.get_json("/restaurants?q=(thai)").await),
        ["Eat (Thai)"],
        "regex characters are literal"
    );
    assert_eq!(
        names(&app.get_json("/restaurants?q=.*").await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            &app.get_json("/restaurants?cuisine=thai&open_now=true")
                .await
        ),
        ["Bangkok Garden"]
    );
}

#[tokio::test]
async fn pages_follow_the_cursor_in_name_order_without_repeats() {
    let app = seeded().await;
    let mut seen = Vec::new();
    let mut path = "/restaurants?limit=2".to_owned();
    for _ in 0..10 {
        let page = app.get_json(&path).await;
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/restaurants?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "Amalfi",
            "Bangkok Garden",
            "Chez Ada",
            "Dragon Wok",
            "Eat (Thai)",
            "Zzz Closed"
        ]
    );
}

#[tokio::test]
async fn bad_paging_is_refused_naming_the_parameter() {
    let app = spawn_app().await;
    let problem = assert_problem(app.get("/restaurants?limit=0").await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "limit");
    let problem = assert_problem(app.get("/restaurants?limit=lots").await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "limit");
    let problem = assert_problem(app.get("/restaurants?cursor=garbage").await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "cursor");
}
