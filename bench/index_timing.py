#!/usr/bin/env python3
"""The search index under failover and under a stream of writes (release build, loopback).

    bench/index_timing.py takeover [--backend sqlite|postgres] [--timing short|default] [--runs 10]
                                   [--ways kill,pause] [--baton PATH]
    bench/index_timing.py disk [--items 100000] [--baton PATH]

takeover: three nodes, items created through a backup at about 25/s. Each run stops the master
(kill -9, or SIGSTOP until a new master has committed, then SIGCONT) and reads from the
database when the new master took the lease (its `acquired` event), approved its first index
commit (its generation, started from the last approved commit: readers move to it) and
approved the first commit carrying queued changes. All three times are the database's clock.
Prints median and max per way of stopping.

disk: two nodes on one SQLite database and data directory; wrk creates items through the
master at full speed until --items exist; then the index directory's size and file count
(hard links counted once) next to the size of the approved commit's segments, right away
and one minute later.

--baton measures another build (e.g. with another branch merged) instead of this tree's.
"""
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATON = os.path.join(ROOT, "target", "release", "baton")
TIMINGS = {"short": ("200ms", "1500ms"), "default": ("2s", "10s")}
PASSWORD = "index-timing-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=5):
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers
    except OSError:
        return None, None, None


class Database:
    """Queries on the cluster's database: sqlite3, or one psql session kept open."""

    def __init__(self, url, psql=None):
        self.sqlite = None
        if url.startswith("sqlite://"):
            import sqlite3
            self.sqlite = sqlite3.connect(url[len("sqlite://"):], timeout=10, isolation_level=None)
        else:
            self.psql = subprocess.Popen(psql + ["-d", "baton", "-q", "-F", "\t"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1)

    def rows(self, sql):
        if self.sqlite:
            return [tuple(str(value) for value in row) for row in self.sqlite.execute(sql).fetchall()]
        self.psql.stdin.write(sql.rstrip(";") + ";\nSELECT 'end-of-rows';\n")
        self.psql.stdin.flush()
        rows = []
        for line in self.psql.stdout:
            line = line.rstrip("\n")
            if line == "end-of-rows":
                return rows
            if line:
                rows.append(tuple(line.split("\t")))
        sys.exit("psql ended")


class Cluster:
    def __init__(self, backend, timing):
        self.work = tempfile.mkdtemp(prefix="baton-index-")
        os.chmod(self.work, 0o755)
        self.heartbeat, self.timeout = TIMINGS[timing]
        self.postgres, self.psql = None, None
        self.url = self.start_postgres() if backend == "postgres" else f"sqlite://{self.work}/baton.db"
        self.nodes = {}

    def start_postgres(self):
        data, port = os.path.join(self.work, "pg"), free_port()
        run = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        os.makedirs(data)
        if run:
            shutil.chown(data, "postgres")
        subprocess.run(run + ["initdb", "-D", data + "/data", "-U", "postgres", "--auth=trust", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        self.postgres = subprocess.Popen(run + ["postgres", "-D", data + "/data", "-p", str(port), "-k", data,
                                                "-c", "listen_addresses=127.0.0.1"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tA"]
        for _ in range(100):
            if subprocess.run(self.psql + ["-c", "CREATE DATABASE baton"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        return f"postgres://postgres@127.0.0.1:{port}/baton"

    def start(self, name):
        port = free_port()
        env = dict(os.environ, BATON_DATABASE_URL=self.url, BATON_DATA_DIR=self.work + "/data", BATON_LOG="warn",
                   BATON_ADMIN_PASSWORD=PASSWORD, BATON_CLUSTER__HEARTBEAT_INTERVAL=self.heartbeat,
                   BATON_CLUSTER__NODE_TIMEOUT=self.timeout)
        process = subprocess.Popen([BATON, "serve", "--listen", f"127.0.0.1:{port}", "--node-name", name], env=env,
                                   stdout=subprocess.DEVNULL, stderr=open(f"{self.work}/{name}.log", "a"))
        self.nodes[name] = (port, process)
        deadline = time.monotonic() + 60
        while self.ping(name) is None:
            if time.monotonic() > deadline:
                sys.exit(f"node {name} did not start; see {self.work}/{name}.log")
            time.sleep(0.02)

    def base(self, name):
        return f"http://127.0.0.1:{self.nodes[name][0]}"

    def ping(self, name):
        status, body, _ = http("GET", self.base(name) + "/api/v1/system/ping", timeout=2)
        return body if status else None

    def wait_master(self, among, limit=60):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for name in among:
                body = self.ping(name)
                if body and body.get("master"):
                    return name
            time.sleep(0.005)
        self.fail(f"no master among {among} within {limit} s")

    def fail(self, reason):
        for name in sorted(os.listdir(self.work)):
            if name.endswith(".log"):
                with open(os.path.join(self.work, name)) as log:
                    print(f"--- {name}\n" + "".join(log.readlines()[-15:]), file=sys.stderr)
        sys.exit(reason)

    def token(self, name):
        status, body, headers = http("POST", self.base(name) + "/api/v1/session",
                                     {"login": "admin", "password": PASSWORD})
        request = urllib.request.Request(self.base(name) + "/api/v1/tokens", method="POST",
                                         data=json.dumps({"name": "bench"}).encode())
        for key, value in (("Content-Type", "application/json"), ("Cookie", headers["Set-Cookie"].split(";")[0]),
                           ("X-CSRF-Token", body["csrf_token"])):
            request.add_header(key, value)
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())["token"]

    def signal(self, name, number):
        self.nodes[name][1].send_signal(number)

    def kill(self, name):
        _, process = self.nodes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def close(self):
        for name in list(self.nodes):
            self.signal(name, signal.SIGCONT)
            self.kill(name)
        if self.postgres:
            self.postgres.terminate()
            self.postgres.wait()
        shutil.rmtree(self.work, ignore_errors=True)


def seconds(duration):
    """'1500ms' or '10s' in seconds."""
    return float(duration[:-2]) / 1000 if duration.endswith("ms") else float(duration[:-1])


def stamp(text):
    """A database timestamp (UTC, with or without fractions) in seconds."""
    text = text.replace("T", " ")
    seconds = time.mktime(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S"))
    return seconds + (float("0" + text[19:]) if len(text) > 19 else 0.0)


def takeover(args):
    cluster = Cluster(args.backend, args.timing)
    try:
        names = ["n1", "n2", "n3"]
        for name in names:
            cluster.start(name)
        master = cluster.wait_master(names)
        database = Database(cluster.url, cluster.psql)
        token = cluster.token(master)
        http("POST", cluster.base(master) + "/api/v1/projects", {"key": "OPS", "name": "Ops"}, token)
        stop = threading.Event()

        def create():
            number = 0
            while not stop.is_set():
                for name in list(cluster.nodes):
                    body = cluster.ping(name)
                    if body and not body.get("master"):
                        http("POST", cluster.base(name) + "/api/v1/items",
                             {"project": "OPS", "title": f"Takeover item {number}"}, token, timeout=2)
                        number += 1
                        break
                time.sleep(0.04)

        writer = threading.Thread(target=create)
        writer.start()
        # The commits of an epoch are read as they are approved: the collector removes
        # replaced ones within a second.
        seen = {}

        def watch():
            database = Database(cluster.url, cluster.psql)
            while not stop.is_set():
                for row in database.rows("SELECT id, epoch, applied, committed_at FROM index_commits"):
                    seen.setdefault(row[0], row)
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        ways = [{"kill": "kill -9", "pause": "SIGSTOP"}[way] for way in args.ways.split(",")]
        results = {way: ([], []) for way in ways}
        try:
            for run in range(args.runs * len(ways)):
                way = ways[run % len(ways)]
                print(f"run {run + 1}: {way}", file=sys.stderr)
                master = cluster.wait_master(list(cluster.nodes))
                (epoch,) = database.rows("SELECT epoch FROM cluster_lease")[0]
                time.sleep(1)
                if way == "kill -9":
                    cluster.kill(master)
                else:
                    cluster.signal(master, signal.SIGSTOP)
                survivors = [name for name in cluster.nodes if name != master]
                cluster.wait_master(survivors)
                new_epoch = int(epoch) + 1
                deadline = time.monotonic() + 30
                while True:
                    mine = sorted((row for row in seen.values() if int(row[1]) == new_epoch), key=lambda row: int(row[0]))
                    applied = [row for row in mine if "queue rows" in row[2]]
                    if mine and applied:
                        break
                    if time.monotonic() > deadline:
                        cluster.fail(f"epoch {new_epoch} committed nothing")
                    time.sleep(0.05)
                (acquired,) = database.rows("SELECT at FROM cluster_events WHERE kind = 'acquired' "
                                            f"AND epoch = {new_epoch}")[0]
                results[way][0].append(stamp(mine[0][3]) - stamp(acquired))
                results[way][1].append(stamp(applied[0][3]) - stamp(acquired))
                if way == "kill -9":
                    cluster.start(master)
                else:
                    cluster.signal(master, signal.SIGCONT)
                    time.sleep(seconds(cluster.timeout))
        finally:
            stop.set()
            writer.join()
            watcher.join()
        label = f"{args.backend}, {cluster.heartbeat} / {cluster.timeout}"
        for way, (first, applied) in results.items():
            print(f"| {label} | {way}: takeover → first approved commit (readers move) | "
                  f"{statistics.median(first) * 1000:.0f} ms | {max(first) * 1000:.0f} ms |")
            print(f"| {label} | {way}: takeover → first commit with queued changes | "
                  f"{statistics.median(applied) * 1000:.0f} ms | {max(applied) * 1000:.0f} ms |")
    finally:
        cluster.close()


def index_size(index_dir, database):
    """(bytes, files) under the index directory, hard links once; bytes of the approved commit's segments."""
    inodes, total, files = set(), 0, 0
    for folder, _, names in os.walk(index_dir):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            files += 1
            if info.st_ino not in inodes:
                inodes.add(info.st_ino)
                total += info.st_size
    generation, meta = database.rows("SELECT generation, meta FROM index_commits ORDER BY id DESC LIMIT 1")[0]
    live = 0
    for segment in json.loads(meta)["segments"]:
        uuid = segment["segment_id"].replace("-", "")
        deletes = segment.get("deletes")
        for name in os.listdir(os.path.join(index_dir, generation)):
            if not name.startswith(uuid + ".") or name.endswith("temp"):
                continue
            if name.endswith(".del") and (not deletes or name != f"{uuid}.{deletes['opstamp']}.del"):
                continue
            live += os.path.getsize(os.path.join(index_dir, generation, name))
    return total, files, live


def disk(args):
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    cluster = Cluster("sqlite", "default")
    try:
        for name in ("a", "b"):
            cluster.start(name)
        master = cluster.wait_master(["a", "b"])
        token = cluster.token(master)
        http("POST", cluster.base(master) + "/api/v1/projects", {"key": "OPS", "name": "Ops"}, token)
        database = Database(cluster.url)
        started = time.monotonic()
        while int(database.rows("SELECT COUNT(*) FROM items")[0][0]) < args.items:
            output = subprocess.run(["wrk", "-t2", "-c16", "-d10s", "-s", os.path.join(ROOT, "bench", "create_item.lua"),
                                     cluster.base(master), "--", token], capture_output=True, text=True).stdout
            if "Non-2xx" in output:
                sys.exit(f"item creations failed:\n{output}")
        created = int(database.rows("SELECT COUNT(*) FROM items")[0][0])
        rate = created / (time.monotonic() - started)
        index_dir = os.path.join(cluster.work, "data", "index")
        for moment in ("right after", "one minute later"):
            if moment != "right after":
                time.sleep(60)
            total, files, live = index_size(index_dir, database)
            queued = int(database.rows("SELECT COUNT(*) FROM index_queue")[0][0])
            print(f"| {created:,} items at {rate:,.0f} items/s, {moment} | {total / 1e6:,.1f} MB in {files:,} files "
                  f"| live segments {live / 1e6:,.1f} MB ({total / max(live, 1):.2f}×) | {queued:,} changes queued |")
    finally:
        cluster.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("measure", choices=["takeover", "disk"])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--timing", choices=list(TIMINGS), default="short")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--items", type=int, default=100000)
    parser.add_argument("--ways", default="kill,pause", help="how the master is stopped: kill, pause or both")
    parser.add_argument("--baton", help="the binary to measure (default: this tree's release build)")
    args = parser.parse_args()
    global BATON
    if args.baton:
        BATON = os.path.abspath(args.baton)
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    takeover(args) if args.measure == "takeover" else disk(args)


if __name__ == "__main__":
    main()
