"""Small JPEG previews of library files, stored next to the media file.

``<media dir>/ab/<sha256>.thumb.jpg``: the path comes only from the validated hash, like
the media file itself, so every server process sharing the media folder finds it. Made on
upload; files imported from the command line get theirs on first view. A video's preview
is its first frame (PyAV), an image's is the image scaled down (Pillow).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from ..media_files import path_of
from ..models import MediaAsset

log = logging.getLogger(__name__)
SIZE = (320, 180)


def thumbnail_path(sha256: str) -> Path:
    media = path_of(sha256)
    return media.with_name(f"{media.name}.thumb.jpg")


def ensure(asset: MediaAsset) -> Path | None:
    """The thumbnail's path, making it if needed; None if the file cannot be read."""
    target = thumbnail_path(asset.sha256)
    if target.exists():
        return target
    source = path_of(asset.sha256)
    if not source.is_file():
        return None
    try:
        image = _first_frame(source) if asset.kind == "video" else _image(source)
    except Exception as exc:  # a preview is optional: log and show a placeholder
        log.warning("no thumbnail for %s: %s", asset.sha256, exc)
        return None
    image.thumbnail(SIZE)
    fd, partial = tempfile.mkstemp(prefix=".thumb-", dir=target.parent)
    with os.fdopen(fd, "wb") as out:
        image.convert("RGB").save(out, "JPEG", quality=80)
    os.replace(partial, target)
    return target


def _image(source: Path):  # type: ignore[no-untyped-def]
    from PIL import Image

    with Image.open(source) as img:
        img.draft("RGB", SIZE)  # JPEG: decode at a reduced scale
        return img.copy()


def _first_frame(source: Path):  # type: ignore[no-untyped-def]
    import av

    with av.open(str(source)) as container:
        frame = next(container.decode(video=0))
        return frame.to_image()
