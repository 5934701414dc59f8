#!/usr/bin/env python3
"""Search figures with 100k demo items on SQLite: two nodes on one database and data dir.

    bench/search_timing.py [--items N] [--duration 10s] [--baton PATH]

Prints: time to build the first index from the database (items/s); `baton reindex` (a full
rebuild into a new generation while search answers); wrk throughput and p50 with 32
connections, the same with 4 connections (where throughput and latency targets can hold at
once: with 32 connections a request waits behind 31 others on 2 cores), and p50 of a single
client, for a rare word, a common word and a common two-word query;
freshness (item created on the master → found by search on the other node), p50 and p95
over 20 items. --baton runs another build (e.g. of an earlier commit, to compare under the
same machine load) instead of this tree's release build.
"""
import argparse, json, os, re, shutil, socket, statistics, subprocess, tempfile, time, urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATON = os.path.join(ROOT, "target", "release", "baton")
PASSWORD = "search-bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, headers=None):
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


def wrk(port, token, query, duration, connections=32):
    threads = min(2, connections)
    output = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s",
                             os.path.join(ROOT, "bench", "search_query.lua"), f"http://127.0.0.1:{port}", "--",
                             token, urllib.parse.quote(query)], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"non-2xx answers for {query!r}:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = re.search(r"\s50%\s+(\S+)", output).group(1)
    return rate, p50


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100000)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--baton", help="the binary to measure (default: this tree's release build)")
    args = parser.parse_args()
    global BATON
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if args.baton:
        BATON = os.path.abspath(args.baton)
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="baton-search-")
    env = dict(os.environ, BATON_DATABASE_URL=f"sqlite://{work}/baton.db", BATON_DATA_DIR=f"{work}/data",
               BATON_LOG="warn", BATON_ADMIN_PASSWORD=PASSWORD)
    subprocess.run([BATON, "demo-data", "--items", str(args.items), "--seed", "1"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    port, other_port = free_port(), free_port()
    node = subprocess.Popen([BATON, "serve", "--listen", f"127.0.0.1:{port}", "--node-name", "a"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(f"{work}/node.log", "w"))
    base = f"http://127.0.0.1:{port}"
    other = None
    try:
        started = time.monotonic()
        while True:
            try:
                status, body, headers = call("POST", base + "/api/v1/session", {"login": "admin", "password": PASSWORD})
                break
            except OSError:
                time.sleep(0.05)
        cookie = headers["Set-Cookie"].split(";")[0]
        _, token_body, _ = call("POST", base + "/api/v1/tokens", {"name": "bench"},
                                {"Cookie": cookie, "X-CSRF-Token": body["csrf_token"]})
        auth = {"Authorization": "Bearer " + token_body["token"]}
        while True:
            status, cluster, _ = call("GET", base + "/api/v1/cluster", headers=auth)
            if cluster["search"]["generation"] and cluster["search"]["queue_depth"] == 0:
                break
            time.sleep(0.05)
        built = time.monotonic() - started
        print(f"| first index build, {args.items} items (node start → searchable, queue empty) | "
              f"{built:.1f} s ({args.items / built:,.0f} items/s incl. start) |")
        reindex = subprocess.run([BATON, "reindex"], env=env, check=True, capture_output=True, text=True).stdout
        print(f"| `baton reindex` (new generation while search answers, then switch) | "
              f"{reindex.strip().splitlines()[-1]} |")
        call("POST", base + "/api/v1/items", {"project": "OPS", "title": "Quetzal spotted near rack 7"}, auth)
        while call("GET", base + "/api/v1/search?q=quetzal", headers=auth)[1]["total"] != 1:
            time.sleep(0.05)
        for label, query in (("rare word", "quetzal"), ("common word", "login"), ("common two words", "login page")):
            rate, p50 = wrk(port, token_body["token"], query, args.duration)
            few_rate, few_p50 = wrk(port, token_body["token"], query, args.duration, connections=4)
            _, single_p50 = wrk(port, token_body["token"], query, "5s", connections=1)
            total = call("GET", base + "/api/v1/search?q=" + urllib.parse.quote(query), headers=auth)[1]["total"]
            print(f"| search, {label} ({query!r}, {total} hits, 25 per page) | {rate:,.0f} req/s, p50 {p50} "
                  f"with 32 connections; {few_rate:,.0f} req/s, p50 {few_p50} with 4; "
                  f"p50 {single_p50} for one client |")
        other = subprocess.Popen([BATON, "serve", "--listen", f"127.0.0.1:{other_port}", "--node-name", "b"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=open(f"{work}/other.log", "w"))
        other_base = f"http://127.0.0.1:{other_port}"
        while True:
            try:
                if call("GET", other_base + "/api/v1/search?q=quetzal", headers=auth)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        freshness = []
        for number in range(20):
            word = f"freshness{number}x"
            sent = time.monotonic()
            call("POST", base + "/api/v1/items", {"project": "OPS", "title": f"Check {word}"}, auth)
            while call("GET", other_base + "/api/v1/search?q=" + word, headers=auth)[1]["total"] != 1:
                time.sleep(0.01)
            freshness.append(time.monotonic() - sent)
        freshness.sort()
        print(f"| freshness: created on the master → found on the other node (20 items) | "
              f"p50 {statistics.median(freshness) * 1000:.0f} ms, p95 {freshness[18] * 1000:.0f} ms |")
    finally:
        for process in (node, other):
            if process is not None:
                process.terminate()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
