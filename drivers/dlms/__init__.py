"""DLMS/COSEM for SPODES meters (GOST R 58940-2020): the sans-IO codec, the client, the driver.

Layers, bottom up: ``crc`` (CRC-16/X.25), ``hdlc`` (IEC 62056-46 frames and the stream
splitter), ``hdlc_link`` (SNRM/UA parameters, LLC header, segmentation, sequence numbers),
``wrapper`` (IEC 62056-47 TCP/UDP wrapper), ``obis``, ``cosem_datetime``, ``axdr`` (A-XDR data),
``initiate`` and ``ciphered`` (what an association carries), ``acse`` (AARQ/AARE/RLRQ/RLRE),
``access`` and ``results`` (references, selective access, result codes), ``xdlms`` (GET, SET,
ACTION), ``blocks`` (GET with block) and ``apdu`` (one parser for every APDU): no I/O, clock
or logging. On top, ``link`` and ``wrapper_link`` (the links over a byte stream) and
``session`` (the asyncio client: association, GET/SET/ACTION, release) with ``security``
(HLS-GMAC); then ``values``, ``profiles``, ``options`` and ``driver``, the ``dlms`` driver that
importing this package registers (docs/dlms.md).
"""

from drivers.base import register_driver
from drivers.dlms.driver import DlmsDriver

__all__ = ["DlmsDriver"]

register_driver(DlmsDriver.protocol, DlmsDriver)
