"""The self check-in page and the reception page in Chromium at phone width.

A visitor opens the kiosk's rotating code, fills the form in Vietnamese and sees the
confirmation; a reception user logs an arrival and marks it as left. Screenshots go to
test-artifacts/ (``20-visit-*``, ``21-reception-*``); the pages must not scroll sideways
and must raise no console error (a CSP violation would be one).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from browser_support import Console, open_tab, shot, sign_in
from sqlalchemy import select

from signage_server import fleet
from signage_server.extensions import db
from signage_server.models import CheckIn, Kiosk
from signage_shared import presence

WIDTH = 390


@pytest.fixture
def phone(browser: Any, console: Console) -> Iterator[Any]:
    context, tab = open_tab(browser, console.url, viewport={"width": WIDTH, "height": 844},
                            device_scale_factor=2, is_mobile=True, has_touch=True)
    yield tab
    context.close()


def code_path(console: Console) -> str:
    """A kiosk at the console's venue and the path its screen's code shows right now."""
    with console.app.app_context():
        kiosk_id = fleet.add_kiosk(console.venue, "Cổng chính", datetime.now(UTC), 24).kiosk_id
        db.session.commit()
        kiosk = db.session.get(Kiosk, kiosk_id)
        assert kiosk is not None
        token = presence.current_token(kiosk.presence_secret, kiosk.id, time.time())
    return f"/v/{console.venue}/{kiosk_id}/{token}"


def fits(page: Any) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= WIDTH, f"{page.url} scrolls sideways ({wide}px)"


def test_a_visitor_checks_in_from_a_phone_in_vietnamese(phone: Any, console: Console) -> None:
    phone.goto(code_path(console))
    assert phone.locator("h1").inner_text() == "Khai báo"
    assert "sẽ được xoá vào ngày" in phone.locator(".deletion").inner_text()
    fits(phone)
    shot(phone, "20-visit-form")
    phone.get_by_label("Họ và tên").fill("Nguyễn Thị Hoà")
    phone.get_by_label("Số điện thoại").fill("0901 234 567")
    phone.get_by_label("Chưa có").check()
    phone.get_by_label("Tôi đồng ý").check()
    phone.get_by_role("button", name="Khai báo").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == "Xin chào! Bạn đã khai báo xong."
    receipt = phone.locator(".receipt").inner_text()
    assert "N. T. H." in receipt and "Nguyễn" not in receipt
    assert phone.get_by_role("link", name="Cài đặt Bluezone").is_visible()
    fits(phone)
    shot(phone, "20-visit-done")
    assert phone.problems == []
    with console.app.app_context():
        row = db.session.scalars(select(CheckIn).where(CheckIn.name == "Nguyễn Thị Hoà")).one()
        assert (row.method, row.has_app, row.phone) == ("self", "no", "0901 234 567")


def test_a_mistake_is_shown_at_its_field_and_nothing_typed_is_lost(
        phone: Any, console: Console) -> None:
    phone.goto(code_path(console))
    phone.get_by_label("Họ và tên").fill("Trần Văn Bảo")
    phone.get_by_label("Số điện thoại").fill("12")
    phone.get_by_label("Đã có", exact=True).check()
    phone.get_by_label("Tôi đồng ý").check()
    phone.get_by_role("button", name="Khai báo").click()
    phone.wait_for_load_state()
    assert "Nhập số điện thoại" in phone.locator("#phone-error").inner_text()
    assert phone.get_by_label("Họ và tên").input_value() == "Trần Văn Bảo"
    fits(phone)
    shot(phone, "20-visit-error")
    phone.get_by_label("Số điện thoại").fill("0912 345 678")
    phone.get_by_label("Tôi đồng ý").check()
    phone.get_by_role("button", name="Khai báo").click()
    phone.wait_for_load_state()
    assert "T. V. B." in phone.locator(".receipt").inner_text()


def test_reception_logs_and_signs_out_at_phone_width(phone: Any, console: Console) -> None:
    sign_in(phone, "letan@demo.vn")
    phone.goto("/admin/reception")
    phone.get_by_label("Họ và tên").fill("Lê Thị Mai")
    phone.get_by_label("Số điện thoại").fill("0987 654 321")
    phone.get_by_label("Đã có", exact=True).check()
    phone.get_by_role("button", name="Ghi nhận", exact=True).click()
    phone.wait_for_load_state()
    row = phone.locator("table.records tr", has_text="•••321")
    assert "L. T. M." in row.inner_text()
    assert "Lê Thị Mai" not in phone.content()
    fits(phone)
    shot(phone, "21-reception-list")
    row.get_by_role("button", name="Ghi nhận ra về").click()
    phone.wait_for_load_state()
    assert "Đã về lúc" in phone.locator("table.records tr", has_text="•••321").inner_text()
    shot(phone, "21-reception-signed-out")
    assert phone.problems == []
