#!/usr/bin/env bash
# The demo bench: a simulated site of Mercury 230 meters, the collector, the gateway and the API
# on the local services. Arguments go to `isu demo` (see `isu demo --help`).
#
#   1. starts the local services (deploy/local/services.sh start; installs what is missing as root)
#   2. creates .venv and installs the project (deploy/local/venv.sh)
#   3. runs `isu demo`, which prints the API URL and runs until Ctrl-C
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
deploy/local/services.sh start
deploy/local/venv.sh
exec .venv/bin/isu demo "$@"
