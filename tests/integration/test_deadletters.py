"""``isu deadletter list|replay`` against the real TimescaleDB, with dead letters made the way
the gateway makes them (``classify`` at the time of receipt, then ``Store.write``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from core.messages import ReadingsMessage, build_message, data_topic
from core.model import EventItem, ReadingItem, Stream, utc_now
from gateway.batching import Delivery, classify
from gateway.deadletters import list_dead_letters
from isu.cli import main
from timeseries.rows import DeadLetter
from timeseries.store import Store

# The letters were received two days ago, and their readings lie one day ago: then, that was
# a day in the future; now it is the past.
RECEIVED_AT = utc_now().replace(microsecond=0) - timedelta(days=2)
READ_TS = RECEIVED_AT + timedelta(days=1)


class Letters:
    """Dead letters made as the gateway makes them: ``classify`` at the time of receipt, then
    ``Store.write``."""

    def __init__(self, store: Store, dsn: str) -> None:
        self.store = store
        self.dsn = dsn

    def __call__(self, message: ReadingsMessage, received_at: datetime = RECEIVED_AT) -> int:
        topic = data_topic(message.collector, message.meter, message.stream)
        payload = message.to_json()
        plan = classify([Delivery(topic, payload, 1, 1, 1, received_at, 0.0)])
        assert plan.accepted == []
        self.store.write([], plan.dead_letters)
        [letter] = [letter for letter in list_dead_letters(self.dsn)
                    if (letter.topic, letter.payload) == (topic, payload)]
        return letter.id


@pytest.fixture
def dead_letter(fresh_database: str) -> Iterator[Letters]:
    with Store(fresh_database, pool_max_size=1) as store:
        yield Letters(store, fresh_database)


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    # `isu` points the root logger at the standard error of the moment, which capsys swaps.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def config_file(fresh_database: str, tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[database]\ndsn = "{fresh_database}"\n', encoding="utf-8")
    return path


def query(dsn: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def daily(meter: str, value: str, ts: datetime = READ_TS) -> ReadingsMessage:
    item = ReadingItem(obis="1.0.1.8.0.255", ts=ts, value=Decimal(value), unit="kWh")
    return build_message("c1", meter, Stream.DAILY, [item], ts)


def isu(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["deadletter", *argv])
    return code, capsys.readouterr().out.splitlines()


def test_list_shows_every_column_and_filters(
    dead_letter: Letters, fresh_database: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    future = dead_letter(daily("m1", "1"))
    negative = dead_letter(daily("m2", "-1", ts=RECEIVED_AT))
    dead_letter.store.write([], [DeadLetter("isu/v1/c1/m3/daily", "payload is not UTF-8 JSON: x",
                                b"\xff junk", RECEIVED_AT + timedelta(hours=1))])

    code, lines = isu(capsys, "list", "--config", str(config_file))
    assert code == 0
    assert lines[0].split() == ["ID", "RECEIVED_AT", "DELIVERIES", "BYTES", "REPLAYED_AT",
                                "TOPIC", "REASON"]
    assert [line.split()[0] for line in lines[1:]] == [str(negative + 1), str(negative),
                                                       str(future)]  # newest first
    assert lines[1].split()[1:7] == [
        (RECEIVED_AT + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), "1", "6", "-",
        "isu/v1/c1/m3/daily", "payload"]

    code, lines = isu(capsys, "list", "--config", str(config_file), "--reason", "NEGATIVE")
    assert (code, [line.split()[0] for line in lines[1:]]) == (0, [str(negative)])
    assert "items.0.value: negative energy -1 kWh on 1.0.1.8.0.255" in lines[1]

    code, lines = isu(capsys, "list", "--config", str(config_file), "--since",
                      (RECEIVED_AT + timedelta(minutes=1)).isoformat(), "--json")
    [letter] = [json.loads(line) for line in lines]
    assert letter["id"] == negative + 1
    assert letter["payload_base64"] == "/yBqdW5r"
    assert (letter["deliveries"], letter["payload_bytes"], letter["replayed_at"]) == (1, 6, None)

    code, lines = isu(capsys, "list", "--config", str(config_file), "--limit", "1", "--json",
                      "--reason", "in the future")
    [letter] = [json.loads(line) for line in lines]
    assert letter["id"] == future
    assert letter["reason"].startswith("read_at ")
    assert json.loads(letter["payload"])["meter"] == "m1"

    code, lines = isu(capsys, "list", "--config", str(config_file), "--reason", "100%_x")
    assert (code, lines) == (0, [])  # LIKE wildcards are matched literally


def test_a_letter_that_now_passes_is_stored_and_marked_in_one_go(
    dead_letter: Letters, fresh_database: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = daily("m1", "12.5")
    letter = dead_letter(message)
    [(reason,)] = query(fresh_database, "SELECT reason FROM dead_letters")
    assert "is in the future" in str(reason)

    code, lines = isu(capsys, "replay", "--config", str(config_file), "--id", str(letter))
    assert (code, lines) == (0, [f"{letter}: stored", "1 letter(s): 1 stored"])
    assert query(fresh_database, "SELECT meter_id, value, message_id FROM register_readings") == [
        ("m1", Decimal("12.5"), message.id)]
    assert query(fresh_database, "SELECT registered FROM meters") == [(False,)]  # unassigned
    [(replayed_at, still)] = query(fresh_database, "SELECT replayed_at, reason FROM dead_letters")
    assert isinstance(replayed_at, datetime)
    assert still == reason  # the letter keeps the reason it had when it was dead-lettered

    code, lines = isu(capsys, "replay", "--config", str(config_file), "--id", str(letter))
    assert (code, lines[0]) == (0, f"{letter}: already replayed")
    code, lines = isu(capsys, "replay", "--config", str(config_file), "--all")
    assert (code, lines) == (0, ["no dead letters to replay"])
    assert query(fresh_database, "SELECT count(*) FROM register_readings") == [(1,)]


def test_a_letter_still_bad_stays_with_the_current_reason(
    dead_letter: Letters, fresh_database: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = daily("m1", "-3", ts=RECEIVED_AT)
    topic = data_topic("c1", "m1", Stream.DAILY)
    dead_letter.store.write([], [DeadLetter(topic, "an older rule set's verdict", bad.to_json(),
                                RECEIVED_AT)])
    [(letter,)] = query(fresh_database, "SELECT id FROM dead_letters")

    code, lines = isu(capsys, "replay", "--config", str(config_file), "--id", str(letter), "99")
    reason = ("items.0.value: negative energy -3 kWh on 1.0.1.8.0.255 (an energy register or"
              " interval energy cannot be negative)")
    assert code == 1
    assert lines == [f"{letter}: still bad (negative_energy): {reason}", "99: not found",
                     "2 letter(s): 1 still bad, 1 not found"]
    assert query(fresh_database, "SELECT reason, replayed_at FROM dead_letters") == [
        (reason, None)]
    assert query(fresh_database, "SELECT count(*) FROM register_readings") == [(0,)]


def test_a_dry_run_writes_nothing(
    dead_letter: Letters, fresh_database: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = dead_letter(daily("m1", "1"))
    bad = dead_letter(daily("m2", "-1", ts=RECEIVED_AT))
    before = query(fresh_database, "SELECT id, reason, replayed_at FROM dead_letters ORDER BY id")

    code, lines = isu(capsys, "replay", "--config", str(config_file), "--all", "--dry-run")
    assert code == 1
    assert lines[0] == f"{good}: would be stored"
    assert lines[1].startswith(f"{bad}: still bad (negative_energy): items.0.value: negative")
    assert lines[2] == "dry run: 2 letter(s): 1 would be stored, 1 still bad"
    assert query(fresh_database, "SELECT id, reason, replayed_at FROM dead_letters"
                 " ORDER BY id") == before
    assert query(fresh_database, "SELECT count(*) FROM register_readings") == [(0,)]


def test_replay_all_stores_what_passes_and_finds_what_the_database_refuses(
    dead_letter: Letters, fresh_database: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passing = [dead_letter(daily(f"m{n}", str(n))) for n in range(3)]
    too_big = build_message("c1", "m9", Stream.EVENTS, [
        EventItem(ts=READ_TS, journal="j", code=2**31, kind="k", text="t", critical=False)],
        READ_TS)
    refused = dead_letter(too_big)  # in the future then; the database refuses it now

    code, lines = isu(capsys, "replay", "--config", str(config_file), "--all")
    assert code == 1
    assert lines[:3] == [f"{letter}: stored" for letter in passing]
    assert lines[3].startswith(f"{refused}: still bad (database): refused by the database: "
                               "NumericValueOutOfRange")
    assert query(fresh_database, "SELECT count(*) FROM register_readings") == [(3,)]
    assert query(fresh_database, "SELECT id FROM dead_letters WHERE replayed_at IS NULL") == [
        (refused,)]

    code, lines = isu(capsys, "replay", "--config", str(config_file), "--all")
    assert code == 1
    assert lines[-1] == "1 letter(s): 1 still bad"


def test_a_failed_write_marks_nothing(
    dead_letter: Letters, fresh_database: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    letter = dead_letter(daily("m1", "1"))
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE register_readings RENAME TO register_readings_away")

    assert main(["deadletter", "replay", "--config", str(config_file), "--id", str(letter)]) == 1
    assert "register_readings" in capsys.readouterr().err
    assert query(fresh_database, "SELECT replayed_at FROM dead_letters") == [(None,)]
    assert query(fresh_database, "SELECT count(*) FROM meters") == [(0,)]  # rolled back


def test_an_unreachable_database_is_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[database]\ndsn = "postgresql://u@127.0.0.1:1/none"\ntimeout_s = 1\n',
                      encoding="utf-8")
    assert main(["deadletter", "list", "--config", str(config)]) == 1
    assert main(["deadletter", "replay", "--config", str(config), "--all"]) == 1
    assert "127.0.0.1:1/none" in capsys.readouterr().err


def test_replay_applies_the_configured_future_limit(
    dead_letter: Letters, fresh_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = utc_now() + timedelta(minutes=10)
    letter = dead_letter(daily("m1", "1", ts=soon), received_at=utc_now())
    config = tmp_path / "gateway.toml"
    config.write_text(f'[database]\ndsn = "{fresh_database}"\n', encoding="utf-8")
    code, lines = isu(capsys, "replay", "--config", str(config), "--id", str(letter))
    assert code == 1
    assert lines[0].startswith(f"{letter}: still bad (future_time): read_at ")

    config.write_text(f'[database]\ndsn = "{fresh_database}"\n[validation]\n'
                      "max_future_s = 3600\n", encoding="utf-8")
    code, lines = isu(capsys, "replay", "--config", str(config), "--id", str(letter))
    assert (code, lines[0]) == (0, f"{letter}: stored")
    assert soon > datetime.now(UTC)  # it really was stored while still ahead of the clock
