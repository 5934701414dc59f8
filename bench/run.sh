#!/usr/bin/env bash
# Reproducible API benchmark: release build, 100k demo items, wrk on loopback.
#   bench/run.sh [sqlite|postgres|both]     (default: both)
# Measures the API (an item, three lists of 25 and a person's open items with their exact totals,
# creates while the master indexes), the item page as a signed-in browser gets it, a search that
# finds few items, and the node's memory (idle, the peak of the first index build, the peak under
# load).
# Prints one Markdown table, the backends side by side, each measure at each connection count
# with its rate, p99 and the CPU time per request of the node (and of PostgreSQL's processes),
# which holds better than the rate on a machine shared with other work. Written to
# bench/results.md; a run of both backends also replaces the table under "Latest run" in
# docs/benchmarks.md.
# Environment: ITEMS (default 100000), DURATION (default 10s), CONNECTIONS (default "16 32"),
# FIELDS (default yes; no skips the two custom field runs, for a build without custom fields),
# PG_CONNECT (default socket: the node reaches PostgreSQL through its Unix socket, as a node on
# the database's host would; tcp: over loopback TCP, as across hosts).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ITEMS=${ITEMS:-100000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16 32}
BACKENDS=${1:-both}
PG_CONNECT=${PG_CONNECT:-socket}
case "$PG_CONNECT" in
    socket|tcp) ;;
    *) echo "bench: PG_CONNECT must be socket or tcp, not '$PG_CONNECT'" >&2; exit 2 ;;
esac
PASSWORD=bench-admin-password
# Two searches that find about a hundred items each (of the demo data's 100,000 made with seed
# 1): a rare word (an error code some descriptions quote, each in about one item in a thousand),
# and four words of the demo's small vocabulary, each in thousands of items, together in about a
# hundred. The measures name the hits each search found in the run.
SEARCH_RARE="E1043"
SEARCH_COMMON="german invoice offline timeout"

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
# CPU time (user + system, clock ticks) of processes; for the postmaster also that of its
# ended children, and its live children (PostgreSQL's backends) are added by the caller.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat")))
    done
    echo "$total"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
DB_PID=""
db_pids() { [ -n "$DB_PID" ] && echo "$DB_PID" $(pgrep -P "$DB_PID"); }

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
    if [ "$PG_CONNECT" = socket ]; then
        echo "postgres://postgres@/baton?host=$dir&port=$port"
    else
        echo "postgres://postgres@127.0.0.1:$port/baton"
    fi
}

wrk_rate() { # connections, script, extra args...
    local connections=$1 script=$2; shift 2
    local node_before db_before node_after db_after
    node_before=$(cpu_ticks "$NODE_PID")
    db_before=$(cpu_ticks $(db_pids))
    wrk -t2 -c"$connections" -d"$DURATION" --latency -s "$ROOT/bench/$script" "http://127.0.0.1:$PORT" -- "$@" \
        >"$WORK/wrk.txt"
    node_after=$(cpu_ticks "$NODE_PID")
    db_after=$(cpu_ticks $(db_pids))
    local errors
    errors=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")
    if [ -n "$errors" ]; then
        echo "bench: $script got $errors non-2xx responses; the run is not valid" >&2
        cat "$WORK/serve.log" >&2
        exit 1
    fi
    # rate, p99, node CPU µs per request, database CPU µs per request (PostgreSQL only)
    awk -v node=$((node_after - node_before)) -v db=$((db_after - db_before)) -v tick="$TICK_US" -v pg="$DB_PID" '
        /requests in/ {n = $1} /Requests\/sec/ {r = $2} $1 == "99%" {p = $2}
        END {
            printf "%.0f req/s (p99 %s; node %.0f µs", r, p, node * tick / n
            if (pg != "") printf ", PostgreSQL %.0f µs", db * tick / n
            printf ")"
        }' "$WORK/wrk.txt"
}

# One backend: loads the demo data, starts a node and appends "backend|measure|connections|cell"
# lines to $WORK/cells.
run_backend() {
    local backend=$1 url dir=$WORK/$1
    mkdir -p "$dir"
    DB_PID=""
    if [ "$backend" = sqlite ]; then
        url="sqlite://$dir/baton.db"
    else
        url=$(start_postgres)
        DB_PID=$(head -1 "$WORK/pg/data/postmaster.pid")
        PIDS+=("$DB_PID")
    fi
    export BATON_DATABASE_URL=$url BATON_DATA_DIR=$dir/data BATON_LOG=warn BATON_ADMIN_PASSWORD=$PASSWORD
    "$BATON" migrate >/dev/null
    local started ended
    started=$(date +%s.%N)
    "$BATON" demo-data --items "$ITEMS" --seed 1 >"$WORK/demo.txt"
    ended=$(date +%s.%N)
    cell() { echo "$backend|$1|$2|$3" >>"$WORK/cells"; }
    measured() { # measure, connections, script, extra args...
        local measure=$1 connections=$2 result
        shift 2
        echo "# $measure, $connections connections" >>"$WORK/rss.txt"
        result=$(wrk_rate "$connections" "$@")
        cell "$measure" "$connections" "$result"
    }
    cell "demo-data --items $ITEMS" - "$(awk -v a="$started" -v b="$ended" 'BEGIN {printf "%.1f s", b-a}')"

    PORT=$(free_port)
    "$BATON" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
    NODE_PID=$!
    PIDS+=($NODE_PID)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/system/ping" >/dev/null && break; sleep 0.1; done
    local csrf token
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
    cell "RSS idle (after the first index build, sign-in)" - "$(rss_mb $NODE_PID) MB"
    cell "RSS peak of the start and first index build" - "$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$NODE_PID/status")"
    local session
    session=$(awk '$6 == "baton_session" {print $7}' "$WORK/cookies")
    # RSS sampled every 200 ms through warm-up and the measured runs, each run's samples after
    # a line naming it.
    : >"$WORK/rss.txt"
    ( while kill -0 "$NODE_PID" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$NODE_PID/status"; sleep 0.2; done ) >>"$WORK/rss.txt" &
    local sampler=$!
    wrk -t2 -c32 -d3s -s "$ROOT/bench/get_item.lua" "http://127.0.0.1:$PORT" -- "$token" "$ITEMS" >/dev/null
    # Reads first, on the demo data as made (100,000 items); then the writes, which add
    # tens of thousands of items, each create run started with the index idle and measured
    # with the indexer indexing what it makes.
    local -A hits
    local query
    for query in "$SEARCH_RARE" "$SEARCH_COMMON"; do
        hits[$query]=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/search?q=${query// /+}&limit=1" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
    done
    local connections
    for connections in $CONNECTIONS; do
        measured "GET /api/v1/items/{id}" "$connections" get_item.lua "$token" "$ITEMS"
        measured "GET /api/v1/items?project=OPS&state=open&limit=25 (exact total)" "$connections" list_items.lua "$token"
        if [ "${FIELDS:-yes}" = yes ]; then
            measured "GET /api/v1/items?project=OPS&state=open&field.severity=major&sort=-field.found_on&limit=25" "$connections" \
                list_by_field.lua "$token"
        fi
        measured "GET /api/v1/items?project=OPS&state=open&label=<name>&target_version=<name>&limit=25" "$connections" \
            list_by_plan.lua "$token"
        measured "GET /api/v1/items?assignee=<person>&state=open&limit=10 (a person's open items)" "$connections" \
            list_assigned.lua "$token"
        measured "GET /items/{id} (the item page, HTML, signed in)" "$connections" item_page.lua "$session" "$ITEMS"
        for query in "$SEARCH_RARE" "$SEARCH_COMMON"; do
            measured "GET /api/v1/search?q=$query&limit=25 (${hits[$query]} hits)" "$connections" search_query.lua \
                "$token" "${query// /+}"
        done
    done
    for connections in $CONNECTIONS; do
        index_idle
        measured "POST /api/v1/items (indexer running)" "$connections" create_item.lua "$token"
        if [ "${FIELDS:-yes}" = yes ]; then
            index_idle
            measured "POST /api/v1/items with 6 field values (indexer running)" "$connections" \
                create_with_fields.lua "$token"
        fi
    done
    kill $sampler 2>/dev/null || true
    cell "RSS peak under load" - "$(awk '/^#/ {run = substr($0, 3); next}
        $1 > peak {peak = $1; at = run} END {printf "%.1f MB (%s)", peak / 1024, at ? at : "warm-up"}' "$WORK/rss.txt")"
    kill $NODE_PID; wait $NODE_PID 2>/dev/null || true
    if [ -n "$DB_PID" ]; then kill "$DB_PID"; wait "$DB_PID" 2>/dev/null || true; fi
}

case $BACKENDS in
    sqlite|postgres) backends=("$BACKENDS") ;;
    both) backends=(sqlite postgres) ;;
    *) echo "usage: bench/run.sh [sqlite|postgres|both]" >&2; exit 2 ;;
esac
: >"$WORK/cells"
for backend in "${backends[@]}"; do run_backend "$backend"; done
TABLE=$WORK/table.md
python3 - "$WORK/cells" "${backends[@]}" >"$TABLE" <<'PY2'
import sys
cells, backends = sys.argv[1], sys.argv[2:]
names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
rows, values = [], {}
for line in open(cells):
    backend, measure, connections, cell = line.rstrip("\n").split("|", 3)
    if (measure, connections) not in rows:
        rows.append((measure, connections))
    values[(measure, connections, backend)] = cell
print("| measure | connections | " + " | ".join(names[b] for b in backends) + " |")
print("|---|---|" + "---|" * len(backends))
for measure, connections in rows:
    print(f"| {measure} | {connections} | " + " | ".join(values.get((measure, connections, b), "") for b in backends) + " |")
PY2
{
    pg=""
    [[ " ${backends[*]} " = *" postgres "* ]] && pg=", PostgreSQL over its $([ "$PG_CONNECT" = socket ] && echo "Unix socket" || echo "loopback TCP")"
    echo "$ITEMS items, wrk -t2 -d$DURATION, $(nproc) cores$pg, $(date -u +%Y-%m-%d), $(git -C "$ROOT" rev-parse --short HEAD)"
    echo
    cat "$TABLE"
} | tee "$ROOT/bench/results.md"
if [ "$BACKENDS" = both ]; then
    python3 - "$ROOT/docs/benchmarks.md" "$ROOT/bench/results.md" <<'PY2'
import sys
doc, results = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
start, end = "<!-- bench/run.sh both: start -->\n", "<!-- bench/run.sh both: end -->\n"
before, rest = text.split(start, 1)
_, after = rest.split(end, 1)
open(doc, "w").write(before + start + results + end + after)
PY2
    echo "bench: the table replaced the latest run in docs/benchmarks.md"
fi
