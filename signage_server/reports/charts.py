"""Dashboard charts, drawn on the server as SVG by pygal.

The SVG carries its own stylesheet and no script (pygal's tooltip script and its config
``<script>`` are removed), fetches nothing from outside, and is embedded in the page as a
``data:`` image, which the console's Content-Security-Policy allows (``img-src 'self' data:``)
without allowing inline scripts or styles in the page itself.
"""

from __future__ import annotations

import base64
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pygal
from pygal.style import Style

from .dashboard import Dashboard
from .figures import Promo
from .texts import Texts


def _drop_pygal_import_hook() -> None:
    """pygal appends a ``sys.meta_path`` finder (for its ``pygal.maps`` plugins, unused
    here) that has no ``find_spec``: every later import of a missing module then raises an
    ImportWarning, an error under ``-W error``. Remove it."""
    sys.meta_path[:] = [f for f in sys.meta_path
                        if type(f).__name__ != "PluginImportFixer"
                        or not type(f).__module__.startswith("pygal")]


_drop_pygal_import_hook()

BLUE, ORANGE, GREEN, RED, GREY, TEAL = ("#0b549e", "#d9822b", "#1b7f3b", "#b00020", "#8a8a8a",
                                        "#138a8a")
STYLE = Style(
    background="white", plot_background="white", foreground="#222", foreground_strong="#111",
    foreground_subtle="#bbb", opacity="0.9", opacity_hover="1", transition="none",
    font_family="DejaVu Sans, Noto Sans, Arial, sans-serif", label_font_size=13,
    major_label_font_size=13, value_font_size=12, legend_font_size=14, title_font_size=16,
    colors=(BLUE, ORANGE, GREEN, RED, GREY, TEAL),
)
MAX_PROMOS = 10
WIDTH, HEIGHT = 640, 340


def _chart(kind: type[Any], title: str, labels: Sequence[str], **options: Any) -> Any:
    settings: dict[str, Any] = {
        "style": STYLE, "js": [], "disable_xml_declaration": True, "width": WIDTH,
        "height": HEIGHT, "title": title, "legend_at_bottom": True,
        "legend_at_bottom_columns": 3, "x_labels": list(labels),
        "x_labels_major_every": max(1, math.ceil(len(labels) / 10)),
        "show_minor_x_labels": len(labels) <= 10, "truncate_label": -1,
        "truncate_legend": -1, "print_values": False, "margin": 16, "margin_bottom": 26,
        "spacing": 10,
        "no_data_text": "—", **options}
    return kind(**settings)


def svg(chart: Any) -> str:
    """The chart's SVG without any ``<script>`` element."""
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    from pygal.etree import etree

    return str(etree.tostring(root, encoding="unicode"))


def data_uri(svg_text: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg_text.encode("utf-8")).decode()


def period_labels(board: Dashboard, t: Texts) -> list[str]:
    if board.granularity == "week":
        return [f"W{d.isocalendar().week:02d}" for d in board.starts]
    return [d.strftime("%d/%m") for d in board.starts]


def _numbers(t: Texts, digits: int = 0) -> Callable[[float | None], str]:
    return lambda v: t.number(v, digits)


def _decimal_ticks(highest: float, count: int = 4) -> list[float]:
    """Ticks for a ratio axis: whole ticks when the values are large enough, else tenths."""
    if highest >= count:
        return [float(v) for v in whole_ticks(highest, count)]
    step = max(0.1, math.ceil(highest / count * 10) / 10)
    return [round(i * step, 1) for i in range(math.ceil(max(highest, 0.1) / step) + 1)]


def whole_ticks(highest: float, count: int = 6) -> list[int]:
    """Integer y-axis ticks from 0 past ``highest`` (counts never get fractional ticks)."""
    raw = max(1.0, highest / count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, int(math.ceil(max(highest, 1) / step) * step) + 1, int(step)))


def checkins(board: Dashboard, t: Texts) -> str:
    highest = max([c.arrivals for c in board.series] or [0])
    chart = _chart(pygal.StackedBar, t("chart.checkins"), period_labels(board, t),
                   value_formatter=_numbers(t), y_labels=whole_ticks(highest),
                   legend_at_bottom_columns=2)
    chart.add(t("with_app"), [c.with_app for c in board.series], fill=True)
    chart.add(t("chart.without_app"), [c.app_no for c in board.series])
    chart.add(t("chart.not_asked"), [c.arrivals - c.answered for c in board.series])
    return svg(chart)


def share(board: Dashboard, t: Texts) -> str:
    target = board.settings.target
    shares = [c.share for c in board.series]
    top = max([target, *[s for s in shares if s is not None]]) * 1.15
    chart = _chart(pygal.Line, t("chart.share", target=t.percent(target, 0)),
                   period_labels(board, t), range=(0, min(1.0, top)), allow_interruptions=True,
                   value_formatter=lambda v: t.percent(v, 0), dots_size=3)
    chart.add(t("share"), shares, stroke_style={"width": 3})
    chart.add(t("target"), [target] * len(shares), show_dots=False,
              stroke_style={"width": 2, "dasharray": "8, 6"})
    return svg(chart)


def scans(board: Dashboard, t: Texts) -> str:
    highest = max([max(c.scans, c.installed_now) for c in board.series] or [0])
    chart = _chart(pygal.Bar, t("chart.scans"), period_labels(board, t),
                   value_formatter=_numbers(t), y_labels=whole_ticks(highest))
    chart.add(t("scans"), [c.scans for c in board.series])
    chart.add(t("installed_now"), [c.installed_now for c in board.series])
    return svg(chart)


def _top(promos: Sequence[Promo]) -> list[Promo]:
    return [p for p in promos if p.plays][:MAX_PROMOS]


def conversion(board: Dashboard, t: Texts) -> str | None:
    promos = sorted(_top(board.promos), key=lambda p: -(p.scans_per_1000 or 0.0))
    if not promos:
        return None
    chart = _chart(pygal.HorizontalBar, t("per_1000"), [], value_formatter=_numbers(t, 1),
                   legend_at_bottom_columns=1, y_labels=_decimal_ticks(
                       max(p.scans_per_1000 or 0.0 for p in promos)))
    for promo in promos:
        chart.add(t.promo(promo), [promo.scans_per_1000 or 0.0])
    return svg(chart)


def plays(board: Dashboard, t: Texts) -> str | None:
    promos = _top(board.promos)
    if not promos:
        return None
    chart = _chart(pygal.HorizontalBar, t("chart.plays"), [], value_formatter=_numbers(t),
                   legend_at_bottom_columns=1,
                   y_labels=whole_ticks(max(p.plays for p in promos), count=4))
    for promo in promos:
        chart.add(t.promo(promo), [promo.plays])
    return svg(chart)


def uptime(board: Dashboard, t: Texts) -> str:
    hours = [c.screen_hours(board.settings.heartbeat_seconds) for c in board.series]
    chart = _chart(pygal.Bar, t("chart.uptime"), period_labels(board, t),
                   value_formatter=_numbers(t), y_labels=whole_ticks(max(hours or [0])))
    chart.add(t("screen_hours"), hours)
    return svg(chart)


def footfall(board: Dashboard, t: Texts) -> str:
    counts = [c.footfall for c in board.series]
    chart = _chart(pygal.Bar, t("footfall"), period_labels(board, t),
                   value_formatter=_numbers(t), y_labels=whole_ticks(max(counts or [0])))
    chart.add(t("footfall"), counts)
    return svg(chart)


def kiosks(board: Dashboard, t: Texts) -> str:
    highest = max([board.kiosks, *[c.kiosks_online for c in board.series]])
    chart = _chart(pygal.Bar, t("chart.kiosks", kiosks=board.kiosks), period_labels(board, t),
                   value_formatter=_numbers(t), y_labels=whole_ticks(highest))
    chart.add(t("kiosks_online"), [c.kiosks_online for c in board.series])
    return svg(chart)


CHARTS: tuple[tuple[str, Callable[[Dashboard, Texts], str | None]], ...] = (
    ("checkins", checkins), ("share", share), ("scans", scans), ("conversion", conversion),
    ("plays", plays), ("uptime", uptime), ("footfall", footfall), ("kiosks", kiosks),
)


def titles(board: Dashboard, t: Texts) -> dict[str, str]:
    """Each chart's title, also its text alternative in the page."""
    return {"checkins": t("chart.checkins"),
            "share": t("chart.share", target=t.percent(board.settings.target, 0)),
            "scans": t("chart.scans"), "conversion": t("per_1000"), "plays": t("chart.plays"),
            "uptime": t("chart.uptime"), "footfall": t("footfall"),
            "kiosks": t("chart.kiosks", kiosks=board.kiosks)}


def render_all(board: Dashboard, t: Texts) -> list[tuple[str, str, str]]:
    """(name, title, SVG) of every chart of the dashboard that has something to show."""
    named = titles(board, t)
    drawn = [(name, named[name], draw(board, t)) for name, draw in CHARTS]
    return [(name, title, svg_text) for name, title, svg_text in drawn if svg_text]
