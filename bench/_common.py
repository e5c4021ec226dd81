"""Shared machinery of the server benchmarks.

- scratch databases: a temporary instance folder (SQLite) or a throw-away PostgreSQL database,
  dropped afterwards;
- an ``Instance`` set up the way an operator does it: ``signage-server --instance DIR db
  upgrade``, ``venue add --json``, ``kiosk add --json``;
- ``Gunicorn``: the real server (or the bare ceiling app) under gunicorn on a free loopback port;
- two load generators: ``wrk`` when installed, else ``PyLoad``, processes that each keep one
  HTTP/1.1 connection (``http.client``) and send a prepared list of requests;
- the small statistics the benchmarks print (median of rounds, nearest-rank percentiles).

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRK_MISSING = ("wrk is not installed, so the Python load generator is used instead (it needs "
               "CPU of its own on the same machine, so rates come out lower). Install wrk with "
               "`sudo apt-get install -y wrk` (Debian, Ubuntu, Raspberry Pi OS) or "
               "`brew install wrk` (macOS).")


# ----------------------------------------------------------------------------------------------
# statistics and output


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths, strict=True))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def say(*parts: object) -> None:
    print(*parts, flush=True)


def machine() -> str:
    """One line about where the figures come from."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}, "
            f"{time.strftime('%Y-%m-%d %H:%M')}")


def verdict(verdicts: Sequence[tuple[str, bool]], problems: Sequence[str]) -> dict[str, float]:
    """Print which targets were met and the first problems; the ``_checks`` of the figures."""
    say("targets: " + "; ".join(f"{what}: {'met' if ok else 'MISSED'}"
                                for what, ok in verdicts))
    for problem in problems[:10]:
        say(f"PROBLEM: {problem}")
    return {"problems": float(len(problems)),
            "targets_missed": float(sum(not ok for _, ok in verdicts))}


def finish(results: dict[str, dict[str, Any]], json_out: str | None) -> int:
    """Write the figures as JSON if asked; the exit status: 1 if a database saw problems
    (wrong answers, errors) or none could be benchmarked. A missed target is not a failure."""
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=2))
    failed = any(r["_checks"]["problems"] for r in results.values())
    return 1 if failed or not results else 0


# ----------------------------------------------------------------------------------------------
# databases


def pg_base_url(cli_value: str | None = None) -> str:
    return (cli_value or os.environ.get("SIGNAGE_BENCH_PG_URL")
            or os.environ.get("SIGNAGE_TEST_DATABASE_URL") or DEFAULT_PG_URL)


def libpq(url: str) -> str:
    """A libpq conninfo URL from an SQLAlchemy one (``postgresql+psycopg://`` → ``postgresql://``)."""
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin_conninfo(base_url: str) -> str:
    from sqlalchemy import make_url

    return libpq(make_url(base_url).set(database="postgres").render_as_string(
        hide_password=False))


def postgres_problem(base_url: str) -> str | None:
    """Why PostgreSQL at ``base_url`` cannot be used, or None."""
    try:
        import psycopg

        with psycopg.connect(_admin_conninfo(base_url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: skip PostgreSQL and say why
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


@contextlib.contextmanager
def scratch_postgres(base_url: str, name: str) -> Iterator[str]:
    """A fresh database ``name`` on the server of ``base_url``; dropped on exit."""
    import psycopg
    from sqlalchemy import make_url

    admin = _admin_conninfo(base_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Target:
    """A database to benchmark on: SQLite in the instance folder, or a PostgreSQL URL."""

    kind: str  # "sqlite" | "postgresql"
    url: str | None = None  # SQLAlchemy URL; None for SQLite


@contextlib.contextmanager
def target(kind: str, pg_url: str, prefix: str) -> Iterator[Target]:
    if kind == "sqlite":
        yield Target("sqlite")
        return
    with scratch_postgres(pg_url, f"{prefix}_{os.getpid()}") as url:
        yield Target("postgresql", url)


def databases(choice: str, pg_url: str) -> list[str]:
    """The databases to run on: ``sqlite``, ``postgresql`` or ``both`` (PostgreSQL skipped,
    with the reason, when it is not reachable)."""
    kinds = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in kinds:
        problem = postgres_problem(pg_url)
        if problem:
            say(f"PostgreSQL at {pg_url} is not usable ({problem}); skipping it. "
                "Point --pg-url or SIGNAGE_BENCH_PG_URL at a server where you may create "
                "databases.")
            kinds.remove("postgresql")
    return kinds


def add_server_options(parser: argparse.ArgumentParser, server_app: str) -> None:
    """The options every server benchmark takes: which databases, which PostgreSQL, the
    server app as gunicorn loads it, and the gunicorn workers (the ceiling gets the same)."""
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", help="PostgreSQL server to create a scratch database on "
                        "(default: SIGNAGE_BENCH_PG_URL, SIGNAGE_TEST_DATABASE_URL or "
                        f"{DEFAULT_PG_URL})")
    parser.add_argument("--server-app", default=server_app, metavar="SPEC",
                        help="the server as gunicorn loads it, e.g. to try settings: "
                        "'signage_server:create_app({\"SQLALCHEMY_ENGINE_OPTIONS\": {}})'")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")


def workers_text(args: argparse.Namespace) -> str:
    """``gunicorn 2 sync workers`` (and the threads of gthread workers), for the report."""
    text = f"gunicorn {args.workers} {args.worker_class} workers"
    return text + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")


# ----------------------------------------------------------------------------------------------
# an instance of the server, set up with its own CLI


#: The set-up, in one child process: ``db upgrade``, ``venue add --json`` and ``kiosk add
#: --json`` through the CLI's own entry point (``signage_server.cli.main``, what the
#: ``signage-server`` script runs), then any further kiosks with ``fleet.add_kiosk`` (what
#: ``kiosk add`` calls) in one transaction. Starting the CLI once per command, or once per
#: kiosk, costs seconds each.
_SETUP = """
import contextlib, io, json, sys
from signage_server.cli import main
instance, privacy, more = sys.argv[1], sys.argv[2], int(sys.argv[3])

def cli(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main.main(args=["--instance", instance, *args], prog_name="signage-server",
                  standalone_mode=False)
    return json.loads(out.getvalue().strip().splitlines()[-1]) if "--json" in args else None

cli("db", "upgrade")
venue = cli("venue", "add", "Bench venue", "--kind", "bus_station", "--privacy", privacy,
            "--json")["id"]
kiosk = cli("kiosk", "add", "--venue", str(venue), "--name", "bench kiosk", "--json")
codes = []
if more:
    from datetime import UTC, datetime
    from signage_server import create_app, fleet
    from signage_server.extensions import db
    app = create_app()
    with app.app_context():
        codes = [fleet.add_kiosk(venue, f"bench kiosk {i}", datetime.now(UTC), 24)
                 .enrollment_code for i in range(more)]
        db.session.commit()
        db.engine.dispose()
print(json.dumps({"venue_id": venue, "kiosk_id": kiosk["kiosk_id"],
                  "codes": [kiosk["enrollment_code"], *codes]}))
"""


@dataclass
class Setup:
    venue_id: int
    kiosk_id: int  # the first kiosk, added with ``kiosk add``
    codes: list[str]  # one-time enrollment codes, the first kiosk's first


class Instance:
    """An instance folder plus database, prepared with ``signage-server`` commands."""

    def __init__(self, folder: Path, database_url: str | None) -> None:
        self.folder = folder
        self.database_url = database_url
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
        env["SIGNAGE_INSTANCE_PATH"] = str(self.folder)
        env["SIGNAGE_LOG_LEVEL"] = "WARNING"
        if self.database_url:
            env["SIGNAGE_DATABASE_URL"] = self.database_url
        return env

    @property
    def sqlite_path(self) -> Path:
        return self.folder / "signage.sqlite"

    def setup(self, privacy: str = "count", kiosks: int = 1) -> Setup:
        """Schema, a venue and ``kiosks`` kiosks waiting for enrollment, as an operator
        would make them (see ``_SETUP``)."""
        done = subprocess.run(
            [sys.executable, "-c", _SETUP, str(self.folder), privacy, str(kiosks - 1)],
            env=self.env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode:
            raise RuntimeError(f"setting up the instance failed:\n{done.stderr[-3000:]}")
        made = json.loads(done.stdout.strip().splitlines()[-1])
        return Setup(int(made["venue_id"]), int(made["kiosk_id"]), list(made["codes"]))


def request_json(port: int, method: str, path: str, body: Any = None,
                 headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    """One request with a fresh connection; the status, the JSON body (or None), headers."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if raw and response.getheader(
            "Content-Type", "").startswith("application/json") else None
        return response.status, parsed, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def enroll(port: int, code: str) -> str:
    """POST /api/v1/enroll as a kiosk does; returns the token."""
    status, body, _ = request_json(port, "POST", "/api/v1/enroll",
                                   {"code": code, "name": "bench", "version": "bench"})
    if status != 200:
        raise RuntimeError(f"enroll answered {status}: {body}")
    return str(body["token"])


@contextlib.contextmanager
def temp_folder(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# gunicorn


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@functools.cache
def _gunicorn_options() -> set[str]:
    """The long options this gunicorn knows (``--no-control-socket`` is new in 23)."""
    done = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True,
                          text=True, check=False, timeout=60)
    return set(re.findall(r"(--[a-z][a-z0-9-]+)", done.stdout))


@dataclass
class Gunicorn:
    """``gunicorn APP`` on loopback, stopped on exit. It binds port 0 and the port it got is
    read from its log, so two benchmarks (or two engineers) never race for a port."""

    app: str
    env: dict[str, str]
    log_dir: Path
    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.log_dir / f"gunicorn-{id(self)}.log"

    def command(self) -> list[str]:
        tmp = "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()
        extra = ["--no-control-socket"] if "--no-control-socket" in _gunicorn_options() else []
        return [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:0",
                "--workers", str(self.workers), "--worker-class", self.worker_class,
                "--threads", str(self.threads), "--log-level", "info",
                "--error-logfile", str(self.log), "--worker-tmp-dir", tmp,
                "--timeout", "120", "--graceful-timeout", "5", "--chdir", str(REPO),
                *extra, self.app]

    def _listening_port(self) -> int:
        with contextlib.suppress(OSError):
            found = re.search(rf"Listening at: http://{re.escape(HOST)}:(\d+)",
                              self.log.read_text(errors="replace"))
            if found:
                return int(found.group(1))
        return 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command(), env=self.env, cwd=REPO,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited:\n{self.log_tail()}")
            self.port = self.port or self._listening_port()
            if self.port and len(self.worker_pids()) >= self.workers:
                try:
                    request_json(self.port, "GET", "/__bench_ready__")
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"gunicorn {self.app} did not start:\n{self.log_tail()}")
        time.sleep(0.3)  # let the other workers finish booting

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> Gunicorn:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def errors(self) -> list[str]:
        """Lines of the log that report errors (tracebacks, ERROR, worker timeouts)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines()
                if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line]

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def cpu_seconds(self) -> float:
        """CPU used so far by the workers (not the idle master)."""
        return sum(_proc_cpu(pid) for pid in self.worker_pids())

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@contextlib.contextmanager
def serving(*servers: Gunicorn) -> Iterator[tuple[Gunicorn, ...]]:
    """Start every server at once (each imports its app: seconds), then wait for all."""
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.callback(server.stop)
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, every process), from /proc/stat;
    what the benchmark did not use of it was used by something else running meanwhile."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(database: str) -> float:
    """CPU used so far by the local PostgreSQL backends serving ``database`` (their command
    line reads ``postgres: USER DATABASE ...``); 0 where /proc cannot tell."""
    total = 0.0
    needle = f" {database} ".encode()
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                    if cmdline.startswith(b"postgres: ") and needle in cmdline:
                        total += _proc_cpu(int(entry.name))
    return total


# ----------------------------------------------------------------------------------------------
# the Python load generator

#: One request: method, path, headers, body.
Request = tuple[str, str, dict[str, str], bytes | None]


@dataclass
class ClientResult:
    start: float
    end: float
    latencies: list[float]
    statuses: dict[int, int]
    cpu: float
    extracted: list[dict[str, Any]]
    error: str | None = None


def _client(pipe: multiprocessing.connection.Connection, port: int) -> None:
    """A load-generator process: for each job, connect, say ready, wait for go, run."""
    while True:
        job = pipe.recv()
        if job is None:
            return
        requests: list[Request] = job["requests"]
        duration: float | None = job.get("duration")
        keys: list[str] = job.get("extract") or []
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        extracted: list[dict[str, Any]] = []
        error = None
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            error = repr(exc)
        pipe.send("ready")
        pipe.recv()
        cpu0 = time.process_time()
        start = time.monotonic()
        stop = start + duration if duration else None
        i = 0
        clock = time.perf_counter
        while error is None:
            if stop is None:
                if i >= len(requests):
                    break
            elif i % 16 == 0 and time.monotonic() >= stop:
                break
            method, path, headers, body = requests[i % len(requests)]
            i += 1
            t0 = clock()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                error = repr(exc)
                break
            latencies.append(clock() - t0)
            statuses[response.status] += 1
            if keys:
                try:
                    obj = json.loads(data)
                    extracted.append({k: obj.get(k) for k in keys})
                except (ValueError, AttributeError):
                    extracted.append({})
        end = time.monotonic()
        conn.close()
        pipe.send(ClientResult(start, end, latencies, dict(statuses),
                               time.process_time() - cpu0, extracted, error))


@dataclass
class Round:
    """What one round of the Python load generator saw."""

    wall: float
    latencies: list[float]
    statuses: Counter[int]
    client_cpu: float
    extracted: list[dict[str, Any]]
    errors: list[str]

    @property
    def requests(self) -> int:
        return len(self.latencies)


class PyLoad:
    """``processes`` load-generator processes, each with one keep-alive connection.

    They are started once (spawned, so they carry nothing of this process) and reused for
    every round; a round starts only when every process is connected and has its requests.
    """

    def __init__(self, port: int, processes: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.procs: list[Any] = []
        for _ in range(processes):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_client, args=(theirs, port), daemon=True)
            proc.start()
            theirs.close()
            self.pipes.append(ours)
            self.procs.append(proc)

    def run(self, per_process: Sequence[Sequence[Request]], duration: float | None = None,
            extract: Sequence[str] = ()) -> Round:
        """Each process sends its own list once (or cycles it for ``duration`` seconds)."""
        if len(per_process) != len(self.pipes):
            raise ValueError("one request list per process")
        for pipe, requests in zip(self.pipes, per_process, strict=True):
            pipe.send({"requests": list(requests), "duration": duration,
                       "extract": list(extract)})
        for pipe in self.pipes:
            pipe.recv()
        for pipe in self.pipes:
            pipe.send("go")
        results: list[ClientResult] = [pipe.recv() for pipe in self.pipes]
        statuses: Counter[int] = Counter()
        for r in results:
            statuses.update(r.statuses)
        return Round(
            wall=max(r.end for r in results) - min(r.start for r in results),
            latencies=[x for r in results for x in r.latencies], statuses=statuses,
            client_cpu=sum(r.cpu for r in results),
            extracted=[x for r in results for x in r.extracted],
            errors=[r.error for r in results if r.error])

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()

    def __enter__(self) -> PyLoad:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------
# wrk


def wrk_path() -> str | None:
    return shutil.which("wrk")


def pick_load(choice: str) -> str:
    """``wrk`` or ``python``; ``auto`` prefers wrk and says so when it is missing."""
    if choice == "auto":
        if wrk_path():
            return "wrk"
        say(WRK_MISSING)
        return "python"
    if choice == "wrk" and not wrk_path():
        raise SystemExit("wrk is not installed: `sudo apt-get install -y wrk`, or run with "
                         "--load python")
    return choice


WRK_REPORT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) unexpected = 0 end
function response(status, headers, body)
  if status ~= EXPECTED_STATUS then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("unexpected") or 0) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "unexpected": %d, "p50_us": %d, '
    .. '"p99_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, bad, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    unexpected: int
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    cpu: float  # CPU seconds wrk itself used

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(url: str, lua_request: str, expected_status: int, duration: float,
            connections: int, threads: int, workdir: Path) -> WrkResult:
    """Run wrk with a ``request()`` function in Lua and the reporting code above."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(WRK_MISSING)
    script = workdir / f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua"
    script.write_text(f"EXPECTED_STATUS = {expected_status}\n{lua_request}\n{WRK_REPORT}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
             "--timeout", "10s", "-s", str(script), url],
            capture_output=True, text=True, timeout=duration + 60, check=False)
    finally:
        script.unlink(missing_ok=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            return WrkResult(
                requests=data["requests"], seconds=data["duration_us"] / 1e6,
                unexpected=data["unexpected"], p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors={k: data[k] for k in ("connect", "read", "write", "status", "timeout")
                        if data[k]}, cpu=cpu)
    raise RuntimeError(f"wrk gave no report (exit {done.returncode}):\n{done.stdout}\n"
                       f"{done.stderr}")


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII text is a valid Lua string literal
