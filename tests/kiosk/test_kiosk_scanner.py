"""The scanner: bursts told from typing, ID cards read, everything else refused."""

from __future__ import annotations

import pytest

from kiosk.scanner import Buffer, Burst, CitizenCard, NotACard, feed, paused, read_code

CARD = "079203001234|272123456|Nguyễn Thị Ánh Tuyết|15081990|Nữ|12 Lê Lợi, Quận 1, TP.HCM|01062021"


def type_keys(text: str, gap: float, start: float = 100.0) -> Burst | None:
    buffer, burst = Buffer(), None
    now = start
    for key in [*text, "\r"]:
        buffer, burst = feed(buffer, key, now)
        now += gap
    return burst


def test_a_scanner_burst_is_a_scan() -> None:
    assert type_keys(CARD, gap=0.004) == Burst(CARD)


def test_a_person_typing_is_not_a_scan() -> None:
    assert type_keys("079203001234", gap=0.12) is None


def test_a_long_burst_survives_a_late_look_at_the_keys() -> None:
    """The loop reads keys when it turns; a busy turn may come 100 ms late. Six keys at
    scanner speed are a scan already, so that pause does not cut it in two."""
    buffer = Buffer()
    for index, key in enumerate(CARD[:10]):
        buffer, _ = feed(buffer, key, 100.0 + index * 0.004)
    buffer, _ = feed(buffer, CARD[10], 100.0 + 9 * 0.004 + 0.1)
    for index, key in enumerate([*CARD[11:], "\r"]):
        buffer, burst = feed(buffer, key, 100.2 + index * 0.004)
    assert burst == Burst(CARD)


def test_the_wait_for_a_late_look_is_no_pause() -> None:
    """Two keys seen at looks 0.5 s apart, with no look between: the second may have come
    just after the first look, so even a short burst goes on; with a look in between that
    saw nothing, it was a pause."""
    buffer = Buffer()
    for index, key in enumerate("07"):
        buffer, _ = feed(buffer, key, 100.0 + index * 0.004)
    kept, _ = feed(buffer, "9", 100.5, since=100.004)
    assert kept.text == "079" and paused(buffer, 100.5, since=100.004) is False
    cut, _ = feed(buffer, "9", 100.5, since=100.48)
    assert cut.text == "9" and paused(buffer, 100.5, since=100.48) is True


def test_a_short_burst_is_still_ended_by_a_pause() -> None:
    buffer = Buffer()
    for index, key in enumerate("07"):
        buffer, _ = feed(buffer, key, 100.0 + index * 0.004)
    buffer, _ = feed(buffer, "x", 100.1)
    assert buffer.text == "x"


def test_a_run_of_keys_at_typing_pace_is_not_a_scan() -> None:
    """A fast typist's keys 60-200 ms apart keep one buffer (the pauses are short enough),
    but on average they are far slower than a scanner: Enter ends no scan."""
    buffer, now = Buffer(), 100.0
    for key in "079203001234":
        now += 0.02 if key == "0" else 0.2
        buffer, burst = feed(buffer, key, now)
    buffer, burst = feed(buffer, "\r", now + 0.05)
    assert burst is None


def test_a_short_quick_burst_is_not_a_scan() -> None:
    assert type_keys("ab", gap=0.004) is None


def test_a_scan_after_a_pause_starts_fresh() -> None:
    buffer, _ = feed(Buffer(), "x", 0.0)
    now = 5.0
    burst = None
    for key in [*CARD, "\n"]:
        buffer, burst = feed(buffer, key, now)
        now += 0.003
    assert burst == Burst(CARD)


def test_id_card_keeps_name_and_last_four_digits_only() -> None:
    card = read_code(CARD)
    assert card == CitizenCard(name="Nguyễn Thị Ánh Tuyết", id_last4="1234")
    kept = repr(card)
    for secret in ("079203001234", "15081990", "Lê Lợi", "272123456"):
        assert secret not in kept


def test_decomposed_vietnamese_is_normalised() -> None:
    import unicodedata

    decomposed = CARD.replace("Nguyễn Thị Ánh Tuyết",
                              unicodedata.normalize("NFD", "Nguyễn Thị Ánh Tuyết"))
    card = read_code(decomposed)
    assert isinstance(card, CitizenCard) and card.name == "Nguyễn Thị Ánh Tuyết"


@pytest.mark.parametrize(("code", "reason"), [
    ("https://bluezone.gov.vn/install", "url"),
    ("8934673123456", "barcode"),
    ("079203001234|272123456|Nguyễn", "garbled"),
    (CARD[:40], "garbled"),
    ("07920300123X|272123456|Nguyễn An|15081990|Nam|addr|01062021", "garbled"),
    ("079203001234|272123456|Nguyễn An|31021990|Nam|addr|01062021", "garbled"),
    ("079203001234|272123456|<script>alert(1)</script>|15081990|Nam|addr|01062021",
     "garbled"),
    ("079203001234|272123456|=HYPERLINK(\"x\")|15081990|Nam|addr|01062021", "garbled"),
    ("079203001234|272123456|" + "A" * 10_000 + "|15081990|Nam|addr|01062021", "garbled"),
    ("079203001234|272123456|Nguyễn 😀|15081990|Nam|addr|01062021", "garbled"),
    ("", "garbled"),
])
def test_anything_else_is_refused_with_a_message(code: str, reason: str) -> None:
    result = read_code(code)
    assert isinstance(result, NotACard)
    assert result.reason == reason
    assert result.message_vi and result.message_en


def test_an_endless_burst_is_garbage() -> None:
    assert type_keys("7" * 2000, gap=0.002) is None
