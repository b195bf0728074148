"""Meter drivers, registered by protocol name, and the byte-stream transports they run on."""
