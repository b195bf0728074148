-- 005: each meter's newest register reading time, kept by the gateway as it writes, so that the
-- API's meter list does not search register_readings per meter (docs/timeseries.md).

ALTER TABLE meters ADD COLUMN last_reading_at timestamptz;
UPDATE meters AS m SET last_reading_at = r.newest
FROM (SELECT meter_id, max(ts) AS newest FROM register_readings GROUP BY meter_id) AS r
WHERE r.meter_id = m.meter_id;
