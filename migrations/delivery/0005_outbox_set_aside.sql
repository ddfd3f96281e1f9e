-- A message the broker keeps refusing (a nack, or a command no queue takes) is set aside
-- after a few refusals, so that the messages behind it go on; an operator looks at it.
ALTER TABLE outbox ADD COLUMN refusals integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error text;
ALTER TABLE outbox ADD COLUMN set_aside_at timestamptz;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (occurred_at) WHERE published_at IS NULL AND set_aside_at IS NULL;
