"""The ceiling: a bare Flask app doing the least the real endpoints must do.

Served by the same gunicorn, with the same workers, against the same database as the real
server, it tells what the framework and the database allow, so each benchmark can print how
close the server gets to it.

- ``POST /api/v1/checkins``: parse the JSON and insert the rows with one ``executemany``
  (``INSERT ... ON CONFLICT (client_uuid) DO NOTHING``) into ``ceiling_checkin``, a table with
  the same columns, constraints and indexes as ``checkin``, through a raw DB-API connection
  (sqlite3 with the server's pragmas, or psycopg); answers ``{"inserted": n}``. No
  authentication, no per-record validation, no per-record results. On SQLite the workers
  take turns to write as the server's do (``signage_server.ingest.WRITER_TURNS``, a flock
  beside the database): without it SQLite's busy handler sleeps between retries and the
  ceiling measured those sleeps (p99 600 ms a batch, workers 44 % busy), not the database.
- ``GET /api/v1/kiosk/manifest``: compare ``If-None-Match`` with a constant ETag; 304 if it
  matches, else a small JSON body. No token check, no database.

Configured by environment (see ``create_schema`` and ``env``): ``BENCH_CEILING_DB`` is a path
to the SQLite file or a ``postgresql://`` conninfo; ``BENCH_CEILING_VENUE`` and
``BENCH_CEILING_KIOSK`` the ids the rows reference.
Run: ``gunicorn 'bench.ceiling_app:create_app()'``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from signage_server.ingest import WRITER_TURNS

ETAG = "ceiling-0000000000"
TABLE = "ceiling_checkin"
COLUMNS = ("client_uuid", "venue_id", "kiosk_id", "occurred_at", "received_at",
           "clock_uncorrected", "time_untrusted", "direction", "method", "has_app",
           "consent_version")

_CHECKS = """
    CONSTRAINT ck_ceiling_direction CHECK (direction IN ('in', 'out')),
    CONSTRAINT ck_ceiling_method CHECK (method IN ('staff', 'scanner', 'button', 'self',
                                                   'self_static')),
    CONSTRAINT ck_ceiling_has_app CHECK (has_app IN ('yes', 'no', 'installed_now', 'unknown'))
"""

SQLITE_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER NOT NULL PRIMARY KEY,
    client_uuid CHAR(36) NOT NULL UNIQUE,
    venue_id INTEGER NOT NULL REFERENCES venue (id),
    kiosk_id INTEGER REFERENCES kiosk (id),
    occurred_at DATETIME NOT NULL,
    received_at DATETIME NOT NULL,
    clock_uncorrected BOOLEAN NOT NULL,
    time_untrusted BOOLEAN NOT NULL,
    claimed_at DATETIME,
    direction VARCHAR(16) NOT NULL,
    method VARCHAR(16) NOT NULL,
    has_app VARCHAR(16) NOT NULL,
    consent_version INTEGER,
    name VARCHAR(200), phone VARCHAR(32), organisation VARCHAR(200), purpose VARCHAR(200),
    host VARCHAR(200), id_last4 VARCHAR(4), personal_purged_at DATETIME,
    {_CHECKS}
);
CREATE INDEX IF NOT EXISTS ix_{TABLE}_venue_occurred ON {TABLE} (venue_id, occurred_at);
CREATE INDEX IF NOT EXISTS ix_{TABLE}_kiosk_id ON {TABLE} (kiosk_id);
"""

POSTGRES_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id SERIAL PRIMARY KEY,
    client_uuid UUID NOT NULL UNIQUE,
    venue_id INTEGER NOT NULL REFERENCES venue (id),
    kiosk_id INTEGER REFERENCES kiosk (id),
    occurred_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    clock_uncorrected BOOLEAN NOT NULL,
    time_untrusted BOOLEAN NOT NULL,
    claimed_at TIMESTAMPTZ,
    direction VARCHAR(16) NOT NULL,
    method VARCHAR(16) NOT NULL,
    has_app VARCHAR(16) NOT NULL,
    consent_version INTEGER,
    name VARCHAR(200), phone VARCHAR(32), organisation VARCHAR(200), purpose VARCHAR(200),
    host VARCHAR(200), id_last4 VARCHAR(4), personal_purged_at TIMESTAMPTZ,
    {_CHECKS}
);
CREATE INDEX IF NOT EXISTS ix_{TABLE}_venue_occurred ON {TABLE} (venue_id, occurred_at);
CREATE INDEX IF NOT EXISTS ix_{TABLE}_kiosk_id ON {TABLE} (kiosk_id);
"""


def is_postgres(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


def connect(database: str) -> Any:
    """A raw DB-API connection, set up as the server sets up its own."""
    if is_postgres(database):
        import psycopg

        return psycopg.connect(database)
    conn = sqlite3.connect(database, timeout=30)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                   "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _copy_of_checkin_sqlite(conn: sqlite3.Connection) -> list[str]:
    """The DDL of the server's ``checkin`` table and its indexes, renamed; [] without it."""
    rows = conn.execute("SELECT type, sql FROM sqlite_master WHERE tbl_name = 'checkin' "
                        "AND sql IS NOT NULL ORDER BY type DESC").fetchall()
    statements = []
    for kind, sql in rows:
        if kind == "table":
            sql = re.sub(r'^CREATE TABLE "?checkin"?', f"CREATE TABLE IF NOT EXISTS {TABLE}", sql)
        else:
            sql = re.sub(r"^CREATE (UNIQUE )?INDEX (\w+) ON \"?checkin\"?",
                         lambda m: f"CREATE {m.group(1) or ''}INDEX IF NOT EXISTS "
                                   f"{m.group(2).replace('checkin', TABLE)} ON {TABLE}", sql)
        statements.append(sql)
    return statements


def _copy_of_checkin_postgres(conn: Any) -> list[str]:
    """``LIKE checkin INCLUDING ALL`` (columns, defaults, checks, indexes) plus its foreign
    keys, which LIKE leaves out; [] without the server's table."""
    if conn.execute("SELECT to_regclass('checkin')").fetchone()[0] is None:
        return []
    if conn.execute(f"SELECT to_regclass('{TABLE}')").fetchone()[0] is not None:
        return ["SELECT 1"]  # made already: ADD would add the foreign keys twice
    keys = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = 'checkin'::regclass AND contype = 'f'").fetchall()
    return [f"CREATE TABLE IF NOT EXISTS {TABLE} (LIKE checkin INCLUDING ALL)",
            *(f"ALTER TABLE {TABLE} ADD {definition}" for (definition,) in keys)]


def create_schema(database: str) -> None:
    """Create ``ceiling_checkin`` next to the server's tables (run once, before serving).

    Where the server's ``checkin`` table exists, the ceiling's is a copy of it: the same
    columns, constraints, foreign keys and indexes, whatever migrations have added since this
    file was written, so the ceiling does the same database work per row as the server. The
    fixed DDL above serves a database without it (the smoke test)."""
    conn = connect(database)
    try:
        if is_postgres(database):
            for statement in _copy_of_checkin_postgres(conn) or [POSTGRES_DDL]:
                conn.execute(statement)
        else:
            statements = _copy_of_checkin_sqlite(conn)
            if statements:
                for statement in statements:
                    conn.execute(statement)
            else:
                conn.executescript(SQLITE_DDL)
        conn.commit()
    finally:
        conn.close()


def create_app(database: str | None = None, venue_id: int | None = None,
               kiosk_id: int | None = None) -> Flask:
    database = database or os.environ["BENCH_CEILING_DB"]
    venue = venue_id if venue_id is not None else int(os.environ.get("BENCH_CEILING_VENUE", 1))
    kiosk = kiosk_id if kiosk_id is not None else int(os.environ.get("BENCH_CEILING_KIOSK", 1))
    postgres = is_postgres(database)
    marks = ", ".join(["%s" if postgres else "?"] * len(COLUMNS))
    insert = (f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks}) "
              "ON CONFLICT (client_uuid) DO NOTHING")
    local = threading.local()  # one connection per worker thread
    sqlite_file = None if postgres else database

    def connection() -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect(database)
        return conn

    app = Flask(__name__)
    app.extensions["ceiling_connections"] = local  # .conn: this thread's, if it opened one

    @app.post("/api/v1/checkins")
    def checkins() -> Response:
        records = request.get_json()["records"]
        now = datetime.now(UTC)
        received: Any = now if postgres else now.replace(tzinfo=None).isoformat(" ")
        rows = [(r["client_uuid"], venue, kiosk, r["occurred_at"], received,
                 r.get("clock_uncorrected", False), False, r["direction"], r["method"],
                 r.get("has_app", "unknown"), r.get("consent_version")) for r in records]
        conn = connection()
        with WRITER_TURNS.turn(sqlite_file):
            cursor = conn.cursor()
            cursor.executemany(insert, rows)
            inserted = cursor.rowcount
            conn.commit()
        return jsonify({"inserted": inserted})

    @app.get("/api/v1/kiosk/manifest")
    def manifest() -> Response:
        if request.if_none_match.contains(ETAG):
            response = Response(status=304)
        else:
            response = jsonify({"manifest_version": ETAG})
        response.set_etag(ETAG)
        return response

    return app

