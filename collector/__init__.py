"""Edge collector: polls meters on their buses and publishes to MQTT with store-and-forward."""
