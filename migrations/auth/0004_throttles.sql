-- Failed sign-ins are counted from the audit log, per (email, client) and per email, the
-- same way for known and unknown emails, so that nobody can lock an account for everyone
-- from one address, and no answer tells a known email from an unknown one. A success or an
-- administrator's unlock starts the counts again from `failures_reset_at`.
ALTER TABLE users DROP COLUMN failed_attempts;
ALTER TABLE users DROP COLUMN first_failed_at;
ALTER TABLE users DROP COLUMN locked_until;
ALTER TABLE users DROP COLUMN lockouts;
ALTER TABLE users ADD COLUMN failures_reset_at timestamptz;
CREATE INDEX login_audit_email_failures ON login_audit (email, occurred_at) WHERE outcome <> 'success';
