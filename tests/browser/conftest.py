"""Browser tests: Debian's Chromium, driven by Playwright, against the real server.

``console`` starts the Flask app with werkzeug's threaded server on 127.0.0.1 (port 0, so
the system picks a free one) in a thread, on a SQLite instance of its own, seeded with a
province, a district, a venue, an administrator and a reception user. ``browser`` launches
/usr/bin/chromium headless (never a downloaded browser); without it every test here is
skipped with the reason. Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARGS, ARTIFACTS, CHROMIUM, PASSWORD, Console, open_tab
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from signage_server import create_app
from signage_server.extensions import db
from signage_server.migrate import upgrade
from signage_server.models import Area, Venue

#: The server tests' ``admin_support`` (users, sample media) is shared with these tests.
SERVER_TESTS = Path(__file__).resolve().parents[1] / "server"
if str(SERVER_TESTS) not in sys.path:
    sys.path.insert(0, str(SERVER_TESTS))


def _seed(app: Flask) -> tuple[int, str]:
    import admin_support
    from admin_support import add_user

    assert admin_support.PASSWORD == PASSWORD

    with app.app_context():
        province = Area(name="TP. Hồ Chí Minh", kind="province")
        db.session.add(province)
        db.session.flush()
        district = Area(name="Quận 1", kind="district", parent_id=province.id)
        db.session.add(district)
        db.session.flush()
        venue = Venue(name="Văn phòng UBND Quận 1", kind="office", area_id=district.id,
                      privacy_mode="contact", retention_days=21, timezone="Asia/Ho_Chi_Minh")
        db.session.add(venue)
        db.session.flush()
        add_user("admin@demo.vn", "admin")
        add_user("letan@demo.vn", "reception", venue=venue.id)
        db.session.commit()
        return venue.id, venue.name


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: apt-get install chromium to run the browser tests")
    instance = tmp_path_factory.mktemp("browser-instance")
    app = create_app({"MQTT_URL": "", "HEARTBEAT_SECONDS": 30}, instance_path=instance)
    upgrade(app)
    venue, name = _seed(app)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="console", daemon=True)
    thread.start()
    yield Console(app, url, venue, name)
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context (no cookies); console errors and page errors are collected
    in ``page.problems`` (a CSP violation is reported as a console error)."""
    context, tab = open_tab(browser, console.url, viewport={"width": 1280, "height": 860})
    yield tab
    context.close()
