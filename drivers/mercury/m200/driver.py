"""The ``mercury200`` driver: Mercury 200/201/203 (except 203.2TD)/206 over any byte stream
(docs/reference/mercury-protocol.md §2; DESIGN §3 streams; docs/mercury200.md).

::

    current  27 [85]          1.0.1.8.T.255 [1.0.3.8.T.255], T0 = sum of the zones in use
    monthly  32 MM, per month 1.0.1.8.T.255 at 00:00 local on the 1st after the billing month
    instant  63 81            1.0.12.7.0.255 U, 1.0.11.7.0.255 I, 1.0.1.7.0.255 P, 1.0.14.7.0.255 f
    clock 21 · info 2F 66 29 · events 2B 2C 61 62

There is no session and no password (docs/reference/mercury-protocol.md §2): every read is one
request and its answer. A stream that fails lands in ``ReadResult.errors``; one that succeeds
is complete. The meter sends zones only, so the total ``1.0.C.8.0.255`` is computed as the sum
of the zones in use (DESIGN §3). ``endpoint.options`` are described in ``options.py``.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar, TypeVar

from core import logs
from core.errors import (
    ConfigError,
    ConnectionLostError,
    IsuError,
    TransportTimeoutError,
    UnexpectedResponseError,
)
from core.model import ClockItem, EventItem, InfoItem, ReadingItem, Stream, utc_now
from core.obis import EnergyKind, energy_obis
from drivers.base import MeterEndpoint, ReadResult, endpoint_zone, read_supported, tag_error
from drivers.mercury.m200.answer import Payload
from drivers.mercury.m200.events import EVENT_COMMANDS, event_journal, event_type
from drivers.mercury.m200.frame import MAX_ADDRESS, Command, Request
from drivers.mercury.m200.options import Mercury200Options
from drivers.mercury.m200.session import NEED_DATA, ClientSession
from drivers.mercury.m200.values import (
    BatteryVoltage,
    EnergyTariffs,
    EventTime,
    FrequencyStatus,
    InstantValues,
    ManufactureDate,
    MeterClock,
    SerialNumber,
)
from drivers.transport.stream import ByteStream

__all__ = ["INSTANT_OBIS", "Mercury200Driver"]

logger = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT", bound=Payload)

#: Single-phase SPODES codes (docs/reference/dlms-spodes.md §1.3) and their units.
INSTANT_OBIS = {
    "voltage": ("1.0.12.7.0.255", "V"),
    "current": ("1.0.11.7.0.255", "A"),
    "power": ("1.0.1.7.0.255", "kW"),
    "frequency": ("1.0.14.7.0.255", "Hz"),
}


class Mercury200Driver:
    """Reads registers, monthly snapshots, instant values, clock, identity and last events."""

    protocol: ClassVar[str] = "mercury200"
    supported_streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CURRENT, Stream.MONTHLY, Stream.INSTANT, Stream.CLOCK, Stream.INFO,
         Stream.EVENTS}
    )

    def __init__(
        self,
        stream: ByteStream,
        endpoint: MeterEndpoint,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._stream = stream
        self._endpoint = endpoint
        self._now = now
        self._extra = {"meter_id": endpoint.meter_id, "bus": stream.description}
        self._options = Mercury200Options.from_endpoint(endpoint)
        if not 0 <= endpoint.address <= MAX_ADDRESS:
            raise ConfigError(
                f"meter {endpoint.meter_id}: Mercury 200 address {endpoint.address} does not "
                "fit four bytes"
            )
        self._address = endpoint.address
        self._zone = endpoint_zone(endpoint)
        self._session = ClientSession()

    async def read(
        self,
        streams: Sequence[Stream],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ReadResult:
        """Read ``streams``; ``since``/``until`` select the monthly snapshots by their ``ts``."""
        read_at = self._now()
        return await read_supported(
            self.protocol, self._endpoint.meter_id, self.supported_streams, streams, read_at,
            lambda todo, result: self._read_each(todo, result, read_at, since, until),
        )

    async def _read_each(self, todo: list[Stream], result: ReadResult, read_at: datetime,
                         since: datetime | None, until: datetime | None) -> None:
        await self._stream.discard_input()
        lost: IsuError | None = None
        for stream in todo:
            if lost is not None:
                result.errors[stream] = lost
                continue
            try:
                await self._read_stream(stream, result, read_at, since, until)
            except IsuError as exc:
                logger.warning("meter %s: %s stream failed: %s", self._endpoint.meter_id,
                               stream, exc, extra=self._extra)
                result.errors[stream] = exc
                if isinstance(exc, ConnectionLostError):
                    lost = exc

    async def _read_stream(
        self,
        stream: Stream,
        result: ReadResult,
        read_at: datetime,
        since: datetime | None,
        until: datetime | None,
    ) -> None:
        if stream is Stream.CURRENT:
            result.readings[stream] = await self._read_current(read_at)
        elif stream is Stream.MONTHLY:
            result.readings[stream] = await self._read_monthly(since, until)
        elif stream is Stream.INSTANT:
            result.readings[stream] = await self._read_instant(read_at)
        elif stream is Stream.CLOCK:
            result.clock = [await self._read_clock()]
        elif stream is Stream.INFO:
            result.info = await self._read_info(read_at)
        else:
            result.events = await self._read_events()

    # --- streams ------------------------------------------------------------------------------

    def _registers(
        self, kind: EnergyKind, tariffs: EnergyTariffs, ts: datetime
    ) -> list[ReadingItem]:
        items = [ReadingItem(obis=energy_obis(kind, 0), ts=ts, value=tariffs.total_kwh,
                             unit=kind.unit)]
        for zone in self._options.zones:
            value = tariffs.kwh(zone)
            if value is not None:  # FF…FF: the zone is not in use
                items.append(ReadingItem(obis=energy_obis(kind, zone), ts=ts, value=value,
                                         unit=kind.unit))
        return items

    async def _read_current(self, read_at: datetime) -> list[ReadingItem]:
        active = await self._read(Request(self._address, Command.ENERGY), EnergyTariffs)
        items = self._registers(EnergyKind.A_PLUS, active, read_at)
        if self._options.reactive:
            try:
                reactive = await self._read(
                    Request(self._address, Command.REACTIVE_ENERGY), EnergyTariffs
                )
            except TransportTimeoutError:
                logger.debug("meter %s: no answer to 85, R+ left out", self._endpoint.meter_id,
                             extra=self._extra)
            else:
                items += self._registers(EnergyKind.R_PLUS, reactive, read_at)
        return items

    def _month_end(self, year: int, month: int) -> datetime:
        """00:00 local on the 1st of the month after billing month ``month`` of ``year``."""
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return datetime.combine(date(year, month, 1), time(0), tzinfo=self._zone).astimezone(UTC)

    async def _read_monthly(
        self, since: datetime | None, until: datetime | None
    ) -> list[ReadingItem]:
        today = self._now().astimezone(self._zone)
        items: list[ReadingItem] = []
        for back in range(1, self._options.months + 1):
            index = today.year * 12 + today.month - 1 - back
            year, month = divmod(index, 12)
            ts = self._month_end(year, month + 1)
            if (since is not None and ts < since) or (until is not None and ts > until):
                continue
            tariffs = await self._read(Request.monthly(self._address, month + 1), EnergyTariffs)
            items += self._registers(EnergyKind.A_PLUS, tariffs, ts)
        return items

    async def _read_instant(self, read_at: datetime) -> list[ReadingItem]:
        values = await self._read(Request(self._address, Command.INSTANT), InstantValues)
        status = await self._read(Request(self._address, Command.FREQUENCY), FrequencyStatus)
        amounts = {
            "voltage": values.voltage_v,
            "current": values.current_a,
            "power": values.power_kw,
            "frequency": status.frequency_hz,
        }
        return [
            ReadingItem(obis=obis, ts=read_at, value=amounts[name], unit=unit)
            for name, (obis, unit) in INSTANT_OBIS.items()
        ]

    async def _read_clock(self) -> ClockItem:
        before = self._now()
        clock = await self._read(Request(self._address, Command.CLOCK), MeterClock)
        after = self._now()
        true_at = before + (after - before) / 2
        delta = clock.local.replace(tzinfo=self._zone) - true_at
        seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(
            delta.microseconds
        ).scaleb(-6)
        return ClockItem(
            ts=true_at,
            meter_time=clock.local,
            drift_s=seconds.quantize(Decimal("0.1"), ROUND_HALF_EVEN),
        )

    async def _read_info(self, read_at: datetime) -> list[InfoItem]:
        serial = await self._read(Request(self._address, Command.SERIAL_NUMBER), SerialNumber)
        made = await self._read(Request(self._address, Command.MANUFACTURED), ManufactureDate)
        battery = await self._read(Request(self._address, Command.BATTERY), BatteryVoltage)
        fields = [
            ("serial_number", str(serial.value)),
            ("manufactured", made.day.isoformat()),
            ("battery_v", str(battery.volts)),
        ]
        return [InfoItem(field=name, value=value, ts=read_at) for name, value in fields]

    async def _read_events(self) -> list[EventItem]:
        items = []
        for command in EVENT_COMMANDS:
            event = await self._read(Request(self._address, command), EventTime)
            if event.local is None:
                continue
            meaning = event_type(command)
            items.append(EventItem(
                ts=event.local.replace(tzinfo=self._zone),
                journal=event_journal(command),
                code=meaning.code,
                kind=meaning.kind.name,
                text=meaning.text,
                critical=meaning.critical,
            ))
        return sorted(items, key=lambda item: (item.ts, item.journal))

    # --- one request --------------------------------------------------------------------------

    async def _read(self, request: Request, kind: type[PayloadT]) -> PayloadT:
        try:
            answer = await self._exchange(request)
        except IsuError as exc:
            raise self._tag(exc) from exc
        if not isinstance(answer, kind):
            raise self._tag(UnexpectedResponseError(
                f"{type(answer).__name__} in answer to command {request.command:02X}"
            ))
        return answer

    async def _exchange(self, request: Request) -> Payload:
        timeout_s = self._endpoint.timeout_s
        frame = self._session.send(request)
        self._trace("tx", frame)
        await self._stream.write(frame)
        loop_time = time_module.monotonic
        deadline = loop_time() + timeout_s
        while (event := self._session.next_event()) is NEED_DATA:
            remaining = deadline - loop_time()
            try:
                if remaining <= 0:
                    raise TransportTimeoutError(f"{self._stream.description}: deadline passed")
                chunk = await self._stream.read_some(remaining)
            except TransportTimeoutError as exc:
                self._session.timed_out()  # raises when what came is a broken answer
                raise TransportTimeoutError(
                    f"no answer to command {request.command:02X} within {timeout_s:g} s "
                    f"on {self._stream.description}"
                ) from exc
            self._trace("rx", chunk)
            self._session.receive_data(chunk)
        return event.payload

    def _trace(self, direction: str, data: bytes) -> None:
        if logger.isEnabledFor(logs.TRACE):
            logger.log(logs.TRACE, "meter %s: %s %s", self._endpoint.meter_id, direction,
                       data.hex(" "), extra=self._extra)

    def _tag(self, error: IsuError) -> IsuError:
        return tag_error(self._endpoint.meter_id, error)
