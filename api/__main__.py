"""``python -m api --config FILE``: the same as ``isu api --config FILE``."""

from __future__ import annotations

import sys

from api.cli import main

if __name__ == "__main__":
    sys.exit(main())
