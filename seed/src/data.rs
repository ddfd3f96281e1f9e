//! The demo data set: a handful of restaurants in Lyon with their menus and opening hours,
//! couriers on duty around the city centre, a customer and a restaurant owner.

use serde_json::{Value, json};

/// The demo customer, who places orders.
pub const CUSTOMER: &str = "customer@demo.food-delivery.local";
/// The demo restaurant owner, who owns every demo restaurant.
pub const OWNER: &str = "owner@demo.food-delivery.local";

/// A demo courier: their account, and where they wait.
#[derive(Debug, Clone, Copy)]
pub struct Courier {
    pub email: &'static str,
    pub name: &'static str,
    pub vehicle: &'static str,
    pub lat: f64,
    pub lon: f64,
}

/// The demo couriers, each near a group of restaurants.
pub const COURIERS: [Courier; 4] = [
    Courier {
        email: "courier1@demo.food-delivery.local",
        name: "Camille",
        vehicle: "bicycle",
        lat: 45.7640,
        lon: 4.8357,
    },
    Courier {
        email: "courier2@demo.food-delivery.local",
        name: "Sami",
        vehicle: "scooter",
        lat: 45.7578,
        lon: 4.8320,
    },
    Courier {
        email: "courier3@demo.food-delivery.local",
        name: "Lou",
        vehicle: "bicycle",
        lat: 45.7676,
        lon: 4.8344,
    },
    Courier {
        email: "courier4@demo.food-delivery.local",
        name: "Noor",
        vehicle: "car",
        lat: 45.7600,
        lon: 4.8490,
    },
];

/// A demo restaurant: its fields and its menu.
#[derive(Debug, Clone, Copy)]
pub struct Restaurant {
    pub name: &'static str,
    pub cuisine: &'static str,
    pub street: &'static str,
    pub postal_code: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Opening and closing time every day (UTC), `00:00`-`24:00` for around the clock.
    pub hours: (&'static str, &'static str),
    /// Categories, each with dishes and their price in euro cents.
    pub menu: &'static [(&'static str, &'static [(&'static str, i64)])],
}

/// The demo restaurants; the first is open around the clock, so that a walkthrough works
/// at any hour.
pub const RESTAURANTS: [Restaurant; 5] = [
    Restaurant {
        name: "Bouchon des Terreaux",
        cuisine: "French",
        street: "4 Rue Sainte-Catherine",
        postal_code: "69001",
        lat: 45.7670,
        lon: 4.8330,
        hours: ("00:00", "24:00"),
        menu: &[
            (
                "Starters",
                &[("Salade lyonnaise", 950), ("Oeufs en meurette", 1100)],
            ),
            (
                "Mains",
                &[
                    ("Quenelle de brochet", 1850),
                    ("Andouillette", 1700),
                    ("Poulet au vinaigre", 1900),
                ],
            ),
            ("Desserts", &[("Tarte aux pralines", 750)]),
        ],
    },
    Restaurant {
        name: "Trattoria Saint-Jean",
        cuisine: "Italian",
        street: "12 Rue Saint-Jean",
        postal_code: "69005",
        lat: 45.7620,
        lon: 4.8275,
        hours: ("11:00", "23:00"),
        menu: &[
            (
                "Pizze",
                &[
                    ("Margherita", 1100),
                    ("Diavola", 1350),
                    ("Quattro formaggi", 1400),
                ],
            ),
            ("Pasta", &[("Cacio e pepe", 1300), ("Lasagne", 1450)]),
            ("Dolci", &[("Tiramisu", 650)]),
        ],
    },
    Restaurant {
        name: "Pho Guillotière",
        cuisine: "Vietnamese",
        street: "30 Grande Rue de la Guillotière",
        postal_code: "69007",
        lat: 45.7545,
        lon: 4.8425,
        hours: ("10:00", "22:30"),
        menu: &[
            ("Soups", &[("Pho bo", 1250), ("Bun bo Hue", 1300)]),
            ("Rolls", &[("Nem (4)", 650), ("Goi cuon (2)", 600)]),
        ],
    },
    Restaurant {
        name: "Croix-Rousse Tacos",
        cuisine: "Mexican",
        street: "8 Boulevard de la Croix-Rousse",
        postal_code: "69004",
        lat: 45.7745,
        lon: 4.8290,
        hours: ("11:30", "23:30"),
        menu: &[
            (
                "Tacos",
                &[
                    ("Al pastor (3)", 1150),
                    ("Carnitas (3)", 1150),
                    ("Hongos (3)", 1050),
                ],
            ),
            ("Sides", &[("Guacamole y totopos", 700), ("Elote", 500)]),
        ],
    },
    Restaurant {
        name: "Green Part-Dieu",
        cuisine: "Vegan",
        street: "17 Rue de Bonnel",
        postal_code: "69003",
        lat: 45.7610,
        lon: 4.8520,
        hours: ("08:00", "20:00"),
        menu: &[
            ("Bowls", &[("Buddha bowl", 1250), ("Falafel bowl", 1200)]),
            ("Drinks", &[("Lemonade", 400), ("Kombucha", 450)]),
        ],
    },
];

impl Restaurant {
    /// The body of `POST /restaurants`.
    pub fn body(&self) -> Value {
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
            "name": self.name,
            "cuisine": self.cuisine,
            "address": {"street": self.street, "city": "Lyon", "postal_code": self.postal_code, "country": "FR"},
            "location": {"lat": self.lat, "lon": self.lon},
            "opening_hours": days
                .iter()
                .map(|day| json!({"day": day, "opens": self.hours.0, "closes": self.hours.1}))
                .collect::<Vec<_>>(),
        })
    }

    /// The body of `PUT /restaurants/{id}/menu`.
    pub fn menu_body(&self) -> Value {
        let categories = self.menu.iter().map(|(name, dishes)| {
            let items = dishes.iter().map(|(dish, amount)| {
                json!({"name": dish, "price": {"amount": amount, "currency": "EUR"}, "available": true})
            });
            json!({"name": name, "items": items.collect::<Vec<_>>()})
        });
        json!({"categories": categories.collect::<Vec<_>>()})
    }
}
