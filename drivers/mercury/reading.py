"""What the per-stream readers of the ``mercury230`` driver share: one request → one payload,
and the meter's local time → UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from drivers.mercury.answer import Payload
from drivers.mercury.request import Request

__all__ = ["Exchange", "PayloadT", "local_to_utc"]

PayloadT = TypeVar("PayloadT", bound=Payload)


class Exchange(Protocol):
    """The driver's request/answer step: status answers raise ``core.errors``."""

    async def __call__(self, request: Request, kind: type[PayloadT]) -> PayloadT: ...


def local_to_utc(moment: datetime, zone: ZoneInfo, *, winter: bool | None = None) -> datetime:
    """A naive wall time of the meter in ``zone`` as aware UTC.

    In a repeated autumn hour the season flag (when known) says which of the two is meant;
    zones without daylight saving (Russia since 2011) never have one.
    """
    fold = 1 if winter else 0
    return moment.replace(tzinfo=zone, fold=fold).astimezone(UTC)
