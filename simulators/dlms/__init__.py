"""A simulated SPODES (DLMS/COSEM) meter, protocol side: the link (HDLC or the wrapper) and the
application association on a small object table, reusing the codec in ``drivers.dlms`` in the
server role (docs/dlms.md). The object model with history and journals, and the ``isu sim
dlms`` command, come later.
"""

from simulators.dlms.application import DEFAULT_SECRETS, Application, Level
from simulators.dlms.objects import ObjectTable, default_table
from simulators.dlms.protocol import HdlcServer, LineFaults, WrapperServer
from simulators.dlms.server import DlmsTcpServer, serve_stream

__all__ = [
    "DEFAULT_SECRETS",
    "Application",
    "DlmsTcpServer",
    "HdlcServer",
    "Level",
    "LineFaults",
    "ObjectTable",
    "WrapperServer",
    "default_table",
    "serve_stream",
]
