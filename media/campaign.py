"""What the default content says: the campaign's app name and texts, as data.

Nothing in the renderer knows about Bluezone; it draws whatever a :class:`Campaign` holds, so the
next campaign is a JSON file (``python -m media.build --campaign FILE``), not a code change.
Texts are NFC-normalised on load because the fonts hold precomposed Vietnamese letters (``ặ`` is
one glyph) and Pillow's basic layout cannot place combining marks.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Campaign:
    """The words on every default slide, in Vietnamese and English."""

    app_name: str = "Bluezone"
    #: Second line of the intro card: the app's own slogan.
    slogan_vi: str = "Khẩu trang điện tử"
    slogan_en: str = "The electronic face mask"
    motto_vi: str = "Bảo vệ mình, bảo vệ cộng đồng"
    motto_en: str = "Protect yourself, protect the community"
    tagline_vi: str = "Cài đặt Bluezone — bảo vệ mình, bảo vệ cộng đồng"
    tagline_en: str = "Install Bluezone — protect yourself, protect the community"
    title_vi: str = "Cài đặt Bluezone"
    title_en: str = "Install Bluezone"
    guide_title_vi: str = "Cách cài đặt Bluezone"
    guide_title_en: str = "How to install Bluezone"
    #: The install steps of the authorities' letters (DESIGN.md section 1).
    steps_vi: tuple[str, ...] = (
        "Mở CH Play (Android) hoặc App Store (iOS)",
        "Tìm kiếm “Bluezone”",
        "Nhấn Cài đặt",
        "Mở ứng dụng và cấp các quyền mà ứng dụng yêu cầu",
    )
    steps_en: tuple[str, ...] = (
        "Open CH Play (Android) or the App Store (iOS)",
        "Search for “Bluezone”",
        "Tap Install",
        "Open the app and grant the permissions it asks for",
    )
    qr_caption_vi: str = "Quét mã để cài đặt Bluezone"
    qr_caption_en: str = "Scan to install Bluezone"

    def texts(self) -> list[str]:
        """Every string drawn or shipped, so a test can check each glyph against the fonts."""
        out: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            out.extend(value if isinstance(value, tuple) else [value])
        return out


def _nfc(value: object) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list | tuple):
        return tuple(unicodedata.normalize("NFC", str(v)) for v in value)
    raise TypeError(f"campaign values are strings or lists of strings, not {value!r}")


def load_campaign(path: Path | None) -> Campaign:
    """The default campaign, overridden by the keys of a JSON file; unknown keys are an error,
    so a typo cannot silently leave the old campaign's text on screen."""
    campaign = Campaign()
    if path is None:
        return campaign
    data = json.loads(path.read_text(encoding="utf-8"))
    known = {f.name for f in fields(Campaign)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown campaign keys {unknown}; known: {sorted(known)}")
    changes: dict[str, Any] = {key: _nfc(value) for key, value in data.items()}
    return replace(campaign, **changes)
