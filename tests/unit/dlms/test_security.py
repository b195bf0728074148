"""HLS-GMAC (mechanism 5, security suite 0; drivers/dlms/security.py): known answers frozen
from gurux_dlms 1.0.203 (GPLv2, a test-only peer; the call that made each is named, so these
tests never import it), the invocation counter, verification failures, configuration errors
that never show a key, and the AARQ of a gurux client with HIGH_GMAC and Security.NONE read
by our codec (plain xDLMS: no ciphering)."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from drivers.dlms.acse import AarqApdu, ApplicationContext, Mechanism
from drivers.dlms.ciphered import CipheredApdu
from drivers.dlms.initiate import Conformance, InitiateRequest
from drivers.dlms.security import GmacSecurity, InvocationCounter, hls_gmac
from drivers.dlms.session import ClientSettings, DlmsClient, TitledSecurity
from drivers.dlms.wrapper import WrapperFrame
from drivers.dlms.wrapper_link import WrapperLink
from drivers.transport.memory import memory_pair
from simulators.dlms.application import (
    TEST_AUTHENTICATION_KEY,
    TEST_BLOCK_CIPHER_KEY,
    TitledServerHls,
    gmac_server,
    system_title,
)
from tests.unit.dlms import vectors as v


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- vectors ---------------------------------------------------------------------------------
# The Green Book's HLS-GMAC example, the meter's half (vectors.py holds the client's half,
# HLS_GMAC_*): server system title 4D4D4D0000BC614E ("MMM" + 12345678), IC 01234567,
# CtoS "K56iVagY", EK 00..0F, AK D0..DF. GXSecure.secure(settings with HIGH_GMAC,
# GXCiphering(title), 0x01234567, b"K56iVagY", title); equal to the Green Book's f(CtoS).
GB_SERVER_TITLE = h("4D 4D 4D 00 00 BC 61 4E")
GB_CTOS = b"K56iVagY"
GB_F_CTOS = h("10 01 23 45 67 FE 14 66 AF B3 DB CD 4F 93 89 E2 B7")
# The simulator's title for serial 50000016 ("ISU" + 50000016 as 5 bytes), IC 7, a 16-byte
# challenge "0123456789ABCDEF": GXSecure.secure(…, GXCiphering(title), 7, challenge, title).
SIM_TITLE = h("49 53 55 00 02 FA F0 90")
SIM_CHALLENGE = b"0123456789ABCDEF"
SIM_F = h("10 00 00 00 07 A3 6B 21 44 C4 14 F3 35 F1 11 6F 30")
# gurux's default client title "ABCDEFGH", the last IC FFFFFFFF, a 64-byte challenge 00..3F:
# GXSecure.secure(…, GXCiphering(b"ABCDEFGH"), 0xFFFFFFFF, bytes(range(64)), b"ABCDEFGH").
GX_TITLE = b"ABCDEFGH"
GX_F_64 = h("10 FF FF FF FF 6C DE B3 B5 11 F4 49 90 36 3C 57 06")
# GXDLMSSecureClient(True, 48, 1, Authentication.HIGH_GMAC, None, InterfaceType.WRAPPER) with
# its default ciphering (Security.NONE, title "ABCDEFGH"), settings.useCustomChallenge and
# ctoSChallenge b"K56iVagY": aarqRequest(). Application context 1 (LN, not ciphered), the
# calling-AP-title, mechanism 5, CtoS and a plain InitiateRequest (conformance 401E5D).
GX_WRAPPER_HLS_GMAC_PLAIN_AARQ = h(
    "00 01 00 30 00 01 00 44 60 42 A1 09 06 07 60 85 74 05 08 01 01 A6 0A 04 08 41 42 43 44 45"
    " 46 47 48 8A 02 07 80 8B 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69 56 61 67 59 BE 10"
    " 04 0E 01 00 00 00 06 5F 1F 04 00 40 1E 5D FF FF"
)


def green_book_client(counter: int = 1) -> GmacSecurity:
    return GmacSecurity(v.HLS_GMAC_SYSTEM_TITLE, v.HLS_GMAC_EK, v.HLS_GMAC_AK, counter)


# --- known answers ---------------------------------------------------------------------------


def test_f_stoc_of_the_green_book_example() -> None:
    assert hls_gmac(v.HLS_GMAC_SYSTEM_TITLE, 1, v.HLS_GMAC_EK, v.HLS_GMAC_AK,
                    v.HLS_GMAC_STOC) == v.HLS_GMAC_F_STOC
    assert green_book_client().reply(v.HLS_GMAC_STOC) == v.HLS_GMAC_F_STOC


def test_f_ctos_of_the_green_book_example() -> None:
    meter = GmacSecurity(GB_SERVER_TITLE, v.HLS_GMAC_EK, v.HLS_GMAC_AK, 0x01234567)
    assert meter.reply(GB_CTOS) == GB_F_CTOS
    # the client checks it under the meter's responding-AP-title
    assert green_book_client().verify(GB_CTOS, GB_F_CTOS, GB_SERVER_TITLE)


def test_the_meter_checks_the_client_f_stoc_under_the_calling_ap_title() -> None:
    meter = GmacSecurity(GB_SERVER_TITLE, v.HLS_GMAC_EK, v.HLS_GMAC_AK)
    assert meter.verify(v.HLS_GMAC_STOC, v.HLS_GMAC_F_STOC, v.HLS_GMAC_SYSTEM_TITLE)
    assert not meter.verify(v.HLS_GMAC_STOC, v.HLS_GMAC_F_STOC, GB_SERVER_TITLE)


def test_a_16_byte_challenge_under_the_simulator_title() -> None:
    assert system_title("50000016") == SIM_TITLE
    meter = gmac_server("50000016")
    assert hls_gmac(SIM_TITLE, 7, TEST_BLOCK_CIPHER_KEY, TEST_AUTHENTICATION_KEY,
                    SIM_CHALLENGE) == SIM_F
    assert meter.verify(SIM_CHALLENGE, SIM_F, SIM_TITLE)


def test_a_64_byte_challenge_and_the_last_counter() -> None:
    gx = GmacSecurity(GX_TITLE, TEST_BLOCK_CIPHER_KEY, TEST_AUTHENTICATION_KEY, 0xFFFFFFFF)
    assert gx.reply(bytes(range(64))) == GX_F_64
    with pytest.raises(ConfigError, match="used up"):
        gx.reply(bytes(range(64)))


def test_the_green_book_system_title_scheme() -> None:
    # "MMM" + 12345678 is 4D4D4D0000BC614E; ours is "ISU" + the serial the same way
    assert system_title("12345678") == b"ISU" + GB_SERVER_TITLE[3:]
    for serial in ("5000001A", "", "1" * 13):
        with pytest.raises(ConfigError):
            system_title(serial)


# --- verification failures -------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["ek", "ak", "title", "challenge", "sc", "ic", "tag", "short"])
def test_verification_fails(wrong: str) -> None:
    ek, ak, title, challenge = v.HLS_GMAC_EK, v.HLS_GMAC_AK, GB_SERVER_TITLE, GB_CTOS
    answer = GB_F_CTOS
    if wrong == "ek":
        ek = bytes(16)
    elif wrong == "ak":
        ak = bytes(16)
    elif wrong == "title":
        title = v.HLS_GMAC_SYSTEM_TITLE
    elif wrong == "challenge":
        challenge = b"K56iVagZ"
    elif wrong == "sc":
        answer = b"\x30" + answer[1:]  # authenticated and encrypted is not what f() is
    elif wrong == "ic":
        answer = answer[:4] + b"\x68" + answer[5:]
    elif wrong == "tag":
        answer = answer[:-1] + bytes((answer[-1] ^ 1,))
    else:
        answer = answer[:-1]
    client = GmacSecurity(v.HLS_GMAC_SYSTEM_TITLE, ek, ak)
    assert not client.verify(challenge, answer, title)


def test_a_peer_title_of_another_size_never_verifies() -> None:
    assert not green_book_client().verify(GB_CTOS, GB_F_CTOS, GB_SERVER_TITLE[:7])


# --- the invocation counter ------------------------------------------------------------------


def test_the_counter_goes_up_at_every_reply() -> None:
    client = green_book_client(counter=41)
    assert client.counter.next_value == 41
    first, second = client.reply(b"challenge"), client.reply(b"challenge")
    assert first[1:5] == (41).to_bytes(4, "big")
    assert second[1:5] == (42).to_bytes(4, "big")
    assert first[5:] != second[5:]
    assert client.counter.next_value == 43
    # verifying the peer's f() does not use our counter
    assert client.verify(GB_CTOS, GB_F_CTOS, GB_SERVER_TITLE)
    assert client.counter.next_value == 43


def test_counter_bounds() -> None:
    with pytest.raises(ConfigError):
        InvocationCounter(-1)
    with pytest.raises(ConfigError):
        InvocationCounter(1 << 32)
    counter = InvocationCounter(0xFFFFFFFF)
    assert counter.take() == 0xFFFFFFFF
    with pytest.raises(ConfigError, match="key must be changed"):
        counter.take()


# --- challenges ------------------------------------------------------------------------------


def test_challenges_are_random_of_the_size_asked() -> None:
    client = green_book_client()
    assert len(client.challenge()) == 16
    assert client.challenge() != client.challenge()
    for size in (8, 64):
        assert len(GmacSecurity(GX_TITLE, bytes(16), bytes(16), challenge_size=size)
                   .challenge()) == size
    for size in (7, 65):
        with pytest.raises(ConfigError, match=r"8\.\.64"):
            GmacSecurity(GX_TITLE, bytes(16), bytes(16), challenge_size=size)


# --- configuration ---------------------------------------------------------------------------

EK_HEX = "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"
AK_HEX = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"


def test_from_hex() -> None:
    gmac = GmacSecurity.from_hex(system_title="4D4D4D0000000001", block_cipher_key=EK_HEX,
                                 authentication_key=AK_HEX, invocation_counter=1)
    assert gmac == green_book_client()
    assert gmac.reply(v.HLS_GMAC_STOC) == v.HLS_GMAC_F_STOC
    assert gmac.mechanism is Mechanism.HLS_GMAC


@pytest.mark.parametrize(("field", "value", "message"), [
    ("system_title", "4D4D4D00000001", "system title: 7 bytes, 8 needed"),
    ("system_title", "ISU00001", "system title: not a hex string"),
    ("block_cipher_key", "000102030405060708090A0B0C0D0E", "block cipher key \\(EK\\): 15 bytes"),
    ("block_cipher_key", "000102030405060708090A0B0C0D0E0F00", "\\(EK\\): 17 bytes"),
    ("block_cipher_key", "g00102030405060708090A0B0C0D0E0F", "\\(EK\\): not a hex string"),
    ("authentication_key", "D0D1D2D3D4D5D6D7D8D9DADBDCDDDE", "\\(AK\\): 15 bytes"),
    ("authentication_key", "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDZ", "\\(AK\\): not a hex string"),
])
def test_bad_hex_is_a_config_error_without_the_value(field: str, value: str,
                                                     message: str) -> None:
    given = {"system_title": "4D4D4D0000000001", "block_cipher_key": EK_HEX,
             "authentication_key": AK_HEX, field: value}
    with pytest.raises(ConfigError, match=message) as caught:
        GmacSecurity.from_hex(system_title=given["system_title"],
                              block_cipher_key=given["block_cipher_key"],
                              authentication_key=given["authentication_key"])
    text = str(caught.value)
    for secret in given.values():
        assert secret not in text
    assert caught.value.__cause__ is None  # no foreign message chained either
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_bytes_of_a_wrong_size_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="system title"):
        GmacSecurity(b"ISU", bytes(16), bytes(16))
    with pytest.raises(ConfigError, match="EK"):
        GmacSecurity(GX_TITLE, bytes(24), bytes(16))  # AES-192: not suite 0
    with pytest.raises(ConfigError, match="AK"):
        GmacSecurity(GX_TITLE, bytes(16), b"")
    with pytest.raises(ConfigError, match="invocation counter"):
        GmacSecurity(GX_TITLE, bytes(16), bytes(16), invocation_counter=1 << 32)


def test_keys_and_titles_stay_out_of_the_repr() -> None:
    gmac = green_book_client()
    text = repr(gmac) + str(gmac) + repr(ClientSettings(48, hls=gmac))
    for secret in (v.HLS_GMAC_EK, v.HLS_GMAC_AK, v.HLS_GMAC_SYSTEM_TITLE):
        assert secret.hex() not in text.lower()
        assert repr(secret) not in text
        assert secret.hex(" ") not in text.lower()
    assert "invocation_counter=1" in text


# --- the hooks it plugs into -----------------------------------------------------------------


def test_it_fits_the_client_and_the_meter_hooks() -> None:
    assert isinstance(green_book_client(), TitledSecurity)
    assert isinstance(gmac_server("1"), TitledServerHls)


def test_mechanism_5_without_titles_is_refused_by_the_settings() -> None:
    class Untitled:
        mechanism = Mechanism.HLS_GMAC

        def challenge(self) -> bytes:
            return b"12345678"

        def reply(self, stoc: bytes) -> bytes:
            return stoc

        def verify(self, ctos: bytes, answer: bytes) -> bool:
            return False

    with pytest.raises(ValueError, match="system title"):
        ClientSettings(48, hls=Untitled())


def test_our_aarq_equals_the_gurux_plain_hls_gmac_aarq() -> None:
    frame = WrapperFrame.from_bytes(GX_WRAPPER_HLS_GMAC_PLAIN_AARQ)
    aarq = AarqApdu.from_bytes(frame.apdu)
    assert aarq.application_context is ApplicationContext.LN  # not ciphered
    assert aarq.calling_ap_title == GX_TITLE
    assert aarq.mechanism is Mechanism.HLS_GMAC
    assert aarq.calling_authentication_value == GB_CTOS
    assert aarq.user_information == InitiateRequest(Conformance(0x401E5D), 0xFFFF)
    gmac = GmacSecurity(GX_TITLE, TEST_BLOCK_CIPHER_KEY, TEST_AUTHENTICATION_KEY)
    client_end, _ = memory_pair()
    client = DlmsClient(WrapperLink(client_end, client_sap=48),
                        ClientSettings(48, hls=gmac, conformance=Conformance(0x401E5D)))
    assert client.aarq(GB_CTOS).to_bytes() == frame.apdu


def test_the_gurux_ciphered_aarq_names_its_title_and_mechanism() -> None:
    # vectors.GX_WRAPPER_HLS_GMAC_AARQ: the same client with AUTHENTICATION_ENCRYPTION, which
    # we recognise but do not decipher
    aarq = AarqApdu.from_bytes(WrapperFrame.from_bytes(v.GX_WRAPPER_HLS_GMAC_AARQ).apdu)
    assert aarq.application_context is ApplicationContext.LN_CIPHERED
    assert aarq.calling_ap_title == b"ISU00001"
    assert aarq.mechanism is Mechanism.HLS_GMAC
    assert isinstance(aarq.user_information, CipheredApdu)
