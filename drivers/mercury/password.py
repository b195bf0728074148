"""Password bytes of the open-channel request
(docs/reference/mercury-protocol.md §1.4, pitfall §6.2).

::

    ADDR 01 LEVEL P0 P1 P2 P3 P4 P5 CRC
    binary  "111111" → 01 01 01 01 01 01   meters without "D" (DOC3 Appendix В "HEX")
    ascii   "111111" → 31 31 31 31 31 31   "D" (SPODES-capable) meters

Errors state the rule, never the password.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import ConfigError
from drivers.mercury.frame import AccessLevel

__all__ = ["DEFAULT_PASSWORDS", "PasswordEncoding", "encode_password"]


class PasswordEncoding(StrEnum):
    BINARY = "binary"
    ASCII = "ascii"


#: Factory passwords per level (DOC3 Appendix В).
DEFAULT_PASSWORDS = {AccessLevel.USER: "111111", AccessLevel.ADMIN: "222222"}


def encode_password(password: str, encoding: PasswordEncoding | str) -> bytes:
    """The six password bytes."""
    try:
        encoding = PasswordEncoding(encoding)
    except ValueError as exc:
        raise ConfigError(f"password encoding {encoding!r} is not binary or ascii") from exc
    if len(password) != 6:
        raise ConfigError(f"a Mercury password has 6 characters, this one has {len(password)}")
    if encoding is PasswordEncoding.BINARY:
        if not all(char in "0123456789" for char in password):
            raise ConfigError("a binary-encoded Mercury password must be 6 decimal digits")
        return bytes(int(char) for char in password)
    if not all(0x20 <= ord(char) < 0x7F for char in password):
        raise ConfigError("an ASCII-encoded Mercury password must be printable ASCII")
    return password.encode("ascii")
