"""Byte streams to meters: TCP, serial and an in-memory pair for tests."""

from drivers.transport.stream import ByteStream

__all__ = ["ByteStream"]
