-- 001: the first store of isu-gateway (TimescaleDB, Apache edition features only).
--
-- Every table keyed by (meter, channel, time) has a unique key, so that a redelivered message
-- adds no row. quality is a rank: 3 ok, 2 incomplete, 1 estimated, 0 invalid; a repeat of the
-- same point and time replaces the stored value only when its rank is higher (DESIGN §3).

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Meters seen on the wire or known to the registry. A meter first seen in a message is stored
-- with registered = false ("unassigned") and never dropped.
CREATE TABLE meters (
    meter_id       text PRIMARY KEY CHECK (meter_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    collector_id   text,
    protocol       text,
    model          text,
    serial_number  text,
    time_zone      text NOT NULL DEFAULT 'Europe/Moscow',
    ct_ratio       numeric NOT NULL DEFAULT 1 CHECK (ct_ratio > 0),
    vt_ratio       numeric NOT NULL DEFAULT 1 CHECK (vt_ratio > 0),
    registered     boolean NOT NULL DEFAULT false,
    first_seen_at  timestamptz,
    last_seen_at   timestamptz
);

-- Register snapshots: current (now), daily (00:00 local), monthly (00:00 local on the 1st).
CREATE TABLE register_readings (
    meter_id    text NOT NULL,
    stream      text NOT NULL CHECK (stream IN ('current', 'daily', 'monthly')),
    obis        text NOT NULL,
    ts          timestamptz NOT NULL,
    value       numeric NOT NULL,
    unit        text NOT NULL,
    quality     smallint NOT NULL CHECK (quality BETWEEN 0 AND 3),
    read_at     timestamptz NOT NULL,
    message_id  text NOT NULL,
    PRIMARY KEY (meter_id, stream, obis, ts)
);
SELECT create_hypertable('register_readings', by_range('ts', INTERVAL '30 days'));

-- Interval (load-profile) energy over [ts, ts + period_s).
CREATE TABLE interval_readings (
    meter_id    text NOT NULL,
    obis        text NOT NULL,
    ts          timestamptz NOT NULL,
    period_s    integer NOT NULL CHECK (period_s > 0),
    value       numeric NOT NULL,
    unit        text NOT NULL,
    quality     smallint NOT NULL CHECK (quality BETWEEN 0 AND 3),
    read_at     timestamptz NOT NULL,
    message_id  text NOT NULL,
    PRIMARY KEY (meter_id, obis, ts)
);
SELECT create_hypertable('interval_readings', by_range('ts', INTERVAL '7 days'));

-- Instantaneous values (U, I, P, Q, S, f, cos phi).
CREATE TABLE instant_readings (
    meter_id    text NOT NULL,
    obis        text NOT NULL,
    ts          timestamptz NOT NULL,
    value       numeric NOT NULL,
    unit        text NOT NULL,
    quality     smallint NOT NULL CHECK (quality BETWEEN 0 AND 3),
    read_at     timestamptz NOT NULL,
    message_id  text NOT NULL,
    PRIMARY KEY (meter_id, obis, ts)
);
SELECT create_hypertable('instant_readings', by_range('ts', INTERVAL '1 day'));

-- The meter's clock against true time at each read.
CREATE TABLE clock_readings (
    meter_id    text NOT NULL,
    ts          timestamptz NOT NULL,
    meter_time  timestamp NOT NULL,
    drift_s     numeric NOT NULL,
    season      text,
    read_at     timestamptz NOT NULL,
    message_id  text NOT NULL,
    PRIMARY KEY (meter_id, ts)
);
SELECT create_hypertable('clock_readings', by_range('ts', INTERVAL '30 days'));

-- Journal entries.
CREATE TABLE events (
    meter_id    text NOT NULL,
    journal     text NOT NULL,
    code        integer NOT NULL,
    ts          timestamptz NOT NULL,
    kind        text NOT NULL,
    text        text NOT NULL,
    critical    boolean NOT NULL,
    phase       smallint,
    quality     smallint NOT NULL CHECK (quality BETWEEN 0 AND 3),
    read_at     timestamptz NOT NULL,
    message_id  text NOT NULL,
    PRIMARY KEY (meter_id, journal, code, ts)
);
SELECT create_hypertable('events', by_range('ts', INTERVAL '90 days'));

-- Identity and state fields read from the meter; one row per field and read time.
CREATE TABLE meter_info (
    meter_id    text NOT NULL,
    field       text NOT NULL,
    ts          timestamptz NOT NULL,
    value       text NOT NULL,
    quality     smallint NOT NULL CHECK (quality BETWEEN 0 AND 3),
    message_id  text NOT NULL,
    PRIMARY KEY (meter_id, field, ts)
);
