//! What a real platform sees every evening, each once seen to leave money and food
//! disagreeing: the customer, the restaurant and the courier acting while a participant or a
//! shard is away. Each test plays one such history through the gateway with real processes
//! and checks every invariant on the stores afterwards. (The shipment race and the faults
//! are proven at their own level: delivery-service's `commands` tests, order-service's
//! `operators` tests and messaging's consumer tests.)

use std::time::Duration;

use e2e::books;
use serde_json::json;

use crate::platform::{Options, Platform};

/// The platform, with every binary's link to the broker and every shard behind a proxy.
async fn platform() -> Platform {
    Platform::start(Options {
        broker_proxies: true,
        shard_proxies: true,
        ..Options::default()
    })
    .await
}

/// Once the order's saga has ended (within `LIMIT`), its books keep every promise.
async fn assert_kept(platform: &Platform, order: &str) {
    let deadline = std::time::Instant::now() + LIMIT;
    let mine = loop {
        let all = books::read(platform).await;
        let mine = all
            .into_iter()
            .find(|books| books.order.to_string() == order)
            .expect("the order's books");
        if mine.saga_ended() || std::time::Instant::now() >= deadline {
            break mine;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let broken = books::check(&mine);
    assert!(broken.is_empty(), "{mine:#?}\n{broken:#?}");
    assert_eq!(
        books::courier_mismatches(platform).await,
        Vec::<String>::new()
    );
}

const LIMIT: Duration = Duration::from_secs(60);

/// The people of one order: the admin (who owns the restaurant), its courier and its
/// customer, and the order, paid with `card`.
struct Scene {
    admin: String,
    courier: String,
    customer: String,
    order: String,
}

/// A restaurant, a courier and a customer whose order paid with `card` is placed, and
/// confirmed when `confirmed` asks for it.
async fn scene(platform: &Platform, card: &str, confirmed: bool) -> Scene {
    let admin = platform.admin().await;
    let menu = platform.restaurant(&admin).await;
    let (_, courier) = platform.courier(&admin, "rider@regression.test").await;
    let customer = platform.customer("customer@regression.test").await;
    let order = platform
        .order(&customer, &menu, card)
        .await
        .expect("placed");
    if confirmed {
        platform
            .wait_for(&customer, &order, &["CONFIRMED"], LIMIT)
            .await;
    }
    Scene {
        admin,
        courier,
        customer,
        order,
    }
}

#[tokio::test]
async fn a_cancel_while_payments_are_away_that_races_the_pick_up_leaves_the_food_paid() {
    let mut platform = platform().await;
    let Scene {
        admin: _,
        courier,
        customer,
        order,
    } = scene(&platform, "pm_card_ok", true).await;

    platform
        .stop("payment-service", Duration::from_secs(15))
        .await;
    // The courier's pick-up is written, its event held in delivery-service's outbox.
    platform.broker_proxy("delivery-service").cut();
    let (status, body) = platform.courier_step(&courier, &order, "picked-up").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = platform
        .post(
            &format!("/orders/{order}/cancel"),
            Some(&customer),
            &json!({}),
        )
        .await;
    assert_eq!(
        status, 202,
        "the cancel is taken before the pick-up is known: {body}"
    );
    platform.broker_proxy("delivery-service").restore();
    let body = platform
        .wait_for(&customer, &order, &["PICKED_UP"], LIMIT)
        .await;
    assert_eq!(
        body["status"], "PICKED_UP",
        "the cancel was refused: {body}"
    );

    platform.restart("payment-service").await;
    let (status, body) = platform.courier_step(&courier, &order, "delivered").await;
    assert_eq!(status, 200, "{body}");
    platform
        .wait_for(&customer, &order, &["DELIVERED"], LIMIT)
        .await;
    let (_, saga) = platform
        .get(&format!("/orders/{order}/saga"), &customer)
        .await;
    assert_eq!(saga["state"], "completed", "{saga}");
    assert_kept(&platform, &order).await;
}

#[tokio::test]
async fn the_restaurant_cannot_move_an_order_whose_cancellation_waits_on_the_participants() {
    let mut platform = platform().await;
    let Scene {
        admin,
        courier: _,
        customer,
        order,
    } = scene(&platform, "pm_card_ok", true).await;

    platform
        .stop("payment-service", Duration::from_secs(15))
        .await;
    platform.broker_proxy("delivery-service").cut();
    let (status, body) = platform
        .post(
            &format!("/orders/{order}/cancel"),
            Some(&customer),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // The admin owns the restaurant.
    for step in ["accept", "preparing"] {
        let (status, body) = platform
            .post(&format!("/orders/{order}/{step}"), Some(&admin), &json!({}))
            .await;
        assert_eq!(status, 409, "{step}: {body}");
        assert!(
            body["type"]
                .as_str()
                .is_some_and(|kind| kind.ends_with("saga-in-progress")),
            "{body}"
        );
        assert_eq!(body["saga"], format!("/orders/{order}/saga"), "{body}");
    }
    let (_, body) = platform.get(&format!("/orders/{order}"), &customer).await;
    assert_eq!(body["status"], "CANCEL_PENDING", "{body}");
    platform.broker_proxy("delivery-service").restore();
    let body = platform
        .wait_for(&customer, &order, &["CANCELLED"], LIMIT)
        .await;
    assert_eq!(body["status"], "CANCELLED", "{body}");
    platform.restart("payment-service").await;
    let mut payment = serde_json::Value::Null;
    for _ in 0..300 {
        (_, payment) = platform.get(&format!("/payments/{order}"), &customer).await;
        if payment["status"] == "refunded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(payment["status"], "refunded", "{payment}");
    let shard = platform.order_shard(&order).await;
    let cancelled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND message_type = 'order.cancelled'",
    )
    .bind(&order)
    .fetch_one(&shard)
    .await
    .expect("the shard's outbox");
    assert_eq!(cancelled, 1, "order.cancelled is announced once");
    assert_kept(&platform, &order).await;
}

#[tokio::test]
async fn a_courier_cannot_take_food_whose_capture_may_still_fail_so_its_hold_is_released() {
    let platform = platform().await;
    // Shipping waits, then the capture does, while the courier is already assigned.
    platform.broker_proxy("delivery-service").cut();
    let Scene {
        courier,
        customer,
        order,
        ..
    } = scene(&platform, "pm_card_capture_fails", false).await;
    let mut saga = serde_json::Value::Null;
    for _ in 0..300 {
        (_, saga) = platform
            .get(&format!("/orders/{order}/saga"), &customer)
            .await;
        if saga["step"] == "create_shipment" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(saga["step"], "create_shipment", "{saga}");
    platform.broker_proxy("payment-service").cut();
    platform.broker_proxy("delivery-service").restore();
    for _ in 0..300 {
        (_, saga) = platform
            .get(&format!("/orders/{order}/saga"), &customer)
            .await;
        if saga["step"] == "capture_payment" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(saga["step"], "capture_payment", "{saga}");

    let (status, body) = platform
        .post(
            &format!("/delivery/{order}/picked-up"),
            Some(&courier),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "held until the payment is captured: {body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|kind| kind.ends_with("shipment-held")),
        "{body}"
    );
    platform.broker_proxy("payment-service").restore();
    let body = platform
        .wait_for(&customer, &order, &["CANCELLED"], LIMIT)
        .await;
    assert_eq!(body["status"], "CANCELLED", "{body}");
    let (_, payment) = platform.get(&format!("/payments/{order}"), &customer).await;
    assert_eq!(payment["status"], "voided", "{payment}");
    assert_kept(&platform, &order).await;
}

#[tokio::test]
async fn a_courier_s_steps_while_the_order_s_shard_is_away_are_kept_until_it_is_back() {
    let platform = platform().await;
    let Scene {
        admin: _,
        courier,
        customer,
        order,
    } = scene(&platform, "pm_card_ok", true).await;
    let (status, _) = platform.courier_step(&courier, &order, "picked-up").await;
    assert_eq!(status, 200);

    for proxy in &platform.shard_proxies {
        proxy.cut();
    }
    let (status, body) = platform.courier_step(&courier, &order, "delivered").await;
    assert_eq!(status, 200, "{body}");
    // Longer than every retry delay (200 ms, 1 s, 2 s) together, twice over.
    tokio::time::sleep(Duration::from_secs(8)).await;
    for proxy in &platform.shard_proxies {
        proxy.restore();
    }
    let body = platform
        .wait_for(&customer, &order, &["DELIVERED"], LIMIT)
        .await;
    assert_eq!(body["status"], "DELIVERED", "{body}");
    let dead = platform
        .broker
        .drain(
            &platform
                .broker
                .topology()
                .dead_letters(&messaging::topology::ORDER_SERVICE),
            1,
            Duration::from_millis(500),
        )
        .await;
    assert!(dead.is_empty(), "nothing was dead-lettered");
    assert_kept(&platform, &order).await;
}
