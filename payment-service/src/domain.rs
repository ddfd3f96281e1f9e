//! Test payment methods and the rules of amounts.

use serde::Deserialize;
use shared::FieldError;
use utoipa::ToSchema;
use uuid::Uuid;

/// The largest amount one payment may carry, in minor units.
const MAX_AMOUNT: i64 = 10_000_000_000;

/// Test payment-method tokens, in the manner of card processors' test cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCard {
    /// `pm_card_ok`: every step succeeds.
    Succeeds,
    /// `pm_card_declined`: authorization is declined.
    Declined,
    /// `pm_card_insufficient_funds`: authorization is declined for lack of funds.
    InsufficientFunds,
    /// `pm_card_capture_fails`: authorized, but the capture fails.
    CaptureFails,
    /// A token no processor knows (an order may name any): declined.
    Unknown,
}

impl TestCard {
    /// The card a token stands for.
    pub fn parse(token: &str) -> Option<Self> {
        match token {
            "pm_card_ok" => Some(Self::Succeeds),
            "pm_card_declined" => Some(Self::Declined),
            "pm_card_insufficient_funds" => Some(Self::InsufficientFunds),
            "pm_card_capture_fails" => Some(Self::CaptureFails),
            _ => None,
        }
    }

    /// Why authorization is declined, if it is.
    pub fn decline(self) -> Option<&'static str> {
        match self {
            Self::Declined => Some("card_declined"),
            Self::InsufficientFunds => Some("insufficient_funds"),
            Self::Unknown => Some("unknown_payment_method"),
            Self::Succeeds | Self::CaptureFails => None,
        }
    }
}

/// The body of `POST /payments/authorize`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub order_id: Uuid,
    /// The paying customer; defaults to the caller.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    /// Minor units.
    #[schema(example = 2599)]
    pub amount: i64,
    #[schema(example = "EUR")]
    pub currency: String,
    /// A test token: `pm_card_ok`, `pm_card_declined`, `pm_card_insufficient_funds`, `pm_card_capture_fails`.
    #[schema(example = "pm_card_ok")]
    pub payment_method: String,
}

/// An authorization whose fields are valid.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub order_id: Uuid,
    pub amount: i64,
    pub currency: String,
    pub payment_method: String,
    pub card: TestCard,
}

impl Authorization {
    /// Checks every field, reporting all the invalid ones at once.
    pub fn parse(request: &AuthorizeRequest) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_amount(&mut errors, "amount", request.amount);
        let currency = request.currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            errors.push(FieldError::new(
                "currency",
                "must be a three-letter ISO 4217 code",
            ));
        }
        let card = TestCard::parse(request.payment_method.trim());
        if card.is_none() {
            errors.push(FieldError::new(
                "payment_method",
                "is not a known payment method",
            ));
        }
        match card {
            Some(card) if errors.is_empty() => Ok(Self {
                order_id: request.order_id,
                amount: request.amount,
                currency,
                payment_method: request.payment_method.trim().to_owned(),
                card,
            }),
            _ => Err(errors),
        }
    }
}

/// An amount must be positive minor units, and not absurd.
pub fn check_amount(errors: &mut Vec<FieldError>, field: &str, amount: i64) {
    if amount <= 0 || amount > MAX_AMOUNT {
        errors.push(FieldError::new(
            field,
            "must be a positive amount in minor units",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(amount: i64, currency: &str, method: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            order_id: Uuid::now_v7(),
            customer_id: None,
            amount,
            currency: currency.into(),
            payment_method: method.into(),
        }
    }

    #[test]
    fn test_cards_behave_as_documented() {
        assert_eq!(
            TestCard::parse("pm_card_declined").and_then(TestCard::decline),
            Some("card_declined")
        );
        assert_eq!(
            TestCard::parse("pm_card_insufficient_funds").and_then(TestCard::decline),
            Some("insufficient_funds")
        );
        assert_eq!(
            TestCard::parse("pm_card_ok").and_then(TestCard::decline),
            None
        );
        assert_eq!(
            TestCard::parse("pm_card_capture_fails").and_then(TestCard::decline),
            None
        );
        assert_eq!(TestCard::parse("4242424242424242"), None);
    }

    #[test]
    fn every_invalid_field_is_named() {
        let errors = Authorization::parse(&request(0, "euro", "cash")).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["amount", "currency", "payment_method"]);
    }

    #[test]
    fn currencies_are_upper_case() {
        assert_eq!(
            Authorization::parse(&request(100, "eur", "pm_card_ok"))
                .expect("valid")
                .currency,
            "EUR"
        );
    }
}
