-- Where an order is picked up: the restaurant's position when it was placed, for the
-- shipment the saga creates. (Where it goes is the address's optional position.)
ALTER TABLE orders ADD COLUMN pickup_lat double precision CHECK (pickup_lat BETWEEN -90 AND 90);
ALTER TABLE orders ADD COLUMN pickup_lon double precision CHECK (pickup_lon BETWEEN -180 AND 180);

-- The order saga, on the order's shard, written in the same transaction as the order at
-- every step, so that a restarted order-service resumes each saga where it stood.
CREATE TABLE sagas (
    order_id         uuid PRIMARY KEY REFERENCES orders (id),
    state            text        NOT NULL CHECK (state IN ('running', 'compensating', 'completed', 'compensated', 'failed')),
    -- The step under way, or the last one once the saga is over.
    step             text        NOT NULL,
    attempt          integer     NOT NULL CHECK (attempt > 0),
    -- When the current attempt counts as unanswered; NULL once the saga is over.
    deadline         timestamptz,
    cancel_requested boolean     NOT NULL DEFAULT false,
    -- Compensations still to run after the current one, in order.
    pending          text[]      NOT NULL DEFAULT '{}',
    -- The order's status once the saga is over: CONFIRMED, REJECTED or CANCELLED.
    ending           text,
    reason           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sagas_deadline ON sagas (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX sagas_state ON sagas (state, order_id DESC);

-- Every step the saga took, its attempts and how it ended: its inspectable history.
CREATE TABLE saga_steps (
    order_id     uuid        NOT NULL REFERENCES sagas (order_id),
    seq          integer     NOT NULL,
    step         text        NOT NULL,
    compensation boolean     NOT NULL,
    attempts     integer     NOT NULL CHECK (attempts > 0),
    outcome      text        NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'timed_out')),
    detail       text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (order_id, seq)
);
