"""CRC-16/MODBUS as the Mercury 230 family uses it (docs/reference/mercury-protocol.md §1.2).

::

    ADDR | CODE/DATA ... | CRC_LO | CRC_HI
    └──────── covered ──────┘  poly 0xA001 (reflected 0x8005), init 0xFFFF, no final XOR

The checksum travels low byte first, as in Modbus RTU; DOC3's table code only looks the other way
round because its table has the bytes swapped internally.
"""

from __future__ import annotations

from core.errors import ChecksumError, TruncatedError

__all__ = ["append_crc", "crc16_modbus", "split_crc"]


def _table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        rows.append(crc)
    return tuple(rows)


_TABLE = _table()


def crc16_modbus(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/MODBUS of ``data`` as an integer (wire order is low byte first).

    ``crc`` continues an earlier result, so a frame can be checked as its bytes arrive.
    """
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def append_crc(body: bytes) -> bytes:
    """``body`` followed by its CRC, low byte first: a complete frame."""
    return bytes(body) + crc16_modbus(body).to_bytes(2, "little")


def split_crc(frame: bytes) -> bytes:
    """The body of a complete ``frame`` whose CRC checks out; raises on a bad or missing CRC."""
    if len(frame) < 3:
        raise TruncatedError(f"a frame of {len(frame)} byte(s) cannot carry a CRC")
    body, received = frame[:-2], int.from_bytes(frame[-2:], "little")
    computed = crc16_modbus(body)
    if received != computed:
        raise ChecksumError(f"CRC mismatch: received {received:04X}, computed {computed:04X}")
    return bytes(body)
