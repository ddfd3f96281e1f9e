//! What an account must do before its tokens carry all its roles.

use shared::auth::Role;
use uuid::Uuid;

use super::users;
use crate::state::AppState;

/// The action of an administrator who must enrol a second factor (`ADMIN_MFA_REQUIRED`).
pub const MFA_ENROLMENT: &str = "mfa_enrolment";

/// Whether `user`, holding `roles`, is an administrator who must enrol a second factor (a
/// service account has none to enrol).
pub async fn must_enrol_mfa(state: &AppState, user: Uuid, roles: &[Role]) -> sqlx::Result<bool> {
    Ok(state.admin_mfa_required
        && roles.contains(&Role::Admin)
        && !users::has_mfa_or_is_a_service(&state.db, user).await?)
}
