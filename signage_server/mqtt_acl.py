"""Broker accounts for the fleet: Mosquitto's password file and ACL file, rendered from data.

Every kiosk has its own broker account, ``kiosk-<id>``, that may only *read* three topics: its
own ``<prefix>/kiosk/<id>``, its venue's ``<prefix>/venue/<venue id>`` and ``<prefix>/all``.
Only the server's account (the user of ``SIGNAGE_MQTT_URL``) may publish. A stolen kiosk
therefore learns when its own manifest changes and nothing else, and cannot wake anybody.

No kiosk password is stored anywhere: it is HMAC-SHA256(SECRET_KEY, "mqtt:<kiosk id>"), so
the server hands it out at enrollment and ``signage-server mqtt export`` can write both files
again at any time. The files are deterministic (the salts are derived too), so exporting an
unchanged fleet rewrites nothing and the broker is reloaded only when a kiosk was added or
revoked (deploy/server/signage-mqtt-reload.path watches the files).

Why the hash is written here: Mosquitto 2.0 stores ``$7$<iterations>$<salt>$<hash>`` with
PBKDF2-HMAC-SHA512, a 12-byte salt and base64 (RFC 4648, padded). ``mosquitto_passwd``
handles one user per call, needs the broker package on the app server, and takes passwords
on its command line; ``hashlib.pbkdf2_hmac`` computes the same bytes in-process (a test
checks a line against ``mosquitto_passwd``). Everything above ``export`` is a pure function
of its arguments; ``export`` writes the files, the ``mqtt export`` command reads the fleet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .extensions import db
from .models import Kiosk

#: Mosquitto 2.0's own default (``mosquitto_passwd``); the passwords are 256-bit random
#: values, so the iteration count guards nothing a brute force could reach anyway.
ITERATIONS = 101
SALT_BYTES = 12
HASH_BYTES = 64
ACL_FILE = "acl"
PASSWD_FILE = "passwd"
FILE_MODE = 0o640  # group-readable: the broker reads the files as group ``mosquitto``
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
_SAFE_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class KioskAccount(NamedTuple):
    """What the broker needs to know about one kiosk."""

    kiosk_id: int
    venue_id: int
    username: str
    password: str


class Export(NamedTuple):
    """What ``export`` wrote: the two paths, how many kiosks, and whether anything changed."""

    acl: Path
    passwd: Path
    kiosks: int
    changed: bool


def kiosk_username(kiosk_id: int) -> str:
    return f"kiosk-{int(kiosk_id)}"


def kiosk_password(secret_key: str | bytes, kiosk_id: int) -> str:
    """The kiosk's broker password; the server can always compute it again."""
    key = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    return hmac.new(key, f"mqtt:{int(kiosk_id)}".encode(), hashlib.sha256).hexdigest()


def kiosk_topics(prefix: str, kiosk_id: int, venue_id: int) -> list[str]:
    """The only topics a kiosk may read (the same list the manifest gives it)."""
    return [f"{prefix}/kiosk/{int(kiosk_id)}", f"{prefix}/venue/{int(venue_id)}", f"{prefix}/all"]


def hash_password(password: str, salt: bytes, iterations: int = ITERATIONS) -> str:
    """Mosquitto 2.0's ``$7$`` PBKDF2-SHA512 encoding of ``password``."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"mosquitto salts are {SALT_BYTES} bytes, not {len(salt)}")
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations,
                                 HASH_BYTES)
    return f"$7${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``encoded`` (a ``$7$`` hash) is the hash of ``password``."""
    try:
        _, kind, iterations, salt, digest = encoded.split("$")
        if kind != "7":
            return False
        expected = hash_password(password, base64.b64decode(salt), int(iterations))
    except ValueError:  # binascii.Error is a ValueError too
        return False
    return hmac.compare_digest(expected.rsplit("$", 1)[1], digest)


def derived_salt(salt_key: bytes | None, username: str, password: str) -> bytes:
    """A salt unique to (user, password), derived from ``salt_key`` so that an unchanged
    account hashes to the same line; random when no key is given."""
    if salt_key is None:
        return secrets.token_bytes(SALT_BYTES)
    message = f"mqtt-salt:{username}:{password}".encode()
    return hmac.new(salt_key, message, hashlib.sha256).digest()[:SALT_BYTES]


def password_line(username: str, password: str, salt: bytes | None = None) -> str:
    """One line of a Mosquitto password file (without the newline)."""
    _check_name(username)
    return f"{username}:{hash_password(password, salt or secrets.token_bytes(SALT_BYTES))}"


def render_passwd(server: tuple[str, str], kiosks: Iterable[KioskAccount],
                  salt_key: bytes | None = None) -> str:
    """The whole password file: the server's account first, then one line per kiosk."""
    accounts = [server, *((k.username, k.password) for k in _sorted(kiosks))]
    _check_unique([name for name, _ in accounts])
    lines = [password_line(name, password, derived_salt(salt_key, name, password))
             for name, password in accounts]
    return "\n".join(lines) + "\n"


def render_acl(server_username: str, kiosks: Iterable[KioskAccount],
               prefix: str = "signage") -> str:
    """The whole ACL file: the server may read and write under ``prefix``; each kiosk may
    read its three topics and write nothing. Anything not granted is denied."""
    _check_name(server_username)
    _check_prefix(prefix)
    accounts = _sorted(kiosks)
    _check_unique([server_username, *(k.username for k in accounts)])
    blocks = [
        "# Generated by `signage-server mqtt export`: edits are overwritten by the next export.\n"
        "# Kiosks may only read their own, their venue's and the fleet-wide topic; only the\n"
        "# server may publish. Whatever is not granted here is denied.\n",
        f"user {server_username}\ntopic readwrite {prefix}/#\n",
    ]
    for kiosk in accounts:
        _check_name(kiosk.username)
        grants = "".join(f"topic read {topic}\n"
                         for topic in kiosk_topics(prefix, kiosk.kiosk_id, kiosk.venue_id))
        blocks.append(f"user {kiosk.username}\n{grants}")
    return "\n".join(blocks)


def server_account(mqtt_url: str) -> tuple[str, str]:
    """(user, password) of the server's own broker account, from ``SIGNAGE_MQTT_URL``."""
    parts = urlsplit(mqtt_url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.username or not parts.password:
        raise ValueError("SIGNAGE_MQTT_URL must name the server's broker account, "
                         "like mqtt://signage-server:PASSWORD@127.0.0.1:1883")
    return unquote(parts.username), unquote(parts.password)


def kiosk_url(config: Mapping[str, Any], kiosk_id: int) -> str | None:
    """The broker URL with this kiosk's own account, handed over at enrollment; None when
    the server has no broker configured."""
    server_url = config.get("MQTT_URL") or ""
    if not server_url:
        return None
    parts = urlsplit(config.get("MQTT_KIOSK_URL") or server_url)
    secret = config["SECRET_KEY"]
    user = quote(kiosk_username(kiosk_id), safe="")
    password = quote(kiosk_password(secret, kiosk_id), safe="")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}:{password}@{parts.hostname}{port}"


def export(out_dir: Path, server: tuple[str, str], kiosks: Iterable[KioskAccount],
           prefix: str, salt_key: bytes | None) -> Export:
    """Write ``acl`` and ``passwd`` into ``out_dir``; a file whose text is unchanged is not
    touched, so watchers see a change only when there is one."""
    accounts = _sorted(kiosks)
    acl_text = render_acl(server[0], accounts, prefix)
    passwd_text = render_passwd(server, accounts, salt_key)
    out_dir.mkdir(parents=True, exist_ok=True)
    acl, passwd = out_dir / ACL_FILE, out_dir / PASSWD_FILE
    # passwd first: a reload triggered between the two files then knows the new accounts
    # before the ACL grants them anything.
    changed = _write_if_changed(passwd, passwd_text)
    changed = _write_if_changed(acl, acl_text) or changed
    return Export(acl, passwd, len(accounts), changed)


def _write_if_changed(path: Path, text: str) -> bool:
    """Replace ``path`` atomically with ``text`` unless it holds exactly that already."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _sorted(kiosks: Iterable[KioskAccount]) -> list[KioskAccount]:
    return sorted(kiosks, key=lambda k: k.kiosk_id)


def _check_name(username: str) -> None:
    """Usernames end up in ``user NAME`` and ``NAME:hash`` lines: no spaces, no colons."""
    if not _SAFE_NAME.match(username):
        raise ValueError(f"unusable broker username {username!r} "
                         "(1-64 letters, digits and _ . @ + -)")


def _check_prefix(prefix: str) -> None:
    if not _SAFE_PREFIX.match(prefix):
        raise ValueError(f"unusable topic prefix {prefix!r} (no wildcards, spaces or "
                         "empty levels)")


def _check_unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"broker username {name!r} is used twice")
        seen.add(name)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- command line -----------------------------------------------------------------------------


@click.group("mqtt", help="Broker accounts: Mosquitto password and ACL files for the fleet.")
def mqtt_group() -> None:
    """MQTT commands."""


@mqtt_group.command("export", help="Write `acl` and `passwd` for the server's account and "
                                   "every enrolled, non-revoked kiosk into DIR.")
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="e.g. /etc/mosquitto/signage (see deploy/server/mosquitto)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def export_command(out_dir: Path, as_json: bool) -> None:
    result = _export_from_app(current_app.config, out_dir)
    data = {"acl": str(result.acl), "passwd": str(result.passwd), "kiosks": result.kiosks,
            "changed": result.changed}
    state = "written" if result.changed else "unchanged"
    click.echo(json.dumps(data) if as_json else
               f"{state}: {result.acl} and {result.passwd} "
               f"(server account and {result.kiosks} kiosks)")


def _export_from_app(config: Mapping[str, Any], out_dir: Path) -> Export:
    try:
        server = server_account(str(config.get("MQTT_URL") or ""))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    secret = str(config["SECRET_KEY"])
    rows = db.session.execute(
        select(Kiosk.id, Kiosk.venue_id)
        .where(Kiosk.enrolled_at.is_not(None), Kiosk.revoked_at.is_(None),
               Kiosk.token_hash.is_not(None))
        .order_by(Kiosk.id)
    ).all()
    kiosks = [KioskAccount(row.id, row.venue_id, kiosk_username(row.id),
                           kiosk_password(secret, row.id)) for row in rows]
    salt_key = hmac.new(secret.encode("utf-8"), b"mqtt-salts", hashlib.sha256).digest()
    try:
        return export(out_dir, server, kiosks, str(config["MQTT_TOPIC_PREFIX"]), salt_key)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
