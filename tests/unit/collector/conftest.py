from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.collector.fake_driver import reset_bench


@pytest.fixture(autouse=True)
def _fresh_bench() -> Iterator[None]:
    reset_bench()
    yield
    reset_bench()
