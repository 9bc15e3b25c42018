"""The CSV format of temperature readings: the template and the parser of uploaded files.

Columns, in this order, header required::

    sensor,measured_at,temperature_c
    LN2-01-A,2026-03-01T00:00:00Z,-191.2

``sensor`` is the probe ID, ``measured_at`` ISO 8601 with a UTC offset (``Z`` or ``+08:00``),
``temperature_c`` a decimal number in °C with a point (at most 3 decimals). Files are UTF-8
(a byte-order mark is allowed). Rows are numbered by file line: the header is line 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from celltrace.monitoring.choices import Rule
from celltrace.monitoring.services import FIELDS, RowProblem

MAX_ROWS = 200_000
MAX_BYTES = 20 * 1024 * 1024
#: Line number of the first data row (the header is line 1).
FIRST_ROW = 2

TEMPLATE = (
    "sensor,measured_at,temperature_c\r\n"
    "LN2-01-A,2026-03-01T00:00:00Z,-191.2\r\n"
    "LN2-01-A,2026-03-01T00:05:00Z,-191.0\r\n"
    "FRZ-01-A,2026-03-01T08:00:00+08:00,-79.85\r\n"
)


def template_for(sensors: Sequence[tuple[str, Decimal]]) -> str:
    """The template with this installation's sensors (probe ID, its unit's set point), so
    the file as downloaded is accepted; :data:`TEMPLATE` when there is no sensor yet."""
    if not sensors:
        return TEMPLATE
    lines = ["sensor,measured_at,temperature_c"]
    for probe, set_point in sensors:
        for minute in (0, 5):
            lines.append(f"{probe},2026-03-01T00:{minute:02d}:00Z,{set_point}")
    return "\r\n".join(lines) + "\r\n"


def _problem(row: int, field: str, rule: str) -> RowProblem:
    return RowProblem(row, field, rule, str(Rule(rule).label))


def parse(data: bytes) -> tuple[list[dict[str, Any]], list[RowProblem]]:
    """Rows of an uploaded file, or the problems that make it unreadable as a whole."""
    if len(data) > MAX_BYTES:
        return [], [_problem(1, "file", Rule.TOO_LARGE)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [_problem(1, "file", Rule.ENCODING)]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return [], [_problem(1, "file", Rule.EMPTY)]
    names = [h.strip().lower() for h in header]
    problems = [_problem(1, n or "(blank)", Rule.UNKNOWN_COLUMN) for n in names if n not in FIELDS]
    problems += [_problem(1, f, Rule.MISSING_COLUMN) for f in FIELDS if f not in names]
    if problems:
        return [], problems
    index = {f: names.index(f) for f in FIELDS}
    rows: list[dict[str, Any]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            rows.append({})  # keep line numbers; a blank line is reported as missing values
            continue
        if len(rows) >= MAX_ROWS:
            return [], [_problem(FIRST_ROW + len(rows), "file", Rule.TOO_LARGE)]
        rows.append({f: values[i] if i < len(values) else "" for f, i in index.items()})
    # trailing blank lines are not rows
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        return [], [_problem(FIRST_ROW, "file", Rule.EMPTY)]
    return rows, []
