"""The event catalogue: what a journal entry of any protocol means (DESIGN §3).

One catalogue maps ``(family, journal, code)`` to an :class:`EventType`: its kind, its Russian
text, whether it is critical and the phase when the entry names one. Kinds follow the SPODES
journal split (GOST R 58940-2020, docs/reference/dlms-spodes.md §1.8), so that a Mercury event
and a SPODES event of the same nature land in the same kind. Criticality follows the proposal
of dlms-spodes.md §1.8 ("Critical vs non-critical"): tampering, bypass signs, clearing and
reprogramming are critical; ends, power on/off and quality deviations are not.

Families: ``mercury230`` (journal = the 04 JJ number, code 1 = the record's first stamp, code 2
= its second: on/off, before/after, start/end, opened/closed) and ``spodes`` (journal = N of
0.0.99.98.N.255, code = the value of 0.0.96.11.N.255; every code of journals 0–8 the notes
list, transcribed in :mod:`core.events_spodes`). A driver of another family calls
:func:`register_events` once at import; :func:`describe` never fails, so an unknown code still
becomes an event (kind «Прочие события»).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.events_spodes import CRITICAL as SPODES_CRITICAL
from core.events_spodes import JOURNALS as SPODES_JOURNALS

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


# --- SPODES family: journals 0.0.99.98.N.255, codes in core/events_spodes.py ----------------

#: Each journal's kind: the kinds follow the SPODES journal split (N=8, tg φ, is power quality).
_SPODES_KINDS = {
    0: VOLTAGE, 1: CURRENT, 2: POWER, 3: DATA_CORRECTION, 4: TAMPER, 5: COMMUNICATION,
    6: ACCESS, 7: SELF_DIAGNOSTICS, 8: POWER_QUALITY,
}  # fmt: skip
#: Entries whose nature is another kind's, so that they land with their Mercury peers: relay
#: switching because of the power or energy limits (N=2: 8 and 19 off, 20 back on; the other
#: protective trips stay «События питания») and the entries that move the clock (N=3: set,
#: set by GPS/ГЛОНАСС, corrected), as Mercury's journal 02.
_SPODES_KIND_EXCEPTIONS = {
    (2, 8): LIMITS, (2, 19): LIMITS, (2, 20): LIMITS,
    (3, 3): TIME_CORRECTION, (3, 63): TIME_CORRECTION, (3, 68): TIME_CORRECTION,
}  # fmt: skip


def _spodes() -> list[EventType]:
    return [
        EventType(SPODES, journal, code,
                  _SPODES_KIND_EXCEPTIONS.get((journal, code), _SPODES_KINDS[journal]),
                  text, code in SPODES_CRITICAL.get(journal, ()), phase)
        for journal, rows in SPODES_JOURNALS.items()
        for code, text, phase in rows
    ]


register_events(_mercury())
register_events(_spodes())
