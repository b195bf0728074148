"""The event catalogue (core/events.py)."""

from __future__ import annotations

import re

import pytest

from core import events
from core.events import (
    EVENT_KINDS,
    MERCURY230,
    SPODES,
    EventType,
    catalogue,
    describe,
    event_kind,
    journal_name,
    lookup,
    register_events,
)


def test_kind_ids_are_unique_and_stable() -> None:
    ids = [kind.id for kind in EVENT_KINDS]
    assert len(ids) == len(set(ids))
    assert event_kind("power").name == "События питания"
    assert event_kind("tamper").name == "Внешние воздействия"
    assert event_kind("time_correction").name == "Коррекция времени"
    with pytest.raises(KeyError):
        event_kind("nope")


@pytest.mark.parametrize(
    ("journal", "code", "kind", "text", "critical", "phase"),
    [
        (0x01, 1, "power", "Включение ПУ", False, None),
        (0x01, 2, "power", "Выключение ПУ", False, None),
        (0x02, 1, "time_correction", "Коррекция времени: время до коррекции", True, None),
        (0x04, 2, "voltage", "Фаза B — выключение (пропадание напряжения)", False, 2),
        (0x12, 1, "tamper", "Вскрытие крышки клеммной колодки", True, None),
        (0x12, 2, "tamper", "Закрытие крышки клеммной колодки", False, None),
        (0x1A, 1, "tamper", "Воздействие магнитного поля — начало", True, None),
        (0x13, 1, "data_correction", "Перепрограммирование параметров ПУ", True, None),
        (0x0D, 1, "limits", "Превышение лимита энергии по тарифу 3 — начало", False, None),
        (0x82, 1, "current", "Фаза C — обратное направление тока, начало", True, 3),
        (0x18, 2, "current", "Фаза B — выключение тока", False, 2),
    ],
)
def test_mercury_entries(journal: int, code: int, kind: str, text: str, critical: bool,
                         phase: int | None) -> None:
    entry = lookup(MERCURY230, journal, code)
    assert entry is not None
    assert (entry.kind.id, entry.text, entry.critical, entry.phase) == (kind, text, critical, phase)


def test_spodes_entries_share_the_kinds() -> None:
    cover = lookup(SPODES, 4, 3)
    assert cover is not None
    assert cover.kind is event_kind("tamper")
    assert cover.critical
    assert cover.text == "Вскрытие пломбы крышки клеммной колодки"
    assert lookup(SPODES, 2, 2) is not None


# --- the SPODES journals, written out again from dlms-spodes.md §1.8 -------------------------

#: Every code the notes list, journal N → codes.
SPODES_CODES: dict[int, set[int]] = {
    0: set(range(1, 29)),
    1: set(range(1, 39)),
    2: set(range(1, 30)),
    3: set(range(1, 151)) | {1024},
    4: set(range(1, 8)),
    5: {1, 2},
    6: {1, 2, 3, 4},
    7: set(range(1, 20)),
    8: {1, 2},
}

#: The notes' "Critical vs non-critical" proposal, code by code.
SPODES_CRITICAL = (
    {(0, 25)}
    | {(1, c) for c in (1, 3, 5, 7, 9, 11, 15, 19, 21, 23, 31, 33, 37)}
    | {(2, 10), (2, 18)}
    | {(3, c) for c in (35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 80)}
    | {(3, c) for c in range(117, 135)} | {(3, 144)}
    | {(3, c) for c in (13, 14, 53, 54, 55, 56, 57, 58, 59, 60, 69, 65, 3, 63, 68)}
    | {(4, c) for c in (1, 3, 4, 5, 6)}
    | {(6, 1), (6, 3), (6, 4)}
    | {(7, c) for c in (2, 4, 5, 7, 9, 11, 13, 15, 17)}
)

#: Entries that name one phase: (journal, code) → 1 A, 2 B, 3 C.
SPODES_PHASES = {
    **{(0, c): (c + 1) // 2 for c in range(1, 7)},  # loss / return
    **{(0, c): (c - 11) // 2 for c in range(13, 19)},  # overvoltage
    **{(0, c): (c - 17) // 2 for c in range(19, 25)},  # dip
    **{(1, c): (c + 1) // 2 for c in range(1, 7)},  # export
    **{(1, c): (c - 5) // 2 for c in range(7, 13)},  # CT open / restored
    **{(1, c): (c - 17) // 2 for c in range(19, 25)},  # current without voltage
    **{(1, c): (c - 23) // 2 for c in range(25, 31)},  # over maximum current
    (3, 125): 1, (3, 126): 2, (3, 127): 3,  # clearing a phase's deviation journal
}  # fmt: skip

_JOURNAL_KINDS = {0: "voltage", 1: "current", 2: "power", 3: "data_correction", 4: "tamper",
                  5: "communication", 6: "access", 7: "self_diagnostics", 8: "power_quality"}
_KIND_EXCEPTIONS = {(2, 8): "limits", (2, 19): "limits", (2, 20): "limits",
                    (3, 3): "time_correction", (3, 63): "time_correction",
                    (3, 68): "time_correction"}


def test_every_spodes_code_of_the_notes_is_catalogued() -> None:
    listed = {(e.journal, e.code) for e in catalogue(SPODES)}
    assert listed == {(n, c) for n, codes in SPODES_CODES.items() for c in codes}
    assert len(listed) == 280


def test_spodes_kinds_follow_the_journals() -> None:
    for entry in catalogue(SPODES):
        key = (entry.journal, entry.code)
        assert entry.kind.id == _KIND_EXCEPTIONS.get(key, _JOURNAL_KINDS[entry.journal]), entry


def test_spodes_criticality_is_the_proposal_exactly() -> None:
    assert {(e.journal, e.code) for e in catalogue(SPODES) if e.critical} == SPODES_CRITICAL


def test_spodes_phases() -> None:
    assert {(e.journal, e.code): e.phase for e in catalogue(SPODES)
            if e.phase is not None} == SPODES_PHASES
    named = re.compile(r"[Фф]аз[аы] ([ABC])(?![A-Z])")
    for entry in catalogue(SPODES):
        found = named.search(entry.text)
        assert entry.phase == (None if found is None else " ABC".index(found[1])), entry


def test_spodes_texts_are_real_and_distinct() -> None:
    texts = [entry.text for entry in catalogue(SPODES)]
    assert all(text.strip() for text in texts)
    assert not [text for text in texts if "Неизвестное" in text]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    ("journal", "code", "text"),
    [
        (0, 26, "Неправильная последовательность фаз — окончание"),
        (1, 8, "Восстановление трансформатора тока фазы A"),
        (1, 31, "Наличие тока при отсутствии напряжения (обрыв нейтрали) — начало"),
        (1, 32, "Наличие тока при отсутствии напряжения (обрыв нейтрали) — окончание"),
        (2, 29, "Полное пропадание питания ПУ"),
        (3, 65, "Обновление ПО"),
        (3, 101, "Изменение настроек реле нагрузки и реле сигнализации 1–4: арбитр, фильтр, "
                 "управление (код 101)"),
        (3, 144, "Очистка фиксации событий воздействия магнитного и/или ВЧ поля"),
        (3, 1024, "КПЗ. Изменение конфигурации ПУ"),
        (4, 1, "Воздействие магнитного поля — начало"),
        (6, 4, "Ошибка верификации прошивки"),
        (7, 19, "Вычислительный блок — норма"),
        (8, 1, "Превышение установленного порога tg φ — начало"),
    ],
)
def test_spodes_texts(journal: int, code: int, text: str) -> None:
    assert describe(SPODES, journal, code).text == text


def test_spodes_codes_outside_the_notes_stay_unknown() -> None:
    for journal, code in ((3, 151), (1, 39), (9, 1)):
        entry = describe(SPODES, journal, code)
        assert entry.kind.id == "other"
        assert entry.text == f"Неизвестное событие: журнал {journal}, код {code}"


def test_unknown_code_is_described_not_refused() -> None:
    entry = describe(MERCURY230, 0x77, 9)
    assert entry.kind.id == "other"
    assert not entry.critical
    assert "код 9" in entry.text


def test_register_extends_and_catalogue_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "_CATALOGUE", dict(events._CATALOGUE))
    register_events([EventType(SPODES, 7, 2, event_kind("self_diagnostics"),
                               "Измерительный блок — ошибка", True)])
    assert describe(SPODES, 7, 2).critical
    listed = catalogue(SPODES)
    assert all(entry.family == SPODES for entry in listed)
    assert listed == sorted(listed, key=lambda e: (e.journal, e.code))


def test_journal_names() -> None:
    assert journal_name(MERCURY230, 1) == "mercury230:01"
    assert journal_name(MERCURY230, 0x1A) == "mercury230:1A"
    assert journal_name(SPODES, 4) == "spodes:4"


def test_bad_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="phase"):
        EventType(MERCURY230, 1, 1, event_kind("power"), "x", phase=4)
    with pytest.raises(ValueError, match="text"):
        EventType(MERCURY230, 1, 1, event_kind("power"), "")


def test_docs_table_lists_every_entry() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[3] / "docs" / "events.md").read_text(encoding="utf-8")
    # Other drivers (mercury200, …) register and document their own families.
    for entry in catalogue(MERCURY230) + catalogue(SPODES):
        assert f"| {entry.text} |" in text, entry
