"""The weekly report as print-ready HTML (A4), CSV and XLSX, from the same ``tables``.

CSV is UTF-8 with a byte-order mark (so Excel reads Vietnamese correctly), CRLF line ends,
and every text cell that a spreadsheet would take for a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) is prefixed with an apostrophe: venue and kiosk names
are typed by people, and a name like ``=HYPERLINK(...)`` must stay a name. Numbers stay
numbers (a change of -3 is not text). In XLSX, text cells are stored as strings explicitly,
which a spreadsheet never evaluates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from markupsafe import Markup, escape

from .tables import Cell, Table, tables
from .texts import Texts
from .weekly import WeeklyReport

FORMATS = ("html", "csv", "xlsx")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_FORMATS = {"int": "#,##0", "hours": "#,##0.0", "percent": "0.0%", "ratio": "#,##0.0"}


def escape_formula(text: str) -> str:
    """``'=1+2`` for ``=1+2``: shown as typed, never evaluated by a spreadsheet."""
    return "'" + text if text.startswith(FORMULA_START) else text


def filename(report: WeeklyReport, fmt: str) -> str:
    return f"weekly-{report.scope.key}-{report.week}.{fmt}"


def render(report: WeeklyReport, fmt: str, lang: str = "vi") -> bytes:
    t = Texts(lang)
    if fmt == "html":
        return html(report, t, standalone=True).encode("utf-8")
    if fmt == "csv":
        return to_csv(report, t)
    if fmt == "xlsx":
        return to_xlsx(report, t)
    raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")


# -- CSV ----------------------------------------------------------------------------------------


def csv_value(cell: Cell) -> object:
    value = cell.value
    if value is None:
        return ""
    if cell.kind == "text":
        return escape_formula(str(value))
    if cell.kind == "int":
        return int(value)  # type: ignore[call-overload]
    digits = 4 if cell.kind == "percent" else 2
    return round(float(value), digits)  # type: ignore[arg-type]


def to_csv(report: WeeklyReport, t: Texts) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in [*_heading(report, t), t("shares_note")]:
        writer.writerow([escape_formula(line)])
    for table in tables(report, t):
        writer.writerow([])
        writer.writerow([escape_formula(table.title)])
        writer.writerow([escape_formula(c) for c in table.columns])
        for row in table.rows:
            writer.writerow([csv_value(c) for c in row])
        if not table.rows and table.empty:
            writer.writerow([escape_formula(table.empty)])
    return out.getvalue().encode("utf-8-sig")


def _heading(report: WeeklyReport, t: Texts) -> list[str]:
    return [t("title", app=_app_name()), t.scope(report.scope), _week(report, t),
            _verdict(report, t), t("generated", time=t.moment(report.generated_at,
                                                              report.zones[0]))]


def _app_name() -> str:
    return str(current_app.config["APP_NAME"])


def _week(report: WeeklyReport, t: Texts) -> str:
    return t("week", week=str(report.week), monday=t.date(report.week.monday),
             sunday=t.date(report.week.sunday))


def _verdict(report: WeeklyReport, t: Texts) -> str:
    share, target = report.this.share, report.settings.target
    if share is None:
        return t("verdict.none")
    key = "verdict.ok" if share >= target else "verdict.below"
    return t(key, share=t.percent(share), target=t.percent(target, 0))


# -- XLSX ---------------------------------------------------------------------------------------


def to_xlsx(report: WeeklyReport, t: Texts) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for table in tables(report, t):
        sheet = book.create_sheet(t(f"sheet.{table.key}")[:31])
        lines = _heading(report, t) if table.key == "summary" else []
        for number, line in enumerate([*lines, table.title], start=1):
            _text(sheet.cell(row=number, column=1), line)
        header_row = len(lines) + 2
        for col, title in enumerate(table.columns, start=1):
            _text(sheet.cell(row=header_row, column=col), title).font = Font(bold=True)
        for r, row in enumerate(table.rows, start=header_row + 1):
            for col, cell in enumerate(row, start=1):
                _xlsx_cell(sheet.cell(row=r, column=col), cell)
        if not table.rows and table.empty:
            _text(sheet.cell(row=header_row + 1, column=1), table.empty)
        for col, title in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(col)].width = min(48, max(10, len(title)))
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(target: Any, text: str) -> Any:
    """A string cell that stays a string, even when it starts with ``=``."""
    target.value = text
    target.data_type = "s"
    return target


def _xlsx_cell(target: Any, cell: Cell) -> None:
    if cell.value is None:
        return
    if cell.kind == "text":
        _text(target, str(cell.value))
        return
    target.value = cell.value
    target.number_format = XLSX_FORMATS[cell.kind]


# -- HTML ---------------------------------------------------------------------------------------


def html_value(cell: Cell, t: Texts) -> str:
    """A cell as printed on paper, in the report's language."""
    value: Any = cell.value
    if cell.kind == "text":
        return str(value)
    if cell.change:
        return t.signed(value, 1 if cell.kind in ("hours", "ratio") else 0,
                        percent=cell.kind == "percent")
    if cell.kind == "percent":
        return t.percent(value)
    return t.number(value, 1 if cell.kind in ("hours", "ratio") else 0)


def html_context(report: WeeklyReport, t: Texts) -> dict[str, Any]:
    """What the report's HTML fragment (``reports/_weekly_body.html``) needs."""
    laid_out = tables(report, t)
    below = _is_below(report)
    return {"report": report, "t": t, "tables": laid_out, "heading": _heading(report, t),
            "rows_html": {table.key: rows_html(table, t, below) for table in laid_out},
            "verdict": _verdict(report, t), "week": _week(report, t), "app_name": _app_name()}


def rows_html(table: Table, t: Texts, below: Callable[[Cell], bool]) -> Markup:
    """The table's ``<tr>`` rows, escaped. Built here rather than cell by cell in Jinja: a
    country's report has some 20,000 cells, and this is several times faster."""
    lines = []
    for row in table.rows:
        cells = "".join(f'<td class="{c.kind}{" below" if below(c) else ""}">'
                        f"{escape(html_value(c, t))}</td>" for c in row)
        lines.append(f"<tr>{cells}</tr>\n")
    return Markup("".join(lines))


def html(report: WeeklyReport, t: Texts, standalone: bool) -> str:
    """The report page. ``standalone``: one self-contained file with its CSS inlined (for
    the command line and downloads); otherwise the CSS is linked, as the console's CSP
    wants."""
    css = Markup(_stylesheet()) if standalone else None
    return render_template("reports/weekly.html", css=css, **html_context(report, t))


def _is_below(report: WeeklyReport) -> Any:
    target = report.settings.target

    def below(cell: Cell) -> bool:
        return (cell.kind == "percent" and not cell.change and isinstance(cell.value, float)
                and cell.value < target)

    return below


def _stylesheet() -> str:
    folder = current_app.static_folder or ""
    return (Path(folder) / "reports.css").read_text(encoding="utf-8")
