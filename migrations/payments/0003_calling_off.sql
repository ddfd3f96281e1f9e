-- A payment can be called off before its authorization arrives (the order saga voids an
-- authorization it stopped waiting for): it is kept as `cancelled`, without ledger lines,
-- so that the late authorization is refused instead of holding the customer's money.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN
    ('authorized', 'declined', 'captured', 'capture_failed', 'voided', 'refunded', 'partially_refunded', 'cancelled'));
