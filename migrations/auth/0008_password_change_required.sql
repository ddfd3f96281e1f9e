-- An account whose password was generated (the first administrator's, when none was
-- configured) must choose its own at its first sign-in; setting a password clears it.
ALTER TABLE users ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
