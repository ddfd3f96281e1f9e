//! Demo accounts: registered once, with the role an administrator grants them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{client::Client, config::Config, error::SeedError, report::Report};

/// A demo account signed in: its id and a token that carries its roles.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub token: String,
}

/// The administrator's token in `ADMIN_TOKEN_FILE`, if one is configured.
pub(crate) fn token_from_file(config: &Config) -> Result<Option<String>, SeedError> {
    let Some(file) = &config.admin_token_file else {
        return Ok(None);
    };
    let token = std::fs::read_to_string(file).map_err(|err| SeedError::TokenFile {
        file: file.display().to_string(),
        detail: err.to_string(),
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(SeedError::TokenFile {
            file: file.display().to_string(),
            detail: "it is empty".to_owned(),
        });
    }
    Ok(Some(token.to_owned()))
}

/// The administrator's token.
pub(crate) async fn administrator(client: &Client, config: &Config) -> Result<String, SeedError> {
    let (status, answer) = log_in(client, &config.admin_email, &config.admin_password).await?;
    let refused = |detail: &str| SeedError::Administrator {
        email: config.admin_email.clone(),
        detail: detail.to_owned(),
    };
    let must_enrol = answer["required_actions"]
        .as_array()
        .is_some_and(|actions| actions.iter().any(|action| action == "mfa_enrolment"));
    match answer["access_token"].as_str() {
        Some(_) if must_enrol => Err(refused(
            "administrators must enrol a TOTP authenticator first (ADMIN_MFA_REQUIRED); \
             seed with ADMIN_MFA_REQUIRED=false, on a stack of your own only",
        )),
        Some(token) if status == 200 => Ok(token.to_owned()),
        _ => Err(refused(answer["detail"].as_str().unwrap_or("refused"))),
    }
}

/// The account `email`, registered if it is not yet, holding `role` (granted by `admin`) if
/// one is given.
pub(crate) async fn ensure(
    client: &Client,
    config: &Config,
    admin: &str,
    (email, name, role): (&str, &str, Option<&str>),
    report: &mut Report,
) -> Result<Account, SeedError> {
    let mut body = json!({"email": email, "password": config.password, "display_name": name});
    if let Some(role) = role {
        body["role"] = json!(role);
    }
    let (status, _) = client
        .expect(
            Method::POST,
            "/auth/register",
            None,
            Some(&body),
            &[201, 409],
        )
        .await?;
    report.count(status == 201, format!("account {email}"));
    let mut token = token_of(client, email, &config.password).await?;
    let (_, me) = client
        .expect(Method::GET, "/auth/me", Some(&token), None, &[200])
        .await?;
    let id = me["id"].as_str().unwrap_or_default().to_owned();
    if let Some(role) = role {
        let held = holds(&me, role);
        if !held {
            client
                .expect(
                    Method::POST,
                    &format!("/auth/admin/users/{id}/roles"),
                    Some(admin),
                    Some(&json!({"role": role})),
                    &[200],
                )
                .await?;
            // The role is in the next token only.
            token = token_of(client, email, &config.password).await?;
        }
        report.count(!held, format!("role {role} of {email}"));
    }
    Ok(Account { id, token })
}

fn holds(me: &Value, role: &str) -> bool {
    me["roles"]
        .as_array()
        .is_some_and(|roles| roles.iter().any(|held| held == role))
}

/// A token of `email`'s. Only a refused password means the account is someone else's (a
/// rate-limited sign-in has been waited out by the client).
async fn token_of(client: &Client, email: &str, password: &str) -> Result<String, SeedError> {
    let (status, answer) = log_in(client, email, password).await?;
    match (status, answer["access_token"].as_str()) {
        (200, Some(token)) => Ok(token.to_owned()),
        (401, _) => Err(SeedError::ForeignAccount {
            email: email.to_owned(),
        }),
        (status, _) => Err(SeedError::Refused {
            call: "POST /auth/login".to_owned(),
            status,
            detail: answer["detail"].as_str().unwrap_or_default().to_owned(),
        }),
    }
}

async fn log_in(client: &Client, email: &str, password: &str) -> Result<(u16, Value), SeedError> {
    let body = json!({"email": email, "password": password});
    client
        .call(Method::POST, "/auth/login", None, Some(&body))
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use axum::{
        Json, Router,
        http::{StatusCode, header},
        routing::post,
    };
    use clap::Parser as _;

    use super::*;

    /// A gateway whose sign-in answers `answers` in turn (the last one for ever after), and
    /// how many sign-ins it was asked.
    async fn gateway(answers: &'static [u16]) -> (Client, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&asked);
        let login = post(move || {
            let turn = counted.fetch_add(1, Ordering::SeqCst);
            let status = answers[turn.min(answers.len() - 1)];
            async move {
                let body = match status {
                    200 => json!({"access_token": "a-token"}),
                    _ => json!({"detail": "refused here"}),
                };
                let status = StatusCode::from_u16(status).expect("a status");
                (status, [(header::RETRY_AFTER, "1")], Json(body))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        tokio::spawn(async move {
            axum::serve(listener, Router::new().route("/auth/login", login)).await
        });
        let config = Config::try_parse_from(["seed", "--gateway-url", &url]).expect("parses");
        (Client::new(&config), asked)
    }

    #[tokio::test]
    async fn a_rate_limited_sign_in_is_waited_out_and_then_taken() {
        let (client, asked) = gateway(&[429, 429, 200]).await;
        let token = token_of(&client, "courier1@demo.test", "pw")
            .await
            .expect("signed in once the limit has passed");
        assert_eq!(token, "a-token");
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn only_a_refused_password_calls_the_account_someone_else_s() {
        let (client, _) = gateway(&[401]).await;
        let foreign = token_of(&client, "owner@demo.test", "pw").await;
        assert!(
            matches!(&foreign, Err(SeedError::ForeignAccount { email }) if email == "owner@demo.test"),
            "{foreign:?}"
        );

        let (client, asked) = gateway(&[503]).await;
        let refused = token_of(&client, "owner@demo.test", "pw").await;
        assert!(
            matches!(&refused, Err(SeedError::Refused { status: 503, detail, .. }) if detail == "refused here"),
            "{refused:?}"
        );
        assert_eq!(asked.load(Ordering::SeqCst), 1, "not asked again");
    }
}
