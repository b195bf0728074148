#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run). Arguments go to pytest: ./test.sh -k mqtt -x
#
#   1. starts the local services (deploy/local/services.sh start; installs what is missing as root)
#   2. creates .venv and installs the project with its dev extras (again only when
#      pyproject.toml changed since the last install)
#   3. ruff check, mypy on the packages, pytest
#
# Every check runs even when an earlier one fails; the exit status is non-zero if any failed
# (pytest's "no tests collected", exit status 5, is a failure too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

step() { printf '\n== %s\n' "$*"; }

step "local services"
deploy/local/services.sh start
deploy/local/services.sh status

step "virtualenv"
deploy/local/venv.sh
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

failed=()

step "ruff check"
ruff check . || failed+=("ruff")

step "mypy"
packages=()
for dir in core drivers collector gateway timeseries api simulators isu bench; do
    if [ -d "$dir" ] && [ -n "$(find "$dir" -name '*.py' -print -quit)" ]; then
        packages+=("$dir")
    fi
done
if [ "${#packages[@]}" -gt 0 ]; then
    mypy "${packages[@]}" || failed+=("mypy")
else
    echo "no packages to check"
fi

step "pytest $*"
rc=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
pytest "$@" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure"
fi
[ "$rc" -eq 0 ] || failed+=("pytest (exit $rc)")

if [ "${#failed[@]}" -gt 0 ]; then
    printf '\nFAILED: %s\n' "${failed[*]}"
fi
# The closing line: pytest's counts in the plain form "N passed, N failed[, N skipped]".
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
summary = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
counts = dict.fromkeys(("passed", "failed", "errors", "skipped"), 0)
for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary[-1] if summary else ""):
    counts["errors" if word.startswith("error") else word] = int(number)
line = f"tests: {counts['passed']} passed, {counts['failed'] + counts['errors']} failed"
print(line + (f", {counts['skipped']} skipped" if counts["skipped"] else ""))
PY
[ "${#failed[@]}" -eq 0 ]
