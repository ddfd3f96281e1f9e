-- One payment per order. Amounts are minor units and never negative; what is captured never
-- exceeds what was authorized, and what is refunded never exceeds what was captured.
CREATE TABLE payments (
    id                uuid PRIMARY KEY,
    order_id          uuid        NOT NULL UNIQUE,
    customer_id       uuid        NOT NULL,
    currency          char(3)     NOT NULL,
    payment_method    text        NOT NULL,
    status            text        NOT NULL CHECK (status IN
                          ('authorized', 'declined', 'captured', 'capture_failed', 'voided', 'refunded', 'partially_refunded')),
    authorized_amount bigint      NOT NULL CHECK (authorized_amount > 0),
    captured_amount   bigint      NOT NULL DEFAULT 0 CHECK (captured_amount >= 0 AND captured_amount <= authorized_amount),
    refunded_amount   bigint      NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= captured_amount),
    decline_reason    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_customer ON payments (customer_id, created_at DESC);

-- Double-entry ledger: every operation writes a debit and a credit of the same amount.
CREATE TABLE ledger_entries (
    id         uuid PRIMARY KEY,
    payment_id uuid        NOT NULL REFERENCES payments (id),
    operation  text        NOT NULL,
    account    text        NOT NULL,
    direction  text        NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount     bigint      NOT NULL CHECK (amount > 0),
    currency   char(3)     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_payment ON ledger_entries (payment_id);

-- Idempotency: the first answer to a key is stored and returned for every retry with the
-- same request; another request under the same key is refused.
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    operation    text        NOT NULL,
    request_hash bytea       NOT NULL,
    status_code  smallint    NOT NULL,
    response     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
