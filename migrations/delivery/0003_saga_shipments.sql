-- A shipment made by the order saga may not know where it goes (an address without a
-- position). One the saga called off before its creation arrived, or that found no free
-- courier, is kept as CANCELLED without a courier, so that a late creation is refused.
ALTER TABLE shipments ALTER COLUMN dropoff_lat DROP NOT NULL;
ALTER TABLE shipments ALTER COLUMN dropoff_lon DROP NOT NULL;
