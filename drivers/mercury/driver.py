"""The ``mercury230`` driver: Mercury 230/231/232/233/234/236 over any byte stream.

One ``read()`` opens the channel (level and password from the endpoint), reads the streams asked
for and closes the channel. Status 5 (channel not open, after 240 s idle) reopens once and
retries the request (docs/reference/mercury-protocol.md §6.11). A stream that fails lands in
``ReadResult.errors``; one that succeeds is complete, never half read.

``endpoint.options`` are described in ``options.py``; in "phases" mode a meter that answers
08 16 with status 1 is read value by value with 08 11 instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import logs
from core.errors import (
    ConfigError,
    ConnectionLostError,
    IsuError,
    ObjectUnavailableError,
    RemoteProtocolError,
    SessionExpiredError,
    TransportTimeoutError,
    UnexpectedResponseError,
)
from core.model import ClockItem, InfoItem, ReadingItem, Stream, utc_now
from core.obis import INSTANT_CHANNELS, EnergyKind, energy_obis
from drivers.base import MeterEndpoint, ReadResult
from drivers.mercury.answer import Payload
from drivers.mercury.frame import EnergyArray, Param
from drivers.mercury.instant import Bwri, InstantValues, PowerKind, Quantity
from drivers.mercury.options import MercuryOptions
from drivers.mercury.password import DEFAULT_PASSWORDS
from drivers.mercury.request import (
    CloseChannelRequest,
    OpenChannelRequest,
    ReadEnergyRequest,
    ReadParamRequest,
    ReadTimeRequest,
    Request,
)
from drivers.mercury.session import NEED_DATA, ClientEvent, ClientSession, StatusAnswer
from drivers.mercury.values import (
    EnergyRegisters,
    FirmwareVersion,
    MeterIdentity,
    MeterTime,
    Season,
    TransformationRatios,
)
from drivers.transport.stream import ByteStream

__all__ = ["TRACE", "Mercury230Driver"]

#: Raw frames are logged at this level, below DEBUG.
TRACE = logs.TRACE

logger = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT", bound=Payload)

_UNIVERSAL_ADDRESS = 0x00
_MAX_ADDRESS = 0xF0


def _obis(group: int) -> str:
    return f"1.0.{group}.7.0.255"


# BWRI of 08 16 and the OBIS groups of its answer, in the meter's order (§1.8).
_PHASE_PLAN: tuple[tuple[Bwri, tuple[int, ...]], ...] = (
    (Bwri(Quantity.POWER, 0, PowerKind.ACTIVE), (1, 21, 41, 61)),
    (Bwri(Quantity.POWER, 0, PowerKind.REACTIVE), (3, 23, 43, 63)),
    (Bwri(Quantity.POWER, 0, PowerKind.APPARENT), (9, 29, 49, 69)),
    (Bwri(Quantity.VOLTAGE, 1), (32, 52, 72)),
    (Bwri(Quantity.CURRENT, 1), (31, 51, 71)),
    (Bwri(Quantity.POWER_FACTOR, 0), (13, 33, 53, 73)),
)
_FREQUENCY = Bwri(Quantity.FREQUENCY)


def _single_values(selector: Bwri, groups: tuple[int, ...]) -> list[tuple[Bwri, int]]:
    """The 08 11 selectors that read one by one what ``selector`` reads at once."""
    first = 0 if len(groups) == 4 else 1
    return [
        (Bwri(selector.quantity, first + i, selector.power), group)
        for i, group in enumerate(groups)
    ]


class Mercury230Driver:
    """Reads current energy, instantaneous values, the clock and identity of one meter."""

    protocol: ClassVar[str] = "mercury230"
    supported_streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CURRENT, Stream.INSTANT, Stream.CLOCK, Stream.INFO}
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
        self._options = MercuryOptions.from_endpoint(endpoint)
        self._address = self._check_address(endpoint)
        if endpoint.timeout_s <= 0:
            raise ConfigError(f"meter {endpoint.meter_id}: timeout_s must be positive")
        try:
            self._zone = ZoneInfo(endpoint.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"meter {endpoint.meter_id}: unknown time zone {endpoint.time_zone!r}"
            ) from exc
        level = self._options.level
        password = endpoint.password
        if password is None:
            password = DEFAULT_PASSWORDS[level]
        try:
            self._open_request = OpenChannelRequest.create(
                self._address, level, password, self._options.password_encoding
            )
        except ConfigError as exc:
            raise ConfigError(f"meter {endpoint.meter_id}: {exc}") from None
        self._session = ClientSession()

    def _check_address(self, endpoint: MeterEndpoint) -> int:
        address = endpoint.address
        if address == _UNIVERSAL_ADDRESS:
            logger.warning(
                "meter %s: universal address 0 makes every meter on the bus answer; "
                "use it only point to point", endpoint.meter_id, extra=self._extra,
            )
            return address
        if not 1 <= address <= _MAX_ADDRESS:
            raise ConfigError(
                f"meter {endpoint.meter_id}: Mercury 230 address {address} is outside 1..240 "
                "(0 point to point only; FE is broadcast and gets no answer)"
            )
        return address

    async def read(
        self,
        streams: Sequence[Stream],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ReadResult:
        """Read ``streams`` now; ``since``/``until`` do not apply to the streams offered yet."""
        read_at = self._now()
        result = ReadResult(self._endpoint.meter_id, read_at)
        wanted = list(dict.fromkeys(streams))
        for stream in wanted:
            if stream not in self.supported_streams:
                result.errors[stream] = ObjectUnavailableError(
                    f"meter {self._endpoint.meter_id}: the mercury230 driver does not read "
                    f"the {stream} stream"
                )
        todo = [stream for stream in wanted if stream in self.supported_streams]
        if todo:
            await self._read_open(todo, result, read_at)
        if not result.streams() and result.errors:
            raise next(result.errors[stream] for stream in wanted if stream in result.errors)
        return result

    async def _read_open(self, todo: list[Stream], result: ReadResult, read_at: datetime) -> None:
        await self._stream.discard_input()
        await self._open()
        lost: IsuError | None = None
        for stream in todo:
            if lost is not None:
                result.errors[stream] = lost
                continue
            logger.debug("meter %s: reading %s", self._endpoint.meter_id, stream,
                         extra=self._extra)
            try:
                await self._read_stream(stream, result, read_at)
            except IsuError as exc:
                logger.warning("meter %s: %s stream failed: %s", self._endpoint.meter_id,
                               stream, exc, extra=self._extra)
                result.errors[stream] = exc
                if isinstance(exc, ConnectionLostError):
                    lost = exc
        if lost is None:  # no I/O on cancellation: the meter drops the channel after 240 s
            await self._close()

    async def _read_stream(self, stream: Stream, result: ReadResult, read_at: datetime) -> None:
        if stream is Stream.CURRENT:
            result.readings[stream] = await self._read_current(read_at)
        elif stream is Stream.INSTANT:
            result.readings[stream] = await self._read_instant(read_at)
        elif stream is Stream.CLOCK:
            result.clock = [await self._read_clock()]
        else:
            result.info = await self._read_info(read_at)

    async def _read_current(self, read_at: datetime) -> list[ReadingItem]:
        items = []
        for tariff in (0, *self._options.zones):
            request = ReadEnergyRequest(self._address, EnergyArray.FROM_RESET, tariff)
            registers = await self._read(request, EnergyRegisters)
            for kind in EnergyKind:
                value = registers.kwh(kind)
                if value is not None:  # FF FF FF FF: the meter does not measure this kind
                    items.append(ReadingItem(
                        obis=energy_obis(kind, tariff), ts=read_at, value=value, unit=kind.unit
                    ))
        return items

    async def _read_instant(self, read_at: datetime) -> list[ReadingItem]:
        values: list[tuple[int, Decimal]] = []
        for selector, groups in _PHASE_PLAN:
            if self._options.instant_mode == "phases":
                request = ReadParamRequest.phase_values(self._address, selector)
                try:
                    answer = await self._read(request, InstantValues)
                except RemoteProtocolError:
                    logger.debug("meter %s: no 08 16 %02X, reading values one by one",
                                 self._endpoint.meter_id, selector.to_byte(), extra=self._extra)
                else:
                    values += zip(groups, answer.amounts, strict=True)
                    continue
            values += [(group, await self._read_single(single))
                       for single, group in _single_values(selector, groups)]
        values.append((14, await self._read_single(_FREQUENCY)))
        return [
            ReadingItem(obis=_obis(group), ts=read_at, value=amount,
                        unit=INSTANT_CHANNELS[_obis(group)].unit)
            for group, amount in values
        ]

    async def _read_single(self, selector: Bwri) -> Decimal:
        request = ReadParamRequest.aux_value(self._address, selector)
        return (await self._read(request, InstantValues)).amounts[0]

    async def _read_clock(self) -> ClockItem:
        before = self._now()
        meter_time = await self._read(ReadTimeRequest(self._address), MeterTime)
        after = self._now()
        true_at = before + (after - before) / 2
        # In a repeated autumn hour the season flag tells which of the two is meant.
        local = meter_time.local.replace(
            tzinfo=self._zone, fold=1 if meter_time.season is Season.WINTER else 0
        )
        delta = local - true_at
        whole = Decimal(delta.days * 86400 + delta.seconds)
        seconds = whole + Decimal(delta.microseconds).scaleb(-6)
        return ClockItem(
            ts=true_at,
            meter_time=meter_time.local,
            drift_s=seconds.quantize(Decimal("0.1"), ROUND_HALF_EVEN),
            season=meter_time.season.label,
        )

    async def _read_info(self, read_at: datetime) -> list[InfoItem]:
        identity = await self._read(
            ReadParamRequest(self._address, Param.SERIAL_NUMBER), MeterIdentity
        )
        firmware = await self._read(
            ReadParamRequest(self._address, Param.FIRMWARE), FirmwareVersion
        )
        ratios = await self._read(
            ReadParamRequest(self._address, Param.RATIOS), TransformationRatios
        )
        fields = [("serial_number", identity.serial_number)]
        if identity.manufactured is not None:
            fields.append(("manufactured", identity.manufactured.isoformat()))
        fields += [
            ("firmware", str(firmware)),
            ("vt_ratio", str(ratios.voltage)),
            ("ct_ratio", str(ratios.current)),
        ]
        return [InfoItem(field=name, value=value, ts=read_at) for name, value in fields]

    # --- one request -------------------------------------------------------------------------

    async def _open(self) -> None:
        await self._command(self._open_request)
        logger.debug("meter %s: channel open at level %d", self._endpoint.meter_id,
                     self._open_request.level, extra=self._extra)

    async def _close(self) -> None:
        try:
            await self._command(CloseChannelRequest(self._address))
        except IsuError as exc:
            # The meter closes an idle channel by itself after 240 s anyway.
            logger.debug("meter %s: close failed: %s", self._endpoint.meter_id, exc,
                         extra=self._extra)

    async def _command(self, request: Request) -> None:
        event = await self._tagged(request)
        if isinstance(event, StatusAnswer):
            error = event.error()
            if error is not None:
                raise self._tag(error)
            return
        raise self._tag(UnexpectedResponseError(f"data in answer to {type(request).__name__}"))

    async def _read(self, request: Request, kind: type[PayloadT]) -> PayloadT:
        reopened = False
        while True:
            event = await self._tagged(request)
            if isinstance(event, StatusAnswer):
                error = event.error() or UnexpectedResponseError("status OK where data belongs")
                if isinstance(error, SessionExpiredError) and not reopened:
                    logger.info("meter %s: channel expired, reopening", self._endpoint.meter_id,
                                extra=self._extra)
                    reopened = True
                    await self._open()
                    continue
                raise self._tag(error)
            if not isinstance(event.payload, kind):
                raise self._tag(UnexpectedResponseError(
                    f"{type(event.payload).__name__} in answer to {type(request).__name__}"
                ))
            return event.payload

    async def _tagged(self, request: Request) -> ClientEvent:
        try:
            return await self._exchange(request)
        except IsuError as exc:
            raise self._tag(exc) from exc

    async def _exchange(self, request: Request) -> ClientEvent:
        timeout_s = self._endpoint.timeout_s
        frame = self._session.send(request, time.monotonic())
        self._trace("tx", request, frame)
        await self._stream.write(frame)
        deadline = time.monotonic() + timeout_s
        while (event := self._session.next_event()) is NEED_DATA:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TransportTimeoutError(f"{self._stream.description}: deadline passed")
                chunk = await self._stream.read_some(remaining)
            except TransportTimeoutError as exc:
                self._session.timed_out()  # raises when what came is a broken answer
                raise TransportTimeoutError(
                    f"no answer to {type(request).__name__} within {timeout_s:g} s "
                    f"on {self._stream.description}"
                ) from exc
            self._trace("rx", request, chunk)
            self._session.receive_data(chunk)
        return event

    def _trace(self, direction: str, request: Request, data: bytes) -> None:
        if not logger.isEnabledFor(TRACE):
            return
        shown = data.hex(" ")
        if direction == "tx" and isinstance(request, OpenChannelRequest):
            shown = data[:3].hex(" ") + " ** ** ** ** ** ** ** **"  # password and its CRC
        logger.log(TRACE, "meter %s: %s %s", self._endpoint.meter_id, direction, shown,
                   extra=self._extra)

    def _tag(self, error: IsuError) -> IsuError:
        prefix = f"meter {self._endpoint.meter_id}: "
        if str(error).startswith(prefix):
            return error
        tagged = type(error)(prefix + str(error))
        tagged.__cause__ = error
        return tagged
