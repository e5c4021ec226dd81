"""``signage-server``: the command line of DESIGN.md section 4.

The same commands are registered on ``app.cli``, so ``flask --app signage_server ...`` works
too. Every command that creates something takes ``--json`` and then prints one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from . import fleet
from .extensions import db
from .models import Area, User, Venue
from .models.people import ROLES
from .models.places import AREA_KINDS, MAX_RETENTION_DAYS, PRIVACY_MODES, VENUE_KINDS
from .mqtt_acl import mqtt_group
from .passwords import hash_password
from .reports.commands import poster_command, report_group


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group("db", help="Database schema.")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade", help="Create or upgrade the schema to the latest version.")
def db_upgrade() -> None:
    from .migrate import upgrade

    upgrade(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo("database is up to date", err=True)


@db_group.command("revision", help="(developers) autogenerate a migration from the models.")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    from .migrate import revision

    revision(current_app._get_current_object(), message)  # type: ignore[attr-defined]


@click.group("area", help="Provinces and districts.")
def area_group() -> None:
    """Area commands."""


@area_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(AREA_KINDS), required=True)
@click.option("--parent", "parent_id", type=int, help="the province a district belongs to")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def area_add(name: str, kind: str, parent_id: int | None, as_json: bool) -> None:
    _check_name(name)
    if parent_id is not None and db.session.get(Area, parent_id) is None:
        _fail(f"no area with id {parent_id}")
    area = Area(name=name, kind=kind, parent_id=parent_id)
    db.session.add(area)
    db.session.commit()
    _emit(as_json, {"id": area.id}, f"area {area.id}: {name}")


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 200:
        _fail("a name needs 1 to 200 characters")


@click.group("venue", help="Venues (offices, bus stations, hotels, ...).")
def venue_group() -> None:
    """Venue commands."""


@venue_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(VENUE_KINDS), required=True)
@click.option("--area", "area_id", type=int)
@click.option("--privacy", type=click.Choice(PRIVACY_MODES), default="count", show_default=True)
@click.option("--retention-days", type=click.IntRange(1, MAX_RETENTION_DAYS))
@click.option("--timezone", "tz", help="IANA name; default from configuration")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def venue_add(name: str, kind: str, area_id: int | None, privacy: str,
              retention_days: int | None, tz: str | None, as_json: bool) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    _check_name(name)
    if area_id is not None and db.session.get(Area, area_id) is None:
        _fail(f"no area with id {area_id}")
    cfg = current_app.config
    timezone = tz or cfg["DEFAULT_TIMEZONE"]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(f"unknown timezone {timezone!r} (use an IANA name like Asia/Ho_Chi_Minh)")
    venue = Venue(name=name, kind=kind, area_id=area_id, privacy_mode=privacy,
                  retention_days=retention_days or cfg["DEFAULT_RETENTION_DAYS"],
                  timezone=timezone)
    db.session.add(venue)
    db.session.commit()
    _emit(as_json, {"id": venue.id}, f"venue {venue.id}: {name}")


@click.group("user", help="Staff accounts.")
def user_group() -> None:
    """User commands."""


@user_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--area", "area_id", type=int, help="a manager's area")
@click.option("--venue", "venue_id", type=int, help="a reception user's venue")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def user_add(email: str, role: str, area_id: int | None, venue_id: int | None,
             password_stdin: bool, as_json: bool) -> None:
    if not password_stdin:
        _fail("give the password on standard input with --password-stdin "
              "(there is no default password)")
    password = sys.stdin.readline().rstrip("\r\n")
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        _fail(f"not an email address: {email!r}")
    if role == "manager" and (area_id is None or db.session.get(Area, area_id) is None):
        _fail("a manager needs --area with an existing area id")
    if role == "reception" and (venue_id is None or db.session.get(Venue, venue_id) is None):
        _fail("a reception user needs --venue with an existing venue id")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        _fail(f"a user {email} exists already")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        _fail(str(exc))
    user = User(email=email, password_hash=hashed, role=role,
                area_id=area_id if role == "manager" else None,
                venue_id=venue_id if role == "reception" else None)
    db.session.add(user)
    db.session.commit()
    _emit(as_json, {"id": user.id, "email": email, "role": role}, f"user {user.id}: {email}")


@click.group("kiosk", help="Kiosks: add (enrollment code), revoke.")
def kiosk_group() -> None:
    """Kiosk commands."""


@kiosk_group.command("add")
@click.option("--venue", "venue_id", type=int, required=True)
@click.option("--name", default="", help="e.g. 'Lobby TV'")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def kiosk_add(venue_id: int, name: str, as_json: bool) -> None:
    if db.session.get(Venue, venue_id) is None:
        _fail(f"no venue with id {venue_id}")
    if len(name) > 200:
        _fail("a kiosk name has at most 200 characters")
    hours = current_app.config["ENROLLMENT_CODE_HOURS"]
    new = fleet.add_kiosk(venue_id, name, datetime.now(UTC), hours)
    db.session.commit()
    data = {"kiosk_id": new.kiosk_id, "venue_id": venue_id,
            "enrollment_code": new.enrollment_code,
            "expires_at": new.expires_at.isoformat().replace("+00:00", "Z")}
    server = current_app.config["PUBLIC_URL"]
    text = (f"kiosk {new.kiosk_id} for venue {venue_id}\n"
            f"enrollment code (one use, valid {hours} h): {new.enrollment_code}\n"
            f"on the kiosk: signage-kiosk enroll {new.enrollment_code} --server {server}\n"
            f"{_terminal_qr(new.enrollment_code)}")
    _emit(as_json, data, text)


def _terminal_qr(text: str) -> str:
    import qrcode

    qr = qrcode.QRCode(border=2)
    qr.add_data(text)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


@kiosk_group.command("revoke")
@click.argument("kiosk_id", type=int)
@with_appcontext
def kiosk_revoke(kiosk_id: int) -> None:
    from .errors import SignageError

    try:
        fleet.revoke(kiosk_id, datetime.now(UTC))
    except SignageError as exc:
        _fail(exc.message)
    db.session.commit()
    click.echo(f"kiosk {kiosk_id} revoked: its token no longer works")


@click.group("media", help="The media library.")
def media_group() -> None:
    """Media commands."""


@media_group.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def media_import(files: tuple[Path, ...], as_json: bool) -> None:
    from . import library
    from .errors import SignageError

    imported = []
    for number, path in enumerate(files, start=1):
        click.echo(f"[{number}/{len(files)}] {path.name}", err=True)
        try:
            asset, warnings = library.add_path(path)
        except SignageError as exc:
            db.session.rollback()
            _fail(f"{path.name}: {exc.message}; nothing after it was imported")
        db.session.commit()
        for warning in warnings:
            click.echo(f"  warning: {warning}", err=True)
        imported.append({"sha256": asset.sha256, "kind": asset.kind, "file": path.name})
    _emit(as_json, {"media": imported},
          "\n".join(f"{m['sha256']}  {m['kind']:5}  {m['file']}" for m in imported))


@media_group.command("import-default")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def media_import_default(as_json: bool) -> None:
    """Import the built-in promo videos, posters and the default playlist."""
    from . import default_content

    playlist = default_content.install()
    _emit(as_json, {"playlist_id": playlist.id, "items": len(playlist.items)},
          f"default playlist {playlist.id}: {len(playlist.items)} items")


@click.group("playlist", help="Playlists and where they play.")
def playlist_group() -> None:
    """Playlist commands."""


@playlist_group.command("assign")
@click.argument("playlist_id", type=int)
@click.option("--venue", "venue_id", type=int)
@click.option("--area", "area_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def playlist_assign(playlist_id: int, venue_id: int | None, area_id: int | None,
                    as_json: bool) -> None:
    """Show a playlist at a venue or in an area, and tell the kiosks."""
    from . import playlists
    from .errors import SignageError

    try:
        playlists.assign(playlist_id, area_id=area_id, venue_id=venue_id)
        sent = playlists.publish([venue_id] if venue_id is not None else None)
    except SignageError as exc:
        db.session.rollback()
        _fail(exc.message)
    where = f"venue {venue_id}" if venue_id is not None else f"area {area_id}"
    _emit(as_json, {"playlist_id": playlist_id, "pushed": sent},
          f"playlist {playlist_id} now plays in {where}")


@click.command("purge", help="Delete personal check-in data past each venue's retention.")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def purge_command(as_json: bool) -> None:
    from .retention import purge

    result = purge(datetime.now(UTC))
    _emit(as_json, {"venues": result.venues, "checkins_purged": result.checkins},
          f"personal data removed from {result.checkins} check-ins in {result.venues} venues")


COMMANDS = (purge_command, db_group, area_group, venue_group, user_group, kiosk_group,
            media_group, playlist_group, report_group, poster_command, mqtt_group)


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _set_instance(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        os.environ["SIGNAGE_INSTANCE_PATH"] = str(Path(value).resolve())


def _make_app() -> Flask:
    from . import create_app

    return create_app()


main = FlaskGroup(
    name="signage-server",
    help="Signage and check-in management server.",
    create_app=_make_app,
    load_dotenv=False,
    set_debug_flag=False,
    params=[click.Option(["--instance"], metavar="DIR", expose_value=False, is_eager=True,
                         callback=_set_instance,
                         help="instance folder (default ./instance or SIGNAGE_INSTANCE_PATH)")],
)
