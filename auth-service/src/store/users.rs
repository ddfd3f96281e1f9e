use chrono::{DateTime, Utc};
use shared::auth::Role;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// An account as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// The password was generated and must be changed at the next sign-in.
    pub password_change_required: bool,
    /// An administrator has disabled the account.
    pub disabled: bool,
}

const COLUMNS: &str = "id, email, display_name, password_hash, created_at, \
     password_change_required, disabled_at IS NOT NULL AS disabled";

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn find_by_email(db: &PgPool, email: &str) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(db)
        .await
}

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn find_by_id(db: &PgPool, id: Uuid) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Gives `user` a new password hash, one they chose: no change is required any more.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn set_password(
    connection: &mut sqlx::PgConnection,
    user: Uuid,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, password_change_required = false WHERE id = $1",
    )
    .bind(user)
    .bind(password_hash)
    .execute(connection)
    .await
    .map(drop)
}

/// The user's roles, in a stable order.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn roles_of(db: &PgPool, user: Uuid) -> sqlx::Result<Vec<Role>> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user)
            .fetch_all(db)
            .await?;
    Ok(names.iter().filter_map(|name| Role::parse(name)).collect())
}

/// Marks `user`'s password as one to change at the next sign-in.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn require_password_change(
    connection: &mut sqlx::PgConnection,
    user: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_change_required = true WHERE id = $1")
        .bind(user)
        .execute(connection)
        .await
        .map(drop)
}

/// Creates the account with the `customer` role, and records a request for `requested`.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn insert(
    transaction: &mut Transaction<'_, Postgres>,
    email: &str,
    display_name: &str,
    password_hash: &str,
    requested: Option<Role>,
) -> sqlx::Result<(Uuid, DateTime<Utc>)> {
    let id = Uuid::now_v7();
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4) RETURNING created_at",
    )
    .bind(id)
    .bind(email)
    .bind(display_name)
    .bind(password_hash)
    .fetch_one(&mut **transaction)
    .await?;
    grant(transaction, id, Role::Customer, None).await?;
    if let Some(role) = requested {
        sqlx::query("INSERT INTO role_requests (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(role.as_str())
            .execute(&mut **transaction)
            .await?;
    }
    Ok((id, created_at))
}

/// Gives `user` the `role` (idempotent) and settles any request for it.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn grant(
    transaction: &mut Transaction<'_, Postgres>,
    user: Uuid,
    role: Role,
    by: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO user_roles (user_id, role, granted_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(user)
        .bind(role.as_str())
        .bind(by)
        .execute(&mut **transaction)
        .await?;
    sqlx::query("DELETE FROM role_requests WHERE user_id = $1 AND role = $2")
        .bind(user)
        .bind(role.as_str())
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Takes `role` from `user`; whether it was held.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn revoke(
    connection: &mut sqlx::PgConnection,
    user: Uuid,
    role: Role,
) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
        .bind(user)
        .bind(role.as_str())
        .execute(connection)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Disables `user` (`disabled`) or enables it again; whether there is such a user.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn set_disabled(
    connection: &mut sqlx::PgConnection,
    user: Uuid,
    disabled: bool,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
         WHERE id = $1",
    )
    .bind(user)
    .bind(disabled)
    .execute(connection)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Roles the user asked for that await an admin.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn requested_roles(db: &PgPool, user: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT role FROM role_requests WHERE user_id = $1 ORDER BY role")
        .bind(user)
        .fetch_all(db)
        .await
}

/// Whether the user has confirmed a TOTP authenticator.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
/// Whether `user` needs no second factor of its own: it has one, or it is a service account.
pub async fn has_mfa_or_is_a_service(db: &PgPool, user: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)
             OR EXISTS (SELECT 1 FROM users WHERE id = $1 AND service_account)",
    )
    .bind(user)
    .fetch_one(db)
    .await
}

/// Marks `user` as a service account (see [`has_mfa_or_is_a_service`]).
pub async fn mark_service_account(
    transaction: &mut Transaction<'_, Postgres>,
    user: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET service_account = true WHERE id = $1")
        .bind(user)
        .execute(&mut **transaction)
        .await
        .map(drop)
}

pub async fn has_mfa(db: &PgPool, user: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
    )
    .bind(user)
    .fetch_one(db)
    .await
}
