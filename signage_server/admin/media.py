"""The media library: upload with a progress bar, checks, thumbnails, profile warnings.

The upload is an ordinary multipart form (it works without JavaScript); ``admin.js`` sends
the same form with XMLHttpRequest to show progress and then asks for JSON. The file is
checked by ``library.add`` (decoded, size-limited, deduplicated by sha256); its name is only
ever used as a default *title* in the database, never as a path.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .. import audit, containers, library
from ..errors import SignageError
from ..extensions import db
from ..models import MediaAsset, PlaylistItem
from ..security import allow, large_body, staff
from . import bp, thumbnails
from .choices import now
from .forms import UploadForm
from .paging import paginate


@bp.get("/media")
@allow("admin", "manager")
def media() -> str:
    page = paginate(select(MediaAsset).order_by(MediaAsset.created_at.desc(),
                                                MediaAsset.id.desc()), per_page=48)
    uses = dict(db.session.execute(
        select(PlaylistItem.media_id, func.count(func.distinct(PlaylistItem.playlist_id)))
        .where(PlaylistItem.media_id.in_([m.id for m in page.items]))
        .group_by(PlaylistItem.media_id)).all())
    return render_template("admin/media.html", page=page, uses=uses, form=UploadForm(),
                           max_bytes=int(current_app.config["MAX_UPLOAD_BYTES"]))


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _title(form: UploadForm) -> str:
    typed = (form.title.data or "").strip()
    if typed:
        return typed[:200]
    name = PurePath((form.file.data.filename or "").replace("\\", "/")).stem
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or _("Untitled")


#: The library's reasons (English, also used by the CLI) in the console's language.
REASONS = {
    "not a video or image file this system can show (videos: MP4, images: PNG or JPEG)":
        _l("This is not a video or an image the kiosks can show (videos: MP4; images: PNG "
           "or JPEG)."),
    "the video has no frame that can be decoded": _l("The video has no frame that can be "
                                                     "decoded."),
    "the image is damaged and cannot be shown": _l("The image is damaged and cannot be shown."),
    "the image is larger than 8192 x 8192 pixels": _l("The image is larger than 8192 × 8192 "
                                                      "pixels."),
    containers.TRUNCATED: _l("The file is cut short (truncated): upload it again."),
    containers.TRAILING: _l("The file has other data after its end (a disguised file?): "
                            "export it again."),
}
WARNINGS = (
    (re.compile(r"^codec (\S+): "), _l("Codec %(value)s: H.264 plays best on kiosks.")),
    (re.compile(r"^(\d+x\d+): "), _l("%(value)s: at most 1080p plays smoothly.")),
    (re.compile(r"^(\d+) fps: "), _l("%(value)s frames per second: at most 30 play smoothly.")),
)


def reason(message: str) -> str:
    return str(REASONS.get(message, message))


def translate_warning(message: str) -> str:
    for pattern, text in WARNINGS:
        match = pattern.match(message)
        if match:
            return str(text) % {"value": match.group(1)}
    return message


def _refuse(message: str, status: int = 400) -> Response:
    if _wants_json():
        response = jsonify({"ok": False, "error": message})
        response.status_code = status
        return response
    flash(message, "error")
    return redirect(url_for("admin.media"))


@bp.post("/media/upload")
@allow("admin", "manager")
@large_body("MAX_UPLOAD_BYTES")
def media_upload() -> Response:
    form = UploadForm()
    if not form.validate_on_submit():
        errors = [e for field in form.errors.values() for e in field]
        return _refuse("; ".join(map(str, errors)) or _("Choose a file to upload."))
    started = now()
    try:
        asset, warnings = library.add(form.file.data.stream, _title(form))
    except SignageError as exc:
        db.session.rollback()
        return _refuse(_("Refused: %(reason)s", reason=reason(exc.message)), exc.status)
    duplicate = asset.created_at < started
    if not duplicate:
        thumbnails.ensure(asset)
        audit.record("media.upload", user_id=staff().id, target=f"media:{asset.id}",
                     details={"sha256": asset.sha256, "kind": asset.kind, "bytes": asset.bytes,
                              "warnings": warnings})
    db.session.commit()
    return _uploaded(asset, warnings, duplicate)


def _uploaded(asset: MediaAsset, warnings: list[str], duplicate: bool) -> Response:
    warnings = [translate_warning(w) for w in warnings]
    message = (_("This file is already in the library as “%(title)s”.", title=asset.title)
               if duplicate else _("“%(title)s” is added.", title=asset.title))
    if _wants_json():
        body: dict[str, Any] = {"ok": True, "duplicate": duplicate, "message": message,
                                "warnings": warnings, "media": {
                                    "id": asset.id, "title": asset.title, "kind": asset.kind,
                                    "sha256": asset.sha256}}
        return jsonify(body)
    flash(message, "success")
    for text in warnings:
        flash(_("Kiosk profile: %(warning)s", warning=text), "warning")
    return redirect(url_for("admin.media"))


@bp.get("/media/<int:media_id>/thumbnail.jpg")
@allow("admin", "manager")
def media_thumbnail(media_id: int) -> Response:
    asset = db.session.get(MediaAsset, media_id) or abort(404)
    path = thumbnails.ensure(asset)
    if path is None:
        return redirect(url_for("static", filename="admin/no-preview.svg"))
    response = Response(path.read_bytes(), mimetype="image/jpeg")  # a few KB
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.set_etag(asset.sha256)
    return response.make_conditional(request)
