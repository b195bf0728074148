"""The communication channel («канал связи») of one simulated meter
(docs/reference/mercury-protocol.md §1.4).

After a successful open the channel stays open for 240 s; every valid request restarts the
timer. When it lapses the meter answers status 5 to everything except the requests that need no
channel, until a client opens it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["CHANNEL_TIMEOUT_S", "Channel"]

#: DOC3 p.11: how long an open channel survives without a request.
CHANNEL_TIMEOUT_S = 240.0


class Channel:
    def __init__(self, timeout_s: float = CHANNEL_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._level: int | None = None
        self._expires_at: datetime | None = None

    def open(self, level: int, now: datetime) -> None:
        self._level = level
        self._expires_at = now + timedelta(seconds=self.timeout_s)

    def close(self) -> None:
        self._level = None
        self._expires_at = None

    def level_at(self, now: datetime) -> int | None:
        """The access level open at ``now``, or ``None`` when the channel is closed or lapsed."""
        if self._expires_at is None or now >= self._expires_at:
            self.close()
            return None
        return self._level

    def touch(self, now: datetime) -> None:
        """A valid request arrived: restart the timer of an open channel."""
        if self.level_at(now) is not None:
            self._expires_at = now + timedelta(seconds=self.timeout_s)

    @property
    def expires_at(self) -> datetime | None:
        return self._expires_at
