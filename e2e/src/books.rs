//! Every order's books, read from the stores themselves (the shards, the payments ledger,
//! the shipments and couriers), and the saga's invariants checked against them at rest.

use std::{collections::HashMap, fmt};

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::platform::{Platform, SHARDS};

/// What the stores say of one order.
#[derive(Debug, Clone, Default)]
pub struct Books {
    pub order: Uuid,
    pub shard: &'static str,
    pub status: String,
    pub courier: Option<Uuid>,
    /// The saga's state, reason and unresolved steps.
    pub saga: Option<(String, Option<String>, Value)>,
    /// The payment's status and captured and refunded amounts.
    pub payment: Option<(String, i64, i64)>,
    /// What left the customer's funds, net of what came back.
    pub net_charge: i64,
    /// What is still held on the customer's payment method.
    pub held: i64,
    /// Debits minus credits of the order's ledger lines: zero when they balance.
    pub imbalance: i64,
    /// The shipment's status and courier.
    pub shipment: Option<(String, Option<Uuid>)>,
}

impl Books {
    /// Whether the order's saga has ended (or failed).
    pub fn saga_ended(&self) -> bool {
        self.saga.as_ref().is_some_and(|(state, _, _)| {
            !matches!(state.as_str(), "running" | "compensating" | "cancelling")
        })
    }
}

/// A broken promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub order: Uuid,
    /// Which invariant (1 to 5), as the saga's documentation numbers them.
    pub invariant: u8,
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "order {} breaks invariant {}: {}",
            self.order, self.invariant, self.what
        )
    }
}

/// Reads every order's books.
pub async fn read(platform: &Platform) -> Vec<Books> {
    let mut books = Vec::new();
    for (database, shard) in platform.shards.iter().zip(SHARDS) {
        let pool = Platform::pool(database).await;
        type Row = (
            Uuid,
            String,
            Option<Uuid>,
            Option<String>,
            Option<String>,
            Option<Value>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            // Read as JSON so that the books of a build without the column read too.
            "SELECT o.id, o.status, o.courier_id, s.state, s.reason, to_jsonb(s) -> 'unresolved'
             FROM orders o LEFT JOIN sagas s ON s.order_id = o.id",
        )
        .fetch_all(&pool)
        .await
        .expect("the shard's orders");
        for (order, status, courier, state, reason, unresolved) in rows {
            books.push(Books {
                order,
                shard,
                status,
                courier,
                saga: state.map(|state| (state, reason, unresolved.unwrap_or_default())),
                ..Books::default()
            });
        }
        pool.close().await;
    }
    let payments = payments(&Platform::pool(&platform.payments).await).await;
    let shipments = shipments(&Platform::pool(&platform.delivery).await).await;
    for order in &mut books {
        if let Some(payment) = payments.get(&order.order) {
            (order.payment, order.net_charge, order.held, order.imbalance) = payment.clone();
        }
        order.shipment = shipments.get(&order.order).cloned();
    }
    books
}

type PaymentBooks = (Option<(String, i64, i64)>, i64, i64, i64);

async fn payments(pool: &PgPool) -> HashMap<Uuid, PaymentBooks> {
    let rows: Vec<(Uuid, String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT p.order_id, p.status, p.captured_amount, p.refunded_amount,
            COALESCE(SUM(CASE WHEN e.account = 'customer_funds' THEN
                CASE e.direction WHEN 'debit' THEN e.amount ELSE -e.amount END END), 0)::bigint,
            COALESCE(SUM(CASE WHEN e.account = 'authorization_holds' THEN
                CASE e.direction WHEN 'credit' THEN e.amount ELSE -e.amount END END), 0)::bigint,
            COALESCE(SUM(CASE e.direction WHEN 'debit' THEN e.amount ELSE -e.amount END), 0)::bigint
         FROM payments p LEFT JOIN ledger_entries e ON e.payment_id = p.id
         GROUP BY p.order_id, p.status, p.captured_amount, p.refunded_amount",
    )
    .fetch_all(pool)
    .await
    .expect("the payments");
    pool.close().await;
    rows.into_iter()
        .map(
            |(order, status, captured, refunded, net, held, imbalance)| {
                (
                    order,
                    (Some((status, captured, refunded)), net, held, imbalance),
                )
            },
        )
        .collect()
}

async fn shipments(pool: &PgPool) -> HashMap<Uuid, (String, Option<Uuid>)> {
    let rows: Vec<(Uuid, String, Option<Uuid>)> =
        sqlx::query_as("SELECT order_id, status, courier_id FROM shipments")
            .fetch_all(pool)
            .await
            .expect("the shipments");
    pool.close().await;
    rows.into_iter()
        .map(|(order, status, courier)| (order, (status, courier)))
        .collect()
}

/// Couriers marked busy whose shipments are all over, and couriers with an active shipment
/// marked free: a courier is busy exactly while a shipment of theirs is under way.
pub async fn courier_mismatches(platform: &Platform) -> Vec<String> {
    let pool = Platform::pool(&platform.delivery).await;
    let rows: Vec<(Uuid, bool, i64)> = sqlx::query_as(
        "SELECT c.user_id, c.busy, count(s.id) FROM couriers c
         LEFT JOIN shipments s ON s.courier_id = c.user_id AND s.status IN ('ASSIGNED', 'PICKED_UP')
         GROUP BY c.user_id, c.busy",
    )
    .fetch_all(&pool)
    .await
    .expect("the couriers");
    pool.close().await;
    rows.into_iter()
        .filter(|(_, busy, active)| *busy != (*active > 0))
        .map(|(courier, busy, active)| {
            format!("courier {courier} is marked busy={busy} with {active} shipment(s) under way")
        })
        .collect()
}

/// The invariants, at rest, for one order.
pub fn check(order: &Books) -> Vec<Violation> {
    let mut broken = Vec::new();
    let mut breaks = |invariant: u8, what: String| {
        broken.push(Violation {
            order: order.order,
            invariant,
            what,
        });
    };
    let shipment = order.shipment.as_ref().map(|(status, _)| status.as_str());
    let payment = order.payment.as_ref().map(|(status, _, _)| status.as_str());
    let captured_kept = order
        .payment
        .as_ref()
        .is_some_and(|(_, captured, refunded)| *captured > 0 && *refunded == 0);
    if matches!(shipment, Some("PICKED_UP" | "DELIVERED")) && !captured_kept {
        breaks(
            1,
            format!("the food left ({shipment:?}) but the payment is {payment:?}"),
        );
    }
    if matches!(order.status.as_str(), "CANCELLED" | "REJECTED") {
        if order.net_charge != 0 || order.held != 0 {
            breaks(
                2,
                format!(
                    "{} with {} charged and {} held",
                    order.status, order.net_charge, order.held
                ),
            );
        }
        if !matches!(shipment, None | Some("CANCELLED")) {
            breaks(
                2,
                format!("{} with its shipment {shipment:?}", order.status),
            );
        }
    }
    let ended = order.saga_ended();
    if ended && matches!(payment, Some("authorized" | "capture_failed")) {
        breaks(3, format!("the saga ended but the payment is {payment:?}"));
    }
    if shipment == Some("DELIVERED") && order.status != "DELIVERED" {
        breaks(
            4,
            format!("the shipment is DELIVERED, the order {}", order.status),
        );
    }
    if let (Some(ours), Some((_, Some(theirs)))) = (order.courier, &order.shipment)
        && ours != *theirs
    {
        breaks(
            4,
            format!("the order's courier is {ours}, the shipment's {theirs}"),
        );
    }
    match &order.saga {
        None => breaks(5, "no saga".into()),
        Some((state, reason, unresolved)) => {
            if !ended {
                breaks(5, format!("its saga is still {state}"));
            }
            if state == "failed" {
                breaks(
                    5,
                    format!("its saga failed ({reason:?}, unresolved {unresolved})"),
                );
            }
        }
    }
    if order.imbalance != 0 {
        breaks(5, format!("its ledger is off by {}", order.imbalance));
    }
    broken
}
