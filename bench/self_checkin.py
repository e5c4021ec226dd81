"""Self check-in and reception pages: what one request costs, against a bare ceiling.

In-process (Flask's test client, no HTTP server), on a scratch SQLite instance and/or a
throw-away PostgreSQL database, each figure the median of ``--rounds`` requests:

- ``open``: a phone opens the kiosk's code (rate-limit count, code check, the form);
- ``record``: it sends the form (rate-limit count, ticket, validation, the check-in);
- ``reception``: staff open the reception page with ``--visitors`` check-ins today (the
  masked list and its audit row);
- ``ceiling``: a bare Flask route on the same database that commits one row and answers a
  short text, the least any page that counts a client must do.

Each line prints the ratio to the ceiling measured in the same run. There is no target for
these pages (people type for tens of seconds); the figures say what the per-client limit in
the database and the audit rows cost. ``python -m bench self_checkin -- --help``.
"""

from __future__ import annotations

import argparse
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import text

from bench._common import (
    databases,
    finish,
    machine,
    median,
    percentile,
    pg_base_url,
    say,
    table,
    target,
    temp_folder,
    verdict,
)

HIDDEN = re.compile(r'name="(csrf_token|ticket)" type="hidden" value="([^"]*)"')


def _world(app: Flask, visitors: int) -> tuple[int, int, int]:
    """A venue (contact mode), a kiosk, a reception user and ``visitors`` check-ins today."""
    from signage_server import fleet
    from signage_server.extensions import db
    from signage_server.models import CheckIn, User, Venue

    with app.app_context():
        venue = Venue(name="Bến xe Miền Đông", kind="bus_station", privacy_mode="contact",
                      retention_days=21, timezone="Asia/Ho_Chi_Minh")
        db.session.add(venue)
        db.session.flush()
        kiosk_id = fleet.add_kiosk(venue.id, "Cổng", datetime.now(UTC), 24).kiosk_id
        user = User(email="letan@bench.vn", password_hash="x", role="reception",
                    venue_id=venue.id, active=True)
        db.session.add(user)
        now = datetime.now(UTC)
        db.session.add_all([CheckIn(
            client_uuid=uuid.uuid4(), venue_id=venue.id, occurred_at=now - timedelta(
                seconds=n), direction="in", method="staff", has_app="yes",
            name=f"Nguyễn Văn {n}", phone=f"0901{n:06d}") for n in range(visitors)])
        db.session.commit()
        return venue.id, kiosk_id, user.id


def _timed(call: Callable[[], Any], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _ceiling(app: Flask) -> Flask:
    """A bare app on the same database: commit one row, answer a short text."""
    from signage_server.extensions import db

    bare = Flask("ceiling")

    @bare.get("/count")
    def count() -> str:
        with app.app_context():
            db.session.execute(text("INSERT INTO rate_hit (key, at) VALUES (:k, :at)"),
                               {"k": "c" * 64, "at": datetime.now(UTC)})
            db.session.commit()
        return "ok"

    return bare


def run_one(kind: str, url: str | None, folder: Path, rounds: int,
            visitors: int) -> dict[str, Any]:
    from signage_server import create_app
    from signage_server.extensions import db
    from signage_server.migrate import upgrade
    from signage_server.models import Kiosk
    from signage_server.security import fingerprint
    from signage_shared import presence

    config: dict[str, Any] = {"MQTT_URL": "", "VISIT_RATE_MAX": 10 * rounds + 10,
                              "PURGE_INTERVAL_HOURS": 0}
    if url:
        config["DATABASE_URL"] = url
    app = create_app(config, instance_path=folder / kind)
    upgrade(app)
    venue, kiosk_id, user_id = _world(app, visitors)
    with app.app_context():
        kiosk = db.session.get(Kiosk, kiosk_id)
        assert kiosk is not None
        secret = kiosk.presence_secret
    phone, desk = app.test_client(), app.test_client()
    with app.app_context(), desk.session_transaction() as session:
        from signage_server.models import User

        user = db.session.get(User, user_id)
        assert user is not None
        session["_user_id"] = f"{user_id}:{fingerprint(user.password_hash)}"
    problems: list[str] = []

    def path() -> str:
        return f"/v/{venue}/{kiosk_id}/{presence.current_token(secret, kiosk_id, time.time())}"

    def open_code() -> None:
        response = phone.get(path())
        if response.status_code != 200:
            problems.append(f"open: {response.status_code}")

    def record() -> None:
        where = path()
        hidden = dict(HIDDEN.findall(phone.get(where).get_data(as_text=True)))
        start = time.perf_counter()
        response = phone.post(where, data={**hidden, "direction": "in", "has_app": "yes",
                                           "consent": "y", "name": "Trần Thị Bình",
                                           "phone": "0912 345 678"})
        record_times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            problems.append(f"record: {response.status_code}")

    def reception() -> None:
        response = desk.get("/admin/reception")
        if response.status_code != 200:
            problems.append(f"reception: {response.status_code}")

    bare = _ceiling(app).test_client()
    record_times: list[float] = []
    for warm in (open_code, reception, lambda: bare.get("/count")):
        warm()
    figures = {
        "ceiling": _timed(lambda: bare.get("/count"), rounds),
        "open": _timed(open_code, rounds),
        "reception": _timed(reception, rounds),
    }
    for _ in range(rounds):
        record()
    figures["record"] = record_times
    ceiling = median(figures["ceiling"])
    rows = [(name, f"{median(v):.2f}", f"{percentile(v, 95):.2f}",
             f"{median(v) / ceiling:.1f}") for name, v in figures.items()]
    say(f"\n{kind}: {rounds} requests each, {visitors} visitors on the reception list")
    say(table(rows, ("request", "median ms", "p95 ms", "x ceiling")))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    result: dict[str, Any] = {f"{k}_median_ms": median(v) for k, v in figures.items()}
    result.update({f"{k}_ratio": median(v) / ceiling for k, v in figures.items()})
    result["_checks"] = verdict([], problems)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench self_checkin", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--visitors", type=int, default=300)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    pg_url = pg_base_url(args.pg_url)
    say(f"self check-in and reception pages; {machine()}; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    results: dict[str, dict[str, Any]] = {}
    with temp_folder("bench-self-checkin") as folder:
        for kind in databases(args.db, pg_url):
            with target(kind, pg_url, "bench_self_checkin") as where:
                results[kind] = run_one(kind, where.url, folder, args.rounds, args.visitors)
    say("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return finish(results, args.json_out)
