#!/usr/bin/env bash
# The item page (HTML, as a signed-in browser sees it) under load: release build, SQLite,
# 100k demo items, wrk on loopback. Prints throughput with many connections and the latency
# of one connection at a time (close to the server time of one page), each with the node's CPU
# time per request (which moves less than the rate when other work shares the machine).
#   bench/item_page.sh
# With PAGE=list it measures the HTML item list instead (bench/item_list_page.lua: a page of 25
# open items of one project); with PAGE=planned the page of one item with 10 links and 20
# sub-items, made through the API before the run (bench/planned_item_page.lua); with
# PAGE=roadmap the roadmap page of OPS, whose 20 versions the demo data makes open
# (bench/roadmap_page.lua); with PAGE=tree the list of open OPS items as a tree, with PAGE=all
# the Items page, open items across all projects (both bench/item_list_page.lua); with
# PAGE=discussed the page of one item with 50 comments, each with three item references (an id
# and two keys), a mention and a URL (bench/planned_item_page.lua).
# Environment: ITEMS (default 100000), DURATION (default 10s), CONNECTIONS (default 32),
# CARGO_TARGET_DIR (where the release build goes, default target), BATON (a release binary to
# measure instead of building one).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ITEMS=${ITEMS:-100000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
PASSWORD=bench-admin-password
case "${PAGE:-item}" in
    item) SCRIPT=item_page.lua; SAMPLE=/items/1; LABEL="Item page"; REQUEST="GET /items/{id}" ;;
    list) SCRIPT=item_list_page.lua; LIST="project=OPS&state=open"; SAMPLE="/items?$LIST"; LABEL="Item list page"; REQUEST="GET /items?project=OPS&state=open&page=1..10" ;;
    planned) SCRIPT=planned_item_page.lua; SAMPLE=""; LABEL="Item page with 10 links and 20 sub-items"; REQUEST="GET /items/{id}" ;;
    roadmap) SCRIPT=roadmap_page.lua; SAMPLE=/projects/OPS/roadmap; LABEL="Roadmap page of a project with 20 open versions"; REQUEST="GET /projects/OPS/roadmap" ;;
    tree) SCRIPT=item_list_page.lua; LIST="project=OPS&state=open&view=tree"; SAMPLE="/items?$LIST"; LABEL="Item list page as a tree"; REQUEST="GET /items?project=OPS&state=open&view=tree&page=1..10" ;;
    all) SCRIPT=item_list_page.lua; LIST="state=open"; SAMPLE="/items?$LIST"; LABEL="Items page (open items of all projects)"; REQUEST="GET /items?state=open&page=1..10" ;;
    discussed) SCRIPT=planned_item_page.lua; SAMPLE=""; LABEL="Item page with 50 comments of references"; REQUEST="GET /items/{id}" ;;
    *) echo "bench: PAGE must be item, list, planned, roadmap, tree, all or discussed" >&2; exit 2 ;;
esac

command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get update -qq; $sudo apt-get install -y -qq wrk; }
if [ -z "${BATON:-}" ]; then
    cargo build --release --quiet
    BATON=${CARGO_TARGET_DIR:-$ROOT/target}/release/baton
fi
WORK=$(mktemp -d /tmp/baton-bench-ui.XXXXXX)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export BATON_DATABASE_URL=sqlite://$WORK/baton.db BATON_DATA_DIR=$WORK/data BATON_LOG=warn BATON_ADMIN_PASSWORD=$PASSWORD
"$BATON" migrate >/dev/null
"$BATON" demo-data --items "$ITEMS" --seed 1 >/dev/null
PORT=$(free_port)
"$BATON" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/system/ping" >/dev/null && break; sleep 0.1; done
curl -sf -c "$WORK/cookies" -H 'Content-Type: application/json' \
    -d "{\"login\":\"admin\",\"password\":\"$PASSWORD\"}" "http://127.0.0.1:$PORT/api/v1/session" >"$WORK/session.json"
COOKIE=$(awk '$6 == "baton_session" {print $7}' "$WORK/cookies")
ARGUMENT=${LIST:-$ITEMS}
api() { # method, path, JSON body: prints the answer
    curl -sf -b "$WORK/cookies" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' -X "$1" -d "$3" \
        "http://127.0.0.1:$PORT/api/v1$2"
}
CSRF=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$WORK/session.json")
if [ "${PAGE:-item}" = planned ]; then
    ARGUMENT=$(api POST /items '{"project":"OPS","title":"Planned release"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    for n in $(seq 20); do api POST /items "{\"project\":\"OPS\",\"title\":\"Part $n\",\"parent\":$ARGUMENT}" >/dev/null; done
    for target in $(seq 10); do api POST "/items/$ARGUMENT/links" "{\"kind\":\"relates\",\"target\":$target}" >/dev/null; done
    SAMPLE=/items/$ARGUMENT
fi
if [ "${PAGE:-item}" = discussed ]; then
    ARGUMENT=$(api POST /items '{"project":"OPS","title":"Much discussed"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    for n in $(seq 50); do
        api POST "/items/$ARGUMENT/comments" \
            "{\"body\":\"Same as #$n and OPS-$((n + 100)), see OPS-$((n + 200)); @admin please look at https://example.com/#$n.\"}" >/dev/null
    done
    SAMPLE=/items/$ARGUMENT
fi
status=$(curl -s -o "$WORK/page.html" -w '%{http_code}' -b "baton_session=$COOKIE" "http://127.0.0.1:$PORT$SAMPLE")
[ "$status" = 200 ] || { echo "bench: $SAMPLE answered $status" >&2; cat "$WORK/serve.log" >&2; exit 1; }
page_bytes=$(wc -c <"$WORK/page.html")
# The node builds its first search index at start; measured pages should not share the cores
# with that build.
for _ in $(seq 600); do
    curl -s -b "baton_session=$COOKIE" "http://127.0.0.1:$PORT/api/v1/cluster" \
        | python3 -c 'import json,sys; s=json.load(sys.stdin)["search"]; sys.exit(0 if s["generation"] and s["queue_depth"] == 0 else 1)' \
        && break
    sleep 0.2
done

# CPU time (user + system) of the node so far, in clock ticks: per request, it holds better
# than the rate on a machine shared with other work.
node_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

run() { # connections, duration
    local before
    before=$(node_ticks)
    wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"$2" --latency -s "$ROOT/bench/$SCRIPT" "http://127.0.0.1:$PORT" -- "$COOKIE" "$ARGUMENT" \
        >"$WORK/wrk.txt"
    if grep -q Non-2xx "$WORK/wrk.txt"; then
        echo "bench: non-2xx responses; the run is not valid" >&2; cat "$WORK/wrk.txt" >&2; exit 1
    fi
    awk -v ticks=$(($(node_ticks) - before)) -v tick="$TICK_US" '
        /requests in/ {n = $1} /Requests\/sec/ {rate=$2} $1 == "50%" {p50=$2} $1 == "99%" {p99=$2}
        END {printf "%.0f|%s|%s|%.0f", rate, p50, p99, ticks * tick / n}' "$WORK/wrk.txt"
}

run "$CONNECTIONS" 3s >/dev/null
IFS='|' read -r rate p50 p99 cpu <<<"$(run "$CONNECTIONS" "$DURATION")"
IFS='|' read -r single_rate single_p50 single_p99 single_cpu <<<"$(run 1 "$DURATION")"
echo "### $LABEL, SQLite ($ITEMS items, $(nproc) cores, page of $page_bytes bytes)"
echo
echo "| measure | result |"
echo "|---|---|"
echo "| $REQUEST, wrk -c$CONNECTIONS -d$DURATION | $rate req/s (p50 $p50, p99 $p99; node $cpu µs) |"
echo "| $REQUEST, one connection | $single_rate req/s (p50 $single_p50, p99 $single_p99; node $single_cpu µs) |"
