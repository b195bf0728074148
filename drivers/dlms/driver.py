"""The ``dlms`` driver: SPODES meters (GOST R 58940-2020) over HDLC or the TCP wrapper.

One ``read()`` opens the link and the association (public, reader with LLS, or HLS-GMAC: see
``options.py``), reads the streams asked for and releases. Every value is scaled by the
scaler-unit the meter gives; profiles and journals are read by their capture objects
(``profiles.py``) and by range from ``since``, so that the collector's ledger catches up after
an outage exactly as with the Mercury drivers. A stream that fails lands in
``ReadResult.errors``; a stream read is complete, never half read. A meter that dropped the
association (an exception-response, a DM) is associated again once and the stream retried.

=========  =====================================================================================
stream     objects (docs/dlms.md "The driver")
=========  =====================================================================================
current    1.0.C.8.T.255, C = 1..4, T = 0 and the zones; a missing total is the zones' sum
instant    the SPODES current values (``core.obis.INSTANT_CHANNELS``; single-phase U, I, In)
clock      0.0.1.0.0.255 attribute 2: wall time, drift, season from the status
info       identity 0.0.96.1.x.255, 0.0.42.0.0.255, CT/VT 1.0.0.4.2/3.255, operating time
daily      1.0.98.2.0.255, monthly 1.0.98.1.0.255: the energy register columns at each stamp
interval   1.0.99.1.0.255: the 1.0.C.29.0.255 columns over [ts, ts + capture period)
events     0.0.99.98.N.255 with their code column 0.0.96.11.N.255 → ``core.events`` (spodes)
=========  =====================================================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar

from core.errors import (
    ConfigError,
    ConnectionLostError,
    FrameError,
    IsuError,
    ObjectUnavailableError,
    RemoteProtocolError,
    SessionExpiredError,
    TransportError,
)
from core.events import SPODES, describe, journal_name
from core.model import ClockItem, EventItem, InfoItem, ReadingItem, Stream, utc_now
from core.obis import INSTANT_CHANNELS, EnergyKind, energy_obis, parse_energy_obis
from drivers.base import (
    MeterEndpoint,
    ReadResult,
    endpoint_zone,
    read_supported,
    tag_error,
)
from drivers.dlms.access import CLOCK, AttributeDescriptor, MethodDescriptor
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.cosem_datetime import ClockStatus
from drivers.dlms.hdlc import HdlcAddress
from drivers.dlms.link import HdlcLink, LinkTiming
from drivers.dlms.obis import Obis
from drivers.dlms.options import DEFAULT_READER_PASSWORD, DlmsOptions
from drivers.dlms.profiles import Profile, Row, get_list, read_profile, read_rows
from drivers.dlms.security import GmacSecurity
from drivers.dlms.session import ClientSettings, DlmsClient
from drivers.dlms.values import ScalerUnit, meter_moment, scaler_unit, seconds, text
from drivers.dlms.wrapper_link import WrapperLink
from drivers.transport.stream import ByteStream

__all__ = ["CLOCK_CORRECTION_LIMIT_S", "DlmsDriver"]

logger = logging.getLogger(__name__)

#: shift_time moves the clock by −900..+900 s (GOST 7.3.7, notes §1.5).
CLOCK_CORRECTION_LIMIT_S = 900

LOAD_PROFILE = Obis(1, 0, 99, 1, 0, 255)
DAILY_PROFILE = Obis(1, 0, 98, 2, 0, 255)
MONTHLY_PROFILE = Obis(1, 0, 98, 1, 0, 255)
_CLOCK_CLASS = 8
_SHIFT_TIME = 6
_REGISTER = 3
_DATA = 1

#: Identity and state (class, OBIS, field), notes §1.6.
_INFO: tuple[tuple[int, Obis, str], ...] = (
    (_DATA, Obis(0, 0, 96, 1, 0, 255), "serial_number"),
    (_DATA, Obis(0, 0, 96, 1, 1, 255), "model"),
    (_DATA, Obis(0, 0, 96, 1, 2, 255), "firmware"),
    (_DATA, Obis(0, 0, 96, 1, 3, 255), "manufacturer"),
    (_DATA, Obis(0, 0, 96, 1, 4, 255), "manufactured"),
    (_DATA, Obis(0, 0, 96, 1, 6, 255), "spodes_version"),
    (_DATA, Obis(0, 0, 42, 0, 0, 255), "logical_device_name"),
    (_DATA, Obis(1, 0, 0, 4, 2, 255), "ct_ratio"),
    (_DATA, Obis(1, 0, 0, 4, 3, 255), "vt_ratio"),
    (_REGISTER, Obis(0, 0, 96, 8, 0, 255), "operating_time_s"),
)
#: Single-phase current values (GOST В.1) besides the three-phase table of ``core.obis``.
_SINGLE_PHASE = ("1.0.12.7.0.255", "1.0.11.7.0.255", "1.0.91.7.0.255")
_INSTANT = (*INSTANT_CHANNELS, *_SINGLE_PHASE)
#: (meter id, system title, secret) → its HLS-GMAC settings with the live invocation counter.
_GMAC: dict[tuple[str, bytes, str | None], GmacSecurity] = {}
_GMAC_LIMIT = 65536
#: Without ``since``, the newest snapshot found this far back: two periods, so that a meter
#: whose clock lags (or that stamps its snapshot late) still gives its last one.
_DEFAULT_SNAPSHOT_WINDOW = {Stream.DAILY: timedelta(days=2), Stream.MONTHLY: timedelta(days=62)}


class DlmsDriver:
    """Reads every stream of one SPODES meter; moves its clock with shift_time."""

    protocol: ClassVar[str] = "dlms"
    clock_correction_limit_s: ClassVar[float] = CLOCK_CORRECTION_LIMIT_S
    supported_streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CURRENT, Stream.INSTANT, Stream.CLOCK, Stream.INFO, Stream.EVENTS,
         Stream.DAILY, Stream.MONTHLY, Stream.INTERVAL}
    )

    def __init__(self, stream: ByteStream, endpoint: MeterEndpoint, *,
                 now: Callable[[], datetime] = utc_now) -> None:
        self._stream = stream
        self._endpoint = endpoint
        self._now = now
        self._options = DlmsOptions.from_endpoint(endpoint)
        self._zone = endpoint_zone(endpoint)
        self._settings = self._client_settings()
        self._use_deviation = self._options.deviation == "use"
        self._client: DlmsClient | None = None

    def _client_settings(self) -> ClientSettings:
        options, endpoint = self._options, self._endpoint
        where = f"meter {endpoint.meter_id}"
        if options.authentication == "none":
            if endpoint.password is not None:
                raise ConfigError(f"{where}: a password is given but authentication is none")
            return ClientSettings(options.client)
        if options.authentication == "low":
            password = endpoint.password
            if password is None:
                if options.client != 32:
                    raise ConfigError(f"{where}: client {options.client} needs a password")
                password = DEFAULT_READER_PASSWORD
            try:
                secret = password.encode("ascii")
            except UnicodeEncodeError:
                raise ConfigError(f"{where}: an LLS password is ASCII text") from None
            if not 1 <= len(secret) <= 64:
                raise ConfigError(f"{where}: an LLS password is 1..64 characters")
            return ClientSettings(options.client, password=secret)
        return ClientSettings(options.client, hls=self._gmac())

    def _gmac(self) -> GmacSecurity:
        """HLS-GMAC from the meter's secret ``EK:AK`` (two keys of 32 hex digits) and the
        ``system_title`` option; one object per meter and keys, so that the invocation
        counter goes on from read to read. It starts at the Unix time, so that it still goes
        up after a restart (a meter may refuse a counter it has seen)."""
        endpoint = self._endpoint
        where = f"meter {endpoint.meter_id}"
        secret = endpoint.password
        keys = secret.replace(" ", "").split(":") if secret is not None else []
        if len(keys) != 2:
            raise ConfigError(f"{where}: high_gmac needs the secret EK:AK, the block cipher "
                              "and authentication keys in 32 hex digits each")
        title = self._options.system_title
        assert title is not None  # options.py requires it for high_gmac
        key = (endpoint.meter_id, title, secret)
        known = _GMAC.get(key)
        if known is None:
            try:
                known = GmacSecurity.from_hex(system_title=title.hex(), block_cipher_key=keys[0],
                                              authentication_key=keys[1],
                                              invocation_counter=int(time.time()))
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if len(_GMAC) >= _GMAC_LIMIT:
                _GMAC.clear()
            _GMAC[key] = known
        return known

    def _link(self) -> HdlcLink | WrapperLink:
        options, endpoint = self._options, self._endpoint
        timing = LinkTiming(timeout_s=endpoint.timeout_s, retries=options.retries,
                            inter_octet_s=min(0.5, endpoint.timeout_s))
        if options.transport == "wrapper":
            return WrapperLink(self._stream, client_sap=options.client,
                               logical_device=endpoint.address, timing=timing)
        return HdlcLink(self._stream, client_sap=options.client,
                        server=HdlcAddress.server(options.logical_device, endpoint.address),
                        timing=timing, max_info_rx=options.max_info, max_info_tx=options.max_info)

    # --- reading -----------------------------------------------------------------------------

    async def read(self, streams: Sequence[Stream], *, since: datetime | None = None,
                   until: datetime | None = None) -> ReadResult:
        """Read ``streams`` now; ``since``/``until`` bound history items (``since <= ts <
        until``)."""
        read_at = self._now()
        return await read_supported(
            self.protocol, self._endpoint.meter_id, self.supported_streams, streams, read_at,
            lambda todo, result: self._read_associated(todo, result, read_at, since, until),
        )

    async def _read_associated(self, todo: list[Stream], result: ReadResult, read_at: datetime,
                               since: datetime | None, until: datetime | None) -> None:
        await self._stream.discard_input()
        await self._open()
        lost: IsuError | None = None
        for stream in todo:
            if lost is not None:
                result.errors[stream] = lost
                continue
            try:
                try:
                    await self._read_stream(stream, result, read_at, since, until)
                except SessionExpiredError:
                    logger.info("meter %s: association lost, associating again",
                                self._endpoint.meter_id)
                    self._forget()
                    await self._open()
                    await self._read_stream(stream, result, read_at, since, until)
            except IsuError as exc:
                error = self._tag(exc)
                logger.warning("meter %s: %s stream failed: %s", self._endpoint.meter_id,
                               stream, error)
                result.errors[stream] = error
                if isinstance(exc, TransportError | ConnectionLostError | SessionExpiredError):
                    lost = error
        if lost is None:
            await self._close()
        else:
            self._forget()

    async def _read_stream(self, stream: Stream, result: ReadResult, read_at: datetime,
                           since: datetime | None, until: datetime | None) -> None:
        logger.debug("meter %s: reading %s", self._endpoint.meter_id, stream)
        if stream is Stream.CURRENT:
            result.readings[stream] = await self._read_current(read_at)
        elif stream is Stream.INSTANT:
            result.readings[stream] = await self._read_instant(read_at)
        elif stream is Stream.CLOCK:
            result.clock = [await self._read_clock()]
        elif stream is Stream.INFO:
            result.info = await self._read_info(read_at)
        elif stream is Stream.INTERVAL:
            result.readings[stream] = await self._read_interval(read_at, since, until)
        elif stream in (Stream.DAILY, Stream.MONTHLY):
            result.readings[stream] = await self._read_snapshots(stream, read_at, since, until)
        else:
            result.events = await self._read_events(since, until)

    async def _registers(self, names: Sequence[str]) -> dict[str, tuple[Data, ScalerUnit]]:
        """Value and scaler-unit of the class 3 registers ``names`` that the meter has."""
        client = self._require_client()
        references = [AttributeDescriptor(_REGISTER, Obis.parse(name), attribute)
                      for name in names for attribute in (2, 3)]
        answers = await get_list(client, references, self._options.list_size)
        found: dict[str, tuple[Data, ScalerUnit]] = {}
        for index, name in enumerate(names):
            value, unit = answers[2 * index], answers[2 * index + 1]
            if isinstance(value, IsuError) or isinstance(unit, IsuError):
                error = value if isinstance(value, IsuError) else unit
                assert isinstance(error, IsuError)
                if not isinstance(error, ObjectUnavailableError):
                    raise error
                continue
            try:
                found[name] = (value, scaler_unit(unit))
            except FrameError as exc:
                logger.info("meter %s: %s left out: %s", self._endpoint.meter_id, name, exc)
        return found

    async def _read_current(self, read_at: datetime) -> list[ReadingItem]:
        zones = (0, *self._options.zones)
        names = [energy_obis(kind, zone) for kind in EnergyKind for zone in zones]
        found = await self._registers(names)
        items: list[ReadingItem] = []
        for kind in EnergyKind:
            values = {zone: found[energy_obis(kind, zone)] for zone in zones
                      if energy_obis(kind, zone) in found}
            if not values:
                continue
            scaled = {zone: unit.value(value) for zone, (value, unit) in values.items()}
            unit = next(iter(values.values()))[1].unit
            if 0 not in scaled:  # DESIGN §3: the total is always present
                scaled = {0: sum(scaled.values(), Decimal(0))} | scaled
            items += [ReadingItem(obis=energy_obis(kind, zone), ts=read_at, value=value,
                                  unit=unit) for zone, value in sorted(scaled.items())]
        if not items:
            raise ObjectUnavailableError("no energy register 1.0.C.8.T.255 answered")
        return items

    async def _read_instant(self, read_at: datetime) -> list[ReadingItem]:
        found = await self._registers(_INSTANT)
        if not found:
            raise ObjectUnavailableError("no current value (1.0.x.7.0.255) answered")
        return [ReadingItem(obis=name, ts=read_at, value=unit.value(value), unit=unit.unit)
                for name, (value, unit) in found.items()]

    async def _read_clock(self) -> ClockItem:
        client = self._require_client()
        before = self._now()
        value = await client.get(AttributeDescriptor(_CLOCK_CLASS, CLOCK, 2))
        after = self._now()
        true_at = before + (after - before) / 2
        try:
            meter = value.as_datetime()
            moment = meter_moment(meter, self._zone, use_deviation=self._use_deviation)
            wall = meter.to_datetime().replace(tzinfo=None)
        except FrameError as exc:
            raise RemoteProtocolError(f"the clock's time is malformed: {exc}") from exc
        status = meter.clock_status
        season = None
        if status is not None:
            season = "summer" if status & ClockStatus.DAYLIGHT_SAVING else "winter"
        drift = seconds(moment - true_at).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
        return ClockItem(ts=true_at, meter_time=wall, drift_s=drift, season=season)

    async def _read_info(self, read_at: datetime) -> list[InfoItem]:
        client = self._require_client()
        references = [AttributeDescriptor(class_id, obis, 2) for class_id, obis, _ in _INFO]
        answers = await get_list(client, references, self._options.list_size)
        items: list[InfoItem] = []
        for (_, _, name), answer in zip(_INFO, answers, strict=True):
            if isinstance(answer, IsuError):
                if not isinstance(answer, ObjectUnavailableError):
                    raise answer
                continue
            try:
                shown = text(answer)
            except FrameError as exc:
                logger.info("meter %s: %s left out: %s", self._endpoint.meter_id, name, exc)
                continue
            items.append(InfoItem(field=name, value=shown[:256], ts=read_at))
        if not items:
            raise ObjectUnavailableError("no identity object (0.0.96.1.x.255) answered")
        return items

    async def _profile(self, obis: Obis, *, scalers: bool = True) -> Profile:
        return await read_profile(self._require_client(), obis,
                                  list_size=self._options.list_size, scalers=scalers)

    async def _rows(self, profile: Profile, start: datetime | None,
                    end: datetime | None) -> list[Row]:
        return await read_rows(self._require_client(), profile, start, end, self._zone,
                               use_deviation=self._use_deviation)

    async def _read_interval(self, read_at: datetime, since: datetime | None,
                             until: datetime | None) -> list[ReadingItem]:
        """The load profile over ``[since, until)``, by default the last day."""
        until = until if until is not None else read_at
        since = since if since is not None else until - timedelta(days=1)
        profile = await self._profile(LOAD_PROFILE)
        if profile.period_s <= 0:
            raise RemoteProtocolError(f"{LOAD_PROFILE}: capture period {profile.period_s}")
        period = timedelta(seconds=profile.period_s)
        at_end = self._options.profile_stamp == "end"
        shift = period if at_end else timedelta(0)
        rows = await self._rows(profile, since + shift, until + shift - timedelta(seconds=1))
        channels = [(index, column.instance) for index, column in enumerate(profile.columns)
                    if index in profile.scalers and column.instance.d == 29]
        items: list[ReadingItem] = []
        for row in rows:
            start = row.ts - shift
            if not since <= start < until:
                continue
            for index, obis in channels:
                unit = profile.scalers[index]
                items.append(ReadingItem(obis=str(obis), ts=start, value=unit.value(
                    row.values[index]), unit=unit.unit, period_s=profile.period_s))
        return items

    async def _read_snapshots(self, stream: Stream, read_at: datetime, since: datetime | None,
                              until: datetime | None) -> list[ReadingItem]:
        """Registers at each daily/monthly stamp in ``[since, until)``; by default the last."""
        obis = DAILY_PROFILE if stream is Stream.DAILY else MONTHLY_PROFILE
        profile = await self._profile(obis)
        start = since if since is not None else read_at - _DEFAULT_SNAPSHOT_WINDOW[stream]
        end = until - timedelta(seconds=1) if until is not None else read_at + timedelta(days=1)
        rows = [row for row in await self._rows(profile, start, end)
                if row.ts >= start and (until is None or row.ts < until)]
        if since is None:
            rows = rows[-1:]
        channels = [(index, str(column.instance)) for index, column in enumerate(profile.columns)
                    if index in profile.scalers
                    and parse_energy_obis(str(column.instance)) is not None]
        return [ReadingItem(obis=name, ts=row.ts, value=profile.scalers[index].value(
                    row.values[index]), unit=profile.scalers[index].unit)
                for row in rows for index, name in channels]

    async def _read_events(self, since: datetime | None,
                           until: datetime | None) -> list[EventItem]:
        """Every journal's entries in ``[since, until)``; by default all the meter keeps."""
        items: list[EventItem] = []
        for number in self._options.journals:
            obis = Obis(0, 0, 99, 98, number, 255)
            try:
                profile = await self._profile(obis, scalers=False)
            except ObjectUnavailableError:
                logger.debug("meter %s: no journal %s", self._endpoint.meter_id, obis)
                continue
            code = profile.column(_DATA, Obis(0, 0, 96, 11, number, 255))
            if code is None:
                logger.info("meter %s: journal %s has no event code column; skipped",
                            self._endpoint.meter_id, obis)
                continue
            end = until - timedelta(seconds=1) if until is not None else None
            for row in await self._rows(profile, since, end):
                if (since is not None and row.ts < since) or (until is not None
                                                              and row.ts >= until):
                    continue
                try:
                    value = row.values[code].as_int()
                except FrameError as exc:
                    raise RemoteProtocolError(f"{obis}: event code malformed: {exc}") from exc
                kind = describe(SPODES, number, value)
                items.append(EventItem(ts=row.ts, journal=journal_name(SPODES, number),
                                       code=value, kind=kind.kind.name, text=kind.text,
                                       critical=kind.critical, phase=kind.phase))
        items.sort(key=lambda item: item.ts)
        return items

    # --- clock -------------------------------------------------------------------------------

    async def correct_clock(self, delta_s: float) -> None:
        """Move the meter's clock by ``delta_s`` seconds with shift_time (class 8 method 6),
        which the reader may call (GOST 7.3.7); ±900 s at most."""
        if not -CLOCK_CORRECTION_LIMIT_S <= delta_s <= CLOCK_CORRECTION_LIMIT_S:
            raise ConfigError(f"meter {self._endpoint.meter_id}: a clock correction is limited "
                              f"to ±{CLOCK_CORRECTION_LIMIT_S} s, not {delta_s:g} s")
        await self._stream.discard_input()
        await self._open()
        try:
            await self._require_client().action(
                MethodDescriptor(_CLOCK_CLASS, CLOCK, _SHIFT_TIME),
                Data(DataType.LONG, round(delta_s)),
            )
        except IsuError as exc:
            await self._close_after(exc)
            raise self._tag(exc) from exc
        await self._close()
        logger.info("meter %s: clock shifted by %+d s", self._endpoint.meter_id,
                    round(delta_s))

    # --- association -------------------------------------------------------------------------

    async def _open(self) -> None:
        client = DlmsClient(self._link(), self._settings)
        try:
            await client.open()
        except IsuError as exc:
            raise self._tag(exc) from exc
        self._client = client

    def _require_client(self) -> DlmsClient:
        if self._client is None:
            raise SessionExpiredError("no association")
        return self._client

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _close_after(self, error: IsuError) -> None:
        if isinstance(error, TransportError | ConnectionLostError):
            self._forget()
        else:
            await self._close()

    def _forget(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.link.forget()

    def _tag(self, error: IsuError) -> IsuError:
        return tag_error(self._endpoint.meter_id, error)
