#!/usr/bin/env bash
# Creates .venv at the top of the checkout if missing and installs the project with its dev
# extras into it, again only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! .venv/bin/python -c '' 2>/dev/null; then
    echo "creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.isu-pyproject.sha256
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "installing the project and its dev dependencies into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    printf '%s\n' "$want" >"$stamp"
fi
