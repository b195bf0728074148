"""``endpoint.options`` of the ``dlms`` driver, validated once when the driver is built.

==================  ===========================  ==============================================
key                 default                      meaning
==================  ===========================  ==============================================
``transport``       ``"hdlc"``                   ``hdlc`` (RS-485, optical port, transparent TCP
                                                 converter) or ``wrapper`` (IEC 62056-47 on TCP)
``client``          ``32``                       client SAP: 16 public, 32 reader, 48
                                                 configurator (or a vendor's own)
``authentication``  public: ``none``, else       ``none``, ``low`` (LLS, the endpoint's password)
                    ``low``                      or ``high_gmac`` (HLS-GMAC, security suite 0)
``system_title``    —                            the client's system title for ``high_gmac``,
                                                 16 hex digits
``logical_device``  ``1``                        HDLC upper address (the management device)
``max_info``        ``128``                      HDLC information field proposed both ways
``retries``         ``2``                        HDLC polls or wrapper re-sends after a silence
``zones``           ``[1, 2, 3, 4]``             tariff registers read besides the total (1..8)
``journals``        ``[0, 1, 2, 3, 4, 5, 6, 7,   journals 0.0.99.98.N.255 read for ``events``;
                    8]``                         absent ones are skipped
``profile_stamp``   ``"end"``                    a load-profile entry stamped hh:mm closes the
                                                 interval (``end``) or opens it (``start``)
``deviation``       ``"ignore"``                 ``ignore``: the meter's times are wall time in
                                                 its time zone; ``use``: the deviation sent with
                                                 a time places it (Blue Book sign)
``list_size``       ``16``                       attributes per GET-with-list request
==================  ===========================  ==============================================

For the wrapper, ``MeterEndpoint.address`` is the server's wPort (the logical device, 1 for the
management device); for HDLC it is the meter's physical address (the lower HDLC address).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError, IsuError
from drivers.base import MeterEndpoint, OptionsCache
from drivers.dlms.hdlc import HdlcAddress

__all__ = ["AUTHENTICATIONS", "DEFAULT_JOURNALS", "DEFAULT_READER_PASSWORD", "DlmsOptions"]

AUTHENTICATIONS = ("none", "low", "high_gmac")
TRANSPORTS = ("hdlc", "wrapper")
#: The journals whose entries carry an event code (notes §1.8, N = 0..8).
DEFAULT_JOURNALS = (0, 1, 2, 3, 4, 5, 6, 7, 8)
#: The reader's password SPODES meters leave the factory with; the simulator's too.
DEFAULT_READER_PASSWORD = "12345678"  # noqa: S105 (a documented factory default)
PUBLIC_CLIENT = 16
READER_CLIENT = 32

_KEYS = frozenset({"transport", "client", "authentication", "system_title", "logical_device",
                   "max_info", "retries", "zones", "journals", "profile_stamp", "deviation",
                   "list_size"})


@dataclass(frozen=True, slots=True)
class DlmsOptions:
    transport: str = "hdlc"
    client: int = READER_CLIENT
    authentication: str = "low"
    system_title: bytes | None = None
    logical_device: int = 1
    max_info: int = 128
    retries: int = 2
    zones: tuple[int, ...] = (1, 2, 3, 4)
    journals: tuple[int, ...] = DEFAULT_JOURNALS
    profile_stamp: str = "end"
    deviation: str = "ignore"
    list_size: int = 16

    @classmethod
    def from_endpoint(cls, endpoint: MeterEndpoint) -> DlmsOptions:
        return _CHECKED.get(endpoint)

    @classmethod
    def _check(cls, endpoint: MeterEndpoint) -> DlmsOptions:
        options: dict[str, Any] = dict(endpoint.options)
        where = f"meter {endpoint.meter_id}"
        unknown = sorted(set(options) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown dlms option(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(_KEYS))}")
        transport = _choice(options, "transport", TRANSPORTS, "hdlc", where)
        client = _integer(options, "client", READER_CLIENT, 1, 0x7F, where)
        default_auth = "none" if client == PUBLIC_CLIENT else "low"
        authentication = _choice(options, "authentication", AUTHENTICATIONS, default_auth, where)
        system_title = options.get("system_title")
        title: bytes | None = None
        if authentication == "high_gmac":
            if not isinstance(system_title, str):
                raise ConfigError(f"{where}: authentication high_gmac needs system_title, "
                                  "the client's 8-byte system title in 16 hex digits")
            try:
                title = bytes.fromhex(system_title)
            except ValueError:
                title = b""
            if len(title) != 8:
                raise ConfigError(f"{where}: system_title must be 16 hex digits (8 bytes)")
        elif system_title is not None:
            raise ConfigError(f"{where}: system_title is only for authentication high_gmac")
        logical = _integer(options, "logical_device", 1, 0, 0x3FFF, where)
        max_info = _integer(options, "max_info", 128, 32, 2030, where)
        retries = _integer(options, "retries", 2, 0, 10, where)
        list_size = _integer(options, "list_size", 16, 1, 64, where)
        zones = _numbers(options, "zones", (1, 2, 3, 4), 1, 8, where)
        journals = _numbers(options, "journals", DEFAULT_JOURNALS, 0, 255, where)
        stamp = _choice(options, "profile_stamp", ("end", "start"), "end", where)
        deviation = _choice(options, "deviation", ("ignore", "use"), "ignore", where)
        checked = cls(transport, client, authentication, title, logical, max_info, retries,
                      zones, journals, stamp, deviation, list_size)
        checked._check_address(endpoint)
        return checked

    def _check_address(self, endpoint: MeterEndpoint) -> None:
        where = f"meter {endpoint.meter_id}"
        if self.transport == "wrapper":
            if not 1 <= endpoint.address <= 0xFFFF:
                raise ConfigError(f"{where}: a wrapper address is the server's wPort "
                                  f"(logical device) 1..65535, not {endpoint.address}")
            return
        if not 0x10 <= endpoint.address <= 0x3FFD:
            raise ConfigError(f"{where}: an HDLC physical address is 16..16381, "
                              f"not {endpoint.address}")
        try:
            HdlcAddress.server(self.logical_device, endpoint.address).to_bytes()
        except (IsuError, AssertionError) as exc:
            raise ConfigError(f"{where}: HDLC address {self.logical_device}/"
                              f"{endpoint.address}: {exc}") from None


_CHECKED: OptionsCache[DlmsOptions] = OptionsCache(DlmsOptions._check)


def _choice(options: dict[str, Any], key: str, allowed: tuple[str, ...], default: str,
            where: str) -> str:
    value = options.get(key, default)
    if value not in allowed:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def _integer(options: dict[str, Any], key: str, default: int, low: int, high: int,
             where: str) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be an integer {low}..{high}, not {value!r}")
    return value


def _numbers(options: dict[str, Any], key: str, default: tuple[int, ...], low: int, high: int,
             where: str) -> tuple[int, ...]:
    value = options.get(key, list(default))
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, int) and not isinstance(item, bool) and low <= item <= high
        for item in value
    ):
        raise ConfigError(f"{where}: {key} must be a list of integers {low}..{high}")
    return tuple(dict.fromkeys(value))
