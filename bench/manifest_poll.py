"""Manifest polls per second (``If-None-Match`` → 304), against a bare ceiling.

Many kiosks (``--kiosks``, 200 by default) are enrolled on the real server, each fetches its
manifest once, then the load generator polls ``GET /api/v1/kiosk/manifest`` with their
tokens in turn (round robin) and each kiosk's current ETag, as idle kiosks do every 30 s:
every answer should be a 304 with no body. The ceiling (``bench/ceiling_app.py``) answers the
same requests under the same gunicorn settings by comparing a constant ETag: no token check,
no database. Rounds alternate between the two; printed are polls/s (median of the rounds),
latency p50/p99, the ratio to the ceiling and CPU shares.

The load comes from wrk when it is installed (it takes little CPU from the server on the same
machine), else from Python processes with keep-alive connections (``--load``).

    python -m bench manifest_poll -- --help
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from . import ceiling_app
from ._common import (
    Gunicorn,
    Instance,
    PyLoad,
    add_server_options,
    databases,
    enroll,
    finish,
    libpq,
    lua_string,
    machine,
    machine_busy_seconds,
    median,
    percentile,
    pg_base_url,
    pick_load,
    postgres_cpu_seconds,
    request_json,
    run_wrk,
    say,
    serving,
    table,
    target,
    temp_folder,
    verdict,
    workers_text,
)

TARGET_RATE = 2_000  # 60,000 kiosks polling every 30 s
TARGET_RATIO = 0.8
PATH = "/api/v1/kiosk/manifest"
SERVER_APP = "signage_server:create_app()"
CEILING_APP = "bench.ceiling_app:create_app()"

LUA_REQUEST = """
local pairs_ = {%s}
CLOSE = %s
local i = 0
function init(args)
  i = math.random(#pairs_)
end
function request()
  i = i %% #pairs_ + 1
  local p = pairs_[i]
  local headers = {["Authorization"] = "Bearer " .. p[1], ["If-None-Match"] = p[2]}
  if CLOSE then headers["Connection"] = "close" end
  return wrk.format("GET", %s, headers)
end
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench manifest_poll",
                                     description=__doc__.split("\n\n")[0])
    add_server_options(parser, SERVER_APP)
    parser.add_argument("--kiosks", type=int, default=200, help="enrolled kiosks polling")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (auto: wrk if installed)")
    parser.add_argument("--connections", type=int, default=16,
                        help="concurrent connections (Python: one process each)")
    parser.add_argument("--keepalive", action="store_true",
                        help="reuse connections; by default every poll opens its own, as a "
                        "kiosk polling every 30 s does")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="3 kiosks, one 1 s round, SQLite, one worker: checks it works")
    parser.add_argument("--json", dest="json_out", metavar="FILE",
                        help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.db, args.kiosks, args.rounds, args.duration, args.connections, args.workers = \
            "sqlite", 3, 1, 1.0, 2, 1
    return args


@dataclass
class Series:
    rates: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    worker_cpu: list[float] = field(default_factory=list)
    cpu_per_poll: list[float] = field(default_factory=list)  # workers + PostgreSQL, seconds
    db_cpu: list[float] = field(default_factory=list)
    load_cpu: list[float] = field(default_factory=list)
    other_cpu: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        return {"polls_per_s": median(self.rates), "min": min(self.rates),
                "max": max(self.rates), "p50_ms": median(self.p50), "p99_ms": median(self.p99),
                "cpu_us_per_poll": median(self.cpu_per_poll) * 1e6,
                "worker_cpu": median(self.worker_cpu), "db_cpu": median(self.db_cpu),
                "load_cpu": median(self.load_cpu), "other_cpu": median(self.other_cpu)}


def prime(port: int, tokens: list[str]) -> list[str]:
    """Fetch every kiosk's manifest once, as a kiosk does on start; their ETags."""
    etags = []
    for token in tokens:
        status, _, headers = request_json(port, "GET", PATH,
                                          headers={"Authorization": f"Bearer {token}"})
        if status != 200 or "etag" not in headers:
            raise RuntimeError(f"manifest answered {status} without an ETag")
        etags.append(headers["etag"])
    status, _, _ = request_json(port, "GET", PATH, headers={
        "Authorization": f"Bearer {tokens[0]}", "If-None-Match": etags[0]})
    if status != 304:
        raise RuntimeError(f"a poll with the current ETag answered {status}, not 304")
    return etags


def run_database(kind: str, args: argparse.Namespace, load: str) -> dict[str, dict[str, float]]:
    cores = os.cpu_count() or 1
    with temp_folder("bench-poll-") as tmp, \
            target(kind, pg_base_url(args.pg_url), "bench_poll") as db:
        instance = Instance(tmp / "instance", db.url)
        codes = instance.setup(privacy="contact", kiosks=args.kiosks).codes
        scratch = db.url.rsplit("/", 1)[1] if db.url else None
        ceiling_env = {**instance.env,
                       "BENCH_CEILING_DB": libpq(db.url) if db.url else str(
                           instance.sqlite_path)}
        ceiling_app.create_schema(ceiling_env["BENCH_CEILING_DB"])
        options = {"workers": args.workers, "worker_class": args.worker_class,
                   "threads": args.threads, "log_dir": tmp}
        with serving(Gunicorn(args.server_app, env=instance.env, **options),
                     Gunicorn(CEILING_APP, env=ceiling_env, **options)) as (server, ceiling):
            tokens = [enroll(server.port, code) for code in codes]
            etags = prime(server.port, tokens)
            pairs = {"server": list(zip(tokens, etags, strict=True)),
                     "ceiling": [(t, f'"{ceiling_app.ETAG}"') for t in tokens]}
            apps = {"ceiling": ceiling, "server": server}
            series: dict[str, Series] = defaultdict(Series)
            pyloads = {name: PyLoad(app.port, args.connections) for name, app in apps.items()} \
                if load == "python" else {}
            try:
                for r in range(args.rounds):
                    order = ["ceiling", "server"] if r % 2 == 0 else ["server", "ceiling"]
                    for name in order:
                        app, s = apps[name], series[name]
                        cpu0, all0 = app.cpu_seconds(), machine_busy_seconds()
                        began = time.monotonic()
                        pg0 = postgres_cpu_seconds(scratch) if scratch else 0.0
                        if load == "wrk":
                            lua = LUA_REQUEST % (
                                ", ".join(f"{{{lua_string(t)}, {lua_string(e)}}}"
                                          for t, e in pairs[name]),
                                "false" if args.keepalive else "true", lua_string(PATH))
                            res = run_wrk(app.url + PATH, lua, 304, args.duration,
                                          args.connections, args.wrk_threads, tmp)
                            wall, count, load_cpu = res.seconds, res.requests, res.cpu
                            s.p50.append(res.p50_ms)
                            s.p99.append(res.p99_ms)
                            if res.unexpected or res.errors:
                                s.problems.append(f"{name}: {res.unexpected} answers were not "
                                                  f"304; socket errors {res.errors}")
                        else:
                            close = {} if args.keepalive else {"Connection": "close"}
                            per = [[("GET", PATH, {"Authorization": f"Bearer {t}",
                                                   "If-None-Match": e, **close}, None)
                                    for t, e in pairs[name][i::args.connections]
                                    or pairs[name][:1]]
                                   for i in range(args.connections)]
                            rnd = pyloads[name].run(per, duration=args.duration)
                            wall, count, load_cpu = rnd.wall, rnd.requests, rnd.client_cpu
                            s.p50.append(percentile(rnd.latencies, 50) * 1000)
                            s.p99.append(percentile(rnd.latencies, 99) * 1000)
                            if set(rnd.statuses) != {304} or rnd.errors:
                                s.problems.append(f"{name}: statuses {dict(rnd.statuses)} "
                                                  f"errors {rnd.errors[:2]}")
                        cpu = app.cpu_seconds() - cpu0
                        pg = (postgres_cpu_seconds(scratch) - pg0) if scratch else 0.0
                        other = machine_busy_seconds() - all0 - cpu - pg - load_cpu
                        spent = (time.monotonic() - began) * cores  # CPU shares: of this
                        s.rates.append(count / wall if wall else 0.0)
                        s.cpu_per_poll.append((cpu + pg) / max(count, 1))
                        s.worker_cpu.append(cpu / spent)
                        s.db_cpu.append(pg / spent)
                        s.load_cpu.append(load_cpu / spent)
                        s.other_cpu.append(max(0.0, other) / spent)
            finally:
                for pyload in pyloads.values():
                    pyload.close()
            for app in apps.values():
                errors = app.errors()
                if errors:
                    say(f"warning: {app.app} logged errors, e.g. {errors[0]}")
    return report(kind, args, load, series)


def report(kind: str, args: argparse.Namespace, load: str,
           series: dict[str, Series]) -> dict[str, dict[str, float]]:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    figures = {name: s.figures() for name, s in series.items()}
    ceiling_rate = figures["ceiling"]["polls_per_s"]
    ceiling_cpu = figures["ceiling"]["cpu_us_per_poll"]
    rows = []
    for name in ("ceiling", "server"):
        f = figures[name]
        f["ratio"] = f["polls_per_s"] / ceiling_rate if ceiling_rate else float("nan")
        f["cpu_ratio"] = ceiling_cpu / f["cpu_us_per_poll"] if f["cpu_us_per_poll"] else 0.0
        rows.append([name, f"{f['polls_per_s']:,.0f}", f"{f['min']:,.0f}..{f['max']:,.0f}",
                     f"{f['p50_ms']:.1f}", f"{f['p99_ms']:.1f}", f"{f['ratio']:.0%}",
                     f"{f['cpu_us_per_poll']:,.0f}", f"{f['cpu_ratio']:.0%}",
                     f"{f['worker_cpu']:.0%}",
                     f"{f['db_cpu']:.0%}" if kind == "postgresql" else "-",
                     f"{f['load_cpu']:.0%}", f"{f['other_cpu']:.0%}"])
    load_text = (f"wrk, {args.connections} connections, {args.wrk_threads} thread(s)"
                 if load == "wrk" else f"Python, {args.connections} processes")
    load_text += ", keep-alive" if args.keepalive else ", a new connection per poll"
    say(f"\n{label}: {args.kiosks} kiosks, {args.rounds} round(s) of {args.duration:g} s, "
        f"{load_text}, {workers_text(args)}")
    say(table(rows, ["", "304/s", "range", "p50 ms", "p99 ms", "of ceiling", "CPU us/poll",
                     "by CPU", "workers CPU", "postgres CPU", "load-gen CPU", "other CPU"]))
    server = figures["server"]
    verdicts = [("server >= 2,000 polls/s", server["polls_per_s"] >= TARGET_RATE),
                ("server >= 80 % of ceiling", server["ratio"] >= TARGET_RATIO)]
    figures["_checks"] = verdict(verdicts, [p for s in series.values() for p in s.problems])
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load = pick_load(args.load)
    say(f"manifest_poll on {machine()}")
    results = {}
    for kind in databases(args.db, pg_base_url(args.pg_url)):
        results[kind] = run_database(kind, args, load)
    return finish(results, args.json_out)


if __name__ == "__main__":
    sys.exit(main())
