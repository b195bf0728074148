-- 002: messages the gateway could not accept, kept with the reason so that nothing is lost and
-- an operator can inspect and replay them (`isu deadletter list|replay`).
--
-- One row per distinct (topic, payload): a redelivery of the same bad message bumps
-- `deliveries` and `last_received_at` instead of adding a row, so a collector that keeps
-- republishing an unacknowledged bad message cannot flood the table.

CREATE TABLE dead_letters (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at       timestamptz NOT NULL,
    last_received_at  timestamptz NOT NULL,
    deliveries        integer NOT NULL DEFAULT 1 CHECK (deliveries > 0),
    topic             text NOT NULL,
    reason            text NOT NULL,
    payload           bytea NOT NULL,
    payload_sha256    bytea GENERATED ALWAYS AS (sha256(payload)) STORED,
    replayed_at       timestamptz,
    UNIQUE (topic, payload_sha256)
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
