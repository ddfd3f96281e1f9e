//! The order saga end to end, every binary a process, every call through the gateway; the
//! payments ledger and the shipments checked in their own databases afterwards.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use messaging::{testing::envelope, topology::Exchange};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::platform::{Api, Options, Platform};

/// Two dishes at 12.50 €.
const TOTAL: i64 = 2500;
const TERMINAL: &[&str] = &[
    "CONFIRMED",
    "REJECTED",
    "CANCELLED",
    "PICKED_UP",
    "DELIVERED",
];

/// What the payments ledger and the shipments say of one order.
#[derive(Debug)]
struct Books {
    payment: Option<String>,
    /// What left the customer's funds, net of what came back.
    net_charge: i64,
    /// Capture lines (money reaching the merchant).
    captures: Vec<i64>,
    shipments: Vec<String>,
}

async fn books(platform: &Platform, order: &str) -> Books {
    let payments = Platform::pool(&platform.payments).await;
    let order_id: uuid::Uuid = order.parse().expect("an order id");
    let payment: Option<String> =
        sqlx::query_scalar("SELECT status FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&payments)
            .await
            .expect("payments");
    let net_charge: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(CASE direction WHEN 'debit' THEN amount ELSE -amount END), 0)::bigint
         FROM ledger_entries e JOIN payments p ON p.id = e.payment_id
         WHERE p.order_id = $1 AND e.account = 'customer_funds'",
    )
    .bind(order_id)
    .fetch_one(&payments)
    .await
    .expect("the customer's net");
    let captures: Vec<i64> = sqlx::query_scalar(
        "SELECT e.amount FROM ledger_entries e JOIN payments p ON p.id = e.payment_id
         WHERE p.order_id = $1 AND e.operation = 'capture' AND e.direction = 'credit'",
    )
    .bind(order_id)
    .fetch_all(&payments)
    .await
    .expect("captures");
    let delivery = Platform::pool(&platform.delivery).await;
    let shipments: Vec<String> =
        sqlx::query_scalar("SELECT status FROM shipments WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(&delivery)
            .await
            .expect("shipments");
    Books {
        payment,
        net_charge,
        captures,
        shipments,
    }
}

/// The books agree with how the order ended.
fn assert_consistent(status: &str, books: &Books, order: &str) {
    match status {
        "CONFIRMED" | "PICKED_UP" | "DELIVERED" => {
            assert_eq!(
                books.captures,
                [TOTAL],
                "{order}: captured once, its total: {books:?}"
            );
            assert_eq!(
                books.net_charge, TOTAL,
                "{order}: charged its total: {books:?}"
            );
            assert_eq!(books.shipments.len(), 1, "{order}: one shipment: {books:?}");
            assert_ne!(books.shipments[0], "CANCELLED", "{order}: {books:?}");
        }
        "REJECTED" | "CANCELLED" => {
            assert_eq!(books.net_charge, 0, "{order}: no net charge: {books:?}");
            assert!(
                books.shipments.iter().all(|status| status == "CANCELLED"),
                "{order}: no active shipment: {books:?}"
            );
        }
        other => panic!("{order} is not over: {other}"),
    }
}

/// The whole ledger balances: every debit has its credit.
async fn assert_ledger_balances(platform: &Platform) {
    let payments = Platform::pool(&platform.payments).await;
    let imbalance: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(CASE direction WHEN 'debit' THEN amount ELSE -amount END), 0)::bigint FROM ledger_entries",
    )
    .fetch_one(&payments)
    .await
    .expect("the ledger");
    assert_eq!(imbalance, 0, "the ledger balances");
}

/// Why an order is not over: its saga's log, and what every queue gave up on.
async fn post_mortem(platform: &Platform, admin: &str, order: &str) -> String {
    let (_, saga) = platform.get(&format!("/orders/{order}/saga"), admin).await;
    let mut dead = Vec::new();
    for queue in &messaging::topology::QUEUES {
        let name = platform.broker.topology().dead_letters(queue);
        for letter in platform.broker.drain(&name, 0, Duration::ZERO).await {
            let headers =
                messaging::trace::from_amqp(letter.delivery.properties.headers().as_ref());
            let body = String::from_utf8_lossy(&letter.delivery.data)
                .chars()
                .take(300)
                .collect::<String>();
            dead.push(format!("{name}: {headers:?} {body}"));
        }
    }
    let shard = platform.order_shard(order).await;
    let outbox: Vec<(String, Option<String>, i32, String)> = sqlx::query_as(
        "SELECT message_type, published_at::text, attempts, to_jsonb(o)::text FROM outbox o
         WHERE aggregate_id = $1 ORDER BY occurred_at",
    )
    .bind(order)
    .fetch_all(&shard)
    .await
    .unwrap_or_default();
    let outbox: Vec<String> = outbox
        .iter()
        .map(|(kind, sent, attempts, row)| {
            format!("{kind} sent {sent:?} after {attempts} failures: {row}")
        })
        .collect();
    let log = platform
        .backends
        .iter()
        .find(|process| process.name == "order-service")
        .map(crate::processes::Process::log_tail)
        .unwrap_or_default();
    format!(
        "saga {saga:#}\nits outbox rows:\n{}\ndead letters:\n{}\norder-service's log ends:\n{log}",
        outbox.join("\n"),
        dead.join("\n")
    )
}

/// Waits for each order to end and checks its books; returns how many ended in each status.
async fn settle(platform: &Platform, admin: &str, orders: &[String]) -> HashMap<String, usize> {
    let mut outcomes = HashMap::new();
    for order in orders {
        let body = platform
            .wait_for(admin, order, TERMINAL, Duration::from_secs(90))
            .await;
        let status = body["status"].as_str().unwrap_or_default().to_owned();
        if !TERMINAL.contains(&status.as_str()) {
            panic!(
                "{order} is not over: {}",
                post_mortem(platform, admin, order).await
            );
        }
        assert_consistent(&status, &books(platform, order).await, order);
        *outcomes.entry(status).or_default() += 1;
    }
    assert_ledger_balances(platform).await;
    let (_, running) = platform
        .get("/orders/admin/sagas?state=running", admin)
        .await;
    assert_eq!(running["items"], json!([]), "no saga left running");
    outcomes
}

#[tokio::test]
async fn an_order_is_confirmed_paid_once_shipped_then_picked_up_delivered_and_tracked() {
    let platform = Platform::start(Options::default()).await;
    let admin = platform.admin().await;
    let menu = platform.restaurant(&admin).await;
    let (courier, courier_token) = platform.courier(&admin, "rider@platform.test").await;
    let customer = platform.customer("ada@platform.test").await;

    let order = platform
        .order(&customer, &menu, "pm_card_ok")
        .await
        .expect("placed");
    let confirmed = platform
        .wait_for(&customer, &order, &["CONFIRMED"], Duration::from_secs(30))
        .await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");
    assert_eq!(confirmed["courier_id"], courier);
    let (_, payment) = platform.get(&format!("/payments/{order}"), &customer).await;
    assert_eq!(payment["status"], "captured");
    assert_eq!(payment["captured_amount"], TOTAL);
    let (_, saga) = platform
        .get(&format!("/orders/{order}/saga"), &customer)
        .await;
    assert_eq!(saga["state"], "completed", "{saga}");
    let mut live = live_view(&platform, &order, &customer).await;
    let first = next_update(&mut live).await;
    assert_eq!(first["event"], "status", "{first}");

    for (step, status) in [("picked-up", "PICKED_UP"), ("delivered", "DELIVERED")] {
        let (code, body) = platform.courier_step(&courier_token, &order, step).await;
        assert_eq!(code, 200, "{body}");
        let moved = platform
            .wait_for(&customer, &order, &[status], Duration::from_secs(20))
            .await;
        assert_eq!(moved["status"], status);
    }
    // The courier's steps reached the customer's WebSocket, through the gateway.
    let status_of = |update: &Value| update["data"]["status"].as_str().map(str::to_owned);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|update| status_of(update).as_deref() == Some("delivered"))
    {
        seen.push(next_update(&mut live).await);
    }
    assert!(
        seen.iter()
            .any(|update| status_of(update).as_deref() == Some("picked_up")),
        "{seen:?}"
    );
    let mut timeline = Vec::new();
    for _ in 0..100 {
        let (_, events) = platform
            .get(&format!("/tracking/{order}/events"), &customer)
            .await;
        timeline = events["items"]
            .as_array()
            .or_else(|| events.as_array())
            .map(|items| {
                items
                    .iter()
                    .map(|item| item["event_type"].clone())
                    .collect()
            })
            .unwrap_or_default();
        if timeline.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        timeline,
        [
            json!("created"),
            json!("courier_assigned"),
            json!("picked_up"),
            json!("delivered")
        ]
    );
    assert_consistent("DELIVERED", &books(&platform, &order).await, &order);
    assert_ledger_balances(&platform).await;
}

#[tokio::test]
async fn a_declined_card_no_free_courier_a_failed_capture_and_a_cancel_each_leave_nothing_held() {
    let platform = Platform::start(Options::default()).await;
    let admin = platform.admin().await;
    let menu = platform.restaurant(&admin).await;
    let customer = platform.customer("bob@platform.test").await;
    let limit = Duration::from_secs(30);

    let declined = platform
        .order(&customer, &menu, "pm_card_declined")
        .await
        .expect("placed");
    let body = platform
        .wait_for(&customer, &declined, &["REJECTED"], limit)
        .await;
    assert_eq!(body["status"], "REJECTED", "{body}");
    let seen = books(&platform, &declined).await;
    assert_eq!(seen.payment.as_deref(), Some("declined"));
    assert!(seen.shipments.is_empty(), "nothing shipped: {seen:?}");

    let stranded = platform
        .order(&customer, &menu, "pm_card_ok")
        .await
        .expect("placed");
    let body = platform
        .wait_for(&customer, &stranded, &["CANCELLED"], limit)
        .await;
    assert_eq!(body["status"], "CANCELLED", "no courier is free: {body}");
    assert_eq!(
        books(&platform, &stranded).await.payment.as_deref(),
        Some("voided")
    );

    let (courier, _) = platform.courier(&admin, "rider@platform.test").await;
    let failing = platform
        .order(&customer, &menu, "pm_card_capture_fails")
        .await
        .expect("placed");
    let body = platform
        .wait_for(&customer, &failing, &["CANCELLED"], limit)
        .await;
    assert_eq!(body["status"], "CANCELLED", "{body}");
    let seen = books(&platform, &failing).await;
    assert_eq!(seen.payment.as_deref(), Some("voided"));
    assert_eq!(seen.shipments, ["CANCELLED"], "the shipment was cancelled");

    // The courier is free again, and a command delivered again charges and ships nothing more.
    let paid = platform
        .order(&customer, &menu, "pm_card_ok")
        .await
        .expect("placed");
    let body = platform
        .wait_for(&customer, &paid, &["CONFIRMED"], limit)
        .await;
    assert_eq!(body["courier_id"], courier);
    let terms = json!({
        "order_id": paid, "customer_id": body["customer_id"], "amount": TOTAL, "currency": "EUR",
        "payment_method": "pm_card_ok", "restaurant_id": menu.0, "pickup": {"lat": 45.76, "lon": 4.83},
    });
    for kind in ["payment.authorize", "payment.capture", "shipping.create"] {
        let command = envelope(kind, &paid, terms.clone());
        for _ in 0..2 {
            platform.broker.send(Exchange::SagaCommands, &command).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_consistent("CONFIRMED", &books(&platform, &paid).await, &paid);

    // Cancelled once confirmed: refunded, the shipment cancelled, the courier free again.
    let (status, _) = platform
        .post(
            &format!("/orders/{paid}/cancel"),
            Some(&customer),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202);
    let body = platform
        .wait_for(&customer, &paid, &["CANCELLED"], limit)
        .await;
    assert_eq!(body["status"], "CANCELLED", "{body}");
    assert_eq!(
        books(&platform, &paid).await.payment.as_deref(),
        Some("refunded")
    );
    let again = platform
        .order(&customer, &menu, "pm_card_ok")
        .await
        .expect("placed");
    let body = platform
        .wait_for(&customer, &again, &["CONFIRMED"], limit)
        .await;
    assert_eq!(body["courier_id"], courier, "the courier was freed");

    for order in [&declined, &stranded, &failing, &paid, &again] {
        let (_, body) = platform.get(&format!("/orders/{order}"), &customer).await;
        let status = body["status"].as_str().unwrap_or_default();
        assert_consistent(status, &books(&platform, order).await, order);
    }
    assert_ledger_balances(&platform).await;
}

/// Places `count` orders at once, cycling through the test cards, from `customers`; returns
/// the ids of those placed, and counts the placed as they come.
async fn burst(
    api: &Api,
    customers: &[String],
    menu: &(String, String),
    count: usize,
    placed: &Arc<AtomicUsize>,
) -> Vec<String> {
    const CARDS: [&str; 5] = [
        "pm_card_ok",
        "pm_card_ok",
        "pm_card_declined",
        "pm_card_capture_fails",
        "pm_card_insufficient_funds",
    ];
    let mut orders = JoinSet::new();
    for n in 0..count {
        let (api, placed) = (api.clone(), placed.clone());
        let (customer, menu) = (customers[n % customers.len()].clone(), menu.clone());
        orders.spawn(async move {
            let order = api.order(&customer, &menu, CARDS[n % CARDS.len()]).await;
            if order.is_ok() {
                placed.fetch_add(1, Ordering::SeqCst);
            }
            order
        });
    }
    let mut ids = Vec::new();
    while let Some(order) = orders.join_next().await {
        if let Ok(Ok(id)) = order {
            ids.push(id);
        }
    }
    ids
}

async fn customers(platform: &Platform, count: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for n in 0..count {
        tokens.push(
            platform
                .customer(&format!("customer{n}@platform.test"))
                .await,
        );
    }
    tokens
}

#[tokio::test]
async fn two_hundred_concurrent_orders_end_consistent_with_the_broker_cut_mid_burst() {
    let platform = Platform::start(Options {
        broker_proxies: true,
        ..Options::default()
    })
    .await;
    let admin = platform.admin().await;
    let menu = platform.restaurant(&admin).await;
    for n in 0..10 {
        platform
            .courier(&admin, &format!("rider{n}@platform.test"))
            .await;
    }
    let customers = customers(&platform, 20).await;
    let placed = Arc::new(AtomicUsize::new(0));
    let finished = AtomicBool::new(false);
    let cut = async {
        // Should fewer than fifty be placed at all, the burst's end is the cue instead.
        while placed.load(Ordering::SeqCst) < 50 && !finished.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        platform.cut_broker();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        platform.restore_broker();
    };
    let orders = async {
        let orders = burst(&platform, &customers, &menu, 200, &placed).await;
        finished.store(true, Ordering::SeqCst);
        orders
    };
    let (orders, ()) = tokio::join!(orders, cut);
    assert!(
        orders.len() >= 150,
        "most orders are taken even with the broker cut: {}",
        orders.len()
    );

    let outcomes = settle(&platform, &admin, &orders).await;
    assert!(
        outcomes.get("CONFIRMED").copied().unwrap_or(0) <= 10,
        "ten couriers: {outcomes:?}"
    );
    for status in ["CONFIRMED", "REJECTED", "CANCELLED"] {
        assert!(
            outcomes.contains_key(status),
            "some orders end {status}: {outcomes:?}"
        );
    }
}

#[tokio::test]
async fn order_service_killed_mid_burst_resumes_every_saga_it_had_in_flight() {
    let platform = Platform::start(Options {
        // The gateway's breaker opens on the dead backend; it tries again after a second.
        extra: vec![("gateway", "BREAKER_OPEN_FOR", "1s".into())],
        ..Options::default()
    })
    .await;
    let admin = platform.admin().await;
    let menu = platform.restaurant(&admin).await;
    for n in 0..5 {
        platform
            .courier(&admin, &format!("rider{n}@platform.test"))
            .await;
    }
    let customers = customers(&platform, 10).await;
    let mut platform = platform;
    let placed = Arc::new(AtomicUsize::new(0));
    let api = platform.api.clone();
    let burst_of = {
        let (customers, menu, placed, api) =
            (customers.clone(), menu.clone(), placed.clone(), api.clone());
        tokio::spawn(async move { burst(&api, &customers, &menu, 80, &placed).await })
    };
    while placed.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    platform.backend("order-service").kill();
    let mut orders = burst_of.await.expect("the burst ran");
    platform.restart("order-service").await;
    for _ in 0..50 {
        if platform.get("/orders/ready", &admin).await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    orders.extend(burst(&api, &customers, &menu, 10, &placed).await);
    assert!(
        orders.len() >= 30,
        "orders were taken before the kill and after: {}",
        orders.len()
    );
    settle(&platform, &admin, &orders).await;
}

type LiveView =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// tracking-service's live view of `order` as a WebSocket, opened through the gateway with
/// `token`.
async fn live_view(platform: &Platform, order: &str, token: &str) -> LiveView {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = platform
        .url(&format!("/tracking/{order}/live"))
        .replace("http://", "ws://");
    let mut request = url.into_client_request().expect("a WebSocket URL");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a header"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded through the gateway");
    socket
}

/// The next update of a live view, as JSON.
async fn next_update(live: &mut LiveView) -> Value {
    use futures::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), live.next())
            .await
            .expect("an update within 20 s")
            .expect("the socket is open")
            .expect("a message");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}
