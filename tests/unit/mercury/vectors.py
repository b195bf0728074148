"""Byte vectors of the Mercury 230 family, each named and sourced.

"WB" = wirenboard/wb-mqtt-serial test files, "MB" = mercury-base 1.6 sdist cache (a real meter
at 0x30), "BRK"/"SHDEN" = field logs in GitHub issues, "DOC3" = Incotex's command reference
(CRC computed here). Collected in docs/reference/mercury-protocol.md §3; the § numbers below
are that file's.
"""

from __future__ import annotations

h = bytes.fromhex

# --- §3.1 (WB test/TMercury230Test.*.dat, address 00) ---------------------
# §3.1 W1 (WB): open level 1, password 111111 binary → OK
W1_OPEN_REQ = h("00 01 01 01 01 01 01 01 01 77 81")
W1_OPEN_RESP = h("00 00 01 B0")
# §3.1 W2 (WB): open level 2 with custom password bytes 12..17 → OK
W2_OPEN_REQ = h("00 01 02 12 13 14 15 16 17 34 17")
W2_OPEN_RESP = h("00 00 01 B0")
# §3.1 W3 (WB): energy from reset, sum: A+ 3196200 Wh, R+ 300444 varh
W3_ENERGY_REQ = h("00 05 00 00 10 25")
W3_ENERGY_RESP = h("00 30 00 28 C5 FF FF FF FF 04 00 9C 95 FF FF FF FF 44 AB")
# §3.1 W4 (WB): the same request, next poll: +1 Wh / +1 varh
W4_ENERGY_RESP = h("00 30 00 29 C5 FF FF FF FF 04 00 9D 95 FF FF FF FF 45 BB")
# §3.1 W5 (WB): A+ per phase (array 6), 12 data bytes
W5_PHASES_REQ = h("00 05 60 00 38 25")
W5_PHASES_RESP = h("00 30 00 29 C5 30 00 29 00 04 00 9D 95 50 99")
# §3.1 W6 (WB): U1 = 241.28 V
W6_U1_REQ = h("00 08 11 11 4D BA")
W6_U1_RESP = h("00 00 40 5E B0 1C")
# §3.1 W7 (WB): I1 = 0.069 A
W7_I1_REQ = h("00 08 11 21 4D AE")
W7_I1_RESP = h("00 00 45 00 32 B4")
# §3.1 W8 (WB): P sum 5530.95 W, reactive-reverse bit set
W8_P_REQ = h("00 08 11 00 8D B6")
W8_P_RESP = h("00 48 87 70 E2 26")
# §3.1 W9 (WB): P1 with both direction bits → −5530.95 W
W9_P1_REQ = h("00 08 11 01 4C 76")
W9_P1_RESP = h("00 C8 87 70 E3 CE")
# §3.1 W10 (WB): temperature 24 °C (2 bytes BE)
W10_TEMP_REQ = h("00 08 11 70 8C 52")
W10_TEMP_RESP = h("00 00 18 71 CA")
# §3.1 W11 (WB): THD phase 1, 2 bytes LE (synthetic value 0x9001)
W11_THD_REQ = h("00 08 11 61 4C 5E")
W11_THD_RESP = h("00 01 90 70 3C")
# §3.1 W12 (WB): status 5, channel not open
W12_U2_REQ = h("00 08 11 12 0D BB")
W12_STATUS5_RESP = h("00 05 C1 B3")
# §3.1 W13 (WB): status 2, internal meter error
W13_U2_REQ = h("00 08 11 12 0D BB")
W13_STATUS2_RESP = h("00 02 80 71")
# §3.1 (WB), other request frames of the same file
WB_U3_REQ = h("00 08 11 13 CC 7B")
WB_I2_REQ = h("00 08 11 22 0D AF")
WB_I3_REQ = h("00 08 11 23 CC 6F")
WB_F_REQ = h("00 08 11 40 8C 46")
WB_PF_REQ = h("00 08 11 30 8D A2")
WB_Q_REQ = h("00 08 11 04 8C 75")

# --- §3.2 (MB: mercury-base 1.6 sdist cache, real meter 0x30) -------------
# §3.2 M1 (MB, real meter 0x30): test channel, answer identical to request
M1_TEST_REQ = h("30 00 15 B0")
M1_TEST_RESP = h("30 00 15 B0")
# §3.2 M2 (MB, real meter 0x30): open level 1, password bytes 01..06 → OK
M2_OPEN_REQ = h("30 01 01 01 02 03 04 05 06 35 3B")
M2_OPEN_RESP = h("30 00 15 B0")
# §3.2 M3 (MB, real meter 0x30): network address = 0x30
M3_ADDRESS_REQ = h("30 08 05 B6 0C")
M3_ADDRESS_RESP = h("30 00 30 71 DB")
# §3.2 M4 (MB, real meter 0x30): serial 40680048, made 22.01.2020
M4_SERIAL_REQ = h("30 08 00 76 0F")
M4_SERIAL_RESP = h("30 28 44 00 30 16 01 14 0B 02")
# §3.2 M5 (MB, real meter 0x30): firmware 8.0.0
M5_FIRMWARE_REQ = h("30 08 03 36 0E")
M5_FIRMWARE_RESP = h("30 08 00 00 8E E6")
# §3.2 M6 (MB, real meter 0x30): variant B4 E3 C2 95 57 40
M6_VARIANT_REQ = h("30 08 12 F6 02")
M6_VARIANT_RESP = h("30 B4 E3 C2 95 57 40 E7 35")
# §3.2 M7 (MB, real meter 0x30): firmware CRC16 = 4E51
M7_FIRMWARE_CRC_REQ = h("30 08 26 F7 D5")
M7_FIRMWARE_CRC_RESP = h("30 4E 51 85 93")
# §3.2 M8 (MB, real meter 0x30): Kn = 1, Kt = 1
M8_RATIOS_REQ = h("30 08 02 F7 CE")
M8_RATIOS_RESP = h("30 00 01 00 01 F4 04")

# --- §3.3 (field logs; request frames) --------------------------------------
# §3.3 SHDEN issue #7: test, open level 1 (111111), close at address 00
SHDEN_TEST_REQ = h("00 00 01 B0")
SHDEN_OPEN_REQ = h("00 01 01 01 01 01 01 01 01 77 81")
SHDEN_CLOSE_REQ = h("00 02 80 71")
# §3.3 BRK issue #14 (ESPHome-Mercury230, address 0x31)
BRK_TEST_REQ = h("31 00 14 20")
BRK_OPEN_REQ = h("31 01 01 01 01 01 01 01 01 2E 10")
BRK_PASSPORT_REQ = h("31 08 01 E6 0F")
BRK_ENERGY_REQ = h("31 05 00 00 1E D9")
BRK_POWER_REQ = h("31 08 16 00 81 7A")

# --- §3.4 (DOC3 examples, CRC computed here) -------------
# §3.4 (DOC3): test channel at 0x80, answer identical
D_TEST_REQ = h("80 00 60 70")
D_TEST_RESP = h("80 00 60 70")
# §3.4 (DOC3 §2.2.2): open level 1, ASCII password 111111 ("D" meters)
D_OPEN_ASCII_REQ = h("80 01 01 31 31 31 31 31 31 48 A8")
# §3.4 (DOC3): open level 1, binary password 111111
D_OPEN_BINARY_REQ = h("80 01 01 01 01 01 01 01 01 16 47")
# §3.4 (DOC3): close
D_CLOSE_REQ = h("80 02 E1 B1")
# §3.4 (DOC3 §4.2): time 16:14:43 Wed 27.02.08, winter
D_TIME_REQ = h("80 04 00 72 E8")
D_TIME_RESP = h("80 43 14 16 03 27 02 08 01 50 90")
# §3.4 (DOC3 §4.2): power on/off journal, record 2
D_POWER_JOURNAL_REQ = h("80 04 01 02 E8 74")
D_POWER_JOURNAL_RESP = h("80 01 53 07 01 02 08 09 50 12 01 02 08 2F 74")
# §3.4 (DOC3 §4.2): last clock-correction record, record number 00 appended
D_CLOCK_JOURNAL_REQ = h("80 04 02 FF 29 05")
D_CLOCK_JOURNAL_RESP = h("80 53 23 10 23 01 08 59 23 10 23 01 08 00 91 EB")
# §3.4 (DOC3 §4.3): January, sum: A+ 2.672 kWh, A- masked, R+ 1.000, R- 0
D_ENERGY_JAN_REQ = h("80 05 31 00 2C 75")
D_ENERGY_JAN_RESP = h("80 00 00 70 0A FF FF FF FF 00 00 E8 03 00 00 00 00 3F 0F")
# §3.4 (DOC3 §4.3, code 18h): energy at 00:00 23.06.19, T2: A+ 31.838 kWh
D_ARCHIVE_REQ = h("14 18 00 23 06 19 02 2D 0D")
D_ARCHIVE_RESP = h("14 00 00 5E 7C FF FF FF FF 00 00 DC 02 00 00 9D 0D 19 DA")
# §3.4 (DOC3 §4.4): serial 41906467, made 22.06.2020
D_SERIAL_REQ = h("80 08 00 77 E8")
D_SERIAL_RESP = h("80 29 5A 40 43 16 06 14 0A 73")
# §3.4 (DOC3 §4.4): passport: SN 32874766, 26.06.2018, fw 9.0.0, variant
D_PASSPORT_REQ = h("42 08 01 17 D4")
D_PASSPORT_RESP = h("42 20 57 2F 42 1A 06 12 09 00 00 B4 E3 C2 97 DF 58 3F D3")
# §3.4 (DOC3 §4.4): Kn = 1, Kt = 1
D_RATIOS_REQ = h("80 08 02 F6 29")
D_RATIOS_RESP = h("80 00 01 00 01 B5 DE")
# §3.4 (DOC3 §4.4): address discovery at universal 00 → 0x80
D_ADDRESS_REQ = h("00 08 05 B6 03")
D_ADDRESS_RESP = h("00 00 80 70 60")
# §3.4 (DOC3 §4.4): last profile record, index 1, 09:00 04.03.08, T = 30
D_PROFILE_LAST_REQ = h("80 08 13 36 25")
D_PROFILE_LAST_RESP = h("80 00 01 0A 09 00 04 03 08 1E 6A 42")
# §3.4 (DOC3 §4.5): profile record at 0x0010: 10:00 05.03.08, P+ N = 10500
D_PROFILE_RECORD_REQ = h("80 06 03 00 10 0F DA 5B")
D_PROFILE_RECORD_RESP = h("80 0A 10 00 05 03 08 1E 04 29 FF FF 00 00 00 00 FE AF")
# §3.4 (DOC3 §4.4): frequency 49.99 Hz
D_FREQ_REQ = h("80 08 11 40 A5 86")
D_FREQ_RESP = h("80 00 87 13 0B D9")
# §3.4 (DOC3 §4.4): temperature 24 °C
D_TEMP_REQ = h("80 08 11 70 A5 92")
D_TEMP_RESP = h("80 00 18 70 22")
# §3.4 (DOC3 §4.4): 08 14 S sum = S1 = 107.27 VA (reactive-reverse bit set)
D_S_FIXED_REQ = h("80 08 14 08 A6 E0")
D_S_FIXED_RESP = h("80 00 40 E7 29 00 40 E7 29 00 00 00 00 00 00 00 00 C7 3A")
# §3.4 (DOC3 §4.4): 08 14 cos φ sum = phase 1 = 0.557, 3-byte groups
D_COS_FIXED_REQ = h("80 08 14 30 A7 32")
D_COS_FIXED_RESP = h("80 40 2D 02 40 2D 02 00 00 00 00 00 00 1D 31")
# §3.4 (DOC3 §4.4): U1 = 221.07 V (0x565B = 22107; the doc's 224.43 is a slip)
D_U1_REQ = h("80 08 11 11 64 7A")
D_U1_RESP = h("80 00 5B 56 92 EA")
