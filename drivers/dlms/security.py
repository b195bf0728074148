"""HLS-GMAC: authentication mechanism 5 with security suite 0 (AES-128-GCM), the 4-pass HLS of
IEC 62056-5-3 §9.2.7.4 (DLMS Green Book, table "HLS example using authentication-mechanism 5
with GMAC"; GOST R 58940-2020 §6.4). Authentication only: the xDLMS APDUs stay plain.

::

    f(challenge) = SC | IC | T                                           17 bytes
        SC  10                      security control: suite 0, authentication only
        IC  4 bytes, big-endian     the sender's invocation counter, new for every f()
        T   the first 12 bytes of the AES-GCM tag: key EK, IV = the sender's system title |
            IC (12 bytes), no plaintext, additional data SC | AK | challenge

    client → AARQ: calling-AP-title = its system title, CtoS (8..64 random bytes)
    meter  → AARE: responding-AP-title = its system title, StoC
    client → ACTION reply_to_HLS_authentication (0.0.40.0.0.255, method 1) with f(StoC)
             under the client's title; the meter answers f(CtoS) under its own title

The same object serves either end: ``reply()`` computes f() under our own title and
counter, ``verify()`` checks the peer's f() under the peer's title. AES-GCM is the
``cryptography`` package's; keys and titles are kept out of reprs and messages.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import ConfigError
from drivers.dlms.acse import Mechanism

__all__ = [
    "AUTHENTICATION_ONLY",
    "GmacSecurity",
    "InvocationCounter",
    "hls_gmac",
]

#: Security control byte of f(): bit 4 "authentication", suite 0 in the low nibble.
AUTHENTICATION_ONLY: Final = 0x10
SYSTEM_TITLE_SIZE: Final = 8
KEY_SIZE: Final = 16  # suite 0: AES-128
TAG_SIZE: Final = 12
_F_SIZE: Final = 1 + 4 + TAG_SIZE
_MAX_COUNTER: Final = 0xFFFFFFFF


def hls_gmac(system_title: bytes, invocation_counter: int, block_cipher_key: bytes,
             authentication_key: bytes, challenge: bytes) -> bytes:
    """f(challenge) = SC | IC | GMAC tag under ``system_title`` (the sender's) and IC."""
    if len(system_title) != SYSTEM_TITLE_SIZE:
        raise ConfigError(f"a system title of {len(system_title)} bytes, "
                          f"{SYSTEM_TITLE_SIZE} needed")
    if len(block_cipher_key) != KEY_SIZE or len(authentication_key) != KEY_SIZE:
        raise ConfigError(f"suite 0 keys are {KEY_SIZE} bytes")
    if not 0 <= invocation_counter <= _MAX_COUNTER:
        raise ConfigError("an invocation counter outside 0..2^32-1")
    head = bytes((AUTHENTICATION_ONLY,)) + invocation_counter.to_bytes(4, "big")
    iv = system_title + head[1:]
    # GMAC is GCM without plaintext: the whole output is the tag, cut to 12 bytes (suite 0).
    tag = AESGCM(block_cipher_key).encrypt(iv, b"", head[:1] + authentication_key + challenge)
    return head + tag[:TAG_SIZE]


class InvocationCounter:
    """The invocation counter of one key: each ``take()`` gives the next value. A counter
    that has used up 2^32 values is a :class:`ConfigError`: the key must be changed."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 1) -> None:
        if not 0 <= start <= _MAX_COUNTER:
            raise ConfigError(f"invocation counter {start}: 0..{_MAX_COUNTER}")
        self._next = start

    @property
    def next_value(self) -> int:
        """The value the next ``take()`` gives (to persist it between runs)."""
        return self._next

    def take(self) -> int:
        if self._next > _MAX_COUNTER:
            raise ConfigError("the invocation counter is used up: the key must be changed")
        value = self._next
        self._next += 1
        return value

    def __repr__(self) -> str:
        return f"InvocationCounter(next_value={self._next})"


@dataclass(frozen=True, slots=True)
class GmacSecurity:
    """HLS-GMAC settings of one end: our system title, EK, AK, the first invocation counter
    and the size of our challenges. Fits the client session's ``ClientSettings(hls=…)`` and
    the simulator's ``Level(hls=…)``. The live counter (``counter``) goes up at every
    ``reply()`` and is shared by every association that uses this object, so keep one per
    meter and key."""

    system_title: bytes = field(repr=False)
    block_cipher_key: bytes = field(repr=False)
    authentication_key: bytes = field(repr=False)
    invocation_counter: int = 1
    challenge_size: int = 16
    counter: InvocationCounter = field(init=False, compare=False)

    def __post_init__(self) -> None:
        _check(self.system_title, SYSTEM_TITLE_SIZE, "system title")
        _check(self.block_cipher_key, KEY_SIZE, "block cipher key (EK)")
        _check(self.authentication_key, KEY_SIZE, "authentication key (AK)")
        if not 8 <= self.challenge_size <= 64:
            raise ConfigError(f"HLS challenge of {self.challenge_size} bytes: 8..64")
        object.__setattr__(self, "counter", InvocationCounter(self.invocation_counter))

    @classmethod
    def from_hex(cls, *, system_title: str, block_cipher_key: str, authentication_key: str,
                 invocation_counter: int = 1, challenge_size: int = 16) -> GmacSecurity:
        """From configuration: three hex strings (spaces between bytes allowed)."""
        return cls(_hex(system_title, SYSTEM_TITLE_SIZE, "system title"),
                   _hex(block_cipher_key, KEY_SIZE, "block cipher key (EK)"),
                   _hex(authentication_key, KEY_SIZE, "authentication key (AK)"),
                   invocation_counter, challenge_size)

    @property
    def mechanism(self) -> Mechanism:
        return Mechanism.HLS_GMAC

    def challenge(self) -> bytes:
        """Our challenge (CtoS for a client, StoC for a meter)."""
        return secrets.token_bytes(self.challenge_size)

    def reply(self, challenge: bytes) -> bytes:
        """f(the peer's challenge) under our title and the next invocation counter."""
        return hls_gmac(self.system_title, self.counter.take(), self.block_cipher_key,
                        self.authentication_key, challenge)

    def verify(self, challenge: bytes, answer: bytes, peer_title: bytes) -> bool:
        """Whether ``answer`` is the peer's f(our ``challenge``) under ``peer_title`` (the
        responding-AP-title for a client, the calling-AP-title for a meter)."""
        if (len(answer) != _F_SIZE or answer[0] != AUTHENTICATION_ONLY
                or len(peer_title) != SYSTEM_TITLE_SIZE):
            return False
        expected = hls_gmac(peer_title, int.from_bytes(answer[1:5], "big"),
                            self.block_cipher_key, self.authentication_key, challenge)
        return hmac.compare_digest(expected, answer)


def _check(value: bytes, size: int, name: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        length = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ConfigError(f"HLS-GMAC {name}: {length}, {size} bytes needed")


def _hex(text: str, size: int, name: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except (TypeError, ValueError):
        raise ConfigError(f"HLS-GMAC {name}: not a hex string") from None
    if len(value) != size:
        raise ConfigError(f"HLS-GMAC {name}: {len(value)} bytes, {size} needed "
                          f"({2 * size} hex digits)")
    return value
