"""The fleet role on PostgreSQL (issue 19), measured against the same hub on SQLite and against bare psycopg.

Every hub figure drives the same load: `CLIENTS` threads, each with its own kept-alive HTTP
connection (http.client: cheap, as the load generator shares the machine), sending relay-shaped
writes (`POST /progress/` with a fresh `Idempotency-Key`, what a dev hub's relay sends) as fast as
they are answered; writes/s = writes acknowledged / wall time.

- PostgreSQL vs SQLite: one fleet hub with `--database` vs the same hub on its embedded SQLite
  journal, same load. Target >= 0.7x.
- two replicas vs one: two fleet hubs on one database with the clients spread over them (client i
  on replica i % 2, as a connection-level balancer spreads kept-alive clients) vs the one hub with
  every client on it. Target >= 1.6x. Informational next to it: both behind the in-process
  round-robin balancer (tests/support/roundrobin.py; a new upstream connection per request).
- the PostgreSQL floor: bare INSERTs of the same rows through psycopg, one transaction each, same
  number of threads and the same commit settings (fsync and synchronous_commit on, the server's
  defaults). Next to it, informational: one transaction per write shaped as the hub's (take the seq
  from the locked head row, insert, NOTIFY, commit) — what the hub did before group commit.

The cluster is a throwaway one (tests/support/postgres.py) started with the server's durable
defaults, unlike the test cluster's fsync=off. Without the PostgreSQL binaries the module is
reported as skipped with the reason. CPU seconds of each daemon, of PostgreSQL, of the load
generator and of the whole machine (other sessions included) are reported with the hub figures,
and how the hub's group commit batched (`group_commit`): on a shared 2-core machine they say
where the time went.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import figure, log
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.postgres import SKIP_REASON, PgCluster, _bin_dir, _server_user
from tests.support.repos import make_workspace
from tests.support.roundrobin import RoundRobin

CLIENTS = 16  # enough writes in flight for group commit to batch, and for two replicas to share
TICKS = os.sysconf("SC_CLK_TCK")


class DurableCluster(PgCluster):
    """The throwaway cluster with the server's own durability defaults (fsync, full_page_writes on)."""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])


def skip_reason() -> str | None:
    """Why PostgreSQL cannot be started here, or None when it can."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        return SKIP_REASON
    if os.geteuid() == 0 and _server_user() is None:
        return "running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install devhub[postgres])"
    return None


@contextlib.contextmanager
def durable_cluster() -> Iterator[DurableCluster]:
    bin_dir = _bin_dir()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="devhub-bench-pg-"))
    cluster = DurableCluster(bin_dir, root, _server_user())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# -- CPU accounting (Linux /proc) ------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "


def process_cpu(pid: int) -> float:
    """CPU seconds of `pid` (user + system, with its waited-for children)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def tree_cpu(root_pid: int) -> float:
    """CPU seconds of `root_pid` and its live children (PostgreSQL: the postmaster and its backends)."""
    total = process_cpu(root_pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != root_pid:
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == root_pid:
                total += process_cpu(int(entry.name))
    return total


def machine_busy_cpu() -> float:
    """CPU seconds the whole machine spent busy (every process, other sessions' too), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / TICKS


class CpuMeter:
    """CPU seconds spent by named processes (and this load generator) between start() and stop()."""

    def __init__(self, probes: dict[str, Callable[[], float]]) -> None:
        self.probes = {**probes, "load generator": time.process_time}
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}
        self._machine = 0.0
        self._started = 0.0

    def start(self) -> None:
        self.before = {name: probe() for name, probe in self.probes.items()}
        self._machine, self._started = machine_busy_cpu(), time.perf_counter()

    def stop(self) -> dict[str, float]:
        """CPU seconds per probe, plus `machine busy` (all processes), `other processes` (machine busy minus
        ours: the other sessions sharing the machine) and `machine capacity` (wall time x cores)."""
        self.spent = {name: round(probe() - self.before[name], 2) for name, probe in self.probes.items()}
        busy = machine_busy_cpu() - self._machine
        self.spent["machine busy"] = round(busy, 2)
        self.spent["other processes"] = round(
            max(0.0, busy - sum(v for k, v in self.spent.items() if k != "machine busy")), 2
        )
        self.spent["machine capacity"] = round((time.perf_counter() - self._started) * (os.cpu_count() or 1), 2)
        return self.spent


class WaitSampler:
    """What the database's client backends are doing, sampled every 5 ms from pg_stat_activity while a load runs.

    `counts` maps "state: wait_event_type/wait_event" (e.g. "active: Lock/transactionid" for a backend
    queued behind the head-row lock, "active: IO/WALSync" for a commit's fsync, "idle in transaction:
    Client/ClientRead" for a transaction waiting on its hub's next statement) to how many samples saw it.
    """

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="pg-wait-sampler", daemon=True)

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-') FROM pg_stat_activity"
                    " WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                    " AND state <> 'idle'",
                    (self.database,),
                ).fetchall()
                for state, kind, event in rows:
                    label = f"{state}: {kind}/{event}"
                    self.counts[label] = self.counts.get(label, 0) + 1
                self._stop.wait(0.005)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def top(self, count: int = 6) -> dict[str, int]:
        return dict(sorted(self.counts.items(), key=lambda item: -item[1])[:count])


# -- load ------------------------------------------------------------------------------------------


def concurrent_rate(per_thread: Callable[[int, int], Callable[[], None]], threads: int, total: int) -> float:
    """Operations/s with `threads` workers doing `total` operations between them (all started together).

    `per_thread(worker, count)` sets a worker up (untimed) and returns its timed loop.
    """
    counts = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    loops = [per_thread(i, counts[i]) for i in range(threads)]
    errors: list[BaseException] = []
    start_line = threading.Barrier(threads + 1)

    def work(loop: Callable[[], None]) -> None:
        start_line.wait()
        try:
            loop()
        except BaseException as exc:  # reported below: a failed write must fail the figure
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(loop,)) for loop in loops]
    for worker in workers:
        worker.start()
    start_line.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} load thread(s) failed, first: {errors[0]!r}")
    return total / elapsed


def relayed_writes_rate(ports: list[int], total: int, tag: str) -> float:
    """Relay-shaped writes/s: POST /progress/ with a fresh Idempotency-Key each, CLIENTS kept-alive connections.

    Client `i` talks to `ports[i % len(ports)]`: with several replicas that is how a connection-level
    balancer (a Kubernetes Service, DNS round robin) spreads kept-alive clients. http.client rather than
    httpx: the load generator shares the 2 cores with what it measures, and costs ~4x less CPU per request.
    """

    def per_thread(worker: int, count: int) -> Callable[[], None]:
        conn = http.client.HTTPConnection("127.0.0.1", ports[worker % len(ports)], timeout=60)

        def loop() -> None:
            try:
                for index in range(count):
                    body = json.dumps({"summary": f"{tag}: {worker}-{index}", "author": "bench-relay"})
                    headers = {
                        "Content-Type": "application/json",
                        "Idempotency-Key": f"{tag}-{worker}-{index}-{uuid.uuid4().hex[:8]}",
                    }
                    conn.request("POST", "/progress/", body=body.encode(), headers=headers)
                    answer = conn.getresponse()
                    text = answer.read()
                    if answer.status != 201:
                        raise RuntimeError(f"POST /progress/ answered {answer.status}: {text[:300]!r}")
            finally:
                conn.close()

        return loop

    return concurrent_rate(per_thread, CLIENTS, total)


def acknowledged(hub: RunningDaemon) -> int:
    seq: int = hub.get("/state/daemon").json()["journal"]["last_seq"]
    return seq


# -- the psycopg floors ------------------------------------------------------------------------------

FLOOR_SCHEMA = """
CREATE TABLE floor_writes (seq bigint PRIMARY KEY, id uuid NOT NULL, ts text NOT NULL, kind text NOT NULL,
                           idempotency_key text NOT NULL UNIQUE, envelope jsonb NOT NULL, node text NOT NULL);
CREATE SEQUENCE floor_seq;
CREATE TABLE floor_head (seq bigint NOT NULL);
INSERT INTO floor_head VALUES (0);
"""


def _floor_envelope(key: str) -> str:
    return (
        '{"kind": "progress", "body": {"summary": "floor write", "author": "bench-relay"}, "idempotency_key": "'
        + key
        + '"}'
    )


def psycopg_rate(url: str, total: int, *, head_row: bool) -> float:
    """Committed INSERTs/s through psycopg, CLIENTS connections, one transaction per write.

    head_row=False: the bare floor (seq from a sequence, no lock). head_row=True: the hub's transaction
    shape — UPDATE the one head row for the seq (held to the commit), INSERT, pg_notify, COMMIT.
    """
    import psycopg

    def per_thread(worker: int, count: int) -> Callable[[], None]:
        conn = psycopg.connect(url, autocommit=True)

        def loop() -> None:
            with conn:
                for index in range(count):
                    key = f"floor-{head_row}-{worker}-{index}-{uuid.uuid4().hex[:8]}"
                    if head_row:
                        with conn.transaction():
                            (seq,) = conn.execute("UPDATE floor_head SET seq = seq + 1 RETURNING seq").fetchone()
                            conn.execute(
                                "INSERT INTO floor_writes VALUES (%s, %s, now()::text, 'progress', %s, %s::jsonb, 'f')",
                                (seq, uuid.uuid4(), key, _floor_envelope(key)),
                            )
                            conn.execute("SELECT pg_notify('floor', %s)", (str(seq),))
                    else:
                        conn.execute(
                            "INSERT INTO floor_writes VALUES (nextval('floor_seq') + 1000000000, %s, now()::text,"
                            " 'progress', %s, %s::jsonb, 'f')",
                            (uuid.uuid4(), key, _floor_envelope(key)),
                        )

        return loop

    return concurrent_rate(per_thread, CLIENTS, total)


# -- the run -------------------------------------------------------------------------------------------


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    reason = skip_reason()
    if reason is not None:
        log(f"bench_fleetpg: skipped: {reason}")
        return {"figures": [], "skipped": reason}
    total = 80 if quick else 2000
    warmup = 16 if quick else 100
    repos = make_workspace(workdir / "ws", ["the-custodian"])
    with durable_cluster() as cluster:
        import psycopg

        floor_url = cluster.create_database()
        with psycopg.connect(floor_url, autocommit=True) as conn:
            conn.execute(FLOOR_SCHEMA)
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
            }
        postgres_cpu = CpuMeter({"postgresql": lambda: tree_cpu(cluster.postmaster_pid())})
        log(f"bench_fleetpg: psycopg floors, {total} writes on {CLIENTS} connections ({settings})")
        psycopg_rate(floor_url, warmup, head_row=False)
        postgres_cpu.start()
        with WaitSampler(cluster.url(), floor_url.rsplit("/", 1)[1]) as bare_waits:
            bare_rate = psycopg_rate(floor_url, total, head_row=False)
        bare_cpu = postgres_cpu.stop()
        postgres_cpu.start()
        with WaitSampler(cluster.url(), floor_url.rsplit("/", 1)[1]) as head_waits:
            head_rate = psycopg_rate(floor_url, total, head_row=True)
        head_cpu = postgres_cpu.stop()

        log("bench_fleetpg: the same fleet hub on SQLite")
        sqlite_hub = start_daemon(workdir / "sqlite", repos, role="fleet", timeout=120)
        try:
            relayed_writes_rate([sqlite_hub.port], warmup, "warm-sqlite")
            meter = CpuMeter({"hub": lambda: process_cpu(sqlite_hub.proc.pid)})
            meter.start()
            sqlite_rate = relayed_writes_rate([sqlite_hub.port], total, "sqlite")
            sqlite_cpu = meter.stop()
            if acknowledged(sqlite_hub) != total + warmup:
                raise RuntimeError("the SQLite fleet hub journaled a different number of writes than were sent")
        finally:
            sqlite_hub.stop()

        database = cluster.create_database()
        db_name = database.rsplit("/", 1)[1]
        pg_args = ("--no-relay", "--database", database)
        log("bench_fleetpg: one fleet hub on PostgreSQL")
        first = start_daemon(workdir / "pg-a", repos, role="fleet", args=pg_args, timeout=120)
        second: RunningDaemon | None = None
        try:
            relayed_writes_rate([first.port], warmup, "warm-pg")
            meter = CpuMeter({"hub": lambda: process_cpu(first.proc.pid),
                              "postgresql": lambda: tree_cpu(cluster.postmaster_pid())})  # fmt: skip
            meter.start()
            with WaitSampler(cluster.url(), db_name) as pg_waits:
                pg_rate = relayed_writes_rate([first.port], total, "pg")
            pg_cpu = meter.stop()
            pg_batching = batching(database, "pg")

            with RoundRobin([first.port]) as balancer:
                log("bench_fleetpg: one replica behind the per-request balancer")
                meter.start()
                one_rate = relayed_writes_rate([balancer.port], total, "one")
                one_cpu = meter.stop()

            second = start_daemon(workdir / "pg-b", repos, role="fleet", args=pg_args, timeout=120)
            relayed_writes_rate([second.port], warmup, "warm-b")
            pair = second
            two_meter = CpuMeter({"hub a": lambda: process_cpu(first.proc.pid),
                                  "hub b": lambda: process_cpu(pair.proc.pid),
                                  "postgresql": lambda: tree_cpu(cluster.postmaster_pid())})  # fmt: skip
            log("bench_fleetpg: two replicas, clients spread over them")
            two_meter.start()
            with WaitSampler(cluster.url(), db_name) as two_waits:
                two_rate = relayed_writes_rate([first.port, second.port], total, "two")
            two_cpu = two_meter.stop()
            two_batching = batching(database, "two")
            with RoundRobin([first.port, second.port]) as balancer:
                log("bench_fleetpg: two replicas behind the per-request balancer")
                two_meter.start()
                two_balanced_rate = relayed_writes_rate([balancer.port], total, "two-balanced")
                two_balanced_cpu = two_meter.stop()
                spread = dict(balancer.forwarded)
            expected = 4 * total + 2 * warmup  # warm-pg, pg, one, warm-b, two, two-balanced
            seen = max(acknowledged(first), acknowledged(second))
            if seen != expected:
                raise RuntimeError(f"the database holds {seen} writes, {expected} were acknowledged")
        finally:
            if second is not None:
                second.stop()
            first.stop()

    load = os.getloadavg()
    common = {"clients": CLIENTS, "writes": total, "load_average": [round(x, 2) for x in load]}
    return {
        "figures": [
            figure(
                "relayed writes into one fleet hub: PostgreSQL vs SQLite",
                pg_rate,
                "writes/s",
                sqlite_rate,
                f"the same fleet hub on its embedded SQLite journal, same load ({CLIENTS} clients)",
                ">= 0.7x floor",
                pg_rate >= 0.7 * sqlite_rate,
                better="higher",
                cpu_seconds=pg_cpu,
                floor_cpu_seconds=sqlite_cpu,
                cpu_ms_per_write={
                    "postgresql hub": cpu_per_write(pg_cpu, total),
                    "sqlite hub": cpu_per_write(sqlite_cpu, total),
                },
                group_commit=pg_batching,
                pg_wait_samples=pg_waits.top(),
                **common,
            ),
            figure(
                "two fleet replicas on one database vs one (clients spread over the replicas)",
                two_rate,
                "writes/s",
                pg_rate,
                "one replica, the same clients all on it",
                ">= 1.6x floor",
                two_rate >= 1.6 * pg_rate,
                better="higher",
                cpu_seconds=two_cpu,
                floor_cpu_seconds=pg_cpu,
                cpu_ms_per_write={
                    "two replicas": cpu_per_write(two_cpu, total),
                    "one replica": cpu_per_write(pg_cpu, total),
                },
                group_commit=two_batching,
                pg_wait_samples=two_waits.top(),
                **common,
            ),
            figure(
                "two fleet replicas on one database vs one (round-robin balancer)",
                two_balanced_rate,
                "writes/s",
                one_rate,
                "one replica behind the same balancer, same load",
                "informational (a new upstream connection per request through an in-process balancer)",
                True,
                better="higher",
                cpu_seconds=two_balanced_cpu,
                floor_cpu_seconds=one_cpu,
                requests_per_replica=list(spread.values()),
                **common,
            ),
            figure(
                "relayed writes into one fleet hub on PostgreSQL vs bare psycopg INSERTs",
                pg_rate,
                "writes/s",
                bare_rate,
                f"bare INSERTs through psycopg, one transaction each, {CLIENTS} connections, same commit settings",
                "informational (the PostgreSQL floor)",
                True,
                better="higher",
                cpu_seconds=pg_cpu,
                floor_cpu_seconds=bare_cpu,
                commit_settings=settings,
                floor_pg_wait_samples=bare_waits.top(),
                **common,
            ),
            figure(
                "the hub's transaction shape (locked head row) vs bare INSERTs, psycopg only",
                head_rate,
                "writes/s",
                bare_rate,
                f"bare INSERTs through psycopg, {CLIENTS} connections, same commit settings",
                "informational (what one transaction per write through the head row costs, without group commit)",
                True,
                better="higher",
                cpu_seconds=head_cpu,
                floor_cpu_seconds=bare_cpu,
                pg_wait_samples=head_waits.top(),
                **common,
            ),
        ]
    }


def cpu_per_write(spent: dict[str, float], writes: int) -> dict[str, float]:
    """Milliseconds of CPU per write, per process group (ours), and in total over our processes."""
    ours = {k: v for k, v in spent.items() if k not in ("machine busy", "other processes", "machine capacity")}
    return {k: round(1000 * v / writes, 2) for k, v in ours.items()} | {
        "ours": round(1000 * sum(ours.values()) / writes, 2)
    }


def batching(url: str, tag: str) -> dict[str, float]:
    """How the hub's group commit batched the writes of one load (`tag`): transactions, writes per transaction."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        writes, transactions = conn.execute(
            "SELECT count(*), count(DISTINCT xmin::text) FROM devhub_writes WHERE envelope->'body'->>'summary' LIKE %s",
            (f"{tag}: %",),
        ).fetchone()  # type: ignore[misc]
    return {"transactions": transactions, "writes_per_transaction": round(writes / max(transactions, 1), 2)}
