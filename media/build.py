"""Build the default content: ``python -m media.build [--out DIR] [--campaign FILE] [--jobs N]``.

With no server configured, or nothing assigned to its venue, a kiosk plays what this writes to
``media/default/``: three promo clips, install posters and ``playlist.json``; the server offers
the same files as its initial media. The output is committed, so a kiosk never needs this
script (nor x264) to show something, and the script is the only way the files are made:
re-running it with the same libraries gives byte-identical files (see ``video.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from .campaign import Campaign, load_campaign
from .poster import LANDSCAPE, PORTRAIT, Lang, render_poster
from .promo import FPS, PROMOS, SIZE, PromoRenderer, PromoSpec
from .video import encode, probe

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent / "default"
PLAYLIST = "playlist.json"
#: (file, language, size). The portrait posters are not in the default playlist; they are
#: there for rotated screens and for the server's initial media library.
POSTERS: tuple[tuple[str, Lang, tuple[int, int]], ...] = (
    ("poster-vi.png", "vi", LANDSCAPE),
    ("poster-en.png", "en", LANDSCAPE),
    ("poster-vi-portrait.png", "vi", PORTRAIT),
    ("poster-en-portrait.png", "en", PORTRAIT),
)
POSTER_SECONDS = 10.0
GUIDE_SECONDS = 20.0  # eight lines in two languages: long enough to read them all
QR_SECONDS = 15.0  # long enough to take out a phone and scan


def all_the_time() -> dict[str, Any]:
    """Every day, all day, no date limits: default content is the fallback, never scheduled."""
    return {"days": [1, 2, 3, 4, 5, 6, 7], "windows": [], "valid_from": None,
            "valid_until": None}


def build_promo(spec: PromoSpec, campaign: Campaign, out: Path,
                frames: int | None = None) -> Path:
    """Render and encode one promo clip; ``frames`` shortens it (tests, quick previews)."""
    renderer = PromoRenderer(spec, campaign, frames)
    path = out / spec.file_name
    encode((renderer.frame(i) for i in range(renderer.frames)), path, SIZE, FPS)
    return path


def build_poster(name: str, lang: Lang, size: tuple[int, int], campaign: Campaign,
                 out: Path) -> Path:
    """Draw one poster and save it as a PNG with no time or text chunks, atomically."""
    path = out / name
    partial = path.with_name(f".{name}.part")
    render_poster(campaign, lang, size).save(partial, format="PNG", optimize=True)
    os.replace(partial, path)
    return path


def _promo_job(job: tuple[PromoSpec, Campaign, Path, int | None]) -> tuple[str, float]:
    """One clip in a worker process (top level, so it pickles); returns its name and seconds."""
    started = time.perf_counter()
    path = build_promo(*job)
    return path.name, time.perf_counter() - started


def build_promos(campaign: Campaign, out: Path, jobs: int, frames: int | None = None) -> None:
    """Encode the clips side by side: each x264 runs single-threaded for reproducibility, so
    processes are how the build uses more than one core."""
    work = [(spec, campaign, out, frames) for spec in sorted(PROMOS, key=lambda s: -s.seconds)]
    if jobs <= 1:
        _log_promos(map(_promo_job, work))
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        _log_promos(pool.map(_promo_job, work))


def _log_promos(results: Iterable[tuple[str, float]]) -> None:
    for name, seconds in results:
        log.info("%-24s encoded in %.1f s", name, seconds)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def media_item(item_id: int, path: Path) -> dict[str, Any]:
    """A playlist item for a file, described from the file itself (hash, size, real duration),
    so the playlist cannot disagree with what sits beside it."""
    if path.suffix == ".mp4":
        info = probe(path)
        kind, mime, duration = "video", "video/mp4", info.duration_s
        width, height = info.width, info.height
    else:
        with Image.open(path) as image:
            width, height = image.size
        kind, mime, duration = "image", "image/png", POSTER_SECONDS
    return {"id": item_id, "kind": kind, "file": path.name, "sha256": sha256_of(path),
            "url": None, "mime": mime, "bytes": path.stat().st_size, "duration_s": duration,
            "width": width, "height": height, "schedule": all_the_time(), "data": {}}


def slide_item(item_id: int, kind: str, duration: float, data: dict[str, Any]) -> dict[str, Any]:
    """A text or QR slide: drawn by the kiosk, so no file."""
    return {"id": item_id, "kind": kind, "file": None, "sha256": None, "url": None,
            "mime": None, "bytes": None, "duration_s": duration, "width": None, "height": None,
            "schedule": all_the_time(), "data": data}


def guide_data(campaign: Campaign) -> dict[str, Any]:
    return {"title_vi": campaign.guide_title_vi, "lines_vi": list(campaign.steps_vi),
            "title_en": campaign.guide_title_en, "lines_en": list(campaign.steps_en)}


def qr_data(campaign: Campaign) -> dict[str, Any]:
    """``url`` null: show the manifest's smart link, else its store links, which are
    per-deployment configuration and have no place in content built into the kiosk."""
    return {"url": None, "caption_vi": campaign.qr_caption_vi,
            "caption_en": campaign.qr_caption_en}


def playlist(out: Path, campaign: Campaign) -> dict[str, Any]:
    """The default playlist in the manifest's item format, plus ``file`` (a name in ``out``).
    Ids are negative so they never clash with the server's item ids in play records."""
    promo = {spec.seconds: out / spec.file_name for spec in PROMOS}
    items = [
        media_item(-1, promo[8]),
        media_item(-2, out / "poster-vi.png"),
        media_item(-3, promo[15]),
        slide_item(-4, "text", GUIDE_SECONDS, guide_data(campaign)),
        media_item(-5, promo[30]),
        media_item(-6, out / "poster-en.png"),
        slide_item(-7, "qr", QR_SECONDS, qr_data(campaign)),
    ]
    return {"id": 0, "name": "Mặc định / Default", "items": items}


def write_json(path: Path, data: object) -> None:
    """UTF-8 (readable Vietnamese in diffs), sorted by construction, newline at the end."""
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def build(out: Path, campaign: Campaign | None = None, jobs: int = 1,
          frames: int | None = None) -> dict[str, Any]:
    """Everything, into ``out``; returns the playlist written there."""
    campaign = campaign or Campaign()
    out.mkdir(parents=True, exist_ok=True)
    build_promos(campaign, out, jobs, frames)
    for name, lang, size in POSTERS:
        build_poster(name, lang, size, campaign, out)
    result = playlist(out, campaign)
    write_json(out / PLAYLIST, result)
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m media.build", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--campaign", type=Path, default=None,
                        help="JSON file overriding the campaign's texts (see docs/media.md)")
    parser.add_argument("--jobs", type=int, default=min(len(PROMOS), os.cpu_count() or 1),
                        help="clips encoded in parallel (the output does not depend on it)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    result = build(args.out, load_campaign(args.campaign), args.jobs)
    for item in result["items"]:
        if item["file"]:
            log.info("%-24s %9d bytes  %s", item["file"], item["bytes"], item["sha256"][:16])
    log.info("built %s in %.1f s", args.out, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
