"""A DLMS/COSEM client session over one link (``link.py``): the association, GET (with block),
GET with list, SET and ACTION, and the release (IEC 62056-5-3; GOST R 58940-2020 §6.4, §13).

::

    open()    link open (HDLC: SNRM/UA) → AARQ ─▶ ◀─ AARE   result and diagnostic checked;
                                                             conformance, server max PDU kept
    get()     GET-Request-Normal ─▶ ◀─ GET-Response-Normal
                                    ◀─ GET-Response-With-Datablock → GET-Request-Next … (last)
    close()   RLRQ ─▶ ◀─ RLRE (a meter that ignores it is tolerated) → link close (HDLC: DISC)

Levels (notes §1.1): the public client is SAP 16 without authentication, the reader SAP 32
with LLS (a password), the configurator SAP 48, with LLS or HLS. High-level security is a
hook: :class:`HighLevelSecurity` says what a mechanism must give, :class:`TitledSecurity` what
a mechanism bound to the system titles gives (HLS-GMAC, ``security.GmacSecurity``: the AARQ
carries our title as the calling-AP-title, the meter's f(CtoS) is checked under the AARE's
responding-AP-title).

Invoke ids turn 1..15 per request, so an answer left over from an abandoned request is
recognised and skipped (the wrapper) or refused (HDLC, where the sequence numbers catch it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Protocol, Self, runtime_checkable

from core.errors import (
    AccessError,
    AuthenticationError,
    FrameError,
    IsuError,
    MeterError,
    ProtocolError,
    RemoteProtocolError,
    SessionExpiredError,
    TransportError,
    UnexpectedResponseError,
)
from drivers.dlms.access import AccessSelection, AttributeDescriptor, MethodDescriptor
from drivers.dlms.acse import AareApdu, AarqApdu, Mechanism, RlreApdu, RlrqApdu
from drivers.dlms.apdu import Apdu, parse_apdu
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.blocks import BlockAssembler
from drivers.dlms.ciphered import CipheredApdu
from drivers.dlms.initiate import Conformance, InitiateRequest, InitiateResponse
from drivers.dlms.link import HdlcLink
from drivers.dlms.obis import Obis
from drivers.dlms.results import DataAccessResult, ServiceError, StateError, result_error
from drivers.dlms.wrapper_link import WrapperLink
from drivers.dlms.xdlms import (
    ActionRequest,
    ActionResponse,
    ExceptionResponse,
    GetRequest,
    GetRequestWithList,
    GetResponse,
    GetResponseWithBlock,
    GetResponseWithList,
    SetRequest,
    SetResponse,
    invoke_id_and_priority,
)

__all__ = [
    "CONFIGURATOR",
    "CURRENT_ASSOCIATION",
    "DEFAULT_CONFORMANCE",
    "PUBLIC_CLIENT",
    "READER",
    "Association",
    "ClientSettings",
    "DlmsClient",
    "HighLevelSecurity",
    "TitledSecurity",
    "exception_error",
]

logger = logging.getLogger(__name__)

PUBLIC_CLIENT: Final = 16
READER: Final = 32
CONFIGURATOR: Final = 48
#: Association LN of the current association: reply_to_HLS_authentication is its method 1.
CURRENT_ASSOCIATION: Final = Obis(0, 0, 40, 0, 0, 255)

#: What the client proposes unless told otherwise; the meter answers with what it grants.
DEFAULT_CONFORMANCE: Final = (
    Conformance.GET
    | Conformance.SET
    | Conformance.ACTION
    | Conformance.SELECTIVE_ACCESS
    | Conformance.BLOCK_TRANSFER_WITH_GET
    | Conformance.MULTIPLE_REFERENCES
)


class HighLevelSecurity(Protocol):
    """The hook for HLS (4-pass): the AARQ carries ``challenge()`` (CtoS), the AARE StoC;
    the client then calls reply_to_HLS_authentication with ``reply(stoc)`` = f(StoC) and
    checks the meter's f(CtoS) with ``verify()``."""

    @property
    def mechanism(self) -> Mechanism: ...

    def challenge(self) -> bytes: ...

    def reply(self, stoc: bytes, /) -> bytes: ...

    def verify(self, ctos: bytes, answer: bytes, /) -> bool: ...


@runtime_checkable
class TitledSecurity(Protocol):
    """HLS whose f() binds the system titles (mechanism 5, HLS-GMAC): ``system_title`` goes
    in the AARQ as the calling-AP-title, and the meter's f(CtoS) is checked under the
    responding-AP-title of its AARE. ``security.GmacSecurity`` is one."""

    @property
    def mechanism(self) -> Mechanism: ...

    @property
    def system_title(self) -> bytes: ...

    def challenge(self) -> bytes: ...

    def reply(self, stoc: bytes, /) -> bytes: ...

    def verify(self, ctos: bytes, answer: bytes, server_title: bytes, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The association to make. ``password`` set means LLS (mechanism 1); ``hls`` HLS."""

    client_sap: int = PUBLIC_CLIENT
    password: bytes | None = field(default=None, repr=False)
    hls: HighLevelSecurity | TitledSecurity | None = field(default=None, repr=False)
    conformance: Conformance = DEFAULT_CONFORMANCE
    max_pdu: int = 0xFFFF
    #: Send RLRQ at close; some meters do not answer it, which costs one timeout.
    release: bool = True

    def __post_init__(self) -> None:
        if self.password is not None and self.hls is not None:
            raise ValueError("LLS and HLS are exclusive")
        if (self.hls is not None and self.hls.mechanism is Mechanism.HLS_GMAC
                and not isinstance(self.hls, TitledSecurity)):
            raise ValueError("HLS-GMAC needs our system title and the meter's")
        if not 12 <= self.max_pdu <= 0xFFFF:
            raise ValueError(f"a client max PDU size of {self.max_pdu}")


@dataclass(frozen=True, slots=True)
class Association:
    """What the AARE granted."""

    conformance: Conformance
    server_max_pdu: int
    mechanism: Mechanism | None


def exception_error(response: ExceptionResponse, what: str) -> IsuError:
    """The error an exception-response means: no association (or not in this state) →
    SessionExpiredError; the rest → RemoteProtocolError."""
    text = (f"{what}: exception-response {response.state_error.name.lower()}, "
            f"{response.service_error.name.lower()}")
    if response.state_error is StateError.SERVICE_NOT_ALLOWED and response.service_error in (
        ServiceError.OPERATION_NOT_POSSIBLE, ServiceError.OTHER_REASON
    ):
        return SessionExpiredError(text)
    return RemoteProtocolError(text)


class DlmsClient:
    """One association with one meter over ``link``; use ``async with`` or open()/close()."""

    def __init__(self, link: HdlcLink | WrapperLink, settings: ClientSettings) -> None:
        if link.client_sap != settings.client_sap:
            raise ValueError("the link and the settings name different client SAPs")
        self.link = link
        self.settings = settings
        self.association: Association | None = None
        self._invoke_id = 0
        if settings.password is not None:  # the AARQ's calling-authentication-value
            password = settings.password
            link.secrets = (b"\x80" + bytes((len(password),)) + password,)
        elif isinstance(settings.hls, TitledSecurity):  # the AARQ's calling-AP-title
            title = settings.hls.system_title
            link.secrets = (b"\x04" + bytes((len(title),)) + title,)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None or (isinstance(exc, IsuError) and not isinstance(exc, TransportError)):
            await self.close()
        else:  # a dead line or a cancellation: no more I/O, the meter times the link out
            self._forget()

    # --- association ---

    def aarq(self, ctos: bytes | None = None) -> AarqApdu:
        s = self.settings
        initiate = InitiateRequest(s.conformance, s.max_pdu)
        if s.hls is not None:
            title = s.hls.system_title if isinstance(s.hls, TitledSecurity) else None
            return AarqApdu(initiate, mechanism=s.hls.mechanism, calling_authentication_value=ctos,
                            calling_ap_title=title)
        if s.password is not None:
            return AarqApdu(initiate, mechanism=Mechanism.LLS,
                            calling_authentication_value=s.password)
        return AarqApdu(initiate)

    async def open(self) -> Association:
        await self.link.open()
        try:
            return await self._associate()
        except IsuError as exc:
            if isinstance(exc, TransportError):
                self._forget()  # a dead line: no more I/O
            else:
                await self._abandon()
            raise
        except BaseException:
            self._forget()
            raise

    async def _associate(self) -> Association:
        s = self.settings
        ctos = s.hls.challenge() if s.hls is not None else None
        aarq = self.aarq(ctos)
        answer = await self._request(aarq.to_bytes(), idempotent=True)
        if isinstance(answer, ExceptionResponse):
            raise exception_error(answer, "AARQ")
        if not isinstance(answer, AareApdu):
            raise UnexpectedResponseError(f"{type(answer).__name__} in answer to AARQ")
        error = answer.error()
        if error is not None:
            raise error
        info = answer.user_information
        if isinstance(info, CipheredApdu):
            raise RemoteProtocolError("a ciphered AARE: ciphering is not supported yet")
        if not isinstance(info, InitiateResponse):
            raise FrameError("an accepted AARE without an InitiateResponse")
        granted = info.conformance & s.conformance
        self.association = Association(granted, info.max_receive_pdu_size,
                                       answer.mechanism or aarq.mechanism)
        logger.debug("%s: associated as SAP %d, conformance %06X, server max PDU %d",
                     self.link.description, s.client_sap, int(granted),
                     info.max_receive_pdu_size)
        if s.hls is not None:
            assert ctos is not None
            await self._authenticate(s.hls, ctos, answer)
        return self.association

    async def _authenticate(self, hls: HighLevelSecurity | TitledSecurity, ctos: bytes,
                            aare: AareApdu) -> None:
        stoc = aare.responding_authentication_value
        if stoc is None:
            raise AuthenticationError("an HLS AARE without the meter's challenge (StoC)")
        server_title = aare.responding_ap_title
        if isinstance(hls, TitledSecurity) and server_title is None:
            raise AuthenticationError(f"an {hls.mechanism.name} AARE without the meter's system "
                                      "title (responding-AP-title)")
        method = MethodDescriptor(15, CURRENT_ASSOCIATION, 1)
        try:
            answer = await self.action(method, Data.octets(hls.reply(stoc)))
        except AccessError as exc:
            raise AuthenticationError(f"the meter refused our f(StoC): {exc}") from exc
        if answer is None or answer.type is not DataType.OCTET_STRING:
            raise AuthenticationError("reply_to_HLS_authentication returned no f(CtoS)")
        if isinstance(hls, TitledSecurity):
            assert server_title is not None
            valid = hls.verify(ctos, answer.as_bytes(), server_title)
        else:
            valid = hls.verify(ctos, answer.as_bytes())
        if not valid:
            raise AuthenticationError("the meter's f(CtoS) does not check out")

    async def close(self) -> None:
        """Release (RLRQ/RLRE) if asked and associated, then close the link; a meter that
        does not answer the RLRQ is tolerated."""
        try:
            if self.association is not None and self.settings.release and self.link.connected:
                try:
                    answer = await self._request(RlrqApdu(0).to_bytes(), idempotent=False)
                    if not isinstance(answer, RlreApdu):
                        logger.debug("%s: %s in answer to RLRQ", self.link.description,
                                     type(answer).__name__)
                except (ProtocolError, TransportError, SessionExpiredError) as exc:
                    logger.debug("%s: no release: %s", self.link.description, exc)
        finally:
            self.association = None
        try:
            await self.link.close()
        except IsuError as exc:
            logger.debug("%s: link close: %s", self.link.description, exc)

    def _forget(self) -> None:
        self.association = None
        self.link.forget()

    async def _abandon(self) -> None:
        self.association = None
        try:
            await self.link.close()
        except IsuError as exc:
            logger.debug("%s: link close: %s", self.link.description, exc)

    # --- services ---

    async def get(self, attribute: AttributeDescriptor,
                  access: AccessSelection | None = None) -> Data:
        """One attribute; a long answer comes in blocks, joined here. A refusal raises the
        error its data-access-result means (``results.result_error``)."""
        self._require(Conformance.GET, "GET")
        if access is not None:
            self._require(Conformance.SELECTIVE_ACCESS, "selective access")
        invoke = self._next_invoke()
        answer = await self._service(GetRequest(attribute, access, invoke).to_bytes(), invoke,
                                     str(attribute), idempotent=True)
        if isinstance(answer, GetResponse):
            return _data_or_raise(answer.result, str(attribute))
        if isinstance(answer, GetResponseWithBlock):
            raw = await self._blocks(answer, invoke, str(attribute))
            return Data.from_bytes(raw)
        raise UnexpectedResponseError(f"{type(answer).__name__} in answer to GET {attribute}")

    async def get_with_list(
        self, attributes: Sequence[tuple[AttributeDescriptor, AccessSelection | None]]
    ) -> list[Data | IsuError]:
        """Several attributes in one request; each comes back as its value or the error its
        result means. Without multiple-references granted, one GET each."""
        association = self._association()
        if not association.conformance & Conformance.MULTIPLE_REFERENCES:
            results: list[Data | IsuError] = []
            for attribute, access in attributes:
                try:
                    results.append(await self.get(attribute, access))
                except (MeterError, RemoteProtocolError) as exc:
                    results.append(exc)
            return results
        self._require(Conformance.GET, "GET")
        invoke = self._next_invoke()
        request = GetRequestWithList(tuple(attributes), invoke)
        answer = await self._service(request.to_bytes(), invoke, "GET with list",
                                     idempotent=True)
        if isinstance(answer, GetResponseWithBlock):
            raw = await self._blocks(answer, invoke, "GET with list")
            answer = GetResponseWithList.from_bytes(b"\xc4\x03" + bytes((invoke,)) + raw)
        if not isinstance(answer, GetResponseWithList):
            raise UnexpectedResponseError(f"{type(answer).__name__} in answer to GET with list")
        if len(answer.results) != len(attributes):
            raise UnexpectedResponseError(
                f"{len(answer.results)} results for {len(attributes)} attributes"
            )
        out: list[Data | IsuError] = []
        for (attribute, _), result in zip(attributes, answer.results, strict=True):
            if isinstance(result, Data):
                out.append(result)
            else:
                error = result_error(result, str(attribute))
                out.append(error or RemoteProtocolError(f"{attribute}: success without data"))
        return out

    async def set(self, attribute: AttributeDescriptor, value: Data,
                  access: AccessSelection | None = None) -> None:
        """Never sent twice: the HDLC link polls before it resends, the wrapper never
        resends it."""
        self._require(Conformance.SET, "SET")
        invoke = self._next_invoke()
        answer = await self._service(SetRequest(attribute, value, access, invoke).to_bytes(),
                                     invoke, str(attribute), idempotent=False)
        if not isinstance(answer, SetResponse):
            raise UnexpectedResponseError(f"{type(answer).__name__} in answer to SET {attribute}")
        error = result_error(answer.result, f"SET {attribute}")
        if error is not None:
            raise error

    async def action(self, method: MethodDescriptor, parameters: Data | None = None
                     ) -> Data | None:
        """Invoke a method; its return value if it gave one. Never sent twice."""
        self._require(Conformance.ACTION, "ACTION")
        invoke = self._next_invoke()
        answer = await self._service(ActionRequest(method, parameters, invoke).to_bytes(),
                                     invoke, str(method), idempotent=False)
        if not isinstance(answer, ActionResponse):
            raise UnexpectedResponseError(f"{type(answer).__name__} in answer to ACTION {method}")
        error = result_error(answer.result, f"ACTION {method}")
        if error is not None:
            raise error
        value = answer.return_value
        if value is None or isinstance(value, Data):
            return value
        return _data_or_raise(value, f"ACTION {method}")

    # --- plumbing ---

    def _association(self) -> Association:
        if self.association is None:
            raise SessionExpiredError(f"{self.link.description}: not associated")
        return self.association

    def _require(self, bit: Conformance, name: str) -> None:
        if not self._association().conformance & bit:
            raise AccessError(f"{name} was not granted by the meter in this association")

    def _next_invoke(self) -> int:
        self._invoke_id = self._invoke_id % 15 + 1
        return invoke_id_and_priority(self._invoke_id)

    async def _blocks(self, first: GetResponseWithBlock, invoke: int, what: str) -> bytes:
        assembler = BlockAssembler(what)
        answer: Apdu = first
        while True:
            if not isinstance(answer, GetResponseWithBlock):
                raise UnexpectedResponseError(f"{what}: {type(answer).__name__} between blocks")
            raw = assembler.add_raw(answer)
            if raw is not None:
                return raw
            request = assembler.next_request(invoke)
            answer = await self._service(request.to_bytes(), invoke, what, idempotent=True)

    async def _service(self, apdu: bytes, invoke: int, what: str, *, idempotent: bool) -> Apdu:
        association = self.association
        if association is not None and len(apdu) > association.server_max_pdu:
            raise FrameError(f"{what}: a request of {len(apdu)} bytes; the meter takes "
                             f"{association.server_max_pdu}")
        answer = await self._request(apdu, idempotent=idempotent)
        while _invoke_of(answer) not in (None, invoke):
            logger.debug("%s: an answer to an earlier request skipped", self.link.description)
            answer = parse_apdu(await self.link.receive())
        if isinstance(answer, ExceptionResponse):
            raise exception_error(answer, what)
        return answer

    async def _request(self, apdu: bytes, *, idempotent: bool) -> Apdu:
        raw = await self.link.request(apdu, idempotent=idempotent)
        if len(raw) > self.settings.max_pdu:
            raise FrameError(f"an answer of {len(raw)} bytes above our max PDU "
                             f"{self.settings.max_pdu}")
        return parse_apdu(raw)


def _invoke_of(apdu: Apdu) -> int | None:
    invoke = getattr(apdu, "invoke", None)
    return invoke if isinstance(invoke, int) else None


def _data_or_raise(result: Data | DataAccessResult, what: str) -> Data:
    if isinstance(result, Data):
        return result
    error = result_error(result, what)
    raise error or RemoteProtocolError(f"{what}: success without data")
