"""Fixtures of the kiosk tests: small generated clips and posters, default content, a headless
screen (SDL's dummy video driver: no display needed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy
import pytest
from gpiozero.pins.mock import MockFactory
from PIL import Image

ClipMaker = Callable[..., Path]


def _write_clip(
    path: Path,
    size: tuple[int, int] = (320, 180),
    fps: int = 30,
    frames: int = 15,
    color: tuple[int, int, int] = (200, 30, 30),
) -> Path:
    """An H.264 clip: a plain colour with a white bar moving across, so frames differ."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "32"}
        base = numpy.zeros((height, width, 3), numpy.uint8)
        base[...] = color
        for index in range(frames):
            picture = base.copy()
            left = (index * 9) % max(1, width - 16)
            picture[:, left : left + 16] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def clip_maker(tmp_path_factory: pytest.TempPathFactory) -> ClipMaker:
    """Make a clip (keyword arguments: size, fps, frames, color) in a session folder."""
    folder = tmp_path_factory.mktemp("clips")
    counter = iter(range(1_000_000))

    def make(**options: Any) -> Path:
        return _write_clip(folder / f"clip-{next(counter)}.mp4", **options)

    return make


@pytest.fixture(scope="session")
def clips(clip_maker: ClipMaker) -> tuple[Path, Path]:
    """Two half-second 30 fps clips of different colours."""
    return clip_maker(color=(200, 30, 30)), clip_maker(color=(30, 60, 200))


@pytest.fixture(scope="session")
def poster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A portrait poster, 300x600: orange with a black border one pixel wide."""
    path = tmp_path_factory.mktemp("posters") / "poster.png"
    picture = Image.new("RGB", (300, 600), (0, 0, 0))
    picture.paste((240, 140, 20), (1, 1, 299, 599))
    picture.save(path)
    return path


@pytest.fixture
def content(tmp_path: Path, clips: tuple[Path, Path], poster: Path) -> Path:
    """A default-content folder: two clips, a poster and a QR slide, as media/default has."""
    folder = tmp_path / "default"
    folder.mkdir()
    for source in (*clips, poster):
        (folder / source.name).write_bytes(source.read_bytes())
    playlist = {
        "items": [
            {"id": -1, "kind": "video", "file": clips[0].name, "duration_s": 0.5},
            {"id": -2, "kind": "video", "file": clips[1].name, "duration_s": 0.5},
            {"id": -3, "kind": "image", "file": poster.name, "duration_s": 1.0},
            {
                "id": -4,
                "kind": "qr",
                "duration_s": 1.0,
                "data": {
                    "url": "https://example.org/install",
                    "caption_vi": "Quét mã để cài đặt Bluezone",
                    "caption_en": "Scan to install Bluezone",
                },
            },
        ]
    }
    (folder / "playlist.json").write_text(json.dumps(playlist, ensure_ascii=False), "utf-8")
    return folder


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """gpiozero's own mock pins, for the buttons, LED, buzzer and PIR; reset after."""
    made = MockFactory()
    yield made
    made.reset()
    made.close()


@pytest.fixture
def headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """SDL's dummy video driver for this test (restored afterwards)."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")


@pytest.fixture
def screen(headless: None) -> Iterator[Any]:
    """An open headless 1280x720 display."""
    from kiosk.display import Display
    from kiosk.display_options import DisplayOptions

    display = Display(DisplayOptions(mode="headless", size=(1280, 720)))
    display.open()
    yield display
    display.close()
