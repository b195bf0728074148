"""A gateway's housekeeping in the background: a daemon thread that runs one round after a
first delay, then every period, until stopped (retention, the verification watch)."""

from __future__ import annotations

import threading

__all__ = ["PeriodicWorker"]


class PeriodicWorker:
    """Subclasses give :meth:`run_once`, ``thread_name``, :meth:`first_delay_s` and
    :meth:`every_s`; :meth:`start` returns at once, :meth:`stop` waits for the round under
    way (up to 30 s)."""

    thread_name = "isu-gateway-worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> object:
        raise NotImplementedError

    def first_delay_s(self) -> float:
        return 0.0

    def every_s(self) -> float:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30.0)
            self._thread = None

    def _run(self) -> None:
        delay = self.first_delay_s()
        if delay <= 0:
            self.run_once()
        while not self._stop.wait(delay if delay > 0 else self.every_s()):
            self.run_once()
            delay = 0.0
