-- TOTP secrets are sealed at rest like the signing keys (ChaCha20-Poly1305 under
-- SIGNING_KEY_SECRET, each bound to its account). Secrets stored before in the clear are
-- sealed at the next start, which empties `secret`; until then they are read as they are.
ALTER TABLE mfa_totp ADD COLUMN sealed_secret bytea;
ALTER TABLE mfa_totp ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE mfa_totp ADD CONSTRAINT mfa_totp_has_a_secret
    CHECK (secret IS NOT NULL OR sealed_secret IS NOT NULL);
