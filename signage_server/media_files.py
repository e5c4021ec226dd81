"""Media files by content hash: ``/media/<sha256>``.

The URL names the content, so the response never changes: it is cached for a year as
``immutable`` by browsers, nginx and any CDN. ``Range`` requests are answered with 206 by
werkzeug's conditional responses (kiosks resume interrupted downloads). In production the
transfer can be handed to nginx with ``X-Accel-Redirect`` (``MEDIA_ACCEL_REDIRECT``).
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request, send_file
from sqlalchemy import select

from .errors import NotFound
from .extensions import db
from .models import MediaAsset

bp = Blueprint("media", __name__)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
ONE_YEAR = 365 * 24 * 3600


def media_dir(app: Flask) -> Path:
    return Path(app.config["MEDIA_DIR"])


def path_of(sha256: str) -> Path:
    """Where a file lives: ``<media dir>/ab/abcdef...`` (two-level fan-out keeps folders
    small). Only a validated hash ever becomes part of a path."""
    if not SHA256.match(sha256):
        raise NotFound("no such media")
    return media_dir(current_app) / sha256[:2] / sha256


@bp.get("/media/<sha256>")
def media(sha256: str) -> Response:
    path = path_of(sha256)
    mime = db.session.scalar(select(MediaAsset.mime).where(MediaAsset.sha256 == sha256))
    if mime is None or not path.is_file():
        raise NotFound("no such media")
    accel = current_app.config["MEDIA_ACCEL_REDIRECT"]
    if accel:
        response = Response(status=200, mimetype=mime)
        response.headers["X-Accel-Redirect"] = f"{accel.rstrip('/')}/{sha256[:2]}/{sha256}"
    else:
        response = send_file(path, mimetype=mime, conditional=True, etag=sha256,
                             max_age=ONE_YEAR, last_modified=None)
    response.set_etag(sha256)
    response.cache_control.public = True
    response.cache_control.max_age = ONE_YEAR
    response.cache_control.immutable = True
    response.headers["Accept-Ranges"] = "bytes"
    if accel and request.if_none_match.contains(sha256):
        return Response(status=304, headers={"ETag": f'"{sha256}"'})
    return response
