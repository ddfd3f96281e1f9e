-- Recovery codes are stored as HMAC-SHA256 of their SHA-256, under a key derived from
-- SIGNING_KEY_SECRET: a copy of the database alone cannot test guesses. Codes stored before
-- as bare SHA-256 are keyed at the next start (`keyed` turns true) and keep working.
ALTER TABLE recovery_codes ADD COLUMN keyed boolean NOT NULL DEFAULT false;
