#!/usr/bin/env python3
"""Failover and handover times of a 3-node Baton cluster, and database load at rest.

    bench/cluster_timing.py [--backend sqlite|postgres] [--timing short|default] [--runs N]

Starts three release-build nodes on loopback against one database. Failover: kill -9 the
master, time until a survivor's ping reports it acts as master. Handover: POST
/api/v1/cluster/master naming a backup, time until that node acts as master. Prints a
Markdown row per measurement (median and max over --runs). On PostgreSQL it also counts
committed statements per node per second at rest (pg_stat_database.xact_commit).
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATON = os.path.join(ROOT, "target", "release", "baton")
TIMINGS = {"short": ("200ms", "1500ms"), "default": ("2s", "10s")}
PASSWORD = "timing-admin-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=30):
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


class Cluster:
    def __init__(self, backend, timing):
        self.work = tempfile.mkdtemp(prefix="baton-timing-")
        os.chmod(self.work, 0o755)
        self.heartbeat, self.timeout = TIMINGS[timing]
        self.postgres = None
        if backend == "postgres":
            self.url = self.start_postgres()
        else:
            self.url = f"sqlite://{self.work}/baton.db"
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
        self.pg = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tA"]
        for _ in range(100):
            if subprocess.run(self.pg + ["-c", "CREATE DATABASE baton"], capture_output=True).returncode == 0:
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

    def ping(self, name):
        status, body, _ = http("GET", f"http://127.0.0.1:{self.nodes[name][0]}/api/v1/system/ping", timeout=2)
        return body if status else None

    def master(self, among=None):
        for name in among or list(self.nodes):
            body = self.ping(name)
            if body and body.get("master"):
                return name
        return None

    def wait_master(self, among=None, limit=60):
        started = time.monotonic()
        while time.monotonic() - started < limit:
            found = self.master(among)
            if found:
                return found, time.monotonic() - started
            time.sleep(0.005)
        sys.exit("no master")

    def kill(self, name):
        _, process = self.nodes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def token(self, name):
        port = self.nodes[name][0]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/session", method="POST",
                                         data=json.dumps({"login": "admin", "password": PASSWORD}).encode())
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]
            csrf = json.loads(response.read())["csrf_token"]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/tokens", method="POST",
                                         data=json.dumps({"name": "timing"}).encode())
        for key, value in (("Content-Type", "application/json"), ("Cookie", cookie), ("X-CSRF-Token", csrf)):
            request.add_header(key, value)
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())["token"]

    def close(self):
        for name in list(self.nodes):
            self.kill(name)
        if self.postgres:
            self.postgres.terminate()
            self.postgres.wait()
        shutil.rmtree(self.work, ignore_errors=True)


def summary(values):
    return f"{statistics.median(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--timing", choices=list(TIMINGS), default="short")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if not os.path.exists(BATON):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    cluster = Cluster(args.backend, args.timing)
    try:
        names = ["n1", "n2", "n3"]
        for name in names:
            cluster.start(name)
        master, _ = cluster.wait_master()
        label = f"{args.backend}, {args.timing} ({cluster.heartbeat} / {cluster.timeout})"

        if cluster.postgres:
            time.sleep(3)
            count = lambda: int(subprocess.run(cluster.pg + ["-c", "SELECT xact_commit FROM pg_stat_database "
                                                             "WHERE datname = 'baton'"],
                                               capture_output=True, text=True).stdout.strip())
            before, started = count(), time.monotonic()
            time.sleep(10)
            per_node = (count() - before - 1) / (time.monotonic() - started) / len(names)
            print(f"| {label} | database load at rest | {per_node:.1f} statements/s per node | |")

        token = cluster.token(master)
        handovers, api_handovers = [], []
        for _ in range(args.runs):
            master, _ = cluster.wait_master()
            target = next(name for name in names if name != master)
            started = time.monotonic()
            status, body, _ = http("POST", f"http://127.0.0.1:{cluster.nodes[master][0]}/api/v1/cluster/master",
                                   {"node": target}, token)
            if status != 200:
                sys.exit(f"handover failed: {status} {body}")
            api_handovers.append(body["elapsed_ms"] / 1000)
            _, took = cluster.wait_master([target])
            handovers.append(time.monotonic() - started)
        print(f"| {label} | handover: request → new master acting | {summary(handovers)} |")

        failovers = []
        for _ in range(args.runs):
            master, _ = cluster.wait_master()
            survivors = [name for name in names if name != master]
            cluster.kill(master)
            _, took = cluster.wait_master(survivors)
            failovers.append(took)
            cluster.start(master)
        print(f"| {label} | failover: kill -9 → new master acting | {summary(failovers)} |")
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
