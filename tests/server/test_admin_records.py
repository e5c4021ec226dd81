"""Check-in records: masked by default, revealed with a reason, exported safely, audited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from admin_support import Town, add_checkin, build_town, client_for
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from signage_server import personal
from signage_server.extensions import db
from signage_server.models import AuditLog

NASTY = ["=HYPERLINK(\"http://evil.example\",\"bấm\")", "+1+1", "-2+3", "@SUM(A1)",
         "\tTab", "\rReturn"]


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def town(app: Flask) -> Town:
    return build_town(app)


@pytest.fixture
def admin(app: Flask, town: Town) -> FlaskClient:
    return client_for(app, town, "admin")


def audit_rows(app: Flask, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == action)
                                  .order_by(AuditLog.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


# --- personal.py ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "masked"), [
    ("Nguyễn Văn An", "N. V. A."), ("  trần   thị  bình ", "T. T. B."), ("Ê-đê", "Ê."),
    ("", ""), (None, ""), ("<script>", ""),
])
def test_mask_name(name: str | None, masked: str) -> None:
    assert personal.mask_name(name) == masked


@pytest.mark.parametrize(("phone", "masked"), [
    ("0901234567", "•••567"), ("+84 90 123 4567", "•••567"), ("12", "•••12"), ("", ""),
    (None, ""),
])
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert personal.mask_phone(phone) == masked


@pytest.mark.parametrize(("value", "escaped"), [
    *[(v, "'" + v) for v in NASTY], ("An", "An"), ("a=b", "a=b"), (42, 42), (None, None),
    ("", ""),
])
def test_escape_cell(value: Any, escaped: Any) -> None:
    assert personal.escape_cell(value) == escaped


def test_csv_has_a_bom_and_escapes_every_cell() -> None:
    body = personal.to_csv(["tên"], [[v] for v in NASTY])
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert [r[0] for r in rows[1:]] == ["'" + v for v in NASTY]


def test_xlsx_escapes_every_cell_and_drops_control_characters() -> None:
    body = personal.to_xlsx(["tên"], [[v] for v in [*NASTY, "a\x00b\x07c"]], "x")
    sheet = load_workbook(io.BytesIO(body)).active
    values = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    # XML reads a stored carriage return back as a line feed; the apostrophe is what matters
    assert values == ["'" + v.replace("\r", "\n") for v in NASTY] + ["abc"]
    assert all(cell.data_type == "s" for row in sheet.iter_rows(min_row=2) for cell in row)


# --- the pages -----------------------------------------------------------------------------


def test_list_is_masked_and_every_view_is_audited(admin: FlaskClient, app: Flask,
                                                  town: Town) -> None:
    page = admin.get("/admin/checkins").get_data(as_text=True)
    assert "N. V. A." in page and "•••567" in page
    assert "Nguyễn Văn An" not in page and "0901234567" not in page
    admin.get(f"/admin/checkins?venue={town.venue}&page=1")
    rows = audit_rows(app, "checkin.view")
    assert len(rows) == 2
    assert rows[1].user_id == town.users["admin"]
    assert rows[1].details["filters"] == {"venue": town.venue}


def test_reveal_needs_a_reason(admin: FlaskClient, app: Flask) -> None:
    response = admin.post("/admin/checkins/reveal", data={"reason": " "})
    assert response.status_code == 302
    assert audit_rows(app, "checkin.reveal") == []


def test_reveal_shows_clear_values_and_records_why(admin: FlaskClient, app: Flask,
                                                   town: Town) -> None:
    response = admin.post(f"/admin/checkins/reveal?venue={town.venue}",
                          data={"reason": "Truy vết ca F1", "venue": town.venue})
    page = response.get_data(as_text=True)
    assert "Nguyễn Văn An" in page and "0901234567" in page
    assert "Trần Thị Bình" not in page  # the venue filter holds
    (row,) = audit_rows(app, "checkin.reveal")
    assert (row.user_id, row.reason) == (town.users["admin"], "Truy vết ca F1")
    assert sorted(row.details["ids"]) == sorted(town.checkins[:2])
    assert "N. V. A." in admin.get("/admin/checkins").get_data(as_text=True)  # masked again


@pytest.mark.parametrize(("field", "value", "kept"), [
    ("method", "button", 1), ("direction", "out", 1), ("has_app", "no", 1),
    ("has_app", "installed_now", 0),
])
def test_filters(admin: FlaskClient, field: str, value: str, kept: int) -> None:
    page = admin.get(f"/admin/checkins?{field}={value}").get_data(as_text=True)
    assert f"Số bản ghi: {kept}." in page


def test_date_range_is_read_in_the_venue_time_zone(admin: FlaskClient, app: Flask,
                                                   town: Town) -> None:
    # 23:30 on 1 Nov in Hanoi is 16:30 UTC: it belongs to 1 Nov, not to 2 Nov
    with app.app_context():
        add_checkin(town.venue, datetime(2026, 11, 1, 16, 30, tzinfo=UTC), name="Đêm khuya")
        db.session.commit()
    url = f"/admin/checkins?venue={town.venue}&date_from=2026-11-01&date_to=2026-11-01"
    assert "Số bản ghi: 1." in admin.get(url).get_data(as_text=True)
    url = f"/admin/checkins?venue={town.venue}&date_from=2026-11-02&date_to=2026-11-02"
    assert "Số bản ghi: 0." in admin.get(url).get_data(as_text=True)


def test_csv_export_masked_by_default(admin: FlaskClient, app: Flask) -> None:
    response = admin.post("/admin/checkins/export", data={"format": "csv"})
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.data.decode("utf-8-sig")
    assert "N. V. A." in text and "Nguyễn Văn An" not in text
    (row,) = audit_rows(app, "checkin.export")
    assert row.details["personal"] is False and row.details["rows"] == 3


def test_export_with_personal_data_needs_a_reason(admin: FlaskClient, app: Flask) -> None:
    response = admin.post("/admin/checkins/export", data={"format": "csv", "reveal": "y"})
    assert response.status_code == 302
    assert audit_rows(app, "checkin.export") == []


def test_xlsx_export_with_personal_data_is_escaped_and_audited(admin: FlaskClient,
                                                               app: Flask,
                                                               town: Town) -> None:
    with app.app_context():
        add_checkin(town.venue, datetime.now(UTC) - timedelta(minutes=1), name=NASTY[0],
                    phone="0987654321", organisation="@cmd")
        db.session.commit()
    response = admin.post("/admin/checkins/export", data={
        "format": "xlsx", "reveal": "y", "reason": "Báo cáo Sở Y tế", "venue": town.venue})
    sheet = load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2,
                                                                       values_only=True)]
    # found by its phone, not its place: just after the venue's midnight the town's own
    # check-ins are squeezed into the last seconds, after this one
    (nasty,) = [r for r in rows if r["phone"] == "0987654321"]
    assert nasty["name"] == "'" + NASTY[0]
    assert nasty["organisation"] == "'@cmd"
    (row,) = audit_rows(app, "checkin.export")
    assert (row.reason, row.details["format"], row.details["personal"]) == (
        "Báo cáo Sở Y tế", "xlsx", True)


def test_purged_personal_data_shows_as_deleted(admin: FlaskClient, app: Flask,
                                               town: Town) -> None:
    with app.app_context():
        add_checkin(town.venue, datetime.now(UTC) - timedelta(days=40),
                    personal_purged_at=datetime.now(UTC))
        db.session.commit()
    assert "đã xóa" in admin.get("/admin/checkins").get_data(as_text=True)


def test_reception_sees_only_their_venue(app: Flask, town: Town) -> None:
    page = client_for(app, town, "reception").get("/admin/checkins").get_data(as_text=True)
    assert "Số bản ghi: 2." in page
    assert "Khách sạn Nam" not in page.split("<tbody>")[1]


def test_audit_log_page_lists_who_what_why(admin: FlaskClient) -> None:
    admin.post("/admin/checkins/reveal", data={"reason": "Truy vết ca F1"})
    page = admin.get("/admin/audit?action=checkin.").get_data(as_text=True)
    assert "admin@example.vn" in page and "checkin.reveal" in page
    assert "Truy vết ca F1" in page
