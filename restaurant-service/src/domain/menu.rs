use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use shared::FieldError;
use utoipa::ToSchema;
use uuid::Uuid;

use super::text;

/// The most a single item may cost, in minor units.
const MAX_PRICE: i64 = 100_000_000;

/// An amount of money in minor units (cents) with its ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units; > 0.
    #[schema(example = 1250)]
    pub amount: i64,
    #[schema(example = "EUR")]
    pub currency: String,
}

/// A dish as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuItemInput {
    /// Kept when given (so orders can refer to it across edits); new items get one.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub price: Money,
    /// Whether it can be ordered now (default true).
    #[serde(default = "yes")]
    pub available: bool,
}

fn yes() -> bool {
    true
}

/// A section of the menu as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuCategoryInput {
    pub name: String,
    pub items: Vec<MenuItemInput>,
}

/// The body of `PUT /restaurants/{id}/menu`: the whole menu.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuInput {
    pub categories: Vec<MenuCategoryInput>,
}

/// A dish as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MenuItem {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub price: Money,
    pub available: bool,
}

/// A section of the menu as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MenuCategory {
    pub name: String,
    pub items: Vec<MenuItem>,
}

/// Checks a whole menu, naming every invalid field by its path.
pub fn parse_menu(input: &MenuInput) -> Result<Vec<MenuCategory>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let item_count: usize = input
        .categories
        .iter()
        .map(|category| category.items.len())
        .sum();
    if input.categories.len() > 50 || item_count > 500 {
        errors.push(FieldError::new(
            "categories",
            "at most 50 categories and 500 items",
        ));
    }
    let categories = input
        .categories
        .iter()
        .enumerate()
        .map(|(c, category)| MenuCategory {
            name: text(
                &mut errors,
                &format!("categories[{c}].name"),
                &category.name,
                100,
            ),
            items: category
                .items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let path = format!("categories[{c}].items[{i}]");
                    let id = item.id.unwrap_or_else(Uuid::now_v7).to_string();
                    if !seen.insert(id.clone()) {
                        errors.push(FieldError::new(format!("{path}.id"), "is used twice"));
                    }
                    let description = item
                        .description
                        .as_deref()
                        .map(|d| text(&mut errors, &format!("{path}.description"), d, 500));
                    check_price(&mut errors, &path, &item.price);
                    MenuItem {
                        id,
                        name: text(&mut errors, &format!("{path}.name"), &item.name, 100),
                        description,
                        price: Money {
                            amount: item.price.amount,
                            currency: item.price.currency.trim().to_ascii_uppercase(),
                        },
                        available: item.available,
                    }
                })
                .collect(),
        })
        .collect();
    if errors.is_empty() {
        Ok(categories)
    } else {
        Err(errors)
    }
}

fn check_price(errors: &mut Vec<FieldError>, path: &str, price: &Money) {
    if price.amount <= 0 || price.amount > MAX_PRICE {
        errors.push(FieldError::new(
            format!("{path}.price.amount"),
            "must be a positive amount in minor units",
        ));
    }
    let currency = price.currency.trim();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
        errors.push(FieldError::new(
            format!("{path}.price.currency"),
            "must be a three-letter ISO 4217 code",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, amount: i64) -> MenuItemInput {
        MenuItemInput {
            id: None,
            name: name.into(),
            description: None,
            price: Money {
                amount,
                currency: "eur".into(),
            },
            available: true,
        }
    }

    fn invalid(menu: MenuInput) -> Vec<String> {
        parse_menu(&menu)
            .expect_err("invalid")
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn items_get_ids_and_currencies_are_upper_case() {
        let menu = parse_menu(&MenuInput {
            categories: vec![MenuCategoryInput {
                name: "Mains".into(),
                items: vec![item("Soup", 650)],
            }],
        })
        .expect("valid");
        assert_eq!(menu[0].items[0].price.currency, "EUR");
        assert!(Uuid::parse_str(&menu[0].items[0].id).is_ok());
    }

    #[test]
    fn prices_must_be_positive_minor_units() {
        let menu = MenuInput {
            categories: vec![MenuCategoryInput {
                name: "Mains".into(),
                items: vec![item("Soup", 0), item("Stew", -5)],
            }],
        };
        assert_eq!(
            invalid(menu),
            [
                "categories[0].items[0].price.amount",
                "categories[0].items[1].price.amount"
            ]
        );
    }

    #[test]
    fn an_item_id_used_twice_is_refused() {
        let id = Uuid::now_v7();
        let mut first = item("Soup", 650);
        first.id = Some(id);
        let mut second = item("Stew", 900);
        second.id = Some(id);
        let menu = MenuInput {
            categories: vec![MenuCategoryInput {
                name: "Mains".into(),
                items: vec![first, second],
            }],
        };
        assert_eq!(invalid(menu), ["categories[0].items[1].id"]);
    }
}
