-- A courier's profile: a user with the courier role, where they are and whether they work now.
CREATE TABLE couriers (
    user_id     uuid PRIMARY KEY,
    name        text        NOT NULL,
    vehicle     text        NOT NULL CHECK (vehicle IN ('bicycle', 'scooter', 'car', 'foot')),
    available   boolean     NOT NULL DEFAULT false,
    busy        boolean     NOT NULL DEFAULT false,
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    located_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX couriers_free ON couriers (available, busy) WHERE available AND NOT busy;

-- One shipment per order: the saga's shipping step.
CREATE TABLE shipments (
    id          uuid PRIMARY KEY,
    order_id    uuid        NOT NULL UNIQUE,
    customer_id uuid        NOT NULL,
    courier_id  uuid REFERENCES couriers (user_id),
    status      text        NOT NULL CHECK (status IN ('CREATED', 'ASSIGNED', 'PICKED_UP', 'DELIVERED', 'CANCELLED')),
    pickup_lat  double precision NOT NULL,
    pickup_lon  double precision NOT NULL,
    dropoff_lat double precision NOT NULL,
    dropoff_lon double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_courier ON shipments (courier_id) WHERE status IN ('ASSIGNED', 'PICKED_UP');
