//! Request bodies the tests of several binaries share.

use serde_json::{Value, json};

/// A restaurant at Lyon named `name`, serving `cuisine`, open every day all day.
pub fn restaurant(name: &str, cuisine: &str) -> Value {
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    json!({
        "name": name,
        "cuisine": cuisine,
        "address": {"street": "1 Main St", "city": "Lyon", "postal_code": "69001", "country": "FR"},
        "location": {"lat": 45.76, "lon": 4.83},
        "opening_hours": days.iter().map(|day| json!({"day": day, "opens": "00:00", "closes": "24:00"})).collect::<Vec<_>>(),
    })
}

/// A menu of one available dish at `amount` euro cents.
pub fn menu_of_one(amount: i64) -> Value {
    json!({"categories": [{"name": "Mains", "items": [
        {"name": "Quiche", "price": {"amount": amount, "currency": "EUR"}, "available": true},
    ]}]})
}
