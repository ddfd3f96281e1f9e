-- Orders of the customers this shard holds. Ids are UUIDv7 whose last byte names the shard,
-- so they sort by creation time and lead to their shard without asking the others.
CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    customer_id         uuid        NOT NULL,
    restaurant_id       text        NOT NULL,
    restaurant_owner_id uuid        NOT NULL,
    courier_id          uuid,
    status              text        NOT NULL CHECK (status IN
                            ('PENDING', 'CONFIRMED', 'ACCEPTED', 'PREPARING', 'READY', 'PICKED_UP', 'DELIVERED', 'CANCELLED', 'REJECTED')),
    items               jsonb       NOT NULL,
    total_amount        bigint      NOT NULL CHECK (total_amount > 0),
    currency            char(3)     NOT NULL,
    delivery_address    jsonb       NOT NULL,
    payment_method      text        NOT NULL,
    idempotency_key     text,
    request_hash        bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX orders_customer ON orders (customer_id, id DESC);
CREATE INDEX orders_restaurant_owner ON orders (restaurant_owner_id, id DESC);
CREATE INDEX orders_status ON orders (status, id DESC);
