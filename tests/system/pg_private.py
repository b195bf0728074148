"""A throw-away PostgreSQL 15 cluster with TimescaleDB for tests that stop and start the server.

The shared local instance (``deploy/local/services.sh``) serves every other test and must never
be restarted; this one is created with ``initdb`` in a temporary directory, listens on a free
loopback port and is removed afterwards. It is set up as ``services.sh`` sets up the shared one:
the same binaries, ``initdb -A trust -U postgres``, ``shared_preload_libraries = timescaledb``.
PostgreSQL refuses to run as root, so under root the cluster runs as the ``postgres`` user
(``runuser``) in a directory of the system's temporary folder that it owns: pytest's own
``tmp_path`` lies under a directory only root may enter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import psycopg

from core.localenv import free_port

__all__ = ["PG_BIN", "PrivatePostgres"]

#: Where Debian's PostgreSQL 15 keeps its programs (as in ``deploy/local/services.sh``).
PG_BIN = Path("/usr/lib/postgresql/15/bin")
_HOST = "127.0.0.1"
_SERVICE_USER = "postgres"


class PrivatePostgres:
    """``with PrivatePostgres() as pg:`` → initialised and running; ``stop()`` / ``start()``
    take it down and bring it back on the same port; leaving the block stops and removes it."""

    def __init__(self) -> None:
        self.port = free_port(_HOST)
        self._user = _SERVICE_USER if os.geteuid() == 0 else None
        self._base = Path(tempfile.mkdtemp(prefix="isu-pg-"))
        self._data = self._base / "data"
        self.log_path = self._base / "postgresql.log"

    def __enter__(self) -> PrivatePostgres:
        try:
            if self._user is not None:
                shutil.chown(self._base, user=self._user)
            self._pg("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres",
                     "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@{_HOST}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create ``name`` and return its DSN (the migrations create the TimescaleDB extension)."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def start(self) -> None:
        # fsync off: the cluster is thrown away, and a fast stop is a clean shutdown anyway.
        options = (f"-p {self.port} -k {self._base} -c listen_addresses={_HOST}"
                   " -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"
                   " -c fsync=off -c max_connections=50")
        self._pg("pg_ctl", "-D", str(self._data), "-l", str(self.log_path), "-w", "-t", "60",
                 "-o", options, "start")

    def stop(self) -> None:
        """A fast shutdown: open sessions are terminated, as when the server is restarted."""
        self._pg("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        done = self._pg("pg_ctl", "-D", str(self._data), "status", check=False)
        return done.returncode == 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        try:
            if (self._data / "postmaster.pid").exists() and self.running():
                self._pg("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop",
                         check=False)
        finally:
            shutil.rmtree(self._base, ignore_errors=True)

    def _pg(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(PG_BIN / program), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=90,
                              check=False)
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args[-1:])} failed ({done.returncode}): "
                f"{done.stdout}{done.stderr}\n{self.log_tail()}"
            )
        return done
