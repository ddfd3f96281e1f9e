//! One order's life as its customer, its restaurant and its courier play it: placed with a
//! card drawn from the test cards, then perhaps cancelled, moved along by the kitchen and
//! picked up and handed over by the courier, each at a moment drawn at random, whatever the
//! saga is doing meanwhile.

use std::time::Duration;

use rand::{Rng, rngs::StdRng};
use serde_json::Value;

use super::{cast::Cast, cast::Session, history::History};
use crate::platform::order_body;

/// Every test card, as often as a run should see it.
const CARDS: [(&str, u32); 5] = [
    ("pm_card_ok", 12),
    ("pm_card_capture_fails", 3),
    ("pm_card_declined", 2),
    ("pm_card_insufficient_funds", 1),
    ("pm_unknown_token", 1),
];

/// What one order's people will do, drawn before the run from its seed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub card: &'static str,
    /// The customer cancels this long after placing it.
    pub cancel_after: Option<Duration>,
    /// The kitchen starts this long after, and takes this many of its three steps.
    pub kitchen: Option<(Duration, usize)>,
    /// The courier tries to pick up this long after the order has one, then hands over
    /// this long after.
    pub courier: (Duration, Duration),
}

impl Plan {
    /// Draws a plan.
    pub fn draw(rng: &mut StdRng) -> Self {
        let total: u32 = CARDS.iter().map(|(_, weight)| weight).sum();
        let mut pick = rng.gen_range(0..total);
        let card = CARDS
            .iter()
            .find(|(_, weight)| {
                let hit = pick < *weight;
                pick = pick.saturating_sub(*weight);
                hit
            })
            .map_or("pm_card_ok", |(card, _)| card);
        let within = |rng: &mut StdRng, most: u64| Duration::from_millis(rng.gen_range(0..most));
        let cancel_after = rng.gen_bool(0.35).then(|| within(rng, 4000));
        let kitchen = rng
            .gen_bool(0.5)
            .then(|| (within(rng, 3000), rng.gen_range(1..=3)));
        // Couriers always come and hand over, sooner or later, so that they are free again
        // for the orders after.
        let courier = (within(rng, 2000), within(rng, 3000));
        Self {
            card,
            cancel_after,
            kitchen,
            courier,
        }
    }
}

/// Plays `plan` as `customer`; the order's id if it was placed.
pub async fn live(
    cast: &Cast,
    customer: &Session,
    plan: Plan,
    history: &History,
) -> Option<String> {
    let body = order_body(&cast.menu, plan.card);
    // As a client would: the same key again while the platform answers 5xx, for a while.
    let key = uuid::Uuid::now_v7().to_string();
    let mut answer = (0, Value::Null);
    for _ in 0..20 {
        answer = customer.place(&body, &key).await;
        if answer.0 < 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, order) = answer;
    let Some(id) = order["id"]
        .as_str()
        .filter(|_| matches!(status, 200 | 201))
        .map(str::to_owned)
    else {
        history.note(format!(
            "an order could not be placed: {status} {}",
            kind(&order)
        ));
        return None;
    };
    history.order(
        &id,
        format!("placed, paid with {}; plan {plan:?}", plan.card),
    );
    let cancel = async {
        if let Some(after) = plan.cancel_after {
            tokio::time::sleep(after).await;
            let answer = customer.post(&format!("/orders/{id}/cancel")).await;
            history.order(&id, format!("the customer cancels: {}", said(&answer)));
        }
    };
    let kitchen = async {
        if let Some((after, steps)) = plan.kitchen {
            tokio::time::sleep(after).await;
            for step in ["accept", "preparing", "ready"].into_iter().take(steps) {
                let answer = cast.admin.post(&format!("/orders/{id}/{step}")).await;
                history.order(&id, format!("the kitchen's {step}: {}", said(&answer)));
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    };
    let courier = ride(cast, &id, plan.courier, history);
    tokio::join!(cancel, kitchen, courier);
    Some(id)
}

/// The courier the order was given, as soon as it has one, waits `after`, picks it up
/// (asking again while it is held, for a while), then hands it over after `hand_over`.
async fn ride(cast: &Cast, id: &str, (after, hand_over): (Duration, Duration), history: &History) {
    // Up to a minute each for the saga to give it a courier, and to release it: faults
    // may hold it that long, and a courier who walked away would stay busy for good.
    let mut order = Value::Null;
    for _ in 0..300 {
        (_, order) = cast.admin.get(&format!("/orders/{id}")).await;
        if order["courier_id"].is_string() || order["status"].as_str() != Some("PENDING") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let Some(rider) = order["courier_id"]
        .as_str()
        .and_then(|courier| cast.couriers.get(courier))
    else {
        history.order(
            id,
            format!("no courier to ride it (order is {})", order["status"]),
        );
        return;
    };
    tokio::time::sleep(after).await;
    let mut answer = (0, Value::Null);
    for _ in 0..240 {
        answer = rider.post(&format!("/delivery/{id}/picked-up")).await;
        if kind(&answer.1) != "shipment-held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    history.order(id, format!("the courier picks up: {}", said(&answer)));
    if answer.0 != 200 {
        return;
    }
    tokio::time::sleep(hand_over).await;
    let answer = rider.post(&format!("/delivery/{id}/delivered")).await;
    history.order(id, format!("the courier hands over: {}", said(&answer)));
}

/// A problem's type, without its path.
fn kind(body: &Value) -> &str {
    body["type"]
        .as_str()
        .and_then(|kind| kind.rsplit('/').next())
        .unwrap_or("")
}

fn said((status, body): &(u16, Value)) -> String {
    match body["status"].as_str() {
        Some(order) => format!("{status} (order {order})"),
        None => format!("{status} {}", kind(body)),
    }
}
