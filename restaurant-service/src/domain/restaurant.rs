use serde::{Deserialize, Serialize};
use shared::FieldError;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    hours::{OpeningHours, OpeningHoursDto},
    text,
};

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "FR")]
    pub country: String,
}

/// A point on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// -90 to 90.
    pub lat: f64,
    /// -180 to 180.
    pub lon: f64,
}

/// The body of `POST /restaurants` and `PUT /restaurants/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestaurantInput {
    #[schema(example = "Chez Ada")]
    pub name: String,
    #[schema(example = "French")]
    pub cuisine: String,
    pub address: Address,
    pub location: Location,
    pub opening_hours: Vec<OpeningHoursDto>,
    /// Who owns it; only an admin may name someone else (defaults to the caller).
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

/// A restaurant's fields once valid.
#[derive(Debug, Clone)]
pub struct RestaurantFields {
    pub name: String,
    pub cuisine: String,
    pub address: Address,
    pub location: Location,
    pub opening_hours: Vec<OpeningHours>,
}

impl RestaurantFields {
    /// Checks every field, reporting all the invalid ones at once.
    pub fn parse(input: &RestaurantInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = text(&mut errors, "name", &input.name, 100);
        let cuisine = text(&mut errors, "cuisine", &input.cuisine, 50);
        let address = Address {
            street: text(&mut errors, "address.street", &input.address.street, 200),
            city: text(&mut errors, "address.city", &input.address.city, 100),
            postal_code: text(
                &mut errors,
                "address.postal_code",
                &input.address.postal_code,
                20,
            ),
            country: input.address.country.trim().to_ascii_uppercase(),
        };
        if address.country.len() != 2 || !address.country.chars().all(|c| c.is_ascii_uppercase()) {
            errors.push(FieldError::new(
                "address.country",
                "must be a two-letter country code",
            ));
        }
        let Location { lat, lon } = input.location;
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            errors.push(FieldError::new(
                "location.lat",
                "must be between -90 and 90",
            ));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            errors.push(FieldError::new(
                "location.lon",
                "must be between -180 and 180",
            ));
        }
        if input.opening_hours.len() > 50 {
            errors.push(FieldError::new(
                "opening_hours",
                "must have at most 50 periods",
            ));
        }
        let mut opening_hours = Vec::new();
        for (index, dto) in input.opening_hours.iter().enumerate() {
            match OpeningHours::parse(dto) {
                Ok(hours) => opening_hours.push(hours),
                Err(detail) => {
                    errors.push(FieldError::new(format!("opening_hours[{index}]"), detail))
                }
            }
        }
        if errors.is_empty() {
            Ok(Self {
                name,
                cuisine,
                address,
                location: input.location,
                opening_hours,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn input() -> RestaurantInput {
        RestaurantInput {
            name: " Chez Ada ".into(),
            cuisine: "French".into(),
            address: Address {
                street: "1 rue X".into(),
                city: "Paris".into(),
                postal_code: "75001".into(),
                country: "fr".into(),
            },
            location: Location {
                lat: 48.86,
                lon: 2.35,
            },
            opening_hours: vec![OpeningHoursDto {
                day: "monday".into(),
                opens: "11:00".into(),
                closes: "22:00".into(),
            }],
            owner_id: None,
        }
    }

    fn fields_of(input: &RestaurantInput) -> Vec<String> {
        RestaurantFields::parse(input)
            .expect_err("invalid")
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn a_valid_restaurant_is_normalised() {
        let fields = RestaurantFields::parse(&input()).expect("valid");
        assert_eq!(fields.name, "Chez Ada");
        assert_eq!(fields.address.country, "FR");
    }

    #[test]
    fn coordinates_out_of_range_are_named() {
        let mut bad = input();
        bad.location = Location {
            lat: 91.0,
            lon: f64::NAN,
        };
        assert_eq!(fields_of(&bad), ["location.lat", "location.lon"]);
    }

    #[test]
    fn bad_hours_are_named_by_their_index() {
        let mut bad = input();
        bad.opening_hours.push(OpeningHoursDto {
            day: "monday".into(),
            opens: "23:00".into(),
            closes: "22:00".into(),
        });
        assert_eq!(fields_of(&bad), ["opening_hours[1]"]);
    }

    #[test]
    fn empty_names_and_bad_countries_are_named() {
        let mut bad = input();
        bad.name = "  ".into();
        bad.address.country = "France".into();
        assert_eq!(fields_of(&bad), ["name", "address.country"]);
    }
}
