-- Each registration attempt's client address: one address creates only a few accounts an
-- hour, whatever reaches this service, since each attempt costs a password hash.
CREATE TABLE registration_attempts (
    ip text        NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registration_attempts_ip ON registration_attempts (ip, at);
