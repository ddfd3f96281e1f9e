-- Roles held by a user; every user has at least `customer`.
CREATE TABLE user_roles (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('customer', 'restaurant_owner', 'courier', 'admin')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by uuid,
    PRIMARY KEY (user_id, role)
);

-- A role asked for at registration that needs an admin's grant.
CREATE TABLE role_requests (
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text        NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);

-- Failed-login tracking per account; `lockouts` makes each lock longer than the last.
ALTER TABLE users
    ADD COLUMN failed_attempts   integer     NOT NULL DEFAULT 0,
    ADD COLUMN first_failed_at   timestamptz,
    ADD COLUMN locked_until      timestamptz,
    ADD COLUMN lockouts          integer     NOT NULL DEFAULT 0;

-- Every login attempt: who, when, from where, and how it ended.
CREATE TABLE login_audit (
    id          uuid PRIMARY KEY,
    user_id     uuid,
    email       text        NOT NULL,
    ip          text        NOT NULL,
    user_agent  text,
    outcome     text        NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_audit_ip_failures ON login_audit (ip, occurred_at) WHERE outcome <> 'success';
CREATE INDEX login_audit_user ON login_audit (user_id, occurred_at);

-- One session per login; revoking it stops its refresh tokens at once.
CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device       text,
    ip           text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    revoked_why  text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens, stored as SHA-256 of the opaque token; each is used once.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Ed25519 signing keys. The newest is used to sign; older ones stay published until the
-- tokens they signed have expired.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_der bytea       NOT NULL,
    public_x    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

-- TOTP enrolment; `last_step` refuses a code used once already.
CREATE TABLE mfa_totp (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       text        NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint      NOT NULL DEFAULT 0
);

-- One-time recovery codes, stored as SHA-256 (they are random, not chosen by people).
CREATE TABLE recovery_codes (
    user_id   uuid  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A password check passed by an MFA user, waiting for the second factor.
CREATE TABLE mfa_challenges (
    id         uuid PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip         text        NOT NULL,
    device     text,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
