"""``isu mqtt-user``: Mosquitto password-file lines made with hashlib, the file kept whole.

The real broker accepting these hashes is tested in tests/integration/test_broker_security.py.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from isu.cli import main
from isu.mqtt_users import ITERATIONS, PasswordFile, hash_password, verify_password

#: `mosquitto_passwd -b pw.txt alice secret` (Mosquitto 2.0.11, Debian 12): the default form.
MOSQUITTO_PBKDF2_LINE = (
    "alice:$7$101$UsT09lwikBKi6uAU$PqOJkS1EQB87YB/LSxM64R353xtxZdS4VMXuPUNJ5yiybbW9C+kVWrUoYV7n"
    "SY4RXnCBNIe8FJhGLeNRUEl6+A=="
)
#: `mosquitto_passwd -H sha512 -b pw.txt bob secret` (the same version): Mosquitto 1.x's form.
MOSQUITTO_SHA512_LINE = (
    "bob:$6$mR8qBKPwGJCbuY1r$u3YVIzMmdEq3PIZj47b5q9SpnFIm8MlzHJujyO3/ZmGAXUVuu3XeuVYPsRgCkVh1SGNF"
    "uWXxh1DGWu7qE3+gHA=="
)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["mqtt-user", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_hash_is_mosquitto_passwds_for_the_same_salt() -> None:
    _name, _, encoded = MOSQUITTO_PBKDF2_LINE.partition(":")
    salt = base64.b64decode(encoded.split("$")[3])
    assert hash_password("secret", salt=salt, iterations=101) == encoded
    assert verify_password("secret", encoded)
    assert not verify_password("Secret", encoded)


def test_both_forms_mosquitto_writes_are_verified() -> None:
    encoded = MOSQUITTO_SHA512_LINE.partition(":")[2]
    assert verify_password("secret", encoded)
    assert not verify_password("secret2", encoded)
    for broken in ("", "plain", "$7$x$AAAA$AAAA", "$7$101$!!$AAAA", "$5$abc$def"):
        assert not verify_password("secret", broken)


def test_a_new_hash_has_the_pbkdf2_form_and_a_fresh_salt() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second
    _, scheme, rounds, salt, key = first.split("$")
    assert (scheme, int(rounds)) == ("7", ITERATIONS)
    assert (len(base64.b64decode(salt)), len(base64.b64decode(key))) == (12, 64)
    assert verify_password("pw", first)
    assert verify_password("pw", second)


def test_the_real_mosquitto_passwd_agrees_both_ways(tmp_path: Path) -> None:
    """mosquitto_passwd's line verifies here and hashes the same; it keeps our lines."""
    path = tmp_path / "passwd"
    path.write_text(f"ours:{hash_password('our password')}\n", encoding="utf-8")
    subprocess.run([MOSQUITTO_PASSWD, "-b", str(path), "theirs", "their pässword"], check=True)
    users = dict(PasswordFile.load(path).users())
    assert set(users) == {"ours", "theirs"}
    assert verify_password("our password", users["ours"])
    theirs = users["theirs"]
    assert verify_password("their pässword", theirs)
    _, _, rounds, salt, _ = theirs.split("$")
    assert (
        hash_password("their pässword", salt=base64.b64decode(salt), iterations=int(rounds))
        == theirs
    )


def test_create_prints_a_generated_password_once_and_stores_only_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "passwd"
    caplog.set_level(logging.DEBUG)
    code, out, err = run(capsys, "create", "--password-file", str(path), "site-01")
    assert code == 0
    password = out.strip()
    assert out == password + "\n"
    assert len(password) == 43
    assert password not in err
    assert password not in caplog.text
    text = path.read_text(encoding="utf-8")
    assert password not in text
    assert text.startswith("site-01:$7$")
    assert text.count("\n") == 1
    assert verify_password(password, PasswordFile.load(path).users()[0][1])
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["passwd"]  # no temporary file left


def test_create_refuses_an_existing_user_unless_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "passwd"
    path.write_text(
        f"# the broker's users\n{MOSQUITTO_PBKDF2_LINE}\n{MOSQUITTO_SHA512_LINE}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    before = path.read_text(encoding="utf-8")
    code, out, err = run(capsys, "create", "--password-file", str(path), "alice")
    assert (code, out) == (2, "")
    assert "--update" in err
    assert path.read_text(encoding="utf-8") == before

    code, out, _ = run(capsys, "create", "--password-file", str(path), "--update", "alice")
    assert code == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# the broker's users"
    assert lines[2] == MOSQUITTO_SHA512_LINE
    assert lines[1].startswith("alice:$7$")
    assert lines[1] != MOSQUITTO_PBKDF2_LINE
    assert verify_password(out.strip(), lines[1].partition(":")[2])
    assert path.stat().st_mode & 0o777 == 0o600  # the file's own mode is kept


def test_password_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "passwd"
    monkeypatch.setattr(sys, "stdin", io.StringIO("chosen: by a person\n"))
    code, out, _ = run(
        capsys, "create", "--password-file", str(path), "isu-gateway", "--password-stdin"
    )
    assert (code, out) == (0, "")
    assert verify_password("chosen: by a person", PasswordFile.load(path).users()[0][1])

    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    code, _, err = run(capsys, "create", "--password-file", str(path), "c2", "--password-stdin")
    assert code == 2
    assert "no password" in err
    assert [name for name, _ in PasswordFile.load(path).users()] == ["isu-gateway"]


@pytest.mark.parametrize("name", ["a/b", "+", "#", "site 1", "", "x" * 65, "сайт", "a:b"])
def test_names_outside_the_identifier_alphabet_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / "passwd"
    code, out, err = run(capsys, "create", "--password-file", str(path), name)
    assert (code, out) == (2, "")
    assert "A-Z a-z 0-9" in err
    assert not path.exists()


def test_delete_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "passwd"
    path.write_text(f"{MOSQUITTO_PBKDF2_LINE}\n{MOSQUITTO_SHA512_LINE}\n", encoding="utf-8")
    code, out, _ = run(capsys, "list", "--password-file", str(path))
    assert code == 0
    assert out.splitlines() == [
        "alice\tsha512-pbkdf2 (101 iterations)",
        "bob\tsha512 (Mosquitto 1.x)",
    ]
    assert run(capsys, "delete", "--password-file", str(path), "alice")[0] == 0
    assert path.read_text(encoding="utf-8") == MOSQUITTO_SHA512_LINE + "\n"
    code, _, err = run(capsys, "delete", "--password-file", str(path), "alice")
    assert code == 2
    assert "no user 'alice'" in err
    code, _, err = run(capsys, "list", "--password-file", str(tmp_path / "missing"))
    assert code == 2
    assert "no such password file" in err


def test_an_unwritable_folder_is_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "create", "--password-file", str(tmp_path / "no" / "passwd"), "c1")
    assert (code, out) == (1, "")
    assert err.startswith("isu mqtt-user: ")


def test_the_command_loads_none_of_the_services() -> None:
    probe = (
        "import json, sys; from isu.cli import build_parser; "
        "build_parser(sys.argv[1:]).parse_args(sys.argv[1:]); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "mqtt-user", "list", "--password-file", "p"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(done.stdout))
    assert "isu" in loaded
    assert not loaded & {
        "api",
        "collector",
        "drivers",
        "gateway",
        "simulators",
        "timeseries",
        "paho",
        "psycopg",
    }
