"""CRC-16/X.25, the HCS and FCS of IEC 62056-46 HDLC frames (GOST R 58940-2020 §9.4).

::

    poly x^16 + x^12 + x^5 + 1 (0x1021, reflected 0x8408), init 0xFFFF, final XOR 0xFFFF,
    sent low byte first

Check value: ``crc16_x25(b"123456789") == 0x906E``.
"""

from __future__ import annotations

__all__ = ["crc16_x25", "crc_bytes"]


def _table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        rows.append(crc)
    return tuple(rows)


_TABLE = _table()


def crc16_x25(data: bytes) -> int:
    """CRC-16/X.25 of ``data`` as an integer."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def crc_bytes(data: bytes) -> bytes:
    """The checksum of ``data`` in wire order (low byte first)."""
    return crc16_x25(data).to_bytes(2, "little")
