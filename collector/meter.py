"""A meter as its bus poller keeps it: endpoint, schedule, backoff and health."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import SecretStr

from collector.backoff import Backoff
from collector.clock import COLLECTOR_CLOCK_JOURNAL
from collector.config import BusConfig, MeterConfig, read_secret
from core.errors import IsuError
from core.messages import MeterState
from core.model import Quality, ReadingItem, Stream, utc_now
from core.obis import parse_energy_obis
from core.registers import register_quality
from drivers.base import (
    HISTORY_STREAMS,
    MeterEndpoint,
    ReadResult,
    check_endpoint,
    endpoint_zone,
)

__all__ = ["MeterRuntime"]


_REGISTER_CODES: dict[str, bool] = {}


def _is_register(obis: str) -> bool:
    """Whether ``obis`` is an energy register (remembered: the same few codes every read)."""
    known = _REGISTER_CODES.get(obis)
    if known is None:
        if len(_REGISTER_CODES) >= 4096:
            _REGISTER_CODES.clear()
        known = _REGISTER_CODES[obis] = parse_energy_obis(obis) is not None
    return known


class MeterRuntime:
    """A meter's endpoint, schedule and health, as one bus poller keeps them."""

    def __init__(self, meter: MeterConfig, bus: BusConfig, period_s: float, backoff_max_s: float):
        self.config = meter
        self.bus = bus.name
        self.period_s = period_s
        password: SecretStr | None = read_secret(meter, f"bus {bus.name!r}, meter {meter.id!r}")
        self.endpoint = MeterEndpoint(
            meter_id=meter.id,
            protocol=meter.protocol,
            address=meter.address,
            password=password.get_secret_value() if password is not None else None,
            timeout_s=bus.timeout_s,
            time_zone=meter.time_zone,
            options=meter.driver_options(),
        )
        check_endpoint(self.endpoint, bus.where)
        self.backoff = Backoff(period_s, max(period_s, backoff_max_s))
        #: Event-loop time of the next read; ``None``: read as soon as the bus is free.
        self.due_at: float | None = None
        #: Streams with a plan entry and when each is next due (event-loop time; absent: now).
        self.plans = meter.stream_plans()
        self.planned_due: dict[Stream, float] = {}
        #: When the streams without a plan entry are next due (``None``: now).
        self.cadence_due: float | None = None
        self._zone = endpoint_zone(self.endpoint)
        self.state = MeterState(meter=meter.id, protocol=meter.protocol)
        #: The last ``current`` value of each register, to judge the next one (in memory: the
        #: first read after a restart has nothing to compare with).
        self.last_registers: dict[str, Decimal] = {}
        #: When the clock was last corrected (or the meter said it already was today).
        self.clock_corrected_at: datetime | None = None

    def check_registers(self, items: list[ReadingItem]) -> tuple[list[ReadingItem], list[str]]:
        """``current`` register items with ``invalid`` quality where a register went back
        without rolling over at the capacity; also the channels so marked."""
        checked: list[ReadingItem] = []
        suspicious: list[str] = []
        for item in items:
            if not _is_register(item.obis):
                checked.append(item)
                continue
            previous = self.last_registers.get(item.obis)
            self.last_registers[item.obis] = item.value
            quality = register_quality(previous, item.value, self.config.capacity)
            if quality is Quality.INVALID and item.quality is not Quality.INVALID:
                suspicious.append(item.obis)
                item = item.model_copy(update={"quality": Quality.INVALID})
            checked.append(item)
        return checked, suspicious

    def streams_due(self, now: float) -> list[Stream]:
        """The streams to read at event-loop time ``now``, in configured order."""
        return [
            stream
            for stream in self.config.streams
            if (
                self.planned_due.get(stream, now) <= now
                if stream in self.plans
                else self.cadence_due is None or self.cadence_due <= now
            )
        ]

    def schedule(self, read: list[Stream], now: float, cadence_due: float) -> None:
        """After a successful read of ``read`` at event-loop time ``now``: when each is next
        due, and the meter's next wake-up."""
        wall = utc_now()
        for stream in read:
            plan = self.plans.get(stream)
            if plan is None:
                self.cadence_due = cadence_due
            else:
                due = plan.next_run(wall, self._zone, self.config.id)
                self.planned_due[stream] = now + (due - wall).total_seconds()
        unplanned = [s for s in self.config.streams if s not in self.plans]
        times = [self.planned_due.get(stream, now) for stream in self.plans]
        if unplanned:
            times.append(self.cadence_due if self.cadence_due is not None else now)
        self.due_at = min(times)

    def ledger_marks(self, result: ReadResult) -> dict[tuple[str, str], float]:
        """The newest ``ts`` the meter gave for each history stream read from it.

        Events the collector adds itself (a clock correction) are not the meter's journal:
        they must not move the mark past journal entries not read yet.
        """
        marks: dict[tuple[str, str], float] = {}
        for stream in result.streams():
            if stream not in HISTORY_STREAMS or stream not in self.config.streams:
                continue
            stamps = [
                item.ts
                for item in result.items(stream)
                if getattr(item, "journal", None) != COLLECTOR_CLOCK_JOURNAL
            ]
            if stamps:
                marks[(self.config.id, stream.value)] = max(stamps).timestamp()
        return marks

    @property
    def log_extra(self) -> dict[str, str]:
        return {"meter_id": self.config.id, "bus": self.bus}

    def succeeded(self, error: IsuError | None = None) -> None:
        now = utc_now()
        self.backoff.reset()
        update: dict[str, object] = {"last_success_at": now, "consecutive_failures": 0}
        if error is not None:  # a partial read: keep the first stream error visible
            update |= {
                "last_error_at": now,
                "last_error": str(error),
                "last_error_class": error.error_class,
            }
        self.state = self.state.model_copy(update=update)

    def failed(self, error_class: str, text: str) -> None:
        self.state = self.state.model_copy(
            update={
                "last_error_at": utc_now(),
                "last_error": text,
                "last_error_class": error_class,
                "consecutive_failures": self.state.consecutive_failures + 1,
            }
        )
