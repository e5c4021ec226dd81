"""``signage-server report weekly`` and ``signage-server poster``.

    signage-server report weekly (--area ID | --venue ID | --all) [--week 2026-W47]
        [--lang vi|en] [--format html|csv|xlsx] [--out FILE]
    signage-server poster --venue ID [--size A4|A3|A5] [--lang vi|en] [--format pdf|png]
        [--out FILE]

Bad input (an unknown area, a week like 2026-W60) stops with a message and exit code 1.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..errors import SignageError
from ..extensions import db
from .figures import Settings
from .formats import FORMATS, render
from .periods import IsoWeek, last_complete_week
from .scope import Kind, resolve
from .texts import LANGUAGES
from .weekly import build


@click.group("report", help="Adoption reports.")
def report_group() -> None:
    """Report commands."""


def _scope_choice(area_id: int | None, venue_id: int | None,
                  everything: bool) -> tuple[Kind, int | None]:
    given = [k for k, v in (("area", area_id), ("venue", venue_id)) if v is not None]
    if everything:
        given.append("all")
    if len(given) != 1:
        raise click.UsageError("give exactly one of --area ID, --venue ID or --all")
    kind: Kind = given[0]  # type: ignore[assignment]
    return kind, area_id if kind == "area" else venue_id


def _write(data: bytes, out: str | None, binary: bool = False) -> None:
    if out in (None, "-"):
        if binary and sys.stdout.isatty():
            raise click.UsageError("binary output: give --out FILE")
        click.echo(data, nl=False)
        return
    Path(out).write_bytes(data)  # type: ignore[arg-type]
    click.echo(f"written {out} ({len(data):,} bytes)", err=True)


@report_group.command("weekly", help="The weekly adoption report of an area or venue.")
@click.option("--area", "area_id", type=int, help="a province or district (with its districts)")
@click.option("--venue", "venue_id", type=int)
@click.option("--all", "everything", is_flag=True, help="every venue (the whole country)")
@click.option("--week", help="ISO week, e.g. 2026-W47 (default: the last complete week)")
@click.option("--lang", type=click.Choice(LANGUAGES), default="vi", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--out", metavar="FILE", help="write here instead of standard output")
@with_appcontext
def weekly_command(area_id: int | None, venue_id: int | None, everything: bool,
                   week: str | None, lang: str, fmt: str, out: str | None) -> None:
    kind, ident = _scope_choice(area_id, venue_id, everything)
    cfg = current_app.config
    now = datetime.now(UTC)
    try:
        iso = IsoWeek.parse(week) if week else last_complete_week(now, cfg["DEFAULT_TIMEZONE"])
        scope = resolve(db.session, kind, ident)
        report = build(db.session, scope, iso, now, Settings.from_config(cfg))
    except SignageError as exc:
        raise click.ClickException(exc.message) from exc
    _write(render(report, fmt, lang), out, binary=fmt == "xlsx")


@click.command("poster", help="A printable poster (install QR, self check-in QR) of a venue.")
@click.option("--venue", "venue_id", type=int, required=True)
@click.option("--size", type=click.Choice(("A4", "A3", "A5"), case_sensitive=False),
              default="A4", show_default=True, help="A5 makes a leaflet")
@click.option("--lang", type=click.Choice(LANGUAGES), default="vi", show_default=True)
@click.option("--format", "fmt", type=click.Choice(("pdf", "png")), default="pdf",
              show_default=True)
@click.option("--out", metavar="FILE",
              help="default: poster-venue-ID-SIZE-LANG.FORMAT in the current folder")
@with_appcontext
def poster_command(venue_id: int, size: str, lang: str, fmt: str, out: str | None) -> None:
    from .. import posters
    from ..models import Venue

    venue = db.session.get(Venue, venue_id)
    if venue is None:
        raise click.ClickException(f"no venue with id {venue_id}")
    cfg = current_app.config
    try:
        content = posters.content_for(venue, cfg, lang)
        fonts = posters.Fonts(posters.font_dir(cfg["FONT_DIR"]))
        data = posters.render(content, size.upper(), fmt, fonts)
    except SignageError as exc:
        raise click.ClickException(exc.message) from exc
    target = out or posters.filename(content, size.upper(), fmt)
    _write(data, target)
