"""The benchmarks keep working: each runs in its smallest mode (``--quick``: a few requests,
SQLite only, one gunicorn worker), the two at once, through ``python -m bench`` as
``make bench`` runs them. The figures are not checked, only that every request got the answer
it should (a benchmark exits non-zero otherwise) and that the figures were written."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("bench")

REPO = Path(__file__).resolve().parents[2]
MODULES = ("server_ingest", "manifest_poll")


def test_bench_modules_import_and_have_main() -> None:
    for name in MODULES:
        module = importlib.import_module(f"bench.{name}")
        assert callable(module.main), name


def test_ceiling_app_inserts_once_and_answers_304() -> None:
    ceiling_app = importlib.import_module("bench.ceiling_app")
    with tempfile.TemporaryDirectory() as folder:
        database = str(Path(folder) / "ceiling.sqlite")
        conn = ceiling_app.connect(database)
        conn.executescript("CREATE TABLE venue (id INTEGER PRIMARY KEY);"
                           "CREATE TABLE kiosk (id INTEGER PRIMARY KEY);"
                           "INSERT INTO venue VALUES (1); INSERT INTO kiosk VALUES (1);")
        conn.close()
        ceiling_app.create_schema(database)
        app = ceiling_app.create_app(database, venue_id=1, kiosk_id=1)
        client = app.test_client()
        batch = {"records": [{"client_uuid": str(uuid.uuid4()),
                              "occurred_at": "2026-11-23T08:00:00Z", "direction": "in",
                              "method": "button"} for _ in range(3)]}
        assert client.post("/api/v1/checkins", json=batch).json == {"inserted": 3}
        assert client.post("/api/v1/checkins", json=batch).json == {"inserted": 0}
        polled = client.get("/api/v1/kiosk/manifest",
                            headers={"If-None-Match": f'"{ceiling_app.ETAG}"'})
        assert polled.status_code == 304
        app.extensions["ceiling_connections"].conn.close()


def test_quick_runs(tmp_path: Path) -> None:
    runs = {name: subprocess.Popen(
        [sys.executable, "-m", "bench", name, "--", "--quick", "--json",
         str(tmp_path / f"{name}.json")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name in MODULES}
    outputs = {name: run.communicate(timeout=120)[0] for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, outputs[name]
        figures = json.loads((tmp_path / f"{name}.json").read_text())["sqlite"]
        assert figures["_checks"]["problems"] == 0, outputs[name]
        assert all(v > 0 for k, f in figures.items() if not k.startswith("_")
                   for v in [f.get("records_per_s", f.get("polls_per_s"))]), outputs[name]


def test_sync_backlog_quick_run(tmp_path: Path) -> None:
    """2,000 check-ins recorded through the kiosk's Recorder, synced by its sync side to
    gunicorn: all acknowledged once, within the batch size, timed against the ceiling."""
    out = tmp_path / "sync_backlog.json"
    run = subprocess.run([sys.executable, "-m", "bench", "sync_backlog", "--", "--quick",
                          "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(out.read_text())["sqlite"]
    assert figures["_checks"]["problems"] == 0, run.stdout
    assert figures["records"] == 2_000 and figures["sealed"] == 1_000, run.stdout
    assert 0 < figures["largest_request"] <= figures["batch_size"], run.stdout
    assert figures["sync_s"] > 0 and figures["ceiling_s"] > 0, run.stdout


def test_checkin_kill_soak_has_main() -> None:
    assert callable(importlib.import_module("bench.checkin_kill_soak").main)


def test_checkin_latency_quick_run(tmp_path: Path) -> None:
    """A headless kiosk confirms a few button presses and ID-card scans; the figures and the
    bare-commit ceiling are written (their size is not checked: the machine is shared)."""
    out = tmp_path / "checkin_latency.json"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    run = subprocess.run([sys.executable, "-m", "bench", "checkin_latency", "--", "--quick",
                          "--size", "960x540", "--json", str(out)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(out.read_text())
    for kind in ("button", "scan"):
        assert figures[kind]["n"] == 6 and figures[kind]["missed"] == 0, run.stdout
        assert 0 < figures[kind]["p50_ms"] <= figures[kind]["p99_ms"], run.stdout
    assert figures["ceiling_commit"]["p50_ms"] > 0, run.stdout
