"""The application side of a simulated SPODES meter: associations (AARQ/AARE, RLRQ/RLRE) and
GET (normal, with list, with block), SET and ACTION on an :class:`ObjectTable`, APDU in, APDU
out, whatever link carried it (``protocol.py``).

Client levels and their default secrets (notes §1.1; the GOST examples' and field values):

=====  ================  ===========================  ===================================
SAP    level             authentication               granted services
=====  ================  ===========================  ===================================
16     public client     none                         GET, block transfer with GET
32     reader            LLS, ``12345678``            + selective access, ACTION, with list
48     configurator      LLS, ``1234567812345678``,   + SET
                         or HLS-GMAC (below)
=====  ================  ===========================  ===================================

HLS-GMAC (mechanism 5, suite 0; ``drivers.dlms.security``) uses the test keys of the DLMS
Green Book's example, which are also gurux_dlms's defaults: EK ``000102…0F``, AK ``D0D1…DF``;
the meter's system title is ``ISU`` and its serial number as a 5-byte binary number
(:func:`system_title`), as the Green Book's ``MMM`` + 12345678 = ``4D4D4D0000BC614E``.
``default_levels(gmac_server(serial))`` puts the configurator on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from core.errors import ConfigError, ProtocolError
from drivers.dlms.acse import (
    AareApdu,
    AarqApdu,
    AssociationResult,
    Mechanism,
    RlreApdu,
    RlrqApdu,
    UserDiagnostic,
)
from drivers.dlms.apdu import parse_apdu
from drivers.dlms.axdr import Data
from drivers.dlms.initiate import Conformance, InitiateRequest, InitiateResponse
from drivers.dlms.obis import Obis
from drivers.dlms.results import ActionResult, DataAccessResult, ServiceError, StateError
from drivers.dlms.security import GmacSecurity
from drivers.dlms.xdlms import (
    ActionRequest,
    ActionResponse,
    ExceptionResponse,
    GetRequest,
    GetRequestNext,
    GetRequestWithList,
    GetResponse,
    GetResponseWithBlock,
    GetResponseWithList,
    SetRequest,
    SetResponse,
)
from simulators.dlms.objects import CosemObjects

__all__ = [
    "DEFAULT_SECRETS",
    "LEVEL_CONFORMANCE",
    "MAKER_CODE",
    "TEST_AUTHENTICATION_KEY",
    "TEST_BLOCK_CIPHER_KEY",
    "Application",
    "Level",
    "ServerHls",
    "TitledServerHls",
    "default_levels",
    "gmac_server",
    "system_title",
]

_NONE: Final = Conformance(0)
_CURRENT_ASSOCIATION: Final = Obis(0, 0, 40, 0, 0, 255)
#: The SPODES association objects per client (notes §1.1): public, reader, configurator.
_ASSOCIATIONS: Final = {16: Obis(0, 0, 40, 0, 1, 255), 32: Obis(0, 0, 40, 0, 2, 255),
                        48: Obis(0, 0, 40, 0, 3, 255)}
_BASE: Final = Conformance.GET | Conformance.BLOCK_TRANSFER_WITH_GET
_READ: Final = (_BASE | Conformance.SELECTIVE_ACCESS | Conformance.ACTION
                | Conformance.MULTIPLE_REFERENCES)


class ServerHls(Protocol):
    """The meter's side of an HLS mechanism: ``challenge()`` is StoC; ``verify(stoc, reply)``
    checks the client's f(StoC); ``reply(ctos)`` is f(CtoS)."""

    @property
    def mechanism(self) -> Mechanism: ...

    def challenge(self) -> bytes: ...

    def verify(self, stoc: bytes, reply: bytes, /) -> bool: ...

    def reply(self, ctos: bytes, /) -> bytes: ...


@runtime_checkable
class TitledServerHls(Protocol):
    """An HLS mechanism bound to the system titles (HLS-GMAC): the AARE carries
    ``system_title`` as the responding-AP-title, and the client's f(StoC) is checked under
    the calling-AP-title of its AARQ. ``drivers.dlms.security.GmacSecurity`` is one."""

    @property
    def mechanism(self) -> Mechanism: ...

    @property
    def system_title(self) -> bytes: ...

    def challenge(self) -> bytes: ...

    def verify(self, stoc: bytes, reply: bytes, client_title: bytes, /) -> bool: ...

    def reply(self, ctos: bytes, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Level:
    """One client level: its LLS secret (``None``: no authentication, unless ``hls``) and
    what it may use."""

    secret: bytes | None
    conformance: Conformance
    hls: ServerHls | TitledServerHls | None = None


DEFAULT_SECRETS: Final[Mapping[int, bytes | None]] = {
    16: None,
    32: b"12345678",
    48: b"1234567812345678",
}
LEVEL_CONFORMANCE: Final[Mapping[int, Conformance]] = {
    16: _BASE,
    32: _READ,
    48: _READ | Conformance.SET,
}


#: HLS-GMAC test keys: the Green Book example's, also gurux_dlms's ``GXCiphering`` defaults.
TEST_BLOCK_CIPHER_KEY: Final = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
TEST_AUTHENTICATION_KEY: Final = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
#: The simulated meters' maker code, the first 3 bytes of their system titles.
MAKER_CODE: Final = b"ISU"


def default_levels(hls: ServerHls | TitledServerHls | None = None) -> dict[int, Level]:
    """The levels of the table above; with ``hls`` the configurator uses it instead of LLS."""
    levels = {sap: Level(DEFAULT_SECRETS[sap], LEVEL_CONFORMANCE[sap]) for sap in DEFAULT_SECRETS}
    if hls is not None:
        levels[48] = Level(None, LEVEL_CONFORMANCE[48], hls)
    return levels


def system_title(serial: str) -> bytes:
    """A meter's system title: the maker code and the serial number as 5 binary bytes."""
    if not serial.isdigit() or int(serial) >= 1 << 40:
        raise ConfigError(f"serial {serial!r}: a system title needs at most 12 digits")
    return MAKER_CODE + int(serial).to_bytes(5, "big")


def gmac_server(serial: str, *, block_cipher_key: bytes = TEST_BLOCK_CIPHER_KEY,
                authentication_key: bytes = TEST_AUTHENTICATION_KEY) -> GmacSecurity:
    """The meter's HLS-GMAC side, with the test keys unless told otherwise; keep one per
    meter so that its invocation counter goes on from one connection to the next."""
    return GmacSecurity(system_title(serial), block_cipher_key, authentication_key)


@dataclass(slots=True)
class Application:
    """One connection's application association (a new one per link connection).

    ``max_pdu`` is the meter's max receive PDU size sent in the AARE (GOST traces: 0x0400);
    answers longer than the client's max PDU or ``block_size`` go out in blocks.
    """

    table: CosemObjects
    levels: dict[int, Level] = field(default_factory=default_levels)
    max_pdu: int = 0x0400
    block_size: int | None = None
    #: Ignore RLRQ, as meters without release do (the client must tolerate it).
    answer_release: bool = True
    level: int | None = None
    #: HLS in progress: the level, CtoS, StoC and the client's system title (HLS-GMAC) until
    #: reply_to_HLS_authentication passes.
    _hls_pending: tuple[int, bytes, bytes, bytes | None] | None = None
    conformance: Conformance = _NONE
    client_max_pdu: int = 0xFFFF
    _blocks: list[GetResponseWithBlock] = field(default_factory=list)
    _block_sent: int = 0

    def handle(self, client_sap: int, apdu: bytes) -> bytes | None:
        """The answer APDU to ``apdu`` from ``client_sap``, or ``None`` for no answer."""
        try:
            request = parse_apdu(apdu)
        except ProtocolError:
            return ExceptionResponse(StateError.SERVICE_UNKNOWN,
                                     ServiceError.SERVICE_NOT_SUPPORTED).to_bytes()
        if isinstance(request, AarqApdu):
            return self._associate(client_sap, request).to_bytes()
        if isinstance(request, RlrqApdu):
            if not self.answer_release:
                return None
            self.release()
            return RlreApdu(0).to_bytes()
        if self._hls_pending is not None and isinstance(request, ActionRequest):
            return self._hls_reply(client_sap, request)
        if self.level is None or client_sap != self.level:
            return ExceptionResponse(StateError.SERVICE_NOT_ALLOWED,
                                     ServiceError.OPERATION_NOT_POSSIBLE).to_bytes()
        level = self.level
        if isinstance(request, GetRequest):
            if request.access is not None and not self.conformance & Conformance.SELECTIVE_ACCESS:
                return GetResponse(DataAccessResult.READ_WRITE_DENIED, request.invoke).to_bytes()
            result = self.table.get(request.attribute, level, request.access)
            return self._answer(GetResponse(result, request.invoke).to_bytes(), request.invoke,
                                result.to_bytes() if isinstance(result, Data) else None)
        if isinstance(request, GetRequestNext):
            return self._next_block(request)
        if isinstance(request, GetRequestWithList):
            if not self.conformance & Conformance.MULTIPLE_REFERENCES:
                return _refused()
            results = tuple(self.table.get(ref, level, access)
                            for ref, access in request.attributes)
            answer = GetResponseWithList(results, request.invoke).to_bytes()
            return self._answer(answer, request.invoke, answer[3:])
        if isinstance(request, SetRequest):
            if not self.conformance & Conformance.SET:
                return _refused()
            code = self.table.set(request.attribute, level, request.value)
            return SetResponse(code, request.invoke).to_bytes()
        if isinstance(request, ActionRequest):
            if not self.conformance & Conformance.ACTION:
                return _refused()
            outcome, value = self.table.action(request.method, level, request.parameters)
            return ActionResponse(outcome, value, request.invoke).to_bytes()
        return _refused()

    def release(self) -> None:
        self.level = None
        self.conformance = _NONE
        self._blocks = []
        self._hls_pending = None

    def _associate(self, client_sap: int, aarq: AarqApdu) -> AareApdu:
        self.release()
        level = self.levels.get(client_sap)
        initiate = aarq.user_information
        if level is None or not isinstance(initiate, InitiateRequest):
            return _rejected(UserDiagnostic.NO_REASON)
        if level.hls is not None:
            return self._hls_associate(client_sap, level, level.hls, aarq, initiate)
        if level.secret is None:
            if aarq.mechanism not in (None, Mechanism.LOWEST):
                return _rejected(UserDiagnostic.MECHANISM_NOT_RECOGNISED)
        elif aarq.mechanism is None:
            return _rejected(UserDiagnostic.AUTHENTICATION_REQUIRED)
        elif aarq.mechanism is not Mechanism.LLS:
            return _rejected(UserDiagnostic.MECHANISM_NOT_RECOGNISED)
        elif aarq.calling_authentication_value != level.secret:
            self.table.access_denied()
            return _rejected(UserDiagnostic.AUTHENTICATION_FAILURE)
        self.level = client_sap
        self.conformance = initiate.conformance & level.conformance
        self.client_max_pdu = initiate.max_receive_pdu_size
        # No mechanism name in the AARE, as in the GOST 12.2 trace.
        return AareApdu(InitiateResponse(self.conformance, self.max_pdu))

    def _hls_associate(self, client_sap: int, level: Level, hls: ServerHls | TitledServerHls,
                       aarq: AarqApdu, initiate: InitiateRequest) -> AareApdu:
        """Pass 2 of 4: accept with StoC; the association is usable after pass 3 checks."""
        if aarq.mechanism is not hls.mechanism:
            return _rejected(UserDiagnostic.MECHANISM_NOT_RECOGNISED)
        if not aarq.calling_authentication_value:
            return _rejected(UserDiagnostic.AUTHENTICATION_REQUIRED)
        own_title = hls.system_title if isinstance(hls, TitledServerHls) else None
        if own_title is not None and (aarq.calling_ap_title is None
                                      or len(aarq.calling_ap_title) != len(own_title)):
            return _rejected(UserDiagnostic.NO_REASON)  # HLS-GMAC names the client by title
        stoc = hls.challenge()
        self._hls_pending = (client_sap, aarq.calling_authentication_value, stoc,
                             aarq.calling_ap_title)
        self.conformance = initiate.conformance & level.conformance
        self.client_max_pdu = initiate.max_receive_pdu_size
        return AareApdu(InitiateResponse(self.conformance, self.max_pdu),
                        diagnostic=int(UserDiagnostic.AUTHENTICATION_REQUIRED),
                        mechanism=hls.mechanism, responding_authentication_value=stoc,
                        responding_ap_title=own_title)

    def _hls_reply(self, client_sap: int, request: ActionRequest) -> bytes:
        """Pass 3 and 4: reply_to_HLS_authentication (association LN, method 1)."""
        assert self._hls_pending is not None
        sap, ctos, stoc, client_title = self._hls_pending
        self._hls_pending = None
        method = request.method
        hls = self.levels[sap].hls
        assert hls is not None
        if (sap != client_sap or method.class_id != 15 or method.method != 1
                or method.instance not in (_CURRENT_ASSOCIATION, _ASSOCIATIONS.get(sap))):
            self.release()
            return _refused()
        parameters = request.parameters
        reply = parameters.value if parameters is not None else None
        if not isinstance(reply, bytes) or not _verified(hls, stoc, reply, client_title):
            self.release()
            self.table.access_denied()  # journal 6, as for a wrong LLS password
            return ActionResponse(ActionResult.READ_WRITE_DENIED, None,
                                  request.invoke).to_bytes()
        self.level = sap
        return ActionResponse(ActionResult.SUCCESS, Data.octets(hls.reply(ctos)),
                              request.invoke).to_bytes()

    def _answer(self, whole: bytes, invoke: int, raw: bytes | None) -> bytes:
        """``whole`` if it fits, else the first block of ``raw`` (the encoded result)."""
        limit = min(self.client_max_pdu, self.block_size or 0xFFFF)
        if len(whole) <= limit or raw is None:
            return whole
        size = limit - 12  # C4 02 iid last block(4) 00 length(up to 3)
        if size < 1 or not self.conformance & Conformance.BLOCK_TRANSFER_WITH_GET:
            return GetResponse(DataAccessResult.OTHER_REASON, invoke).to_bytes()
        parts = [raw[i : i + size] for i in range(0, len(raw), size)]
        self._blocks = [GetResponseWithBlock(n == len(parts), n, part, invoke)
                        for n, part in enumerate(parts, 1)]
        self._block_sent = 1
        return self._blocks[0].to_bytes()

    def _next_block(self, request: GetRequestNext) -> bytes:
        if not self._blocks:
            return GetResponseWithBlock(True, request.block_number,
                                        DataAccessResult.NO_LONG_GET_IN_PROGRESS,
                                        request.invoke).to_bytes()
        if request.block_number == self._block_sent - 1 and self._block_sent > 1:
            return self._blocks[self._block_sent - 1].to_bytes()  # a repeated request
        if request.block_number != self._block_sent or self._block_sent >= len(self._blocks):
            self._blocks = []
            return GetResponseWithBlock(True, request.block_number,
                                        DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                                        request.invoke).to_bytes()
        block = self._blocks[self._block_sent]
        self._block_sent += 1
        # The blocks stay until the next GET: a client whose last block was lost (the wrapper
        # resends GET-next) asks for it again.
        return block.to_bytes()


def _verified(hls: ServerHls | TitledServerHls, stoc: bytes, reply: bytes,
              client_title: bytes | None) -> bool:
    if isinstance(hls, TitledServerHls):
        return client_title is not None and hls.verify(stoc, reply, client_title)
    return hls.verify(stoc, reply)


def _refused() -> bytes:
    return ExceptionResponse(StateError.SERVICE_NOT_ALLOWED,
                             ServiceError.SERVICE_NOT_SUPPORTED).to_bytes()


def _rejected(diagnostic: UserDiagnostic) -> AareApdu:
    return AareApdu(None, AssociationResult.REJECTED_PERMANENT, int(diagnostic))

