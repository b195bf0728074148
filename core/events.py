"""The event catalogue: what a journal entry of any protocol means (DESIGN §3).

One catalogue maps ``(family, journal, code)`` to an :class:`EventType`: its kind, its Russian
text, whether it is critical and the phase when the entry names one. Kinds follow the SPODES
journal split (GOST R 58940-2020, docs/reference/dlms-spodes.md §1.8), so that a Mercury event
and a SPODES event of the same nature land in the same kind. Criticality follows the proposal
of dlms-spodes.md §1.8 ("Critical vs non-critical"): tampering, bypass signs, clearing and
reprogramming are critical; ends, power on/off and quality deviations are not.

Families: ``mercury230`` (journal = the 04 JJ number, code 1 = the record's first stamp, code 2
= its second: on/off, before/after, start/end, opened/closed) and ``spodes`` (journal = N of
0.0.99.98.N.255, code = the value of 0.0.96.11.N.255). A driver of another family calls
:func:`register_events` once at import; :func:`describe` never fails, so an unknown code still
becomes an event (kind «Прочие события»).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ACCESS",
    "COMMUNICATION",
    "CURRENT",
    "DATA_CORRECTION",
    "EVENT_KINDS",
    "LIMITS",
    "MERCURY230",
    "OTHER",
    "POWER",
    "POWER_QUALITY",
    "SELF_DIAGNOSTICS",
    "SPODES",
    "TAMPER",
    "TIME_CORRECTION",
    "VOLTAGE",
    "EventKind",
    "EventType",
    "catalogue",
    "describe",
    "event_kind",
    "journal_name",
    "lookup",
    "register_events",
]

MERCURY230 = "mercury230"
SPODES = "spodes"


@dataclass(frozen=True, slots=True)
class EventKind:
    """A kind of events: ``id`` is the stable key of the API, ``name`` the cabinet's wording."""

    id: str
    name: str
    #: The SPODES journal N (0.0.99.98.N.255) this kind corresponds to, when there is one.
    spodes_journal: int | None = None


VOLTAGE = EventKind("voltage", "Напряжение", 0)
CURRENT = EventKind("current", "Токи", 1)
POWER = EventKind("power", "События питания", 2)
DATA_CORRECTION = EventKind("data_correction", "Коррекция данных", 3)
TAMPER = EventKind("tamper", "Внешние воздействия", 4)
COMMUNICATION = EventKind("communication", "Коммуникационные события", 5)
ACCESS = EventKind("access", "Контроль доступа", 6)
SELF_DIAGNOSTICS = EventKind("self_diagnostics", "Самодиагностика", 7)
POWER_QUALITY = EventKind("power_quality", "Качество сети", 9)
TIME_CORRECTION = EventKind("time_correction", "Коррекция времени", 13)
LIMITS = EventKind("limits", "Контроль мощности и лимитов", 16)
OTHER = EventKind("other", "Прочие события")

#: Every kind, in the order the API lists them.
EVENT_KINDS: tuple[EventKind, ...] = (
    VOLTAGE, CURRENT, POWER, DATA_CORRECTION, TAMPER, COMMUNICATION, ACCESS,
    SELF_DIAGNOSTICS, POWER_QUALITY, TIME_CORRECTION, LIMITS, OTHER,
)  # fmt: skip
_KINDS_BY_ID = {kind.id: kind for kind in EVENT_KINDS}


@dataclass(frozen=True, slots=True)
class EventType:
    """What one ``(family, journal, code)`` means."""

    family: str
    journal: int
    code: int
    kind: EventKind
    text: str
    critical: bool = False
    phase: int | None = None

    def __post_init__(self) -> None:
        if self.phase is not None and not 1 <= self.phase <= 3:
            raise ValueError(f"phase {self.phase} is not 1..3")
        if not self.text:
            raise ValueError("an event type needs a text")


_CATALOGUE: dict[tuple[str, int, int], EventType] = {}


def register_events(types: Iterable[EventType]) -> None:
    """Add (or replace) entries; drivers call it once when they are imported."""
    for event_type in types:
        _CATALOGUE[(event_type.family, event_type.journal, event_type.code)] = event_type


def lookup(family: str, journal: int, code: int) -> EventType | None:
    return _CATALOGUE.get((family, journal, code))


def describe(family: str, journal: int, code: int) -> EventType:
    """The catalogue's entry, or a non-critical «Прочие события» one naming the code."""
    found = lookup(family, journal, code)
    if found is not None:
        return found
    return EventType(family, journal, code, OTHER,
                     f"Неизвестное событие: журнал {journal}, код {code}")


def catalogue(family: str | None = None) -> list[EventType]:
    """Every entry (of one family), sorted by family, journal and code."""
    return [
        entry for key, entry in sorted(_CATALOGUE.items())
        if family is None or key[0] == family
    ]


def event_kind(kind_id: str) -> EventKind:
    """The kind with API id ``kind_id`` (KeyError for an unknown id)."""
    return _KINDS_BY_ID[kind_id]


def journal_name(family: str, journal: int) -> str:
    """The ``journal`` field of an event: ``mercury230:01``, ``spodes:4``."""
    if family == MERCURY230:
        return f"{family}:{journal:02X}"
    return f"{family}:{journal}"


# --- Mercury 230 family: 04 JJ journals (docs/reference/mercury-protocol.md §1.11) -----------

_PHASE_NAMES = {1: "A", 2: "B", 3: "C"}


def _pair(journal: int, kind: EventKind, first: str, second: str, *, critical: bool = False,
          phase: int | None = None, second_critical: bool = False) -> list[EventType]:
    return [
        EventType(MERCURY230, journal, 1, kind, first, critical, phase),
        EventType(MERCURY230, journal, 2, kind, second, second_critical, phase),
    ]


def _mercury() -> list[EventType]:
    m: list[EventType] = []
    m += _pair(0x01, POWER, "Включение ПУ", "Выключение ПУ")
    m += _pair(0x02, TIME_CORRECTION, "Коррекция времени: время до коррекции",
               "Коррекция времени: время после коррекции", critical=True)
    for phase in (1, 2, 3):
        name = _PHASE_NAMES[phase]
        m += _pair(0x02 + phase, VOLTAGE, f"Фаза {name} — включение (появление напряжения)",
                   f"Фаза {name} — выключение (пропадание напряжения)", phase=phase)
        m += _pair(0x16 + phase, CURRENT, f"Фаза {name} — включение тока",
                   f"Фаза {name} — выключение тока", phase=phase)
        m += _pair(0x7F + phase, CURRENT, f"Фаза {name} — обратное направление тока, начало",
                   f"Фаза {name} — обратное направление тока, окончание",
                   critical=True, phase=phase)
        m += _pair(0x82 + phase, CURRENT,
                   f"Фаза {name} — наличие тока при отсутствии напряжения, начало",
                   f"Фаза {name} — наличие тока при отсутствии напряжения, окончание",
                   critical=True, phase=phase)
    m += _pair(0x06, LIMITS, "Превышение лимита мощности — начало",
               "Превышение лимита мощности — окончание")
    for zone in (1, 2, 3, 4):
        m += _pair(0x0A + zone, LIMITS, f"Превышение лимита энергии по тарифу {zone} — начало",
                   f"Превышение лимита энергии по тарифу {zone} — окончание")
    m += _pair(0x12, TAMPER, "Вскрытие крышки клеммной колодки",
               "Закрытие крышки клеммной колодки", critical=True)
    m += _pair(0x1A, TAMPER, "Воздействие магнитного поля — начало",
               "Воздействие магнитного поля — окончание", critical=True)
    m += _pair(0x86, VOLTAGE, "Нарушение чередования фаз — начало",
               "Нарушение чередования фаз — окончание", critical=True)
    single = (
        (0x07, "Изменение тарифного расписания", False),
        (0x08, "Изменение расписания праздничных дней", False),
        (0x09, "Сброс регистров накопленной энергии", True),
        (0x0A, "Инициализация массива средних мощностей", True),
        (0x0F, "Изменение параметров лимита мощности", False),
        (0x10, "Изменение параметров лимита энергии", False),
        (0x11, "Изменение параметров потерь", False),
        (0x13, "Перепрограммирование параметров ПУ", True),
        (0x15, "Изменение расписания утренних и вечерних максимумов", False),
        (0x16, "Сброс массива значений максимумов мощности", True),
    )
    m += [EventType(MERCURY230, journal, 1, DATA_CORRECTION, text, critical)
          for journal, text, critical in single]
    m.append(EventType(MERCURY230, 0x14, 1, SELF_DIAGNOSTICS, "Изменение слова состояния"))
    return m


# --- SPODES (dlms-spodes.md §1.8); the DLMS driver may register the rest -------------------

def _spodes() -> list[EventType]:
    s: list[EventType] = []
    for phase in (1, 2, 3):
        name = _PHASE_NAMES[phase]
        s += [
            EventType(SPODES, 0, 2 * phase - 1, VOLTAGE, f"Фаза {name} — пропадание напряжения",
                      phase=phase),
            EventType(SPODES, 0, 2 * phase, VOLTAGE, f"Фаза {name} — восстановление напряжения",
                      phase=phase),
        ]
    s.append(EventType(SPODES, 0, 25, VOLTAGE, "Неправильная последовательность фаз — начало",
                       True))
    s += [
        EventType(SPODES, 2, 1, POWER, "Выключение питания ПУ"),
        EventType(SPODES, 2, 2, POWER, "Включение питания ПУ"),
        EventType(SPODES, 2, 10, POWER, "Выключение локальное при воздействии магнитного поля",
                  True),
        EventType(SPODES, 2, 18, POWER,
                  "Выключение локальное при вскрытии клеммной крышки или корпуса", True),
        EventType(SPODES, 3, 3, DATA_CORRECTION, "Установка времени", True),
        EventType(SPODES, 3, 68, DATA_CORRECTION, "Коррекция времени", True),
        EventType(SPODES, 4, 1, TAMPER, "Воздействие магнитного поля — начало", True),
        EventType(SPODES, 4, 2, TAMPER, "Воздействие магнитного поля — окончание"),
        EventType(SPODES, 4, 3, TAMPER, "Вскрытие пломбы крышки клеммной колодки", True),
        EventType(SPODES, 4, 4, TAMPER, "Срабатывание электронной пломбы корпуса", True),
        EventType(SPODES, 4, 5, TAMPER, "Срабатывание электронной пломбы внешнего датчика",
                  True),
        EventType(SPODES, 4, 6, TAMPER, "Воздействие ВЧ поля — начало", True),
        EventType(SPODES, 4, 7, TAMPER, "Воздействие ВЧ поля — окончание"),
        EventType(SPODES, 5, 1, COMMUNICATION, "Разорвано соединение"),
        EventType(SPODES, 5, 2, COMMUNICATION, "Установлено соединение"),
        EventType(SPODES, 6, 1, ACCESS, "Попытка несанкционированного доступа", True),
        EventType(SPODES, 6, 2, ACCESS, "Нарушение требований протокола"),
        EventType(SPODES, 6, 3, ACCESS,
                  "Блокировка по превышению количества неправильных паролей", True),
        EventType(SPODES, 7, 1, SELF_DIAGNOSTICS, "Инициализация ПУ"),
    ]
    return s


register_events(_mercury())
register_events(_spodes())
