use serde::{Deserialize, Serialize};
use shared::FieldError;
use utoipa::ToSchema;

/// A point on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// -90 to 90.
    pub lat: f64,
    /// -180 to 180.
    pub lon: f64,
}

impl Point {
    /// Names `field.lat` / `field.lon` when out of range.
    pub fn check(&self, field: &str, errors: &mut Vec<FieldError>) {
        if !(self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat)) {
            errors.push(FieldError::new(
                format!("{field}.lat"),
                "must be between -90 and 90",
            ));
        }
        if !(self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon)) {
            errors.push(FieldError::new(
                format!("{field}.lon"),
                "must be between -180 and 180",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_coordinates_are_named() {
        let mut errors = Vec::new();
        Point {
            lat: 95.0,
            lon: f64::INFINITY,
        }
        .check("pickup", &mut errors);
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["pickup.lat", "pickup.lon"]);
    }
}
