"""The application layer over the SPODES object model, APDU in, APDU out: a GET answered in
blocks whose last block is asked for again (a wrapper client resends a GET-next whose answer
was lost) gets that block again."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.dlms.access import AttributeDescriptor
from drivers.dlms.acse import AareApdu, AarqApdu, Mechanism
from drivers.dlms.apdu import parse_apdu
from drivers.dlms.blocks import BlockAssembler
from drivers.dlms.initiate import Conformance, InitiateRequest
from drivers.dlms.xdlms import GetRequest, GetRequestNext, GetResponseWithBlock
from simulators.dlms import DEFAULT_SECRETS, Application, SpodesMeter, SpodesObjects
from simulators.dlms.meter import SpodesSettings
from simulators.dlms.spodes import LOAD_PROFILE
from simulators.mercury230.clock import ManualClock


def test_the_last_block_is_sent_again_when_asked_again() -> None:
    meter = SpodesMeter(SpodesSettings(history_days=1),
                        clock=ManualClock(datetime(2024, 3, 5, 9, tzinfo=UTC)))
    application = Application(SpodesObjects(meter), block_size=256)
    aarq = AarqApdu(InitiateRequest(Conformance(0x00FFFF)), mechanism=Mechanism.LLS,
                    calling_authentication_value=DEFAULT_SECRETS[32])
    answer = application.handle(32, aarq.to_bytes())
    assert answer is not None
    assert isinstance(parse_apdu(answer), AareApdu)
    assert application.level == 32
    raw = application.handle(32, GetRequest(AttributeDescriptor(7, LOAD_PROFILE, 2)).to_bytes())
    blocks = []
    while True:
        assert raw is not None
        block = parse_apdu(raw)
        assert isinstance(block, GetResponseWithBlock)
        blocks.append(block)
        if block.last:
            break
        raw = application.handle(32, GetRequestNext(block.block_number).to_bytes())
    assert len(blocks) > 3
    again = application.handle(32, GetRequestNext(blocks[-2].block_number).to_bytes())
    assert again is not None
    assert parse_apdu(again) == blocks[-1]
    assembler = BlockAssembler()
    joined = [assembler.add(block) for block in blocks][-1]
    assert joined is not None
    assert len(joined.items) == meter.settings.history_days * 48
