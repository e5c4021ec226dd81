"""Text layout: wrapping and fitting lines into a box, independent of the font library.

The display measures with its fonts and draws; the decisions (where to break, which size
fits) live here as pure functions over a ``measure`` callable, so they are tested without a
screen and the display module stays about pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Measure = Callable[[str], int]


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
