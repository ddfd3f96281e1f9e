-- The event store: each delivery is a stream of events with consecutive versions. The
-- primary key makes a stale writer's append fail (optimistic concurrency). Rows are never
-- updated or deleted.
CREATE TABLE events (
    stream_id   uuid        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, version)
);

-- The state of a long stream at some version, so loading it replays only what came after.
CREATE TABLE snapshots (
    stream_id uuid PRIMARY KEY,
    version   integer NOT NULL,
    state     jsonb   NOT NULL
);

-- Read models, kept by projections and rebuildable from the events alone.
CREATE TABLE delivery_status (
    delivery_id      uuid PRIMARY KEY,
    customer_id      uuid,
    courier_id       uuid,
    status           text        NOT NULL,
    lat              double precision,
    lon              double precision,
    last_location_at timestamptz,
    version          integer     NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE delivery_timeline (
    delivery_id uuid        NOT NULL,
    version     integer     NOT NULL,
    event_type  text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    details     jsonb       NOT NULL,
    PRIMARY KEY (delivery_id, version)
);

CREATE TABLE courier_active_deliveries (
    courier_id  uuid        NOT NULL,
    delivery_id uuid        NOT NULL,
    since       timestamptz NOT NULL,
    PRIMARY KEY (courier_id, delivery_id)
);
