"""Showing and exporting personal check-in data safely.

- **Masking** (the default everywhere): a name becomes its initials, a phone its last three
  digits, other personal fields a placeholder. Revealing the clear values is a separate,
  audited act (see ``signage_server.admin.records``).
- **Export escaping**: a spreadsheet treats a cell that starts with ``= + - @`` (or a tab or
  carriage return, which some programs strip before looking) as a formula, so a visitor
  named ``=HYPERLINK(...)`` could run something on the reader's machine. Every such text
  cell gets a leading apostrophe, in CSV and XLSX alike.
- **CSV** is UTF-8 with a byte-order mark so Excel shows Vietnamese; **XLSX** is written
  with openpyxl in write-only mode.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

HIDDEN = "•••"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Characters XLSX (XML 1.0) cannot hold; openpyxl raises on them.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Cell = str | int | float | None


def mask_name(name: str | None) -> str:
    """``"Nguyễn Văn An"`` → ``"N. V. A."``; empty stays empty."""
    words = [w for w in (name or "").split() if w[:1].isalnum()]
    return " ".join(f"{w[0].upper()}." for w in words[:6])


def mask_phone(phone: str | None) -> str:
    """``"0901 234 567"`` → ``"•••567"``: enough for staff to tell two visitors apart."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"{HIDDEN}{digits[-3:]}" if digits else ""


def mask_other(value: str | None) -> str:
    return HIDDEN if value else ""


MASKS = {"name": mask_name, "phone": mask_phone}


def masked(field: str, value: str | None) -> str:
    """The masked form of a personal field (name, phone, organisation, ...)."""
    return MASKS.get(field, mask_other)(value)


def escape_cell(value: Cell) -> Cell:
    """A text cell that a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """UTF-8 CSV with a byte-order mark, every cell escaped."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([escape_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if c is None else escape_cell(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[Cell]], title: str) -> bytes:
    """An XLSX workbook with one sheet, every cell escaped and stored as text or number."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet: Any = book.create_sheet(title=title[:31] or "Sheet1")
    sheet.append([_xlsx_cell(h) for h in header])
    for row in rows:
        sheet.append([_xlsx_cell(c) for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(value: Cell) -> Cell:
    value = escape_cell(value)
    return _XML_ILLEGAL.sub("", value) if isinstance(value, str) else value
