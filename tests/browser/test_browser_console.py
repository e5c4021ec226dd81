"""The staff console in a real Chromium, against the real server on loopback.

One administrator's day, in order: sign in, upload a poster and a video (progress bar),
add a kiosk from its enrollment code, build a playlist (keyboard reorder and drag and
drop), assign it to the venue, publish, and watch "applied on 1 of 1" appear once the kiosk
has fetched the manifest and reported it; then switch to English. A reception user cannot
open the media page, and the pages fit a phone. Every step leaves a screenshot in
test-artifacts/.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from admin_support import add_checkin, mp4_bytes
from browser_support import KioskOverHttp, kiosk_screen, shot, sign_in
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from signage_server.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def poster(path: Path) -> Path:
    image = Image.new("RGB", (1280, 720), "#0b5cad")
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 80, 520, 640), fill="white")
    draw.text((600, 320), "Cai dat Bluezone", fill="white")
    image.save(path, "PNG")
    return path


def video(path: Path) -> Path:
    path.write_bytes(mp4_bytes(size=(640, 360), frames=45))
    return path


def upload(page: Any, file: Path, title: str) -> None:
    page.set_input_files("#file", str(file))
    page.fill("#title", title)
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-result .flash.success")


def order_of(page: Any) -> list[str]:
    return [str(t) for t in page.eval_on_selector_all(
        "#items li.item strong", "nodes => nodes.map(n => n.textContent.trim())")]


def test_admin_builds_publishes_and_sees_it_applied(page: Any, console: Any,
                                                    tmp_path: Path) -> None:
    page.goto("/admin/")
    assert "/admin/login" in page.url
    shot(page, "01-sign-in")
    sign_in(page, "admin@demo.vn")
    assert page.locator("h1").inner_text() == "Tổng quan"
    shot(page, "02-overview")

    page.goto("/admin/media")
    upload(page, poster(tmp_path / "poster.png"), "Áp phích cài đặt")
    assert page.locator("#upload-progress").evaluate("bar => bar.value") == 100
    shot(page, "03-media-uploaded-poster")
    page.wait_for_load_state()
    page.goto("/admin/media")
    upload(page, video(tmp_path / "promo.mp4"), "Video 15 giây")
    page.goto("/admin/media")
    assert page.locator(".media-card").count() == 2
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth)")
    shot(page, "04-media-library")
    thumbnail = page.request.get(page.locator(".media-card img").first.get_attribute("src"))
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.body())).size == (320, 180)  # the video's frame

    page.goto(f"/admin/kiosks/new?venue={console.venue}")
    page.fill("#name", "Sảnh chính")
    page.click("main form button[type=submit]")
    code = page.locator("#enrollment-code").inner_text()
    shot(page, "05-enrollment-code")
    kiosk = KioskOverHttp(console.url, code)

    page.goto("/admin/playlists/new")
    page.fill("#name", "Tuần 47: cài Bluezone")
    page.click("main form button[type=submit]")
    page.click("button[value='add:video']")
    page.select_option("#k0-media", label="Video 15 giây")
    page.click("button[value='add:image']")
    page.select_option("#k1-media", label="Áp phích cài đặt")
    page.fill("#k1-duration", "12")
    page.fill("#k1-windows", "07:00-11:30, 13:30-17:00")
    page.click("button[value='add:qr']")
    page.fill("#k2-url", "https://bluezone.gov.vn")
    page.fill("#k2-caption_vi", "Quét mã để cài đặt")
    assert order_of(page) == ["1. Video", "2. Ảnh", "3. Mã QR"]

    page.focus("li.item[data-key=k2] button[data-move=up]")  # keyboard: no mouse
    page.keyboard.press("Enter")
    assert order_of(page) == ["1. Video", "2. Mã QR", "3. Ảnh"]
    assert page.input_value("#order") == "k0,k2,k1"
    page.drag_and_drop("li.item[data-key=k1] .handle", "li.item[data-key=k0] .item-head")
    assert page.input_value("#order") == "k1,k0,k2"
    shot(page, "06-playlist-editor")
    page.click("main form button[value=save].primary")
    page.wait_for_selector(".flash.success")
    assert order_of(page) == ["1. Ảnh", "2. Video", "3. Mã QR"]

    page.select_option("#target", label=f"Địa điểm: {console.venue_name}")
    page.click("form[action$='/assign'] button")
    page.wait_for_selector(".flash.success")
    page.click("form[action$='/publish'] button")
    page.wait_for_selector(".flash.success")
    assert page.locator("#rollout").text_content() == "đã áp dụng trên 0/1 kiosk"

    manifest = kiosk.manifest()  # the kiosk picks the playlist up...
    assert [i["kind"] for i in manifest["playlist"]["items"]] == ["image", "video", "qr"]
    kiosk.heartbeat(manifest["manifest_version"], kiosk_screen())  # ...and reports it
    # the page polls every 3 s: the figure changes with no reload
    expect(page.locator("#rollout")).to_have_text("đã áp dụng trên 1/1 kiosk", timeout=15_000)
    shot(page, "07-playlist-applied")

    page.click("header .langs a[lang=en]")
    # the click returns once the English page starts loading: its style sheet (the capital
    # comes from ::first-letter) may still be on its way
    page.wait_for_load_state("load")
    assert page.locator("#rollout").text_content() == "applied on 1 of 1 kiosks"
    expect(page.locator("#rollout")).to_have_text("Applied on 1 of 1 kiosks",
                                                  use_inner_text=True)  # CSS capital
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "08-playlist-english")

    page.goto(f"/admin/playlists/{playlist_id(page, console)}/timeline?venue={console.venue}")
    shot(page, "09-timeline")
    page.goto("/admin/kiosks")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth)")
    assert "Online" in page.locator(".kiosk-card").inner_text()
    shot(page, "10-fleet")
    assert page.problems == []


def playlist_id(page: Any, console: Any) -> int:
    page.goto("/admin/playlists")
    href = page.locator("table a").first.get_attribute("href")
    return int(re.sub(r"\D", "", href))


def test_checkins_are_masked_until_a_reason_is_given(page: Any, console: Any) -> None:
    with console.app.app_context():
        now = datetime.now(UTC)
        add_checkin(console.venue, now - timedelta(minutes=9), name="Nguyễn Văn An",
                    phone="0901234567")
        add_checkin(console.venue, now - timedelta(minutes=4), name="Lê Thị Hoa",
                    phone="0912000111", direction="out", has_app="installed_now")
        add_checkin(console.venue, now - timedelta(minutes=2), method="button", has_app="no")
        db.session.commit()
    sign_in(page, "admin@demo.vn")
    page.goto("/admin/checkins")
    table = page.locator("table.records").inner_text()
    assert "N. V. A." in table and "Nguyễn Văn An" not in table
    shot(page, "11-checkins-masked")
    page.fill("#reason", "Truy vết ca bệnh F1")
    page.click("form[action*='reveal'] button")
    assert "Nguyễn Văn An" in page.locator("table.records").inner_text()
    shot(page, "12-checkins-revealed")
    page.goto("/admin/audit")
    assert "Truy vết ca bệnh F1" in page.locator("table").inner_text()
    assert page.problems == []


def test_reception_cannot_open_the_media_page(page: Any) -> None:
    sign_in(page, "letan@demo.vn")
    assert page.url.endswith("/admin/reception")
    menu = page.locator("nav.main-nav a").all_inner_texts()
    assert menu[:2] == ["Lễ tân", "Lượt ra vào"] and "Thư viện" not in menu
    response = page.goto("/admin/media")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "Không được phép"
    shot(page, "13-reception-forbidden")


def test_the_console_fits_a_phone(browser: Any, console: Any) -> None:
    context = browser.new_context(base_url=console.url, viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    phone = context.new_page()
    sign_in(phone, "admin@demo.vn")
    for path, name in (("/admin/", "14-phone-overview"), ("/admin/kiosks", "15-phone-fleet"),
                       ("/admin/checkins", "16-phone-checkins")):
        phone.goto(path)
        wide = phone.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{path} scrolls sideways ({wide}px)"
        shot(phone, name)
    context.close()


def test_no_request_leaves_the_server(page: Any, console: Any) -> None:
    """Every stylesheet, script and image comes from the app itself (no CDN)."""
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]) if "://" in r.url else None)
    sign_in(page, "admin@demo.vn")
    for path in ("/admin/", "/admin/media", "/admin/kiosks", "/admin/playlists"):
        page.goto(path)
    assert hosts == {console.url.split("/")[2]}
    css = page.evaluate("[...document.styleSheets].map(s => s.href)")
    assert css and all(h.startswith(console.url) for h in css)
