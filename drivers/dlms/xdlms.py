"""xDLMS services with LN referencing (IEC 62056-5-3 §9.3; GOST R 58940-2020 §13, notes §2.4).

::

    GET-Request    C0 01 iid <attr> <access>               normal
                   C0 02 iid <block number(4)>             next (with block)
                   C0 03 iid n (<attr> <access>)×n         with list
    GET-Response   C4 01 iid 00 <Data> | 01 <result>       normal
                   C4 02 iid <last(1)> <block(4)> 00 <octet-string raw data> | 01 <result>
                   C4 03 iid n (00 <Data> | 01 <result>)×n
    SET-Request    C1 01 iid <attr> <access> <Data>        SET-Response   C5 01 iid <result>
    ACTION-Request C3 01 iid <method> 00 | 01 <Data>       ACTION-Response C7 01 iid <result>
                                                           [00 | 01 (00 <Data> | 01 <result>)]
    Exception      D8 <state error> <service error> [<invocation counter(4)> for error 6]
    <access>       00 | 01 <selector> <Data>
    iid            invoke-id-and-priority: bits 0–3 invoke id, bit 6 confirmed, bit 7 high
                   priority (GOST traces use C1 and 81)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from core.errors import FrameError, TruncatedError
from drivers.dlms.access import AccessSelection, AttributeDescriptor, MethodDescriptor
from drivers.dlms.axdr import Data, decode_data, decode_length, encode_length
from drivers.dlms.results import ActionResult, DataAccessResult, ServiceError, StateError

__all__ = [
    "DEFAULT_INVOKE",
    "ActionRequest",
    "ActionResponse",
    "ExceptionResponse",
    "GetRequest",
    "GetRequestNext",
    "GetRequestWithList",
    "GetResponse",
    "GetResponseWithBlock",
    "GetResponseWithList",
    "SetRequest",
    "SetResponse",
    "invoke_id_and_priority",
]

#: Invoke id 1, confirmed, high priority: what GOST table 12.1 sends.
DEFAULT_INVOKE: Final = 0xC1


def invoke_id_and_priority(
    invoke_id: int = 1, *, confirmed: bool = True, high_priority: bool = True
) -> int:
    if not 0 <= invoke_id <= 15:
        raise FrameError(f"invoke id {invoke_id} is outside 0..15")
    return invoke_id | (0x40 if confirmed else 0) | (0x80 if high_priority else 0)


class _Reader:
    """A cursor over one APDU; every shortfall is a TruncatedError."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def byte(self) -> int:
        if self.offset >= len(self.data):
            raise TruncatedError("an xDLMS APDU is cut short")
        value = self.data[self.offset]
        self.offset += 1
        return value

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise TruncatedError("an xDLMS APDU is cut short")
        value = bytes(self.data[self.offset : end])
        self.offset = end
        return value

    def flag(self) -> bool:
        value = self.byte()
        if value > 1:
            raise FrameError(f"an optional or choice flag {value:02X}")
        return bool(value)

    def length(self) -> int:
        value, self.offset = decode_length(self.data, self.offset)
        return value

    def value(self) -> Data:
        value, self.offset = decode_data(self.data, self.offset)
        return value

    def attribute(self) -> AttributeDescriptor:
        value, self.offset = AttributeDescriptor.parse(self.data, self.offset)
        return value

    def method(self) -> MethodDescriptor:
        value, self.offset = MethodDescriptor.parse(self.data, self.offset)
        return value

    def access(self) -> AccessSelection | None:
        if not self.flag():
            return None
        return AccessSelection(self.byte(), self.value())

    def result(self) -> DataAccessResult:
        code = self.byte()
        try:
            return DataAccessResult(code)
        except ValueError:
            raise FrameError(f"unknown data-access-result {code}") from None

    def get_data_result(self) -> Data | DataAccessResult:
        return self.result() if self.flag() else self.value()

    def end(self) -> None:
        if self.offset != len(self.data):
            raise FrameError(f"{len(self.data) - self.offset} byte(s) after an xDLMS APDU")


def _head(data: bytes, tag: int, choice: int) -> _Reader:
    reader = _Reader(data)
    if reader.byte() != tag or reader.byte() != choice:
        raise FrameError(f"APDU {data[:2].hex(' ').upper()}, not {tag:02X} {choice:02X}")
    return reader


def _access_bytes(access: AccessSelection | None) -> bytes:
    return b"\x00" if access is None else b"\x01" + access.to_bytes()


def _data_result(result: Data | DataAccessResult) -> bytes:
    if isinstance(result, DataAccessResult):
        return bytes((1, int(result)))
    return b"\x00" + result.to_bytes()


@dataclass(frozen=True, slots=True)
class GetRequest:
    attribute: AttributeDescriptor
    access: AccessSelection | None = None
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc0\x01"

    def to_bytes(self) -> bytes:
        return (
            self.TAG
            + bytes((self.invoke,))
            + self.attribute.to_bytes()
            + _access_bytes(self.access)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> GetRequest:
        reader = _head(data, 0xC0, 0x01)
        invoke = reader.byte()
        attribute = reader.attribute()
        access = reader.access()
        reader.end()
        return cls(attribute, access, invoke)


@dataclass(frozen=True, slots=True)
class GetRequestNext:
    block_number: int
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc0\x02"

    def to_bytes(self) -> bytes:
        return self.TAG + bytes((self.invoke,)) + self.block_number.to_bytes(4, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> GetRequestNext:
        reader = _head(data, 0xC0, 0x02)
        invoke = reader.byte()
        block = int.from_bytes(reader.take(4), "big")
        reader.end()
        return cls(block, invoke)


@dataclass(frozen=True, slots=True)
class GetRequestWithList:
    attributes: tuple[tuple[AttributeDescriptor, AccessSelection | None], ...]
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc0\x03"

    def to_bytes(self) -> bytes:
        return (
            self.TAG
            + bytes((self.invoke,))
            + encode_length(len(self.attributes))
            + b"".join(ref.to_bytes() + _access_bytes(acc) for ref, acc in self.attributes)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> GetRequestWithList:
        reader = _head(data, 0xC0, 0x03)
        invoke = reader.byte()
        count = reader.length()
        items = []
        for _ in range(count):
            attribute = reader.attribute()
            items.append((attribute, reader.access()))
        reader.end()
        return cls(tuple(items), invoke)


@dataclass(frozen=True, slots=True)
class GetResponse:
    result: Data | DataAccessResult
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc4\x01"

    def to_bytes(self) -> bytes:
        return self.TAG + bytes((self.invoke,)) + _data_result(self.result)

    @classmethod
    def from_bytes(cls, data: bytes) -> GetResponse:
        reader = _head(data, 0xC4, 0x01)
        invoke = reader.byte()
        result = reader.get_data_result()
        reader.end()
        return cls(result, invoke)


@dataclass(frozen=True, slots=True)
class GetResponseWithBlock:
    """One block of a long GET answer; ``raw`` is a slice of the encoded ``Data``."""

    last: bool
    block_number: int
    raw: bytes | DataAccessResult
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc4\x02"

    def to_bytes(self) -> bytes:
        head = (
            self.TAG
            + bytes((self.invoke, 1 if self.last else 0))
            + self.block_number.to_bytes(4, "big")
        )
        if isinstance(self.raw, DataAccessResult):
            return head + bytes((1, int(self.raw)))
        return head + b"\x00" + encode_length(len(self.raw)) + self.raw

    @classmethod
    def from_bytes(cls, data: bytes) -> GetResponseWithBlock:
        reader = _head(data, 0xC4, 0x02)
        invoke = reader.byte()
        last = reader.flag()
        block = int.from_bytes(reader.take(4), "big")
        raw: bytes | DataAccessResult = (
            reader.result() if reader.flag() else reader.take(reader.length())
        )
        reader.end()
        return cls(last, block, raw, invoke)


@dataclass(frozen=True, slots=True)
class GetResponseWithList:
    results: tuple[Data | DataAccessResult, ...]
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc4\x03"

    def to_bytes(self) -> bytes:
        return (
            self.TAG
            + bytes((self.invoke,))
            + encode_length(len(self.results))
            + b"".join(_data_result(result) for result in self.results)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> GetResponseWithList:
        reader = _head(data, 0xC4, 0x03)
        invoke = reader.byte()
        count = reader.length()
        results = tuple(reader.get_data_result() for _ in range(count))
        reader.end()
        return cls(results, invoke)


@dataclass(frozen=True, slots=True)
class SetRequest:
    attribute: AttributeDescriptor
    value: Data
    access: AccessSelection | None = None
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc1\x01"

    def to_bytes(self) -> bytes:
        return (
            self.TAG
            + bytes((self.invoke,))
            + self.attribute.to_bytes()
            + _access_bytes(self.access)
            + self.value.to_bytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SetRequest:
        reader = _head(data, 0xC1, 0x01)
        invoke = reader.byte()
        attribute = reader.attribute()
        access = reader.access()
        value = reader.value()
        reader.end()
        return cls(attribute, value, access, invoke)


@dataclass(frozen=True, slots=True)
class SetResponse:
    result: DataAccessResult
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc5\x01"

    def to_bytes(self) -> bytes:
        return self.TAG + bytes((self.invoke, int(self.result)))

    @classmethod
    def from_bytes(cls, data: bytes) -> SetResponse:
        reader = _head(data, 0xC5, 0x01)
        invoke = reader.byte()
        result = reader.result()
        reader.end()
        return cls(result, invoke)


@dataclass(frozen=True, slots=True)
class ActionRequest:
    method: MethodDescriptor
    parameters: Data | None = None
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc3\x01"

    def to_bytes(self) -> bytes:
        params = b"\x00" if self.parameters is None else b"\x01" + self.parameters.to_bytes()
        return self.TAG + bytes((self.invoke,)) + self.method.to_bytes() + params

    @classmethod
    def from_bytes(cls, data: bytes) -> ActionRequest:
        reader = _head(data, 0xC3, 0x01)
        invoke = reader.byte()
        method = reader.method()
        parameters = reader.value() if reader.flag() else None
        reader.end()
        return cls(method, parameters, invoke)


@dataclass(frozen=True, slots=True)
class ActionResponse:
    result: ActionResult
    return_value: Data | DataAccessResult | None = None
    invoke: int = DEFAULT_INVOKE

    TAG: ClassVar[bytes] = b"\xc7\x01"

    def to_bytes(self) -> bytes:
        tail = b"\x00" if self.return_value is None else b"\x01" + _data_result(self.return_value)
        return self.TAG + bytes((self.invoke, int(self.result))) + tail

    @classmethod
    def from_bytes(cls, data: bytes) -> ActionResponse:
        reader = _head(data, 0xC7, 0x01)
        invoke = reader.byte()
        code = reader.byte()
        try:
            result = ActionResult(code)
        except ValueError:
            raise FrameError(f"unknown action-result {code}") from None
        value = reader.get_data_result() if reader.flag() else None
        reader.end()
        return cls(result, value, invoke)


@dataclass(frozen=True, slots=True)
class ExceptionResponse:
    state_error: StateError
    service_error: ServiceError
    invocation_counter: int | None = None

    TAG: ClassVar[int] = 0xD8

    def to_bytes(self) -> bytes:
        out = bytes((self.TAG, int(self.state_error), int(self.service_error)))
        if self.invocation_counter is not None:
            out += self.invocation_counter.to_bytes(4, "big")
        return out

    @classmethod
    def from_bytes(cls, data: bytes) -> ExceptionResponse:
        reader = _Reader(data)
        if reader.byte() != cls.TAG:
            raise FrameError(f"exception-response tag {data[0]:02X}")
        state, service = reader.byte(), reader.byte()
        try:
            state_error, service_error = StateError(state), ServiceError(service)
        except ValueError:
            raise FrameError(f"exception-response {state} {service}") from None
        counter = None
        if service_error is ServiceError.INVOCATION_COUNTER_ERROR and reader.offset < len(data):
            counter = int.from_bytes(reader.take(4), "big")
        reader.end()
        return cls(state_error, service_error, counter)
