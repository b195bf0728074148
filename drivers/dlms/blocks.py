"""GET with block transfer: joining the raw-data of GET-Response-With-Datablock answers and
cutting an encoded value into them (IEC 62056-5-3 §9.4.6.3; GOST R 58940-2020 §13.4).

::

    client                                   server
    GET-Request-Normal            ───────▶
                                  ◀───────   C4 02 iid 00 <block 1> 00 <raw-data part 1>
    GET-Request-Next <block 1>    ───────▶
                                  ◀───────   C4 02 iid 00 <block 2> 00 <raw-data part 2>
    …                                        C4 02 iid 01 <block n> 00 <last part>

The parts joined are one encoded ``Data``. Blocks count from 1; some meters count from 0
(Gurux allows for it), so the first number received sets the count and the rest must follow
it one by one.
"""

from __future__ import annotations

from core.errors import FrameError, RemoteProtocolError, UnexpectedResponseError
from drivers.dlms.axdr import Data
from drivers.dlms.results import DataAccessResult, result_error
from drivers.dlms.xdlms import DEFAULT_INVOKE, GetRequestNext, GetResponseWithBlock

__all__ = ["BlockAssembler", "split_blocks"]


class BlockAssembler:
    """Collects the blocks of one long GET answer; ``what`` names the attribute in errors."""

    def __init__(self, what: str = "GET with block", max_size: int = 1 << 22) -> None:
        self._what = what
        self._max_size = max_size
        self._parts: list[bytes] = []
        self._size = 0
        self._last_number: int | None = None

    @property
    def last_number(self) -> int | None:
        return self._last_number

    def add(self, response: GetResponseWithBlock) -> Data | None:
        """The whole value once the last block is in, else ``None`` (ask for the next)."""
        raw = self.add_raw(response)
        return None if raw is None else Data.from_bytes(raw)

    def add_raw(self, response: GetResponseWithBlock) -> bytes | None:
        """The joined raw data once the last block is in, else ``None``: for answers whose
        raw data is not one ``Data`` (a GET-with-list answer carries its count and results)."""
        if isinstance(response.raw, DataAccessResult):
            error = result_error(response.raw, self._what)
            raise error if error is not None else RemoteProtocolError(
                f"{self._what}: a block that reports success without data"
            )
        expected = 0 if self._last_number is None else self._last_number + 1
        if self._last_number is None:
            if response.block_number not in (0, 1):
                raise UnexpectedResponseError(
                    f"{self._what}: the first block is number {response.block_number}"
                )
        elif response.block_number != expected:
            raise UnexpectedResponseError(
                f"{self._what}: block {response.block_number} where {expected} was due"
            )
        self._size += len(response.raw)
        if self._size > self._max_size:
            raise FrameError(f"{self._what}: an answer longer than {self._max_size} bytes")
        self._parts.append(response.raw)
        self._last_number = response.block_number
        if not response.last:
            return None
        return b"".join(self._parts)

    def next_request(self, invoke: int = DEFAULT_INVOKE) -> GetRequestNext:
        """The GET-Request-Next that acknowledges the last block received."""
        if self._last_number is None:
            raise UnexpectedResponseError(f"{self._what}: no block received yet")
        return GetRequestNext(self._last_number, invoke)


def split_blocks(
    value: Data, size: int, invoke: int = DEFAULT_INVOKE
) -> list[GetResponseWithBlock]:
    """The server side: ``value`` encoded and cut into blocks of at most ``size`` raw bytes."""
    if size < 1:
        raise FrameError(f"a block size of {size}")
    raw = value.to_bytes()
    parts = [raw[i : i + size] for i in range(0, len(raw), size)]
    return [
        GetResponseWithBlock(number == len(parts), number, part, invoke)
        for number, part in enumerate(parts, 1)
    ]
