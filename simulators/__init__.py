"""Meter simulators speaking the real protocols over TCP and serial pseudo-terminals."""
