-- The saga's countermeasures against what happens meanwhile.
-- A confirmed order the customer cancels is CANCEL_PENDING while its shipment is called off:
-- a semantic lock, under which the restaurant's moves are refused and the courier's are kept.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('PENDING', 'CONFIRMED', 'ACCEPTED', 'PREPARING', 'READY', 'PICKED_UP', 'DELIVERED',
     'CANCEL_PENDING', 'CANCELLED', 'REJECTED'));

-- `cancelling`: the cancellation of a confirmed order runs; `resolved`: an operator closed a
-- failed saga by hand.
ALTER TABLE sagas DROP CONSTRAINT sagas_state_check;
ALTER TABLE sagas ADD CONSTRAINT sagas_state_check CHECK (state IN
    ('running', 'compensating', 'completed', 'cancelling', 'compensated', 'failed', 'resolved'));
-- Compensations that were refused or given up on, each `{step, reason}`: what an operator
-- must see to; the saga goes on with the others and ends `failed` if any is left.
ALTER TABLE sagas ADD COLUMN unresolved jsonb NOT NULL DEFAULT '[]';
-- The status a confirmed order goes back to when its cancellation is refused.
ALTER TABLE sagas ADD COLUMN resume_status text;

ALTER TABLE saga_steps DROP CONSTRAINT saga_steps_outcome_check;
ALTER TABLE saga_steps ADD CONSTRAINT saga_steps_outcome_check CHECK (outcome IN
    ('running', 'succeeded', 'failed', 'timed_out', 'faulted'));

-- What operators did to a saga, and why.
CREATE TABLE saga_actions (
    order_id uuid        NOT NULL REFERENCES sagas (order_id),
    seq      integer     NOT NULL,
    action   text        NOT NULL CHECK (action IN ('retry', 'resolve')),
    actor    uuid        NOT NULL,
    note     text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, seq)
);

-- Facts about an order (a courier's pick-up, a hand-over) that arrived while its saga held
-- it: kept here, on the order's shard, and applied in order once the saga lets go.
CREATE TABLE order_facts (
    order_id    uuid        NOT NULL REFERENCES orders (id),
    message_id  uuid        NOT NULL,
    kind        text        NOT NULL,
    payload     jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, message_id)
);
