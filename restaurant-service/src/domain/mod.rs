//! What a restaurant and its menu are, and what makes them valid.

pub mod hours;
pub mod menu;
pub mod restaurant;

use shared::FieldError;

/// Checks a required text field: trimmed, not empty, at most `max` characters.
fn text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must have at most {max} characters"),
        ));
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    value.to_owned()
}
