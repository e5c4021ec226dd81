"""A week's backlog of check-ins, from the kiosk's outbox to acknowledged on the server.

Issue 4's target: 50,000 queued check-ins synced within 60 s of the server coming back.

What runs, on 127.0.0.1 only:

- the real server under gunicorn (``signage_server:create_app()``, as ``server_ingest`` runs
  it), on SQLite and on PostgreSQL, its instance set up with ``signage-server`` commands
  (a ``contact`` venue, so sealed names and phones are opened and kept);
- a kiosk data folder enrolled with ``signage-kiosk enroll``, whose journal is filled with
  ``--records`` check-ins through the kiosk's own ``kiosk.checkin.Recorder`` (half of them
  with a sealed name and phone, stamped over the past week). The fill runs on tmpfs
  (``/dev/shm``) when there is one, where a commit's fsync costs nothing, and the journal is
  then copied to a folder on disk: the fill is not what is measured (its rate is printed);
- the timed part: the kiosk's sync side exactly as ``signage-kiosk run`` wires it
  (``kiosk.__main__.sync_side``: requests session, ``KioskClient``, ``Sync`` thread) starts
  with the server up, and the clock stops when the outbox holds no check-in any more;
- the ceiling, measured in the same run against the same server: the same batches (the
  journal's rows, in the kiosk's batch size) with fresh client UUIDs, from a second kiosk of
  the venue, posted back to back on one keep-alive connection with nothing else to do
  (bodies prepared beforehand). That is the server's raw ingest rate for these records;
  the ratio says what the kiosk side (reading the outbox, JSON, settling each answer with a
  durable commit) costs on top.

Checked afterwards: every queued check-in is on the server exactly once, the sealed ones with
their name; the request sizes the server saw (its ``received_at`` is one per request) never
exceed the kiosk's batch size nor the server's ``MAX_BATCH_RECORDS``.

    python -m bench sync_backlog -- --help
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import (
    HOST,
    REPO,
    Gunicorn,
    Instance,
    databases,
    enroll,
    machine,
    median,
    pg_base_url,
    say,
    serving,
    table,
    target,
    temp_folder,
)

TARGET_S = 60.0
SERVER_APP = "signage_server:create_app()"
WEEK_S = 7 * 24 * 3600.0
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
MIDDLE = ("Văn", "Thị", "Đức", "Ngọc", "Minh", "Thu", "Quốc", "Hữu")
GIVEN = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Khánh", "Lộc", "Mỹ", "Phúc", "Quyên",
         "Sơn", "Thảo", "Uyên", "Việt", "Yến")


# ----------------------------------------------------------------------------------------------
# what the kiosk records


def visitor(number: int, personal: bool) -> Any:
    """The ``number``-th visitor of a busy entrance: a button press, or (``personal``) a
    staff-recorded visitor with a name and a phone number."""
    from kiosk.checkin import Visitor

    direction = "in" if number % 5 < 3 else "out"
    has_app = ("yes", "no", "installed_now", "unknown")[number % 4]
    if not personal:
        return Visitor(direction, "button", has_app)
    name = (f"{FAMILY[number % len(FAMILY)]} {MIDDLE[number // 10 % len(MIDDLE)]} "
            f"{GIVEN[number // 80 % len(GIVEN)]}")
    return Visitor(direction, "staff", has_app,
                   {"name": name, "phone": f"09{number % 100_000_000:08d}"})


def stamps(count: int, end: float, span_s: float = WEEK_S) -> Iterator[float]:
    """``count`` wall times spread evenly over the ``span_s`` seconds before ``end``."""
    step = span_s / max(count, 1)
    for index in range(count):
        yield end - span_s + (index + 1) * step


def checkin_settings(manifest: dict[str, Any]) -> Any:
    """The venue's check-in settings as the kiosk reads them from its manifest."""
    from kiosk.manifest import parse_manifest

    programme = parse_manifest(manifest, lambda _sha: None)
    if programme.checkin is None:
        raise RuntimeError("the manifest has no check-in settings")
    return programme.checkin


@dataclass
class Fill:
    records: int
    sealed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else float("nan")


def fill(journal_path: Path, public_key_b64: str, settings: Any, records: int,
         sealed_share: float, end: float) -> Fill:
    """Record ``records`` check-ins through the kiosk's Recorder into a fresh journal."""
    from kiosk.checkin import Recorder
    from kiosk.journal import Journal

    journal = Journal(journal_path)
    try:
        recorder = Recorder(journal, base64.b64decode(public_key_b64), settings)
        every = round(1 / sealed_share) if sealed_share > 0 else 0
        sealed = 0
        started = time.perf_counter()
        for number, wall in enumerate(stamps(records, end)):
            personal = bool(every) and number % every == 0
            sealed += personal
            recorder.record(visitor(number, personal), wall)
        seconds = time.perf_counter() - started
    finally:
        journal.close()
    return Fill(records, sealed, seconds)


# ----------------------------------------------------------------------------------------------
# the kiosk side


def kiosk_enroll(data: Path, code: str, server_url: str) -> None:
    """``signage-kiosk --data DIR enroll CODE --server URL``, the real command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from kiosk.__main__ import main; sys.exit(main())",
         "--data", str(data), "enroll", code, "--server", server_url, "--json"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        raise RuntimeError(f"signage-kiosk enroll failed: {done.stderr[-2000:]}")


def fetch_manifest(server_url: str, token: str) -> dict[str, Any]:
    import requests

    from kiosk.client import KioskClient

    with requests.Session() as session:
        manifest, _ = KioskClient(session, server_url, token, 30).manifest(None)
    assert manifest is not None
    return manifest


def outbox_batches(journal_path: Path, size: int) -> list[list[dict[str, Any]]]:
    """The outbox's check-in payloads, oldest first, cut as the kiosk cuts its batches."""
    conn = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True)
    try:
        payloads = [json.loads(p) for (p,) in conn.execute(
            "SELECT payload FROM outbox WHERE kind = 'checkin' ORDER BY seq")]
    finally:
        conn.close()
    return [payloads[i:i + size] for i in range(0, len(payloads), size)]


def sync_until_empty(data: Path, timeout: float) -> float:
    """Start the kiosk's sync side as ``signage-kiosk run`` does; the seconds until the
    outbox holds no check-in."""
    from kiosk import config as config_module
    from kiosk.__main__ import sync_side
    from kiosk.config import DataLayout
    from kiosk.journal import CHECKIN, Journal

    layout = DataLayout(data)
    config = config_module.load(data, environ={})
    credentials = config_module.load_credentials(layout)
    journal = Journal(layout.journal)
    events: queue.Queue[Any] = queue.Queue()
    try:
        started = time.perf_counter()
        with sync_side(layout, config, credentials, journal, events, None):
            while journal.unsynced()[CHECKIN]:
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{journal.unsynced()[CHECKIN]} check-ins still queued "
                                       f"after {timeout:.0f} s")
                time.sleep(0.02)
            return time.perf_counter() - started
    finally:
        journal.close()


# ----------------------------------------------------------------------------------------------
# the ceiling


def post_loop(port: int, token: str, batches: list[list[dict[str, Any]]]) -> tuple[float, int]:
    """The same batches with fresh client UUIDs, back to back on one keep-alive connection;
    the seconds it took and how many records the server accepted."""
    bodies = []
    for batch in batches:
        fresh = [{**record, "client_uuid": str(uuid.uuid4())} for record in batch]
        bodies.append(json.dumps({"records": fresh}, ensure_ascii=False).encode())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    accepted = 0
    try:
        started = time.perf_counter()
        for body in bodies:
            conn.request("POST", "/api/v1/checkins", body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            if response.status != 200:
                raise RuntimeError(f"ceiling batch answered {response.status}: {answer}")
            accepted += int(answer["accepted"])
        return time.perf_counter() - started, accepted
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------
# what the server holds


def server_rows(database_url: str | None, sqlite_path: Path, kiosk_id: int) -> list[tuple[
        str, str | None, Any]]:
    """(client_uuid, name, received_at) of every check-in of one kiosk on the server."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url or f"sqlite:///{sqlite_path}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT client_uuid, name, received_at FROM checkin "
                                     "WHERE kiosk_id = :k"), {"k": kiosk_id}).all()
    finally:
        engine.dispose()
    return [(str(uuid.UUID(str(u))), name, received) for u, name, received in rows]


def request_sizes(rows: list[tuple[str, str | None, Any]]) -> list[int]:
    """Records per request as the server saw them: it stamps one ``received_at`` per batch."""
    per: dict[Any, int] = {}
    for _, _, received in rows:
        per[received] = per.get(received, 0) + 1
    return sorted(per.values(), reverse=True)


# ----------------------------------------------------------------------------------------------
# one database


def fill_folder() -> Path:
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="bench-backlog-fill-",
                                 dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))


def run_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    with temp_folder("bench-backlog-") as tmp, \
            target(kind, pg_base_url(args.pg_url), "bench_backlog") as db:
        instance = Instance(tmp / "instance", db.url)
        made = instance.setup(privacy="contact", kiosks=2)
        with serving(Gunicorn(SERVER_APP, env=instance.env, workers=args.workers,
                              log_dir=tmp)) as (server,):
            data = tmp / "kiosk"
            kiosk_enroll(data, made.codes[0], server.url)
            from kiosk import config as config_module
            from kiosk.config import DataLayout

            layout = DataLayout(data)
            credentials = config_module.load_credentials(layout)
            assert credentials is not None
            batch_size = config_module.load(data, environ={}).batch_size
            settings = checkin_settings(fetch_manifest(server.url, credentials.token))
            ceiling_token = enroll(server.port, made.codes[1])
            results: list[dict[str, Any]] = []
            for round_no in range(args.rounds):
                results.append(one_round(round_no, args, server, instance, db.url, layout,
                                         credentials, settings, ceiling_token, batch_size))
            errors = server.errors()
            if errors:
                say(f"warning: the server logged errors, e.g. {errors[0]}")
    return report(kind, args, results, batch_size)


def one_round(round_no: int, args: argparse.Namespace, server: Gunicorn, instance: Instance,
              database_url: str | None, layout: Any, credentials: Any, settings: Any,
              ceiling_token: str, batch_size: int) -> dict[str, Any]:
    staging = fill_folder()
    try:
        filled = fill(staging / "journal.sqlite", credentials.server_public_key, settings,
                      args.records, args.sealed_share, time.time())
        for suffix in ("", "-wal", "-shm"):  # the filled journal onto the kiosk's disk
            source = staging / f"journal.sqlite{suffix}"
            target_file = layout.journal.with_name(f"journal.sqlite{suffix}")
            target_file.unlink(missing_ok=True)
            if source.exists():
                shutil.copyfile(source, target_file)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    batches = outbox_batches(layout.journal, batch_size)
    queued = {str(uuid.UUID(r["client_uuid"])) for b in batches for r in b}
    sealed_queued = {str(uuid.UUID(r["client_uuid"])) for b in batches for r in b
                     if r.get("sealed")}
    ceiling_first = round_no % 2 == 0
    figures: dict[str, Any] = {"fill_s": filled.seconds, "fill_rate": filled.rate,
                               "ceiling_first": ceiling_first}
    if ceiling_first:
        figures["ceiling_s"], ceiling_accepted = post_loop(server.port, ceiling_token, batches)
    figures["sync_s"] = sync_until_empty(layout.root, args.timeout)
    if not ceiling_first:
        figures["ceiling_s"], ceiling_accepted = post_loop(server.port, ceiling_token, batches)
    rows = server_rows(database_url, instance.sqlite_path, credentials.kiosk_id)
    mine = [row for row in rows if row[0] in queued]
    on_server = {u for u, _, _ in mine}
    sizes = request_sizes(mine)
    problems = []
    if len(mine) != len(on_server):
        problems.append(f"{len(mine) - len(on_server)} check-in(s) twice on the server")
    if on_server != queued:
        problems.append(f"{len(queued - on_server)} queued check-in(s) not on the server")
    named = {u for u, name, _ in mine if name}
    if named != sealed_queued:
        problems.append(f"{len(sealed_queued ^ named)} check-in(s) whose name was sealed "
                        "but is not on the server (or the other way round)")
    if ceiling_accepted != len(queued):
        problems.append(f"ceiling: {ceiling_accepted} accepted of {len(queued)}")
    if sizes and sizes[0] > batch_size:
        problems.append(f"a request of {sizes[0]} records, over the kiosk's batch size")
    figures.update(records=len(queued), sealed=len(sealed_queued), requests=len(sizes),
                   largest_request=sizes[0] if sizes else 0, problems=problems)
    say(f"round {round_no + 1}: fill {filled.seconds:.1f} s ({filled.rate:,.0f}/s), "
        f"{'ceiling then sync' if ceiling_first else 'sync then ceiling'}: sync "
        f"{figures['sync_s']:.2f} s, ceiling {figures['ceiling_s']:.2f} s, {len(sizes)} "
        f"requests of at most {figures['largest_request']} records")
    return figures


def report(kind: str, args: argparse.Namespace, rounds: list[dict[str, Any]],
           batch_size: int) -> dict[str, Any]:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    sync_s = median([r["sync_s"] for r in rounds])
    ceiling_s = median([r["ceiling_s"] for r in rounds])
    records = rounds[0]["records"]
    problems = [p for r in rounds for p in r["problems"]]
    figures = {
        "records": records, "sealed": rounds[0]["sealed"], "batch_size": batch_size,
        "sync_s": sync_s, "sync_records_per_s": records / sync_s,
        "ceiling_s": ceiling_s, "ceiling_records_per_s": records / ceiling_s,
        "ratio_to_ceiling": ceiling_s / sync_s,
        "requests": rounds[0]["requests"], "largest_request": max(r["largest_request"]
                                                                 for r in rounds),
        "fill_records_per_s": median([r["fill_rate"] for r in rounds]),
        "load_average": os.getloadavg()[0], "rounds": len(rounds),
    }
    say(f"\n{label}: {records:,} queued check-ins ({figures['sealed']:,} sealed), kiosk batches "
        f"of {batch_size}, gunicorn {args.workers} sync workers, {len(rounds)} round(s)")
    say(table([["kiosk sync (queued -> acknowledged)", f"{sync_s:.2f}",
                f"{figures['sync_records_per_s']:,.0f}", f"{figures['ratio_to_ceiling']:.0%}"],
               ["ceiling (bare POST loop, same batches)", f"{ceiling_s:.2f}",
                f"{figures['ceiling_records_per_s']:,.0f}", "100%"]],
              ["", "seconds", "records/s", "of ceiling"]))
    met = sync_s <= TARGET_S * records / 50_000
    say(f"target: 50,000 in <= {TARGET_S:.0f} s (scaled to {records:,}: "
        f"{TARGET_S * records / 50_000:.1f} s): {'met' if met else 'MISSED'}; "
        f"load average {figures['load_average']:.2f}")
    for problem in problems[:10]:
        say(f"PROBLEM: {problem}")
    figures["_checks"] = {"problems": float(len(problems)), "targets_missed": float(not met)}
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench sync_backlog",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", help="PostgreSQL server to create a scratch database on "
                        "(default: SIGNAGE_BENCH_PG_URL, SIGNAGE_TEST_DATABASE_URL or "
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--sealed-share", type=float, default=0.5,
                        help="share of check-ins with a sealed name and phone")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds per database (each fills a new backlog; the order of "
                        "ceiling and sync alternates)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="give up when the backlog is not synced after this long")
    parser.add_argument("--quick", action="store_true",
                        help="2,000 check-ins, SQLite, one worker: checks the benchmark works")
    parser.add_argument("--json", dest="json_out", metavar="FILE",
                        help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.db, args.records, args.workers = "sqlite", 2_000, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say(f"sync_backlog on {machine()}")
    results = {}
    for kind in databases(args.db, pg_base_url(args.pg_url)):
        results[kind] = run_database(kind, args)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    failed = any(r["_checks"]["problems"] for r in results.values())
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
