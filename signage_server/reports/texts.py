"""The words and number formats of reports, in Vietnamese (default) and English.

Reports are made outside a request too (``signage-server report weekly``), where the console's
Flask-Babel locale does not exist; so their wording lives here, keyed by language, and numbers
and dates are formatted as CLDR has them (``1.234``, ``37,5 %``, ``23/11/2026`` in Vietnamese).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from .figures import Promo
from .scope import Scope

LANGUAGES = ("vi", "en")
VI_SEPARATORS = str.maketrans({",": ".", ".": ","})

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo tuần: cài đặt ứng dụng {app}", "Weekly report: {app} adoption"),
    "dashboard": ("Tình hình cài đặt {app}", "{app} adoption"),
    "scope.all": ("Toàn quốc", "Whole country"),
    "scope.area": ("Khu vực: {name}", "Area: {name}"),
    "scope.venue": ("Địa điểm: {name}", "Venue: {name}"),
    "scope.kiosk": ("Ki-ốt: {name}", "Kiosk: {name}"),
    "week": ("Tuần {week} (từ {monday} đến {sunday})", "Week {week} ({monday} to {sunday})"),
    "summary": ("Tóm tắt so với mục tiêu {target} và tuần trước",
                "Summary against the {target} target and last week"),
    "verdict.ok": ("Đạt mục tiêu: {share} người đến đã có ứng dụng (mục tiêu {target}).",
                   "On target: {share} of visitors have the app (target {target})."),
    "verdict.below": ("Chưa đạt mục tiêu: {share} người đến đã có ứng dụng (mục tiêu {target}).",
                      "Below target: {share} of visitors have the app (target {target})."),
    "verdict.none": ("Tuần này chưa có người đến nào trả lời câu hỏi về ứng dụng.",
                     "Nobody answered the app question this week."),
    "metric": ("Chỉ số", "Figure"),
    "this_week": ("Tuần này", "This week"),
    "last_week": ("Tuần trước", "Last week"),
    "change": ("Thay đổi", "Change"),
    "checkins": ("Lượt khai báo vào", "Check-ins (arrivals)"),
    "answered": ("Người trả lời về ứng dụng", "Visitors who answered about the app"),
    "with_app": ("Đã có ứng dụng (kể cả vừa cài)", "Have the app (incl. installed now)"),
    "installed_now": ("Vừa cài tại chỗ", "Installed on the spot"),
    "share": ("Tỷ lệ có ứng dụng", "App share"),
    "self_static": ("Tự khai báo bằng mã QR in sẵn", "Self check-ins via the printed QR"),
    "scans": ("Lượt quét mã cài đặt", "Install QR scans"),
    "plays": ("Lượt phát", "Plays"),
    "promo_hours": ("Giờ phát nội dung", "Hours of promo played"),
    "screen_hours": ("Giờ màn hình hoạt động", "Screen uptime (hours)"),
    "uptime": ("Tỷ lệ thời gian màn hình hoạt động", "Screen uptime share"),
    "footfall": ("Lượt người qua (cảm biến)", "Footfall (motion sensor)"),
    "kiosks_online": ("Ki-ốt hoạt động", "Kiosks online"),
    "venues_below": ("Địa điểm dưới mục tiêu", "Venues below target"),
    "venues_no_answers": ("Địa điểm chưa có câu trả lời", "Venues without answers"),
    "venues": ("Từng địa điểm", "Per venue"),
    "venue": ("Địa điểm", "Venue"),
    "area": ("Khu vực", "Area"),
    "kiosk": ("Ki-ốt", "Kiosk"),
    "plays_of": ("Phát: {title}", "Plays: {title}"),
    "promos": ("Nội dung nào hiệu quả nhất", "Which promo converts best"),
    "promo": ("Nội dung", "Promo"),
    "per_1000": ("Lượt quét / 1.000 lượt phát", "Scans per 1,000 plays"),
    "below_title": ("Địa điểm dưới mục tiêu {target}", "Venues below the {target} target"),
    "none_below": ("Không có địa điểm nào dưới mục tiêu.", "No venue is below target."),
    "offline_title": ("Ki-ốt mất liên lạc hơn {hours} giờ",
                      "Kiosks offline for more than {hours} h"),
    "none_offline": ("Không có ki-ốt nào mất liên lạc.", "No kiosk is offline."),
    "last_heartbeat": ("Liên lạc lần cuối", "Last heartbeat"),
    "never": ("chưa bao giờ", "never"),
    "generated": ("Lập lúc {time}. Ngày và tuần tính theo giờ địa phương của từng địa điểm; "
                  "danh sách ki-ốt mất liên lạc tính tại thời điểm lập báo cáo.",
                  "Made at {time}. Days and weeks follow each venue's local time; the offline "
                  "kiosks are those offline when the report was made."),
    "poster": ("Áp phích (mã QR in sẵn)", "Poster (printed QR)"),
    "promo.video": ("Video {ref}", "Video {ref}"),
    "promo.image": ("Hình ảnh {ref}", "Image {ref}"),
    "promo.qr": ("Trang mã QR {ref}", "QR slide {ref}"),
    "promo.text": ("Trang chữ {ref}", "Text slide {ref}"),
    "promo.default": ("Nội dung mặc định", "Built-in content"),
    "promo.other": ("Khác", "Other"),
    "no_data": ("—", "—"),
    "day": ("Ngày", "Day"),
    "period": ("Kỳ", "Period"),
    "target": ("Mục tiêu", "Target"),
    "chart.checkins": ("Lượt khai báo vào và câu trả lời về ứng dụng",
                       "Check-ins and their app answers"),
    "chart.without_app": ("Chưa có ứng dụng", "Without the app"),
    "chart.not_asked": ("Không trả lời", "Not answered"),
    "chart.share": ("Tỷ lệ có ứng dụng so với mục tiêu {target}",
                    "App share against the {target} target"),
    "chart.scans": ("Lượt quét mã cài đặt và lượt cài tại chỗ",
                    "Install QR scans and installs on the spot"),
    "chart.plays": ("Lượt phát theo nội dung", "Plays per promo"),
    "chart.uptime": ("Giờ màn hình hoạt động", "Screen uptime (hours)"),
    "chart.kiosks": ("Ki-ốt hoạt động (trên tổng {kiosks})", "Kiosks online (of {kiosks})"),
    "ui.scope": ("Phạm vi", "Scope"),
    "ui.by": ("Theo", "By"),
    "ui.by_day": ("Ngày", "Day"),
    "ui.by_week": ("Tuần", "Week"),
    "ui.until": ("Đến ngày", "Until"),
    "ui.span": ("Số kỳ", "Periods"),
    "ui.show": ("Xem", "Show"),
    "ui.week": ("Tuần ISO", "ISO week"),
    "ui.language": ("Ngôn ngữ", "Language"),
    "ui.weekly": ("Báo cáo tuần", "Weekly report"),
    "ui.dashboard": ("Biểu đồ", "Dashboard"),
    "ui.print": ("Bản in A4", "Printable A4 version"),
    "ui.download": ("Tải về", "Download"),
    "ui.posters": ("Áp phích và tờ rơi", "Posters and leaflets"),
    "ui.posters_intro": ("Mỗi áp phích có mã QR cài đặt ứng dụng (tính lượt quét cho địa điểm) và "
                         "mã QR tự khai báo cố định của địa điểm. In khổ A4 hoặc A3; A5 làm tờ "
                         "rơi.",
                         "Each poster holds the install QR (scans counted for the venue) and the "
                         "venue's static self check-in QR. Print A4 or A3; A5 makes a leaflet."),
    "ui.size": ("Khổ giấy", "Paper size"),
    "ui.format": ("Định dạng", "Format"),
    "ui.kiosks_of_venue": ("Ki-ốt của địa điểm", "Kiosks of this venue"),
    "ui.over_range": ("Cả khoảng thời gian", "Over the whole range"),
    "ui.online_now": ("{online} / {kiosks} ki-ốt đang liên lạc", "{online} of {kiosks} kiosks "
                      "reporting"),
    "ui.per_period": ("Từng kỳ", "Per period"),
    "ui.no_venues": ("Không có địa điểm nào.", "No venue."),
    "sheet.summary": ("Tóm tắt", "Summary"),
    "sheet.venues": ("Địa điểm", "Venues"),
    "sheet.promos": ("Nội dung", "Promos"),
    "sheet.below": ("Dưới mục tiêu", "Below target"),
    "sheet.offline": ("Ki-ốt mất liên lạc", "Offline kiosks"),
    "shares_note": ("Tỷ lệ ghi dưới dạng số thập phân (0.375 = 37,5 %).",
                    "Shares are fractions (0.375 = 37.5 %)."),
}


@dataclass(frozen=True)
class Texts:
    lang: str = "vi"

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise ValueError(f"language {self.lang!r}: use one of {', '.join(LANGUAGES)}")

    def __call__(self, key: str, **values: Any) -> str:
        vi, en = WORDS[key]
        return (vi if self.lang == "vi" else en).format(**values)

    def number(self, value: float | None, digits: int = 0) -> str:
        """``1.234,5`` in Vietnamese, ``1,234.5`` in English (the CLDR separators of both;
        formatted directly because a report prints tens of thousands of cells)."""
        if value is None:
            return self("no_data")
        text = f"{value:,.{digits}f}"
        return text.translate(VI_SEPARATORS) if self.lang == "vi" else text

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return self("no_data")
        return self.number(value * 100, digits) + " %"

    def signed(self, value: float | None, digits: int = 0, percent: bool = False) -> str:
        """A change with its sign: ``+12``, ``−3,5 điểm %``."""
        if value is None:
            return self("no_data")
        text = (self.number(abs(value) * 100, 1) + (" điểm %" if self.lang == "vi" else " pts")
                if percent else self.number(abs(value), digits))
        return ("+" if value > 0 else "−" if value < 0 else "±") + text

    def date(self, day: date) -> str:
        return format_date(day, format="dd/MM/yyyy" if self.lang == "vi" else "d MMM yyyy",
                           locale=self.lang)

    def moment(self, when: datetime | None, zone: str) -> str:
        if when is None:
            return self("never")
        local = when.astimezone(ZoneInfo(zone))
        return format_datetime(local, format="dd/MM/yyyy HH:mm" if self.lang == "vi"
                               else "d MMM yyyy HH:mm", locale=self.lang)

    def scope(self, scope: Scope) -> str:
        return self("scope.all") if scope.kind == "all" else self(f"scope.{scope.kind}",
                                                                  name=scope.name)

    def promo(self, promo: Promo) -> str:
        if promo.key == "poster":
            return self("poster")
        if promo.title:
            return promo.title
        kind, _, ref = promo.key.partition(":")
        if kind == "media":
            return self("promo.video" if promo.kind == "video" else "promo.image", ref=ref[:8])
        if kind == "item":
            known = promo.kind if promo.kind in ("video", "image", "qr", "text") else "text"
            return self(f"promo.{known}", ref=f"#{ref}")
        return self("promo.default" if ref == "default" else "promo.other")
