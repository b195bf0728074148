"""The event catalogue (core/events.py)."""

from __future__ import annotations

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
