//! The caller of an authenticated route at auth-service. Other binaries trust a token until
//! it expires; here, where sessions, credentials and roles are managed, a token is honoured
//! only while its session is live, and what the caller may do is read from the roles the
//! database holds now, not from the roles the token claims.

use axum::extract::FromRequestParts;
use http::{StatusCode, request::Parts};
use shared::{
    Problem,
    auth::{AuthUser, Claims, Permission, Role},
};

use crate::{
    attempt::Attempt,
    client::ClientInfo,
    error::AuthError,
    state::AppState,
    store::{
        lockout::Outcome,
        required_actions, sessions,
        users::{self, UserRecord},
    },
};

/// A valid token of a live session, with the account's current roles.
#[derive(Debug, Clone)]
pub struct Account {
    pub claims: Claims,
    pub roles: Vec<Role>,
}

impl Account {
    /// Whether the account's current roles grant `permission`.
    pub fn has(&self, permission: &str) -> bool {
        Role::permissions_of(&self.roles)
            .iter()
            .any(|granted| granted == permission)
    }
}

impl Account {
    /// Asks for the account's password again before a change to how it signs in (step-up),
    /// so that a stolen access token alone cannot take the account over. Wrong passwords
    /// count as failed sign-ins: throttled and audited alike, so that the check cannot be
    /// used to guess the password either.
    pub async fn confirm_password(
        &self,
        state: &AppState,
        client: &ClientInfo,
        password: String,
    ) -> Result<UserRecord, AuthError> {
        let user = users::find_by_id(&state.db, self.claims.sub)
            .await?
            .ok_or(AuthError::SessionEnded)?;
        let attempt = Attempt {
            db: &state.db,
            email: &user.email,
            client,
        };
        attempt.admit(Some(user.id), &state.lockout).await?;
        let verified = state
            .hasher
            .verify_blocking(password, Some(user.password_hash.clone()))
            .await;
        if !verified {
            attempt
                .record(Some(user.id), Outcome::WrongPassword)
                .await?;
            return Err(AuthError::WrongPassword);
        }
        Ok(user)
    }
}

impl FromRequestParts<AppState> for Account {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let AuthUser(claims) = AuthUser::from_request_parts(parts, state).await?;
        if !sessions::is_active(&state.db, claims.sub, claims.sid).await? {
            return Err(AuthError::SessionEnded);
        }
        let roles = users::roles_of(&state.db, claims.sub).await?;
        Ok(Self { claims, roles })
    }
}

/// An account whose current roles grant `users:manage` and, with `ADMIN_MFA_REQUIRED`,
/// that has enrolled a second factor. Checked before the request's body is read, so that
/// someone else learns nothing from how a body would be judged.
#[derive(Debug, Clone)]
pub struct Administrator(pub Account);

impl FromRequestParts<AppState> for Administrator {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let account = Account::from_request_parts(parts, state).await?;
        if account.has(Permission::USERS_MANAGE) {
            if required_actions::must_enrol_mfa(state, account.claims.sub, &account.roles).await? {
                return Err(AuthError::MfaEnrolmentRequired);
            }
            Ok(Self(account))
        } else {
            Err(AuthError::Problem(
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").with_detail(format!(
                    "This action needs the permission `{}`.",
                    Permission::USERS_MANAGE
                )),
            ))
        }
    }
}
