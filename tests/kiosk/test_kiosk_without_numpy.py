"""The kiosk process runs without numpy (issue 3: it cost 15 MB of RSS and ~90 ms of start-up),
and the two places that used it — the RGB video fallback and the QR — draw the same pictures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import numpy
import pygame
import pytest

from kiosk.display import Display, _rgb_surface, _RgbTexture
from kiosk.layout import Box
from kiosk.qr import QUIET_MODULES
from kiosk.video import Frame

RUN_AND_LIST_NUMPY = """
import json, sys
from kiosk.__main__ import main
status = main(sys.argv[1:])
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "numpy")
print(json.dumps({"status": status, "numpy": loaded}))
"""


def test_the_running_kiosk_never_loads_numpy(tmp_path: Path) -> None:
    shot = tmp_path / "screen.png"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "GPIOZERO_PIN_FACTORY": "mock"}
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_NUMPY, "--data", str(tmp_path / "data"), "run",
         "--headless", "--screenshot", str(shot), "--screenshot-every", "0.3",
         "--max-seconds", "1.5"],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"status": 0, "numpy": []}
    assert shot.stat().st_size > 0  # it did draw: bar, QR and the default content


def first_frame(path: Path) -> Frame:
    with av.open(str(path)) as container:
        return Frame(0, 0.0, next(container.decode(video=0)))


def test_the_rgb_fallback_shows_the_frame_as_decoded(screen: Display, clip_maker: Any) -> None:
    frame = first_frame(clip_maker(size=(90, 48), frames=1, color=(220, 120, 30)))
    assert frame.picture.reformat(format="rgb24").planes[0].line_size > 90 * 3  # padded rows
    renderer = screen._renderer
    assert renderer is not None
    texture = _RgbTexture(renderer)
    texture.upload(frame)
    renderer.draw_color = (0, 0, 0, 255)
    renderer.clear()
    texture.draw((0, 0, 90, 48), 0.0)
    shown = renderer.to_surface(area=(0, 0, 90, 48))
    expected = frame.picture.to_ndarray(format="rgb24")
    assert pygame.image.tobytes(shown, "RGB") == expected.tobytes()


class PaddedPlane(bytearray):
    """An RGB24 plane with any row padding. PyAV's rows always end on a whole pixel (FFmpeg
    aligns the width, not the bytes); the copying path is there for a plane whose would not."""

    def __init__(self, data: bytes, line_size: int) -> None:
        super().__init__(data)
        self.line_size = line_size


@pytest.mark.parametrize("line_size", [12, 15, 14])  # none, one whole pixel, two bytes
def test_an_rgb_plane_becomes_a_surface_whatever_its_row_padding(
    headless: None, line_size: int
) -> None:
    picture = numpy.arange(3 * 4 * 3, dtype=numpy.uint8).reshape(3, 4, 3)  # 4x3 pixels
    rows = numpy.zeros((3, line_size), numpy.uint8)
    rows[:, :12] = picture.reshape(3, 12)
    surface = _rgb_surface(PaddedPlane(rows.tobytes(), line_size), (4, 3))  # type: ignore[arg-type]
    assert surface.get_size() == (4, 3)
    assert pygame.image.tobytes(surface, "RGB") == picture.tobytes()


def test_the_qr_is_drawn_module_by_module_without_smoothing(screen: Display) -> None:
    data = "https://example.org/q/1"
    surface = pygame.Surface((400, 400))
    screen._paint_qr(surface, data, Box(0, 0, 400, 400))
    matrix = screen.qr_codes.get(data)
    module = matrix.module_px(400)
    side = (matrix.size + 2 * QUIET_MODULES) * module
    start = (400 - side) // 2
    code = pygame.surfarray.array_red(surface)[start : start + side, start : start + side]  # [x, y]
    assert set(numpy.unique(code).tolist()) == {0, 255}  # crisp: black and white only
    for y, row in enumerate(matrix.rows):
        for x, dark in enumerate(row):
            left, top = (QUIET_MODULES + x) * module, (QUIET_MODULES + y) * module
            block = code[left : left + module, top : top + module]
            assert (block == (0 if dark else 255)).all()
