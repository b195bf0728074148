-- 003: clock readings carry a quality like every other item (core.model.ClockItem.quality), so
-- that the rule "a repeat replaces a stored value only when its quality ranks higher" (DESIGN §3)
-- holds for them too. Rows stored before this migration are taken as ok (3).

ALTER TABLE clock_readings
    ADD COLUMN quality smallint NOT NULL DEFAULT 3 CHECK (quality BETWEEN 0 AND 3);
