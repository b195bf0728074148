-- 006: API keys are named by people (`isu api-key revoke --name NAME`), so a name picks out
-- at most one key that is still in force. A revoked key keeps its row (and its name) for the
-- record; a new key may take the name again. Lookup by key goes through the UNIQUE index on
-- `key_sha256` (004); listings read the keys by id.
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
