"""Text layout: wrapping and fitting lines into a box, independent of the font library.

The display measures with its fonts and draws; the decisions (where to break, which size
fits) live here as pure functions over a ``measure`` callable, so they are tested without a
screen and the display module stays about pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kiosk.layout import Box

Measure = Callable[[str], int]
TITLE_SCALE = 1.25
TITLE_GAP = 0.7  # below a title, in font sizes
STEP_GAP = 0.35  # between two steps
SMALLEST = 8


class Metrics(Protocol):
    """The fonts' measurements: the width of a text and the distance between lines."""

    def width(self, text: str, size: int, bold: bool) -> int: ...

    def line_height(self, size: int, bold: bool) -> int: ...


@dataclass(frozen=True)
class Line:
    """One line to draw: where, at which size and weight, in which role (``title``,
    ``number`` of a step, or ``body``)."""

    text: str
    x: int
    y: int
    size: int
    bold: bool
    role: str = "body"


def wrap(text: str, width: int, measure: Measure) -> list[str]:
    """Break ``text`` at spaces so that each line measures at most ``width``.

    A single word wider than the box stays whole on its own line (the caller shrinks the
    font when that happens; cutting a Vietnamese word would change its meaning).
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if line and measure(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def fits(lines: Sequence[str], width: int, measure: Measure) -> bool:
    return all(measure(line) <= width for line in lines)


def largest_fitting(
    sizes: Sequence[int], fit: Callable[[int], bool], default: int | None = None
) -> int:
    """The first (largest) of ``sizes``, largest first, for which ``fit`` holds; else the
    smallest one (or ``default``): text too long is drawn small rather than not at all."""
    for size in sizes:
        if fit(size):
            return size
    return sizes[-1] if default is None else default


def font_sizes(largest: int, smallest: int) -> list[int]:
    """Candidate font sizes from ``largest`` down, about 8 % apart."""
    sizes: list[int] = []
    size = float(max(largest, smallest))
    while size >= smallest:
        if not sizes or int(size) != sizes[-1]:
            sizes.append(int(size))
        size *= 0.92
    return sizes or [smallest]


def fit_block(
    text: str,
    box: Box,
    metrics: Metrics,
    bold: bool,
    max_lines: int,
    align: str = "center",
    valign: str = "center",
) -> list[Line]:
    """``text`` wrapped and shrunk until it fits ``box`` in at most ``max_lines`` lines."""
    if not text or box.w <= 0 or box.h <= 0:
        return []

    def rows_at(size: int) -> list[str]:
        return wrap(text, box.w, lambda t: metrics.width(t, size, bold))

    def fit(size: int) -> bool:
        rows = rows_at(size)
        return (
            len(rows) <= max_lines
            and all(metrics.width(row, size, bold) <= box.w for row in rows)
            and len(rows) * metrics.line_height(size, bold) <= box.h
        )

    size = largest_fitting(font_sizes(max(SMALLEST, round(box.h * 0.8)), SMALLEST), fit)
    rows, step = rows_at(size)[:max_lines], metrics.line_height(size, bold)
    total = len(rows) * step
    y = {"top": box.y, "bottom": box.y + box.h - total}.get(valign, box.y + (box.h - total) // 2)
    lines = []
    for row in rows:
        free = box.w - metrics.width(row, size, bold)
        x = {"left": box.x, "right": box.x + free}.get(align, box.x + free // 2)
        lines.append(Line(row, x, y, size, bold))
        y += step
    return lines


def steps_size(
    columns: Sequence[tuple[str, Sequence[str], Box]], metrics: Metrics, largest: int
) -> int:
    """One font size for every column of numbered steps (the languages side by side look
    alike): the largest at which each column fits its box."""
    return largest_fitting(
        font_sizes(largest, 10),
        lambda size: all(
            _steps_height(title, steps, box.w, size, metrics) <= box.h
            for title, steps, box in columns
        ),
    )


def steps_block(
    title: str, steps: Sequence[str], box: Box, size: int, metrics: Metrics
) -> list[Line]:
    """A title and numbered steps with a hanging indent, centred vertically in ``box``."""
    title_size, indent = round(size * TITLE_SCALE), metrics.width("0. ", size, False)
    y = box.y + max(0, (box.h - _steps_height(title, steps, box.w, size, metrics)) // 2)
    lines = []
    for row in wrap(title, box.w, lambda t: metrics.width(t, title_size, True)):
        lines.append(Line(row, box.x, y, title_size, True, "title"))
        y += metrics.line_height(title_size, True)
    y += round(size * TITLE_GAP)
    for number, step in enumerate(steps, start=1):
        lines.append(Line(f"{number}.", box.x, y, size, False, "number"))
        for row in wrap(step, box.w - indent, lambda t: metrics.width(t, size, False)):
            lines.append(Line(row, box.x + indent, y, size, False))
            y += metrics.line_height(size, False)
        y += round(size * STEP_GAP)
    return lines


def _steps_height(title: str, steps: Sequence[str], width: int, size: int, metrics: Metrics) -> int:
    title_size, indent = round(size * TITLE_SCALE), metrics.width("0. ", size, False)
    title_rows = wrap(title, width, lambda t: metrics.width(t, title_size, True))
    height = len(title_rows) * metrics.line_height(title_size, True) + round(size * TITLE_GAP)
    for step in steps:
        rows = wrap(step, width - indent, lambda t: metrics.width(t, size, False))
        height += len(rows) * metrics.line_height(size, False) + round(size * STEP_GAP)
    return height
