"""A simulated SPODES (DLMS/COSEM) meter: the link (HDLC or the wrapper) and the application
association, reusing the codec in ``drivers.dlms`` in the server role, over either a small
fixed object table (``objects.py``) or the SPODES object model (``spodes.py``) of a meter with
history, load, profiles and journals on an injectable clock (``meter.py``); ``isu sim dlms``
(``cli.py``). See docs/dlms.md and docs/simulators.md.
"""

from simulators.dlms.application import DEFAULT_SECRETS, Application, Level
from simulators.dlms.meter import SpodesMeter, SpodesSettings
from simulators.dlms.objects import ObjectTable, default_table
from simulators.dlms.protocol import HdlcServer, LineFaults, WrapperServer
from simulators.dlms.server import DlmsTcpServer, serve_stream
from simulators.dlms.spodes import SpodesObjects

__all__ = [
    "DEFAULT_SECRETS",
    "Application",
    "DlmsTcpServer",
    "HdlcServer",
    "Level",
    "LineFaults",
    "ObjectTable",
    "SpodesMeter",
    "SpodesObjects",
    "SpodesSettings",
    "WrapperServer",
    "default_table",
    "serve_stream",
]
