"""`signage-server` commands: the forms of DESIGN.md section 4 that scripts depend on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import zxingcpp
from PIL import Image

from signage_server.fleet import CODE_ALPHABET
from signage_server.models import Area, Kiosk, User, Venue
from signage_server.passwords import verify_password

if TYPE_CHECKING:
    from click.testing import Result
    from flask.testing import FlaskCliRunner
    from server_data import Database

CliJson = Callable[..., dict[str, Any]]
PASSWORD = "đúng-ngựa-pin-kẹp"


def run(runner: FlaskCliRunner, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(args=list(args), input=stdin)


def refused(result: Result, message: str) -> None:
    """A clear error: non-zero exit, a message naming the problem, no traceback."""
    assert result.exit_code != 0, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture
def province(cli_json: CliJson) -> int:
    return int(cli_json("area", "add", "Hồ Chí Minh", "--kind", "province")["id"])


def test_area_add_makes_a_province_and_its_district(cli_json: CliJson, province: int,
                                                    database: Database) -> None:
    district = cli_json("area", "add", "Quận 1", "--kind", "district", "--parent",
                        str(province))["id"]
    row = database.one(Area, Area.id == district)
    assert (row.name, row.kind, row.parent_id) == ("Quận 1", "district", province)


def test_area_add_refuses_an_unknown_parent(runner: FlaskCliRunner) -> None:
    refused(run(runner, "area", "add", "Quận 9", "--kind", "district", "--parent", "99"),
            "no area with id 99")


def test_venue_add_prints_its_id_and_stores_defaults(cli_json: CliJson,
                                                     database: Database) -> None:
    venue = cli_json("venue", "add", "Bến xe Miền Đông", "--kind", "bus_station")
    row = database.one(Venue, Venue.id == venue["id"])
    assert (row.name, row.kind, row.privacy_mode, row.retention_days, row.timezone) == \
        ("Bến xe Miền Đông", "bus_station", "count", 21, "Asia/Ho_Chi_Minh")


def test_venue_add_takes_area_privacy_retention_and_timezone(cli_json: CliJson, province: int,
                                                             database: Database) -> None:
    venue = cli_json("venue", "add", "Khách sạn Rex", "--kind", "hotel", "--area",
                     str(province), "--privacy", "full", "--retention-days", "30",
                     "--timezone", "Asia/Bangkok")
    row = database.one(Venue, Venue.id == venue["id"])
    assert (row.area_id, row.privacy_mode, row.retention_days, row.timezone) == \
        (province, "full", 30, "Asia/Bangkok")


@pytest.mark.parametrize(("args", "message"), [
    (["", "--kind", "office"], "1 to 200 characters"),
    (["x" * 201, "--kind", "office"], "1 to 200 characters"),
    (["Chợ", "--kind", "market"], "Invalid value for '--kind'"),
    (["Chợ", "--kind", "other", "--area", "42"], "no area with id 42"),
    (["Chợ", "--kind", "other", "--retention-days", "31"], "--retention-days"),
    (["Chợ", "--kind", "other", "--timezone", "Mars/Olympus"], "unknown timezone"),
    (["Chợ", "--kind", "other", "--privacy", "everything"], "--privacy"),
    (["Chợ"], "Missing option '--kind'"),
])
def test_venue_add_refuses_bad_input(runner: FlaskCliRunner, database: Database,
                                     args: list[str], message: str) -> None:
    refused(run(runner, "venue", "add", *args), message)
    assert database.count(Venue) == 0


def test_user_add_stores_an_argon2_hash(cli_json: CliJson, database: Database) -> None:
    user = cli_json("user", "add", "An.Nguyen@Example.vn", "--role", "admin",
                    "--password-stdin", stdin=PASSWORD + "\n")
    row = database.one(User, User.id == user["id"])
    assert (row.email, row.role) == ("an.nguyen@example.vn", "admin")
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert verify_password(row.password_hash, PASSWORD)
    assert not verify_password(row.password_hash, PASSWORD.upper())


def test_manager_is_tied_to_an_area(cli_json: CliJson, province: int,
                                    database: Database) -> None:
    user = cli_json("user", "add", "quan.ly@example.vn", "--role", "manager", "--area",
                    str(province), "--password-stdin", stdin=PASSWORD)
    assert database.one(User, User.id == user["id"]).area_id == province


def test_reception_is_tied_to_a_venue(cli_json: CliJson, venue: int,
                                      database: Database) -> None:
    user = cli_json("user", "add", "le.tan@example.vn", "--role", "reception", "--venue",
                    str(venue), "--password-stdin", stdin=PASSWORD)
    assert database.one(User, User.id == user["id"]).venue_id == venue


def test_user_add_refuses_a_duplicate_email(cli_json: CliJson, runner: FlaskCliRunner,
                                            database: Database) -> None:
    cli_json("user", "add", "an@example.vn", "--role", "admin", "--password-stdin",
             stdin=PASSWORD)
    refused(run(runner, "user", "add", "AN@example.vn", "--role", "admin", "--password-stdin",
                stdin=PASSWORD), "exists already")
    assert database.count(User) == 1


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["an@example.vn", "--role", "admin", "--password-stdin"], "short", "at least 10"),
    (["an@example.vn", "--role", "admin", "--password-stdin"], "", "at least 10"),
    (["an@example.vn", "--role", "admin"], PASSWORD, "--password-stdin"),
    (["an@example.vn", "--role", "manager", "--password-stdin"], PASSWORD, "needs --area"),
    (["an@example.vn", "--role", "manager", "--area", "77", "--password-stdin"], PASSWORD,
     "needs --area"),
    (["an@example.vn", "--role", "reception", "--password-stdin"], PASSWORD, "needs --venue"),
    (["not-an-email", "--role", "admin", "--password-stdin"], PASSWORD, "not an email"),
    (["an@example.vn", "--role", "root", "--password-stdin"], PASSWORD, "--role"),
])
def test_user_add_refuses_bad_input(runner: FlaskCliRunner, database: Database,
                                    args: list[str], stdin: str, message: str) -> None:
    refused(run(runner, "user", "add", *args, stdin=stdin), message)
    assert database.count(User) == 0


def test_kiosk_add_json_gives_the_kiosk_and_a_one_time_code(cli_json: CliJson, venue: int,
                                                            database: Database) -> None:
    new = cli_json("kiosk", "add", "--venue", str(venue), "--name", "Cổng 1")
    code = new["enrollment_code"].replace("-", "")
    assert len(code) == 12 and set(code) <= set(CODE_ALPHABET)
    expires = datetime.fromisoformat(new["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(hours=24)) < timedelta(minutes=1)
    row = database.one(Kiosk, Kiosk.id == new["kiosk_id"])
    assert (row.venue_id, row.name, row.token_hash) == (venue, "Cổng 1", None)


def test_kiosk_codes_differ(cli_json: CliJson, venue: int) -> None:
    codes = {cli_json("kiosk", "add", "--venue", str(venue))["enrollment_code"]
             for _ in range(5)}
    assert len(codes) == 5


HALF_BLOCKS = {"█": (255, 255), "▀": (255, 0), "▄": (0, 255), "\xa0": (0, 0), " ": (0, 0)}


def decode_terminal_qr(text: str) -> list[str]:
    """Draw the half-block characters as pixels and read them with a real QR reader."""
    lines = [line for line in text.splitlines() if line and set(line) <= set(HALF_BLOCKS)]
    rows = [[HALF_BLOCKS[ch][half] for ch in line] for line in lines for half in (0, 1)]
    width = max(len(row) for row in rows)
    image = Image.new("L", (width + 8, len(rows) + 8), 255)
    for y, row in enumerate(rows):
        for x, value in enumerate(row):
            image.putpixel((x + 4, y + 4), value)
    image = image.resize((image.width * 8, image.height * 8), Image.Resampling.NEAREST)
    return [found.text for found in zxingcpp.read_barcodes(image)]


def test_kiosk_add_prints_the_code_and_its_qr(runner: FlaskCliRunner, venue: int) -> None:
    result = run(runner, "kiosk", "add", "--venue", str(venue))
    assert result.exit_code == 0, result.output
    code = re.search(r"enrollment code .*: (\S+)", result.output)
    assert code is not None
    assert f"signage-kiosk enroll {code[1]} --server" in result.output
    assert decode_terminal_qr(result.output) == [code[1]]


def test_kiosk_add_refuses_an_unknown_venue(runner: FlaskCliRunner, database: Database) -> None:
    refused(run(runner, "kiosk", "add", "--venue", "404"), "no venue with id 404")
    assert database.count(Kiosk) == 0


def test_kiosk_add_refuses_a_name_it_would_have_to_cut(runner: FlaskCliRunner, venue: int,
                                                       database: Database) -> None:
    refused(run(runner, "kiosk", "add", "--venue", str(venue), "--name", "x" * 201),
            "at most 200 characters")
    assert database.count(Kiosk) == 0


def test_kiosk_revoke_refuses_an_unknown_kiosk(runner: FlaskCliRunner) -> None:
    refused(run(runner, "kiosk", "revoke", "404"), "no kiosk with id 404")


def test_console_script_forms_work_on_a_fresh_instance(tmp_path: Path) -> None:
    """The installed `signage-server` as scripts call it: db upgrade, venue add, kiosk add."""
    command = [str(Path(sys.executable).parent / "signage-server"), "--instance",
               str(tmp_path / "fresh")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    assert call("db", "upgrade").returncode == 0
    venue = json.loads(call("venue", "add", "Văn phòng", "--kind", "office", "--json").stdout)
    kiosk = json.loads(call("kiosk", "add", "--venue", str(venue["id"]), "--json").stdout)
    assert set(kiosk) >= {"kiosk_id", "enrollment_code"}
