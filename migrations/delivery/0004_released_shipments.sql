-- A shipment made by the order saga is held until the saga has passed its pivot (the payment's
-- capture, announced by `order.confirmed`): its courier may not take food that may not be paid
-- for. NULL while held. The shipments made before are released, so that none in flight is stuck.
ALTER TABLE shipments ADD COLUMN released_at timestamptz;
UPDATE shipments SET released_at = now();
