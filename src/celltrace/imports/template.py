"""The downloadable inventory template (CSV UTF-8 with BOM, and XLSX) with example rows."""

from __future__ import annotations

import csv
import io

from celltrace.imports.inventory import COLUMNS

#: Example rows of the template (the check characters are correct for the DINs).
EXAMPLES: tuple[dict[str, str], ...] = (
    {c.name: c.example for c in COLUMNS},
    {
        **{c.name: c.example for c in COLUMNS},
        "product_code": "S1234VA0",
        "position": "A2",
        "cell_count": "1.5E7",
    },
)


def csv_bytes() -> bytes:
    """The template as CSV UTF-8 (with a byte order mark, so that Excel reads it as UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in COLUMNS])
    for row in EXAMPLES:
        writer.writerow([row[c.name] for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes() -> bytes:
    """The template as a workbook: the inventory sheet first, then a sheet describing columns."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "inventory"
    sheet.append([c.name for c in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in EXAMPLES:
        sheet.append([row[c.name] for c in COLUMNS])
    for i, c in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width = max(
            14, len(c.name) + 2
        )
        for r in range(2, 2 + len(EXAMPLES)):
            sheet.cell(row=r, column=i).number_format = "@"
    notes = book.create_sheet("columns")
    notes.append(["column", "required", "meaning", "example"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for c in COLUMNS:
        notes.append([c.name, "yes" if c.required else "no", str(c.help), c.example])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
