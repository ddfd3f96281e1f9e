//! The demo couriers: each with a courier profile, a location, and on duty once created.

use reqwest::Method;
use serde_json::json;

use crate::{
    accounts, client::Client, config::Config, data::Courier, error::SeedError, report::Report,
};

/// `courier`'s account and profile; a new profile is placed at its location and on duty.
/// A profile already there is left as it is (its courier may be on a delivery, or off duty).
pub(crate) async fn ensure(
    client: &Client,
    config: &Config,
    admin: &str,
    courier: &Courier,
    report: &mut Report,
) -> Result<(), SeedError> {
    let account = accounts::ensure(
        client,
        config,
        admin,
        (courier.email, courier.name, Some("courier")),
        report,
    )
    .await?;
    let token = Some(account.token.as_str());
    let profile = json!({"name": courier.name, "vehicle": courier.vehicle});
    let (status, _) = client
        .expect(
            Method::POST,
            "/delivery/couriers",
            token,
            Some(&profile),
            &[201, 409],
        )
        .await?;
    let created = status == 201;
    if created {
        let location = json!({"lat": courier.lat, "lon": courier.lon});
        client
            .expect(
                Method::PUT,
                "/delivery/couriers/me/location",
                token,
                Some(&location),
                &[200],
            )
            .await?;
        let on_duty = json!({"available": true});
        client
            .expect(
                Method::PUT,
                "/delivery/couriers/me/availability",
                token,
                Some(&on_duty),
                &[200],
            )
            .await?;
    }
    report.count(created, format!("courier profile of {}", courier.email));
    Ok(())
}
