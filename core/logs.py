"""Logging set-up shared by every ``isu`` command."""

from __future__ import annotations

import logging
import os

__all__ = ["TRACE", "configure_logging"]

#: Below DEBUG: raw frames and bytes on the wire.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")


def configure_logging(level: str | None = None) -> None:
    """Log to standard error at ``level`` (or ``$ISU_LOG_LEVEL``, default INFO)."""
    name = (level or os.environ.get("ISU_LOG_LEVEL") or "INFO").upper()
    numeric = TRACE if name == "TRACE" else logging.getLevelName(name)
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.basicConfig(
        level=numeric,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
