"""Byte vectors of DLMS/COSEM for SPODES meters, each named and sourced.

"GOST" = ГОСТ Р 58940-2020, the traces of sections 12–13 as collected in
docs/reference/dlms-spodes.md §4.1 (every HCS and FCS recomputed there; the rows that do not
verify are left out on purpose). "PEER" = §4.2, bytes produced alike by gurux_dlms 1.0.203 and
dlms-cosem 25.1.0. "AMS" = §4.3, a date-time from amsreader-firmware issue #809. "GX" = bytes
built by the public client API of gurux_dlms 1.0.203 (GPLv2, a test-only peer) and frozen here;
the call that produced each is named, so the tests never need the library.
"""

from __future__ import annotations


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- §4.1 GOST table 12.1: public client (SAP 16 → 21), server 1/0x10 (02 21) ---------------
GOST_12_1_DISC = h("7E A0 08 02 21 21 53 09 17 7E")
GOST_12_1_DM = h("7E A0 08 21 02 21 1F A0 D9 7E")
GOST_12_1_SNRM = h("7E A0 08 02 21 21 93 05 D1 7E")
GOST_12_1_UA = h("7E A0 08 21 02 21 73 CA 70 7E")
GOST_12_1_AARQ = h(
    "7E A0 2C 02 21 21 10 17 2A E6 E6 00 60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E"
    " 01 00 00 00 06 5F 1F 04 00 00 10 10 FF FF F8 B5 7E"
)
GOST_12_1_AARE = h(
    "7E A0 38 21 02 21 30 84 D4 E6 E7 00 61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00"
    " A3 05 A1 03 02 01 00 BE 10 04 0E 08 00 06 5F 1F 04 00 00 10 10 04 00 00 07 36 E3 7E"
)
# GET IC 15 0.0.40.0.0.255 attribute 1 (the logical name) and its answer
GOST_12_1_GET = h(
    "7E A0 1A 02 21 21 34 78 A2 E6 E6 00 C0 01 C1 00 0F 00 00 28 00 00 FF 01 00 F9 79 7E"
)
GOST_12_1_RESP = h(
    "7E A0 19 21 02 21 72 47 DE E6 E7 00 C4 01 C1 00 09 06 00 00 28 00 00 FF B6 6E 7E"
)

# --- §4.1 GOST table 12.2: reader (SAP 32 → 41) with LLS, password "Reader" ---------------
GOST_12_2_SNRM = h("7E A0 08 02 21 41 93 50 B4 7E")
GOST_12_2_UA = h("7E A0 08 41 02 21 73 2E E9 7E")
GOST_12_2_AARQ = h(
    "7E A0 43 02 21 41 10 0D 84 E6 E6 00 60 34 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80"
    " 8B 07 60 85 74 05 08 02 01 AC 08 80 06 52 65 61 64 65 72 BE 10 04 0E 01 00 00 00 06"
    " 5F 1F 04 00 00 10 1C FF FF 28 15 7E"
)
GOST_12_2_AARE = h(
    "7E A0 38 41 02 21 30 60 4D E6 E7 00 61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00"
    " A3 05 A1 03 02 01 00 BE 10 04 0E 08 00 06 5F 1F 04 00 00 10 1C 04 00 00 07 06 94 7E"
)

# --- §4.1 GOST section 13.2: configurator (SAP 48 → 61), register 1.0.21.7.0.255 ------------
GOST_13_2_GET_A1 = h(
    "7E A0 1A 02 21 61 54 18 87 E6 E6 00 C0 01 81 00 03 01 00 15 07 00 FF 01 00 BF B7 7E"
)
GOST_13_2_RESP_A1 = h(
    "7E A0 19 61 02 21 74 C6 AD E6 E7 00 C4 01 81 00 09 06 01 00 15 07 00 FF 9E 70 7E"
)
GOST_13_2_GET_A2 = h(
    "7E A0 1A 02 21 61 76 08 85 E6 E6 00 C0 01 81 00 03 01 00 15 07 00 FF 02 00 D7 9D 7E"
)
GOST_13_2_RESP_A2 = h("7E A0 16 61 02 21 96 26 03 E6 E7 00 C4 01 81 00 05 00 00 00 00 B7 C2 7E")
GOST_13_2_GET_A3 = h(
    "7E A0 1A 02 21 61 98 78 8B E6 E6 00 C0 01 81 00 03 01 00 15 07 00 FF 03 00 0F 84 7E"
)
GOST_13_2_RESP_A3 = h("7E A0 17 61 02 21 B8 1E C0 E6 E7 00 C4 01 81 00 02 02 0F FE 16 1B 12 7A 7E")

# --- §4.1 GOST section 13.3: set the clock to 2016-10-31 08:46:38.01, deviation 0, status 0 --
GOST_13_3_SET = h(
    "7E A0 28 02 21 61 54 41 45 E6 E6 00 C1 01 81 00 08 00 00 01 00 00 FF 02 00 09 0C 07 E0"
    " 0A 1F FF 08 2E 26 01 00 00 00 F6 6D 7E"
)
GOST_13_3_RESP = h("7E A0 11 61 02 21 74 E6 F7 E6 E7 00 C5 01 81 00 36 CF 7E")

# --- §4.1 GOST section 13.4: monthly profile 1.0.98.1.0.255 --------------------------------
GOST_13_4_BY_ENTRY = h(
    "7E A0 2D 02 21 61 54 15 63 E6 E6 00 C0 01 81 00 07 01 00 62 01 00 FF 02 01 02 02 04 06 00"
    " 00 00 03 06 00 00 00 05 12 00 01 12 00 00 B3 C3 7E"
)
GOST_13_4_RR = h("7E A0 08 02 21 61 71 7F 53 7E")
# by range 2014-12-09 .. 2015-02-01, server in the 1-byte form 03
GOST_13_4_BY_RANGE = h(
    "7E A0 4C 03 61 54 78 23 E6 E6 00 C0 01 81 00 07 01 00 62 01 00 FF 02 01 01 02 04 02 04 12"
    " 00 08 09 06 00 00 01 00 00 FF 0F 02 12 00 00 09 0C 07 DE 0C 09 02 00 00 00 FF 00 00 00"
    " 09 0C 07 DF 02 01 00 00 00 00 FF 00 00 00 01 00 92 49 7E"
)
GOST_13_4_GET_NEXT_1 = h("7E A0 13 03 61 76 87 46 E6 E6 00 C0 02 81 00 00 00 01 73 7F 7E")
GOST_13_4_GET_NEXT_2 = h("7E A0 13 03 61 98 F7 48 E6 E6 00 C0 02 81 00 00 00 02 E8 4D 7E")

# --- §4.2 PEER: wrapper, client 32 → server 1, GET 1.0.1.8.0.255 attribute 2 ----------------
PEER_WRAPPER_GET = h("00 01 00 20 00 01 00 0D C0 01 C1 00 03 01 00 01 08 00 FF 02 00")
# §4.2 PEER (gurux_dlms 1.0.203): the same header with an LLS AARQ, password 12345678
PEER_WRAPPER_LLS_AARQ = h(
    "00 01 00 20 00 01 00 38 60 36 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74"
    " 05 08 02 01 AC 0A 80 08 31 32 33 34 35 36 37 38 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00"
    " 40 1E 5D FF FF"
)

# --- §4.3 AMS (amsreader-firmware #809): 2024-06-15 Sat 20:23:45.00, deviation −120, DST ----
AMS_DATE_TIME = h("07 E8 06 0F 06 14 17 2D 00 FF 88 80")

# --- GX: gurux_dlms 1.0.203, GXDLMSClient(True, client, server, …, InterfaceType.HDLC) ------
# snrmRequest() with hdlcSettings.maxInfoTX = maxInfoRX = 512 (windows at their default 1 are
# left out)
GX_SNRM_MAX_INFO_512 = h(
    "7E A0 15 02 21 21 93 31 19 81 80 08 05 02 02 00 06 02 02 00 43 B0 7E"
)
# snrmRequest() with hdlcSettings.windowSizeTX = windowSizeRX = 7: windows in 4 bytes
GX_SNRM_WINDOW_7 = h(
    "7E A0 19 02 21 21 93 01 6E 81 80 0C 07 04 00 00 00 07 08 04 00 00 00 07 63 61 7E"
)
# snrmRequest() of client 32 to getServerAddress(1, 0x148, 4): a 4-byte server address
GX_SNRM_SERVER_4_BYTES = h("7E A0 0A 00 02 04 91 41 93 5B 59 7E")

# --- GX: gurux_dlms 1.0.203, GXDLMSClient(True, 32, 1, LOW, "12345678", WRAPPER) ------------
# readRowsByEntry(1.0.98.1.0.255, 3, 5): index 3, count 5, so entries 3..7, all columns
GX_WRAPPER_BY_ENTRY = h(
    "00 01 00 20 00 01 00 20 C0 01 C1 00 07 01 00 62 01 00 FF 02 01 02 02 04 06 00 00 00 03 06"
    " 00 00 00 07 12 00 01 12 00 00"
)
# readRowsByRange(1.0.98.1.0.255, 2014-12-09, 2015-02-01) with the clock as column 1
GX_WRAPPER_BY_RANGE = h(
    "00 01 00 20 00 01 00 40 C0 01 C1 00 07 01 00 62 01 00 FF 02 01 01 02 04 02 04 12 00 08 09"
    " 06 00 00 01 00 00 FF 0F 02 12 00 00 09 0C 07 DE 0C 09 FF 00 00 00 00 00 00 00 09 0C 07 DF"
    " 02 01 FF 00 00 00 00 00 00 00 01 00"
)
# write(Data 0.0.96.1.10.255, 2) with the value "TP-1" as a visible-string
GX_WRAPPER_SET = h(
    "00 01 00 20 00 01 00 13 C1 01 C1 00 01 00 00 60 01 0A FF 02 00 0A 04 54 50 2D 31"
)
# method(Clock 0.0.1.0.0.255, 6, -30, INT16): shift_time by −30 s
GX_WRAPPER_ACTION = h(
    "00 01 00 20 00 01 00 10 C3 01 C1 00 08 00 00 01 00 00 FF 06 01 10 FF E2"
)
# readList([(Register 1.0.1.8.0.255, 2), (the same, 3)]) with MULTIPLE_REFERENCES negotiated
GX_WRAPPER_GET_LIST = h(
    "00 01 00 20 00 01 00 18 C0 03 C1 02 00 03 01 00 01 08 00 FF 02 00 00 03 01 00 01 08 00 FF"
    " 03 00"
)
# GXDLMSSecureClient(True, 48, 1, HIGH_GMAC, None, WRAPPER), AUTHENTICATION_ENCRYPTION, system
# title "ISU00001", invocation counter 1, keys 00..0F / 10..1F: aarqRequest() with a random CtoS
GX_WRAPPER_HLS_GMAC_AARQ = h(
    "00 01 00 30 00 01 00 5F 60 5D A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08 49 53 55 30 30"
    " 30 30 31 8A 02 07 80 8B 07 60 85 74 05 08 02 05 AC 12 80 10 42 7F 67 D7 67 FB 09 B1 DA 62"
    " D8 83 C6 FB 8E DA BE 23 04 21 21 1F 30 00 00 00 01 BF 0E 60 77 F7 32 3F 2D E9 5F 87 99 3C"
    " BB FB 33 1A D3 A3 F7 F7 DB D2 3F E3 3E"
)

# --- HLS-GMAC (mechanism 5, suite 0): f(StoC) = SC | IC | GMAC tag (12 bytes) -----------------
# Inputs in the style of the DLMS Green Book example: client system title 4D4D4D0000000001,
# EK 00..0F, AK D0..DF, invocation counter 1, StoC "P6wRJ21F". Computed by gurux_dlms 1.0.203
# (GXSecure.secure with HIGH_GMAC) and checked against AES-GCM of `cryptography` 48.0
# (key EK, IV system title | IC, no plaintext, AAD 10 | AK | StoC, tag cut to 12 bytes).
HLS_GMAC_SYSTEM_TITLE = h("4D 4D 4D 00 00 00 00 01")
HLS_GMAC_EK = h("00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F")
HLS_GMAC_AK = h("D0 D1 D2 D3 D4 D5 D6 D7 D8 D9 DA DB DC DD DE DF")
HLS_GMAC_STOC = b"P6wRJ21F"
HLS_GMAC_F_STOC = h("10 00 00 00 01 1A 52 FE 7D D3 E7 27 48 97 3C 1E 28")
