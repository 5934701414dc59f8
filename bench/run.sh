#!/usr/bin/env bash
# Reproducible API benchmark: release build, 100k demo items, wrk on loopback.
#   bench/run.sh [sqlite|postgres|both]     (default: both)
# Prints a Markdown table (also written to bench/results-<backend>.md).
# Environment: ITEMS (default 100000), DURATION (default 10s), CONNECTIONS (default 32),
# FIELDS (default yes; no skips the two custom field runs, for a build without custom fields).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ITEMS=${ITEMS:-100000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
BACKENDS=${1:-both}
PASSWORD=bench-admin-password

command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get update -qq; $sudo apt-get install -y -qq wrk; }
if [ -z "${BATON:-}" ]; then
    cargo build --release --quiet
    BATON=$ROOT/target/release/baton
fi
WORK=$(mktemp -d /tmp/baton-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

start_postgres() {
    local dir=$WORK/pg port
    port=$(free_port)
    mkdir -p "$dir"
    local run=()
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; run=(runuser -u postgres --); fi
    "${run[@]}" initdb -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
    "${run[@]}" postgres -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
        -c shared_buffers=256MB -c max_connections=200 >"$WORK/pg.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        psql -h 127.0.0.1 -p "$port" -U postgres -c 'CREATE DATABASE baton' >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "postgres://postgres@127.0.0.1:$port/baton"
}

wrk_rate() { # script, extra args...
    local script=$1; shift
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/bench/$script" "http://127.0.0.1:$PORT" -- "$@" \
        >"$WORK/wrk.txt"
    local rate p99 errors
    rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
    errors=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")
    if [ -n "$errors" ]; then
        echo "bench: $script got $errors non-2xx responses; the run is not valid" >&2
        cat "$WORK/serve.log" >&2
        exit 1
    fi
    echo "$rate|$p99"
}

run_backend() {
    local backend=$1 url dir=$WORK/$1
    mkdir -p "$dir"
    if [ "$backend" = sqlite ]; then url="sqlite://$dir/baton.db"; else url=$(start_postgres); fi
    export BATON_DATABASE_URL=$url BATON_DATA_DIR=$dir/data BATON_LOG=warn BATON_ADMIN_PASSWORD=$PASSWORD
    "$BATON" migrate >/dev/null
    local started ended demo_seconds
    started=$(date +%s.%N)
    "$BATON" demo-data --items "$ITEMS" --seed 1 >"$WORK/demo.txt"
    ended=$(date +%s.%N)
    demo_seconds=$(awk -v a="$started" -v b="$ended" 'BEGIN {printf "%.1f", b-a}')

    PORT=$(free_port)
    "$BATON" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/system/ping" >/dev/null && break; sleep 0.1; done
    local cookie csrf token
    curl -sf -c "$WORK/cookies" -H 'Content-Type: application/json' \
        -d "{\"login\":\"admin\",\"password\":\"$PASSWORD\"}" "http://127.0.0.1:$PORT/api/v1/session" >"$WORK/session.json"
    csrf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$WORK/session.json")
    token=$(curl -sf -b "$WORK/cookies" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
        -d '{"name":"bench"}' "http://127.0.0.1:$PORT/api/v1/tokens" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    # The search index is built in the background after the start, and after a create run
    # the master indexes what it made; the next run starts once the queue is empty (indexing
    # competes for the cores: tens of seconds for 100,000 items with six fields, several for
    # the 20,000-odd items a create run makes).
    index_idle() {
        for _ in $(seq 600); do
            curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/cluster" |
                python3 -c 'import json,sys; s=json.load(sys.stdin)["search"]; sys.exit(0 if s.get("generation") and s.get("queue_depth") == 0 else 1)' &&
                break
            sleep 0.5
        done
        sleep 1
    }
    index_idle
    local idle_rss get list create by_field with_fields peak sampler
    idle_rss=$(rss_mb $pid)
    # RSS sampled every 200 ms through warm-up and the three measured runs.
    ( while kill -0 "$pid" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$pid/status"; sleep 0.2; done ) >"$WORK/rss.txt" &
    sampler=$!
    wrk -t2 -c"$CONNECTIONS" -d3s -s "$ROOT/bench/get_item.lua" "http://127.0.0.1:$PORT" -- "$token" "$ITEMS" >/dev/null
    # Reads first, on the demo data as made (100,000 items); then the writes, which add
    # tens of thousands of items, each create run measured with the index idle.
    get=$(wrk_rate get_item.lua "$token" "$ITEMS")
    list=$(wrk_rate list_items.lua "$token")
    by_field="-|-" with_fields="-|-"
    if [ "${FIELDS:-yes}" = yes ]; then
        by_field=$(wrk_rate list_by_field.lua "$token")
    fi
    by_plan=$(wrk_rate list_by_plan.lua "$token")
    create=$(wrk_rate create_item.lua "$token")
    if [ "${FIELDS:-yes}" = yes ]; then
        index_idle
        with_fields=$(wrk_rate create_with_fields.lua "$token")
    fi
    kill $sampler 2>/dev/null || true
    peak=$(sort -n "$WORK/rss.txt" | tail -1 | awk '{printf "%.1f", $1/1024}')
    kill $pid; wait $pid 2>/dev/null || true
    echo "$backend|$demo_seconds|$idle_rss|$peak|$get|$list|$create|$by_field|$with_fields|$by_plan"
}

measure() {
    local backend=$1 line
    line=$(run_backend "$backend")
    IFS='|' read -r name demo idle peak get_rate get_p99 list_rate list_p99 create_rate create_p99 \
        field_list_rate field_list_p99 field_create_rate field_create_p99 plan_list_rate plan_list_p99 <<<"$line"
    {
        echo "### $name ($ITEMS items, wrk -t2 -c$CONNECTIONS -d$DURATION, $(nproc) cores)"
        echo
        echo "| measure | result |"
        echo "|---|---|"
        echo "| demo-data --items $ITEMS | ${demo} s |"
        echo "| GET /api/v1/items/{id} | ${get_rate} req/s (p99 ${get_p99}) |"
        echo "| GET /api/v1/items?project=OPS&limit=25 | ${list_rate} req/s (p99 ${list_p99}) |"
        echo "| POST /api/v1/items | ${create_rate} req/s (p99 ${create_p99}) |"
        echo "| GET /api/v1/items?project=OPS&field.severity=major&sort=-field.found_on&limit=25 | ${field_list_rate} req/s (p99 ${field_list_p99}) |"
        echo "| POST /api/v1/items with 6 field values | ${field_create_rate} req/s (p99 ${field_create_p99}) |"
        echo "| GET /api/v1/items?project=OPS&state=open&label=<name>&target_version=<name>&limit=25 | ${plan_list_rate} req/s (p99 ${plan_list_p99}) |"
        echo "| RSS idle (after start, sign-in) | ${idle} MB |"
        echo "| RSS peak under load | ${peak} MB |"
        echo
    } | tee "$ROOT/bench/results-$backend.md"
}

case $BACKENDS in
    sqlite|postgres) measure "$BACKENDS" ;;
    both) measure sqlite; measure postgres ;;
    *) echo "usage: bench/run.sh [sqlite|postgres|both]" >&2; exit 2 ;;
esac
