#!/usr/bin/env python3
"""Failover and handover times of a 3-node Baton cluster, and database load at rest.

    bench/cluster_timing.py [--backend sqlite|postgres] [--timing short|default] [--runs N]
    bench/cluster_timing.py --duty-statements ITEMS

Starts three release-build nodes on loopback against one database. Failover: kill -9 the
master, time until a survivor's ping reports it acts as master. Handover: POST
/api/v1/cluster/master naming a backup, time until that node acts as master. On PostgreSQL
also: the master paused (SIGSTOP) and cut off (its proxy to PostgreSQL goes silent) at a
moment it holds a fenced transaction open (the probe duty with cluster.probe_hold, seen in
pg_stat_activity), time until a survivor acts as master; and committed statements per node
per second at rest (pg_stat_database.xact_commit). Prints a Markdown row per measurement
(median and max over --runs).

--duty-statements ITEMS: one node on PostgreSQL with ITEMS demo items and as many sent
notifications and cluster events old enough to be pruned; runs a full reindex and the prune
job and prints the longest statements of the master-duty sessions (PostgreSQL's
log_min_duration_statement), against which the duties' statement_timeout is chosen.
"""
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATON = os.path.join(ROOT, "target", "release", "baton")
TIMINGS = {"short": ("500ms", "3s"), "default": ("2s", "10s")}
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


def millis(text):
    """"500ms" or "3s" in milliseconds."""
    value, unit = re.fullmatch(r"(\d+)(ms|s)", text).groups()
    return int(value) * (1 if unit == "ms" else 1000)


class Proxy:
    """A TCP relay to PostgreSQL whose cut() makes the link silent (connections stay open, no
    byte passes) and heal() lets the held bytes through, like tests/it/support/proxy.rs."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.open = threading.Event()
        self.open.set()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.relay, args=(source, sink), daemon=True).start()

    def relay(self, source, sink):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            self.open.wait()
            try:
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return

    def cut(self):
        self.open.clear()

    def heal(self):
        self.open.set()


class Cluster:
    def __init__(self, backend, timing, postgres_settings=()):
        self.work = tempfile.mkdtemp(prefix="baton-timing-")
        os.chmod(self.work, 0o755)
        self.heartbeat, self.timeout = TIMINGS[timing]
        self.postgres = None
        if backend == "postgres":
            self.url = self.start_postgres(postgres_settings)
        else:
            self.url = f"sqlite://{self.work}/baton.db"
        self.nodes = {}
        self.proxies = {}
        self.settings = {}

    def start_postgres(self, settings):
        data, port = os.path.join(self.work, "pg"), free_port()
        run = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        os.makedirs(data)
        if run:
            shutil.chown(data, "postgres")
        subprocess.run(run + ["initdb", "-D", data + "/data", "-U", "postgres", "--auth=trust", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        options = [argument for setting in settings for argument in ("-c", setting)]
        self.postgres_log = os.path.join(data, "postgres.log")
        self.postgres = subprocess.Popen(run + ["postgres", "-D", data + "/data", "-p", str(port), "-k", data,
                                                "-c", "listen_addresses=127.0.0.1"] + options,
                                         stdout=subprocess.DEVNULL, stderr=open(self.postgres_log, "w"))
        self.pg_port = port
        self.pg = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tA"]
        for _ in range(100):
            if subprocess.run(self.pg + ["-c", "CREATE DATABASE baton"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        self.pg.append("baton")
        return f"postgres://postgres@127.0.0.1:{port}/baton"

    def sql(self, statement):
        return subprocess.run(self.pg + ["-c", statement], capture_output=True, text=True, check=True).stdout.strip()

    def behind_proxy(self, name):
        """The node's database URL, through a proxy of its own that the benchmark can cut."""
        if name not in self.proxies:
            self.proxies[name] = Proxy(self.pg_port)
        return self.url.replace(f":{self.pg_port}/", f":{self.proxies[name].port}/")

    def start(self, name, **settings):
        port = free_port()
        self.settings[name] = settings
        env = dict(os.environ, BATON_DATABASE_URL=self.url, BATON_DATA_DIR=self.work + "/data", BATON_LOG="warn",
                   BATON_ADMIN_PASSWORD=PASSWORD, BATON_CLUSTER__HEARTBEAT_INTERVAL=self.heartbeat,
                   BATON_CLUSTER__NODE_TIMEOUT=self.timeout)
        env.update(settings)
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

    def open_fenced_transaction(self, name):
        """(pid, start) of the fenced transaction the node holds open now, if any."""
        found = self.sql(
            "SELECT activity.pid || ' ' || activity.xact_start FROM pg_stat_activity activity "
            f"WHERE activity.application_name = 'baton {name} duties' AND activity.state = 'idle in transaction' "
            "AND EXISTS (SELECT 1 FROM pg_locks lock WHERE lock.pid = activity.pid AND lock.granted "
            "AND lock.relation = 'cluster_lease'::regclass AND lock.mode = 'RowShareLock')")
        return found or None

    def stick(self, name, how):
        """Pauses or cuts off `name` at a moment it holds a fenced transaction open."""
        while True:
            deadline = time.monotonic() + 30
            opened = None
            while not opened:
                if time.monotonic() > deadline:
                    sys.exit(f"{name} never held a fenced transaction open; see {self.work}/{name}.log")
                opened = self.open_fenced_transaction(name)
            self.apply(name, how)
            stuck_at, stuck_wall = time.monotonic(), time.time()
            if self.open_fenced_transaction(name) == opened:
                return stuck_at, stuck_wall
            self.lift(name, how)

    def apply(self, name, how):
        if how == "pause":
            self.nodes[name][1].send_signal(signal.SIGSTOP)
        else:
            self.proxies[name].cut()

    def lift(self, name, how):
        if how == "pause":
            self.nodes[name][1].send_signal(signal.SIGCONT)
        else:
            self.proxies[name].heal()

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


def load(cluster):
    """Committed transactions per node per second with three idle nodes (PostgreSQL)."""
    time.sleep(3)
    count = lambda: int(cluster.sql("SELECT xact_commit FROM pg_stat_database WHERE datname = 'baton'"))
    before, started = count(), time.monotonic()
    time.sleep(10)
    return (count() - before - 1) / (time.monotonic() - started) / len(cluster.nodes)


def stuck_failovers(args, label, bound):
    """The master paused or cut off inside a fenced transaction: time until a survivor acts."""
    cluster = Cluster("postgres", args.timing)
    try:
        names = ["n1", "n2", "n3"]
        # The probe keeps each fenced transaction open for two heartbeats (below
        # node_timeout − heartbeat_interval, after which PostgreSQL ends it).
        hold = f"{2 * millis(cluster.heartbeat)}ms"
        for name in names:
            cluster.start(name, BATON_DATABASE_URL=cluster.behind_proxy(name), BATON_CLUSTER__PROBE_DUTY="true",
                          BATON_CLUSTER__PROBE_HOLD=hold)
        for how, what in (("pause", "paused (SIGSTOP)"), ("cut", "cut off (silent link)")):
            took, taken = [], []
            for _ in range(args.runs):
                master, _ = cluster.wait_master()
                survivors = [name for name in names if name != master]
                stuck_at, stuck_wall = cluster.stick(master, how)
                cluster.wait_master(survivors)
                took.append(time.monotonic() - stuck_at)
                # The database's side: when the lease was taken (same host clock).
                acquired = float(cluster.sql("SELECT extract(epoch FROM at) FROM cluster_events "
                                             "WHERE kind = 'acquired' ORDER BY id DESC LIMIT 1"))
                taken.append(acquired - stuck_wall)
                cluster.lift(master, how)
                while (cluster.ping(master) or {}).get("master"):
                    time.sleep(0.01)
                time.sleep(2 * millis(cluster.heartbeat) / 1000)
            print(f"| {label} | failover: master {what} inside a fenced transaction → new master acting "
                  f"| {summary(took)} | {bound} |")
            print(f"| {label} | … of which until the lease was taken (database clock) | {summary(taken)} | |")
    finally:
        cluster.close()


def duty_statements(items):
    """The longest statements of the master-duty sessions through a reindex and a prune."""
    cluster = Cluster("postgres", "default", ["log_min_duration_statement=20", "log_line_prefix=%a|"])
    try:
        env = dict(os.environ, BATON_DATABASE_URL=cluster.url, BATON_DATA_DIR=cluster.work + "/data",
                   BATON_LOG="warn", BATON_ADMIN_PASSWORD=PASSWORD)
        subprocess.run([BATON, "demo-data", "--items", str(items), "--seed", "1"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        # Rows the prune job removes: notifications sent 40 days ago, cluster events 8 days old.
        cluster.sql(f"INSERT INTO mail_outbox (item_id, recipient_id, actor_id, event, created_at, sent_at) "
                    f"SELECT 1, 1, 1, 'created', now() - interval '40 days', now() - interval '40 days' "
                    f"FROM generate_series(1, {items})")
        cluster.sql(f"INSERT INTO cluster_events (at, node, kind, reason) SELECT now() - interval '8 days', 'old', "
                    f"'joined', '' FROM generate_series(1, {items})")
        cluster.start("n1")
        cluster.wait_master()
        for command in (["reindex"], ["jobs", "run", "prune"]):
            started = time.monotonic()
            subprocess.run([BATON] + command, env=env, check=True, stdout=subprocess.DEVNULL)
            print(f"baton {' '.join(command)}: {time.monotonic() - started:.1f} s", file=sys.stderr)
        durations = []
        for line in open(cluster.postgres_log):
            match = re.match(r"baton \S+ duties\|.*duration: ([\d.]+) ms\s+(?:statement|execute [^:]*): (.*)", line)
            if match:
                durations.append((float(match.group(1)), match.group(2)[:100]))
        durations.sort(reverse=True)
        print(f"| master-duty statements over 20 ms, {items} items: reindex + prune | {len(durations)} |")
        for duration, statement in durations[:5]:
            print(f"| {duration:.0f} ms | `{statement}` |")
    finally:
        cluster.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--timing", choices=list(TIMINGS), default="short")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--duty-statements", type=int, metavar="ITEMS")
    args = parser.parse_args()
    if not os.path.exists(BATON):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if args.duty_statements:
        return duty_statements(args.duty_statements)
    heartbeat, timeout = TIMINGS[args.timing]
    label = f"{args.backend}, {heartbeat} / {timeout}"
    bound = f"≤ {(millis(timeout) + 2 * millis(heartbeat)):,} ms"
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    cluster = Cluster(args.backend, args.timing)
    try:
        names = ["n1", "n2", "n3"]
        for name in names:
            cluster.start(name)
        master, _ = cluster.wait_master()
        if cluster.postgres:
            print(f"| {label} | database load at rest | {load(cluster):.1f} transactions/s per node | |")

        token = cluster.token(master)
        handovers = []
        for _ in range(args.runs):
            master, _ = cluster.wait_master()
            target = next(name for name in names if name != master)
            started = time.monotonic()
            status, body, _ = http("POST", f"http://127.0.0.1:{cluster.nodes[master][0]}/api/v1/cluster/master",
                                   {"node": target}, token)
            if status != 200:
                sys.exit(f"handover failed: {status} {body}")
            cluster.wait_master([target])
            handovers.append(time.monotonic() - started)
        print(f"| {label} | handover: request → new master acting | {summary(handovers)} | |")

        failovers = []
        for _ in range(args.runs):
            master, _ = cluster.wait_master()
            survivors = [name for name in names if name != master]
            cluster.kill(master)
            _, took = cluster.wait_master(survivors)
            failovers.append(took)
            cluster.start(master)
        print(f"| {label} | failover: master killed (kill -9) → new master acting | {summary(failovers)} | {bound} |")
    finally:
        cluster.close()
    if args.backend == "postgres":
        stuck_failovers(args, label, bound)
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
