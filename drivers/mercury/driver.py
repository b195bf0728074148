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
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar, Literal, TypeVar

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
from drivers.base import (
    MeterEndpoint,
    ReadResult,
    endpoint_zone,
    read_supported,
    tag_error,
)
from drivers.mercury.answer import Payload
from drivers.mercury.frame import Param, RequestCode
from drivers.mercury.instant_reader import read_instant
from drivers.mercury.journals import read_events
from drivers.mercury.options import MercuryOptions
from drivers.mercury.password import DEFAULT_PASSWORDS
from drivers.mercury.profile import read_profile
from drivers.mercury.records import Variant
from drivers.mercury.request import (
    CloseChannelRequest,
    OpenChannelRequest,
    RawRequest,
    ReadParamRequest,
    ReadTimeRequest,
    Request,
)
from drivers.mercury.session import NEED_DATA, ClientEvent, ClientSession, StatusAnswer
from drivers.mercury.snapshots import read_current, read_daily, read_monthly
from drivers.mercury.values import (
    FirmwareVersion,
    MeterIdentity,
    MeterTime,
    Season,
    TransformationRatios,
    encode_bcd,
)
from drivers.transport.stream import ByteStream

__all__ = ["CLOCK_CORRECTION_LIMIT_S", "TRACE", "Mercury230Driver"]

#: 03 0D moves the clock by at most 4 minutes (DOC3 §3).
CLOCK_CORRECTION_LIMIT_S = 240

#: Raw frames are logged at this level, below DEBUG.
TRACE = logs.TRACE

logger = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT", bound=Payload)

_UNIVERSAL_ADDRESS = 0x00
_MAX_ADDRESS = 0xF0


class Mercury230Driver:
    """Reads current energy, instantaneous values, the clock and identity of one meter."""

    protocol: ClassVar[str] = "mercury230"
    clock_correction_limit_s: ClassVar[float] = CLOCK_CORRECTION_LIMIT_S
    supported_streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CURRENT, Stream.INSTANT, Stream.CLOCK, Stream.INFO, Stream.EVENTS,
         Stream.DAILY, Stream.MONTHLY, Stream.INTERVAL}
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
        self._zone = endpoint_zone(endpoint)
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
        self._variant_read: Variant | Literal[False] | None = None

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
        """Read ``streams`` now; ``since``/``until`` select events (``since <= ts < until``)."""
        read_at = self._now()
        return await read_supported(
            self.protocol, self._endpoint.meter_id, self.supported_streams, streams, read_at,
            lambda todo, result: self._read_open(todo, result, read_at, since, until),
        )

    async def _read_open(self, todo: list[Stream], result: ReadResult, read_at: datetime,
                         since: datetime | None, until: datetime | None) -> None:
        await self._stream.discard_input()
        self._variant_read = None
        await self._open()
        lost: IsuError | None = None
        for stream in todo:
            if lost is not None:
                result.errors[stream] = lost
                continue
            logger.debug("meter %s: reading %s", self._endpoint.meter_id, stream,
                         extra=self._extra)
            try:
                await self._read_stream(stream, result, read_at, since, until)
            except IsuError as exc:
                logger.warning("meter %s: %s stream failed: %s", self._endpoint.meter_id,
                               stream, exc, extra=self._extra)
                result.errors[stream] = exc
                if isinstance(exc, ConnectionLostError):
                    lost = exc
        if lost is None:  # no I/O on cancellation: the meter drops the channel after 240 s
            await self._close()

    async def _read_stream(self, stream: Stream, result: ReadResult, read_at: datetime,
                           since: datetime | None, until: datetime | None) -> None:
        if stream is Stream.EVENTS:
            result.events = await read_events(
                self._read, self._address, self._zone, self._options.journals,
                since=since, until=until, meter_id=self._endpoint.meter_id,
            )
        elif stream in (Stream.DAILY, Stream.MONTHLY):
            reader = read_daily if stream is Stream.DAILY else read_monthly
            today, variant = await self._today(), await self._variant()
            result.readings[stream] = await reader(
                self._read, self._address, self._zone, self._options.zones, today=today,
                archives=variant is not None and variant.extended_archives, since=since,
                until=until, meter_id=self._endpoint.meter_id,
            )
        elif stream is Stream.INTERVAL:
            result.readings[stream] = await self._read_interval(read_at, since, until)
        elif stream is Stream.CURRENT:
            result.readings[stream] = await self._read_current(read_at)
        elif stream is Stream.INSTANT:
            result.readings[stream] = await self._read_instant(read_at)
        elif stream is Stream.CLOCK:
            result.clock = [await self._read_clock()]
        else:
            result.info = await self._read_info(read_at)

    async def _read_current(self, read_at: datetime) -> list[ReadingItem]:
        return await read_current(self._read, self._address, self._options.zones, read_at)

    async def _read_instant(self, read_at: datetime) -> list[ReadingItem]:
        return await read_instant(self._read, self._address, read_at,
                                  phases=self._options.instant_mode == "phases",
                                  meter_id=self._endpoint.meter_id)

    async def _read_interval(self, read_at: datetime, since: datetime | None,
                             until: datetime | None) -> list[ReadingItem]:
        """The profile over ``[since, until)``, by default the last day."""
        until = until if until is not None else read_at
        since = since if since is not None else until - timedelta(days=1)
        pointer = self._options.profile_pointer
        if pointer == "auto":
            firmware = await self._read(
                ReadParamRequest(self._address, Param.FIRMWARE), FirmwareVersion
            )
            index_pointer = firmware.major >= 9  # §1.10: index on 9.x ("233+"), address before
        else:
            index_pointer = pointer == "index"
        return await read_profile(
            self._read, self._address, self._zone, await self._variant(),
            index_pointer=index_pointer, stamp_at_end=self._options.profile_stamp == "end",
            since=since, until=until, meter_id=self._endpoint.meter_id,
        )

    async def _today(self) -> date:
        """The meter's own date (its clock decides which day array C means)."""
        return (await self._read(ReadTimeRequest(self._address), MeterTime)).local.date()

    async def _variant(self) -> Variant | None:
        """08 12, once per read; ``None`` for a meter that does not answer it (status 1)."""
        if self._variant_read is None:
            try:
                self._variant_read = await self._read(
                    ReadParamRequest(self._address, Param.VARIANT), Variant
                )
            except RemoteProtocolError:
                self._variant_read = False
        return self._variant_read or None

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
        variant = await self._variant()
        if variant is not None:
            fields += variant.fields()
        return [InfoItem(field=name, value=value, ts=read_at) for name, value in fields]

    # --- clock -------------------------------------------------------------------------------

    async def correct_clock(self, delta_s: float) -> None:
        """Move the meter's clock by ``delta_s`` seconds with 03 0D (level 1 is enough).

        The meter allows ±240 s once a day: a second attempt raises
        :class:`ClockCorrectedTodayError` (status 4). The new time is the meter's own time plus
        ``delta_s`` and must stay within the same meter day. Daylight saving is never touched
        (docs/reference/mercury-protocol.md §1.6, §6.10).
        """
        if not -CLOCK_CORRECTION_LIMIT_S <= delta_s <= CLOCK_CORRECTION_LIMIT_S:
            raise ConfigError(f"meter {self._endpoint.meter_id}: a clock correction is limited "
                              f"to ±{CLOCK_CORRECTION_LIMIT_S} s, not {delta_s:g} s")
        await self._stream.discard_input()
        await self._open()
        meter_time = await self._read(ReadTimeRequest(self._address), MeterTime)
        target = meter_time.local + timedelta(seconds=round(delta_s))
        if target.date() != meter_time.local.date():
            await self._close()
            raise ObjectUnavailableError(
                f"meter {self._endpoint.meter_id}: a correction may not cross the meter's midnight"
            )
        time_bcd = encode_bcd((target.second, target.minute, target.hour))
        request = RawRequest(self._address, RequestCode.WRITE_PARAM, b"\x0d" + time_bcd)
        try:
            await self._command(request)
        finally:
            await self._close()
        logger.info("meter %s: clock corrected by %+d s", self._endpoint.meter_id,
                    round(delta_s), extra=self._extra)

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
        """One request and its answer; errors name the meter.

        One coroutine rather than a wrapper around another: every answer awaited resumes each
        frame of the chain above it, thousands of times a second in a collector.
        """
        try:
            timeout_s = self._endpoint.timeout_s
            frame = self._session.send(request, time.monotonic())
            self._trace("tx", request, frame)
            await self._stream.write(frame)
            deadline = time.monotonic() + timeout_s
            while (event := self._session.next_event()) is NEED_DATA:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise TransportTimeoutError(
                            f"{self._stream.description}: deadline passed"
                        )
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
        except IsuError as exc:
            raise self._tag(exc) from exc

    def _trace(self, direction: str, request: Request, data: bytes) -> None:
        if not logger.isEnabledFor(TRACE):
            return
        shown = data.hex(" ")
        if direction == "tx" and isinstance(request, OpenChannelRequest):
            shown = data[:3].hex(" ") + " ** ** ** ** ** ** ** **"  # password and its CRC
        logger.log(TRACE, "meter %s: %s %s", self._endpoint.meter_id, direction, shown,
                   extra=self._extra)

    def _tag(self, error: IsuError) -> IsuError:
        return tag_error(self._endpoint.meter_id, error)
