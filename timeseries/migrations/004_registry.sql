-- 004: the registry (DESIGN §3: contract → energy object → connection point → metering point →
-- meter), API keys scoped to it, chunk intervals fitted to the data rates, and the indexes the
-- API's queries need (docs/registry.md, docs/timeseries.md).
--
-- Nodes are keyed by their number inside their parent (the registry's own numbering), so an
-- import of the same file twice changes nothing. Each node has a surrogate id that the API uses
-- in its URLs. Every node keeps `updated_at`: the «as of» of its information blocks.
-- `attributes` holds further display fields of a node (text → text), kept as given.

CREATE TABLE contracts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number           text NOT NULL UNIQUE CHECK (number ~ '^[0-9A-Za-z./_-]{1,40}$'),
    name             text NOT NULL CHECK (name <> ''),
    consumer_name    text,
    consumer_inn     text CHECK (consumer_inn ~ '^[0-9]{10}([0-9]{2})?$'),
    signed_on        date,
    -- ATS 80020: the sender (who sends the files) and the area (the subject the data is about)
    sender_inn       text CHECK (sender_inn ~ '^[0-9]{10}([0-9]{2})?$'),
    sender_name      text,
    area_inn         text CHECK (area_inn ~ '^[0-9]{1,12}$'),
    area_name        text,
    ats_time         text NOT NULL DEFAULT 'local' CHECK (ats_time IN ('local', 'moscow')),
    -- the tariff zones that split interval consumption: a named schedule (core.tariffs) or
    -- 'custom' with zone_switches = [["00:00", 2], ["07:00", 1], ...]; NULL: the API's default
    zone_schedule    text CHECK (zone_schedule IN ('single', 'two-zone', 'three-zone', 'custom')),
    zone_switches    jsonb,
    attributes       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((zone_schedule = 'custom') = (zone_switches IS NOT NULL))
);

CREATE TABLE energy_objects (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id      bigint NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    number           text NOT NULL CHECK (number <> ''),
    name             text NOT NULL CHECK (name <> ''),
    address          text,
    phone_1          text,
    phone_2          text,
    email            text,
    time_zone        text NOT NULL DEFAULT 'Europe/Moscow',
    attributes       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, number)
);

CREATE TABLE connection_points (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    energy_object_id bigint NOT NULL REFERENCES energy_objects (id) ON DELETE CASCADE,
    number           text NOT NULL CHECK (number <> ''),
    name             text NOT NULL CHECK (name <> ''),
    voltage_kv       numeric CHECK (voltage_kv > 0),
    max_power_kw     numeric CHECK (max_power_kw > 0),
    grid_company     text,
    attributes       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (energy_object_id, number)
);

CREATE TABLE metering_points (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_point_id bigint NOT NULL REFERENCES connection_points (id) ON DELETE CASCADE,
    number              text NOT NULL CHECK (number <> ''),
    name                text NOT NULL CHECK (name <> ''),
    ats_code            text UNIQUE CHECK (ats_code ~ '^[0-9]{1,18}$'),
    attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connection_point_id, number)
);

-- The meters table (001) gains its place in the tree and its registry fields. A meter first
-- seen on the wire has none of them and stays unassigned (registered = false) until an import
-- names it. Its time zone is now its own override, else its energy object's (DESIGN §3).
ALTER TABLE meters
    ADD COLUMN metering_point_id bigint REFERENCES metering_points (id) ON DELETE SET NULL,
    ADD COLUMN mac_address text,
    ADD COLUMN commissioned_on date,
    ADD COLUMN isu_connected_on date,
    ADD COLUMN installed_on date,
    ADD COLUMN install_place text,
    ADD COLUMN verified_on date,
    ADD COLUMN next_verification_on date,
    ADD COLUMN capacity text CHECK (capacity ~ '^[0-9]{1,2}[.][0-9]$'),
    ADD COLUMN accuracy_class text,
    ADD COLUMN rated_voltage_v numeric CHECK (rated_voltage_v > 0),
    ADD COLUMN rated_current_a text,
    ADD COLUMN phases smallint CHECK (phases IN (1, 3)),
    ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN registry_updated_at timestamptz;
ALTER TABLE meters ALTER COLUMN time_zone DROP NOT NULL, ALTER COLUMN time_zone DROP DEFAULT;
UPDATE meters SET time_zone = NULL WHERE time_zone = 'Europe/Moscow' AND NOT registered;
CREATE INDEX meters_metering_point ON meters (metering_point_id);

-- Bearer API keys (DESIGN §5), kept as SHA-256 of the key; `prefix` names a key in listings.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    prefix       text NOT NULL,
    key_sha256   bytea NOT NULL UNIQUE CHECK (length(key_sha256) = 32),
    admin        boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- A key sees a contract (energy_object_id NULL) or only some of its energy objects.
CREATE TABLE api_key_scopes (
    api_key_id       bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    contract_id      bigint NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    energy_object_id bigint REFERENCES energy_objects (id) ON DELETE CASCADE,
    UNIQUE NULLS NOT DISTINCT (api_key_id, contract_id, energy_object_id)
);

-- Chunk intervals fitted to the data rates (docs/timeseries.md has the arithmetic): a chunk's
-- indexes should fit in memory at the planned scale. New chunks only; existing ones stay.
SELECT set_chunk_time_interval('register_readings', INTERVAL '1 day');
SELECT set_chunk_time_interval('interval_readings', INTERVAL '7 days');

-- The API's queries by meter and time across channels: a meter's journal of one month, its
-- interval series for charts, its newest instantaneous values. (Register snapshots are found by
-- probing the primary key per code; no further index slows their ingest.)
CREATE INDEX interval_readings_meter_ts ON interval_readings (meter_id, ts DESC);
CREATE INDEX instant_readings_meter_ts ON instant_readings (meter_id, ts DESC);
CREATE INDEX events_meter_ts ON events (meter_id, ts DESC);
