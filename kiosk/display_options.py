"""How the screen is set up, chosen by the command line and the kiosk's configuration.

Kept apart from ``kiosk.display`` so that building the options (and the ``status`` command)
never imports pygame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODES = ("fullscreen", "windowed", "headless")


@dataclass(frozen=True)
class DisplayOptions:
    """``mode``: "fullscreen" at the display's native size, "windowed", or "headless" (SDL's
    dummy driver: nothing is shown, ``screenshot`` is how to see it).

    ``size`` is the window or the headless framebuffer, as the panel is mounted; with
    ``rotation`` 90 or 270 the picture itself is portrait. ``screenshot``, when set, is
    rewritten atomically every ``screenshot_every`` seconds with exactly what is on screen
    (upright, as a viewer sees it).
    """

    mode: str = "fullscreen"
    size: tuple[int, int] = (1280, 720)
    rotation: int = 0
    screenshot: Path | None = None
    screenshot_every: float = 5.0
    vsync: bool = True
    title: str = "Signage kiosk"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"display mode {self.mode!r} is not one of {MODES}")
        if self.rotation % 90:
            raise ValueError(f"rotation {self.rotation} is not a multiple of 90")
        if min(self.size) < 64:
            raise ValueError(f"screen size {self.size} is too small")
