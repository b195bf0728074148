"""Meter simulators speaking the real protocols over TCP (``isu sim``; docs/simulators.md)."""
