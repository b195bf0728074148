"""The simulated meter's link side, sans-IO (simulators/dlms/protocol.py): it answers the GOST
traces with the GOST bytes, whatever the chunking, and grants HDLC parameters as it should."""

from __future__ import annotations

import pytest

from drivers.dlms.hdlc import Control, FrameKind, HdlcAddress, HdlcFrame
from drivers.dlms.hdlc_link import HdlcParameters
from drivers.dlms.initiate import Conformance
from drivers.dlms.wrapper import WrapperFrame
from simulators.dlms import Application, HdlcServer, Level, WrapperServer, default_table
from tests.unit.dlms import vectors as v


def gost_meter() -> HdlcServer:
    levels = {
        16: Level(None, Conformance(0x001010)),
        32: Level(b"Reader", Conformance(0x00101C)),
    }
    return HdlcServer(Application(default_table(), levels))


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_gost_12_1_and_12_2_exchanges(chunk: int) -> None:
    for requests, answers in (
        ((v.GOST_12_1_SNRM, v.GOST_12_1_AARQ, v.GOST_12_1_DISC, v.GOST_12_1_DISC),
         (v.GOST_12_1_UA, v.GOST_12_1_AARE, v.GOST_12_1_UA, v.GOST_12_1_DM)),
        ((v.GOST_12_2_SNRM, v.GOST_12_2_AARQ), (v.GOST_12_2_UA, v.GOST_12_2_AARE)),
    ):
        meter = gost_meter()
        for request, answer in zip(requests, answers, strict=True):
            out = []
            for start in range(0, len(request), chunk):
                out += meter.receive_data(request[start : start + chunk])
            assert out == [answer]


def test_an_i_frame_without_a_link_gets_dm() -> None:
    meter = gost_meter()
    assert meter.receive_data(v.GOST_12_1_AARQ) == [v.GOST_12_1_DM]


def test_frames_for_another_address_are_ignored() -> None:
    meter = HdlcServer(Application(default_table()), address=HdlcAddress.server(1, 0x11))
    assert meter.receive_data(v.GOST_12_1_SNRM) == []


@pytest.mark.parametrize(
    ("proposal", "max_info", "granted"),
    [
        (HdlcParameters(512, 512), 256, HdlcParameters(256, 256, 1, 1)),
        (HdlcParameters(None, 1024, 7, 7), 2000, HdlcParameters(1024, 128, 1, 1)),
        (HdlcParameters(128, 128, 7, 7), 128, HdlcParameters(128, 128, 1, 1)),  # GOST 12.1
        (HdlcParameters(), 128, None),  # an empty SNRM, the defaults: the empty UA
    ],
)
def test_snrm_negotiation(
    proposal: HdlcParameters, max_info: int, granted: HdlcParameters | None
) -> None:
    meter = HdlcServer(Application(default_table()), max_info=max_info)
    snrm = HdlcFrame(HdlcAddress.server(), HdlcAddress.client(16), Control(FrameKind.SNRM),
                     proposal.to_bytes())
    (raw,) = meter.receive_data(snrm.to_bytes())
    ua = HdlcFrame.from_bytes(raw)
    assert ua.control.kind is FrameKind.UA
    assert ua.info == (b"" if granted is None else granted.to_bytes())


def test_wrapper_answers_from_the_logical_device_to_the_client_wport() -> None:
    meter = WrapperServer(Application(default_table()))
    aarq = WrapperFrame(16, 1, v.GOST_12_1_AARQ[12:-3]).to_bytes()
    (raw,) = meter.receive_data(aarq[:5]) + meter.receive_data(aarq[5:])
    answer = WrapperFrame.from_bytes(raw)
    assert (answer.source, answer.destination) == (1, 16)
    assert answer.apdu[0] == 0x61
    assert meter.receive_data(WrapperFrame(16, 2, b"\x60\x00").to_bytes()) == []
