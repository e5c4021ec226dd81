"""Nouns for the self check-in tests: a visitor's phone that opens a code and sends the form.

``Phone`` is a Flask test client with its own address (``REMOTE_ADDR``), which is what the
per-client rate limit sees. ``open`` reads the page's CSRF token and ticket the way a
browser keeps them in the form; ``send`` posts the form with whatever the visitor typed.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from signage_server.extensions import db
from signage_server.models import Kiosk
from signage_shared import presence

HIDDEN = re.compile(r'name="(csrf_token|ticket)" type="hidden" value="([^"]*)"')


def kiosk_code(app: Flask, kiosk_id: int, at: float | None = None) -> str:
    """The code the kiosk's screen shows at ``at`` (now by default)."""
    with app.app_context():
        kiosk = db.session.get(Kiosk, kiosk_id)
        assert kiosk is not None
        return presence.current_token(kiosk.presence_secret, kiosk.id,
                                      time.time() if at is None else at)


@dataclass
class Phone:
    client: FlaskClient
    address: str = "203.0.113.7"
    hidden: dict[str, str] = field(default_factory=dict)
    path: str = ""

    def get(self, path: str) -> TestResponse:
        return self.client.get(path, environ_base={"REMOTE_ADDR": self.address})

    def open(self, path: str) -> TestResponse:
        """Open a code's link; keep the form's hidden fields when it shows the form."""
        response = self.get(path)
        self.path = path
        self.hidden = {k: html.unescape(v) for k, v in
                       HIDDEN.findall(response.get_data(as_text=True))}
        return response

    def send(self, path: str | None = None, **typed: Any) -> TestResponse:
        data = {**self.hidden, **typed}
        return self.client.post(path or self.path, data=data,
                                environ_base={"REMOTE_ADDR": self.address})


def page(response: TestResponse) -> str:
    return response.get_data(as_text=True)
