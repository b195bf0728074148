"""Result codes of xDLMS services and the errors they mean (IEC 62056-5-3 §9.5; GOST R
58940-2020 §8): Data-Access-Result (GET, SET), Action-Result, and the exception-response.

The driver needs to tell "the meter does not have this object" (never retried, the stream goes
on), "this client may not read it" and a transient failure apart; the mapping does that.
"""

from __future__ import annotations

from enum import IntEnum

from core.errors import (
    AccessError,
    IsuError,
    MeterInternalError,
    ObjectUnavailableError,
    RemoteProtocolError,
)

__all__ = ["ActionResult", "DataAccessResult", "ServiceError", "StateError", "result_error"]


class DataAccessResult(IntEnum):
    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class ActionResult(IntEnum):
    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_ACTION_ABORTED = 15
    NO_LONG_ACTION_IN_PROGRESS = 16
    OTHER_REASON = 250


class StateError(IntEnum):
    SERVICE_NOT_ALLOWED = 1
    SERVICE_UNKNOWN = 2


class ServiceError(IntEnum):
    OPERATION_NOT_POSSIBLE = 1
    SERVICE_NOT_SUPPORTED = 2
    OTHER_REASON = 3
    PDU_TOO_LONG = 4
    DECIPHERING_ERROR = 5
    INVOCATION_COUNTER_ERROR = 6


_DENIED = {3, 13}
_UNAVAILABLE = {4, 9, 11}
_METER = {1, 2, 250}


def result_error(result: DataAccessResult | ActionResult | int, what: str) -> IsuError | None:
    """``None`` for success; else the ``core.errors`` class the code means, naming ``what``."""
    code = int(result)
    if code == 0:
        return None
    try:
        name = DataAccessResult(code).name.lower().replace("_", "-")
    except ValueError:
        name = f"result {code}"
    message = f"{what}: {name}"
    if code in _DENIED:
        return AccessError(message)
    if code in _UNAVAILABLE:
        return ObjectUnavailableError(message)
    if code in _METER:
        return MeterInternalError(message)
    return RemoteProtocolError(message)
