"""The Mercury 200 "last event" times as journal entries, registered in the shared catalogue
``core.events`` (DESIGN §3; docs/reference/mercury-protocol.md §2).

::

    CMD  journal         kind (core.events)     text              critical
    2B   mercury200:2B   POWER  События питания  Выключение ПУ     no
    2C   mercury200:2C   POWER  События питания  Включение ПУ      no
    61   mercury200:61   TAMPER Внешние воздействия  Вскрытие крышки   yes
    62   mercury200:62   TAMPER Внешние воздействия  Закрытие крышки   yes

Family ``mercury200``, journal = the command byte, code 1 (the only stamp the command holds).
Criticality follows the catalogue's policy: tampering is critical, power on/off is not; the
cover close is critical as the 230 family's journal 12 entry is.
"""

from __future__ import annotations

from core.events import POWER, TAMPER, EventType, describe, register_events
from drivers.mercury.m200.frame import Command

__all__ = ["EVENT_CODE", "EVENT_COMMANDS", "MERCURY200", "event_journal", "event_type"]

MERCURY200 = "mercury200"
#: Each command holds one stamp; its code in the catalogue.
EVENT_CODE = 1

#: The "last event" commands, in the order the driver reads them.
EVENT_COMMANDS = (
    Command.LAST_POWER_OFF,
    Command.LAST_POWER_ON,
    Command.LAST_COVER_OPEN,
    Command.LAST_COVER_CLOSE,
)

register_events([
    EventType(MERCURY200, Command.LAST_POWER_OFF, EVENT_CODE, POWER, "Выключение ПУ"),
    EventType(MERCURY200, Command.LAST_POWER_ON, EVENT_CODE, POWER, "Включение ПУ"),
    EventType(MERCURY200, Command.LAST_COVER_OPEN, EVENT_CODE, TAMPER, "Вскрытие крышки",
              critical=True),
    EventType(MERCURY200, Command.LAST_COVER_CLOSE, EVENT_CODE, TAMPER, "Закрытие крышки",
              critical=True),
])


def event_type(command: Command) -> EventType:
    return describe(MERCURY200, int(command), EVENT_CODE)


def event_journal(command: Command) -> str:
    """The ``journal`` field: ``mercury200:2B`` (as the 230 family's ``mercury230:01``)."""
    return f"{MERCURY200}:{int(command):02X}"
