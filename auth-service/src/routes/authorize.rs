use axum::{Json, extract::State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::{
    JsonBody, Problem,
    auth::{Permission, Role},
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{account::Account, error::AuthError, state::AppState, store::users};

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

/// Decides from the subject's current roles (not from a token), for a caller that wants a
/// decision fresher than its token. About someone else only for `users:manage`: otherwise
/// anyone could learn who holds which role.
#[utoipa::path(post, path = "/auth/authorize", tag = "permissions", security(("bearer" = [])),
    request_body = AuthorizeRequest,
    responses(
        (status = 200, description = "The decision", body = Decision),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A decision about someone else, without users:manage", body = Problem, content_type = "application/problem+json")))]
pub async fn authorize(
    State(state): State<AppState>,
    caller: Account,
    JsonBody(request): JsonBody<AuthorizeRequest>,
) -> Result<Json<Decision>, AuthError> {
    if request.subject != caller.claims.sub && !caller.has(Permission::USERS_MANAGE) {
        return Err(AuthError::Problem(
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").with_detail(
                "Only `users:manage` may ask about another account; ask about yourself.",
            ),
        ));
    }
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
