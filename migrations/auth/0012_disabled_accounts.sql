-- An account an administrator has disabled: it cannot sign in or refresh, and its sessions
-- were revoked when it was disabled. NULL for an account in use.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
