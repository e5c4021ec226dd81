"""Helpers for the browser tests: screenshots, signing in, and a kiosk over HTTP.

``KioskOverHttp`` plays a kiosk with plain HTTP calls to the kiosk API (enroll, manifest,
heartbeat) against the live server: the real kiosk process is tested elsewhere.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from PIL import Image, ImageDraw

PASSWORD = "correct horse battery staple"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class Console:
    app: Flask
    url: str
    venue: int
    venue_name: str


def open_tab(browser: Any, base_url: str, **context: Any) -> tuple[Any, Any]:
    """A fresh browser context (no cookies) and its tab; console errors and page errors are
    collected in ``tab.problems`` (a CSP violation is reported as a console error). Close the
    returned context when done."""
    browser_context = browser.new_context(base_url=base_url, locale="vi-VN", **context)
    tab = browser_context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.set_default_timeout(15_000)
    tab.problems = problems
    return browser_context, tab


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save a screenshot of the page under test-artifacts/."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/admin/")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


class KioskOverHttp:
    """A kiosk talking to the live server's API over loopback HTTP."""

    def __init__(self, base: str, code: str) -> None:
        self.base = base
        body = self._call("POST", "/api/v1/enroll", {"code": code, "name": "Sảnh chính"})
        self.kiosk_id, self.token = body["kiosk_id"], body["token"]

    def _call(self, method: str, path: str, body: Any = None, token: str | None = None
              ) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    def manifest(self) -> dict[str, Any]:
        return self._call("GET", "/api/v1/kiosk/manifest", token=self.token)

    def heartbeat(self, manifest_version: str, screen: bytes | None = None) -> dict[str, Any]:
        beat: dict[str, Any] = {"version": "0.1.0", "uptime_s": 42, "temperature_c": 48.0,
                                "disk_free_bytes": 12 * 1024 ** 3, "clock_offset_s": 0.2,
                                "manifest_version": manifest_version,
                                "unsynced": {"checkins": 0, "plays": 3}}
        if screen:
            beat["screenshot_png"] = base64.b64encode(screen).decode("ascii")
        return self._call("POST", "/api/v1/heartbeat", beat, token=self.token)


def kiosk_screen() -> bytes:
    """What a headless kiosk would send: a frame with a poster and the bottom bar."""
    image = Image.new("RGB", (480, 270), "#0b5cad")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 230, 480, 270), fill="#102a43")
    draw.rectangle((20, 40, 200, 200), fill="white")
    draw.text((230, 100), "Bluezone", fill="white")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
