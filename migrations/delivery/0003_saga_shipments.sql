-- A shipment made by the order saga may not know where it goes (an address without a
-- position). One the saga called off before its creation arrived, or that found no free
-- courier, is kept as CANCELLED without a courier, so that a late creation is refused.
ALTER TABLE shipments ALTER COLUMN dropoff_lat DROP NOT NULL;
ALTER TABLE shipments ALTER COLUMN dropoff_lon DROP NOT NULL;

-- The free courier nearest a pickup is found through a KNN index instead of by sorting every
-- courier: a position is a point whose x is the longitude scaled by the cosine of the
-- latitude, so that distances between points approximate those on the ground.
ALTER TABLE couriers ADD COLUMN position point GENERATED ALWAYS AS (
    point(lon * cos(radians(lat)), lat)) STORED;
CREATE INDEX couriers_free_nearest ON couriers USING gist (position) WHERE available AND NOT busy;
-- Taking a courier or freeing one moves them out of or into that index: vacuumed often, the
-- search does not wade through the entries of couriers taken since.
ALTER TABLE couriers SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 200);
