-- 007: the ATS 80020 message counter of each sender (docs/exports.md). Every 80020 file carries
-- `message@number`, a sequence number per sender; ATS expects a new number for every message,
-- a repeated export of the same day included. The API takes the next number with one
-- `INSERT … ON CONFLICT … DO UPDATE … RETURNING` in the transaction that reads the day's data
-- and builds the file, so two exports never share a number, and a refused export (a registry
-- problem, answered 409) rolls back and takes none. Keyed by the sender's INN, not by contract:
-- several contracts sent by one sender share one sequence.
CREATE TABLE ats_message_counters (
    sender_inn   text PRIMARY KEY CHECK (sender_inn ~ '^[0-9]{1,12}$'),
    last_number  bigint NOT NULL CHECK (last_number > 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
