-- Signing keys at rest are sealed (AEAD) with a secret from configuration: the database
-- alone does not let anyone sign tokens. Keys written before are sealed at the next start.
ALTER TABLE signing_keys ADD COLUMN sealed boolean NOT NULL DEFAULT false;
