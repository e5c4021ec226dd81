"""Screen geometry: the zones of the screen, letterboxing, and rotation for portrait screens.

Pure arithmetic, so that it is tested without a screen. Everything is laid out on the
*logical* canvas — the picture as a viewer sees it — and ``place`` maps a logical box to the
physical framebuffer of a screen mounted rotated by 0, 90, 180 or 270 degrees (clockwise).
The renderer then draws each picture rotated in place, which a GPU does for free and which
spares the CPU a full-frame rotation per video frame.

Layout (landscape, bar at the bottom)::

    +--------------------------------------------------------------+
    |                         main zone                            |
    +-------+---------------------------------+------------+-------+
    |install| Quét mã để cài đặt Bluezone     | venue name | self  |
    |  QR   | Scan to install Bluezone        |   10:42    | check |
    +-------+---------------------------------+------------+-------+

In portrait the bar is taller and the venue and clock go under the caption.
"""

from __future__ import annotations

from dataclasses import dataclass

ROTATIONS = (0, 90, 180, 270)
BAR_SHARE = 0.2  # bar height as a share of the screen's short side (landscape)
PORTRAIT_BAR_SHARE = 0.28


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def inset(self, margin: int) -> Box:
        margin = min(margin, self.w // 2, self.h // 2)
        return Box(self.x + margin, self.y + margin, self.w - 2 * margin, self.h - 2 * margin)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h


@dataclass(frozen=True)
class ScreenLayout:
    size: tuple[int, int]  # logical canvas
    bar_position: str
    main: Box
    bar: Box
    install_qr: Box
    caption_vi: Box
    caption_en: Box
    venue: Box
    time: Box
    date: Box
    checkin_qr: Box


@dataclass(frozen=True)
class QrSlideLayout:
    """A full-screen QR slide: the code beside its captions (landscape) or above them."""

    code: Box
    caption_vi: Box
    caption_en: Box
    align: str


@dataclass(frozen=True)
class TextSlideLayout:
    """The install steps: Vietnamese and English side by side (landscape) or stacked."""

    vietnamese: Box
    english: Box
    divider: tuple[tuple[int, int], tuple[int, int]] | None
    largest_font: int


def normalise_rotation(rotation: int) -> int:
    """0, 90, 180 or 270; anything else is read as the nearest quarter turn."""
    return (round(rotation / 90) * 90) % 360


def logical_size(physical: tuple[int, int], rotation: int) -> tuple[int, int]:
    """The canvas as the viewer sees it: a landscape panel turned 90 degrees is portrait."""
    width, height = physical
    return (height, width) if normalise_rotation(rotation) in (90, 270) else (width, height)


def fit(content: tuple[float, float], box: Box) -> Box:
    """The largest box with the content's aspect ratio inside ``box``, centred (letterbox):
    never distorted, never cropped."""
    content_w, content_h = content
    if content_w <= 0 or content_h <= 0 or box.w <= 0 or box.h <= 0:
        return Box(box.x, box.y, 0, 0)
    scale = min(box.w / content_w, box.h / content_h)
    width = max(1, min(box.w, round(content_w * scale)))
    height = max(1, min(box.h, round(content_h * scale)))
    return Box(box.x + (box.w - width) // 2, box.y + (box.h - height) // 2, width, height)


def rotate_box(box: Box, canvas: tuple[int, int], rotation: int) -> Box:
    """Where the logical ``box`` lands on the physical framebuffer, rotated clockwise."""
    canvas_w, canvas_h = canvas
    match normalise_rotation(rotation):
        case 90:
            return Box(canvas_h - box.y - box.h, box.x, box.h, box.w)
        case 180:
            return Box(canvas_w - box.x - box.w, canvas_h - box.y - box.h, box.w, box.h)
        case 270:
            return Box(box.y, canvas_w - box.x - box.w, box.h, box.w)
    return box


def place(box: Box, canvas: tuple[int, int], rotation: int) -> tuple[Box, float]:
    """The destination and angle to give the renderer so that a picture drawn upright into
    ``box`` appears rotated on the physical screen: the renderer rotates around the
    destination's centre, so the destination keeps the picture's own size and the
    rotated box's centre."""
    turned = rotate_box(box, canvas, rotation)
    center_x, center_y = turned.center
    dest = Box(round(center_x - box.w / 2), round(center_y - box.h / 2), box.w, box.h)
    return dest, float(normalise_rotation(rotation))


def screen_layout(size: tuple[int, int], bar: str = "bottom") -> ScreenLayout:
    """The zones of a logical canvas of ``size``; ``bar`` is "bottom" or "top"."""
    bar = "top" if bar == "top" else "bottom"
    width, height = size
    portrait = height > width
    bar_h = round(min(width, height) * (PORTRAIT_BAR_SHARE if portrait else BAR_SHARE))
    bar_y = 0 if bar == "top" else height - bar_h
    main = Box(0, bar_h if bar == "top" else 0, width, height - bar_h)
    bar_box = Box(0, bar_y, width, bar_h)
    qr_side = min(bar_h, width // 4)
    pad = max(2, bar_h // 14)
    install_qr = Box(0, bar_y + (bar_h - qr_side) // 2, qr_side, qr_side)
    checkin_qr = Box(width - qr_side, install_qr.y, qr_side, qr_side)
    info = Box(qr_side + pad, bar_y + pad, width - 2 * qr_side - 2 * pad, bar_h - 2 * pad)
    if portrait:
        caption_h = round(info.h * 0.58)
        lower = Box(info.x, info.y + caption_h, info.w, info.h - caption_h)
        clock_w = round(lower.w * 0.42)
        caption = Box(info.x, info.y, info.w, caption_h)
        venue = Box(lower.x, lower.y, lower.w - clock_w, lower.h)
        clock = Box(lower.x + lower.w - clock_w, lower.y, clock_w, lower.h)
    else:
        side_w = round(width * 0.22)
        caption = Box(info.x, info.y, info.w - side_w - pad, info.h)
        side_x = info.x + info.w - side_w
        venue_h = round(info.h * 0.36)
        venue = Box(side_x, info.y, side_w, venue_h)
        clock = Box(side_x, info.y + venue_h, side_w, info.h - venue_h)
    caption_vi, caption_en = split_rows(caption, 0.56)
    time_box, date_box = split_rows(clock, 0.66)
    return ScreenLayout(
        size, bar, main, bar_box, install_qr, caption_vi, caption_en, venue, time_box, date_box,
        checkin_qr,
    )  # fmt: skip


def split_rows(box: Box, share: float) -> tuple[Box, Box]:
    """``box`` cut in two rows, the upper one ``share`` of its height."""
    upper_h = round(box.h * share)
    return Box(box.x, box.y, box.w, upper_h), Box(box.x, box.y + upper_h, box.w, box.h - upper_h)


def qr_slide_layout(size: tuple[int, int]) -> QrSlideLayout:
    width, height = size
    if width >= height:
        side = round(min(height * 0.9, width * 0.46))
        code = Box(round(width * 0.05), (height - side) // 2, side, side)
        left, top = code.x + side + round(width * 0.04), round(height * 0.15)
        text = Box(left, top, width - left - round(width * 0.05), height - 2 * top)
        align = "left"
    else:
        side = round(min(width * 0.86, height * 0.62))
        code = Box((width - side) // 2, round(height * 0.04), side, side)
        top = code.y + side + round(height * 0.02)
        text = Box(round(width * 0.06), top, round(width * 0.88), height - top - 8)
        align = "center"
    caption_vi, caption_en = split_rows(text, 0.55)
    return QrSlideLayout(code, caption_vi, caption_en, align)


def text_slide_layout(size: tuple[int, int]) -> TextSlideLayout:
    width, height = size
    margin = round(min(width, height) * 0.06)
    area = Box(0, 0, width, height).inset(margin)
    largest = round(min(width, height) * 0.075)
    if width >= height:
        column_w = (area.w - margin) // 2
        divider_x = area.x + column_w + margin // 2
        return TextSlideLayout(
            Box(area.x, area.y, column_w, area.h),
            Box(area.x + column_w + margin, area.y, column_w, area.h),
            ((divider_x, area.y), (divider_x, area.y + area.h)),
            largest,
        )
    column_h = (area.h - margin) // 2
    return TextSlideLayout(
        Box(area.x, area.y, area.w, column_h),
        Box(area.x, area.y + column_h + margin, area.w, column_h),
        None,
        largest,
    )


# -- check-in screens (kiosk.checkin_flow) ---------------------------------------------------

KEY_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
HAS_APP_OPTIONS = ("yes", "no", "installed_now")


@dataclass(frozen=True)
class FormLayout:
    """The staff form in the main zone (coordinates local to it). ``targets`` are what a tap
    can hit, by name (``field:name``, ``has_app:yes``, ``direction:in``, ``key:a``,
    ``confirm``, ``cancel``), in the order they are drawn."""

    title: Box
    problem: Box
    consent: Box
    targets: tuple[tuple[str, Box], ...]

    def box(self, target: str) -> Box | None:
        return next((box for name, box in self.targets if name == target), None)


@dataclass(frozen=True)
class ConfirmationLayout:
    """The confirmation: the message and details; with the install QR (the "not yet"
    answer), the code and the install steps beside it (landscape) or under it (portrait)."""

    headline: Box
    details: Box
    code: Box | None
    steps: Box | None


def _row(box: Box, count: int, gap: int) -> list[Box]:
    """``box`` cut into ``count`` equal cells side by side."""
    width = (box.w - gap * (count - 1)) // max(1, count)
    return [Box(box.x + i * (width + gap), box.y, width, box.h) for i in range(count)]


def _column(box: Box, count: int, gap: int) -> list[Box]:
    """``box`` cut into ``count`` equal rows."""
    height = (box.h - gap * (count - 1)) // max(1, count)
    return [Box(box.x, box.y + i * (height + gap), box.w, height) for i in range(count)]


def keyboard_layout(box: Box) -> tuple[tuple[str, Box], ...]:
    """An on-screen keyboard for Vietnamese with Telex: digits and the 26 letters (Telex
    composes the marks), backspace, a Telex on/off key, space, and "next field"."""
    gap = max(2, min(box.w, box.h) // 60)
    rows = _column(box, len(KEY_ROWS) + 1, gap)
    key_w = (box.w - gap * 9) // 10
    keys: list[tuple[str, Box]] = []
    for row, letters in zip(rows, KEY_ROWS, strict=False):
        cells = len(letters) + (2 if letters == KEY_ROWS[-1] else 0)  # + backspace
        width = cells * key_w + (cells - 1) * gap
        left = row.x + (row.w - width) // 2
        for i, letter in enumerate(letters):
            keys.append((f"key:{letter}", Box(left + i * (key_w + gap), row.y, key_w, row.h)))
    last = keys[-1][1]
    keys.append(("key:backspace", Box(last.x + last.w + gap, last.y, 2 * key_w + gap, last.h)))
    bottom = rows[-1]
    telex, space, after = _row(bottom, 4, gap)[0], None, None
    space = Box(telex.x + telex.w + gap, bottom.y, 2 * telex.w + gap, bottom.h)
    after = Box(space.x + space.w + gap, bottom.y, bottom.x + bottom.w - space.x - space.w - gap,
                bottom.h)
    keys += [("key:telex", telex), ("key:space", space), ("key:next", after)]
    return tuple(keys)


def form_layout(size: tuple[int, int], fields: tuple[str, ...]) -> FormLayout:
    """The one-screen staff form: the fields of the privacy mode, the has-app question,
    in/out, confirm and cancel, and a keyboard when there is something to type. Every target
    is at least ~1/12 of the short side: large enough for a finger."""
    width, height = size
    margin = max(6, round(min(width, height) * 0.025))
    gap = max(4, margin // 2)
    area = Box(0, 0, width, height).inset(margin)
    title_h = round(area.h * (0.07 if height > width else 0.09))
    title = Box(area.x, area.y, area.w, title_h)
    body = Box(area.x, title.y + title_h + gap, area.w, area.h - title_h - gap)
    targets: list[tuple[str, Box]] = []
    if fields:
        keyboard_h = round(body.h * (0.34 if height > width else 0.42))
        keyboard = Box(body.x, body.y + body.h - keyboard_h, body.w, keyboard_h)
        body = Box(body.x, body.y, body.w, body.h - keyboard_h - gap)
    else:
        keyboard = None
    if height > width:
        answer_rows = 3
        rows = len(fields) + answer_rows + 1  # + problem / consent line
        cells = _column(body, rows, gap)
        field_cells, answers = cells[: len(fields)], cells[len(fields):]
        note = answers.pop()
    else:
        left_w = round(body.w * 0.56) if fields else 0
        left = Box(body.x, body.y, left_w, body.h)
        right = Box(body.x + left_w + (gap if fields else 0), body.y,
                    body.w - left_w - (gap if fields else 0), body.h)
        answers = _column(right, 4, gap)
        note = answers.pop()
        field_cells = _column(left, max(1, len(fields)), gap)[: len(fields)]
    for name, cell in zip(fields, field_cells, strict=True):
        targets.append((f"field:{name}", cell))
    for option, cell in zip(HAS_APP_OPTIONS, _row(answers[0], 3, gap), strict=True):
        targets.append((f"has_app:{option}", cell))
    for option, cell in zip(("in", "out"), _row(answers[1], 2, gap), strict=True):
        targets.append((f"direction:{option}", cell))
    confirm, cancel = _row(answers[2], 2, gap)
    targets += [("confirm", confirm), ("cancel", cancel)]
    if keyboard is not None:
        targets += keyboard_layout(keyboard)
    problem, consent = split_rows(note, 0.5)
    return FormLayout(title, problem, consent, tuple(targets))


def confirmation_layout(size: tuple[int, int], with_code: bool) -> ConfirmationLayout:
    width, height = size
    margin = round(min(width, height) * 0.05)
    area = Box(0, 0, width, height).inset(margin)
    if not with_code:
        headline, details = split_rows(area, 0.45)
        return ConfirmationLayout(headline, details, None, None)
    if width >= height:
        side = round(min(area.h, area.w * 0.42))
        code = Box(area.x, area.y + (area.h - side) // 2, side, side)
        text = Box(code.x + side + margin, area.y, area.w - side - margin, area.h)
        headline, rest = split_rows(text, 0.22)
        details, steps = split_rows(rest, 0.25)
    else:
        headline, rest = split_rows(area, 0.1)
        side = round(min(rest.w * 0.9, rest.h * 0.5))
        code = Box(rest.x + (rest.w - side) // 2, rest.y, side, side)
        below = Box(rest.x, code.y + side + margin // 2, rest.w,
                    rest.h - side - margin // 2)
        details, steps = split_rows(below, 0.2)
    return ConfirmationLayout(headline, details, code, steps)


def to_logical(point: tuple[int, int], physical: tuple[int, int], rotation: int) -> tuple[int, int]:
    """Where a tap at ``point`` on the physical screen is on the logical canvas: the inverse
    of ``rotate_box`` for one pixel."""
    x, y = point
    phys_w, phys_h = physical
    match normalise_rotation(rotation):
        case 90:
            return y, phys_w - 1 - x
        case 180:
            return phys_w - 1 - x, phys_h - 1 - y
        case 270:
            return phys_h - 1 - y, x
    return x, y


def hit(targets: tuple[tuple[str, Box], ...], point: tuple[int, int]) -> str | None:
    """The target under ``point``, if any."""
    x, y = point
    for name, box in targets:
        if box.x <= x < box.x + box.w and box.y <= y < box.y + box.h:
            return name
    return None
