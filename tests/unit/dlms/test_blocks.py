"""GET with block: the blocks of a long answer are joined into one value; numbering, errors."""

from __future__ import annotations

import pytest

from core.errors import AccessError, FrameError, UnexpectedResponseError
from drivers.dlms.apdu import parse_apdu
from drivers.dlms.axdr import Data, DataType
from drivers.dlms.blocks import BlockAssembler, split_blocks
from drivers.dlms.hdlc import HdlcFrame
from drivers.dlms.hdlc_link import strip_llc
from drivers.dlms.results import DataAccessResult
from drivers.dlms.xdlms import GetRequestNext, GetResponseWithBlock
from tests.unit.dlms import vectors as v

# A profile buffer of 60 rows (clock as octet-string, one register): ~1.2 KB encoded.
ROWS = Data.array(
    *(
        Data.structure(Data.octets(bytes(12)), Data(DataType.DOUBLE_LONG_UNSIGNED, row))
        for row in range(60)
    )
)


def test_split_and_join() -> None:
    blocks = split_blocks(ROWS, 300, invoke=0x81)
    assert [block.block_number for block in blocks] == [1, 2, 3, 4, 5]
    assert [block.last for block in blocks] == [False] * 4 + [True]
    assembler = BlockAssembler("7/1.0.98.1.0.255/2")
    for block in blocks[:-1]:
        wire = parse_apdu(block.to_bytes())
        assert isinstance(wire, GetResponseWithBlock)
        assert assembler.add(wire) is None
    assert assembler.next_request(0x81) == GetRequestNext(4, 0x81)
    assert assembler.add(blocks[-1]) == ROWS


def test_next_request_matches_gost_13_4() -> None:
    # GOST 13.4: after block 1 the client sends GetNext with block number 1, then 2.
    assembler = BlockAssembler()
    assembler.add(GetResponseWithBlock(False, 1, b"\x01\x02", 0x81))
    request = assembler.next_request(0x81)
    frame = HdlcFrame.from_bytes(v.GOST_13_4_GET_NEXT_1)
    assert request.to_bytes() == strip_llc(frame.info, command=True)
    assembler.add(GetResponseWithBlock(False, 2, b"\x11\x01", 0x81))
    frame = HdlcFrame.from_bytes(v.GOST_13_4_GET_NEXT_2)
    assert assembler.next_request(0x81).to_bytes() == strip_llc(frame.info, command=True)


def test_zero_based_numbering_is_accepted() -> None:
    assembler = BlockAssembler()
    raw = Data(DataType.LONG_UNSIGNED, 7).to_bytes()
    assert assembler.add(GetResponseWithBlock(False, 0, raw[:1])) is None
    assert assembler.add(GetResponseWithBlock(True, 1, raw[1:])) == Data(DataType.LONG_UNSIGNED, 7)


def test_errors() -> None:
    assembler = BlockAssembler()
    with pytest.raises(UnexpectedResponseError):
        assembler.next_request()
    with pytest.raises(UnexpectedResponseError, match="first block"):
        assembler.add(GetResponseWithBlock(False, 3, b"\x00"))
    assembler.add(GetResponseWithBlock(False, 1, b"\x01"))
    with pytest.raises(UnexpectedResponseError, match="block 3 where 2"):
        assembler.add(GetResponseWithBlock(False, 3, b"\x00"))
    with pytest.raises(AccessError):
        assembler.add(GetResponseWithBlock(True, 2, DataAccessResult.READ_WRITE_DENIED))
    small = BlockAssembler(max_size=4)
    with pytest.raises(FrameError):
        small.add(GetResponseWithBlock(False, 1, b"\x00" * 5))
    with pytest.raises(FrameError):
        split_blocks(ROWS, 0)
    truncated = BlockAssembler()
    with pytest.raises(FrameError):
        truncated.add(GetResponseWithBlock(True, 1, ROWS.to_bytes()[:-1]))


def test_raw_blocks_of_a_get_with_list_answer() -> None:
    # A GET-with-list answer in blocks carries its count and results, not one Data.
    body = bytes.fromhex("02 00 06 00 12 D6 87 01 04")
    assembler = BlockAssembler("GET with list")
    assert assembler.add_raw(GetResponseWithBlock(False, 1, body[:4])) is None
    assert assembler.add_raw(GetResponseWithBlock(True, 2, body[4:])) == body
