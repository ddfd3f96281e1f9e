-- An account no person signs in to: its password is random and never shown, and its
-- tokens are handed to one program (the demo data set's seed) through a file. It has no
-- second factor to enrol, so ADMIN_MFA_REQUIRED does not hold it back.
ALTER TABLE users ADD COLUMN service_account boolean NOT NULL DEFAULT false;
