"""Byte vectors of the Mercury 200 family, each named and sourced
(docs/reference/mercury-protocol.md §3.5).

"MS" = mrkrasser/MercuryStats readme (a real 200.02, address 411486), "WB" =
wirenboard/wb-mqtt-serial ``test/TMercury200Test.*.dat`` (address 0xFE123456; the U/I/P values
are synthetic), "ASDX" = ru-asdx/mercury-em ``mercury/mercury206.py`` doctests (206, address
10925856), "IOB" = ioBroker.mercury README (address 0x000E1F9B; the 32 request CRC was computed
by the reference's author).
"""

from __future__ import annotations

h = bytes.fromhex

# §3.5 MS: instant U I P: 235.8 V, 2.64 A, 588 W (address 411486 = 00 06 47 5E)
MS_ADDRESS = 411486
MS_INSTANT_REQ = h("00 06 47 5E 63 EC D4")
MS_INSTANT_RESP = h("00 06 47 5E 63 23 58 02 64 00 05 88 45 C6")
# §3.5 MS: energy T1 621.42 kWh, T2 208.34 kWh, T3 = T4 = 0
MS_ENERGY_REQ = h("00 06 47 5E 27 EC E7")
MS_ENERGY_RESP = h("00 06 47 5E 27 00 06 21 42 00 02 08 34 00 00 00 00 00 00 00 00 59 F5")

# §3.5 WB TMercury200Test.EnergyQuery.dat: T1..T4 = 621.42 / 208.34 / 111.11 / 222.22 kWh
WB_ADDRESS = 0xFE123456
WB_ENERGY_REQ = h("FE 12 34 56 27 36 D8")
WB_ENERGY_RESP = h("FE 12 34 56 27 00 06 21 42 00 02 08 34 00 01 11 11 00 02 22 22 2B 25")
# §3.5 WB TMercury200Test.ParamsQuery.dat: U 123.4 V, I 56.78 A, P 765432 W (synthetic)
WB_INSTANT_REQ = h("FE 12 34 56 63 36 EB")
WB_INSTANT_RESP = h("FE 12 34 56 63 12 34 56 78 76 54 32 79 0E")
# §3.5 WB TMercury200Test.BatteryVoltageQuery.dat: 3.91 V
WB_BATTERY_REQ = h("FE 12 34 56 29 B7 1C")
WB_BATTERY_RESP = h("FE 12 34 56 29 03 91 B7 65")

# §3.5 ASDX mercury206.py doctests (206, serial/address 10925856 = 00 A6 B7 20)
ASDX_ADDRESS = 10925856
ASDX_FIRMWARE_REQ = h("00 A6 B7 20 28 AF 70")
ASDX_LAST_OFF_REQ = h("00 A6 B7 20 2B EF 71")
# energy T1 2656.16 kWh, T2 1370.91 kWh, T3 = T4 = 0 (request rebuilt here: CRC computed here)
ASDX_ENERGY_RESP = h("00 A6 B7 20 27 00 26 56 16 00 13 70 91 00 00 00 00 00 00 00 00 47 78")

# §3.5 IOB README RAW object: 32 0F current month, T1 BCD 07006300, T2..T4 not in use
IOB_ADDRESS = 0x000E1F9B
IOB_MONTH_REQ = h("00 0E 1F 9B 32 0F 4A 85")
IOB_MONTH_RESP = h("00 0E 1F 9B 32 07 00 63 00 FF FF FF FF FF FF FF FF FF FF FF FF 7F 56")
# §3.5 IOB README: battery 3.05 V (request rebuilt here)
IOB_BATTERY_RESP = h("00 0E 1F 9B 29 03 05 B1 F3")
