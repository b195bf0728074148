"""``isu mqtt-user create|delete|list``: users in Mosquitto's password file (DESIGN §4).

One user per collector, named by its ``collector_id``, and one for the gateway
(``isu-gateway``); the broker's ACL (``deploy/mosquitto/acl``) gives each its topics. The file
is the one ``password_file`` names in ``mosquitto.conf``; Mosquitto re-reads it on SIGHUP
(``systemctl reload mosquitto``). docs/broker.md has the procedures::

    isu mqtt-user create --password-file /etc/mosquitto/isu/passwd site-01 > site-01.password
    isu mqtt-user create --password-file /etc/mosquitto/isu/passwd --update site-01 > new.password
    isu mqtt-user create --password-file /etc/mosquitto/isu/passwd isu-gateway --password-stdin
    isu mqtt-user delete --password-file /etc/mosquitto/isu/passwd site-01
    isu mqtt-user list --password-file /etc/mosquitto/isu/passwd

A line is ``name:$7$<iterations>$<salt>$<hash>``, what ``mosquitto_passwd`` 2.x writes by
default: PBKDF2-HMAC-SHA512 over the UTF-8 password, a 12-byte random salt, a 64-byte key,
salt and key in standard base64. It is made here with :mod:`hashlib`, so credentials can be
made where Mosquitto is not installed. A generated password (32 random bytes, URL-safe base64)
is printed once on standard output and nowhere else; nothing here logs a password.

The file is rewritten atomically (a temporary file in the same folder, then a rename), keeping
the other users' lines, comments, and the file's mode and owner. Exit status: 0 done, 1 the
file cannot be read or written, 2 the arguments cannot be used (a bad name, an existing user
without ``--update``, an unknown user); nothing is written then.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import getpass
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from core.errors import ConfigError
from core.model import ID_PATTERN

__all__ = [
    "ITERATIONS",
    "PasswordFile",
    "add_mqtt_user_arguments",
    "check_name",
    "hash_password",
    "new_password",
    "run_mqtt_user",
    "verify_password",
]

logger = logging.getLogger(__name__)

#: PBKDF2 rounds. ``mosquitto_passwd`` 2.0 uses 101; ten times that still costs the broker
#: about a millisecond per CONNECT, so a thousand collectors reconnecting at once after a
#: restart cost it a second. Generated passwords carry 256 random bits and need no stretching;
#: the rounds are for passwords chosen by people.
ITERATIONS = 1000
_SALT_BYTES = 12  # as mosquitto_passwd
_KEY_BYTES = 64  # the SHA-512 digest size
_NAME = re.compile(ID_PATTERN)
#: A new file: its owner writes, its group (its folder's: make that Mosquitto's) reads.
_NEW_FILE_MODE = 0o640


def new_password() -> str:
    """32 random bytes, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` (PBKDF2-SHA512) form Mosquitto 2.x reads; a random salt unless given."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _KEY_BYTES)
    return f"$7${iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``: ``$7$`` (PBKDF2-SHA512) or ``$6$`` (salted
    SHA-512, Mosquitto 1.x), as Mosquitto checks them. Other forms never match."""
    fields = encoded.split("$")
    try:
        if len(fields) == 5 and fields[1] == "7" and fields[2].isdigit():
            salt, expected = base64.b64decode(fields[3]), base64.b64decode(fields[4])
            actual = hashlib.pbkdf2_hmac(
                "sha512", password.encode("utf-8"), salt, int(fields[2]), len(expected)
            )
        elif len(fields) == 4 and fields[1] == "6":
            salt, expected = base64.b64decode(fields[2]), base64.b64decode(fields[3])
            actual = hashlib.sha512(password.encode("utf-8") + salt).digest()
        else:
            return False
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(actual, expected)


def _scheme(encoded: str) -> str:
    fields = encoded.split("$")
    if len(fields) == 5 and fields[1] == "7":
        return f"sha512-pbkdf2 ({fields[2]} iterations)"
    if len(fields) == 4 and fields[1] == "6":
        return "sha512 (Mosquitto 1.x)"
    return "unknown"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"user name {name!r}: use 1 to 64 of A-Z a-z 0-9 . _ - (a collector's id, DESIGN §2)"
        )
    return name


@dataclass(slots=True)
class PasswordFile:
    """The lines of a Mosquitto password file, in order; ``user:hash`` lines are parsed, the
    rest (comments, blank lines) kept as they are."""

    path: Path
    lines: list[str]

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = False) -> PasswordFile:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return cls(path, [])
            raise ConfigError(f"{path}: no such password file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise OSError(f"{path} cannot be read: {exc}") from exc
        return cls(path, text.splitlines())

    def _index(self, name: str) -> int | None:
        for index, line in enumerate(self.lines):
            found, sep, _ = line.partition(":")
            if sep and found == name and not line.startswith("#"):
                return index
        return None

    def users(self) -> list[tuple[str, str]]:
        """``(name, hash)`` of every user, in file order."""
        found: list[tuple[str, str]] = []
        for line in self.lines:
            name, sep, encoded = line.partition(":")
            if sep and name and not line.startswith("#"):
                found.append((name, encoded.strip()))
        return found

    def has(self, name: str) -> bool:
        return self._index(name) is not None

    def set(self, name: str, encoded: str) -> None:
        """Add ``name``, or replace its hash where it stands."""
        line = f"{check_name(name)}:{encoded}"
        index = self._index(name)
        if index is None:
            self.lines.append(line)
        else:
            self.lines[index] = line

    def remove(self, name: str) -> None:
        index = self._index(name)
        if index is None:
            raise ConfigError(f"{self.path}: no user {name!r}")
        del self.lines[index]

    def save(self) -> None:
        """Replace the file atomically; its mode and owner stay, a new file gets mode 640 and
        its folder's group (make the folder Mosquitto's group so the broker can read it)."""
        folder = self.path.parent
        try:
            before: os.stat_result | None = self.path.stat()
        except FileNotFoundError:
            before = None
        text = "".join(f"{line}\n" for line in self.lines)
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            _take_over(Path(temporary), before, self.path)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _sync_folder(folder)


def _take_over(temporary: Path, before: os.stat_result | None, path: Path) -> None:
    """Give ``temporary`` the mode and owner of ``path``, the file it replaces (``before``)."""
    if before is None:
        os.chmod(temporary, _NEW_FILE_MODE)
        uid, gid = -1, path.parent.stat().st_gid
    else:
        os.chmod(temporary, stat.S_IMODE(before.st_mode))
        uid, gid = before.st_uid, before.st_gid
    current = temporary.stat()
    if (uid != -1 and uid != current.st_uid) or gid != current.st_gid:
        try:
            os.chown(temporary, uid, gid)
        except PermissionError:
            logger.warning(
                "%s could not keep owner %d group %d; check that Mosquitto can still read it",
                path,
                uid,
                gid,
            )


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_stdin_password(stream: TextIO) -> str:
    if stream.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ConfigError("--password-stdin: the two passwords differ")
        line = first
    else:
        line = stream.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password.removesuffix("\r")
    if not password:
        raise ConfigError("--password-stdin: standard input holds no password")
    if "\n" in password or "\r" in password:
        raise ConfigError("--password-stdin: the password must be one line")
    return password


def add_mqtt_user_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def password_file(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--password-file",
            required=True,
            type=Path,
            metavar="PATH",
            help="the broker's password file (mosquitto.conf password_file)",
        )

    create = actions.add_parser(
        "create", help="add a user; a generated password is printed once on standard output"
    )
    password_file(create)
    create.add_argument("name", help="the collector's id, or isu-gateway for the gateway")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of generating one",
    )
    create.add_argument(
        "--update", action="store_true", help="replace the password of an existing user"
    )

    delete = actions.add_parser("delete", help="remove a user")
    password_file(delete)
    delete.add_argument("name")

    listing = actions.add_parser("list", help="every user and the form of its hash")
    password_file(listing)


def _act(args: argparse.Namespace) -> int:
    path: Path = args.password_file
    if args.action == "list":
        for name, encoded in PasswordFile.load(path).users():
            print(f"{name}\t{_scheme(encoded)}")
        return 0
    name = check_name(args.name)
    if args.action == "delete":
        passwords = PasswordFile.load(path)
        passwords.remove(name)
        passwords.save()
        print(f"isu mqtt-user: deleted {name} from {path}; {_RELOAD}", file=sys.stderr)
        return 0
    passwords = PasswordFile.load(path, missing_ok=True)
    existed = passwords.has(name)
    if existed and not args.update:
        raise ConfigError(f"{path}: user {name!r} exists; give --update to replace its password")
    password = _read_stdin_password(sys.stdin) if args.password_stdin else new_password()
    passwords.set(name, hash_password(password))
    passwords.save()
    if not args.password_stdin:
        # The password alone on standard output, so that `… > site-01.password` works.
        print(password, flush=True)
    done = "updated" if existed else "created"
    shown = "" if args.password_stdin else "; the password is shown only now"
    print(f"isu mqtt-user: {done} {name} in {path}{shown}; {_RELOAD}", file=sys.stderr)
    return 0


_RELOAD = "reload Mosquitto to apply (systemctl reload mosquitto, or SIGHUP)"


def run_mqtt_user(args: argparse.Namespace) -> int:
    try:
        return _act(args)
    except ConfigError as exc:
        print(f"isu mqtt-user: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"isu mqtt-user: {exc}", file=sys.stderr)
        return 1
