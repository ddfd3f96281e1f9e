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

/// A token of `email`'s. The gateway limits sign-ins per address (10 a minute by default),
/// and the seed signs in more often than that: a 429 is waited out, five seconds at a time
/// for two minutes at most. Only a refused password means the account is someone else's.
async fn token_of(client: &Client, email: &str, password: &str) -> Result<String, SeedError> {
    for _ in 0..24 {
        let (status, answer) = log_in(client, email, password).await?;
        match (status, answer["access_token"].as_str()) {
            (200, Some(token)) => return Ok(token.to_owned()),
            (429, _) => tokio::time::sleep(std::time::Duration::from_secs(5)).await,
            (401, _) => {
                return Err(SeedError::ForeignAccount {
                    email: email.to_owned(),
                });
            }
            (status, _) => {
                return Err(SeedError::Refused {
                    call: "POST /auth/login".to_owned(),
                    status,
                    detail: answer["detail"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    Err(SeedError::Refused {
        call: "POST /auth/login".to_owned(),
        status: 429,
        detail: "sign-ins stayed limited for two minutes".to_owned(),
    })
}

async fn log_in(client: &Client, email: &str, password: &str) -> Result<(u16, Value), SeedError> {
    let body = json!({"email": email, "password": password});
    client
        .call(Method::POST, "/auth/login", None, Some(&body))
        .await
}
