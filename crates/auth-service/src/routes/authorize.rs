use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use shared::{
    JsonBody, Problem,
    auth::{AuthUser, Role},
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{error::AuthError, state::AppState, store::users};

/// May `subject` do `permission` (on a resource owned by `resource_owner`)?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub subject: Uuid,
    #[schema(example = "orders:read:own")]
    pub permission: String,
    /// The owner of the resource, for `…:own` permissions.
    #[serde(default)]
    pub resource_owner: Option<Uuid>,
}

/// The decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// Decides from the subject's current roles (not from a token), for callers that need a
/// decision about someone else or want it fresher than a token.
#[utoipa::path(post, path = "/auth/authorize", tag = "permissions", security(("bearer" = [])),
    request_body = AuthorizeRequest,
    responses(
        (status = 200, description = "The decision", body = Decision),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json")))]
pub async fn authorize(
    State(state): State<AppState>,
    _caller: AuthUser,
    JsonBody(request): JsonBody<AuthorizeRequest>,
) -> Result<Json<Decision>, AuthError> {
    let roles = users::roles_of(&state.db, request.subject).await?;
    Ok(Json(decide(
        &roles,
        request.subject,
        &request.permission,
        request.resource_owner,
    )))
}

fn decide(roles: &[Role], subject: Uuid, permission: &str, owner: Option<Uuid>) -> Decision {
    let granted = Role::permissions_of(roles)
        .iter()
        .any(|granted| granted == permission);
    let (allowed, reason) = match (granted, permission.ends_with(":own"), owner) {
        (false, _, _) => (false, format!("no role of the subject grants {permission}")),
        (true, true, Some(owner)) if owner != subject => {
            (false, "the subject does not own the resource".to_owned())
        }
        (true, _, _) => (true, "granted".to_owned()),
    };
    Decision { allowed, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_permissions_hold_only_for_the_owner() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        assert!(decide(&[Role::Customer], me, "orders:read:own", Some(me)).allowed);
        assert!(!decide(&[Role::Customer], me, "orders:read:own", Some(other)).allowed);
        assert!(!decide(&[Role::Customer], me, "orders:read:any", None).allowed);
        assert!(decide(&[Role::Admin], me, "orders:read:any", Some(other)).allowed);
    }
}
