"""Check-ins per second through ``POST /api/v1/checkins``, against a bare ceiling.

The real server (``signage_server:create_app()``) and the ceiling (``bench/ceiling_app.py``:
parse the JSON, one ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``) run side by side
under the same gunicorn settings, against the same database. The server's database is set up
as an operator would (``signage-server db upgrade``, ``venue add``, ``kiosk add``, then
``POST /api/v1/enroll``); the ceiling's table sits in the same database.

Each round sends the same prepared batches of unique count-mode button presses (no sealed
fields, like a busy entrance; time-ordered ids, as kiosks make them) to both, from
``--clients`` processes with one keep-alive connection each, then sends the same batches
again (all duplicates now). Which app goes first alternates from round to round. Printed:
records/s (median of the rounds), p50/p99 of the per-batch latency (all rounds pooled), the
ratio to the ceiling, and CPU used by the gunicorn workers, PostgreSQL and the load
generator, each as a share of the machine.

    python -m bench server_ingest -- --help
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kiosk.ids import uuid7

from . import ceiling_app
from ._common import (
    Gunicorn,
    Instance,
    PyLoad,
    Request,
    add_server_options,
    databases,
    enroll,
    finish,
    libpq,
    machine,
    machine_busy_seconds,
    median,
    percentile,
    pg_base_url,
    postgres_cpu_seconds,
    say,
    serving,
    table,
    target,
    temp_folder,
    verdict,
    workers_text,
)

TARGET_SQLITE_RATE = 50_000
TARGET_RATIO = 0.5
SERVER_APP = "signage_server:create_app()"
CEILING_APP = "bench.ceiling_app:create_app()"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench server_ingest",
                                     description=__doc__.split("\n\n")[0])
    add_server_options(parser, SERVER_APP)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=80, help="batches per round")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4,
                        help="load-generator processes, one connection each")
    parser.add_argument("--quick", action="store_true",
                        help="a few tiny batches, SQLite, one worker: checks the benchmark works")
    parser.add_argument("--json", dest="json_out", metavar="FILE",
                        help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.db, args.rounds, args.batches, args.batch_size, args.clients, args.workers = \
            "sqlite", 1, 4, 50, 2, 1
    if args.batches < args.clients:
        parser.error("--batches must be at least --clients")
    return args


def make_batches(rng: random.Random, count: int, size: int) -> list[bytes]:
    """``count`` JSON bodies of ``size`` unique check-ins each, stamped over the last hour in
    order, each with the UUID version 7 a kiosk gives it (``kiosk.ids.uuid7``: time first).

    Until 2026-11-23 15:30 the ids were random (version 4). In a unique index random keys
    land all over the tree, so each batch dirtied hundreds of pages that SQLite then wrote to
    its WAL and synced: at 200,000 rows, 17.6 ms CPU and 37.7 ms a 500-row executemany and
    commit, against 4.2 and 5.2 ms with version 7 ids (docs/benchmarks.md, server_ingest).
    Kiosks send version 7, so the server and the ceiling were both measured on a load the
    system never sees."""
    now = datetime.now(UTC)
    step = 3600 / (count * size)  # seconds between two records
    bodies = []
    for b in range(count):
        records = []
        for i in range(size):
            at = now - timedelta(seconds=3600 - (b * size + i + rng.random()) * step)
            records.append({
                "client_uuid": str(uuid7(at.timestamp(), rng.randbytes(8))),
                "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "clock_uncorrected": False,
                "direction": "in" if rng.random() < 0.6 else "out",
                "method": "button",
                "has_app": rng.choice(("yes", "no", "installed_now", "unknown")),
            })
        bodies.append(json.dumps({"records": records}, separators=(",", ":")).encode())
    return bodies


def split(bodies: list[bytes], token: str, clients: int) -> list[list[Request]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    per: list[list[Request]] = [[] for _ in range(clients)]
    for i, body in enumerate(bodies):
        per[i % clients].append(("POST", "/api/v1/checkins", headers, body))
    return per


@dataclass
class Series:
    """The rounds of one app in one mode (unique or resend)."""

    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    worker_cpu: list[float] = field(default_factory=list)  # share of the machine
    cpu_per_batch: list[float] = field(default_factory=list)  # workers + PostgreSQL, seconds
    db_cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    other_cpu: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        return {"records_per_s": median(self.rates), "min": min(self.rates),
                "max": max(self.rates), "p50_ms": percentile(self.latencies, 50) * 1000,
                "p99_ms": percentile(self.latencies, 99) * 1000,
                "cpu_ms_per_batch": median(self.cpu_per_batch) * 1000,
                "worker_cpu": median(self.worker_cpu), "db_cpu": median(self.db_cpu),
                "client_cpu": median(self.client_cpu), "other_cpu": median(self.other_cpu)}


def check(name: str, mode: str, extracted: list[dict[str, object]], statuses: dict[int, int],
          expected: int, errors: list[str]) -> list[str]:
    """Did every batch get a 200 and were the records counted as they should be?"""
    problems = [f"{name} {mode}: client error {e}" for e in errors]
    if set(statuses) != {200}:
        problems.append(f"{name} {mode}: statuses {dict(statuses)}")
    key = "inserted" if name == "ceiling" else \
        ("accepted" if mode == "unique" else "duplicates")
    got = sum(int(str(x.get(key) or 0)) for x in extracted)
    want = expected if (mode == "unique" or name == "server") else 0
    if got != want:
        problems.append(f"{name} {mode}: {key} = {got}, expected {want}")
    return problems


def run_database(kind: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    cores = os.cpu_count() or 1
    with temp_folder("bench-ingest-") as tmp, \
            target(kind, pg_base_url(args.pg_url), "bench_ingest") as db:
        instance = Instance(tmp / "instance", db.url)
        scratch = db.url.rsplit("/", 1)[1] if db.url else None

        def pg_cpu() -> float:
            return postgres_cpu_seconds(scratch) if scratch else 0.0

        made = instance.setup(privacy="count")
        venue_id, kiosk_id, code = made.venue_id, made.kiosk_id, made.codes[0]
        ceiling_db = libpq(db.url) if db.url else str(instance.sqlite_path)
        ceiling_app.create_schema(ceiling_db)
        ceiling_env = {**instance.env, "BENCH_CEILING_DB": ceiling_db,
                       "BENCH_CEILING_VENUE": str(venue_id),
                       "BENCH_CEILING_KIOSK": str(kiosk_id)}
        options = {"workers": args.workers, "worker_class": args.worker_class,
                   "threads": args.threads, "log_dir": tmp}
        with serving(Gunicorn(args.server_app, env=instance.env, **options),
                     Gunicorn(CEILING_APP, env=ceiling_env, **options)) as (server, ceiling):
            token = enroll(server.port, code)
            apps = {"ceiling": ceiling, "server": server}
            loads = {name: PyLoad(app.port, args.clients) for name, app in apps.items()}
            try:
                rng = random.Random(int.from_bytes(os.urandom(8), "big"))
                # warm-up: connections, imports, statement caches; not counted
                warm = split(make_batches(rng, args.clients, min(args.batch_size, 50)), token,
                             args.clients)
                for load in loads.values():
                    load.run(warm)
                series: dict[tuple[str, str], Series] = defaultdict(Series)
                for r in range(args.rounds):
                    work = split(make_batches(rng, args.batches, args.batch_size), token,
                                 args.clients)
                    total = args.batches * args.batch_size
                    order = ["ceiling", "server"] if r % 2 == 0 else ["server", "ceiling"]
                    for mode in ("unique", "resend"):
                        for name in order:
                            cpu0, db0 = apps[name].cpu_seconds(), pg_cpu()
                            all0, began = machine_busy_seconds(), time.monotonic()
                            res = loads[name].run(work, extract=("accepted", "duplicates",
                                                                 "inserted"))
                            cpu = apps[name].cpu_seconds() - cpu0
                            pg = pg_cpu() - db0
                            other = machine_busy_seconds() - all0 - cpu - pg - res.client_cpu
                            spent = (time.monotonic() - began) * cores  # CPU shares: of this
                            s = series[(name, mode)]
                            s.rates.append(res.requests * args.batch_size / res.wall)
                            s.cpu_per_batch.append((cpu + pg) / max(res.requests, 1))
                            s.latencies.extend(res.latencies)
                            s.worker_cpu.append(cpu / spent)
                            s.db_cpu.append(pg / spent)
                            s.client_cpu.append(res.client_cpu / spent)
                            s.other_cpu.append(max(0.0, other) / spent)
                            s.problems.extend(check(name, mode, res.extracted, res.statuses,
                                                    total, res.errors))
            finally:
                for load in loads.values():
                    load.close()
            for app in apps.values():
                errors = app.errors()
                if errors:
                    say(f"warning: {app.app} logged errors, e.g. {errors[0]}")
    return report(kind, args, series)


def report(kind: str, args: argparse.Namespace,
           series: dict[tuple[str, str], Series]) -> dict[str, dict[str, float]]:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    figures = {f"{name}_{mode}": s.figures() for (name, mode), s in series.items()}
    rows = []
    for mode in ("unique", "resend"):
        ceiling_rate = figures[f"ceiling_{mode}"]["records_per_s"]
        for name in ("ceiling", "server"):
            f = figures[f"{name}_{mode}"]
            ratio = f["records_per_s"] / ceiling_rate if ceiling_rate else float("nan")
            f["ratio"] = ratio
            rows.append([f"{name} {mode}", f"{f['records_per_s']:,.0f}",
                         f"{f['min']:,.0f}..{f['max']:,.0f}", f"{f['p50_ms']:.1f}",
                         f"{f['p99_ms']:.1f}", f"{ratio:.0%}", f"{f['cpu_ms_per_batch']:.1f}",
                         f"{f['worker_cpu']:.0%}",
                         f"{f['db_cpu']:.0%}" if kind == "postgresql" else "-",
                         f"{f['client_cpu']:.0%}", f"{f['other_cpu']:.0%}"])
    say(f"\n{label}: {args.rounds} round(s) of {args.batches} batches x {args.batch_size} "
        f"records, {args.clients} client connections, {workers_text(args)}")
    say(table(rows, ["", "records/s", "range", "p50 ms", "p99 ms", "of ceiling",
                     "CPU ms/batch", "workers CPU", "postgres CPU", "client CPU", "other CPU"]))
    server_u, server_r = figures["server_unique"], figures["server_resend"]
    verdicts = []
    if kind == "sqlite":
        verdicts.append(("server >= 50,000 records/s",
                         server_u["records_per_s"] >= TARGET_SQLITE_RATE))
    verdicts.append(("server >= 50 % of ceiling", server_u["ratio"] >= TARGET_RATIO))
    verdicts.append(("resend at least as fast as unique",
                     server_r["records_per_s"] >= server_u["records_per_s"]))
    figures["_checks"] = verdict(verdicts, [p for s in series.values() for p in s.problems])
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say(f"server_ingest on {machine()}")
    results = {}
    for kind in databases(args.db, pg_base_url(args.pg_url)):
        results[kind] = run_database(kind, args)
    return finish(results, args.json_out)


if __name__ == "__main__":
    sys.exit(main())
