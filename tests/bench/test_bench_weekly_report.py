"""bench weekly_report keeps working: a tiny deterministic data set in a scratch PostgreSQL
database, one round, figures written. Skipped without SIGNAGE_TEST_DATABASE_URL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("bench")

PG_URL = os.environ.get("SIGNAGE_TEST_DATABASE_URL", "")


@pytest.mark.skipif(not PG_URL, reason="SIGNAGE_TEST_DATABASE_URL is not set")
def test_quick_run_reports_the_generated_week(tmp_path: Path) -> None:
    from bench import weekly_report

    out = tmp_path / "weekly.json"
    code = weekly_report.main(["--quick", "--pg-url", PG_URL, "--json", str(out)])
    assert code == 0
    figures = json.loads(out.read_text())
    sizes = figures["sizes"]
    days = 4 * 7  # the default four weeks; the report's week is the last seven days
    for scope in ("country", "province"):
        assert figures[scope]["report_s"] > 0 and figures[scope]["main_explain_s"] > 0
    country = figures["country"]
    assert country["venues"] == sizes["venues"]
    assert country["plays_in_week"] == 7 * (sizes["plays"] // days)
    assert figures["load"]["rows"]["play_event"] == sizes["plays"]


def test_generator_is_deterministic() -> None:
    import random

    from bench.weekly_report import _moments

    first = list(_moments(500, 28, random.Random(7).random))
    assert first == list(_moments(500, 28, random.Random(7).random))
    assert first == sorted(first) and len(first) == 500
