"""The time-series store: TimescaleDB schema, migrations and writes."""
