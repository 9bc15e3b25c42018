"""What a piece of code locks, in order, read from the SQL it runs (PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any


def locked_tables(queries: list[dict[str, Any]]) -> list[str]:
    """The table of each ``SELECT … FOR UPDATE`` of ``queries`` (``CaptureQueriesContext``),
    in order, repeats collapsed."""
    out: list[str] = []
    for q in queries:
        sql = q["sql"]
        if sql.startswith("SELECT") and re.search(r'FOR UPDATE( OF "\w+")?\s*$', sql):
            table = re.search(r'FROM "?(\w+)"?', sql)
            assert table is not None, sql
            if not out or out[-1] != table.group(1):
                out.append(table.group(1))
    return out
