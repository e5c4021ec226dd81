"""Does a media file end exactly where its own format says it ends?

Decoding the first frame (``library.probe``) proves a file *starts* as a picture or a video.
Two kinds of file pass that test and still must be refused:

- a **truncated** upload: an MP4 whose index comes first (``+faststart``) decodes its first
  frames although the rest of the media data is missing, and the kiosk would stop mid-clip;
- a **polyglot**: a valid PNG, JPEG or MP4 with another file (a ZIP archive, an HTML page, a
  script) appended, which some other program would read as that other file.

So each container is walked by its own structure (PNG chunks, JPEG markers, ISO-BMFF boxes)
and the walk must land on the last byte of the file. Only headers are read, with seeks, so a
large video costs a few hundred small reads. Written here because no library reports
"trailing data" for us: Pillow and FFmpeg both ignore it on purpose.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from .errors import BadRequest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Far more chunks or boxes than any real file has; a file with more is refused rather than
#: walked for minutes.
MAX_PARTS = 200_000
#: Boxes a QuickTime or MP4 file may start with (old QuickTime files have no ``ftyp``).
FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

TRUNCATED = "the file is cut short (truncated): upload it again"
TRAILING = "the file has other data after its end (a disguised file?): export it again"


def check(path: Path, mime: str) -> None:
    """Raise ``BadRequest`` unless the file's structure covers it exactly."""
    walker = {"image/png": _png_end, "image/jpeg": _jpeg_end, "video/mp4": _bmff_end}[mime]
    size = path.stat().st_size
    with path.open("rb") as fh:
        end = walker(fh, size)
    if end > size:
        raise BadRequest(TRUNCATED, "truncated")
    if end < size:
        raise BadRequest(TRAILING, "trailing_data")


def _read(fh: BinaryIO, count: int) -> bytes:
    data = fh.read(count)
    if len(data) < count:
        raise BadRequest(TRUNCATED, "truncated")
    return data


def _png_end(fh: BinaryIO, size: int) -> int:
    """Offset just after the IEND chunk."""
    if _read(fh, 8) != PNG_SIGNATURE:
        raise BadRequest("not a PNG file", "invalid_media")
    position = 8
    for _ in range(MAX_PARTS):
        length, kind = struct.unpack(">I4s", _read(fh, 8))
        position += 12 + length
        if kind == b"IEND":
            return position
        if position > size:
            return position
        fh.seek(position)
    raise BadRequest("the PNG has too many chunks", "invalid_media")


def _jpeg_end(fh: BinaryIO, size: int) -> int:
    """Offset just after the EOI marker, skipping segments and entropy-coded data."""
    data = fh.read()  # JPEG posters are small; their entropy data must be scanned anyway
    if not data.startswith(b"\xff\xd8"):
        raise BadRequest("not a JPEG file", "invalid_media")
    position = 2
    for _ in range(MAX_PARTS):
        marker_at = data.find(b"\xff", position)
        if marker_at < 0 or marker_at + 1 >= len(data):
            return size + 1
        marker = data[marker_at + 1]
        if marker == 0xD9:
            return _skip_padding(data, marker_at + 2)
        if marker in (0x00, 0xFF) or 0xD0 <= marker <= 0xD7:  # stuffing, fill, restarts
            position = marker_at + 1 if marker == 0xFF else marker_at + 2
            continue
        if marker_at + 4 > len(data):
            return size + 1
        (length,) = struct.unpack(">H", data[marker_at + 2:marker_at + 4])
        position = marker_at + 2 + length  # after SOS the scan continues in entropy data
    raise BadRequest("the JPEG has too many segments", "invalid_media")


def _skip_padding(data: bytes, end: int) -> int:
    """Some cameras pad a JPEG with zero bytes after EOI; that is not another file."""
    return len(data) if not data[end:].strip(b"\x00") else end


def _bmff_end(fh: BinaryIO, size: int) -> int:
    """Offset just after the last top-level box of an MP4 / QuickTime file."""
    position = 0
    for index in range(MAX_PARTS):
        if position == size:
            return position
        if size - position < 8:
            return position  # a few stray bytes after the last box
        fh.seek(position)
        length, kind = struct.unpack(">I4s", _read(fh, 8))
        if not _box_type(kind) or (index == 0 and kind not in FIRST_BOXES):
            if index == 0:
                raise BadRequest("not an MP4 file", "invalid_media")
            return position
        if length == 1:
            (length,) = struct.unpack(">Q", _read(fh, 8))
        elif length == 0:  # "extends to the end of the file"
            length = size - position
        if length < 8:
            raise BadRequest("the MP4 structure is damaged", "invalid_media")
        position += length
    raise BadRequest("the MP4 has too many boxes", "invalid_media")


def _box_type(kind: bytes) -> bool:
    return all(0x20 <= byte <= 0x7E or byte == 0xA9 for byte in kind)
