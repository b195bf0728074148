"""Gateway: MQTT ingest into TimescaleDB, batched, idempotent, acknowledged after commit."""
