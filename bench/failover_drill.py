#!/usr/bin/env python3
"""Failover drill: a three-node cluster behind nginx under steady load, through three events.

    bench/failover_drill.py [--baton PATH] [--gap SECONDS] [--create-rate N] [--output FILE]

Starts the cluster of scripts/local-cluster (PostgreSQL, three nodes, nginx) with
heartbeat_interval = 200ms and node_timeout = 1500ms. Load through nginx all along: wrk reads
items and item pages (bench/drill_read.lua, paced), and Python threads create items at a steady
rate, each with a unique marker word in its title, recording every answer. Then:
  1. kill -9 of the master  -> failover time (kill until a survivor acts as master)
  2. forced handover        -> handover time (request until the named node acts as master)
  3. maintenance on the master, then off -> time until another node took over
Reports per event the answers nginx gave (5xx) and the node failures nginx hid by retrying
(from its access log), and after the run checks that every created item exists exactly once
and is found by search. Prints Markdown (also written to --output). Needs nginx, wrk and
PostgreSQL (Debian packages nginx, wrk, postgresql).
"""
import argparse
import importlib.machinery
import importlib.util
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT, NODE_TIMEOUT = "200ms", "1500ms"
HEARTBEAT_S, NODE_TIMEOUT_S = 0.2, 1.5
# Answers this long after an event's end still count towards it.
WINDOW_TAIL_S = 2.0


def load_local_cluster():
    path = ROOT / "scripts" / "local-cluster"
    loader = importlib.machinery.SourceFileLoader("local_cluster", str(path))
    spec = importlib.util.spec_from_loader("local_cluster", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


local_cluster = load_local_cluster()
http = local_cluster.http


def say(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Creator(threading.Thread):
    """Creates items at a steady rate through nginx; records every attempt."""

    def __init__(self, url, token, run_tag, number, rate, stop):
        super().__init__(daemon=True)
        self.url, self.token, self.run_tag, self.number = url, token, run_tag, number
        self.period, self.stop = 1.0 / rate, stop
        self.created = {}  # marker -> item id (201 answers)
        self.uncertain = []  # (time, marker, what): no answer or an error: the item may or may not exist
        self.refused = []  # (time, marker, status): a clear 4xx

    def run(self):
        sequence = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            sequence += 1
            marker = f"m{self.run_tag}t{self.number}n{sequence:06d}"
            started = time.time()
            status, body, _ = http("POST", f"{self.url}/api/v1/items",
                                   {"project": "DRILL", "title": f"Drill item {marker}",
                                    "description": "Created by the failover drill."},
                                   token=self.token, timeout=30)
            if status == 201:
                self.created[marker] = body["id"]
            elif status is None or status >= 500:
                self.uncertain.append((started, marker, status or "no answer"))
            else:
                self.refused.append((started, marker, status))
            next_at += self.period
            time.sleep(max(0.0, next_at - time.monotonic()))


class Drill:
    def __init__(self, cluster, token, args):
        self.cluster, self.token, self.args = cluster, token, args
        self.events = []  # dicts: name, started, ended (time.time()), figures

    def ping(self, name):
        status, body, _ = http("GET", f"{self.cluster.node_url(name)}/api/v1/system/ping", timeout=1)
        return status, body

    def master(self, among=None):
        for name in among or list(self.cluster.nodes):
            status, body = self.ping(name)
            if status == 200 and body.get("master"):
                return name
        return None

    def wait_for_master(self, among=None, other_than=None, limit=30):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            found = self.master(among)
            if found and found != other_than:
                return found, time.time()
            time.sleep(0.005)
        raise SystemExit(f"drill: no new master within {limit} s")

    def cluster_status(self):
        status, body, _ = http("GET", f"{self.cluster.url}/api/v1/cluster", token=self.token)
        if status != 200:
            raise SystemExit(f"drill: GET /api/v1/cluster answered {status} {body}")
        return body

    def epoch(self):
        return self.cluster_status()["epoch"]

    def kill_master(self):
        old = self.master()
        epoch = self.epoch()
        survivors = [name for name in self.cluster.nodes if name != old]
        say(f"event 1: kill -9 {old} (master, epoch {epoch})")
        killed_at = time.time()
        self.cluster.kill_node(old)
        # The dead master can renew no more: the lease shows its last renewal until taken.
        # Read from the database, whose times (unlike the API's, in whole seconds) have
        # microseconds; same host, same clock as time.time().
        last_renewal = self.cluster.sql(f"SELECT EXTRACT(EPOCH FROM renewed_at) FROM cluster_lease "
                                        f"WHERE epoch = {epoch}")
        new, acting_at = self.wait_for_master(survivors)
        acquired = self.cluster.sql(f"SELECT EXTRACT(EPOCH FROM at) FROM cluster_events "
                                    f"WHERE kind = 'acquired' AND epoch = {epoch + 1}")
        figures = {"killed": old, "new master": new, "failover_s": acting_at - killed_at}
        if last_renewal:
            figures["last_renewal_s"] = killed_at - float(last_renewal[0][0])
        if acquired:
            figures["lease_taken_s"] = float(acquired[0][0]) - killed_at
        say(f"  {new} acts as master after {figures['failover_s'] * 1000:.0f} ms")
        self.events.append({"name": f"kill -9 of the master ({old})", "started": killed_at, "ended": acting_at,
                            "figures": figures})
        # A node restarted at once waits for its old entry to time out: restart after that.
        time.sleep(NODE_TIMEOUT_S + HEARTBEAT_S)
        say(f"  restarting {old}")
        self.cluster.start_node(old)
        self.cluster.wait_until_serving(old)

    def hand_over(self):
        old = self.master()
        target = next(name for name in self.cluster.node_names if name != old and name in self.cluster.nodes)
        say(f"event 2: handover {old} -> {target}")
        started = time.time()
        status, body, _ = http("POST", f"{self.cluster.url}/api/v1/cluster/master", {"node": target},
                               token=self.token, timeout=30)
        answered = time.time()
        if status != 200:
            raise SystemExit(f"drill: handover answered {status} {body}")
        _, acting_at = self.wait_for_master([target])
        figures = {"from": old, "to": target, "handover_s": acting_at - started,
                   "request_s": answered - started, "reported_elapsed_ms": body.get("elapsed_ms")}
        say(f"  {target} acts as master after {figures['handover_s'] * 1000:.0f} ms")
        self.events.append({"name": f"forced handover ({old} → {target})", "started": started,
                            "ended": max(acting_at, answered), "figures": figures})

    def maintenance(self):
        node = self.master()
        say(f"event 3: maintenance on {node} (master)")
        started = time.time()
        self.set_maintenance(node, True)
        new, acting_at = self.wait_for_master(other_than=node)
        ping_status, _ = self.ping(node)
        say(f"  {new} acts as master after {(acting_at - started) * 1000:.0f} ms; {node} ping {ping_status}")
        time.sleep(self.args.maintenance_seconds)
        self.set_maintenance(node, False)
        ended = time.time()
        ping_after, _ = self.ping(node)
        figures = {"node": node, "new master": new, "takeover_s": acting_at - started,
                   "ping_in_maintenance": ping_status, "ping_after": ping_after}
        self.events.append({"name": f"maintenance on the master ({node}), {self.args.maintenance_seconds:.0f} s, "
                                    "then off", "started": started, "ended": ended, "figures": figures})

    def set_maintenance(self, node, on):
        status, body, _ = http("POST", f"{self.cluster.url}/api/v1/cluster/nodes/{node}/maintenance", {"on": on},
                               token=self.token, timeout=30)
        if status != 200:
            raise SystemExit(f"drill: maintenance {on} on {node} answered {status} {body}")


ACCESS_LINE = re.compile(r'^(?P<at>[\d.]+) (?P<status>\d{3}) (?P<method>\S+) "(?P<uri>[^"]*)" '
                         r'upstream=(?P<upstream>.*) upstream_status=(?P<upstream_status>.*) request_time=\S+$')


def read_access_log(path):
    """(time, method, status, [upstream statuses]) of every request nginx answered."""
    entries = []
    for line in Path(path).read_text().splitlines():
        match = ACCESS_LINE.match(line)
        if not match:
            continue
        attempts = [part.strip() for part in re.split(r"[,:]", match["upstream_status"]) if part.strip()]
        entries.append((float(match["at"]), match["method"], int(match["status"]), attempts))
    return entries


def window_counts(entries, start, end):
    counts = {"requests": 0, "5xx": 0, "retried": 0}
    for at, _method, status, attempts in entries:
        if start <= at <= end:
            counts["requests"] += 1
            counts["5xx"] += status >= 500
            counts["retried"] += len(attempts) > 1
    return counts


def verify_items(cluster, token, creators):
    """Every item a 201 answered exists exactly once (by its marker) and search finds it."""
    created = {marker: item for creator in creators for marker, item in creator.created.items()}
    uncertain = [entry for creator in creators for entry in creator.uncertain]
    titles = {}
    offset = 0
    while True:
        status, body, _ = http("GET", f"{cluster.url}/api/v1/items?project=DRILL&state=all&sort=id&limit=500"
                                      f"&offset={offset}", token=token, timeout=30)
        if status != 200:
            raise SystemExit(f"drill: listing items answered {status} {body}")
        for item in body["items"]:
            marker = item["title"].rsplit(" ", 1)[-1]
            titles.setdefault(marker, []).append(item["id"])
        offset += len(body["items"])
        if not body["items"] or offset >= body["total"]:
            break
    missing = [marker for marker in created if marker not in titles]
    duplicated = [marker for marker, ids in titles.items() if len(ids) > 1]
    wrong_id = [marker for marker, item in created.items() if marker in titles and titles[marker] != [item]]
    uncertain_stored = [marker for _, marker, _ in uncertain if marker in titles]
    seed = [marker for marker in titles if marker.startswith("seed")]
    unexplained = set(titles) - set(created) - set(uncertain_stored) - set(seed)

    say(f"waiting for the index to catch up, then searching for {len(created)} markers")
    last_marker = max(created, key=created.get)
    deadline = time.monotonic() + 60
    while search_hits(cluster, token, last_marker) != [created[last_marker]]:
        if time.monotonic() > deadline:
            raise SystemExit(f"drill: search did not find the last item ({last_marker}) within 60 s")
        time.sleep(0.2)
    not_found = [marker for marker, item in created.items() if search_hits(cluster, token, marker) != [item]]
    return {"created (201)": len(created),
            "refused (4xx)": sum(len(creator.refused) for creator in creators),
            "uncertain (5xx or no answer)": len(uncertain),
            "of those stored": len(uncertain_stored),
            "missing": len(missing), "duplicated": len(duplicated), "wrong id": len(wrong_id),
            "unexplained extra": len(unexplained), "not found by search": len(not_found),
            "examples": (missing + duplicated + wrong_id + not_found)[:5]}


def search_hits(cluster, token, marker):
    query = urllib.parse.quote(marker)
    status, body, _ = http("GET", f"{cluster.url}/api/v1/search?q={query}&limit=5", token=token, timeout=10)
    return [hit["item"]["id"] for hit in body["hits"]] if status == 200 else None


def start_wrk(cluster, token, first_id, last_id, duration, args):
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("drill: wrk is not installed: apt-get install wrk")
    command = [wrk, "-t1", f"-c{args.read_connections}", f"-d{duration}s", "--timeout", "10s",
               "-s", str(ROOT / "bench" / "drill_read.lua"), cluster.url, "--",
               token, str(first_id), str(last_id), str(args.read_delay_ms)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def seconds_ms(value):
    return f"{value * 1000:,.0f} ms"


def report(args, drill, entries, wrk_output, creators, verification, load_window):
    lines = [f"Three nodes (`heartbeat_interval = \"{HEARTBEAT}\"`, `node_timeout = \"{NODE_TIMEOUT}\"`), "
             "PostgreSQL, nginx in front (docker/nginx.conf), all on loopback; "
             f"load through nginx: wrk reads ({args.read_connections} connections, {args.read_delay_ms} ms pause "
             f"between requests: items by id, every tenth a page of the list), {args.creators} threads creating "
             f"{args.create_rate:g} items/s in all; {args.gap:g} s between events.", "",
             "| event | time | answers in the window | 5xx to clients | node failures retried by nginx |",
             "|---|---|---|---|---|"]
    for event in drill.events:
        figures = event["figures"]
        if "failover_s" in figures:
            timing = f"failover {seconds_ms(figures['failover_s'])}"
            details = []
            if "last_renewal_s" in figures:
                details.append(f"last renewal {seconds_ms(figures['last_renewal_s'])} before the kill")
            if "lease_taken_s" in figures:
                details.append(f"lease taken {seconds_ms(figures['lease_taken_s'])} after it")
            if details:
                timing += f" ({', '.join(details)})"
        elif "handover_s" in figures:
            timing = (f"handover {seconds_ms(figures['handover_s'])} (API answered after "
                      f"{seconds_ms(figures['request_s'])})")
        else:
            timing = (f"new master after {seconds_ms(figures['takeover_s'])}; ping {figures['ping_in_maintenance']} "
                      f"in maintenance, {figures['ping_after']} after")
        counts = window_counts(entries, event["started"], event["ended"] + WINDOW_TAIL_S)
        lines.append(f"| {event['name']} | {timing} | {counts['requests']:,} | {counts['5xx']} | "
                     f"{counts['retried']} |")
    quiet = [entry for entry in entries if load_window[0] <= entry[0] <= load_window[1]
             and not any(event["started"] <= entry[0] <= event["ended"] + WINDOW_TAIL_S for event in drill.events)]
    lines.append(f"| (between events) | | {len(quiet):,} | {sum(entry[2] >= 500 for entry in quiet)} | "
                 f"{sum(len(entry[3]) > 1 for entry in quiet)} |")
    total = [entry for entry in entries if load_window[0] <= entry[0] <= load_window[1]]
    by_status = {}
    for entry in total:
        by_status[entry[2]] = by_status.get(entry[2], 0) + 1
    lines += ["", f"Whole run: {len(total):,} answers through nginx, by status: "
              + ", ".join(f"{status}: {count:,}" for status, count in sorted(by_status.items())) + "."]
    wrk_summary = [line.strip() for line in wrk_output.splitlines()
                   if re.search(r"requests in|Requests/sec|Socket errors|Non-2xx", line)]
    # wrk prints these two lines only when there is something to count.
    if not any("Socket errors" in line for line in wrk_summary):
        wrk_summary.append("no socket errors")
    if not any("Non-2xx" in line for line in wrk_summary):
        wrk_summary.append("no non-2xx answers")
    lines += [f"wrk: {'; '.join(wrk_summary)}."]
    lines += ["", "| items | count |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in verification.items() if key != "examples"]
    if verification["examples"]:
        lines += ["", f"Examples of failing markers: {', '.join(verification['examples'])}"]
    uncertain = [entry for creator in creators for entry in creator.uncertain]
    if uncertain:
        described = [f"{marker} ({what}, {time.strftime('%H:%M:%S', time.localtime(at))})"
                     for at, marker, what in uncertain[:10]]
        lines += ["", "Creations without a clear answer: " + ", ".join(described)]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baton", default=str(ROOT / "target" / "release" / "baton"))
    parser.add_argument("--gap", type=float, default=10.0, help="seconds of steady load before each event")
    parser.add_argument("--maintenance-seconds", type=float, default=5.0)
    parser.add_argument("--create-rate", type=float, default=40.0, help="items created per second, in all")
    parser.add_argument("--creators", type=int, default=2)
    parser.add_argument("--read-connections", type=int, default=4)
    parser.add_argument("--read-delay-ms", type=int, default=10)
    parser.add_argument("--output", help="also write the Markdown report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder (logs) at the end")
    args = parser.parse_args()

    def stop_on_signal(_signal_number, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        cluster = local_cluster.LocalCluster(args.baton, nginx_port=0, heartbeat=HEARTBEAT,
                                             node_timeout=NODE_TIMEOUT, keep=args.keep, say=say)
        with cluster:
            markdown = run(cluster, args)
    except local_cluster.ClusterError as error:
        sys.exit(f"drill: {error}")
    except KeyboardInterrupt:
        sys.exit("drill: interrupted; the cluster was stopped")
    print(markdown)
    if args.output:
        Path(args.output).write_text(markdown)


def run(cluster, args):
    token = cluster.admin_token()
    status, body, _ = http("POST", f"{cluster.url}/api/v1/projects", {"key": "DRILL", "name": "Failover drill"},
                           token=token)
    if status not in (200, 201):
        raise SystemExit(f"drill: creating the project answered {status} {body}")
    seed_ids = []
    for number in range(100):
        status, body, _ = http("POST", f"{cluster.url}/api/v1/items",
                               {"project": "DRILL", "title": f"Seed item seed{number:03d}"}, token=token)
        if status != 201:
            raise SystemExit(f"drill: creating a seed item answered {status} {body}")
        seed_ids.append(body["id"])
    run_tag = format(int(time.time()) % 100000, "05d")
    drill = Drill(cluster, token, args)
    drill.wait_for_master()
    duration = int(args.gap * 3 + args.maintenance_seconds + 40)
    say(f"steady load: wrk reads and {args.create_rate:g} creations/s (run {run_tag})")
    wrk = start_wrk(cluster, token, seed_ids[0], seed_ids[-1], duration, args)
    stop = threading.Event()
    creators = [Creator(cluster.url, token, run_tag, number, args.create_rate / args.creators, stop)
                for number in range(args.creators)]
    load_started = time.time()
    for creator in creators:
        creator.start()
    try:
        time.sleep(args.gap)
        drill.kill_master()
        time.sleep(args.gap)
        drill.hand_over()
        time.sleep(args.gap)
        drill.maintenance()
        time.sleep(args.gap)
    finally:
        stop.set()
        for creator in creators:
            creator.join()
        load_ended = time.time()
        wrk.send_signal(signal.SIGINT)
        wrk_output = wrk.communicate()[0]
    say("load stopped; verifying items")
    verification = verify_items(cluster, token, creators)
    time.sleep(1.5)  # nginx flushes its access log every second
    entries = read_access_log(cluster.path("nginx", "access.log"))
    return report(args, drill, entries, wrk_output, creators, verification, (load_started, load_ended))


if __name__ == "__main__":
    main()
