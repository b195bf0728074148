#!/usr/bin/env bash
# Local services for development, the demo and the tests: a private Mosquitto and a private
# PostgreSQL 15 cluster with TimescaleDB, both on loopback, data under .local/ of the checkout.
#
#   deploy/local/services.sh [start]   install what is missing, start both, write .local/services.json
#   deploy/local/services.sh stop      stop both (idempotent)
#   deploy/local/services.sh status    print state and addresses; exit 0 if both run, 3 otherwise
#   deploy/local/services.sh install   install missing system packages and TimescaleDB (root)
#
# Ports: ISU_MQTT_PORT (default 18830) and ISU_PG_PORT (default 15432). A port held by anything
# other than our own instance is an error; our instance running on another port is restarted on
# the requested one. See docs/local-services.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
LOCAL="$ROOT/.local"
SERVICES_FILE="$LOCAL/services.json"
MQTT_PORT="${ISU_MQTT_PORT:-18830}"
PG_PORT="${ISU_PG_PORT:-15432}"
HOST=127.0.0.1
PG_VERSION=15
PGBIN="/usr/lib/postgresql/$PG_VERSION/bin"
TS_CONTROL="/usr/share/postgresql/$PG_VERSION/extension/timescaledb.control"
TS_LIB="/usr/lib/postgresql/$PG_VERSION/lib/timescaledb.so"
PACKAGES=(mosquitto mosquitto-clients "postgresql-$PG_VERSION" "postgresql-server-dev-$PG_VERSION"
          cmake gcc libc6-dev make python3-venv xz-utils dpkg-dev
          # the tests of deploy/: docker-compose config, promtool, systemd-analyze verify
          docker-compose prometheus systemd
          # the browser tests of the web UI (tests/browser): Debian's chromium, driven by Playwright
          chromium)
# Where data goes when the service's OS user cannot traverse to .local/ (e.g. a checkout in /root).
ALT_BASE="/var/lib/isu-gateway-local/$(printf %s "$ROOT" | sha256sum | cut -c1-12)"

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------------------------------- install

missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
        [ "$status" = installed ] || printf '%s\n' "$pkg"
    done
}

have_timescaledb() { [ -f "$TS_CONTROL" ] && [ -f "$TS_LIB" ]; }

build_timescaledb() {
    local scratch apt_opts tarball src started
    started=$SECONDS
    scratch="$(mktemp -d /var/tmp/isu-timescaledb.XXXXXX)"
    # apt drops to the _apt user for downloads: let it write the lists and the download directory.
    chmod 755 "$scratch"
    mkdir -p "$scratch/apt/lists/partial" "$scratch/apt/cache/archives/partial" "$scratch/src"
    printf 'deb-src http://deb.debian.org/debian trixie main\n' >"$scratch/apt/sources.list"
    if getent passwd _apt >/dev/null; then
        chown -R _apt "$scratch/apt/lists" "$scratch/apt/cache" "$scratch/src"
    fi
    # A private apt configuration: its own source list, state and cache; /etc/apt is not touched.
    apt_opts=(-q -o "Dir::Etc::SourceList=$scratch/apt/sources.list"
              -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$scratch/apt/lists"
              -o "Dir::Cache=$scratch/apt/cache")
    say "building TimescaleDB from Debian trixie's source package in $scratch"
    apt-get "${apt_opts[@]}" update >"$scratch/apt-update.log" 2>&1 \
        || { cat "$scratch/apt-update.log" >&2; die "apt-get update (trixie deb-src) failed"; }
    (cd "$scratch/src" && apt-get "${apt_opts[@]}" source --download-only timescaledb) \
        >"$scratch/apt-source.log" 2>&1 \
        || { cat "$scratch/apt-source.log" >&2; die "apt-get source timescaledb failed"; }
    tarball="$(find "$scratch/src" -maxdepth 1 -name 'timescaledb_*.orig.tar.*' | head -n 1)"
    [ -n "$tarball" ] || die "no timescaledb .orig tarball was downloaded (see $scratch)"
    mkdir "$scratch/build"
    tar -xf "$tarball" -C "$scratch/build"
    src="$(find "$scratch/build" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
    say "compiling $(basename "$tarball") (log: $scratch/build.log)"
    if ! (cd "$src" \
          && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DAPACHE_ONLY=1 \
               -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF -DWARNINGS_AS_ERRORS=OFF \
               -DPG_CONFIG="$PGBIN/pg_config" \
          && make -C build -j"$(nproc)" install) >"$scratch/build.log" 2>&1; then
        tail -n 40 "$scratch/build.log" >&2
        die "TimescaleDB build failed; full log in $scratch/build.log"
    fi
    have_timescaledb || die "TimescaleDB build finished but $TS_CONTROL is missing"
    rm -rf "$scratch"
    say "TimescaleDB installed ($((SECONDS - started)) s)"
}

cmd_install() {
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
        if ! is_root; then
            die "missing system packages: ${missing[*]}
  install them with:  sudo apt-get install ${missing[*]}
  (or run:            sudo $0 install)"
        fi
        command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get here;
  install them by hand or use the compose file in deploy/"
        say "installing ${missing[*]}"
        local log
        log="$(mktemp /var/tmp/isu-apt.XXXXXX)"
        export DEBIAN_FRONTEND=noninteractive
        # No package starts a service while we install (prometheus is here for promtool only;
        # ours run privately): a policy-rc.d saying so exists while apt runs, unless the
        # machine has its own.
        local policy=/usr/sbin/policy-rc.d own_policy=""
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\n# deploy/local/services.sh, while apt-get runs\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            own_policy=1
        fi
        { apt-get -q update && apt-get -q install -y --no-install-recommends "${missing[@]}"; } \
            >"$log" 2>&1 || { [ -z "$own_policy" ] || rm -f "$policy"; tail -n 30 "$log" >&2
                               die "apt-get failed (log: $log)"; }
        [ -z "$own_policy" ] || rm -f "$policy"
        if printf '%s\n' "${missing[@]}" | grep -qx prometheus && command -v systemctl >/dev/null; then
            systemctl disable prometheus.service >>"$log" 2>&1 || true   # nor at boot
            if [ -d /run/systemd/system ]; then systemctl stop prometheus.service >>"$log" 2>&1 || true; fi
        fi
        rm -f "$log"
    fi
    if ! have_timescaledb; then
        is_root || die "TimescaleDB for PostgreSQL $PG_VERSION is not installed ($TS_CONTROL);
  build and install it with:  sudo $0 install"
        build_timescaledb
    fi
}

# ------------------------------------------------------------------------------------- helpers

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_busy() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

wait_port() {  # PORT SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        port_busy "$1" && return 0
        sleep 0.1
    done
    return 1
}

# Prints the directory where service NAME keeps its data, creating it owned by OWNER. It is
# .local/NAME, unless OWNER cannot traverse to .local/: then it lives under $ALT_BASE and
# .local/NAME is a symbolic link to it.
service_dir() {
    local name="$1" owner="$2" link="$LOCAL/$1"
    if [ -L "$link" ]; then
        mkdir -p "$(readlink -f "$link")"
    elif [ ! -e "$link" ]; then
        if [ "$owner" = "$(id -un)" ] || runuser -u "$owner" -- test -x "$LOCAL" 2>/dev/null; then
            mkdir -p "$link"
        else
            mkdir -p "$ALT_BASE/$name"
            chmod 755 "$ALT_BASE" "$(dirname "$ALT_BASE")"
            ln -s "$ALT_BASE/$name" "$link"
        fi
    fi
    local dir
    dir="$(readlink -f "$link")"
    if [ "$(stat -c %U "$dir")" != "$owner" ]; then
        is_root || die "$dir is not owned by $owner"
        chown -R "$owner" "$dir"
    fi
    printf '%s\n' "$dir"
}

as_user() {  # USER CMD... ; runs CMD as USER from /, quietly switching only when needed
    local user="$1"
    shift
    if [ "$user" = "$(id -un)" ]; then
        (cd / && "$@")
    else
        (cd / && runuser -u "$user" -- "$@")
    fi
}

# ------------------------------------------------------------------------------------ mosquitto

mqtt_user() {
    if is_root && getent passwd mosquitto >/dev/null; then echo mosquitto; else id -un; fi
}

mqtt_paths() {
    MQTT_DIR="$(service_dir mosquitto "$(mqtt_user)")"
    MQTT_CONF="$MQTT_DIR/mosquitto.conf"
    MQTT_PID="$MQTT_DIR/mosquitto.pid"
    MQTT_LOG="$MQTT_DIR/mosquitto.log"
}

mqtt_paths_if_exist() {  # for stop/status: never create anything
    local dir
    dir="$(readlink -f "$LOCAL/mosquitto" 2>/dev/null || true)"
    MQTT_DIR="$dir" MQTT_CONF="$dir/mosquitto.conf" MQTT_PID="$dir/mosquitto.pid"
    MQTT_LOG="$dir/mosquitto.log"
    [ -n "$dir" ] && [ -d "$dir" ]
}

mqtt_running_pid() {  # prints the pid of our broker, if it runs
    local pid
    [ -f "$MQTT_PID" ] || return 1
    pid="$(tr -dc 0-9 <"$MQTT_PID")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$MQTT_CONF" || return 1
    printf '%s\n' "$pid"
}

mqtt_running_port() {
    sed -n 's/^listener \([0-9]*\) .*/\1/p' "$MQTT_CONF" 2>/dev/null | head -n 1
}

mqtt_config() {
    cat <<EOF
# Generated by deploy/local/services.sh; rewritten on every start. Local development only.
per_listener_settings false
listener $MQTT_PORT $HOST
allow_anonymous true
persistence true
persistence_location $MQTT_DIR/
autosave_interval 60
pid_file $MQTT_PID
log_dest file $MQTT_LOG
log_type error
log_type warning
log_type notice
connection_messages false
# Never cap or drop what a (persistent) subscriber has not received yet.
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 1000
set_tcp_nodelay true
EOF
}

mqtt_stop() {
    local pid i
    pid="$(mqtt_running_pid)" || { rm -f "$MQTT_PID"; return 0; }
    say "stopping mosquitto (pid $pid)"
    kill "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$MQTT_PID"
}

mqtt_start() {
    local new pid mosquitto
    mqtt_paths
    new="$(mqtt_config)"
    if pid="$(mqtt_running_pid)"; then
        [ "$new" = "$(cat "$MQTT_CONF" 2>/dev/null)" ] && return 0
        say "mosquitto configuration changed (port $(mqtt_running_port) -> $MQTT_PORT): restarting"
        mqtt_stop
    fi
    if port_busy "$MQTT_PORT"; then
        die "port $MQTT_PORT on $HOST is taken by another program (not our mosquitto);
  free it or choose another port:  ISU_MQTT_PORT=NNNN $0 start"
    fi
    printf '%s\n' "$new" >"$MQTT_CONF"
    rm -f "$MQTT_PID"
    mosquitto="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
    say "starting mosquitto on $HOST:$MQTT_PORT"
    # 9>&-: the daemons must not inherit the lock (see lock()).
    "$mosquitto" -c "$MQTT_CONF" -d 9>&- 2>"$MQTT_DIR/startup.log" \
        || { cat "$MQTT_DIR/startup.log" >&2; die "mosquitto failed to start"; }
    if ! wait_port "$MQTT_PORT" 10; then
        cat "$MQTT_DIR/startup.log" >&2
        tail -n 20 "$MQTT_LOG" >&2 2>/dev/null || true
        die "mosquitto did not start listening on $HOST:$MQTT_PORT (log: $MQTT_LOG)"
    fi
}

# ----------------------------------------------------------------------------------- postgresql

pg_user() {
    # The owner of an existing cluster runs it; otherwise postgres when we are root.
    local dir
    dir="$(readlink -f "$LOCAL/pg" 2>/dev/null || true)"
    if [ -n "$dir" ] && [ -d "$dir/data" ] && [ "$(stat -c %U "$dir/data")" != root ]; then
        stat -c %U "$dir/data"
    elif is_root; then
        echo postgres
    else
        id -un
    fi
}

pg_paths() {
    PG_USER="$(pg_user)"
    PG_DIR="$(service_dir pg "$PG_USER")"
    pg_set_paths
}

pg_paths_if_exist() {
    PG_DIR="$(readlink -f "$LOCAL/pg" 2>/dev/null || true)"
    [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ] || return 1
    PG_USER="$(stat -c %U "$PG_DIR/data")"
    pg_set_paths
}

pg_set_paths() {
    PG_DATA="$PG_DIR/data"
    PG_LOG="$PG_DIR/postgresql.log"
    PG_SOCK="$PG_DIR/run"
    # A Unix socket path must stay under 108 bytes: fall back to a short directory.
    if [ "${#PG_SOCK}" -gt 80 ]; then
        PG_SOCK="/tmp/isu-pg-$(printf %s "$ROOT" | sha256sum | cut -c1-12)"
    fi
}

pg_running() { [ -f "$PG_DATA/postmaster.pid" ] && as_user "$PG_USER" "$PGBIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null; }

pg_stop() {
    pg_running || return 0
    say "stopping postgresql (port $(pg_running_port))"
    as_user "$PG_USER" "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
}

psql_q() {  # DB SQL
    PGOPTIONS='-c client_min_messages=warning' \
        "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" -U postgres -d "$1" -tA -c "$2"
}

pg_start() {
    pg_paths
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        say "creating a PostgreSQL $PG_VERSION cluster in $PG_DATA"
        as_user "$PG_USER" mkdir -p "$PG_DATA"
        chmod 700 "$PG_DATA"
        as_user "$PG_USER" "$PGBIN/initdb" -D "$PG_DATA" -A trust -U postgres \
            --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
            || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    fi
    if pg_running; then
        if [ "$(pg_running_port)" = "$PG_PORT" ]; then
            pg_ensure_databases
            return 0
        fi
        say "postgresql runs on port $(pg_running_port), $PG_PORT requested: restarting"
        pg_stop
    fi
    if port_busy "$PG_PORT"; then
        die "port $PG_PORT on $HOST is taken by another program (not our postgresql);
  free it or choose another port:  ISU_PG_PORT=NNNN $0 start"
    fi
    mkdir -p "$PG_SOCK"
    [ "$(stat -c %U "$PG_SOCK")" = "$PG_USER" ] || chown "$PG_USER" "$PG_SOCK"
    say "starting postgresql $PG_VERSION + timescaledb on $HOST:$PG_PORT"
    if ! as_user "$PG_USER" "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
            -o "-p $PG_PORT -k $PG_SOCK -c listen_addresses=$HOST -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off -c max_connections=200 -c max_worker_processes=32" \
            start >/dev/null 9>&-; then
        tail -n 20 "$PG_LOG" >&2 || true
        die "postgresql did not start (log: $PG_LOG)"
    fi
    pg_ensure_databases
}

pg_ensure_databases() {
    # template1 first, so that isu and every database the tests create inherit the extension.
    local db
    for db in template1 isu; do
        if [ "$db" = isu ] && [ -z "$(psql_q postgres "SELECT 1 FROM pg_database WHERE datname = 'isu'")" ]; then
            say "creating database isu"
            psql_q postgres "CREATE DATABASE isu" >/dev/null
        fi
        [ "$(psql_q "$db" "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")" = 1 ] \
            || psql_q "$db" "CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null
    done
}

# --------------------------------------------------------------------------------- services.json

write_services_file() {
    local tmp
    tmp="$(mktemp "$LOCAL/.services.json.XXXXXX")"
    printf '{"mqtt": {"host": "%s", "port": %d}, "postgres": {"host": "%s", "port": %d, "user": "postgres", "dbname": "isu", "dsn": "postgresql://postgres@%s:%d/isu"}}\n' \
        "$HOST" "$MQTT_PORT" "$HOST" "$PG_PORT" "$HOST" "$PG_PORT" >"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$SERVICES_FILE"
}

# ------------------------------------------------------------------------------------- commands

check_port() {  # NAME VALUE
    if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        die "$1=$2 is not a TCP port"
    fi
}

lock() {  # serialises concurrent start/stop runs; daemons are started with fd 9 closed
    mkdir -p "$LOCAL"
    exec 9>"$LOCAL/.services.lock"
    flock 9
}

cmd_start() {
    check_port ISU_MQTT_PORT "$MQTT_PORT"
    check_port ISU_PG_PORT "$PG_PORT"
    cmd_install
    lock
    chmod 755 "$LOCAL"
    mqtt_start
    pg_start
    write_services_file
}

cmd_stop() {
    lock
    if mqtt_paths_if_exist; then mqtt_stop; fi
    if pg_paths_if_exist; then pg_stop; fi
}

cmd_status() {
    local ok=0 pid
    if mqtt_paths_if_exist && pid="$(mqtt_running_pid)"; then
        echo "mosquitto:  running on $HOST:$(mqtt_running_port) (pid $pid, data $MQTT_DIR)"
    else
        echo "mosquitto:  stopped"
        ok=3
    fi
    if pg_paths_if_exist && pg_running; then
        echo "postgresql: running on $HOST:$(pg_running_port) (data $PG_DATA, user $PG_USER)"
    else
        echo "postgresql: stopped"
        ok=3
    fi
    if [ -f "$SERVICES_FILE" ]; then echo "services file: $SERVICES_FILE"; fi
    return "$ok"
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    install) cmd_install ;;
    -h | --help | help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1' (use start, stop, status or install)" ;;
esac
