"""The media library: files checked by decoding them, stored once by their sha256.

A file is what its content says, never what its name claims: videos are opened with PyAV
and must hold a decodable video stream, images are opened with Pillow and fully loaded.
Only the computed hash ever becomes part of a path.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select

from . import containers
from .errors import BadRequest, PayloadTooLarge
from .extensions import db
from .media_files import path_of
from .models import MediaAsset

CHUNK = 1024 * 1024
IMAGE_MIME = {"PNG": "image/png", "JPEG": "image/jpeg"}
#: Decompression-bomb guard: a poster never needs more than 8K x 8K pixels.
MAX_IMAGE_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class Probe:
    kind: str
    mime: str
    duration_ms: int | None
    width: int
    height: int
    codec: str | None = None
    fps: float | None = None


def probe(path: Path) -> Probe:
    """What the file really is, or BadRequest saying why it is refused."""
    info = _probe_image(path) or _probe_video(path)
    containers.check(path, info.mime)  # nothing cut short, nothing appended
    return info


def _probe_image(path: Path) -> Probe | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.format not in IMAGE_MIME:
                raise BadRequest(f"{img.format} images are not supported: use PNG or JPEG")
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise BadRequest("the image is larger than 8192 x 8192 pixels")
            img.load()
            return Probe("image", IMAGE_MIME[img.format], None, width, height)
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:  # Pillow's own guard, before ours
        raise BadRequest("the image is larger than 8192 x 8192 pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadRequest("the image is damaged and cannot be shown") from exc


def _probe_video(path: Path) -> Probe:
    import av

    try:
        with av.open(str(path)) as container:
            if "mp4" not in container.format.name.split(",") or not container.streams.video:
                raise BadRequest("not a video or image file this system can show "
                                 "(videos: MP4, images: PNG or JPEG)")
            stream = container.streams.video[0]
            frame = next(container.decode(stream), None)
            if frame is None:
                raise BadRequest("the video has no frame that can be decoded")
            duration = container.duration or 0
            rate = float(stream.average_rate) if stream.average_rate else None
            return Probe("video", "video/mp4", int(duration / 1000), frame.width,
                         frame.height, stream.codec_context.name, rate)
    except (av.error.FFmpegError, StopIteration, UnicodeDecodeError) as exc:
        raise BadRequest("not a video or image file this system can show") from exc


def kiosk_profile_warnings(info: Probe) -> list[str]:
    """Why a video may stutter on a Raspberry Pi (empty when it fits the profile)."""
    if info.kind != "video":
        return []
    warnings = []
    if info.codec != "h264":
        warnings.append(f"codec {info.codec}: H.264 plays best on kiosks")
    if max(info.width, info.height) > 1920 or min(info.width, info.height) > 1080:
        warnings.append(f"{info.width}x{info.height}: at most 1080p plays smoothly")
    if info.fps and info.fps > 30.5:
        warnings.append(f"{info.fps:.0f} fps: at most 30 fps plays smoothly")
    return warnings


def _spool(stream: BinaryIO, limit: int, folder: Path) -> tuple[Path, str, int]:
    """Copy to a temporary file in the media folder, hashing on the way."""
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(prefix=".upload-", dir=folder)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                Path(name).unlink(missing_ok=True)
                raise PayloadTooLarge(f"the file is larger than {limit // (1024 * 1024)} MB")
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return Path(name), digest.hexdigest(), size


def add(stream: BinaryIO, title: str) -> tuple[MediaAsset, list[str]]:
    """Check and store a file; an identical file already in the library is returned as is.
    Returns the asset and warnings about the kiosk-friendly profile."""
    folder = Path(current_app.config["MEDIA_DIR"])
    tmp, sha, size = _spool(stream, current_app.config["MAX_UPLOAD_BYTES"], folder)
    try:
        existing = db.session.scalars(select(MediaAsset).where(MediaAsset.sha256 == sha)).first()
        if existing is not None:
            return existing, []
        info = probe(tmp)
        target = path_of(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    asset = MediaAsset(sha256=sha, kind=info.kind, mime=info.mime, bytes=size,
                       duration_ms=info.duration_ms, width=info.width, height=info.height,
                       title=title[:200])
    db.session.add(asset)
    db.session.flush()
    return asset, kiosk_profile_warnings(info)


def add_path(path: Path, title: str | None = None) -> tuple[MediaAsset, list[str]]:
    with path.open("rb") as fh:
        return add(fh, title or path.name)
