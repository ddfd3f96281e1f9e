use serde::Deserialize;
use shared::{FieldError, auth::Role};
use utoipa::ToSchema;

use crate::password::is_common;

const MAX_EMAIL: usize = 254;
const MIN_PASSWORD: usize = 12;
// Bounded so that hashing cost cannot be driven up by a huge password.
const MAX_PASSWORD: usize = 128;
const MAX_DISPLAY_NAME: usize = 100;

/// The body of `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Login email; stored trimmed and lower-case.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 12 to 128 characters, not the email.
    #[schema(example = "correct horse battery staple", format = Password)]
    pub password: String,
    /// Name shown to restaurants and couriers.
    #[schema(example = "Ada Lovelace")]
    pub display_name: String,
    /// `customer` (the default), or `restaurant_owner` / `courier`, which an admin grants.
    #[serde(default)]
    #[schema(example = "customer")]
    pub role: Option<String>,
}

/// A registration whose every field is valid.
#[derive(Debug)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub display_name: String,
    /// A role beyond `customer` that awaits an admin's grant.
    pub requested_role: Option<Role>,
}

impl NewUser {
    /// Checks every field, reporting all the invalid ones at once.
    pub fn parse(request: RegisterRequest) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = request.email.trim().to_lowercase();
        if let Err(detail) = check_email(&email) {
            errors.push(FieldError::new("email", detail));
        }
        if let Err(detail) = check_password(&request.password, &email) {
            errors.push(FieldError::new("password", detail));
        }
        let display_name = request.display_name.trim().to_owned();
        if display_name.is_empty() {
            errors.push(FieldError::new("display_name", "must not be empty"));
        } else if display_name.chars().count() > MAX_DISPLAY_NAME {
            errors.push(FieldError::new(
                "display_name",
                format!("must have at most {MAX_DISPLAY_NAME} characters"),
            ));
        } else if display_name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "display_name",
                "must not contain control characters",
            ));
        }
        let requested_role = match request.role.as_deref().map(Role::parse) {
            None | Some(Some(Role::Customer)) => None,
            Some(Some(role @ (Role::RestaurantOwner | Role::Courier))) => Some(role),
            Some(Some(Role::Admin)) => {
                errors.push(FieldError::new("role", "cannot be requested"));
                None
            }
            Some(None) => {
                errors.push(FieldError::new(
                    "role",
                    "must be customer, restaurant_owner or courier",
                ));
                None
            }
        };
        if errors.is_empty() {
            Ok(Self {
                email,
                password: request.password,
                display_name,
                requested_role,
            })
        } else {
            Err(errors)
        }
    }
}

/// The password policy, for every password an account is given: 12 to 128 characters, not
/// the email, not a common password.
pub fn check_password(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD {
        Err(format!("must have at least {MIN_PASSWORD} characters"))
    } else if chars > MAX_PASSWORD {
        Err(format!("must have at most {MAX_PASSWORD} characters"))
    } else if password.trim().to_lowercase() == email {
        Err("must not be the email".to_owned())
    } else if is_common(password) {
        Err("is too common; choose another".to_owned())
    } else {
        Ok(())
    }
}

/// A pragmatic syntax check: one `@`, a local part, a dotted domain, no spaces. Whether the
/// mailbox exists is for a confirmation email to find out, not a regular expression.
fn check_email(email: &str) -> Result<(), String> {
    if email.len() > MAX_EMAIL {
        return Err(format!("must have at most {MAX_EMAIL} characters"));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err("is not an email address".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(email: &str, password: &str, display_name: &str) -> RegisterRequest {
        RegisterRequest {
            email: email.into(),
            password: password.into(),
            display_name: display_name.into(),
            role: None,
        }
    }

    fn invalid_fields(request: RegisterRequest) -> Vec<String> {
        NewUser::parse(request)
            .expect_err("the request is invalid")
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn a_valid_registration_is_normalised() {
        let user = NewUser::parse(request(
            "  Ada@Example.COM ",
            "a long enough password",
            " Ada ",
        ))
        .expect("valid");
        assert_eq!(user.email, "ada@example.com");
        assert_eq!(user.display_name, "Ada");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for email in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@.com",
        ] {
            assert_eq!(
                invalid_fields(request(email, "a long enough password", "Ada")),
                ["email"],
                "{email:?}"
            );
        }
    }

    #[test]
    fn passwords_must_be_long_bounded_and_not_the_email() {
        assert_eq!(
            invalid_fields(request("ada@example.com", "short", "Ada")),
            ["password"]
        );
        assert_eq!(
            invalid_fields(request("ada@example.com", &"x".repeat(129), "Ada")),
            ["password"]
        );
        assert_eq!(
            invalid_fields(request("ada@example.com", "ADA@example.com", "Ada")),
            ["password"]
        );
    }

    #[test]
    fn common_passwords_are_refused() {
        assert_eq!(
            invalid_fields(request("ada@example.com", "Password123456", "Ada")),
            ["password"]
        );
    }

    #[test]
    fn owner_and_courier_roles_are_requests_and_admin_is_refused() {
        let mut owner = request("ada@example.com", "a long enough password", "Ada");
        owner.role = Some("restaurant_owner".into());
        assert_eq!(
            NewUser::parse(owner).expect("valid").requested_role,
            Some(Role::RestaurantOwner)
        );
        let mut admin = request("ada@example.com", "a long enough password", "Ada");
        admin.role = Some("admin".into());
        assert_eq!(invalid_fields(admin), ["role"]);
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        assert_eq!(
            invalid_fields(request("nope", "short", " ")),
            ["email", "password", "display_name"]
        );
    }
}
